package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"certctl/store"
)

const targetColumns = `id, agent_id, name, type, config, secrets_sealed, created_at,
	updated_at`

func scanTarget(row interface{ Scan(...any) error }) (store.Target, error) {
	var t store.Target
	var config, created, updated string
	err := row.Scan(&t.ID, &t.AgentID, &t.Name, &t.Type, &config, &t.SecretsSealed, &created,
		&updated)
	if err != nil {
		return store.Target{}, translate(err)
	}
	t.Config = []byte(config)
	if t.CreatedAt, err = parseTime(created); err != nil {
		return store.Target{}, err
	}
	t.UpdatedAt, err = parseTime(updated)
	return t, err
}

func targetWhere(f store.TargetFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.AgentID != "" {
		add(`agent_id = ?`, f.AgentID)
	}
	if f.CertificateID != "" {
		add(`id IN (SELECT target_id FROM certificate_targets WHERE certificate_id = ?)`,
			f.CertificateID)
	}
	if f.Type != "" {
		add(`type = ?`, f.Type)
	}
	if len(conds) == 0 {
		return ` WHERE 1 = 1`, nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// ListTargets implements store.TargetQueries.
func (q queries) ListTargets(ctx context.Context, f store.TargetFilter,
	p store.Page) ([]store.Target, string, error) {
	where, args := targetWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (lower(name), id) > (lower(?), ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+targetColumns+` FROM targets`+where+
		` ORDER BY lower(name), id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list targets: %w", translate(err))
	}
	defer rows.Close()
	var targets []store.Target
	for rows.Next() {
		t, err := scanTarget(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list targets: %w", err)
		}
		targets = append(targets, t)
	}
	if err := rows.Err(); err != nil {
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
	where, args := targetWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM targets`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count targets: %w", translate(err))
	}
	return n, nil
}

// GetTarget implements store.TargetQueries.
func (q queries) GetTarget(ctx context.Context, id string) (store.Target, error) {
	t, err := scanTarget(q.r.QueryRowContext(ctx,
		`SELECT `+targetColumns+` FROM targets WHERE id = ?`, id))
	if err != nil {
		return store.Target{}, fmt.Errorf("get target %s: %w", id, err)
	}
	return t, nil
}

// CreateTarget implements store.TargetQueries.
func (q queries) CreateTarget(ctx context.Context, t store.Target) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO targets (`+targetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.AgentID, t.Name, t.Type, jsonObject(t.Config), nullBytes(t.SecretsSealed),
		fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create target: %w", translate(err))
	}
	return nil
}

// UpdateTarget implements store.TargetQueries.
func (q queries) UpdateTarget(ctx context.Context, t store.Target) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE targets SET name = ?, type = ?, config = ?, secrets_sealed = ?, updated_at = ?
		 WHERE id = ?`,
		t.Name, t.Type, jsonObject(t.Config), nullBytes(t.SecretsSealed),
		fmtTime(t.UpdatedAt), t.ID)
	return affected("update target "+t.ID, res, err)
}

// DeleteTarget implements store.TargetQueries. The database removes the target's mappings
// and its deployment jobs with it.
func (q queries) DeleteTarget(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM targets WHERE id = ?`, id)
	return affected("delete target "+id, res, err)
}

// SetCertificateTargets implements store.TargetQueries. Mappings that stay are left alone,
// so only a real change bumps an agent's work version. The statements run in a
// transaction of their own, or under a savepoint of the caller's, so a refused mapping
// leaves the old one whole.
func (q queries) SetCertificateTargets(ctx context.Context, certificateID string,
	targetIDs []string) error {
	ids := slices.Clone(targetIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list := fmtList(ids)
	err := q.atomically(ctx, func(q queries) error {
		_, err := q.w.ExecContext(ctx,
			`DELETE FROM certificate_targets WHERE certificate_id = ?
			 AND target_id NOT IN (SELECT value FROM json_each(?))`, certificateID, list)
		if err != nil {
			return err
		}
		_, err = q.w.ExecContext(ctx,
			`INSERT OR IGNORE INTO certificate_targets (certificate_id, target_id)
			 SELECT ?, value FROM json_each(?)`, certificateID, list)
		return err
	})
	if err != nil {
		return fmt.Errorf("set targets of certificate %s: %w", certificateID, translate(err))
	}
	return nil
}

// atomically runs fn in a transaction of its own, or, inside the caller's transaction,
// under a savepoint that is rolled back when fn fails. SQLite keeps a transaction going
// after a failed statement, so without the savepoint a caller could commit half of fn.
func (q queries) atomically(ctx context.Context, fn func(q queries) error) error {
	c, ok := q.w.(*stmtCache)
	if !ok {
		return q.underSavepoint(ctx, fn)
	}
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(queries{r: tx, w: tx}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (q queries) underSavepoint(ctx context.Context, fn func(q queries) error) error {
	if _, err := q.w.ExecContext(ctx, `SAVEPOINT atomically`); err != nil {
		return err
	}
	if err := fn(q); err != nil {
		_, rerr := q.w.ExecContext(ctx, `ROLLBACK TO atomically`)
		if rerr == nil {
			_, rerr = q.w.ExecContext(ctx, `RELEASE atomically`)
		}
		if rerr != nil {
			return fmt.Errorf("%w (and undo: %w)", err, rerr)
		}
		return err
	}
	_, err := q.w.ExecContext(ctx, `RELEASE atomically`)
	return err
}

// CertificateTargetIDs implements store.TargetQueries.
func (q queries) CertificateTargetIDs(ctx context.Context, certificateID string) ([]string,
	error) {
	rows, err := q.r.QueryContext(ctx, `SELECT target_id FROM certificate_targets
		WHERE certificate_id = ? ORDER BY target_id`, certificateID)
	return collectIDs("targets of certificate "+certificateID, rows, err)
}

// TargetCertificateIDs implements store.TargetQueries.
func (q queries) TargetCertificateIDs(ctx context.Context, targetID string) ([]string,
	error) {
	rows, err := q.r.QueryContext(ctx, `SELECT certificate_id FROM certificate_targets
		WHERE target_id = ? ORDER BY certificate_id`, targetID)
	return collectIDs("certificates of target "+targetID, rows, err)
}

// collectIDs reads a one-column result of IDs.
func collectIDs(step string, rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("%s: %w", step, translate(err))
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return ids, nil
}

// ListVerificationDue implements store.TargetQueries.
func (q queries) ListVerificationDue(ctx context.Context, before time.Time, limit int) (
	[]store.CertificateTarget, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT ct.certificate_id, ct.target_id
		FROM certificate_targets ct
		JOIN targets t ON t.id = ct.target_id
		JOIN certificates c ON c.id = ct.certificate_id
		WHERE json_extract(t.config, '$.verify') IS NOT NULL
		  AND c.current_version_id IS NOT NULL AND c.current_version_id <> ''
		  AND c.status NOT IN ('Revoked', 'Archived')
		  AND EXISTS (SELECT 1 FROM jobs j WHERE j.target_id = ct.target_id
		              AND j.certificate_id = ct.certificate_id AND j.type = 'Deployment'
		              AND j.status = 'Completed')
		  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.target_id = ct.target_id
		              AND j.certificate_id = ct.certificate_id AND j.type = 'Deployment'
		              AND (j.status IN ('Pending', 'Running')
		                   OR (j.status = 'Failed' AND j.attempts < j.max_attempts)
		                   OR j.finished_at >= ?))
		ORDER BY ct.certificate_id, ct.target_id LIMIT ?`, fmtTime(before), limit)
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
