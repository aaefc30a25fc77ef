package certs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"certctl/app/audit"
	"certctl/app/auth"
	"certctl/store"
)

// newJob makes the job that issues or renews c, in the status it starts in: waiting for
// approval when the profile asks for it, for the agent's CSR in agent key mode (assigned to
// the agent of c's targets), else ready to run. It may make as many attempts as c's renewal policy allows.
func (s *Service) newJob(ctx context.Context, q store.Queries, c store.Certificate,
	typ string, needsApproval bool, now time.Time) (store.Job, error) {
	rp, err := q.GetRenewalPolicy(ctx, c.RenewalPolicyID)
	if err != nil {
		return store.Job{}, err
	}
	status := store.JobPending
	switch {
	case needsApproval:
		status = store.JobAwaitingApproval
	case c.KeyMode == "agent":
		status = store.JobAwaitingCSR
	}
	agent := ""
	if c.KeyMode == "agent" {
		if agent, err = keyAgent(ctx, q, c.ID); err != nil {
			return store.Job{}, err
		}
	}
	return store.Job{ID: store.NewID("job"), Type: typ, CertificateID: c.ID, Status: status,
		AgentID: agent, MaxAttempts: max(rp.MaxAttempts, 1), NextAttemptAt: now,
		RequestedBy: actor(ctx), CreatedAt: now, UpdatedAt: now}, nil
}

func actor(ctx context.Context) string {
	if a := auth.PrincipalFrom(ctx).Actor; a != "" {
		return a
	}
	return "system"
}

// Work runs due issuance and renewal jobs until ctx ends, through ProcessJobs. It wakes when
// a job is queued in this process, and at least every poll interval for jobs queued
// elsewhere.
func (s *Service) Work(ctx context.Context, poll time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-timer.C:
		}
		s.ProcessJobs(ctx)
		timer.Reset(poll)
	}
}

// RunOne claims one due job and runs it, reporting whether there was one.
func (s *Service) RunOne(ctx context.Context) bool {
	j, ok := s.claim(ctx)
	if ok {
		s.runClaimed(ctx, j)
	}
	return ok
}

// claim takes one due issuance or renewal job, if there is one.
func (s *Service) claim(ctx context.Context) (store.Job, bool) {
	j, err := s.st.ClaimJob(ctx, []string{store.JobIssuance, store.JobRenewal}, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Job{}, false
	}
	if err != nil {
		s.log.Warn("claim job", "error", err)
		return store.Job{}, false
	}
	return j, true
}

// runClaimed runs a claimed job and records its outcome. A started job finishes even when
// the worker is told to stop, so that it is not left Running.
func (s *Service) runClaimed(ctx context.Context, j store.Job) {
	ctx = auth.WithPrincipal(context.WithoutCancel(ctx), auth.Principal{Actor: "scheduler"})
	if err := s.run(ctx, j); err != nil {
		s.fail(ctx, j, err)
	}
}

// fail records a failed attempt: the job waits for its next attempt with a growing delay,
// or, out of attempts, fails for good and so does the certificate.
func (s *Service) fail(ctx context.Context, j store.Job, cause error) {
	now := store.UTC(s.now())
	err := s.st.InTx(ctx, func(q store.Queries) error {
		c, err := q.GetCertificate(ctx, j.CertificateID)
		if err != nil {
			return err
		}
		rp, err := q.GetRenewalPolicy(ctx, c.RenewalPolicyID)
		if err != nil {
			return err
		}
		j.LastError, j.UpdatedAt = cause.Error(), now
		final := j.Attempts >= min(j.MaxAttempts, max(rp.MaxAttempts, 1))
		j.Status, j.NextAttemptAt = store.JobPending, now.Add(Backoff(rp.RetryBackoff, j.Attempts))
		if final {
			j.Status, j.FinishedAt = store.JobFailed, now
		}
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		if err := s.refreshStatus(ctx, q, c.ID); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "job.attempt_failed", "job", j.ID,
			map[string]any{"certificate_id": c.ID, "attempt": j.Attempts, "final": final,
				"error": cause.Error()}))
	})
	level := s.log.Warn
	if err != nil {
		level = s.log.Error
		cause = fmt.Errorf("%w (and recording it: %w)", cause, err)
	}
	level("job attempt failed", "job_id", j.ID, "cert_id", j.CertificateID,
		"attempt", j.Attempts, "error", cause)
}

// ProcessJobs claims and runs due jobs until none is due or ctx ends, at most the service's
// concurrency at once across every caller. A job is claimed only when a slot is free, so
// nothing is ever claimed and left waiting; jobs already started when ctx ends run to
// completion. It returns how many ran.
func (s *Service) ProcessJobs(ctx context.Context) int {
	slots := s.slots
	var wg sync.WaitGroup
	var ran atomic.Int64
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		j, ok := s.claim(ctx)
		if !ok {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			s.runClaimed(ctx, j)
			ran.Add(1)
		}()
	}
	wg.Wait()
	return int(ran.Load())
}
