package deploy

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"certctl/app/agentapi"
	"certctl/store/storetest"
)

// config encodes fields as a target configuration.
func config(t *testing.T, fields map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// steps lists the names of the report's steps, a failed one marked with "!".
func steps(r agentapi.Report) string {
	var names []string
	for _, s := range r.Steps {
		if s.OK {
			names = append(names, s.Name)
		} else {
			names = append(names, s.Name+"!")
		}
	}
	return strings.Join(names, " ")
}

// wantResult fails t unless r has the result and steps wanted.
func wantResult(t *testing.T, r agentapi.Report, result, stepNames string) {
	t.Helper()
	if r.Result != result || steps(r) != stepNames {
		t.Fatalf("got %s with steps %q (error %q), want %s with %q\n%s", r.Result, steps(r),
			r.Error, result, stepNames, details(r))
	}
}

func details(r agentapi.Report) string {
	var b strings.Builder
	for _, s := range r.Steps {
		b.WriteString(s.Name + ": " + s.Detail + "\n")
	}
	return b.String()
}

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestDeployWritesFiles(t *testing.T) {
	needTool(t, "openssl")
	dir := t.TempDir()
	pki := newPKI(t)
	m := pki.issue(t, 7)
	p := func(name string) string { return filepath.Join(dir, "site", name) }
	r := Deploy(context.Background(), "file", config(t, map[string]any{
		"cert_path": p("cert.pem"), "chain_path": p("chain.pem"),
		"fullchain_path": p("fullchain.pem"), "key_path": p("key.pem")}),
		[]string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write")
	if r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) {
		t.Errorf("times %v to %v", r.StartedAt, r.FinishedAt)
	}
	for path, want := range map[string]string{p("cert.pem"): m.CertPEM,
		p("chain.pem"): m.ChainPEM, p("fullchain.pem"): m.CertPEM + m.ChainPEM,
		p("key.pem"): keyPEM(t, m)} {
		if got := readTestFile(t, path); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", path, got, want)
		}
	}
	if got := modeOf(t, p("key.pem")); got != 0o600 {
		t.Errorf("new key file mode %04o, want 0600", got)
	}
	if got := modeOf(t, p("cert.pem")); got != 0o644 {
		t.Errorf("new certificate file mode %04o, want 0644", got)
	}
	root := filepath.Join(dir, "root.pem")
	writeTestFile(t, root, pki.rootPEM, 0o644)
	out := run(t, "openssl", "verify", "-CAfile", root, "-untrusted", p("fullchain.pem"),
		p("fullchain.pem"))
	if !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %s", out)
	}
	reportHasNoKey(t, r, m)
}

// reportHasNoKey fails t when any line of m's key shows in r.
func reportHasNoKey(t *testing.T, r agentapi.Report, m Material) {
	t.Helper()
	b, _ := json.Marshal(r)
	for _, line := range strings.Split(keyPEM(t, m), "\n") {
		if len(line) > 10 && !strings.HasPrefix(line, "-----") &&
			strings.Contains(string(b), line) {
			t.Fatalf("the report shows the private key: %s", b)
		}
	}
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatalf("the report shows a private key: %s", b)
	}
}

func TestDeployUnchanged(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "reloaded")
	m := newPKI(t).issue(t, 7)
	for _, tc := range []struct{ typ, path string }{
		{"nginx", "fullchain_path"}, {"jks", "path"}, {"pkcs12", "path"}} {
		t.Run(tc.typ, func(t *testing.T) {
			fields := map[string]any{tc.path: filepath.Join(dir, tc.typ+".out"),
				"validate_command": []string{}, "reload_command": []string{"touch", marker}}
			if tc.typ == "nginx" {
				fields["key_path"] = filepath.Join(dir, "nginx.key")
			} else {
				fields["password"] = "changeit"
			}
			cfg := config(t, fields)
			r := Deploy(context.Background(), tc.typ, cfg, []string{dir}, m, Options{})
			wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write reload")
			if err := os.Remove(marker); err != nil {
				t.Fatalf("the first deployment did not reload: %v", err)
			}
			r = Deploy(context.Background(), tc.typ, cfg, []string{dir}, m, Options{})
			wantResult(t, r, agentapi.ResultUnchanged, "check prepare")
			if _, err := os.Stat(marker); err == nil {
				t.Error("an unchanged deployment ran the reload command")
			}
			if _, err := os.Stat(filepath.Join(dir, BackupDir)); err == nil {
				t.Error("an unchanged deployment made a backup")
			}
		})
	}
}

