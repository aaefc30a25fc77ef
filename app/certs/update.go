package certs

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// Update replaces what a caller may edit on certificate id. New names, key mode, issuer or
// profile take effect at the next issuance; the current version stays as it is.
func (s *Service) Update(ctx context.Context, id string, in Input) (store.Certificate, error) {
	var c store.Certificate
	err := s.st.InTx(ctx, func(q store.Queries) error {
		old, err := q.GetCertificate(ctx, id)
		if err != nil {
			return err
		}
		// A certificate imported without an issuer may stay without one.
		checked, _, err := s.check(ctx, q, in, old.IssuerID != "")
		if err != nil {
			return err
		}
		c = checked
		c.ID, c.Status, c.CreatedAt = id, old.Status, old.CreatedAt
		c.CurrentVersionID, c.NotAfter, c.UpdatedAt = old.CurrentVersionID, old.NotAfter,
			store.UTC(s.now())
		if err := q.UpdateCertificate(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nameTaken(c.Name)
			}
			return err
		}
		changes := certChanges(old, c)
		if err := s.updateTargets(ctx, q, c, in.TargetIDs, changes); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, c.UpdatedAt, "certificate.update",
			"certificate", id, changes))
	})
	if err != nil {
		return store.Certificate{}, fmt.Errorf("update certificate %s: %w", id, err)
	}
	return c, nil
}

// updateTargets replaces the targets of c when ids is not nil, queues deployments of the
// current version to targets that are new, and records the change in changes.
func (s *Service) updateTargets(ctx context.Context, q store.Queries, c store.Certificate,
	ids []string, changes map[string]any) error {
	if ids == nil {
		return nil
	}
	e := valid.Errors{}
	targets, err := checkTargets(ctx, q, e, ids, c.KeyMode)
	if err != nil {
		return err
	}
	if err := e.Err(); err != nil {
		return err
	}
	old, err := q.CertificateTargetIDs(ctx, c.ID)
	if err != nil {
		return err
	}
	added, err := s.mapTargets(ctx, q, c, targets, c.UpdatedAt)
	if err != nil || slices.Equal(old, targets) {
		return err
	}
	changes["target_ids"] = map[string]any{"from": old, "to": targets}
	jobs, err := s.queueDeployments(ctx, q, c, added, c.UpdatedAt)
	if len(jobs) > 0 {
		changes["deployment_job_ids"] = jobs
	}
	return err
}

// certChanges lists the edited fields with their old and new values.
func certChanges(old, c store.Certificate) map[string]any {
	out := map[string]any{}
	field := func(name string, from, to any, same bool) {
		if !same {
			out[name] = map[string]any{"from": from, "to": to}
		}
	}
	field("name", old.Name, c.Name, old.Name == c.Name)
	field("common_name", old.CommonName, c.CommonName, old.CommonName == c.CommonName)
	field("sans", old.SANs, c.SANs, slices.Equal(old.SANs, c.SANs))
	field("environment", old.Environment, c.Environment, old.Environment == c.Environment)
	field("owner_id", old.OwnerID, c.OwnerID, old.OwnerID == c.OwnerID)
	field("team_id", old.TeamID, c.TeamID, old.TeamID == c.TeamID)
	field("tags", old.Tags, c.Tags, slices.Equal(old.Tags, c.Tags))
	field("issuer_id", old.IssuerID, c.IssuerID, old.IssuerID == c.IssuerID)
	field("profile_id", old.ProfileID, c.ProfileID, old.ProfileID == c.ProfileID)
	field("renewal_policy_id", old.RenewalPolicyID, c.RenewalPolicyID,
		old.RenewalPolicyID == c.RenewalPolicyID)
	field("key_mode", old.KeyMode, c.KeyMode, old.KeyMode == c.KeyMode)
	return out
}

// Archive takes certificate id out of the lifecycle: it is kept, but no longer renewed or
// alerted on. Work on it that has not started is cancelled.
func (s *Service) Archive(ctx context.Context, id string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		c, err := q.GetCertificate(ctx, id)
		if err != nil {
			return err
		}
		if c.Status == StatusArchived {
			return &valid.Conflict{Message: "the certificate is already archived"}
		}
		if err := s.cancelOpenJob(ctx, q, id, "certificate archived"); err != nil {
			return err
		}
		if err := q.SetCertificateStatus(ctx, id, StatusArchived, store.UTC(s.now())); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "certificate.archive",
			"certificate", id, map[string]any{"previous_status": c.Status}))
	})
	if err != nil {
		return fmt.Errorf("archive certificate %s: %w", id, err)
	}
	return nil
}
