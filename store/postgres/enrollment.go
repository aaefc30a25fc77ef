package postgres

import (
	"context"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const tokenColumns = `id, hash, prefix, name, created_by, created_at, expires_at, used_at,
	agent_id`

func scanToken(row pgx.Row) (store.EnrollmentToken, error) {
	var t store.EnrollmentToken
	var expires, used *time.Time
	var agent *string
	err := row.Scan(&t.ID, &t.Hash, &t.Prefix, &t.Name, &t.CreatedBy, &t.CreatedAt, &expires,
		&used, &agent)
	if err != nil {
		return store.EnrollmentToken{}, translate(err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.UsedAt = fromNullTime(expires), fromNullTime(used)
	t.AgentID = fromNullString(agent)
	return t, nil
}

// CreateEnrollmentToken implements store.AgentQueries. A zero ExpiresAt is kept as NULL:
// the token never expires.
func (q queries) CreateEnrollmentToken(ctx context.Context, t store.EnrollmentToken) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO enrollment_tokens (`+tokenColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Hash, t.Prefix, t.Name, t.CreatedBy, t.CreatedAt.UTC(), nullTime(t.ExpiresAt),
		nullTime(t.UsedAt), nullString(t.AgentID))
	if err != nil {
		return fmt.Errorf("create enrollment token: %w", translate(err))
	}
	return nil
}

// ListEnrollmentTokens implements store.AgentQueries.
func (q queries) ListEnrollmentTokens(ctx context.Context) ([]store.EnrollmentToken, error) {
	rows, err := q.db.Query(ctx, `SELECT `+tokenColumns+` FROM enrollment_tokens
		ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", translate(err))
	}
	tokens, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.EnrollmentToken, error) {
			return scanToken(r)
		})
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", translate(err))
	}
	return tokens, nil
}

// GetEnrollmentTokenByHash implements store.AgentQueries.
func (q queries) GetEnrollmentTokenByHash(ctx context.Context,
	hash []byte) (store.EnrollmentToken, error) {
	t, err := scanToken(q.db.QueryRow(ctx,
		`SELECT `+tokenColumns+` FROM enrollment_tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.EnrollmentToken{}, fmt.Errorf("find enrollment token: %w", err)
	}
	return t, nil
}

// UseEnrollmentToken implements store.AgentQueries. The check and the mark are one
// statement: a second caller waits for the first one's row lock and then, re-checking the
// row, finds it used.
func (q queries) UseEnrollmentToken(ctx context.Context, id, agentID string,
	at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE enrollment_tokens SET used_at = $1, agent_id = $2
		 WHERE id = $3 AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $1)`,
		at.UTC(), nullString(agentID), id)
	return affected("use enrollment token "+id, tag, err)
}

// DeleteEnrollmentToken implements store.AgentQueries; ErrNotFound when the token is missing
// or used.
func (q queries) DeleteEnrollmentToken(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx,
		`DELETE FROM enrollment_tokens WHERE id = $1 AND used_at IS NULL`, id)
	return affected("delete enrollment token "+id, tag, err)
}
