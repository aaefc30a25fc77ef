package certs_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"certctl/app/ca"
	"certctl/app/certs"
	"certctl/store"
)

// slowIssuer holds every issuance for a while and records how many ran at once.
type slowIssuer struct {
	next certs.Issuer
	mu   sync.Mutex
	now  int
	peak int
}

func (s *slowIssuer) Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte,
	error) {
	s.mu.Lock()
	s.now++
	s.peak = max(s.peak, s.now)
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	return s.next.Issue(ctx, r)
}

// TestProcessJobs checks the bounded job processor: every due job runs once, never more
// than the concurrency at a time, and a stopped processor claims nothing.
func TestProcessJobs(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		slow := &slowIssuer{next: e.ca}
		svc := certs.NewService(certs.Deps{Store: e.st, Key: e.key,
			Issuers: map[string]certs.Issuer{"iss-local": slow}, KeyMode: "server",
			Concurrency: 3, Now: e.clock.Now, Log: e.log})
		var ids []string
		for i := 0; i < 9; i++ {
			c, _, err := svc.Create(e.ctx, certs.Input{Name: fmt.Sprintf("p%d", i),
				CommonName: fmt.Sprintf("p%d.example.com", i), IssuerID: "iss-local"})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}

		stopped, cancel := context.WithCancel(e.ctx)
		cancel()
		if n := svc.ProcessJobs(stopped); n != 0 {
			t.Errorf("a stopped processor ran %d jobs, want 0", n)
		}
		if n := svc.ProcessJobs(e.ctx); n != 9 {
			t.Errorf("ran %d jobs, want 9", n)
		}
		if slow.peak > 3 || slow.peak < 2 {
			t.Errorf("at most %d issuances ran at once, want between 2 and the limit 3",
				slow.peak)
		}
		for _, id := range ids {
			if got := e.cert(t, id).Status; got != "Active" {
				t.Errorf("%s: got %s, want Active", id, got)
			}
		}
		if n, _ := e.st.CountJobs(e.ctx, store.JobFilter{Status: store.JobRunning}); n != 0 {
			t.Errorf("%d jobs left Running", n)
		}
	})
}

// gateIssuer holds each issuance until the test opens the gate.
type gateIssuer struct {
	next    certs.Issuer
	entered chan struct{}
	gate    chan struct{}
}

func (g *gateIssuer) Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte,
	error) {
	g.entered <- struct{}{}
	<-g.gate
	return g.next.Issue(ctx, r)
}

// TestLateWorkerDoesNotOverwrite has a worker take so long that the running-job timeout
// gives its job to another attempt meanwhile: when the late worker finishes, its result is
// refused because the job changed since it claimed it, and the certificate is issued once,
// by the attempt that owns the job.
func TestLateWorkerDoesNotOverwrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		g := &gateIssuer{next: e.ca, entered: make(chan struct{}, 2),
			gate: make(chan struct{})}
		svc := certs.NewService(certs.Deps{Store: e.st, Key: e.key,
			Issuers: map[string]certs.Issuer{"iss-local": g}, KeyMode: "server",
			Now: e.clock.Now, Log: e.log})
		c, _, err := svc.Create(e.ctx, certs.Input{Name: "late", CommonName: "l.example.com",
			IssuerID: "iss-local"})
		if err != nil {
			t.Fatal(err)
		}
		late := make(chan bool)
		go func() { late <- svc.RunOne(e.ctx) }()
		<-g.entered // the first worker holds the job Running

		e.clock.Advance(20 * time.Minute)
		if n, err := svc.TimeoutJobs(e.ctx); err != nil || n != 1 {
			t.Fatalf("TimeoutJobs: %d, %v; want the running job given another attempt", n, err)
		}
		close(g.gate)
		<-late
		got := e.cert(t, c.ID)
		if got.CurrentVersionID != "" {
			t.Fatalf("the late worker's certificate was stored over the requeued job")
		}
		jobs, _, err := e.st.ListJobs(e.ctx, store.JobFilter{CertificateID: c.ID},
			store.Page{Limit: 10})
		if err != nil || len(jobs) != 1 || jobs[0].Status != store.JobPending {
			t.Fatalf("jobs after the late finish: %+v, %v; want the one job Pending", jobs, err)
		}

		e.clock.Advance(time.Hour)
		if !svc.RunOne(e.ctx) {
			t.Fatal("the requeued job did not run")
		}
		<-g.entered
		versions, err := e.st.ListVersions(e.ctx, c.ID)
		if err != nil || len(versions) != 1 {
			t.Fatalf("versions: %d, %v; want exactly one", len(versions), err)
		}
		if j, _ := e.st.GetJob(e.ctx, jobs[0].ID); j.Status != store.JobCompleted ||
			j.Attempts != 2 {
			t.Errorf("job: %s after %d attempts, want Completed on the second", j.Status,
				j.Attempts)
		}
	})
}
