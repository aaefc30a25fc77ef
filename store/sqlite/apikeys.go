package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"certctl/store"
)

const apiKeyColumns = `id, name, role, hash, prefix, created_by, created_at, last_used_at,
	revoked_at`

func scanAPIKey(row interface{ Scan(...any) error }) (store.APIKey, error) {
	var k store.APIKey
	var created string
	var used, revoked sql.NullString
	err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.Prefix, &k.CreatedBy, &created,
		&used, &revoked)
	if err != nil {
		return store.APIKey{}, translate(err)
	}
	if k.CreatedAt, err = parseTime(created); err != nil {
		return store.APIKey{}, err
	}
	if k.LastUsedAt, err = parseNullTime(used); err != nil {
		return store.APIKey{}, err
	}
	k.RevokedAt, err = parseNullTime(revoked)
	return k, err
}

// ListAPIKeys implements store.APIKeyQueries.
func (q queries) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := q.r.QueryContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", translate(err))
	}
	defer rows.Close()
	var keys []store.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("list api keys: %w", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api keys: %w", translate(err))
	}
	return keys, nil
}

// GetAPIKey implements store.APIKeyQueries.
func (q queries) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanAPIKey(q.r.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// GetAPIKeyByHash implements store.APIKeyQueries.
func (q queries) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	k, err := scanAPIKey(q.r.QueryRowContext(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`, hash))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("find api key: %w", err)
	}
	return k, nil
}

// CreateAPIKey implements store.APIKeyQueries.
func (q queries) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Name, k.Role, k.Hash, k.Prefix, k.CreatedBy, fmtTime(k.CreatedAt),
		fmtNullTime(k.LastUsedAt), fmtNullTime(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("create api key: %w", translate(err))
	}
	return nil
}

// RevokeAPIKey implements store.APIKeyQueries.
func (q queries) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		fmtTime(at), id)
	return affected("revoke api key "+id, res, err)
}

// TouchAPIKey implements store.APIKeyQueries.
func (q queries) TouchAPIKey(ctx context.Context, id string, at time.Time,
	every time.Duration) error {
	_, err := q.w.ExecContext(ctx,
		`UPDATE api_keys SET last_used_at = ?
		 WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
		fmtTime(at), id, fmtTime(at.Add(-every)))
	if err != nil {
		return fmt.Errorf("record api key use: %w", translate(err))
	}
	return nil
}
