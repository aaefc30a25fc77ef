package store

import (
	"context"
	"time"
)

// Job types and statuses.
const (
	JobIssuance   = "Issuance"
	JobRenewal    = "Renewal"
	JobDeployment = "Deployment"

	JobPending          = "Pending"
	JobAwaitingCSR      = "AwaitingCSR"
	JobAwaitingApproval = "AwaitingApproval"
	JobRunning          = "Running"
	JobCompleted        = "Completed"
	JobFailed           = "Failed"
	JobCancelled        = "Cancelled"
)

// Job is a unit of durable work: issuing, renewing or deploying a certificate.
type Job struct {
	ID            string
	Type          string
	CertificateID string
	Status        string
	Attempts      int
	MaxAttempts   int
	NextAttemptAt time.Time // when a Pending job may run next
	LastError     string
	RequestedBy   string
	ApprovedBy    string
	CSRPEM        string // the agent's CSR, for agent key mode
	CreatedAt     time.Time
	UpdatedAt     time.Time
	FinishedAt    time.Time
}

// JobFilter narrows ListJobs; zero values match everything.
type JobFilter struct {
	Type          string
	Status        string
	CertificateID string
}

// JobQueries reads and writes jobs.
type JobQueries interface {
	CreateJob(ctx context.Context, j Job) error
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns jobs newest first and the keyset position of the last.
	ListJobs(ctx context.Context, f JobFilter, p Page) ([]Job, string, error)
	CountJobs(ctx context.Context, f JobFilter) (int, error)
	// UpdateJob replaces status, attempts, times, error, approver and CSR of j.ID.
	UpdateJob(ctx context.Context, j Job) error
	// ClaimJob atomically moves one Pending job of one of types whose next attempt time has
	// come to Running, counting the attempt, and returns it; ErrNotFound when none is due.
	// Two callers never claim the same job.
	ClaimJob(ctx context.Context, types []string, now time.Time) (Job, error)
	// ListJobsIdle returns up to limit jobs in status that have not changed since before,
	// oldest first: work that waits too long or was left Running by a process that died.
	ListJobsIdle(ctx context.Context, status string, before time.Time, limit int) ([]Job,
		error)
	// DeleteFinishedJobs removes up to limit jobs that finished (Completed, Failed or
	// Cancelled) before before, and reports how many it removed.
	DeleteFinishedJobs(ctx context.Context, before time.Time, limit int) (int, error)
	// OpenJob returns the certificate's job that is not yet finished (Pending, AwaitingCSR,
	// AwaitingApproval or Running), or ErrNotFound.
	OpenJob(ctx context.Context, certificateID string) (Job, error)
}
