package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"certctl/store"
)

// agentColumns leaves out work_version, which only the database writes; agentSelect reads it.
const agentColumns = `id, name, hostname, os, architecture, version, addresses,
	allowed_paths, status, credential_hash, credential_prefix, last_heartbeat_at, retired_at,
	retired_reason, created_at, updated_at`

const agentSelect = agentColumns + `, work_version`

func scanAgent(row interface{ Scan(...any) error }) (store.Agent, error) {
	var a store.Agent
	var addresses, paths, created, updated string
	var heartbeat, retired sql.NullString
	err := row.Scan(&a.ID, &a.Name, &a.Hostname, &a.OS, &a.Architecture, &a.Version,
		&addresses, &paths, &a.Status, &a.CredentialHash, &a.CredentialPrefix, &heartbeat,
		&retired, &a.RetiredReason, &created, &updated, &a.WorkVersion)
	if err != nil {
		return store.Agent{}, translate(err)
	}
	if a.Addresses, err = parseList(addresses); err != nil {
		return store.Agent{}, err
	}
	if a.AllowedPaths, err = parseList(paths); err != nil {
		return store.Agent{}, err
	}
	if a.LastHeartbeatAt, err = parseNullTime(heartbeat); err != nil {
		return store.Agent{}, err
	}
	if a.RetiredAt, err = parseNullTime(retired); err != nil {
		return store.Agent{}, err
	}
	if a.CreatedAt, err = parseTime(created); err != nil {
		return store.Agent{}, err
	}
	a.UpdatedAt, err = parseTime(updated)
	return a, err
}

func agentWhere(f store.AgentFilter) (string, []any) {
	if f.Status == "" {
		return ` WHERE status <> 'Retired'`, nil
	}
	return ` WHERE status = ?`, []any{f.Status}
}

// CreateAgent implements store.AgentQueries. The agent's work version starts at 0.
func (q queries) CreateAgent(ctx context.Context, a store.Agent) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO agents (`+agentColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.Hostname, a.OS, a.Architecture, a.Version, fmtList(a.Addresses),
		fmtList(a.AllowedPaths), a.Status, nullBytes(a.CredentialHash), a.CredentialPrefix,
		fmtNullTime(a.LastHeartbeatAt), fmtNullTime(a.RetiredAt), a.RetiredReason,
		fmtTime(a.CreatedAt), fmtTime(a.UpdatedAt))
	if err != nil {
		return fmt.Errorf("create agent: %w", translate(err))
	}
	return nil
}

// GetAgent implements store.AgentQueries.
func (q queries) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(q.r.QueryRowContext(ctx,
		`SELECT `+agentSelect+` FROM agents WHERE id = ?`, id))
	if err != nil {
		return store.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// GetAgentIdentity implements store.AgentQueries.
func (q queries) GetAgentIdentity(ctx context.Context, hash []byte) (store.AgentIdentity,
	error) {
	var a store.AgentIdentity
	err := q.r.QueryRowContext(ctx, `SELECT id, name, status, credential_hash, work_version
		FROM agents WHERE credential_hash = ?`, hash).
		Scan(&a.ID, &a.Name, &a.Status, &a.CredentialHash, &a.WorkVersion)
	if err != nil {
		return store.AgentIdentity{}, fmt.Errorf("find agent by credential: %w", translate(err))
	}
	return a, nil
}

// ListAgents implements store.AgentQueries.
func (q queries) ListAgents(ctx context.Context, f store.AgentFilter,
	p store.Page) ([]store.Agent, string, error) {
	where, args := agentWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (lower(name), id) > (lower(?), ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+agentSelect+` FROM agents`+where+
		` ORDER BY lower(name), id LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", translate(err))
	}
	agents, err := collectAgents("list agents", rows)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if n := len(agents); n > 0 && n == p.Limit {
		next = store.EncodeKey(agents[n-1].Name, agents[n-1].ID)
	}
	return agents, next, nil
}

func collectAgents(step string, rows *sql.Rows) ([]store.Agent, error) {
	defer rows.Close()
	var agents []store.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		agents = append(agents, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return agents, nil
}

// CountAgents implements store.AgentQueries.
func (q queries) CountAgents(ctx context.Context, f store.AgentFilter) (int, error) {
	where, args := agentWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM agents`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count agents: %w", translate(err))
	}
	return n, nil
}

// CountAgentsByStatus implements store.AgentQueries.
func (q queries) CountAgentsByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := q.r.QueryContext(ctx, `SELECT status, count(*) FROM agents GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count agents by status: %w", translate(err))
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("count agents by status: %w", translate(err))
		}
		counts[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count agents by status: %w", translate(err))
	}
	return counts, nil
}

// RecordHeartbeat implements store.AgentQueries.
func (q queries) RecordHeartbeat(ctx context.Context, id string, h store.AgentHost,
	at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE agents SET hostname = ?, os = ?, architecture = ?, version = ?,
		 addresses = ?, allowed_paths = ?, status = 'Online', last_heartbeat_at = ?,
		 updated_at = ?
		 WHERE id = ? AND status <> 'Retired'`,
		h.Hostname, h.OS, h.Architecture, h.Version, fmtList(h.Addresses),
		fmtList(h.AllowedPaths), fmtTime(at), fmtTime(at), id)
	return affected("record heartbeat of agent "+id, res, err)
}

// MarkAgentsOffline implements store.AgentQueries. An agent that never sent a heartbeat is
// judged by the time it was created. The IDs come back sorted.
func (q queries) MarkAgentsOffline(ctx context.Context, before, at time.Time) ([]string,
	error) {
	rows, err := q.w.QueryContext(ctx,
		`UPDATE agents SET status = 'Offline', updated_at = ?
		 WHERE status = 'Online' AND coalesce(last_heartbeat_at, created_at) < ?
		 RETURNING id`, fmtTime(at), fmtTime(before))
	ids, err := collectIDs("mark agents offline", rows, err)
	slices.Sort(ids)
	return ids, err
}

// SetAgentCredential implements store.AgentQueries.
func (q queries) SetAgentCredential(ctx context.Context, id string, hash []byte,
	prefix string, at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE agents SET credential_hash = ?, credential_prefix = ?, updated_at = ?
		 WHERE id = ?`, nullBytes(hash), prefix, fmtTime(at), id)
	return affected("set credential of agent "+id, res, err)
}

// RetireAgent implements store.AgentQueries. The credential stays, so that the retired
// agent can be told it is retired rather than that it is unknown.
func (q queries) RetireAgent(ctx context.Context, id, reason string, at time.Time) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE agents SET status = 'Retired', retired_at = ?, retired_reason = ?,
		 updated_at = ?
		 WHERE id = ? AND status <> 'Retired'`, fmtTime(at), reason, fmtTime(at), id)
	return affected("retire agent "+id, res, err)
}
