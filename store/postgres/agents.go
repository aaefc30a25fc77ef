package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

// agentColumns leaves out work_version, which only the database writes; agentSelect reads it.
const agentColumns = `id, name, hostname, os, architecture, version, addresses,
	allowed_paths, status, credential_hash, credential_prefix, last_heartbeat_at, retired_at,
	retired_reason, created_at, updated_at`

const agentSelect = agentColumns + `, work_version`

func scanAgent(row pgx.Row) (store.Agent, error) {
	var a store.Agent
	var addresses, paths []byte
	var heartbeat, retired *time.Time
	err := row.Scan(&a.ID, &a.Name, &a.Hostname, &a.OS, &a.Architecture, &a.Version,
		&addresses, &paths, &a.Status, &a.CredentialHash, &a.CredentialPrefix, &heartbeat,
		&retired, &a.RetiredReason, &a.CreatedAt, &a.UpdatedAt, &a.WorkVersion)
	if err != nil {
		return store.Agent{}, translate(err)
	}
	if a.Addresses, err = fromJSONList(addresses); err != nil {
		return store.Agent{}, fmt.Errorf("addresses: %w", err)
	}
	if a.AllowedPaths, err = fromJSONList(paths); err != nil {
		return store.Agent{}, fmt.Errorf("allowed paths: %w", err)
	}
	a.LastHeartbeatAt, a.RetiredAt = fromNullTime(heartbeat), fromNullTime(retired)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	return a, nil
}

// agentWhere builds the filter; its placeholders continue after args.
func agentWhere(f store.AgentFilter, args []any) (string, []any) {
	if f.Status == "" {
		return ` WHERE status <> 'Retired'`, args
	}
	args = append(args, f.Status)
	return fmt.Sprintf(` WHERE status = $%d`, len(args)), args
}

// CreateAgent implements store.AgentQueries. The agent's work version starts at 0.
func (q queries) CreateAgent(ctx context.Context, a store.Agent) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO agents (`+agentColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		a.ID, a.Name, a.Hostname, a.OS, a.Architecture, a.Version, jsonList(a.Addresses),
		jsonList(a.AllowedPaths), a.Status, nullBytes(a.CredentialHash), a.CredentialPrefix,
		nullTime(a.LastHeartbeatAt), nullTime(a.RetiredAt), a.RetiredReason,
		a.CreatedAt.UTC(), a.UpdatedAt.UTC())
	if err != nil {
		return fmt.Errorf("create agent: %w", translate(err))
	}
	return nil
}

// GetAgent implements store.AgentQueries.
func (q queries) GetAgent(ctx context.Context, id string) (store.Agent, error) {
	a, err := scanAgent(q.db.QueryRow(ctx,
		`SELECT `+agentSelect+` FROM agents WHERE id = $1`, id))
	if err != nil {
		return store.Agent{}, fmt.Errorf("get agent %s: %w", id, err)
	}
	return a, nil
}

// GetAgentIdentity implements store.AgentQueries.
func (q queries) GetAgentIdentity(ctx context.Context, hash []byte) (store.AgentIdentity,
	error) {
	var a store.AgentIdentity
	err := q.db.QueryRow(ctx, `SELECT id, name, status, credential_hash, work_version
		FROM agents WHERE credential_hash = $1`, hash).
		Scan(&a.ID, &a.Name, &a.Status, &a.CredentialHash, &a.WorkVersion)
	if err != nil {
		return store.AgentIdentity{}, fmt.Errorf("find agent by credential: %w", translate(err))
	}
	return a, nil
}

// ListAgents implements store.AgentQueries.
func (q queries) ListAgents(ctx context.Context, f store.AgentFilter,
	p store.Page) ([]store.Agent, string, error) {
	where, args := agentWhere(f, []any{p.Limit, p.Offset})
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		args = append(args, k[0], k[1])
		where += fmt.Sprintf(` AND (lower(name), id) > (lower($%d), $%d)`, len(args)-1,
			len(args))
	}
	rows, err := q.db.Query(ctx, `SELECT `+agentSelect+` FROM agents`+where+
		` ORDER BY lower(name), id LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", translate(err))
	}
	agents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Agent, error) {
		return scanAgent(r)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list agents: %w", translate(err))
	}
	next := ""
	if n := len(agents); n > 0 && n == p.Limit {
		next = store.EncodeKey(agents[n-1].Name, agents[n-1].ID)
	}
	return agents, next, nil
}

// CountAgents implements store.AgentQueries.
func (q queries) CountAgents(ctx context.Context, f store.AgentFilter) (int, error) {
	where, args := agentWhere(f, nil)
	var n int
	err := q.db.QueryRow(ctx, `SELECT count(*) FROM agents`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count agents: %w", translate(err))
	}
	return n, nil
}

// CountAgentsByStatus implements store.AgentQueries.
func (q queries) CountAgentsByStatus(ctx context.Context) (map[string]int, error) {
	rows, err := q.db.Query(ctx, `SELECT status, count(*) FROM agents GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("count agents by status: %w", translate(err))
	}
	counts := map[string]int{}
	var status string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		counts[status] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count agents by status: %w", translate(err))
	}
	return counts, nil
}

// RecordHeartbeat implements store.AgentQueries.
func (q queries) RecordHeartbeat(ctx context.Context, id string, h store.AgentHost,
	at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE agents SET hostname = $1, os = $2, architecture = $3, version = $4,
		 addresses = $5, allowed_paths = $6, status = 'Online', last_heartbeat_at = $7,
		 updated_at = $7
		 WHERE id = $8 AND status <> 'Retired'`,
		h.Hostname, h.OS, h.Architecture, h.Version, jsonList(h.Addresses),
		jsonList(h.AllowedPaths), at.UTC(), id)
	return affected("record heartbeat of agent "+id, tag, err)
}

// MarkAgentsOffline implements store.AgentQueries. An agent that never sent a heartbeat is
// judged by the time it was created. The IDs come back sorted.
func (q queries) MarkAgentsOffline(ctx context.Context, before, at time.Time) ([]string,
	error) {
	rows, err := q.db.Query(ctx,
		`UPDATE agents SET status = 'Offline', updated_at = $1
		 WHERE status = 'Online' AND coalesce(last_heartbeat_at, created_at) < $2
		 RETURNING id`, at.UTC(), before.UTC())
	ids, err := collectIDs("mark agents offline", rows, err)
	slices.Sort(ids)
	return ids, err
}

// SetAgentCredential implements store.AgentQueries.
func (q queries) SetAgentCredential(ctx context.Context, id string, hash []byte,
	prefix string, at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE agents SET credential_hash = $1, credential_prefix = $2, updated_at = $3
		 WHERE id = $4`, nullBytes(hash), prefix, at.UTC(), id)
	return affected("set credential of agent "+id, tag, err)
}

// RetireAgent implements store.AgentQueries. The credential stays, so that the retired
// agent can be told it is retired rather than that it is unknown.
func (q queries) RetireAgent(ctx context.Context, id, reason string, at time.Time) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE agents SET status = 'Retired', retired_at = $1, retired_reason = $2,
		 updated_at = $1
		 WHERE id = $3 AND status <> 'Retired'`, at.UTC(), reason, id)
	return affected("retire agent "+id, tag, err)
}
