package store

import (
	"context"
	"encoding/json"
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
	// TargetID is the target a Deployment job deploys to; "" for other types.
	TargetID string
	// AgentID is the agent that does the job: the target's agent for a Deployment, the
	// agent that makes the key and CSR for an Issuance or Renewal in agent key mode; ""
	// for work the server does.
	AgentID string
	// Result is the agent's report of a Deployment, a JSON object; nil until reported.
	Result     json.RawMessage
	StartedAt  time.Time // when a Deployment was last started; zero before
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
	// Version grows with every write to the job; UpdateJob writes only over the version
	// it names.
	Version int64
}

// JobFilter narrows ListJobs; zero values match everything.
type JobFilter struct {
	Type          string
	Status        string
	CertificateID string
	AgentID       string
	TargetID      string
}

// JobQueries reads and writes jobs.
type JobQueries interface {
	CreateJob(ctx context.Context, j Job) error
	GetJob(ctx context.Context, id string) (Job, error)
	// ListJobs returns jobs newest first and the keyset position of the last.
	ListJobs(ctx context.Context, f JobFilter, p Page) ([]Job, string, error)
	CountJobs(ctx context.Context, f JobFilter) (int, error)
	// UpdateJob replaces status, attempts, times, error, approver, CSR, agent, result and
	// start time of j.ID, provided the job is still at j.Version, and increases the
	// version. ErrNotFound when the job does not exist; ErrConflict when it was written
	// since j was read, in which case nothing changes.
	UpdateJob(ctx context.Context, j Job) error
	// ClaimJob atomically moves one Pending job of one of types whose next attempt time has
	// come to Running, counting the attempt and increasing the version, and returns it;
	// ErrNotFound when none is due. Types are tried in the order given, the oldest due job
	// of a type first, one statement per type. Two callers never claim the same job.
	ClaimJob(ctx context.Context, types []string, now time.Time) (Job, error)
	// ListJobsIdle returns up to limit jobs in status that have not changed since before,
	// oldest first: work that waits too long or was left Running by a process that died.
	ListJobsIdle(ctx context.Context, status string, before time.Time, limit int) ([]Job,
		error)
	// DeleteFinishedJobs removes up to limit jobs that finished (Completed, Failed or
	// Cancelled) before before, and reports how many it removed.
	DeleteFinishedJobs(ctx context.Context, before time.Time, limit int) (int, error)
	// OpenJob returns the certificate's Issuance or Renewal job that is not yet finished
	// (Pending, AwaitingCSR, AwaitingApproval or Running), or ErrNotFound. Deployments run
	// beside it and are not considered.
	OpenJob(ctx context.Context, certificateID string) (Job, error)

	// ListAgentWork returns up to limit unfinished jobs assigned to agentID that the agent
	// has to act on, oldest first: Issuance and Renewal jobs in AwaitingCSR, and Deployment
	// jobs that are Pending or Running.
	ListAgentWork(ctx context.Context, agentID string, limit int) ([]Job, error)
	// ListRetryDue returns up to limit Failed jobs of type typ that have attempts left
	// (Attempts < MaxAttempts) and whose next attempt time has come by now, oldest first.
	ListRetryDue(ctx context.Context, typ string, now time.Time, limit int) ([]Job, error)
	// OpenDeployments returns the Pending or Running Deployment jobs of the certificate to
	// the target.
	OpenDeployments(ctx context.Context, certificateID, targetID string) ([]Job, error)
}
