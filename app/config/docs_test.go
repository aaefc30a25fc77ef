package config_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"certctl/app/config"
)

// referencePath is the operator's configuration reference, relative to the module root.
const referencePath = "docs/configuration.md"

var varName = regexp.MustCompile(`CERTCTL_[A-Z0-9_]+`)

// TestReferenceMatchesCode keeps docs/configuration.md in step with the code: every
// CERTCTL_* name that non-test code mentions is documented, and every documented name is
// read somewhere.
func TestReferenceMatchesCode(t *testing.T) {
	root := moduleRoot(t)
	code := codeNames(t, root)
	secrets := map[string]bool{}
	for _, v := range config.Vars() {
		code[v.Name] = true
		secrets[v.Name] = v.Secret
	}
	doc, err := os.ReadFile(filepath.Join(root, referencePath))
	if err != nil {
		t.Fatalf("read the reference: %v", err)
	}

	undocumented, unread := compareNames(code, namesIn(string(doc)), secrets)
	if len(undocumented) > 0 {
		t.Errorf("%s lacks variables the code reads: %s", referencePath,
			strings.Join(undocumented, ", "))
	}
	if len(unread) > 0 {
		t.Errorf("%s documents variables no code reads: %s", referencePath,
			strings.Join(unread, ", "))
	}
}

// TestVarsHaveDocs checks every declared variable explains itself, since `certctl config`
// and the reference rely on it.
func TestVarsHaveDocs(t *testing.T) {
	for _, v := range config.Vars() {
		if strings.TrimSpace(v.Doc) == "" {
			t.Errorf("%s has no Doc", v.Name)
		}
	}
}

func TestCompareNames(t *testing.T) {
	secrets := map[string]bool{"CERTCTL_A": true, "CERTCTL_B": false}
	tests := []struct {
		name             string
		code, doc        []string
		wantUndocumented []string
		wantUnread       []string
	}{
		{name: "in step", code: []string{"CERTCTL_A", "CERTCTL_B"},
			doc: []string{"CERTCTL_A", "CERTCTL_B"}},
		{name: "variable added without docs", code: []string{"CERTCTL_A", "CERTCTL_B"},
			doc: []string{"CERTCTL_A"}, wantUndocumented: []string{"CERTCTL_B"}},
		{name: "documented but never read", code: []string{"CERTCTL_A"},
			doc: []string{"CERTCTL_A", "CERTCTL_GONE"}, wantUnread: []string{"CERTCTL_GONE"}},
		{name: "file twin of a secret in the docs", code: []string{"CERTCTL_A"},
			doc: []string{"CERTCTL_A", "CERTCTL_A_FILE"}},
		{name: "file twin of a secret in the code", code: []string{"CERTCTL_A", "CERTCTL_A_FILE"},
			doc: []string{"CERTCTL_A"}},
		{name: "file twin of a non-secret", code: []string{"CERTCTL_B"},
			doc: []string{"CERTCTL_B", "CERTCTL_B_FILE"}, wantUnread: []string{"CERTCTL_B_FILE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			undocumented, unread := compareNames(nameSet(tt.code), nameSet(tt.doc), secrets)
			if !slices.Equal(undocumented, tt.wantUndocumented) {
				t.Errorf("undocumented: got %v, want %v", undocumented, tt.wantUndocumented)
			}
			if !slices.Equal(unread, tt.wantUnread) {
				t.Errorf("unread: got %v, want %v", unread, tt.wantUnread)
			}
		})
	}
}

// compareNames returns, sorted, the names in code missing from doc and the names in doc
// missing from code. A secret's _FILE twin is covered by the secret itself.
func compareNames(code, doc, secrets map[string]bool) (undocumented, unread []string) {
	isTwin := func(name string) bool {
		base, ok := strings.CutSuffix(name, "_FILE")
		return ok && secrets[base]
	}
	for name := range code {
		if !doc[name] && !isTwin(name) {
			undocumented = append(undocumented, name)
		}
	}
	for name := range doc {
		if !code[name] && !isTwin(name) {
			unread = append(unread, name)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unread)
	return undocumented, unread
}

// codeNames collects the CERTCTL_* names in the module's non-test Go files.
func codeNames(t *testing.T, root string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" || d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for name := range namesIn(string(b)) {
			names[name] = true
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return names
}

// namesIn finds the CERTCTL_* names in text. Test-only variables are left out, and so are
// fragments ending in "_", which are prefixes joined to something at run time.
func namesIn(text string) map[string]bool {
	names := map[string]bool{}
	for _, name := range varName.FindAllString(text, -1) {
		if strings.HasPrefix(name, "CERTCTL_TEST_") || strings.HasSuffix(name, "_") {
			continue
		}
		names[name] = true
	}
	return names
}

// moduleRoot is the nearest folder holding go.mod, going up from the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

func nameSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}
