package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/apikey"
	"certctl/app/auth"
	"certctl/app/config"
	"certctl/app/server"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// env is one running server on one backend, with a key per role.
type env struct {
	t    *testing.T
	url  string
	st   store.Store
	keys map[string]string // role -> API key
}

const bootstrapKey = "bootstrap-key-for-tests-0123456789"

// agentToken is the agent bootstrap token of the test servers.
const agentToken = "agent-bootstrap-token-for-tests"

// backends runs fn once per store backend.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "certctl.db"))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newEnv(t, st))
	})
	t.Run("postgres", func(t *testing.T) {
		st, err := postgres.Open(t.Context(), storetest.PostgresSchema(t), 10)
		if err != nil {
			t.Fatal(err)
		}
		fn(t, newEnv(t, st))
	})
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Cleanup(func() { st.Close() })
	dataDir := t.TempDir()
	cfg, err := config.Load(func(name string) (string, bool) {
		v, ok := map[string]string{"CERTCTL_AUTH_SECRET": bootstrapKey,
			"CERTCTL_CONFIG_ENCRYPTION_KEY": strings.Repeat("5a", 32),
			"CERTCTL_MAX_BODY_BYTES":        "65536", "CERTCTL_DATA_DIR": dataDir,
			"CERTCTL_AGENT_BOOTSTRAP_TOKEN": agentToken}[name]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := server.Build(context.Background(), cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	workCtx, cancel := context.WithCancel(context.Background())
	worked := make(chan struct{})
	go func() { app.Work(workCtx); close(worked) }()
	t.Cleanup(func() { cancel(); <-worked })
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)

	e := &env{t: t, url: srv.URL, st: st, keys: map[string]string{}}
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Actor: "test"})
	for _, role := range []string{"viewer", "operator", "admin"} {
		_, secret, err := apikey.NewKeys(st, time.Now).Create(ctx, "test-"+role, role)
		if err != nil {
			t.Fatal(err)
		}
		e.keys[role] = secret
	}
	return e
}

// response is an answer with its body decoded as JSON when it is JSON.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (e *env) do(method, path, key string, body any, header ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) admin(method, path string, body any, header ...string) response {
	e.t.Helper()
	return e.do(method, path, e.keys["admin"], body, header...)
}

// want fails the test unless r has status and, when code is set, that error code.
func (r response) want(t *testing.T, status int, code string) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d (%s), want %d", r.status, r.raw, status)
	}
	if code != "" && r.body["error"] != code {
		t.Fatalf("got error code %v (%s), want %q", r.body["error"], r.raw, code)
	}
	if status >= 400 && (r.body["message"] == "" || r.body["request_id"] == "") {
		t.Fatalf("error answer lacks message or request_id: %s", r.raw)
	}
	return r
}

func (r response) field(name string) string {
	f, _ := r.body["fields"].(map[string]any)
	s, _ := f[name].(string)
	return s
}

func (r response) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

func (r response) list() []map[string]any {
	data, _ := r.body["data"].([]any)
	out := make([]map[string]any, 0, len(data))
	for _, d := range data {
		out = append(out, d.(map[string]any))
	}
	return out
}

// counts returns how many teams and audit events are stored, to prove a refusal changed
// nothing.
func (e *env) counts() [2]int {
	e.t.Helper()
	teams, err := e.st.CountTeams(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	events, err := e.st.CountAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return [2]int{teams, events}
}
