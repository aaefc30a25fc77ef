package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"certctl/store"
)

// fmtList stores a string list as a JSON array; nil and empty lists both become `[]`.
func fmtList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// parseList reads a list stored by fmtList; an empty list comes back nil.
func parseList(s string) ([]string, error) {
	var l []string
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func fmtSeconds(d time.Duration) int64 { return int64(d / time.Second) }

func parseSeconds(n int64) time.Duration { return time.Duration(n) * time.Second }

const profileColumns = `id, name, description, key_types, max_lifetime_seconds,
	ext_key_usages, san_patterns, allow_ip, allow_email, allow_uri, must_staple, approval,
	created_at, updated_at`

func scanProfile(row interface{ Scan(...any) error }) (store.Profile, error) {
	var p store.Profile
	var keyTypes, usages, patterns, created, updated string
	var lifetime int64
	err := row.Scan(&p.ID, &p.Name, &p.Description, &keyTypes, &lifetime, &usages, &patterns,
		&p.AllowIP, &p.AllowEmail, &p.AllowURI, &p.MustStaple, &p.Approval, &created, &updated)
	if err != nil {
		return store.Profile{}, translate(err)
	}
	p.MaxLifetime = parseSeconds(lifetime)
	if p.KeyTypes, err = parseList(keyTypes); err != nil {
		return store.Profile{}, err
	}
	if p.ExtKeyUsages, err = parseList(usages); err != nil {
		return store.Profile{}, err
	}
	if p.SANPatterns, err = parseList(patterns); err != nil {
		return store.Profile{}, err
	}
	if p.CreatedAt, err = parseTime(created); err != nil {
		return store.Profile{}, err
	}
	p.UpdatedAt, err = parseTime(updated)
	return p, err
}

// ListProfiles implements store.ProfileQueries.
func (q queries) ListProfiles(ctx context.Context) ([]store.Profile, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+profileColumns+` FROM profiles ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", translate(err))
	}
	defer rows.Close()
	var profiles []store.Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		profiles = append(profiles, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", translate(err))
	}
	return profiles, nil
}

// GetProfile implements store.ProfileQueries.
func (q queries) GetProfile(ctx context.Context, id string) (store.Profile, error) {
	p, err := scanProfile(q.r.QueryRowContext(ctx,
		`SELECT `+profileColumns+` FROM profiles WHERE id = ?`, id))
	if err != nil {
		return store.Profile{}, fmt.Errorf("get profile %s: %w", id, err)
	}
	return p, nil
}

// CreateProfile implements store.ProfileQueries.
func (q queries) CreateProfile(ctx context.Context, p store.Profile) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO profiles (`+profileColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Description, fmtList(p.KeyTypes), fmtSeconds(p.MaxLifetime),
		fmtList(p.ExtKeyUsages), fmtList(p.SANPatterns), p.AllowIP, p.AllowEmail, p.AllowURI,
		p.MustStaple, p.Approval, fmtTime(p.CreatedAt), fmtTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create profile: %w", translate(err))
	}
	return nil
}

