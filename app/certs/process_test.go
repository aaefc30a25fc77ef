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