func TestDeployKeepsBackups(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	opt := Options{Backups: 2, Now: func() time.Time {
		clock = clock.Add(time.Second)
		return clock
	}}
	cfg := config(t, map[string]any{"cert_path": filepath.Join(dir, "cert.pem"),
		"key_path": filepath.Join(dir, "key.pem")})
	var deployed []Material
	for serial := range int64(4) {
		m := pki.issue(t, serial+1)
		r := Deploy(context.Background(), "file", cfg, []string{dir}, m, opt)
		if r.Result != agentapi.ResultDeployed {
			t.Fatalf("deployment %d: %s %s", serial+1, r.Result, r.Error)
		}
		deployed = append(deployed, m)
	}
	backups := filepath.Join(dir, BackupDir)
	if got := modeOf(t, backups); got != 0o700 {
		t.Errorf("backup directory mode %04o, want 0700", got)
	}
	for _, name := range []string{"cert.pem", "key.pem"} {
		found, _ := filepath.Glob(filepath.Join(backups, name+".*"))
		slices.Sort(found)
		if len(found) != 2 {
			t.Fatalf("backups of %s: %v, want the last 2", name, found)
		}
		// The newest backup is what the last deployment replaced: the third material.
		want := deployed[2].CertPEM
		if name == "key.pem" {
			want = keyPEM(t, deployed[2])
			if got := modeOf(t, found[1]); got != 0o600 {
				t.Errorf("key backup mode %04o, want 0600", got)
			}
		}
		if got := readTestFile(t, found[1]); got != want {
			t.Errorf("newest backup of %s holds something else", name)
		}
	}
}

