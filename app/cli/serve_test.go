package cli_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeFromScratch follows the quick start: a fresh data directory, one command, then
// an API key made by a second command while the server runs.
func TestServeFromScratch(t *testing.T) {
	for name, env := range map[string]func(t testing.TB) []string{
		"sqlite":   func(t testing.TB) []string { return baseEnv(t.TempDir()) },
		"postgres": postgresEnv,
	} {
		t.Run(name, func(t *testing.T) {
			env := env(t)
			in := startServe(t, env)
			if !strings.Contains(in.log.String(), "certctl apikey create") {
				t.Errorf("the log does not say how to get an API key:\n%s", in.log)
			}

			code, key, stderr := run(t, env, "apikey", "create", "--name", "admin", "--role",
				"admin")
			if code != 0 || !strings.HasPrefix(strings.TrimSpace(key), "cctl_") {
				t.Fatalf("apikey create: exit %d, stdout %q, stderr %q", code, key, stderr)
			}
			key = strings.TrimSpace(key)
			if status, body := in.request("POST", "/api/v1/teams", key,
				`{"name":"ops"}`); status != http.StatusCreated {
				t.Fatalf("create team with the new key: %d %s", status, body)
			}
			if status, _ := in.request("GET", "/ready", "", ""); status != http.StatusOK {
				t.Errorf("/ready: got %d", status)
			}

			if code, out, _ := run(t, env, "migrate", "status"); code != 0 ||
				!strings.Contains(out, "00001_foundation.sql") || !strings.Contains(out, "applied") {
				t.Errorf("migrate status beside the server: exit %d\n%s", code, out)
			}
			if code, out, errOut := run(t, append(env, "CERTCTL_SERVER_PORT="+
				strings.TrimPrefix(in.url, "https://127.0.0.1:")), "healthcheck"); code != 0 {
				t.Errorf("healthcheck: exit %d %s %s", code, out, errOut)
			}

			if err := in.stop(); err != nil {
				t.Fatalf("SIGTERM: %v\n%s", err, in.log)
			}
			if !strings.Contains(in.log.String(), "msg=stopped") {
				t.Errorf("no clean stop in the log:\n%s", in.log)
			}
		})
	}
}

// TestRestartKeepsState checks that a second start on the same data directory keeps the
// server's TLS root and everything stored.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	env := baseEnv(dir, "CERTCTL_AUTH_SECRET=restart-bootstrap-key-0123")
	in := startServe(t, env)
	in.request("POST", "/api/v1/teams", "restart-bootstrap-key-0123", `{"name":"kept"}`)
	root, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err := in.stop(); err != nil {
		t.Fatal(err)
	}

	in = startServe(t, env)
	again, _ := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if string(root) != string(again) {
		t.Error("the TLS root changed across a restart")
	}
	_, body := in.request("GET", "/api/v1/teams", "restart-bootstrap-key-0123", "")
	if !strings.Contains(body, `"kept"`) {
		t.Errorf("team lost across restart: %s", body)
	}
	info, err := os.Stat(filepath.Join(dir, "certctl.db"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("database file mode: got %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestBadInvocation(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		args  []string
		code  int
		wants string
	}{
		{"bad port", []string{"CERTCTL_SERVER_PORT=99999"}, []string{"serve"}, 2,
			"CERTCTL_SERVER_PORT"},
		{"bad log level", []string{"CERTCTL_LOG_LEVEL=loud"}, []string{"serve"}, 2,
			"CERTCTL_LOG_LEVEL"},
		{"bad database URL", []string{"CERTCTL_DATABASE_URL=mysql://u:hunter2@h/db"},
			[]string{"serve"}, 2, "CERTCTL_DATABASE_URL"},
		{"unknown command", nil, []string{"frobnicate"}, 2, "unknown command"},
		{"no command", nil, nil, 2, "no command"},
		{"apikey without role", nil, []string{"apikey", "create", "--name", "x"}, 2, "usage"},
		{"apikey bad role", nil, []string{"apikey", "create", "--name", "x", "--role", "root"}, 2,
			"unknown role"},
		{"migrate without verb", nil, []string{"migrate"}, 2, "usage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, baseEnv(t.TempDir(), tc.env...), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.wants) {
				t.Errorf("got exit %d, stderr %q; want exit %d naming %q", code, stderr, tc.code,
					tc.wants)
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("the error shows a password: %q", stderr)
			}
		})
	}
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	env := baseEnv(t.TempDir(), "CERTCTL_AUTH_SECRET=super-secret-value-123",
		"CERTCTL_DATABASE_URL=postgres://u:hunter2@db.example/certctl")
	code, out, _ := run(t, env, "config")
	if code != 0 {
		t.Fatalf("config: exit %d", code)
	}
	for _, secret := range []string{"super-secret-value-123", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("config prints a secret: %s", out)
		}
	}
	for _, want := range []string{"CERTCTL_SERVER_PORT=8443", "CERTCTL_AUTH_SECRET=(set, redacted)",
		"CERTCTL_DATABASE_MAX_CONNS=50"} {
		if !strings.Contains(out, want) {
			t.Errorf("config lacks %q:\n%s", want, out)
		}
	}
	if code, out, _ := run(t, env, "version"); code != 0 || !strings.HasPrefix(out, "certctl ") {
		t.Errorf("version: exit %d %q", code, out)
	}
}

// TestOneServerPerSQLite checks that a second server on one SQLite database is refused with
// a message that says why, while short commands keep working beside the first.
func TestOneServerPerSQLite(t *testing.T) {
	env := baseEnv(t.TempDir())
	startServe(t, env)
	code, _, stderr := run(t, append(env, "CERTCTL_SERVER_PORT=1"), "serve")
	if code == 0 || !strings.Contains(stderr, "SQLite allows one server") {
		t.Errorf("second serve: exit %d, %q; want a refusal naming the reason", code, stderr)
	}
	for _, args := range [][]string{{"apikey", "create", "--name", "beside", "--role",
		"viewer"}, {"migrate", "status"}, {"config"}} {
		if code, _, stderr := run(t, env, args...); code != 0 {
			t.Errorf("%v beside the server: exit %d, %s", args, code, stderr)
		}
	}
}
