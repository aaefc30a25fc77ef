package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"certctl/app/agentapi"
	"certctl/app/config"
	"certctl/app/server"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// BenchmarkAgentWorkHandler measures the server's own cost of an agent's poll that finds
// nothing new (304), beside /health, without TLS or a network, for profiling.
func BenchmarkAgentWorkHandler(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
		if err != nil {
			b.Fatal(err)
		}
		benchAgentWork(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(context.Background(), storetest.PostgresSchema(b), 10)
		if err != nil {
			b.Fatal(err)
		}
		benchAgentWork(b, st)
	})
}

func benchAgentWork(b *testing.B, st store.Store) {
	defer st.Close()
	dataDir := b.TempDir()
	vals := map[string]string{"CERTCTL_AGENT_BOOTSTRAP_TOKEN": agentToken,
		"CERTCTL_CONFIG_ENCRYPTION_KEY": strings.Repeat("5a", 32), "CERTCTL_DATA_DIR": dataDir}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := vals[name]; return v, ok })
	if err != nil {
		b.Fatal(err)
	}
	app, err := server.Build(context.Background(), cfg, st,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := app.Handler()
	serve := func(req *http.Request, want int) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL, w.Code, want,
				w.Body)
		}
		return w
	}
	body, _ := json.Marshal(agentapi.EnrollRequest{Token: agentToken, Name: "bench"})
	var enrolled agentapi.EnrollResponse
	enroll := httptest.NewRequest("POST", agentapi.PathEnroll, strings.NewReader(string(body)))
	enroll.Header.Set("Content-Type", "application/json")
	json.Unmarshal(serve(enroll, http.StatusCreated).Body.Bytes(), &enrolled)
	path := strings.ReplaceAll(agentapi.PathWork, "{id}", enrolled.AgentID)
	work := func() *http.Request {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+enrolled.Credential)
		return req
	}
	tag := serve(work(), http.StatusOK).Header().Get("ETag")

	b.Run("health", func(b *testing.B) {
		for b.Loop() {
			serve(httptest.NewRequest("GET", "/health", nil), http.StatusOK)
		}
	})
	b.Run("work 304", func(b *testing.B) {
		for b.Loop() {
			req := work()
			req.Header.Set("If-None-Match", tag)
			serve(req, http.StatusNotModified)
		}
	})
}
