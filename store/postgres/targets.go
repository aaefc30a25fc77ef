package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const targetColumns = `id, agent_id, name, type, config, secrets_sealed, created_at,
	updated_at`

func scanTarget(row pgx.Row) (store.Target, error) {
	var t store.Target
	var config []byte
	err := row.Scan(&t.ID, &t.AgentID, &t.Name, &t.Type, &config, &t.SecretsSealed,
		&t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return store.Target{}, translate(err)
	}
	t.Config = config
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// targetWhere builds the filter; its placeholders continue after args.
func targetWhere(f store.TargetFilter, args []any) (string, []any) {
	var conds []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.AgentID != "" {
		add(`agent_id = $%d`, f.AgentID)
	}
	if f.CertificateID != "" {
		add(`id IN (SELECT target_id FROM certificate_targets WHERE certificate_id = $%d)`,
			f.CertificateID)
	}
	if f.Type != "" {
		add(`type = $%d`, f.Type)
	}
	if len(conds) == 0 {
		return ` WHERE TRUE`, args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// ListTargets implements store.TargetQueries.
func (q queries) ListTargets(ctx context.Context, f store.TargetFilter,
	p store.Page) ([]store.Target, string, error) {
	where, args := targetWhere(f, []any{p.Limit, p.Offset})
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		args = append(args, k[0], k[1])
		where += fmt.Sprintf(` AND (lower(name), id) > (lower($%d), $%d)`, len(args)-1,
			len(args))
	}
	rows, err := q.db.Query(ctx, `SELECT `+targetColumns+` FROM targets`+where+
		` ORDER BY lower(name), id LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list targets: %w", translate(err))
	}
	targets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Target, error) {
		return scanTarget(r)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list targets: %w", translate(err))
	}
	next := ""
	if n := len(targets); n > 0 && n == p.Limit {
		next = store.EncodeKey(targets[n-1].Name, targets[n-1].ID)
	}
	return targets, next, nil
}

// CountTargets implements store.TargetQueries.
func (q queries) CountTargets(ctx context.Context, f store.TargetFilter) (int, error) {
	where, args := targetWhere(f, nil)
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM targets`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count targets: %w", translate(err))
	}
	return n, nil
}

// GetTarget implements store.TargetQueries.
func (q queries) GetTarget(ctx context.Context, id string) (store.Target, error) {
	t, err := scanTarget(q.db.QueryRow(ctx,
		`SELECT `+targetColumns+` FROM targets WHERE id = $1`, id))
	if err != nil {
		return store.Target{}, fmt.Errorf("get target %s: %w", id, err)
	}
	return t, nil
}

// CreateTarget implements store.TargetQueries.
func (q queries) CreateTarget(ctx context.Context, t store.Target) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO targets (`+targetColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.AgentID, t.Name, t.Type, jsonObject(t.Config), nullBytes(t.SecretsSealed),
		t.CreatedAt.UTC(), t.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create target: %w", translate(err))
	}
	return nil
}

// UpdateTarget implements store.TargetQueries.
func (q queries) UpdateTarget(ctx context.Context, t store.Target) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE targets SET name = $1, type = $2, config = $3, secrets_sealed = $4,
		 updated_at = $5 WHERE id = $6`,
		t.Name, t.Type, jsonObject(t.Config), nullBytes(t.SecretsSealed), t.UpdatedAt.UTC(),
		t.ID)
	return affected("update target "+t.ID, tag, err)
}

// DeleteTarget implements store.TargetQueries. The database removes the target's mappings
// and its deployment jobs with it.
func (q queries) DeleteTarget(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM targets WHERE id = $1`, id)
	return affected("delete target "+id, tag, err)
}

// SetCertificateTargets implements store.TargetQueries. It is one statement, so a refused
// mapping leaves the old one whole; mappings that stay are left alone, so only a real
// change bumps an agent's work version.
func (q queries) SetCertificateTargets(ctx context.Context, certificateID string,
	targetIDs []string) error {
	ids := append([]string{}, targetIDs...) // never nil: a NULL array would match nothing
	slices.Sort(ids)
	ids = slices.Compact(ids)
	_, err := q.db.Exec(ctx,
		`WITH gone AS (
		     DELETE FROM certificate_targets
		     WHERE certificate_id = $1 AND NOT (target_id = ANY ($2::text[])))
		 INSERT INTO certificate_targets (certificate_id, target_id)
		 SELECT $1, t FROM unnest($2::text[]) AS t
		 ON CONFLICT DO NOTHING`, certificateID, ids)
	if err != nil {
		return fmt.Errorf("set targets of certificate %s: %w", certificateID, translate(err))
	}
	return nil
}

// CertificateTargetIDs implements store.TargetQueries.
func (q queries) CertificateTargetIDs(ctx context.Context, certificateID string) ([]string,
	error) {
	rows, err := q.db.Query(ctx, `SELECT target_id FROM certificate_targets
		WHERE certificate_id = $1 ORDER BY target_id`, certificateID)
	return collectIDs("targets of certificate "+certificateID, rows, err)
}

// TargetCertificateIDs implements store.TargetQueries.
func (q queries) TargetCertificateIDs(ctx context.Context, targetID string) ([]string,
	error) {
	rows, err := q.db.Query(ctx, `SELECT certificate_id FROM certificate_targets
		WHERE target_id = $1 ORDER BY certificate_id`, targetID)
	return collectIDs("certificates of target "+targetID, rows, err)
}

// collectIDs reads a one-column result of IDs.
func collectIDs(step string, rows pgx.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}

// ListVerificationDue implements store.TargetQueries.
func (q queries) ListVerificationDue(ctx context.Context, before time.Time, limit int) (
	[]store.CertificateTarget, error) {
	rows, err := q.db.Query(ctx, `SELECT ct.certificate_id, ct.target_id
		FROM certificate_targets ct
		JOIN targets t ON t.id = ct.target_id
		JOIN certificates c ON c.id = ct.certificate_id
		WHERE t.config ? 'verify'
		  AND c.current_version_id IS NOT NULL AND c.current_version_id <> ''
		  AND c.status NOT IN ('Revoked', 'Archived')
		  AND EXISTS (SELECT 1 FROM jobs j WHERE j.target_id = ct.target_id
		              AND j.certificate_id = ct.certificate_id AND j.type = 'Deployment'
		              AND j.status = 'Completed')
		  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.target_id = ct.target_id
		              AND j.certificate_id = ct.certificate_id AND j.type = 'Deployment'
		              AND (j.status IN ('Pending', 'Running')
		                   OR (j.status = 'Failed' AND j.attempts < j.max_attempts)
		                   OR j.finished_at >= $1))
		ORDER BY ct.certificate_id, ct.target_id LIMIT $2`, before.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("list deployments due for verification: %w", translate(err))
	}
	defer rows.Close()
	var out []store.CertificateTarget
	for rows.Next() {
		var m store.CertificateTarget
		if err := rows.Scan(&m.CertificateID, &m.TargetID); err != nil {
			return nil, fmt.Errorf("list deployments due for verification: %w", translate(err))
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list deployments due for verification: %w", translate(err))
	}
	return out, nil
}
