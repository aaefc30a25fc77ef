package certs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/valid"
	"certctl/store"
)

// Bounds of profile and policy settings.
const (
	minLifetime = time.Hour
	maxLifetime = 825 * 24 * time.Hour
)

// SaveProfile creates profile p, or replaces it when create is false. The ID is chosen by
// the caller on creation and never changes.
func (s *Service) SaveProfile(ctx context.Context, p store.Profile, create bool) (store.Profile,
	error) {
	if err := checkProfile(&p); err != nil {
		return store.Profile{}, err
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		now := store.UTC(s.now())
		p.UpdatedAt = now
		action := "profile.update"
		if create {
			p.CreatedAt, action = now, "profile.create"
			if err := q.CreateProfile(ctx, p); err != nil {
				return conflictOr(err, "id or name", "a profile with this ID or name exists")
			}
		} else {
			old, err := q.GetProfile(ctx, p.ID)
			if err != nil {
				return err
			}
			p.CreatedAt = old.CreatedAt
			if err := q.UpdateProfile(ctx, p); err != nil {
				return conflictOr(err, "name", "another profile has this name")
			}
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, action, "profile", p.ID,
			map[string]any{"name": p.Name, "key_types": p.KeyTypes, "approval": p.Approval,
				"max_lifetime_seconds": int64(p.MaxLifetime.Seconds())}))
	})
	if err != nil {
		return store.Profile{}, fmt.Errorf("save profile %s: %w", p.ID, err)
	}
	return p, nil
}

func checkProfile(p *store.Profile) error {
	e := valid.Errors{}
	p.ID = e.Text("id", p.ID, 1, 64)
	p.Name = e.Text("name", p.Name, 1, 100)
	p.Description = e.Text("description", p.Description, 0, 1000)
	if len(p.KeyTypes) == 0 {
		e.Add("key_types", "name at least one of "+strings.Join(ca.KeySpecs(), ", "))
	}
	for _, k := range p.KeyTypes {
		if !slices.Contains(ca.KeySpecs(), k) {
			e.Add("key_types", fmt.Sprintf("%q is not one of %s", k,
				strings.Join(ca.KeySpecs(), ", ")))
		}
	}
	if p.MaxLifetime < minLifetime || p.MaxLifetime > maxLifetime {
		e.Add("max_lifetime_seconds", "must be from one hour to 825 days")
	}
	for _, u := range p.ExtKeyUsages {
		if u != "serverAuth" && u != "clientAuth" {
			e.Add("ext_key_usages", fmt.Sprintf("%q is not serverAuth or clientAuth", u))
		}
	}
	for _, pat := range p.SANPatterns {
		if err := checkDNSName(strings.ReplaceAll(strings.ToLower(pat), "*", "x")); err != nil {
			e.Add("san_patterns", fmt.Sprintf("%q is not a DNS name pattern", pat))
		}
	}
	if p.Approval == "" {
		p.Approval = "none"
	}
	if !slices.Contains([]string{"none", "issuance", "always"}, p.Approval) {
		e.Add("approval", "must be none, issuance or always")
	}
	return e.Err()
}

// SavePolicy creates renewal policy p, or replaces it when create is false.
func (s *Service) SavePolicy(ctx context.Context, p store.RenewalPolicy,
	create bool) (store.RenewalPolicy, error) {
	if err := checkPolicy(&p); err != nil {
		return store.RenewalPolicy{}, err
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		now := store.UTC(s.now())
		p.UpdatedAt = now
		action := "renewal_policy.update"
		if create {
			p.CreatedAt, action = now, "renewal_policy.create"
			if err := q.CreateRenewalPolicy(ctx, p); err != nil {
				return conflictOr(err, "id or name", "a policy with this ID or name exists")
			}
		} else {
			old, err := q.GetRenewalPolicy(ctx, p.ID)
			if err != nil {
				return err
			}
			p.CreatedAt = old.CreatedAt
			if err := q.UpdateRenewalPolicy(ctx, p); err != nil {
				return conflictOr(err, "name", "another policy has this name")
			}
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, action, "renewal_policy", p.ID,
			map[string]any{"name": p.Name, "renew_fraction": p.RenewFraction,
				"renew_before_seconds": int64(p.RenewBefore.Seconds()),
				"max_attempts":         p.MaxAttempts}))
	})
	if err != nil {
		return store.RenewalPolicy{}, fmt.Errorf("save renewal policy %s: %w", p.ID, err)
	}
	return p, nil
}

func checkPolicy(p *store.RenewalPolicy) error {
	e := valid.Errors{}
	p.ID = e.Text("id", p.ID, 1, 64)
	p.Name = e.Text("name", p.Name, 1, 100)
	switch {
	case p.RenewBefore > 0 && p.RenewFraction > 0:
		e.Add("renew_fraction", "set renew_fraction or renew_before_seconds, not both")
	case p.RenewBefore == 0 && (p.RenewFraction <= 0 || p.RenewFraction >= 1):
		e.Add("renew_fraction", "must be above 0 and below 1 (e.g. 0.33), unless "+
			"renew_before_seconds is set")
	case p.RenewBefore < 0:
		e.Add("renew_before_seconds", "must be positive")
	}
	if p.MaxAttempts < 1 || p.MaxAttempts > 100 {
		e.Add("max_attempts", "must be from 1 to 100")
	}
	if p.RetryBackoff < time.Second || p.RetryBackoff > 24*time.Hour {
		e.Add("retry_backoff_seconds", "must be from 1 second to one day")
	}
	for _, d := range p.AlertBefore {
		if d < time.Minute || d > maxLifetime {
			e.Add("alert_before_seconds", "each must be from one minute to 825 days")
		}
	}
	slices.SortFunc(p.AlertBefore, func(a, b time.Duration) int { return int(b - a) })
	p.AlertBefore = slices.Compact(p.AlertBefore)
	return e.Err()
}

// DeleteProfile removes profile id, refusing the default and profiles in use.
func (s *Service) DeleteProfile(ctx context.Context, id string) error {
	return s.deleteConfig(ctx, "profile", id, DefaultProfile, func(q store.Queries) error {
		return q.DeleteProfile(ctx, id)
	})
}

// DeletePolicy removes renewal policy id, refusing the default and policies in use.
func (s *Service) DeletePolicy(ctx context.Context, id string) error {
	return s.deleteConfig(ctx, "renewal_policy", id, DefaultPolicy, func(q store.Queries) error {
		return q.DeleteRenewalPolicy(ctx, id)
	})
}

func (s *Service) deleteConfig(ctx context.Context, kind, id, def string,
	del func(q store.Queries) error) error {
	if id == def {
		return &valid.Conflict{Message: "the default " + strings.ReplaceAll(kind, "_", " ") +
			" cannot be deleted; new certificates fall back to it"}
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := del(q); err != nil {
			return conflictOr(err, "id", "certificates still use this "+
				strings.ReplaceAll(kind, "_", " ")+"; move them to another first")
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), kind+".delete", kind, id, nil))
	})
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", kind, id, err)
	}
	return nil
}

// conflictOr turns a store conflict into a conflict naming field.
func conflictOr(err error, field, msg string) error {
	if errors.Is(err, store.ErrConflict) {
		return &valid.Conflict{Message: msg, Fields: map[string]string{field: "is taken"}}
	}
	return err
}
