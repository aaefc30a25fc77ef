package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

const jobColumns = `id, type, certificate_id, status, attempts, max_attempts,
	next_attempt_at, last_error, requested_by, approved_by, csr_pem, created_at, updated_at,
	finished_at, target_id, agent_id, result, started_at, version`

func scanJob(row pgx.Row) (store.Job, error) {
	var j store.Job
	var finished, started *time.Time
	var target, agent *string
	var result []byte
	err := row.Scan(&j.ID, &j.Type, &j.CertificateID, &j.Status, &j.Attempts, &j.MaxAttempts,
		&j.NextAttemptAt, &j.LastError, &j.RequestedBy, &j.ApprovedBy, &j.CSRPEM, &j.CreatedAt,
		&j.UpdatedAt, &finished, &target, &agent, &result, &started, &j.Version)
	if err != nil {
		return store.Job{}, translate(err)
	}
	j.NextAttemptAt = j.NextAttemptAt.UTC()
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	j.FinishedAt, j.StartedAt = fromNullTime(finished), fromNullTime(started)
	j.TargetID, j.AgentID = fromNullString(target), fromNullString(agent)
	if result != nil {
		j.Result = json.RawMessage(result)
	}
	return j, nil
}

// jobWhere builds the filter; its placeholders continue after args.
func jobWhere(f store.JobFilter, args []any) (string, []any) {
	var conds []string
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.Type != "" {
		add(`type = $%d`, f.Type)
	}
	if f.Status != "" {
		add(`status = $%d`, f.Status)
	}
	if f.CertificateID != "" {
		add(`certificate_id = $%d`, f.CertificateID)
	}
	if f.AgentID != "" {
		add(`agent_id = $%d`, f.AgentID)
	}
	if f.TargetID != "" {
		add(`target_id = $%d`, f.TargetID)
	}
	if len(conds) == 0 {
		return ` WHERE TRUE`, args
	}
	return ` WHERE ` + strings.Join(conds, ` AND `), args
}

// CreateJob implements store.JobQueries.
func (q queries) CreateJob(ctx context.Context, j store.Job) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO jobs (`+jobColumns+`)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
		     $17, $18, $19)`,
		j.ID, j.Type, j.CertificateID, j.Status, j.Attempts, j.MaxAttempts,
		j.NextAttemptAt.UTC(), j.LastError, j.RequestedBy, j.ApprovedBy, j.CSRPEM,
		j.CreatedAt.UTC(), j.UpdatedAt.UTC(), nullTime(j.FinishedAt), nullString(j.TargetID),
		nullString(j.AgentID), nullJSON(j.Result), nullTime(j.StartedAt), j.Version)
	if err != nil {
		return fmt.Errorf("create job: %w", translate(err))
	}
	return nil
}

// GetJob implements store.JobQueries.
func (q queries) GetJob(ctx context.Context, id string) (store.Job, error) {
	j, err := scanJob(q.db.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE id = $1`, id))
	if err != nil {
		return store.Job{}, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// ListJobs implements store.JobQueries.
func (q queries) ListJobs(ctx context.Context, f store.JobFilter,
	p store.Page) ([]store.Job, string, error) {
	where, args := jobWhere(f, []any{p.Limit, p.Offset})
	where, args, err := olderThan(p.After, "created_at", where, args)
	if err != nil {
		return nil, "", err
	}
	rows, err := q.db.Query(ctx, `SELECT `+jobColumns+` FROM jobs`+where+
		` ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", translate(err))
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Job, error) {
		return scanJob(r)
	})
	if err != nil {
		return nil, "", fmt.Errorf("list jobs: %w", translate(err))
	}
	next := ""
	if n := len(jobs); n > 0 && n == p.Limit {
		next = store.EncodeKey(jobs[n-1].CreatedAt.Format(keyTimeFormat), jobs[n-1].ID)
	}
	return jobs, next, nil
}

// CountJobs implements store.JobQueries.
func (q queries) CountJobs(ctx context.Context, f store.JobFilter) (int, error) {
	where, args := jobWhere(f, nil)
	var n int
	if err := q.db.QueryRow(ctx, `SELECT count(*) FROM jobs`+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count jobs: %w", translate(err))
	}
	return n, nil
}

// nullJSON passes an absent JSON document as NULL, so that it reads back as nil.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// UpdateJob implements store.JobQueries. The job's type, certificate and target stay as
// created.
func (q queries) UpdateJob(ctx context.Context, j store.Job) error {
	tag, err := q.db.Exec(ctx,
		`UPDATE jobs SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4,
		 approved_by = $5, csr_pem = $6, updated_at = $7, finished_at = $8, agent_id = $9,
		 result = $10, started_at = $11, version = version + 1
		 WHERE id = $12 AND version = $13`,
		j.Status, j.Attempts, j.NextAttemptAt.UTC(), j.LastError, j.ApprovedBy, j.CSRPEM,
		j.UpdatedAt.UTC(), nullTime(j.FinishedAt), nullString(j.AgentID), nullJSON(j.Result),
		nullTime(j.StartedAt), j.ID, j.Version)
	if err := affected("update job "+j.ID, tag, err); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return q.jobChanged(ctx, j)
}

// ClaimJob implements store.JobQueries. The inner SELECT locks the chosen row and skips rows
// other claimers hold, so concurrent callers each get a different job without waiting; a
// row committed as Running in the meantime fails the re-check PostgreSQL makes on lock.
func (q queries) ClaimJob(ctx context.Context, types []string, now time.Time) (store.Job,
	error) {
	if len(types) == 0 {
		return store.Job{}, errors.New("claim job: no job types given")
	}
	for _, typ := range types {
		j, err := scanJob(q.db.QueryRow(ctx,
			`UPDATE jobs SET status = 'Running', attempts = attempts + 1, updated_at = $1,
			     version = version + 1
			 WHERE id = (
			     SELECT id FROM jobs
			     WHERE status = 'Pending' AND type = $2 AND next_attempt_at <= $1
			     ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			 RETURNING `+jobColumns,
			now.UTC(), typ))
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

// ClaimJob claims in a transaction of its own, which takes the change counters before the
// claim locks any job (see lockChanges). The claim's re-check may leave it holding the lock
// of a job another replica has just claimed; waiting then for the jobs counter, held by
// the transaction that completes that job, would deadlock.
func (s *Store) ClaimJob(ctx context.Context, types []string, now time.Time) (store.Job,
	error) {
	var j store.Job
	err := s.InTx(ctx, func(q store.Queries) error {
		var err error
		j, err = q.ClaimJob(ctx, types, now)
		return err
	})
	return j, err
}

// OpenJob implements store.JobQueries.
func (q queries) OpenJob(ctx context.Context, certificateID string) (store.Job, error) {
	j, err := scanJob(q.db.QueryRow(ctx,
		`SELECT `+jobColumns+` FROM jobs
		 WHERE certificate_id = $1 AND type IN ('Issuance', 'Renewal')
		   AND status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running')
		 ORDER BY created_at DESC, id DESC LIMIT 1`, certificateID))
	if err != nil {
		return store.Job{}, fmt.Errorf("open job of certificate %s: %w", certificateID, err)
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
