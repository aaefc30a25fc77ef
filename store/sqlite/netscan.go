package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"certctl/store"
)

const netScanColumns = `id, name, hosts, ports, enabled, last_scan_at, last_error,
	created_at, updated_at`

func scanNetScan(row interface{ Scan(...any) error }) (store.NetworkScanTarget, error) {
	var t store.NetworkScanTarget
	var hosts, ports, created, updated string
	var last sql.NullString
	err := row.Scan(&t.ID, &t.Name, &hosts, &ports, &t.Enabled, &last, &t.LastError,
		&created, &updated)
	if err != nil {
		return store.NetworkScanTarget{}, translate(err)
	}
	if t.Hosts, err = parseList(hosts); err != nil {
		return store.NetworkScanTarget{}, err
	}
	if t.Ports, err = parseInts(ports); err != nil {
		return store.NetworkScanTarget{}, err
	}
	if t.LastScanAt, err = parseNullTime(last); err != nil {
		return store.NetworkScanTarget{}, err
	}
	if t.CreatedAt, err = parseTime(created); err != nil {
		return store.NetworkScanTarget{}, err
	}
	t.UpdatedAt, err = parseTime(updated)
	return t, err
}

// fmtInts stores numbers as a JSON list; parseInts reads it back, an empty list as nil.
func fmtInts(l []int) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // an []int always marshals
	return string(b)
}

func parseInts(s string) ([]int, error) {
	var l []int
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("stored numbers %q: %w", s, err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

// ListNetworkScanTargets implements store.DiscoveryQueries. Targets come by name.
func (q queries) ListNetworkScanTargets(ctx context.Context) ([]store.NetworkScanTarget,
	error) {
	rows, err := q.r.QueryContext(ctx, `SELECT `+netScanColumns+` FROM network_scan_targets
		ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list network scan targets: %w", translate(err))
	}
	defer rows.Close()
	var targets []store.NetworkScanTarget
	for rows.Next() {
		t, err := scanNetScan(rows)
		if err != nil {
			return nil, fmt.Errorf("list network scan targets: %w", err)
		}
		targets = append(targets, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list network scan targets: %w", translate(err))
	}
	return targets, nil
}

// GetNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) GetNetworkScanTarget(ctx context.Context,
	id string) (store.NetworkScanTarget, error) {
	t, err := scanNetScan(q.r.QueryRowContext(ctx,
		`SELECT `+netScanColumns+` FROM network_scan_targets WHERE id = ?`, id))
	if err != nil {
		return store.NetworkScanTarget{}, fmt.Errorf("get network scan target %s: %w", id,
			err)
	}
	return t, nil
}

// CreateNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) CreateNetworkScanTarget(ctx context.Context, t store.NetworkScanTarget) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO network_scan_targets (`+netScanColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, fmtList(t.Hosts), fmtInts(t.Ports), t.Enabled,
		fmtNullTime(t.LastScanAt), t.LastError, fmtTime(t.CreatedAt), fmtTime(t.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create network scan target: %w", translate(err))
	}
	return nil
}

// UpdateNetworkScanTarget implements store.DiscoveryQueries. It replaces name, hosts, ports,
// enabled and updated time; RecordNetworkScan keeps the outcome of the last scan.
func (q queries) UpdateNetworkScanTarget(ctx context.Context, t store.NetworkScanTarget) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE network_scan_targets SET name = ?, hosts = ?, ports = ?, enabled = ?,
		 updated_at = ? WHERE id = ?`,
		t.Name, fmtList(t.Hosts), fmtInts(t.Ports), t.Enabled, fmtTime(t.UpdatedAt), t.ID)
	return affected("update network scan target "+t.ID, res, err)
}

// DeleteNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) DeleteNetworkScanTarget(ctx context.Context, id string) error {
	res, err := q.w.ExecContext(ctx, `DELETE FROM network_scan_targets WHERE id = ?`, id)
	return affected("delete network scan target "+id, res, err)
}

// RecordNetworkScan implements store.DiscoveryQueries.
func (q queries) RecordNetworkScan(ctx context.Context, id string, at time.Time,
	scanErr string) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE network_scan_targets SET last_scan_at = ?, last_error = ? WHERE id = ?`,
		fmtTime(at), scanErr, id)
	return affected("record scan of network scan target "+id, res, err)
}
