package certs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"certctl/app/auth"
	"certctl/app/valid"
	"certctl/store"
)

// How long jobs may wait in each state before the scheduler gives up on them.
const (
	csrTimeout      = 24 * time.Hour
	approvalTimeout = 7 * 24 * time.Hour
	// runningTimeout is longer than any issuance takes; a job Running this long was left by
	// a process that died mid-run.
	runningTimeout = 15 * time.Minute
)

// batch bounds the certificates or jobs one scheduler pass handles; the next pass goes on.
const batch = 500

// scheduler is the actor the scheduler's changes are audited as.
func scheduler(ctx context.Context) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Actor: "scheduler"})
}

// RenewDue queues a renewal for every certificate whose renewal time has come, first giving
// a renewal time to issued certificates that have none. It returns how many it queued.
func (s *Service) RenewDue(ctx context.Context) (int, error) {
	ctx = scheduler(ctx)
	unscheduled, err := s.st.ListUnscheduled(ctx, batch)
	if err != nil {
		return 0, err
	}
	for _, c := range unscheduled {
		if err := s.refresh(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	due, err := s.st.ListRenewalDue(ctx, s.now(), batch)
	if err != nil {
		return 0, err
	}
	queued := 0
	for _, c := range due {
		_, err := s.renew(ctx, c.ID, true)
		var conflict *valid.Conflict
		switch {
		case err == nil:
			queued++
		case errors.As(err, &conflict):
			// Another replica queued it first, or it changed since the query.
		default:
			return queued, err
		}
	}
	return queued, nil
}

// RefreshStatuses moves certificates whose status time has overtaken, Active to Expiring
// and ended ones to Expired. It returns how many it looked at.
func (s *Service) RefreshStatuses(ctx context.Context) (int, error) {
	stale, err := s.st.ListStatusStale(ctx, s.now(), batch)
	if err != nil {
		return 0, err
	}
	for _, c := range stale {
		if err := s.refresh(ctx, c.ID); err != nil {
			return 0, err
		}
	}
	return len(stale), nil
}

func (s *Service) refresh(ctx context.Context, id string) error {
	return s.st.InTx(ctx, func(q store.Queries) error { return s.refreshStatus(ctx, q, id) })
}

// TimeoutJobs ends jobs that waited too long: for a CSR (a day) or an approval (a week)
// they fail for good, so an expired approval never runs; a job left Running by a process
// that died goes back to Pending for another attempt, or fails when it has none left.
func (s *Service) TimeoutJobs(ctx context.Context) (int, error) {
	ctx = scheduler(ctx)
	now := s.now()
	n := 0
	for status, limit := range map[string]time.Duration{store.JobAwaitingCSR: csrTimeout,
		store.JobAwaitingApproval: approvalTimeout, store.JobRunning: runningTimeout} {
		jobs, err := s.st.ListJobsIdle(ctx, status, now.Add(-limit), batch)
		if err != nil {
			return n, err
		}
		for _, j := range jobs {
			cause := fmt.Errorf("waited in %s for longer than %s", status, limit)
			if status != store.JobRunning {
				j.Attempts = j.MaxAttempts // waiting again would not help
			}
			s.fail(ctx, j, cause)
			n++
		}
	}
	return n, nil
}

// PruneJobs removes jobs that finished longer than keep ago. Audit events of what they did
// stay: the audit trail is never pruned.
func (s *Service) PruneJobs(ctx context.Context, keep time.Duration) (int, error) {
	total := 0
	for {
		n, err := s.st.DeleteFinishedJobs(ctx, s.now().Add(-keep), batch)
		total += n
		if err != nil || n < batch {
			return total, err
		}
	}
}

// RecoverAbandonedJobs treats every issuance and renewal left Running as abandoned by a
// process that died, as TimeoutJobs does once they have been Running too long: each goes
// back to Pending for another attempt, or fails when it has none left. Call it only where
// no other process can be running jobs: at the start of a server on SQLite, which admits one
// server per database. It returns how many it recovered.
func (s *Service) RecoverAbandonedJobs(ctx context.Context) (int, error) {
	ctx = scheduler(ctx)
	n := 0
	for _, typ := range []string{store.JobIssuance, store.JobRenewal} {
		page := store.Page{Limit: batch}
		for {
			jobs, next, err := s.st.ListJobs(ctx, store.JobFilter{Type: typ,
				Status: store.JobRunning}, page)
			if err != nil {
				return n, err
			}
			for _, j := range jobs {
				s.fail(ctx, j, errors.New("the server stopped while the job ran"))
				n++
			}
			if len(jobs) < batch || next == "" {
				break
			}
			page.After = next
		}
	}
	return n, nil
}
