package postgres

import (
	"context"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const apiKeyColumns = `id, name, role, hash, prefix, created_by, created_at, last_used_at,
	revoked_at`

// keyTimeFormat writes times into keyset positions with full precision.
const keyTimeFormat = time.RFC3339Nano

func parseKeyTime(s string) (time.Time, error) {
	t, err := time.Parse(keyTimeFormat, s)
	if err != nil {
		return time.Time{}, store.ErrBadCursor
	}
	return t, nil
}

func scanAPIKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var used, revoked *time.Time
	err := row.Scan(&k.ID, &k.Name, &k.Role, &k.Hash, &k.Prefix, &k.CreatedBy, &k.CreatedAt,
		&used, &revoked)
	if err != nil {
		return store.APIKey{}, translate(err)
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt, k.RevokedAt = fromNullTime(used), fromNullTime(revoked)
	return k, nil
}

// ListAPIKeys implements store.APIKeyQueries.
func (q queries) ListAPIKeys(ctx context.Context) ([]store.APIKey, error) {
	rows, err := q.db.Query(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", translate(err))
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIKey, error) {
		return scanAPIKey(r)
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", translate(err))
	}
	return keys, nil
}

// GetAPIKey implements store.APIKeyQueries.
func (q queries) GetAPIKey(ctx context.Context, id string) (store.APIKey, error) {
	k, err := scanAPIKey(q.db.QueryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// GetAPIKeyByHash implements store.APIKeyQueries.
func (q queries) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	k, err := scanAPIKey(q.db.QueryRow(ctx,
		`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("find api key: %w", err)
	}
	return k, nil
}

// CreateAPIKey implements store.APIKeyQueries.
func (q queries) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Name, k.Role, k.Hash, k.Prefix, k.CreatedBy, k.CreatedAt.UTC(),
		nullTime(k.LastUsedAt), nullTime(k.RevokedAt))
	if err != nil {
		return fmt.Errorf("create api key: %w", translate(err))
	}
	return nil
}

// RevokeAPIKey implements store.APIKeyQueries.
func (q queries) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
		at.UTC(), id)
	return affected("revoke api key "+id, tag, err)
}

// TouchAPIKey implements store.APIKeyQueries.
func (q queries) TouchAPIKey(ctx context.Context, id string, at time.Time,
	every time.Duration) error {
	_, err := q.db.Exec(ctx,
		`UPDATE api_keys SET last_used_at = $1
		 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`,
		at.UTC(), id, at.Add(-every).UTC())
	if err != nil {
		return fmt.Errorf("record api key use: %w", translate(err))
	}
	return nil
}
