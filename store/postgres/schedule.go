package postgres

import (
	"context"
	"fmt"
	"time"

	"certctl/store"

	"github.com/jackc/pgx/v5"
)

// SetRenewAt implements store.CertificateQueries.
func (q queries) SetRenewAt(ctx context.Context, id string, renewAt time.Time) error {
	tag, err := q.db.Exec(ctx, `UPDATE certificates SET renew_at = $1 WHERE id = $2`,
		nullTime(renewAt), id)
	return affected("schedule renewal of "+id, tag, err)
}

// openJob is true for a certificate with an unfinished job; the jobs_open index serves it.
const openJob = `EXISTS (SELECT 1 FROM jobs WHERE jobs.certificate_id = certificates.id
	AND jobs.type IN ('Issuance', 'Renewal')
	AND jobs.status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running'))`

// ListRenewalDue implements store.CertificateQueries.
func (q queries) ListRenewalDue(ctx context.Context, now time.Time,
	limit int) ([]store.Certificate, error) {
	return q.listCertificates(ctx, "list due renewals", `SELECT `+certificateSelect+`
		FROM certificates
		WHERE renew_at <= $1 AND status IN ('Active', 'Expiring', 'Expired') AND NOT `+
		openJob+` ORDER BY renew_at LIMIT $2`, now.UTC(), limit)
}

// ListUnscheduled implements store.CertificateQueries.
func (q queries) ListUnscheduled(ctx context.Context, limit int) ([]store.Certificate, error) {
	return q.listCertificates(ctx, "list unscheduled certificates", `SELECT `+
		certificateSelect+` FROM certificates
		WHERE renew_at IS NULL AND current_version_id IS NOT NULL LIMIT $1`, limit)
}

// ListStatusStale implements store.CertificateQueries.
func (q queries) ListStatusStale(ctx context.Context, now time.Time,
	limit int) ([]store.Certificate, error) {
	// Two indexed searches, united: a filter on the IDs they return would walk every
	// certificate instead.
	return q.listCertificates(ctx, "list stale statuses", `SELECT `+certificateSelect+`
		FROM certificates WHERE status = 'Active' AND renew_at <= $1
		UNION
		SELECT `+certificateSelect+` FROM certificates WHERE not_after <= $1
		  AND status NOT IN ('Expired', 'Revoked', 'Archived')
		LIMIT $2`, now.UTC(), limit)
}

func (q queries) listCertificates(ctx context.Context, step, query string,
	args ...any) ([]store.Certificate, error) {
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	certs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Certificate, error) {
		return scanCertificate(r)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", step, translate(err))
	}
	return certs, nil
}

// ListJobsIdle implements store.JobQueries.
func (q queries) ListJobsIdle(ctx context.Context, status string, before time.Time,
	limit int) ([]store.Job, error) {
	return q.listJobs(ctx, "list idle jobs", `SELECT `+jobColumns+` FROM jobs
		WHERE status = $1 AND updated_at < $2 ORDER BY updated_at, id LIMIT $3`,
		status, before.UTC(), limit)
}

// DeleteFinishedJobs implements store.JobQueries.
func (q queries) DeleteFinishedJobs(ctx context.Context, before time.Time,
	limit int) (int, error) {
	tag, err := q.db.Exec(ctx, `DELETE FROM jobs WHERE id IN (
		SELECT id FROM jobs WHERE status IN ('Completed', 'Failed', 'Cancelled')
		AND finished_at < $1 ORDER BY finished_at LIMIT $2)`, before.UTC(), limit)
	if err != nil {
		return 0, fmt.Errorf("delete finished jobs: %w", translate(err))
	}
	return int(tag.RowsAffected()), nil
}
