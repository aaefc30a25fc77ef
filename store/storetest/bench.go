package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"certctl/store"
)

// SeedDue stores n issued certificates for the store benchmarks, one in ten of them due
// for renewal at now, the rest spread over the coming year. It needs the issuer, profile
// and policy that pkiFixture makes.
func SeedDue(b testing.TB, s store.Store, n int, now time.Time) {
	b.Helper()
	ctx := context.Background()
	if err := s.CreateIssuer(ctx, issuer("iss-a")); err != nil {
		b.Fatal(err)
	}
	for _, err := range []error{s.CreateProfile(ctx, profile("prof-a")),
		s.CreateRenewalPolicy(ctx, policy("rp-a"))} {
		if err != nil {
			b.Fatal(err)
		}
	}
	const chunk = 5000
	for done := 0; done < n; done += chunk {
		err := s.InTx(ctx, func(q store.Queries) error {
			for i := done; i < min(done+chunk, n); i++ {
				if err := seedOne(ctx, q, i, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func seedOne(ctx context.Context, q store.Queries, i int, now time.Time) error {
	c := certificate(fmt.Sprintf("svc-%06d", i))
	c.Status = "Active"
	if err := q.CreateCertificate(ctx, c); err != nil {
		return err
	}
	v := newVersion(c, fmt.Sprintf("%x", i+1), now.Add(-24*time.Hour))
	v.NotAfter = store.UTC(now.Add(time.Duration(i%365+1) * 24 * time.Hour))
	if err := q.AddVersion(ctx, v); err != nil {
		return err
	}
	renewAt := now.Add(time.Duration(i%365) * 24 * time.Hour)
	if i%10 == 0 {
		renewAt = now.Add(-time.Duration(i%60) * time.Minute)
	}
	return q.SetRenewAt(ctx, c.ID, renewAt)
}

// BenchListRenewalDue measures selecting the first 500 due renewals among what SeedDue
// stored.
func BenchListRenewalDue(b *testing.B, s store.Store, now time.Time) {
	ctx := context.Background()
	for b.Loop() {
		due, err := s.ListRenewalDue(ctx, now, 500)
		if err != nil || len(due) != 500 {
			b.Fatalf("due: %d, %v", len(due), err)
		}
	}
}
