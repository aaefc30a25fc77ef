package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/config"
	"certctl/app/server"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// BenchmarkAuditListHandler measures the server's own cost of GET /api/v1/audit (a page of
// 50 out of 100,000 events), without TLS or a network, for profiling.
func BenchmarkAuditListHandler(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
		if err != nil {
			b.Fatal(err)
		}
		benchAuditList(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(context.Background(), storetest.PostgresSchema(b), 10)
		if err != nil {
			b.Fatal(err)
		}
		benchAuditList(b, st)
	})
}

func benchAuditList(b *testing.B, st store.Store) {
	defer st.Close()
	seed(b, st, 100_000)
	dataDir := b.TempDir()
	cfg, _ := config.Load(func(name string) (string, bool) {
		switch name {
		case "CERTCTL_AUTH_SECRET":
			return bootstrapKey, true
		case "CERTCTL_CONFIG_ENCRYPTION_KEY":
			return strings.Repeat("5a", 32), true
		case "CERTCTL_DATA_DIR":
			return dataDir, true
		}
		return "", false
	})
	app, err := server.Build(context.Background(), cfg, st,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	h := app.Handler()
	get := func(b *testing.B, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+bootstrapKey)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		return w
	}
	b.Run("health", func(b *testing.B) {
		for b.Loop() {
			get(b, "/health")
		}
	})
	b.Run("same page", func(b *testing.B) {
		for b.Loop() {
			get(b, "/api/v1/audit?per_page=50")
		}
	})
	// Walking the pages by cursor asks for a new page every time: no answer is cached.
	b.Run("new pages", func(b *testing.B) {
		path := "/api/v1/audit?per_page=50"
		for b.Loop() {
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			json.Unmarshal(get(b, path).Body.Bytes(), &page)
			path = "/api/v1/audit?per_page=50"
			if page.NextCursor != "" {
				path += "&cursor=" + url.QueryEscape(page.NextCursor)
			}
		}
	})
}

func seed(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	base := time.Now().Add(-time.Duration(n) * time.Second)
	err := st.InTx(ctx, func(q store.Queries) error {
		for i := 0; i < n; i++ {
			err := q.AppendAudit(ctx, store.AuditEvent{ID: store.NewID("evt"),
				OccurredAt: base.Add(time.Duration(i) * time.Second), Actor: "apikey:bot",
				Action: "team.update", ResourceType: "team", ResourceID: fmt.Sprint(i % 500),
				Details: []byte(`{"name":"benchmark"}`)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
