package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"certctl/app/api"
	"certctl/app/cli"
	"certctl/app/config"
	"certctl/app/server"
	"certctl/store/sqlite"
)

const clientKey = "client-test-bootstrap-key-0123"

// apiServer is a server built in this process on SQLite, with its job worker, and the
// environment a client needs to reach it.
type apiServer struct {
	t    *testing.T
	srv  *httptest.Server
	vars map[string]string
}

// startAPI serves the whole HTTP surface over plain HTTP, or over TLS with a test
// certificate when tlsOn is set.
func startAPI(t *testing.T, tlsOn bool) *apiServer {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := config.Load(lookup(map[string]string{"CERTCTL_AUTH_SECRET": clientKey,
		"CERTCTL_CONFIG_ENCRYPTION_KEY": strings.Repeat("3c", 32), "CERTCTL_DATA_DIR": dir,
		"CERTCTL_CA_KEY_TYPE": "ecdsa-p256"}))
	if err != nil {
		t.Fatal(err)
	}
	app, err := server.Build(context.Background(), cfg, st,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Work(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	s := &apiServer{t: t}
	if tlsOn {
		s.srv = httptest.NewTLSServer(app.Handler())
	} else {
		s.srv = httptest.NewServer(app.Handler())
	}
	t.Cleanup(s.srv.Close)
	s.vars = map[string]string{"CERTCTL_SERVER_URL": s.srv.URL, "CERTCTL_API_KEY": clientKey}
	return s
}

func lookup(vars map[string]string) config.Source {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

// certctl runs the command line in this process with vars as its whole environment.
func certctl(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(cli.Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out,
		Stderr: &errb, Lookup: lookup(vars)})
	return code, out.String(), errb.String()
}

// ok runs a command that must succeed and returns its standard output.
func (s *apiServer) ok(args ...string) string {
	s.t.Helper()
	code, out, errOut := certctl(s.t, s.vars, args...)
	if code != 0 {
		s.t.Fatalf("certctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "),
			code, out, errOut)
	}
	return out
}

// field returns the value of a "key: value" line of out.
func field(t *testing.T, out, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + key + `:\s+(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q line in:\n%s", key, out)
	}
	return m[1]
}

// TestClientLifecycle follows one certificate from creation to revocation through the
// command line.
func TestClientLifecycle(t *testing.T) {
	s := startAPI(t, false)
	out := s.ok("certs", "create", "--name", "web", "--issuer", "iss-local", "--cn",
		"web.example.com", "--san", "web.example.com", "--san", "127.0.0.1",
		"--key-mode", "server", "--tag", "edge", "--wait")
	id := field(t, out, "ID")
	if got := field(t, out, "Status"); got != "Active" {
		t.Fatalf("create --wait: got status %s, want Active\n%s", got, out)
	}

	if out := s.ok("certs", "list"); !strings.Contains(out, id) ||
		!regexp.MustCompile(`(?m)^`+id+`\s+web\s+Active\s+\d{4}-\d\d-\d\d\s+iss-local`).
			MatchString(out) {
		t.Errorf("certs list lacks the certificate row:\n%s", out)
	}
	var listed []api.Certificate
	if err := json.Unmarshal([]byte(s.ok("certs", "list", "--output", "json")),
		&listed); err != nil || len(listed) != 1 || listed[0].Name != "web" {
		t.Errorf("certs list --output json: got %+v, %v; want one certificate named web",
			listed, err)
	}
	if got := field(t, s.ok("certs", "get", id), "Status"); got != "Active" {
		t.Errorf("certs get: got status %s, want Active", got)
	}
	var got api.Certificate
	if err := json.Unmarshal([]byte(s.ok("certs", "get", "--output", "json", id)),
		&got); err != nil || got.ID != id || got.CommonName != "web.example.com" {
		t.Errorf("certs get --output json before the ID: got %+v, %v", got, err)
	}

	out = s.ok("certs", "renew", id, "--wait")
	if field(t, out, "Status") != "Active" || field(t, out, "ID") != id {
		t.Errorf("certs renew --wait:\n%s", out)
	}
	checkExport(t, s, id)

	jobs := s.ok("jobs", "list", "--certificate", id)
	for _, want := range []string{"Issuance", "Renewal", "Completed", "LAST ERROR"} {
		if !strings.Contains(jobs, want) {
			t.Errorf("jobs list lacks %q:\n%s", want, jobs)
		}
	}
	checkRevoke(t, s, id)
}

// checkExport exports the certificate to a file and to standard output: certificates only,
// never a key.
func checkExport(t *testing.T, s *apiServer, id string) {
	file := filepath.Join(t.TempDir(), "web.pem")
	s.ok("certs", "export", id, "--out", file)
	info, err := os.Stat(file)
	if err != nil || info.Mode().Perm() != 0o644 {
		t.Fatalf("export file: mode %v, %v; want 0644", info.Mode().Perm(), err)
	}
	written, _ := os.ReadFile(file)
	for _, body := range []string{string(written), s.ok("certs", "export", id)} {
		if strings.Contains(body, "PRIVATE KEY") {
			t.Fatalf("export holds a private key:\n%s", body)
		}
		n := 0
		for rest := []byte(body); ; n++ {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				t.Errorf("export holds a %s block", b.Type)
			}
		}
		if n < 2 {
			t.Errorf("export: got %d certificates, want the leaf and its chain", n)
		}
	}
}

// checkRevoke revokes with a bad reason, then with a good one.
func checkRevoke(t *testing.T, s *apiServer, id string) {
	code, out, errOut := certctl(t, s.vars, "certs", "revoke", id, "--reason", "boredom")
	if code != 1 || !strings.Contains(errOut, "validation_failed") ||
		!regexp.MustCompile(`(?m)^\s+reason: .*boredom`).MatchString(errOut) ||
		!strings.Contains(errOut, ", request ") {
		t.Errorf("revoke with a bad reason: exit %d, stdout %q, stderr %q; want exit 1 "+
			"naming the field", code, out, errOut)
	}
	s.ok("certs", "revoke", "--reason", "keyCompromise", id)
	if got := field(t, s.ok("certs", "get", id), "Status"); got != "Revoked" {
		t.Errorf("after revoke: got status %s, want Revoked", got)
	}
}

// TestClientPaging lists three certificates one per page.
func TestClientPaging(t *testing.T) {
	s := startAPI(t, false)
	var ids []string
	for _, name := range []string{"alpha", "bravo", "charlie"} {
		ids = append(ids, field(t, s.ok("certs", "create", "--name", name, "--issuer",
			"iss-local", "--cn", name+".example.com", "--key-mode", "agent"), "ID"))
	}

	out := s.ok("certs", "list", "--per-page", "1", "--all")
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Errorf("list --all lacks %s:\n%s", id, out)
		}
	}
	var listed []api.Certificate
	err := json.Unmarshal([]byte(s.ok("certs", "list", "--per-page", "1", "--all",
		"--output", "json")), &listed)
	if err != nil || len(listed) != 3 {
		t.Errorf("list --all --output json: got %d certificates, %v; want 3", len(listed), err)
	}
	code, out, errOut := certctl(t, s.vars, "certs", "list", "--per-page", "1")
	if code != 0 || strings.Count(out, "\n") != 2 ||
		!strings.Contains(errOut, "showing 1 of 3") {
		t.Errorf("one page: exit %d, stdout %q, stderr %q; want one row and a note", code,
			out, errOut)
	}
}

// TestClientTLS reaches an HTTPS server through a CA bundle, fails without it, and warns
// when verification is switched off.
func TestClientTLS(t *testing.T) {
	s := startAPI(t, true)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(bundle, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := certctl(t, s.vars, "jobs", "list")
	if code != 1 || !strings.Contains(errOut, "certificate") {
		t.Errorf("without the bundle: exit %d, stderr %q; want a certificate error", code,
			errOut)
	}
	s.vars["CERTCTL_SERVER_CA_BUNDLE_PATH"] = bundle
	if out := s.ok("jobs", "list"); !strings.HasPrefix(out, "ID") {
		t.Errorf("jobs list over TLS: %q", out)
	}
	delete(s.vars, "CERTCTL_SERVER_CA_BUNDLE_PATH")
	s.vars["CERTCTL_TLS_INSECURE_SKIP_VERIFY"] = "true"
	code, _, errOut = certctl(t, s.vars, "certs", "list")
	if code != 0 || !strings.Contains(errOut, "CERTCTL_TLS_INSECURE_SKIP_VERIFY") {
		t.Errorf("insecure: exit %d, stderr %q; want success with a warning", code, errOut)
	}
}

// TestClientUsage checks invocations that are wrong before any request is sent.
func TestClientUsage(t *testing.T) {
	key := map[string]string{"CERTCTL_API_KEY": clientKey,
		"CERTCTL_SERVER_URL": "http://127.0.0.1:1"}
	tests := []struct {
		name  string
		vars  map[string]string
		args  []string
		wants string
	}{
		{"missing API key", nil, []string{"certs", "list"}, "CERTCTL_API_KEY"},
		{"unknown flag", key, []string{"certs", "list", "--colour"}, "-colour"},
		{"bad output", key, []string{"jobs", "list", "--output", "xml"}, "table or json"},
		{"bad per-page", key, []string{"certs", "list", "--per-page", "0"}, "--per-page"},
		{"bad expiry", key, []string{"certs", "list", "--expires-before", "soon"}, "RFC 3339"},
		{"no ID", key, []string{"certs", "get"}, "want one certificate ID"},
		{"two IDs", key, []string{"certs", "get", "a", "b"}, "want one certificate ID"},
		{"no reason", key, []string{"certs", "revoke", "cert-1"}, "--reason"},
		{"no name", key, []string{"certs", "create", "--issuer", "iss-local"}, "--name"},
		{"bad key mode", key, []string{"certs", "create", "--name", "x", "--issuer", "i",
			"--key-mode", "cloud"}, "agent or server"},
		{"unknown verb", key, []string{"certs", "delete", "x"}, "unknown certs command"},
		{"jobs without verb", key, []string{"jobs"}, "usage"},
		{"bad server URL", map[string]string{"CERTCTL_API_KEY": clientKey,
			"CERTCTL_SERVER_URL": "localhost:8443"}, []string{"jobs", "list"},
			"CERTCTL_SERVER_URL"},
		{"bad bundle", map[string]string{"CERTCTL_API_KEY": clientKey,
			"CERTCTL_SERVER_CA_BUNDLE_PATH": "/nonexistent/ca.pem"}, []string{"jobs", "list"},
			"CERTCTL_SERVER_CA_BUNDLE_PATH"},
		{"bad insecure flag", map[string]string{"CERTCTL_API_KEY": clientKey,
			"CERTCTL_TLS_INSECURE_SKIP_VERIFY": "maybe"}, []string{"jobs", "list"},
			"CERTCTL_TLS_INSECURE_SKIP_VERIFY"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := certctl(t, tc.vars, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.wants) ||
				strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("got exit %d, stderr %q; want exit 2 and one line naming %q", code,
					errOut, tc.wants)
			}
		})
	}

	code, out, _ := certctl(t, nil, "certs", "create", "-h")
	if code != 0 || !strings.Contains(out, "-key-mode") {
		t.Errorf("certs create -h: exit %d, stdout %q", code, out)
	}
}
