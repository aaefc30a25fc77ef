package certs

import (
	"context"
	"fmt"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// Approve lets a job waiting for approval go on. The approver must not be the requester.
func (s *Service) Approve(ctx context.Context, jobID string) (store.Job, error) {
	return s.decide(ctx, jobID, true)
}

// Reject cancels a job waiting for approval; it never runs, also not on a retry.
func (s *Service) Reject(ctx context.Context, jobID string) (store.Job, error) {
	return s.decide(ctx, jobID, false)
}

func (s *Service) decide(ctx context.Context, jobID string, approve bool) (store.Job, error) {
	var j store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if j, err = q.GetJob(ctx, jobID); err != nil {
			return err
		}
		if j.Status != store.JobAwaitingApproval {
			return &valid.Conflict{Message: fmt.Sprintf("job %s is %s, not awaiting approval",
				jobID, j.Status)}
		}
		who := actor(ctx)
		if who == j.RequestedBy {
			return &valid.Conflict{Message: "a job must be approved or rejected by someone " +
				"other than " + who + ", who requested it"}
		}
		c, err := q.GetCertificate(ctx, j.CertificateID)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		j.ApprovedBy, j.UpdatedAt, j.NextAttemptAt = who, now, now
		action := "job.approve"
		switch {
		case !approve:
			j.Status, j.FinishedAt, j.LastError = store.JobCancelled, now, "rejected by "+who
			action = "job.reject"
		case c.KeyMode == "agent" && j.CSRPEM == "":
			j.Status = store.JobAwaitingCSR
		default:
			j.Status = store.JobPending
		}
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		if err := s.refreshStatus(ctx, q, c.ID); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, action, "job", jobID,
			map[string]any{"certificate_id": j.CertificateID, "status": j.Status}))
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("decide on job %s: %w", jobID, err)
	}
	s.kick()
	return j, nil
}

// Cancel stops a job that has not finished and is not running.
func (s *Service) Cancel(ctx context.Context, jobID string) (store.Job, error) {
	var j store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if j, err = q.GetJob(ctx, jobID); err != nil {
			return err
		}
		switch j.Status {
		case store.JobPending, store.JobAwaitingCSR, store.JobAwaitingApproval:
		default:
			return &valid.Conflict{Message: fmt.Sprintf("job %s is %s and cannot be cancelled",
				jobID, j.Status)}
		}
		now := store.UTC(s.now())
		j.Status, j.FinishedAt, j.UpdatedAt = store.JobCancelled, now, now
		j.LastError = "cancelled by " + actor(ctx)
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		if err := s.refreshStatus(ctx, q, j.CertificateID); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "job.cancel", "job", jobID,
			map[string]any{"certificate_id": j.CertificateID}))
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("cancel job %s: %w", jobID, err)
	}
	return j, nil
}
