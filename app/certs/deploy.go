package certs

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"time"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// Material is what the agent of a deployment needs: the version to deploy and, when the
// server holds the key, the key as PKCS#8 PEM.
type Material struct {
	Version store.CertificateVersion
	KeyPEM  []byte
}

// StartDeployment hands the agent agentID the material of its deployment job jobID and
// marks the job Running, counting an attempt when it was Pending. A job of another agent
// is reported as not found, so agents cannot probe each other's work. A server-held key
// leaves the server here, only to the target's own agent, and each delivery is audited.
func (s *Service) StartDeployment(ctx context.Context, agentID, jobID string) (Material,
	error) {
	var m Material
	err := s.st.InTx(ctx, func(q store.Queries) error {
		j, err := q.GetJob(ctx, jobID)
		if err != nil {
			return err
		}
		if j.AgentID != agentID || j.Type != store.JobDeployment {
			return fmt.Errorf("job %s of agent %s: %w", jobID, agentID, store.ErrNotFound)
		}
		if j.Status != store.JobPending && j.Status != store.JobRunning {
			return &valid.Conflict{Message: fmt.Sprintf("job %s is %s", jobID, j.Status)}
		}
		c, err := q.GetCertificate(ctx, j.CertificateID)
		if err != nil {
			return err
		}
		if c.CurrentVersionID == "" {
			return &valid.Conflict{Message: "the certificate has no issued version"}
		}
		if m.Version, err = q.GetVersion(ctx, c.CurrentVersionID); err != nil {
			return err
		}
		now := store.UTC(s.now())
		if j.Status == store.JobPending {
			j.Attempts++
		}
		j.Status, j.StartedAt, j.UpdatedAt = store.JobRunning, now, now
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		if len(m.Version.KeySealed) == 0 {
			return nil
		}
		der, err := s.key.Open(m.Version.KeySealed, versionAAD(m.Version.ID))
		if err != nil {
			return fmt.Errorf("unseal key of version %s: %w", m.Version.ID, err)
		}
		m.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.key_delivered",
			"certificate", c.ID, map[string]any{"version_id": m.Version.ID,
				"agent_id": agentID, "target_id": j.TargetID, "job_id": j.ID}))
	})
	if err != nil {
		return Material{}, fmt.Errorf("start deployment %s: %w", jobID, err)
	}
	m.Version.KeySealed = nil
	return m, nil
}

// DeploymentOutcome is what an agent reports about a deployment.
type DeploymentOutcome struct {
	OK    bool   // deployed, or already in place
	Error string // why not, when not OK
	// Result is the agent's whole report, stored with the job as it came.
	Result json.RawMessage
}

// FinishDeployment records the outcome of deployment job jobID of agent agentID: Completed,
// or a failed attempt that the job retry loop runs again after a growing delay until the
// job's attempts are used up.
func (s *Service) FinishDeployment(ctx context.Context, agentID, jobID string,
	out DeploymentOutcome) (store.Job, error) {
	var j store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if j, err = q.GetJob(ctx, jobID); err != nil {
			return err
		}
		if j.AgentID != agentID || j.Type != store.JobDeployment {
			return fmt.Errorf("job %s of agent %s: %w", jobID, agentID, store.ErrNotFound)
		}
		if j.Status != store.JobRunning && j.Status != store.JobPending {
			return &valid.Conflict{Message: fmt.Sprintf("job %s is %s", jobID, j.Status)}
		}
		c, err := q.GetCertificate(ctx, j.CertificateID)
		if err != nil {
			return err
		}
		rp, err := q.GetRenewalPolicy(ctx, c.RenewalPolicyID)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		j.Result, j.UpdatedAt, j.FinishedAt = out.Result, now, now
		j.Attempts = max(j.Attempts, 1)
		action := "deployment.completed"
		if out.OK {
			j.Status, j.LastError = store.JobCompleted, ""
		} else {
			action = "deployment.failed"
			j.Status, j.LastError = store.JobFailed, out.Error
			j.NextAttemptAt = now.Add(Backoff(rp.RetryBackoff, j.Attempts))
		}
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, action, "job", j.ID,
			map[string]any{"certificate_id": c.ID, "target_id": j.TargetID,
				"agent_id": agentID, "attempt": j.Attempts, "error": out.Error,
				"retry": !out.OK && j.Attempts < j.MaxAttempts}))
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("finish deployment %s: %w", jobID, err)
	}
	return j, nil
}

// RetryDeployments puts failed deployments whose next attempt time has come back to
// Pending, up to limit, and returns how many. Their agents see them at their next poll.
func (s *Service) RetryDeployments(ctx context.Context, limit int) (int, error) {
	now := store.UTC(s.now())
	jobs, err := s.st.ListRetryDue(ctx, store.JobDeployment, now, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, j := range jobs {
		err := s.st.InTx(ctx, func(q store.Queries) error {
			cur, err := q.GetJob(ctx, j.ID)
			if err != nil || cur.Status != store.JobFailed || !cur.UpdatedAt.Equal(j.UpdatedAt) {
				return err // changed meanwhile: leave it to whoever changed it
			}
			cur.Status, cur.FinishedAt, cur.UpdatedAt = store.JobPending, time.Time{}, now
			if err := q.UpdateJob(ctx, cur); err != nil {
				return err
			}
			n++
			return q.AppendAudit(ctx, audit.Event(ctx, now, "deployment.retry", "job", j.ID,
				map[string]any{"certificate_id": j.CertificateID, "attempt": j.Attempts + 1}))
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
