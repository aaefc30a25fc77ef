package storetest

import (
	"slices"
	"testing"
	"time"

	"certctl/store"
)

// testSchedule checks the queries the scheduler runs: which certificates are due for
// renewal, which have no renewal time yet, and whose status time has overtaken.
func testSchedule(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	now := store.UTC(base.Add(100 * 24 * time.Hour))
	add := func(name, status string, renewIn, endIn time.Duration) store.Certificate {
		c := certificate(name)
		c.Status = status
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		v := newVersion(c, name, base)
		v.NotAfter = store.UTC(now.Add(endIn))
		if err := s.AddVersion(ctx(t), v); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRenewAt(ctx(t), c.ID, now.Add(renewIn)); err != nil {
			t.Fatal(err)
		}
		return c
	}
	add("due-late", "Expiring", -time.Hour, 10*24*time.Hour)
	add("due-early", "Active", -2*time.Hour, 10*24*time.Hour)
	add("expired", "Active", -48*time.Hour, -time.Hour)
	add("not-due", "Active", time.Hour, 10*24*time.Hour)
	add("revoked", "Revoked", -time.Hour, 10*24*time.Hour)
	busy := add("busy", "Active", -time.Hour, 10*24*time.Hour)
	if err := s.CreateJob(ctx(t), job(busy, store.JobRenewal, now)); err != nil {
		t.Fatal(err)
	}
	unscheduled := certificate("unscheduled")
	if err := s.CreateCertificate(ctx(t), unscheduled); err != nil {
		t.Fatal(err)
	}
	uv := newVersion(unscheduled, "u1", base)
	uv.NotAfter = store.UTC(now.Add(10 * 24 * time.Hour))
	if err := s.AddVersion(ctx(t), uv); err != nil {
		t.Fatal(err)
	}

	due, err := s.ListRenewalDue(ctx(t), now, 10)
	if got := names(due); err != nil || !slices.Equal(got,
		[]string{"expired", "due-early", "due-late"}) {
		t.Errorf("due renewals: got %v, %v; want expired, due-early, due-late (earliest "+
			"first, none with a job, none revoked, none not yet due)", got, err)
	}
	if due, _ := s.ListRenewalDue(ctx(t), now, 1); len(due) != 1 {
		t.Errorf("limit: got %d, want 1", len(due))
	}
	if got, err := s.ListUnscheduled(ctx(t), 10); err != nil || !slices.Equal(names(got),
		[]string{"unscheduled"}) {
		t.Errorf("unscheduled: got %v, %v", names(got), err)
	}
	stale, err := s.ListStatusStale(ctx(t), now, 10)
	got := names(stale)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"busy", "due-early", "expired"}) {
		t.Errorf("stale statuses: got %v, %v; want busy, due-early (Active and due) and "+
			"expired (ended)", got, err)
	}
	if c, _ := s.GetCertificate(ctx(t), busy.ID); !c.RenewAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("renew at: got %v", c.RenewAt)
	}
	idle, err := s.ListJobsIdle(ctx(t), store.JobPending, now.Add(time.Second), 10)
	if err != nil || len(idle) != 1 || idle[0].CertificateID != busy.ID {
		t.Errorf("idle pending jobs: got %v, %v; want the busy certificate's", idle, err)
	}
	if idle, _ := s.ListJobsIdle(ctx(t), store.JobPending, now, 10); len(idle) != 0 {
		t.Errorf("jobs changed at the cut-off are not idle: got %v", idle)
	}
	if err := s.SetRenewAt(ctx(t), busy.ID, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.GetCertificate(ctx(t), busy.ID); !c.RenewAt.IsZero() {
		t.Errorf("cleared renew at: got %v", c.RenewAt)
	}
}

func names(certs []store.Certificate) []string {
	var out []string
	for _, c := range certs {
		out = append(out, c.Name)
	}
	return out
}
