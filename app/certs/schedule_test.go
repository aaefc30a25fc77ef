package certs_test

import (
	"strings"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/store"
)

const day = 24 * time.Hour

// TestRenewDue checks that a certificate is renewed when its policy says, once, and that its
// next renewal time moves with the new version.
func TestRenewDue(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.issue(t, "scheduled")
		v := e.versions(t, c.ID)[0]
		want := certs.RenewAt(v.NotBefore, v.NotAfter, store.RenewalPolicy{RenewFraction: 1.0 / 3})
		if got := e.cert(t, c.ID).RenewAt; !got.Equal(want) || want.After(c.NotAfter.Add(-30*day)) {
			t.Errorf("renew at: got %v, want %v, a third of the lifetime before the end",
				got, want)
		}
		if n, err := e.svc.RenewDue(e.ctx); err != nil || n != 0 {
			t.Fatalf("before the renewal time: queued %d, %v; want 0", n, err)
		}
		e.clock.Advance(61 * day)
		if n, err := e.svc.RenewDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("after the renewal time: queued %d, %v; want 1", n, err)
		}
		if n, _ := e.svc.RenewDue(e.ctx); n != 0 {
			t.Errorf("a second pass queued %d more; want 0 while the job is open", n)
		}
		e.runOne(t, true)
		renewed := e.cert(t, c.ID)
		if len(e.versions(t, c.ID)) != 2 || !renewed.RenewAt.After(e.clock.Now()) {
			t.Errorf("after renewal: %d versions, renew at %v; want 2 and a later time",
				len(e.versions(t, c.ID)), renewed.RenewAt)
		}
		if n, _ := e.svc.RenewDue(e.ctx); n != 0 {
			t.Errorf("after renewal: queued %d; want 0", n)
		}
	})
}

// TestShortLivedRenewal checks a 6-day certificate renews at half its life, not a third.
func TestShortLivedRenewal(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-six", nil, false, "none")
		p, _ := e.st.GetProfile(e.ctx, "prof-six")
		p.MaxLifetime = 6 * day
		if err := e.st.UpdateProfile(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		e.create(t, certs.Input{Name: "six", CommonName: "six.example.com",
			ProfileID: "prof-six"})
		e.runOne(t, true)
		e.clock.Advance(2*day + 23*time.Hour)
		if n, _ := e.svc.RenewDue(e.ctx); n != 0 {
			t.Errorf("before half of 6 days: queued %d, want 0", n)
		}
		e.clock.Advance(2 * time.Hour)
		if n, _ := e.svc.RenewDue(e.ctx); n != 1 {
			t.Errorf("past half of 6 days: queued %d, want 1", n)
		}
	})
}

func TestRefreshStatuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.issue(t, "aging")
		steps := []struct {
			advance time.Duration
			want    string
		}{
			{30 * day, "Active"}, {31 * day, "Expiring"}, {30 * day, "Expired"},
		}
		for _, st := range steps {
			e.clock.Advance(st.advance)
			if _, err := e.svc.RefreshStatuses(e.ctx); err != nil {
				t.Fatal(err)
			}
			if got := e.cert(t, c.ID).Status; got != st.want {
				t.Errorf("after %v more: got %s, want %s", st.advance, got, st.want)
			}
		}
	})
}

