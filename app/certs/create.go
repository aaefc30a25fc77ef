package certs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// Input is what a caller sets on a certificate.
type Input struct {
	Name            string
	CommonName      string
	SANs            []string
	IssuerID        string
	ProfileID       string
	RenewalPolicyID string
	OwnerID         string
	TeamID          string
	Environment     string
	Tags            []string
	KeyMode         string
	// TargetIDs are where the certificate is deployed. On update, nil leaves the targets
	// as they are and an empty list removes them all.
	TargetIDs []string
}

// Create adds a certificate to the inventory and queues its issuance: at once for server
// key mode, after the agent's CSR for agent key mode, and after approval when the profile
// asks for it.
func (s *Service) Create(ctx context.Context, in Input) (store.Certificate, store.Job, error) {
	return s.create(ctx, in, store.NewID("cert"))
}

// create is Create with the new certificate's id given.
func (s *Service) create(ctx context.Context, in Input, id string) (store.Certificate,
	store.Job, error) {
	var c store.Certificate
	var j store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		checked, p, err := s.check(ctx, q, in, true)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		c = checked
		c.ID, c.Status, c.CreatedAt, c.UpdatedAt = id, StatusPending, now, now
		if err := q.CreateCertificate(ctx, c); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return nameTaken(c.Name)
			}
			return err
		}
		e := valid.Errors{}
		targets, err := checkTargets(ctx, q, e, in.TargetIDs, c.KeyMode)
		if err != nil {
			return err
		}
		if err := e.Err(); err != nil {
			return err
		}
		if _, err := s.mapTargets(ctx, q, c, targets, now); err != nil {
			return err
		}
		j, err = s.newJob(ctx, q, c, store.JobIssuance, p.Approval != "none", now)
		if err != nil {
			return err
		}
		if err := q.CreateJob(ctx, j); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.create", "certificate",
			c.ID, map[string]any{"name": c.Name, "common_name": c.CommonName, "sans": c.SANs,
				"issuer_id": c.IssuerID, "profile_id": c.ProfileID, "key_mode": c.KeyMode,
				"target_ids": targets, "job_id": j.ID, "job_status": j.Status}))
	})
	if err != nil {
		return store.Certificate{}, store.Job{}, fmt.Errorf("create certificate: %w", err)
	}
	s.kick()
	return c, j, nil
}

func nameTaken(name string) error {
	return &valid.Conflict{Message: fmt.Sprintf("a certificate named %q exists", name),
		Fields: map[string]string{"name": "is already taken"}}
}

// check validates in against the stored issuers, profiles, policies, owners and teams, and
// returns the certificate it describes with defaults applied, and its profile.
func (s *Service) check(ctx context.Context, q store.Queries, in Input,
	needIssuer bool) (store.Certificate, store.Profile, error) {
	e := valid.Errors{}
	c := store.Certificate{
		Name: e.Text("name", in.Name, 1, 200), CommonName: e.Text("common_name", in.CommonName, 0, 253),
		Environment: e.Text("environment", in.Environment, 0, 50),
		IssuerID:    strings.TrimSpace(in.IssuerID), ProfileID: orDefault(in.ProfileID, DefaultProfile),
		RenewalPolicyID: orDefault(in.RenewalPolicyID, DefaultPolicy),
		OwnerID:         strings.TrimSpace(in.OwnerID), TeamID: strings.TrimSpace(in.TeamID),
		KeyMode: orDefault(in.KeyMode, s.keyMode), Tags: checkTags(e, in.Tags),
	}
	if c.KeyMode != "agent" && c.KeyMode != "server" {
		e.Add("key_mode", "must be agent or server")
	}
	if needIssuer && c.IssuerID == "" {
		e.Add("issuer_id", "is required, e.g. iss-local")
	}
	if err := s.checkRefs(ctx, q, e, c); err != nil {
		return c, store.Profile{}, err
	}
	p, err := q.GetProfile(ctx, c.ProfileID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return c, p, err
	}
	names, nerr := ParseNames(c.CommonName, in.SANs)
	if nerr != nil {
		e.Add("sans", nerr.Error())
	} else if err == nil {
		CheckNames(e, "sans", p, names)
		c.SANs = names.Strings()
	}
	return c, p, e.Err()
}

// checkRefs records every reference in c that names nothing stored.
func (s *Service) checkRefs(ctx context.Context, q store.Queries, e valid.Errors,
	c store.Certificate) error {
	refs := []struct {
		field, id string
		get       func() error
	}{
		{"issuer_id", c.IssuerID, func() error { _, err := q.GetIssuer(ctx, c.IssuerID); return err }},
		{"profile_id", c.ProfileID, func() error { _, err := q.GetProfile(ctx, c.ProfileID); return err }},
		{"renewal_policy_id", c.RenewalPolicyID, func() error {
			_, err := q.GetRenewalPolicy(ctx, c.RenewalPolicyID)
			return err
		}},
		{"owner_id", c.OwnerID, func() error { _, err := q.GetOwner(ctx, c.OwnerID); return err }},
		{"team_id", c.TeamID, func() error { _, err := q.GetTeam(ctx, c.TeamID); return err }},
	}
	for _, r := range refs {
		if r.id == "" {
			continue
		}
		err := r.get()
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.Add(r.field, fmt.Sprintf("nothing has the ID %q", r.id))
		case err != nil:
			return err
		}
	}
	return nil
}

func checkTags(e valid.Errors, tags []string) []string {
	var out []string
	for _, t := range tags {
		t = e.Text("tags", t, 1, 50)
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) > 20 {
		e.Add("tags", "at most 20 tags")
	}
	return out
}

func orDefault(s, def string) string {
	if s = strings.TrimSpace(s); s != "" {
		return s
	}
	return def
}
