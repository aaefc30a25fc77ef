package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const netScanColumns = `id, name, hosts, ports, enabled, last_scan_at, last_error,
	created_at, updated_at`

func scanNetScan(row pgx.Row) (store.NetworkScanTarget, error) {
	var t store.NetworkScanTarget
	var hosts, ports []byte
	var last *time.Time
	err := row.Scan(&t.ID, &t.Name, &hosts, &ports, &t.Enabled, &last, &t.LastError,
		&t.CreatedAt, &t.UpdatedAt)
	if err != nil {
		return store.NetworkScanTarget{}, translate(err)
	}
	if t.Hosts, err = fromJSONList(hosts); err != nil {
		return store.NetworkScanTarget{}, fmt.Errorf("hosts: %w", err)
	}
	if err := json.Unmarshal(ports, &t.Ports); err != nil {
		return store.NetworkScanTarget{}, fmt.Errorf("decode ports: %w", err)
	}
	if len(t.Ports) == 0 {
		t.Ports = nil
	}
	t.LastScanAt = fromNullTime(last)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// jsonInts encodes numbers for a JSONB array column; nil becomes an empty array.
func jsonInts(l []int) string {
	if l == nil {
		l = []int{}
	}
	b, _ := json.Marshal(l) // an []int always marshals
	return string(b)
}

// ListNetworkScanTargets implements store.DiscoveryQueries. Targets come by name.
func (q queries) ListNetworkScanTargets(ctx context.Context) ([]store.NetworkScanTarget,
	error) {
	rows, err := q.db.Query(ctx, `SELECT `+netScanColumns+` FROM network_scan_targets
		ORDER BY lower(name), id`)
	if err != nil {
		return nil, fmt.Errorf("list network scan targets: %w", translate(err))
	}
	targets, err := pgx.CollectRows(rows,
		func(r pgx.CollectableRow) (store.NetworkScanTarget, error) {
			return scanNetScan(r)
		})
	if err != nil {
		return nil, fmt.Errorf("list network scan targets: %w", translate(err))
	}
	return targets, nil
}

// GetNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) GetNetworkScanTarget(ctx context.Context,
	id string) (store.NetworkScanTarget, error) {
	t, err := scanNetScan(q.db.QueryRow(ctx,
		`SELECT `+netScanColumns+` FROM network_scan_targets WHERE id = $1`, id))
	if err != nil {
		return store.NetworkScanTarget{}, fmt.Errorf("get network scan target %s: %w", id,
			err)
	}
	return t, nil
}

// CreateNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) CreateNetworkScanTarget(ctx context.Context, t store.NetworkScanTarget) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO network_scan_targets (`+netScanColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Name, jsonList(t.Hosts), jsonInts(t.Ports), t.Enabled, nullTime(t.LastScanAt),
		t.LastError, t.CreatedAt.UTC(), t.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create network scan target: %w", translate(err))
	}
	return nil
}

// UpdateNetworkScanTarget implements store.DiscoveryQueries. It replaces name, hosts, ports,
// enabled and updated time; RecordNetworkScan keeps the outcome of the last scan.
func (q queries) UpdateNetworkScanTarget(ctx context.Context, t store.NetworkScanTarget) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE network_scan_targets SET name = $1, hosts = $2, ports = $3, enabled = $4,
		 updated_at = $5 WHERE id = $6`,
		t.Name, jsonList(t.Hosts), jsonInts(t.Ports), t.Enabled, t.UpdatedAt.UTC(), t.ID)
	return affected("update network scan target "+t.ID, tag, err)
}

// DeleteNetworkScanTarget implements store.DiscoveryQueries.
func (q queries) DeleteNetworkScanTarget(ctx context.Context, id string) error {
	tag, err := q.db.Exec(ctx, `DELETE FROM network_scan_targets WHERE id = $1`, id)
	return affected("delete network scan target "+id, tag, err)
}

// RecordNetworkScan implements store.DiscoveryQueries.
func (q queries) RecordNetworkScan(ctx context.Context, id string, at time.Time,
	scanErr string) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE network_scan_targets SET last_scan_at = $1, last_error = $2 WHERE id = $3`,
		at.UTC(), scanErr, id)
	return affected("record scan of network scan target "+id, tag, err)
}