func TestDeployModesAndOwners(t *testing.T) {
	dir := t.TempDir()
	m := newPKI(t).issue(t, 7)
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, cert, "old", 0o640)
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(cert, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	r := Deploy(context.Background(), "file", config(t, map[string]any{"cert_path": cert,
		"key_path": key}), []string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write")
	if got := modeOf(t, cert); got != 0o640 {
		t.Errorf("kept certificate mode %04o, want 0640", got)
	}
	if got := modeOf(t, key); got != 0o600 {
		t.Errorf("new key mode %04o, want 0600", got)
	}
	if root {
		if uid, gid := owners(t, cert); uid != 65534 || gid != 65534 {
			t.Errorf("certificate owned by %d:%d, want 65534:65534 kept", uid, gid)
		}
	}

	// Configured modes and owners win.
	fields := map[string]any{"cert_path": cert, "key_path": key, "mode": "0604",
		"key_mode": "0640"}
	if root {
		fields["owner"], fields["group"] = "0", "nogroup"
	}
	r = Deploy(context.Background(), "file", config(t, fields), []string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write")
	if got := modeOf(t, cert); got != 0o604 {
		t.Errorf("certificate mode %04o, want 0604", got)
	}
	if got := modeOf(t, key); got != 0o640 {
		t.Errorf("key mode %04o, want 0640", got)
	}
	if !root {
		return
	}
	if uid, gid := owners(t, key); uid != 0 || gid != 65534 {
		t.Errorf("key owned by %d:%d, want 0:65534", uid, gid)
	}
	// Only the user configured: the group stays.
	r = Deploy(context.Background(), "file", config(t, map[string]any{"key_path": key,
		"owner": "nobody"}), []string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write")
	if uid, gid := owners(t, key); uid != 65534 || gid != 65534 {
		t.Errorf("key owned by %d:%d, want 65534:65534", uid, gid)
	}
}

func owners(t *testing.T, path string) (int, int) {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

// unwritable is a directory in which nobody, not even root, can create a file.
const unwritable = "/sys/kernel"

func TestDeployWriteFailure(t *testing.T) {
	if f, err := os.CreateTemp(unwritable, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		storetest.MissingPeer(t, unwritable+" is writable here, so no write can fail")
	}
	dir := t.TempDir()
	m := newPKI(t).issue(t, 7)
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	marker := filepath.Join(dir, "reloaded")
	tests := []struct {
		name, result, steps string
		fields              map[string]any
	}{
		// The key is written first and fails: nothing was replaced.
		{"first file", agentapi.ResultFailed, "check prepare backup write!",
			map[string]any{"key_path": filepath.Join(unwritable, "key.pem"),
				"cert_path": cert}},
		// The key and the certificate are replaced, the full chain fails: both go back.
		{"later file", agentapi.ResultRolledBack, "check prepare backup write! restore",
			map[string]any{"key_path": key, "cert_path": cert,
				"fullchain_path": filepath.Join(unwritable, "fullchain.pem")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			writeTestFile(t, key, "old key", 0o600)
			writeTestFile(t, cert, "old cert", 0o640)
			tc.fields["reload_command"] = []string{"touch", marker}
			r := Deploy(context.Background(), "file", config(t, tc.fields),
				[]string{dir, unwritable}, m, Options{})
			wantResult(t, r, tc.result, tc.steps)
			if !strings.HasPrefix(r.Error, "write: ") {
				t.Errorf("error %q, want it to name the write step", r.Error)
			}
			if readTestFile(t, key) != "old key" || readTestFile(t, cert) != "old cert" {
				t.Error("the old files are not in place")
			}
			if modeOf(t, key) != 0o600 || modeOf(t, cert) != 0o640 {
				t.Error("the old files lost their modes")
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("a failed write reloaded")
			}
			leftovers, _ := filepath.Glob(filepath.Join(dir, ".*.certctl-*"))
			if len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

// oldFiles writes an old certificate and key for a target of type file in dir, and
// returns its configuration with extra fields.
func oldFiles(t *testing.T, dir string, old Material, extra map[string]any) []byte {
	t.Helper()
	fields := map[string]any{"fullchain_path": filepath.Join(dir, "fullchain.pem"),
		"key_path": filepath.Join(dir, "key.pem")}
	for k, v := range extra {
		fields[k] = v
	}
	writeTestFile(t, filepath.Join(dir, "fullchain.pem"), old.CertPEM+old.ChainPEM, 0o644)
	writeTestFile(t, filepath.Join(dir, "key.pem"), keyPEM(t, old), 0o600)
	return config(t, fields)
}

// wantOld fails t unless dir holds old's files again, byte for byte, with their modes.
func wantOld(t *testing.T, dir string, old Material) {
	t.Helper()
	if readTestFile(t, filepath.Join(dir, "fullchain.pem")) != old.CertPEM+old.ChainPEM ||
		readTestFile(t, filepath.Join(dir, "key.pem")) != keyPEM(t, old) {
		t.Fatal("the old files were not restored")
	}
	if modeOf(t, filepath.Join(dir, "key.pem")) != 0o600 ||
		modeOf(t, filepath.Join(dir, "fullchain.pem")) != 0o644 {
		t.Fatal("the old files were restored with other modes")
	}
}

func TestDeployValidateFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	old, m := pki.issue(t, 1), pki.issue(t, 2)
	reloads := filepath.Join(dir, "reloads")
	cfg := oldFiles(t, dir, old, map[string]any{
		"validate_command": []string{"sh", "-c", "echo 'line 3: bad certificate'; exit 1"},
		"reload_command":   []string{"sh", "-c", "echo reload >> " + reloads}})
	r := Deploy(context.Background(), "file", cfg, []string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultRolledBack,
		"check prepare backup write validate! restore reload")
	wantOld(t, dir, old)
	if !strings.HasPrefix(r.Error, "validate: sh -c") {
		t.Errorf("error %q, want it to name the validate step and command", r.Error)
	}
	if !strings.Contains(r.Steps[4].Detail, "line 3: bad certificate") {
		t.Errorf("validate step detail %q, want the command's output", r.Steps[4].Detail)
	}
	if got := readTestFile(t, reloads); got != "reload\n" {
		t.Errorf("reloads: %q, want one, after the restore", got)
	}
}

func TestDeployHangingReload(t *testing.T) {
	pki := newPKI(t)
	for name, reload := range map[string][]string{
		"sleep": {"sleep", "600"},
		// The children hold the output open: only killing the group ends the wait.
		"forked children": {"sh", "-c", "sleep 600 & sleep 600 & wait"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			old, m := pki.issue(t, 1), pki.issue(t, 2)
			cfg := oldFiles(t, dir, old, map[string]any{"reload_command": reload})
			start := time.Now()
			r := Deploy(context.Background(), "file", cfg, []string{dir}, m,
				Options{CommandTimeout: 300 * time.Millisecond})
			// Two reloads of 300 ms each. Had the children lived on, each would have
			// held the output open for the 2 s the runner waits for it: 4.6 s in all.
			if took := time.Since(start); took > 3500*time.Millisecond {
				t.Errorf("took %s", took)
			}
			wantResult(t, r, agentapi.ResultRolledBack,
				"check prepare backup write reload! restore reload!")
			if !strings.Contains(r.Error, "timed out after 300ms") {
				t.Errorf("error %q, want a timeout", r.Error)
			}
			wantOld(t, dir, old)
		})
	}
}

func TestDeployRefusesBeforeTouching(t *testing.T) {
	pki := newPKI(t)
	m, other := pki.issue(t, 1), pki.issue(t, 2)
	outside := t.TempDir()
	tests := []struct {
		name   string
		fields func(dir string) map[string]any
		m      Material
		step   string
		error  string
	}{
		{"key of another certificate", func(dir string) map[string]any {
			return map[string]any{"cert_path": filepath.Join(dir, "cert.pem")}
		}, Material{CertPEM: m.CertPEM, Key: other.Key}, "prepare!",
			"does not match the private key"},
		{"no key", func(dir string) map[string]any {
			return map[string]any{"cert_path": filepath.Join(dir, "cert.pem")}
		}, Material{CertPEM: m.CertPEM}, "prepare!", "no private key"},
		{"not a certificate", func(dir string) map[string]any {
			return map[string]any{"cert_path": filepath.Join(dir, "cert.pem")}
		}, Material{CertPEM: keyPEM(t, m), Key: m.Key}, "prepare!", `"PRIVATE KEY" block`},
		{"outside the allowed paths", func(dir string) map[string]any {
			return map[string]any{"cert_path": filepath.Join(outside, "cert.pem")}
		}, m, "", "config.cert_path: must lie inside the allowed paths"},
		{"directory links outside", func(dir string) map[string]any {
			os.Symlink(outside, filepath.Join(dir, "link"))
			return map[string]any{"cert_path": filepath.Join(dir, "link", "cert.pem")}
		}, m, "prepare!", "outside the allowed paths"},
		{"file is a link", func(dir string) map[string]any {
			os.Symlink(filepath.Join(outside, "cert.pem"), filepath.Join(dir, "cert.pem"))
			return map[string]any{"cert_path": filepath.Join(dir, "cert.pem")}
		}, m, "prepare!", "is a symbolic link"},
		{"a nil key pointer", func(dir string) map[string]any {
			return map[string]any{"cert_path": filepath.Join(dir, "cert.pem")}
		}, Material{CertPEM: m.CertPEM, Key: (*ecdsa.PrivateKey)(nil)}, "", "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := config(t, tc.fields(dir))
			r := Deploy(context.Background(), "file", cfg, []string{dir}, tc.m, Options{})
			if r.Result != agentapi.ResultFailed || !strings.Contains(r.Error, tc.error) {
				t.Fatalf("got %s %q, want failed with %q", r.Result, r.Error, tc.error)
			}
			if tc.step != "" && !strings.HasSuffix(steps(r), tc.step) {
				t.Errorf("steps %q, want the last to be %s", steps(r), tc.step)
			}
			if _, err := os.Stat(filepath.Join(outside, "cert.pem")); err == nil {
				t.Fatal("a file was written outside the allowed paths")
			}
			if _, err := os.Stat(filepath.Join(dir, "cert.pem")); err == nil &&
				!strings.Contains(tc.name, "link") {
				t.Fatal("a file was written")
			}
		})
	}
}

func TestDeployRedactsSecrets(t *testing.T) {
	dir := t.TempDir()
	m := newPKI(t).issue(t, 1)
	key := filepath.Join(dir, "key.pem")
	for name, validate := range map[string][]string{
		"whole key":    {"sh", "-c", "cat " + key + "; exit 1"},
		"end of a key": {"sh", "-c", "tail -c 150 " + key + "; exit 1"},
		"key lines":    {"sh", "-c", "grep -v -- ----- " + key + "; exit 1"},
		// Only the end of the output is kept: the start of the key is cut off.
		"long output": {"sh", "-c", "cat " + key + "; head -c 1950 /dev/zero | tr '\\0' x; exit 1"},
	} {
		t.Run(name, func(t *testing.T) {
			os.RemoveAll(dir)
			cfg := config(t, map[string]any{"key_path": key,
				"validate_command": validate})
			r := Deploy(context.Background(), "file", cfg, []string{dir}, m, Options{})
			if r.Result != agentapi.ResultRolledBack {
				t.Fatalf("got %s", r.Result)
			}
			reportHasNoKey(t, r, m)
		})
	}
	t.Run("keystore password", func(t *testing.T) {
		cfg := config(t, map[string]any{"path": filepath.Join(dir, "k.p12"),
			"password":         "changeit-secret",
			"validate_command": []string{"sh", "-c", "echo password changeit-secret; exit 1"}})
		r := Deploy(context.Background(), "pkcs12", cfg, []string{dir}, m, Options{})
		b, _ := json.Marshal(r)
		if r.Result != agentapi.ResultRolledBack || strings.Contains(string(b), "changeit") {
			t.Fatalf("got %s", b)
		}
	})
}

func TestDeployCancelled(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	old, m := pki.issue(t, 1), pki.issue(t, 2)
	reloads := filepath.Join(dir, "reloads")
	cfg := oldFiles(t, dir, old, map[string]any{
		"validate_command": []string{"sleep", "600"},
		"reload_command":   []string{"sh", "-c", "echo reload >> " + reloads}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r := Deploy(ctx, "file", cfg, []string{dir}, m, Options{})
	wantResult(t, r, agentapi.ResultRolledBack,
		"check prepare backup write validate! restore reload")
	wantOld(t, dir, old)
	if readTestFile(t, reloads) != "reload\n" {
		t.Error("the reload after restoring did not run")
	}
}
