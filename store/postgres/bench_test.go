package postgres_test

import (
	"context"
	"testing"
	"time"

	"certctl/store/postgres"
	"certctl/store/storetest"
)

// BenchmarkListRenewalDue selects the due renewals among 100,000 certificates.
func BenchmarkListRenewalDue(b *testing.B) {
	s, err := postgres.Open(context.Background(), storetest.PostgresSchema(b), 10)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	storetest.SeedDue(b, s, 100_000, now)
	if err := s.Exec(context.Background(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	storetest.BenchListRenewalDue(b, s, now)
}
