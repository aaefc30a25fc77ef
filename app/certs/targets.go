package certs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// maxTargets bounds how many targets one certificate deploys to.
const maxTargets = 100

// checkTargets validates the target IDs a caller gives a certificate in key mode keyMode:
// each must exist, and in agent key mode all must belong to one agent, the host that holds
// the key. It returns the IDs without blanks and repeats, sorted.
func checkTargets(ctx context.Context, q store.Queries, e valid.Errors, ids []string,
	keyMode string) ([]string, error) {
	var out []string
	agent := ""
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" || slices.Contains(out, id) {
			continue
		}
		t, err := q.GetTarget(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			e.Add("target_ids", fmt.Sprintf("nothing has the ID %q", id))
			continue
		}
		if err != nil {
			return nil, err
		}
		if keyMode == "agent" && agent != "" && t.AgentID != agent {
			e.Add("target_ids", "in agent key mode every target must belong to the one "+
				"agent that holds the key; use key_mode server to deploy to several hosts")
		}
		agent = t.AgentID
		out = append(out, id)
	}
	if len(out) > maxTargets {
		e.Add("target_ids", fmt.Sprintf("at most %d targets", maxTargets))
	}
	slices.Sort(out)
	return out, nil
}

// mapTargets makes ids the targets of c, which is stored, and returns the targets that were
// not mapped before. In agent key mode an open job waiting for the CSR moves to the agent
// of the new targets.
func (s *Service) mapTargets(ctx context.Context, q store.Queries, c store.Certificate,
	ids []string, now time.Time) ([]string, error) {
	old, err := q.CertificateTargetIDs(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if slices.Equal(old, ids) {
		return nil, nil
	}
	if err := q.SetCertificateTargets(ctx, c.ID, ids); err != nil {
		return nil, err
	}
	var added []string
	for _, id := range ids {
		if !slices.Contains(old, id) {
			added = append(added, id)
		}
	}
	if c.KeyMode != "agent" {
		return added, nil
	}
	j, err := q.OpenJob(ctx, c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return added, nil
	}
	if err != nil {
		return nil, err
	}
	agent, err := keyAgent(ctx, q, c.ID)
	if err != nil || j.AgentID == agent {
		return added, err
	}
	j.AgentID, j.UpdatedAt = agent, now
	return added, q.UpdateJob(ctx, j)
}

// keyAgent is the agent that makes the key of certificate id in agent key mode: the agent
// of its targets, or "" while it has none (an operator then submits the CSR).
func keyAgent(ctx context.Context, q store.Queries, id string) (string, error) {
	ids, err := q.CertificateTargetIDs(ctx, id)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	t, err := q.GetTarget(ctx, ids[0])
	if err != nil {
		return "", err
	}
	return t.AgentID, nil
}

// queueDeployments queues a Deployment job of c's current version to each of targetIDs, or
// to every target of c when targetIDs is nil, replacing deployments of c to those targets
// that have not finished. It returns the new jobs' IDs.
func (s *Service) queueDeployments(ctx context.Context, q store.Queries, c store.Certificate,
	targetIDs []string, now time.Time) ([]string, error) {
	if c.CurrentVersionID == "" {
		return nil, nil
	}
	if targetIDs == nil {
		var err error
		if targetIDs, err = q.CertificateTargetIDs(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	rp, err := q.GetRenewalPolicy(ctx, c.RenewalPolicyID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, tid := range targetIDs {
		t, err := q.GetTarget(ctx, tid)
		if err != nil {
			return nil, fmt.Errorf("target %s: %w", tid, err)
		}
		open, err := q.OpenDeployments(ctx, c.ID, tid)
		if err != nil {
			return nil, err
		}
		for _, o := range open {
			o.Status, o.LastError, o.FinishedAt, o.UpdatedAt = store.JobCancelled,
				"superseded by a newer deployment", now, now
			if err := q.UpdateJob(ctx, o); err != nil {
				return nil, err
			}
		}
		j := store.Job{ID: store.NewID("job"), Type: store.JobDeployment, CertificateID: c.ID,
			TargetID: tid, AgentID: t.AgentID, Status: store.JobPending,
			MaxAttempts: max(rp.MaxAttempts, 1), NextAttemptAt: now, RequestedBy: actor(ctx),
			CreatedAt: now, UpdatedAt: now}
		if err := q.CreateJob(ctx, j); err != nil {
			return nil, err
		}
		ids = append(ids, j.ID)
	}
	return ids, nil
}

// Deploy queues deployments of certificate id's current version to targetIDs, or to all
// its targets when targetIDs is empty. Every target given must be one of the
// certificate's.
func (s *Service) Deploy(ctx context.Context, id string, targetIDs []string) ([]store.Job,
	error) {
	var jobs []store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		c, err := q.GetCertificate(ctx, id)
		if err != nil {
			return err
		}
		if c.CurrentVersionID == "" {
			return &valid.Conflict{Message: "the certificate has not been issued yet"}
		}
		mapped, err := q.CertificateTargetIDs(ctx, id)
		if err != nil {
			return err
		}
		if len(targetIDs) == 0 {
			targetIDs = mapped
		}
		e := valid.Errors{}
		for _, t := range targetIDs {
			if !slices.Contains(mapped, t) {
				e.Add("target_ids", fmt.Sprintf("%q is not a target of this certificate", t))
			}
		}
		if len(targetIDs) == 0 {
			e.Add("target_ids", "the certificate has no targets")
		}
		if err := e.Err(); err != nil {
			return err
		}
		now := store.UTC(s.now())
		ids, err := s.queueDeployments(ctx, q, c, targetIDs, now)
		if err != nil {
			return err
		}
		for _, jid := range ids {
			j, err := q.GetJob(ctx, jid)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.deploy", "certificate",
			id, map[string]any{"target_ids": targetIDs, "job_ids": ids}))
	})
	if err != nil {
		return nil, fmt.Errorf("deploy certificate %s: %w", id, err)
	}
	return jobs, nil
}

// Deployments returns the certificate's deployment jobs, newest first, up to limit.
func (s *Service) Deployments(ctx context.Context, id string, limit int) ([]store.Job,
	error) {
	if _, err := s.st.GetCertificate(ctx, id); err != nil {
		return nil, err
	}
	jobs, _, err := s.st.ListJobs(ctx, store.JobFilter{CertificateID: id,
		Type: store.JobDeployment}, store.Page{Limit: limit})
	return jobs, err
}

// TargetIDs returns the IDs of certificate id's targets.
func (s *Service) TargetIDs(ctx context.Context, id string) ([]string, error) {
	return s.st.CertificateTargetIDs(ctx, id)
}

// QueueVerifications queues a deployment of each certificate to each of its targets with
// verify whose last deployment finished at least after ago, up to a batch per run. The
// target's agent finds the files in place and checks that the endpoint still serves the
// certificate, reloading a server that does not (see the deploy engine); a target whose
// files were changed by hand gets the certificate back. It returns how many it queued.
func (s *Service) QueueVerifications(ctx context.Context, after time.Duration) (int, error) {
	ctx = scheduler(ctx)
	due, err := s.st.ListVerificationDue(ctx, store.UTC(s.now().Add(-after)), batch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range due {
		err := s.st.InTx(ctx, func(q store.Queries) error {
			c, err := q.GetCertificate(ctx, m.CertificateID)
			if err != nil {
				return err
			}
			now := store.UTC(s.now())
			ids, err := s.queueDeployments(ctx, q, c, []string{m.TargetID}, now)
			if err != nil {
				return err
			}
			return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.verify_deployment",
				"certificate", c.ID, map[string]any{"target_id": m.TargetID, "job_ids": ids}))
		})
		if err != nil {
			return n, fmt.Errorf("queue a check of certificate %s on target %s: %w",
				m.CertificateID, m.TargetID, err)
		}
		n++
	}
	return n, nil
}
