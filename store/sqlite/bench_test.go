package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"certctl/store"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// BenchmarkListAudit reads the newest page of 50 out of 100,000 audit events.
func BenchmarkListAudit(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := time.Now().Add(-100 * time.Hour)
	err = s.InTx(ctx, func(q store.Queries) error {
		for i := 0; i < 100_000; i++ {
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
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.ListAudit(ctx, store.AuditFilter{}, store.Page{Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("version", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ChangeVersion(ctx, store.AreaAudit); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkListRenewalDue selects the due renewals among 100,000 certificates.
func BenchmarkListRenewalDue(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	storetest.SeedDue(b, s, 100_000, now)
	storetest.BenchListRenewalDue(b, s, now)
}
