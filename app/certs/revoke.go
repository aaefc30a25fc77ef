package certs

import (
	"context"
	"errors"
	"fmt"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/valid"
	"certctl/store"
)

// Revoke revokes certificate id with an RFC 5280 reason name: its current version, or every
// version not yet revoked when all is set. Pending work on the certificate is cancelled.
func (s *Service) Revoke(ctx context.Context, id, reason string, all bool) error {
	code, err := reasonCode(reason)
	if err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		c, err := q.GetCertificate(ctx, id)
		if err != nil {
			return err
		}
		revoked, err := s.revokeVersions(ctx, q, c, code, all)
		if err != nil {
			return err
		}
		if err := s.cancelOpenJob(ctx, q, id, "certificate revoked"); err != nil {
			return err
		}
		if err := s.refreshStatus(ctx, q, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "certificate.revoke", "certificate",
			id, map[string]any{"reason": reason, "serials": revoked}))
	})
	if err != nil {
		return fmt.Errorf("revoke certificate %s: %w", id, err)
	}
	if id == ServerCertificateID {
		// The server must not go on presenting a revoked certificate: a new one, with a
		// new key, replaces it. Should queueing fail, the next start queues it.
		if _, err := s.Renew(ctx, id); err != nil {
			s.log.Error("the server's certificate was revoked and no replacement could be "+
				"queued", "cert_id", id, "error", err)
		}
	}
	return nil
}

func reasonCode(name string) (int, error) {
	code, err := ca.ReasonCode(name)
	if err != nil {
		return 0, valid.Errors{"reason": err.Error()}
	}
	return code, nil
}

func (s *Service) revokeVersions(ctx context.Context, q store.Queries, c store.Certificate,
	code int, all bool) ([]string, error) {
	versions, err := q.ListVersions(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	now := store.UTC(s.now())
	var serials []string
	for _, v := range versions {
		if !all && v.ID != c.CurrentVersionID || !v.RevokedAt.IsZero() {
			continue
		}
		if err := q.RevokeVersion(ctx, v.ID, now, code); err != nil {
			return nil, err
		}
		serials = append(serials, v.Serial)
	}
	if len(serials) == 0 {
		return nil, &valid.Conflict{Message: fmt.Sprintf("certificate %s has no issued, "+
			"unrevoked version to revoke", c.ID)}
	}
	return serials, nil
}

func (s *Service) cancelOpenJob(ctx context.Context, q store.Queries, certID,
	why string) error {
	j, err := q.OpenJob(ctx, certID)
	if errors.Is(err, store.ErrNotFound) || err == nil && j.Status == store.JobRunning {
		return nil
	}
	if err != nil {
		return err
	}
	now := store.UTC(s.now())
	j.Status, j.FinishedAt, j.UpdatedAt, j.LastError = store.JobCancelled, now, now, why
	return q.UpdateJob(ctx, j)
}

// refreshStatus stores the status Status decides for certificate id from what is stored now,
// and the renewal time RenewAt decides for its current version.
func (s *Service) refreshStatus(ctx context.Context, q store.Queries, id string) error {
	c, err := q.GetCertificate(ctx, id)
	if err != nil {
		return err
	}
	in := StatusInput{Archived: c.Status == StatusArchived, Now: s.now()}
	if c.CurrentVersionID != "" {
		v, err := q.GetVersion(ctx, c.CurrentVersionID)
		if err != nil {
			return err
		}
		in.Current = &v
	}
	if in.Policy, err = q.GetRenewalPolicy(ctx, c.RenewalPolicyID); err != nil {
		return err
	}
	last, err := lastIssuanceJob(ctx, q, id)
	if err != nil {
		return err
	}
	switch last.Status {
	case store.JobFailed:
		in.LastJobFailed = true
	case store.JobPending, store.JobAwaitingCSR, store.JobAwaitingApproval, store.JobRunning:
		in.OpenJob = last.Type
	}
	if in.Current != nil {
		renewAt := store.UTC(RenewAt(in.Current.NotBefore, in.Current.NotAfter, in.Policy))
		if !renewAt.Equal(c.RenewAt) {
			if err := q.SetRenewAt(ctx, id, renewAt); err != nil {
				return err
			}
		}
	}
	if status := Status(in); status != c.Status {
		return q.SetCertificateStatus(ctx, id, status, store.UTC(s.now()))
	}
	return nil
}

// lastIssuanceJob returns the newest Issuance or Renewal job of certificate id, or a zero
// Job when it has none. Deployments say nothing about the certificate's own status.
func lastIssuanceJob(ctx context.Context, q store.Queries, id string) (store.Job, error) {
	var last store.Job
	for _, typ := range []string{store.JobIssuance, store.JobRenewal} {
		jobs, _, err := q.ListJobs(ctx, store.JobFilter{CertificateID: id, Type: typ},
			store.Page{Limit: 1})
		if err != nil {
			return store.Job{}, err
		}
		if len(jobs) > 0 && (last.ID == "" || jobs[0].CreatedAt.After(last.CreatedAt)) {
			last = jobs[0]
		}
	}
	return last, nil
}
