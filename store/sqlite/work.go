package sqlite

import (
	"context"
	"fmt"
	"time"

	"certctl/store"
)

// ListAgentWork implements store.JobQueries. The jobs_agent index serves it.
func (q queries) ListAgentWork(ctx context.Context, agentID string,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list work of agent "+agentID, `SELECT `+jobColumns+` FROM jobs
		WHERE agent_id = ? AND (
		    (type IN ('Issuance', 'Renewal') AND status = 'AwaitingCSR')
		    OR (type = 'Deployment' AND status IN ('Pending', 'Running')))
		ORDER BY created_at, id LIMIT ?`, agentID, limit)
}

// ListRetryDue implements store.JobQueries. Jobs come in the order their retries fell due;
// the jobs_retry index serves it.
func (q queries) ListRetryDue(ctx context.Context, typ string, now time.Time,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list jobs due for a retry", `SELECT `+jobColumns+` FROM jobs
		WHERE status = 'Failed' AND attempts < max_attempts AND type = ?
		    AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, typ, fmtTime(now), limit)
}

// OpenDeployments implements store.JobQueries. Jobs come oldest first.
func (q queries) OpenDeployments(ctx context.Context, certificateID,
	targetID string) ([]store.Job, error) {
	return q.listJobs(ctx, "list open deployments", `SELECT `+jobColumns+` FROM jobs
		WHERE target_id = ? AND certificate_id = ? AND type = 'Deployment'
		    AND status IN ('Pending', 'Running')
		ORDER BY created_at, id`, targetID, certificateID)
}

func (q queries) listJobs(ctx context.Context, step, query string,
	args ...any) ([]store.Job, error) {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return jobs, nil
}