func TestTimeoutJobs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-gated", nil, false, "issuance")
		agent, csrJob := e.create(t, certs.Input{Name: "agent", CommonName: "a.example.com",
			KeyMode: "agent"})
		_, approvalJob := e.create(t, certs.Input{Name: "gated",
			CommonName: "g.example.com", ProfileID: "prof-gated"})
		running, _ := e.create(t, certs.Input{Name: "crashed", CommonName: "c.example.com"})
		if _, err := e.st.ClaimJob(e.ctx, []string{store.JobIssuance}, e.clock.Now()); err != nil {
			t.Fatal(err) // a worker claims the job and dies
		}

		e.clock.Advance(20 * time.Minute)
		if _, err := e.svc.TimeoutJobs(e.ctx); err != nil {
			t.Fatal(err)
		}
		if j := e.latestJob(t, running.ID); j.Status != store.JobPending {
			t.Errorf("job left Running by a dead worker: got %s, want Pending", j.Status)
		}
		e.clock.Advance(time.Hour)
		e.runOne(t, true)
		if got := e.cert(t, running.ID).Status; got != "Active" {
			t.Errorf("recovered job's certificate: got %s, want Active", got)
		}

		e.clock.Advance(day)
		e.svc.TimeoutJobs(e.ctx)
		if j := e.job(t, csrJob.ID); j.Status != store.JobFailed {
			t.Errorf("CSR never came: got %s, want Failed", j.Status)
		}
		if got := e.cert(t, agent.ID).Status; got != "Failed" {
			t.Errorf("certificate whose CSR never came: got %s, want Failed", got)
		}
		e.clock.Advance(7 * day)
		e.svc.TimeoutJobs(e.ctx)
		if j := e.job(t, approvalJob.ID); j.Status != store.JobFailed {
			t.Errorf("approval never came: got %s, want Failed", j.Status)
		}
		if _, err := e.svc.Approve(as(e.ctx, "apikey:bob"), approvalJob.ID); err == nil {
			t.Error("an expired approval was accepted")
		}
		e.clock.Advance(30 * day)
		e.runOne(t, false)
	})
}

func (e *env) latestJob(t *testing.T, certID string) store.Job {
	t.Helper()
	jobs, _, err := e.st.ListJobs(e.ctx, store.JobFilter{CertificateID: certID},
		store.Page{Limit: 1})
	if err != nil || len(jobs) == 0 {
		t.Fatalf("jobs of %s: %v", certID, err)
	}
	return jobs[0]
}

func TestPruneJobs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.issue(t, "pruned")
		e.clock.Advance(89 * day)
		if n, err := e.svc.PruneJobs(e.ctx, 90*day); err != nil || n != 0 {
			t.Fatalf("before retention ends: pruned %d, %v; want 0", n, err)
		}
		e.clock.Advance(2 * day)
		if n, err := e.svc.PruneJobs(e.ctx, 90*day); err != nil || n != 1 {
			t.Fatalf("after retention: pruned %d, %v; want the finished issuance", n, err)
		}
		events, err := e.st.CountAudit(e.ctx, store.AuditFilter{ResourceID: c.ID})
		if err != nil || events == 0 {
			t.Errorf("audit events of the certificate after pruning: %d, %v; want kept",
				events, err)
		}
	})
}

// A server that starts alone on its database recovers the issuances it left Running at
// once, without waiting for the running-job timeout, and leaves other jobs alone.
func TestRecoverAbandonedJobs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		crashed, _ := e.create(t, certs.Input{Name: "crashed", CommonName: "c.example.com"})
		waiting, _ := e.create(t, certs.Input{Name: "waiting", CommonName: "w.example.com"})
		claimed, err := e.st.ClaimJob(e.ctx, []string{store.JobIssuance}, e.clock.Now())
		if err != nil {
			t.Fatal(err) // a worker claims one job and the server dies
		}
		if claimed.CertificateID != crashed.ID {
			crashed, waiting = waiting, crashed
		}

		n, err := e.svc.RecoverAbandonedJobs(e.ctx)
		if err != nil || n != 1 {
			t.Fatalf("RecoverAbandonedJobs: got %d, %v; want 1 job", n, err)
		}
		j := e.latestJob(t, crashed.ID)
		if j.Status != store.JobPending || j.ID != claimed.ID ||
			!strings.Contains(j.LastError, "server stopped") {
			t.Errorf("abandoned job: got %s (%q), want it Pending again", j.Status, j.LastError)
		}
		if j := e.latestJob(t, waiting.ID); j.Status != store.JobPending || j.Attempts != 0 {
			t.Errorf("job nobody ran: got %s after %d attempts, want Pending untouched",
				j.Status, j.Attempts)
		}
		if n, err := e.svc.RecoverAbandonedJobs(e.ctx); err != nil || n != 0 {
			t.Errorf("second recovery: got %d, %v; want nothing to do", n, err)
		}
		e.clock.Advance(time.Hour)
		e.runOne(t, true)
		e.runOne(t, true)
		if got := e.cert(t, crashed.ID).Status; got != "Active" {
			t.Errorf("recovered job's certificate: got %s, want Active", got)
		}
	})
}
