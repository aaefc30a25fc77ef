package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"certctl/store"
)

// SetRenewAt implements store.CertificateQueries.
func (q queries) SetRenewAt(ctx context.Context, id string, renewAt time.Time) error {
	res, err := q.w.ExecContext(ctx, `UPDATE certificates SET renew_at = ? WHERE id = ?`,
		fmtNullTime(renewAt), id)
	return affected("schedule renewal of "+id, res, err)
}

// openJob is true for a certificate with an unfinished job; the jobs_open index serves it.
const openJob = `EXISTS (SELECT 1 FROM jobs WHERE jobs.certificate_id = certificates.id
	AND jobs.type IN ('Issuance', 'Renewal')
	AND jobs.status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running'))`

// ListRenewalDue implements store.CertificateQueries. It walks the index of renewal times
// by status, so certificates already being renewed (RenewalInProgress), however many, cost
// nothing; SQLite's planner, left alone, prefers the plain renewal-time index for its
// order, and would step over each of them.
func (q queries) ListRenewalDue(ctx context.Context, now time.Time,
	limit int) ([]store.Certificate, error) {
	return q.listCertificates(ctx, "list due renewals", `SELECT `+certificateSelect+`
		FROM certificates INDEXED BY certificates_status_renew_at
		WHERE status IN ('Active', 'Expiring', 'Expired') AND renew_at <= ? AND NOT `+
		openJob+` ORDER BY renew_at LIMIT ?`, fmtTime(now), limit)
}

// ListUnscheduled implements store.CertificateQueries.
func (q queries) ListUnscheduled(ctx context.Context, limit int) ([]store.Certificate, error) {
	return q.listCertificates(ctx, "list unscheduled certificates", `SELECT `+
		certificateSelect+` FROM certificates
		WHERE renew_at IS NULL AND current_version_id IS NOT NULL LIMIT ?`, limit)
}

// ListStatusStale implements store.CertificateQueries.
func (q queries) ListStatusStale(ctx context.Context, now time.Time,
	limit int) ([]store.Certificate, error) {
	at := fmtTime(now)
	// Two indexed searches, united: a filter on the IDs they return would walk every
	// certificate instead.
	return q.listCertificates(ctx, "list stale statuses", `SELECT `+certificateSelect+`
		FROM certificates WHERE status = 'Active' AND renew_at <= ?
		UNION
		SELECT `+certificateSelect+` FROM certificates WHERE not_after <= ?
		  AND status NOT IN ('Expired', 'Revoked', 'Archived')
		LIMIT ?`, at, at, limit)
}

func (q queries) listCertificates(ctx context.Context, step, query string,
	args ...any) ([]store.Certificate, error) {
	rows, err := q.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return collectCertificates(step, rows)
}

func collectCertificates(step string, rows *sql.Rows) ([]store.Certificate, error) {
	defer rows.Close()
	var certs []store.Certificate
	for rows.Next() {
		c, err := scanCertificate(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", step, err)
		}
		certs = append(certs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return certs, nil
}

// ListJobsIdle implements store.JobQueries.
func (q queries) ListJobsIdle(ctx context.Context, status string, before time.Time,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list idle jobs", `SELECT `+jobColumns+` FROM jobs
		WHERE status = ? AND updated_at < ? ORDER BY updated_at, id LIMIT ?`,
		status, fmtTime(before), limit)
}

// DeleteFinishedJobs implements store.JobQueries.
func (q queries) DeleteFinishedJobs(ctx context.Context, before time.Time,
	limit int) (int, error) {
	res, err := q.w.ExecContext(ctx, `DELETE FROM jobs WHERE id IN (
		SELECT id FROM jobs WHERE status IN ('Completed', 'Failed', 'Cancelled')
		AND finished_at < ? ORDER BY finished_at LIMIT ?)`, fmtTime(before), limit)
	if err != nil {
		return 0, fmt.Errorf("delete finished jobs: %w", translate(err))
	}
	n, err := res.RowsAffected()
	return int(n), translate(err)
}
