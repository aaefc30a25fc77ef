package sqlite

import (
	"context"
	"fmt"
	"strings"

	"certctl/store"
)

const auditColumns = `id, occurred_at, actor, action, resource_type, resource_id, request_id,
	details`

func scanAudit(row interface{ Scan(...any) error }) (store.AuditEvent, error) {
	var e store.AuditEvent
	var at, details string
	err := row.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.ResourceType, &e.ResourceID,
		&e.RequestID, &details)
	if err != nil {
		return store.AuditEvent{}, translate(err)
	}
	e.Details = []byte(details)
	e.OccurredAt, err = parseTime(at)
	return e, err
}

func auditWhere(f store.AuditFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.Actor != "" {
		add(`actor = ?`, f.Actor)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.ResourceType != "" {
		add(`resource_type = ?`, f.ResourceType)
	}
	if f.ResourceID != "" {
		add(`resource_id = ?`, f.ResourceID)
	}
	if !f.Since.IsZero() {
		add(`occurred_at >= ?`, fmtTime(f.Since))
	}
	if !f.Until.IsZero() {
		add(`occurred_at < ?`, fmtTime(f.Until))
	}
	if len(conds) == 0 {
		return ` WHERE 1 = 1`, nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// AppendAudit implements store.AuditQueries.
func (q queries) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	details := string(e.Details)
	if details == "" {
		details = "{}"
	}
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO audit_events (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, fmtTime(e.OccurredAt), e.Actor, e.Action, e.ResourceType, e.ResourceID,
		e.RequestID, details)
	if err != nil {
		return fmt.Errorf("append audit event: %w", translate(err))
	}
	return nil
}

// ListAudit implements store.AuditQueries.
func (q queries) ListAudit(ctx context.Context, f store.AuditFilter,
	p store.Page) ([]store.AuditEvent, string, error) {
	where, args := auditWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (occurred_at, id) < (?, ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events`+where+
		` ORDER BY occurred_at DESC, id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", translate(err))
	}
	defer rows.Close()
	var events []store.AuditEvent
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list audit events: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit events: %w", translate(err))
	}
	next := ""
	if n := len(events); n > 0 && n == p.Limit {
		next = store.EncodeKey(fmtTime(events[n-1].OccurredAt), events[n-1].ID)
	}
	return events, next, nil
}

// CountAudit implements store.AuditQueries.
func (q queries) CountAudit(ctx context.Context, f store.AuditFilter) (int, error) {
	where, args := auditWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", translate(err))
	}
	return n, nil
}

// GetAudit implements store.AuditQueries.
func (q queries) GetAudit(ctx context.Context, id string) (store.AuditEvent, error) {
	e, err := scanAudit(q.r.QueryRowContext(ctx,
		`SELECT `+auditColumns+` FROM audit_events WHERE id = ?`, id))
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("get audit event %s: %w", id, err)
	}
	return e, nil
}
