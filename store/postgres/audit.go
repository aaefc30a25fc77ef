package postgres

import (
	"context"
	"fmt"
	"strings"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const auditColumns = `id, occurred_at, actor, action, resource_type, resource_id, request_id,
	details`

func scanAudit(row pgx.Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	var details []byte
	err := row.Scan(&e.ID, &e.OccurredAt, &e.Actor, &e.Action, &e.ResourceType,
		&e.ResourceID, &e.RequestID, &details)
	if err != nil {
		return store.AuditEvent{}, translate(err)
	}
	e.OccurredAt = e.OccurredAt.UTC()
	e.Details = details
	return e, nil
}

// auditWhere builds the filter; its placeholders continue after args.
func auditWhere(f store.AuditFilter, args []any) (string, []any) {
	var conds []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Actor != "" {
		add(`actor = $%d`, f.Actor)
	}
	if f.Action != "" {
		add(`action = $%d`, f.Action)
	}
	if f.ResourceType != "" {
		add(`resource_type = $%d`, f.ResourceType)
	}
	if f.ResourceID != "" {
		add(`resource_id = $%d`, f.ResourceID)
	}
	if !f.Since.IsZero() {
		add(`occurred_at >= $%d`, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add(`occurred_at < $%d`, f.Until.UTC())
	}
	if len(conds) == 0 {
		return ` WHERE TRUE`, args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// AppendAudit implements store.AuditQueries.
func (q queries) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	_, err := q.db.Exec(ctx,
		`INSERT INTO audit_events (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.OccurredAt.UTC(), e.Actor, e.Action, e.ResourceType, e.ResourceID,
		e.RequestID, details)
	if err != nil {
		return fmt.Errorf("append audit event: %w", translate(err))
	}
	return nil
}

// ListAudit implements store.AuditQueries.
func (q queries) ListAudit(ctx context.Context, f store.AuditFilter,
	p store.Page) ([]store.AuditEvent, string, error) {
	where, args := auditWhere(f, []any{p.Limit, p.Offset})
	where, args, err := olderThan(p.After, "occurred_at", where, args)
	if err != nil {
		return nil, "", err
	}
	rows, err := q.db.Query(ctx, `SELECT `+auditColumns+` FROM audit_events`+where+
		` ORDER BY occurred_at DESC, id DESC LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", translate(err))
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditEvent, error) {
		return scanAudit(r)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", translate(err))
	}
	next := ""
	if n := len(events); n > 0 && n == p.Limit {
		next = store.EncodeKey(events[n-1].OccurredAt.Format(keyTimeFormat), events[n-1].ID)
	}
	return events, next, nil
}

// olderThan adds to where the keyset condition of a newest-first list ordered by column
// and id: rows after the position after, when it is set.
func olderThan(after, column, where string, args []any) (string, []any, error) {
	if after == "" {
		return where, args, nil
	}
	k, err := store.DecodeKey(after, 2)
	if err != nil {
		return "", nil, err
	}
	at, err := parseKeyTime(k[0])
	if err != nil {
		return "", nil, err
	}
	args = append(args, at, k[1])
	return where + fmt.Sprintf(` AND (%s, id) < ($%d, $%d)`, column, len(args)-1, len(args)),
		args, nil
}

// CountAudit implements store.AuditQueries.
func (q queries) CountAudit(ctx context.Context, f store.AuditFilter) (int, error) {
	where, args := auditWhere(f, nil)
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", translate(err))
	}
	return n, nil
}

// GetAudit implements store.AuditQueries.
func (q queries) GetAudit(ctx context.Context, id string) (store.AuditEvent, error) {
	e, err := scanAudit(q.db.QueryRow(ctx,
		`SELECT `+auditColumns+` FROM audit_events WHERE id = $1`, id))
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("get audit event %s: %w", id, err)
	}
	return e, nil
}
