package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"certctl/store"
)

const tokenColumns = `id, hash, prefix, name, created_by, created_at, expires_at, used_at,
	agent_id`

func scanToken(row interface{ Scan(...any) error }) (store.EnrollmentToken, error) {
	var t store.EnrollmentToken
	var created string
	var expires, used, agent sql.NullString
	err := row.Scan(&t.ID, &t.Hash, &t.Prefix, &t.Name, &t.CreatedBy, &created, &expires,
		&used, &agent)
	if err != nil {
		return store.EnrollmentToken{}, translate(err)
	}
	t.AgentID = agent.String
	if t.CreatedAt, err = parseTime(created); err != nil {
		return store.EnrollmentToken{}, err
	}
	if t.ExpiresAt, err = parseNullTime(expires); err != nil {
		return store.EnrollmentToken{}, err
	}
	t.UsedAt, err = parseNullTime(used)
	return t, err
}

// CreateEnrollmentToken implements store.AgentQueries. A zero ExpiresAt is kept as NULL:
// the token never expires.
func (q queries) CreateEnrollmentToken(ctx context.Context, t store.EnrollmentToken) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO enrollment_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Prefix, t.Name, t.CreatedBy, fmtTime(t.CreatedAt),
		fmtNullTime(t.ExpiresAt), fmtNullTime(t.UsedAt), nullString(t.AgentID))
	if err != nil {
		return fmt.Errorf("create enrollment token: %w", translate(err))
	}
	return nil
}

// ListEnrollmentTokens implements store.AgentQueries.
func (q queries) ListEnrollmentTokens(ctx context.Context) ([]store.EnrollmentToken, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+tokenColumns+` FROM enrollment_tokens
		ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", translate(err))
	}
	defer rows.Close()
	var tokens []store.EnrollmentToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list enrollment tokens: %w", err)
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list enrollment tokens: %w", translate(err))
	}
	return tokens, nil
}

// GetEnrollmentTokenByHash implements store.AgentQueries.
func (q queries) GetEnrollmentTokenByHash(ctx context.Context,
	hash []byte) (store.EnrollmentToken, error) {
	t, err := scanToken(q.r.QueryRowContext(ctx,
		`SELECT `+tokenColumns+` FROM enrollment_tokens WHERE hash = ?`, hash))
	if err != nil {
		return store.EnrollmentToken{}, fmt.Errorf("find enrollment token: %w", err)
	}
	return t, nil
}

// UseEnrollmentToken implements store.AgentQueries. The check and the mark are one
// statement, so of two callers only the first finds the token unused.
func (q queries) UseEnrollmentToken(ctx context.Context, id, agentID string,
	at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE enrollment_tokens SET used_at = ?, agent_id = ?
		 WHERE id = ? AND used_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`,
		fmtTime(at), nullString(agentID), id, fmtTime(at))
	return affected("use enrollment token "+id, res, err)
}

// DeleteEnrollmentToken implements store.AgentQueries; ErrNotFound when the token is missing
// or used.
func (q queries) DeleteEnrollmentToken(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx,
		`DELETE FROM enrollment_tokens WHERE id = ? AND used_at IS NULL`, id)
	return affected("delete enrollment token "+id, res, err)
}
