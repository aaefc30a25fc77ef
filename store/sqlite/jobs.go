package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"certctl/store"
)

const jobColumns = `id, type, certificate_id, status, attempts, max_attempts,
	next_attempt_at, last_error, requested_by, approved_by, csr_pem, created_at, updated_at,
	finished_at, target_id, agent_id, result, started_at, version`

func scanJob(row interface{ Scan(...any) error }) (store.Job, error) {
	var j store.Job
	var next, created, updated string
	var finished, target, agent, result, started sql.NullString
	err := row.Scan(&j.ID, &j.Type, &j.CertificateID, &j.Status, &j.Attempts, &j.MaxAttempts,
		&next, &j.LastError, &j.RequestedBy, &j.ApprovedBy, &j.CSRPEM, &created, &updated,
		&finished, &target, &agent, &result, &started, &j.Version)
	if err != nil {
		return store.Job{}, translate(err)
	}
	j.TargetID, j.AgentID = target.String, agent.String
	if result.Valid {
		j.Result = json.RawMessage(result.String)
	}
	if j.StartedAt, err = parseNullTime(started); err != nil {
		return store.Job{}, err
	}
	if j.NextAttemptAt, err = parseTime(next); err != nil {
		return store.Job{}, err
	}
	if j.CreatedAt, err = parseTime(created); err != nil {
		return store.Job{}, err
	}
	if j.UpdatedAt, err = parseTime(updated); err != nil {
		return store.Job{}, err
	}
	j.FinishedAt, err = parseNullTime(finished)
	return j, err
}

func jobWhere(f store.JobFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		conds = append(conds, cond)
		args = append(args, arg)
	}
	if f.Type != "" {
		add(`type = ?`, f.Type)
	}
	if f.Status != "" {
		add(`status = ?`, f.Status)
	}
	if f.CertificateID != "" {
		add(`certificate_id = ?`, f.CertificateID)
	}
	if f.AgentID != "" {
		add(`agent_id = ?`, f.AgentID)
	}
	if f.TargetID != "" {
		add(`target_id = ?`, f.TargetID)
	}
	if len(conds) == 0 {
		return ` WHERE 1 = 1`, nil
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// CreateJob implements store.JobQueries.
func (q queries) CreateJob(ctx context.Context, j store.Job) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO jobs (`+jobColumns+`)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.Type, j.CertificateID, j.Status, j.Attempts, j.MaxAttempts,
		fmtTime(j.NextAttemptAt), j.LastError, j.RequestedBy, j.ApprovedBy, j.CSRPEM,
		fmtTime(j.CreatedAt), fmtTime(j.UpdatedAt), fmtNullTime(j.FinishedAt),
		nullString(j.TargetID), nullString(j.AgentID), nullJSON(j.Result),
		fmtNullTime(j.StartedAt), j.Version)
	if err != nil {
		return fmt.Errorf("create job: %w", translate(err))
	}
	return nil
}

// GetJob implements store.JobQueries.
func (q queries) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(q.r.QueryRowContext(ctx,
		`SELECT `+jobColumns+` FROM jobs WHERE id = ?`, id))
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// ListJobs implements store.JobQueries.
func (q queries) ListJobs(ctx context.Context, f store.JobFilter,
	p store.Page) ([]store.Job, string, error) {
	where, args := jobWhere(f)
	if p.After != "" {
		k, err := store.DecodeKey(p.After, 2)
		if err != nil {
			return nil, "", err
		}
		where += ` AND (created_at, id) < (?, ?)`
		args = append(args, k[0], k[1])
	}
	args = append(args, p.Limit, p.Offset)
	rows, err := q.r.QueryContext(ctx, `SELECT `+jobColumns+` FROM jobs`+where+
		` ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", translate(err))
	}
	defer rows.Close()
	var jobs []store.Job
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", translate(err))
	}
	next := ""
	if n := len(jobs); n > 0 && n == p.Limit {
		next = store.EncodeKey(fmtTime(jobs[n-1].CreatedAt), jobs[n-1].ID)
	}
	return jobs, next, nil
}

// CountJobs implements store.JobQueries.
func (q queries) CountJobs(ctx context.Context, f store.JobFilter) (int, error) {
	where, args := jobWhere(f)
	var n int
	err := q.r.QueryRowContext(ctx, `SELECT count(*) FROM jobs`+where, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", translate(err))
	}
	return n, nil
}

// nullJSON stores an absent JSON document as NULL, so that it reads back as nil.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// UpdateJob implements store.JobQueries. The job's type, certificate and target stay as
// created.
func (q queries) UpdateJob(ctx context.Context, j store.Job) error {
	res, err := q.w.ExecContext(ctx,
		`UPDATE jobs SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?,
		 approved_by = ?, csr_pem = ?, updated_at = ?, finished_at = ?, agent_id = ?,
		 result = ?, started_at = ?, version = version + 1
		 WHERE id = ? AND version = ?`,
		j.Status, j.Attempts, fmtTime(j.NextAttemptAt), j.LastError, j.ApprovedBy, j.CSRPEM,
		fmtTime(j.UpdatedAt), fmtNullTime(j.FinishedAt), nullString(j.AgentID),
		nullJSON(j.Result), fmtNullTime(j.StartedAt), j.ID, j.Version)
	if err := affected("update job "+j.ID, res, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return q.jobChanged(ctx, j)
}

// ClaimJob implements store.JobQueries. Picking and moving the job is one statement on the
// single writer connection, so two callers can never pick the same job.
func (q queries) ClaimJob(ctx context.Context, types []string, now time.Time) (store.Job,
	error) {
	if len(types) == 0 {
		return store.Job{}, errors.New("claim job: no job types given")
	}
	for _, typ := range types {
		at := fmtTime(now)
		j, err := scanJob(q.w.QueryRowContext(ctx,
			`UPDATE jobs SET status = 'Running', attempts = attempts + 1, updated_at = ?,
			     version = version + 1
			 WHERE id = (SELECT id FROM jobs
			     WHERE status = 'Pending' AND type = ? AND next_attempt_at <= ?
			     ORDER BY next_attempt_at, id LIMIT 1)
			 RETURNING `+jobColumns, at, typ, at))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.Job{}, fmt.Errorf("claim %s job: %w", typ, err)
		}
		return j, nil
	}
	return store.Job{}, fmt.Errorf("claim job: none due: %w", store.ErrNotFound)
}

// OpenJob implements store.JobQueries.
func (q queries) OpenJob(ctx context.Context, certificateID string) (store.Job, error) {
	j, err := scanJob(q.r.QueryRowContext(ctx,
		`SELECT `+jobColumns+` FROM jobs
		 WHERE certificate_id = ? AND type IN ('Issuance', 'Renewal')
		     AND status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running')
		 ORDER BY created_at DESC, id DESC LIMIT 1`, certificateID))
	if err != nil {
		return store.Job{}, fmt.Errorf("open job of %s: %w", certificateID, err)
	}
	return j, nil
}

// jobChanged tells why an update of j changed no row: the job is gone, or another write
// changed it since j was read.
func (q queries) jobChanged(ctx context.Context, j store.Job) error {
	cur, err := q.GetJob(ctx, j.ID)
	if err != nil {
		return fmt.Errorf("update job %s: %w", j.ID, err)
	}
	return fmt.Errorf("update job %s: it changed since it was read (now %s, version %d, "+
		"not %d): %w", j.ID, cur.Status, cur.Version, j.Version, store.ErrConflict)
}
