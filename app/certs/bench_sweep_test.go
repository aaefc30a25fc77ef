package certs_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/app/localca"
	"certctl/app/secret"
	"certctl/store"
	"certctl/store/sqlite"
)

// BenchmarkRenewalSweep renews 10,000 due certificates end to end on SQLite with the local
// CA, as the scheduler does: renewal_check queues jobs, the job processor runs them with the
// default concurrency. Run with -benchtime 1x.
func BenchmarkRenewalSweep(b *testing.B) {
	n := *sweepSize
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "c.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	key := secret.NewKey()
	ca := localca.New(st, key, localca.Settings{KeySpec: "ecdsa-p256",
		RootLifetime: 10 * 365 * 24 * time.Hour, IntermediateLifetime: 3 * 365 * 24 * time.Hour,
		PublicURL: "https://certctl.test"}, time.Now, log)
	if err := ca.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	svc := certs.NewService(certs.Deps{Store: st, Key: key,
		Issuers: map[string]certs.Issuer{"iss-local": ca}, KeyMode: "server", Now: time.Now,
		Log: log})
	if err := svc.EnsureDefaults(ctx); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		c, _, err := svc.Create(ctx, certs.Input{Name: fmt.Sprintf("svc-%05d", i),
			CommonName: fmt.Sprintf("svc-%05d.example.com", i), IssuerID: "iss-local"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = c.ID
	}
	svc.ProcessJobs(ctx)
	for _, id := range ids {
		if err := st.SetRenewAt(ctx, id, time.Now().Add(-time.Minute)); err != nil {
			b.Fatal(err)
		}
	}

	b.ResetTimer()
	start := time.Now()
	renewed := 0
	for {
		queued, err := svc.RenewDue(ctx)
		if err != nil {
			b.Fatal(err)
		}
		renewed += svc.ProcessJobs(ctx)
		if queued == 0 {
			break
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if renewed != n {
		b.Fatalf("renewed %d, want %d", renewed, n)
	}
	if m, _ := st.CountJobs(ctx, store.JobFilter{Type: store.JobRenewal,
		Status: store.JobCompleted}); m != n {
		b.Fatalf("completed renewals: %d, want %d", m, n)
	}
	b.ReportMetric(elapsed.Seconds(), "sweep-s")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "renewals/s")
}

// sweepSize is how many certificates BenchmarkRenewalSweep renews.
var sweepSize = flag.Int("sweep", 10_000, "certificates the renewal sweep benchmark renews")
