package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const profileColumns = `id, name, description, key_types, max_lifetime_seconds,
	ext_key_usages, san_patterns, allow_ip, allow_email, allow_uri, must_staple, approval,
	created_at, updated_at`

func scanProfile(row pgx.Row) (store.Profile, error) {
	var p store.Profile
	var keyTypes, usages, patterns []byte
	var lifetime int64
	err := row.Scan(&p.ID, &p.Name, &p.Description, &keyTypes, &lifetime, &usages, &patterns,
		&p.AllowIP, &p.AllowEmail, &p.AllowURI, &p.MustStaple, &p.Approval, &p.CreatedAt,
		&p.UpdatedAt)
	if err != nil {
		return store.Profile{}, translate(err)
	}
	if p.KeyTypes, err = fromJSONList(keyTypes); err != nil {
		return store.Profile{}, fmt.Errorf("key types: %w", err)
	}
	if p.ExtKeyUsages, err = fromJSONList(usages); err != nil {
		return store.Profile{}, fmt.Errorf("extended key usages: %w", err)
	}
	if p.SANPatterns, err = fromJSONList(patterns); err != nil {
		return store.Profile{}, fmt.Errorf("SAN patterns: %w", err)
	}
	p.MaxLifetime = time.Duration(lifetime) * time.Second
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// ListProfiles implements store.ProfileQueries.
func (q queries) ListProfiles(ctx context.Context) ([]store.Profile, error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+profileColumns+` FROM profiles ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", translate(err))
	}
	profiles, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Profile, error) {
		return scanProfile(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", translate(err))
	}
	return profiles, nil
}

// GetProfile implements store.ProfileQueries.
func (q queries) GetProfile(ctx context.Context, id string) (store.Profile, error) {
	p, err := scanProfile(q.db.QueryRow(ctx,
		`SELECT `+profileColumns+` FROM profiles WHERE id = $1`, id))
	if err != nil {
		return store.Profile{}, fmt.Errorf("get profile %s: %w", id, err)
	}
	return p, nil
}

// CreateProfile implements store.ProfileQueries.
func (q queries) CreateProfile(ctx context.Context, p store.Profile) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO profiles (`+profileColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		p.ID, p.Name, p.Description, jsonList(p.KeyTypes), int64(p.MaxLifetime/time.Second),
		jsonList(p.ExtKeyUsages), jsonList(p.SANPatterns), p.AllowIP, p.AllowEmail, p.AllowURI,
		p.MustStaple, p.Approval, p.CreatedAt.UTC(), p.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create profile: %w", translate(err))
	}
	return nil
}

// UpdateProfile implements store.ProfileQueries.
func (q queries) UpdateProfile(ctx context.Context, p store.Profile) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE profiles SET name = $1, description = $2, key_types = $3,
		 max_lifetime_seconds = $4, ext_key_usages = $5, san_patterns = $6, allow_ip = $7,
		 allow_email = $8, allow_uri = $9, must_staple = $10, approval = $11, updated_at = $12
		 WHERE id = $13`,
		p.Name, p.Description, jsonList(p.KeyTypes), int64(p.MaxLifetime/time.Second),
		jsonList(p.ExtKeyUsages), jsonList(p.SANPatterns), p.AllowIP, p.AllowEmail, p.AllowURI,
		p.MustStaple, p.Approval, p.UpdatedAt.UTC(), p.ID)
	return affected("update profile "+p.ID, tag, err)
}

const renewalPolicyColumns = `id, name, renew_fraction, renew_before_seconds, max_attempts,
	retry_backoff_seconds, alert_before_seconds, created_at, updated_at`

func scanRenewalPolicy(row pgx.Row) (store.RenewalPolicy, error) {
	var p store.RenewalPolicy
	var before, backoff int64
	var alerts []int64
	err := row.Scan(&p.ID, &p.Name, &p.RenewFraction, &before, &p.MaxAttempts, &backoff,
		&alerts, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return store.RenewalPolicy{}, translate(err)
	}
	for _, n := range alerts {
		p.AlertBefore = append(p.AlertBefore, time.Duration(n)*time.Second)
	}
	p.RenewBefore = time.Duration(before) * time.Second
	p.RetryBackoff = time.Duration(backoff) * time.Second
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}

// ListRenewalPolicies implements store.ProfileQueries.
func (q queries) ListRenewalPolicies(ctx context.Context) ([]store.RenewalPolicy, error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+renewalPolicyColumns+` FROM renewal_policies ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list renewal policies: %w", translate(err))
	}
	policies, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.RenewalPolicy, error) {
			return scanRenewalPolicy(r)
		})
	if err != nil {
		return nil, fmt.Errorf("list renewal policies: %w", translate(err))
	}
	return policies, nil
}

// GetRenewalPolicy implements store.ProfileQueries.
func (q queries) GetRenewalPolicy(ctx context.Context, id string) (store.RenewalPolicy,
	error) {
	p, err := scanRenewalPolicy(q.db.QueryRow(ctx,
		`SELECT `+renewalPolicyColumns+` FROM renewal_policies WHERE id = $1`, id))
	if err != nil {
		return store.RenewalPolicy{}, fmt.Errorf("get renewal policy %s: %w", id, err)
	}
	return p, nil
}

// CreateRenewalPolicy implements store.ProfileQueries.
func (q queries) CreateRenewalPolicy(ctx context.Context, p store.RenewalPolicy) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO renewal_policies (`+renewalPolicyColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.Name, p.RenewFraction, int64(p.RenewBefore/time.Second), p.MaxAttempts,
		int64(p.RetryBackoff/time.Second), seconds(p.AlertBefore), p.CreatedAt.UTC(),
		p.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create renewal policy: %w", translate(err))
	}
	return nil
}

// UpdateRenewalPolicy implements store.ProfileQueries.
func (q queries) UpdateRenewalPolicy(ctx context.Context, p store.RenewalPolicy) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE renewal_policies SET name = $1, renew_fraction = $2, renew_before_seconds = $3,
		 max_attempts = $4, retry_backoff_seconds = $5, alert_before_seconds = $6,
		 updated_at = $7 WHERE id = $8`,
		p.Name, p.RenewFraction, int64(p.RenewBefore/time.Second), p.MaxAttempts,
		int64(p.RetryBackoff/time.Second), seconds(p.AlertBefore), p.UpdatedAt.UTC(), p.ID)
	return affected("update renewal policy "+p.ID, tag, err)
}

// DeleteProfile implements store.ProfileQueries.
func (q queries) DeleteProfile(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM profiles WHERE id = $1`, id)
	return affected("delete profile "+id, tag, err)
}

// DeleteRenewalPolicy implements store.ProfileQueries.
func (q queries) DeleteRenewalPolicy(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM renewal_policies WHERE id = $1`, id)
	return affected("delete renewal policy "+id, tag, err)
}

// seconds stores durations as a JSON list of whole seconds.
func seconds(ds []time.Duration) string {
	secs := make([]int64, len(ds))
	for i, d := range ds {
		secs[i] = int64(d / time.Second)
	}
	b, _ := json.Marshal(secs)
	return string(b)
}