// UpdateProfile implements store.ProfileQueries.
func (q queries) UpdateProfile(ctx context.Context, p store.Profile) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE profiles SET name = ?, description = ?, key_types = ?,
		 max_lifetime_seconds = ?, ext_key_usages = ?, san_patterns = ?, allow_ip = ?,
		 allow_email = ?, allow_uri = ?, must_staple = ?, approval = ?, updated_at = ?
		 WHERE id = ?`,
		p.Name, p.Description, fmtList(p.KeyTypes), fmtSeconds(p.MaxLifetime),
		fmtList(p.ExtKeyUsages), fmtList(p.SANPatterns), p.AllowIP, p.AllowEmail, p.AllowURI,
		p.MustStaple, p.Approval, fmtTime(p.UpdatedAt), p.ID)
	return affected("update profile "+p.ID, res, err)
}

const policyColumns = `id, name, renew_fraction, renew_before_seconds, max_attempts,
	retry_backoff_seconds, alert_before_seconds, created_at, updated_at`

func scanPolicy(row interface{ Scan(...any) error }) (store.RenewalPolicy, error) {
	var p store.RenewalPolicy
	var before, backoff int64
	var alerts, created, updated string
	err := row.Scan(&p.ID, &p.Name, &p.RenewFraction, &before, &p.MaxAttempts, &backoff,
		&alerts, &created, &updated)
	if err != nil {
		return store.RenewalPolicy{}, translate(err)
	}
	p.RenewBefore, p.RetryBackoff = parseSeconds(before), parseSeconds(backoff)
	if p.AlertBefore, err = parseDurations(alerts); err != nil {
		return store.RenewalPolicy{}, err
	}
	if p.CreatedAt, err = parseTime(created); err != nil {
		return store.RenewalPolicy{}, err
	}
	p.UpdatedAt, err = parseTime(updated)
	return p, err
}

// ListRenewalPolicies implements store.ProfileQueries.
func (q queries) ListRenewalPolicies(ctx context.Context) ([]store.RenewalPolicy, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+policyColumns+` FROM renewal_policies ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list renewal policies: %w", translate(err))
	}
	defer rows.Close()
	var policies []store.RenewalPolicy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("list renewal policies: %w", err)
		}
		policies = append(policies, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list renewal policies: %w", translate(err))
	}
	return policies, nil
}

// GetRenewalPolicy implements store.ProfileQueries.
func (q queries) GetRenewalPolicy(ctx context.Context, id string) (store.RenewalPolicy,
	error) {
	p, err := scanPolicy(q.r.QueryRowContext(ctx,
		`SELECT `+policyColumns+` FROM renewal_policies WHERE id = ?`, id))
	if err != nil {
		return store.RenewalPolicy{}, fmt.Errorf("get renewal policy %s: %w", id, err)
	}
	return p, nil
}

// CreateRenewalPolicy implements store.ProfileQueries.
func (q queries) CreateRenewalPolicy(ctx context.Context, p store.RenewalPolicy) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO renewal_policies (`+policyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.RenewFraction, fmtSeconds(p.RenewBefore), p.MaxAttempts,
		fmtSeconds(p.RetryBackoff), fmtDurations(p.AlertBefore), fmtTime(p.CreatedAt),
		fmtTime(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create renewal policy: %w", translate(err))
	}
	return nil
}

// UpdateRenewalPolicy implements store.ProfileQueries.
func (q queries) UpdateRenewalPolicy(ctx context.Context, p store.RenewalPolicy) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE renewal_policies SET name = ?, renew_fraction = ?, renew_before_seconds = ?,
		 max_attempts = ?, retry_backoff_seconds = ?, alert_before_seconds = ?, updated_at = ?
		 WHERE id = ?`,
		p.Name, p.RenewFraction, fmtSeconds(p.RenewBefore), p.MaxAttempts,
		fmtSeconds(p.RetryBackoff), fmtDurations(p.AlertBefore), fmtTime(p.UpdatedAt), p.ID)
	return affected("update renewal policy "+p.ID, res, err)
}

// DeleteProfile implements store.ProfileQueries.
func (q queries) DeleteProfile(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM profiles WHERE id = ?`, id)
	return affected("delete profile "+id, res, err)
}

// DeleteRenewalPolicy implements store.ProfileQueries.
func (q queries) DeleteRenewalPolicy(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM renewal_policies WHERE id = ?`, id)
	return affected("delete renewal policy "+id, res, err)
}

// fmtDurations stores durations as a JSON list of whole seconds.
func fmtDurations(ds []time.Duration) string {
	secs := make([]int64, len(ds))
	for i, d := range ds {
		secs[i] = int64(d / time.Second)
	}
	b, _ := json.Marshal(secs)
	return string(b)
}

func parseDurations(s string) ([]time.Duration, error) {
	var secs []int64
	if err := json.Unmarshal([]byte(s), &secs); err != nil {
		return nil, fmt.Errorf("stored durations %q: %w", s, err)
	}
	var out []time.Duration
	for _, n := range secs {
		out = append(out, time.Duration(n)*time.Second)
	}
	return out, nil
}
