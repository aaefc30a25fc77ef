package postgres

import (
	"context"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

// ListAgentWork implements store.JobQueries. The jobs_agent index serves it.
func (q queries) ListAgentWork(ctx context.Context, agentID string,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list work of agent "+agentID, `SELECT `+jobColumns+` FROM jobs
		WHERE agent_id = $1 AND (
		    (type IN ('Issuance', 'Renewal') AND status = 'AwaitingCSR')
		    OR (type = 'Deployment' AND status IN ('Pending', 'Running')))
		ORDER BY created_at, id LIMIT $2`, agentID, limit)
}

// ListRetryDue implements store.JobQueries. Jobs come in the order their retries fell due;
// the jobs_retry index serves it.
func (q queries) ListRetryDue(ctx context.Context, typ string, now time.Time,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list jobs due for a retry", `SELECT `+jobColumns+` FROM jobs
		WHERE status = 'Failed' AND attempts < max_attempts AND type = $1
		    AND next_attempt_at <= $2
		ORDER BY next_attempt_at, id LIMIT $3`, typ, now.UTC(), limit)
}

// OpenDeployments implements store.JobQueries. Jobs come oldest first.
func (q queries) OpenDeployments(ctx context.Context, certificateID,
	targetID string) ([]store.Job, error) {
	return q.listJobs(ctx, "list open deployments", `SELECT `+jobColumns+` FROM jobs
		WHERE target_id = $1 AND certificate_id = $2 AND type = 'Deployment'
		    AND status IN ('Pending', 'Running')
		ORDER BY created_at, id`, targetID, certificateID)
}

func (q queries) listJobs(ctx context.Context, step, query string,
	args ...any) ([]store.Job, error) {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Job, error) {
		return scanJob(r)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return jobs, nil
}
