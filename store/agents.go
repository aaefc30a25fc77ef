package store

import (
	"context"
	"encoding/json"
	"time"
)

// Agent statuses.
const (
	AgentOnline  = "Online"
	AgentOffline = "Offline"
	AgentRetired = "Retired"
)

// Agent is an enrolled `certctl agent`: the host it runs on and its credential, kept only as
// a hash.
type Agent struct {
	ID           string
	Name         string
	Hostname     string
	OS           string
	Architecture string
	Version      string
	Addresses    []string
	// AllowedPaths are where the agent lets deploys write, as it last reported them.
	AllowedPaths []string
	Status       string
	// CredentialHash is the SHA-256 of the agent's credential; nil once revoked.
	CredentialHash   []byte
	CredentialPrefix string
	// WorkVersion grows whenever anything in the agent's work changes: one of its jobs or
	// targets is written. The database keeps it (triggers), so no code path can forget.
	WorkVersion     int64
	LastHeartbeatAt time.Time
	RetiredAt       time.Time // zero while not retired
	RetiredReason   string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// AgentIdentity is what authenticating an agent's call needs: who the agent is, whether it
// may still call, and the version of its work. Reading only this keeps the poll path cheap.
type AgentIdentity struct {
	ID             string
	Name           string
	Status         string
	CredentialHash []byte
	WorkVersion    int64
}

// AgentWatcher is implemented by stores that announce, after each commit, which agents'
// rows changed (PostgreSQL does, with LISTEN and NOTIFY), so that callers may keep agent
// identities in memory while they watch.
type AgentWatcher interface {
	// WatchAgents runs until ctx ends. It calls changed with the ID of each agent whose
	// row a committed transaction changed or deleted, and listening with false when
	// announcements may be missed from then on (the connection was lost) and with true
	// once they are heard again. Announcements made while it did not listen are lost, so a
	// caller drops what it kept on either call to listening.
	WatchAgents(ctx context.Context, changed func(id string), listening func(bool))
}

// AgentHost is what a heartbeat reports about the agent's host.
type AgentHost struct {
	Hostname     string
	OS           string
	Architecture string
	Version      string
	Addresses    []string
	AllowedPaths []string
}

// AgentFilter narrows ListAgents; zero values match everything but retired agents.
type AgentFilter struct {
	// Status selects one status; "" selects every status but Retired.
	Status string
}

// EnrollmentToken is a one-time secret an admin hands to one new agent. Only its hash is
// kept.
type EnrollmentToken struct {
	ID        string
	Hash      []byte
	Prefix    string
	Name      string // what the token is for, shown in lists
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero while unused
	AgentID   string    // the agent that used it
}

// AgentQueries reads and writes agents and enrollment tokens. Agent names are unique, without
// regard to letter case, among agents that are not retired.
type AgentQueries interface {
	// CreateAgent inserts a; ErrConflict when the name is taken.
	CreateAgent(ctx context.Context, a Agent) error
	GetAgent(ctx context.Context, id string) (Agent, error)
	// GetAgentIdentity finds the agent whose credential hash is hash and returns what
	// authenticating its call needs; ErrNotFound when no agent has it.
	GetAgentIdentity(ctx context.Context, hash []byte) (AgentIdentity, error)
	// ListAgents returns agents by name and the keyset position of the last.
	ListAgents(ctx context.Context, f AgentFilter, p Page) ([]Agent, string, error)
	CountAgents(ctx context.Context, f AgentFilter) (int, error)
	// CountAgentsByStatus returns how many agents have each status.
	CountAgentsByStatus(ctx context.Context) (map[string]int, error)
	// RecordHeartbeat stores h and the heartbeat time at, and brings an Offline agent back
	// Online; ErrNotFound when the agent does not exist or is retired.
	RecordHeartbeat(ctx context.Context, id string, h AgentHost, at time.Time) error
	// MarkAgentsOffline moves Online agents whose last heartbeat is older than before to
	// Offline and returns their IDs.
	MarkAgentsOffline(ctx context.Context, before, at time.Time) ([]string, error)
	// SetAgentCredential replaces the credential hash and prefix; a nil hash revokes it.
	SetAgentCredential(ctx context.Context, id string, hash []byte, prefix string,
		at time.Time) error
	// RetireAgent marks the agent Retired with reason. Its credential hash stays, so that
	// GetAgentIdentity still finds it and the agent can be told it is retired; callers
	// treat a retired agent's credential as no longer valid. ErrNotFound when missing or
	// already retired.
	RetireAgent(ctx context.Context, id, reason string, at time.Time) error

	CreateEnrollmentToken(ctx context.Context, t EnrollmentToken) error
	// ListEnrollmentTokens returns tokens newest first.
	ListEnrollmentTokens(ctx context.Context) ([]EnrollmentToken, error)
	GetEnrollmentTokenByHash(ctx context.Context, hash []byte) (EnrollmentToken, error)
	// UseEnrollmentToken marks the token used by agentID; ErrNotFound when it does not exist,
	// was used already or expired before at. Two callers never both succeed.
	UseEnrollmentToken(ctx context.Context, id, agentID string, at time.Time) error
	// DeleteEnrollmentToken removes an unused token.
	DeleteEnrollmentToken(ctx context.Context, id string) error
}

// Target is where an agent deploys certificates: a web server's files, a keystore, a
// directory a proxy watches.
type Target struct {
	ID      string
	AgentID string
	Name    string
	Type    string
	// Config is the type's configuration without its secrets, a JSON object.
	Config json.RawMessage
	// SecretsSealed holds the configuration's secret fields, sealed; nil when it has none.
	SecretsSealed []byte
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TargetFilter narrows ListTargets; zero values match everything.
type TargetFilter struct {
	AgentID       string
	CertificateID string // targets mapped to this certificate
	Type          string
}

// TargetQueries reads and writes targets and their mapping to certificates. Target names are
// unique per agent without regard to letter case.
type TargetQueries interface {
	// ListTargets returns targets by name and the keyset position of the last.
	ListTargets(ctx context.Context, f TargetFilter, p Page) ([]Target, string, error)
	CountTargets(ctx context.Context, f TargetFilter) (int, error)
	GetTarget(ctx context.Context, id string) (Target, error)
	// CreateTarget inserts t; ErrConflict when the name is taken on its agent or the agent
	// does not exist.
	CreateTarget(ctx context.Context, t Target) error
	// UpdateTarget replaces name, type, config, secrets and updated time (not the agent).
	UpdateTarget(ctx context.Context, t Target) error
	// DeleteTarget removes a target and its mappings.
	DeleteTarget(ctx context.Context, id string) error
	// SetCertificateTargets makes targetIDs the certificate's targets, replacing the old
	// mapping; ErrConflict when one does not exist.
	SetCertificateTargets(ctx context.Context, certificateID string, targetIDs []string) error
	// CertificateTargetIDs returns the IDs of the certificate's targets, sorted.
	CertificateTargetIDs(ctx context.Context, certificateID string) ([]string, error)
	// TargetCertificateIDs returns the IDs of the certificates mapped to the target, sorted.
	TargetCertificateIDs(ctx context.Context, targetID string) ([]string, error)
	// ListVerificationDue returns up to limit mappings, by certificate and target, whose
	// deployment is due to be checked again: the target's configuration has "verify", the
	// certificate has a version and is neither Revoked nor Archived, a deployment of it to
	// the target has completed, and none is Pending, Running, waiting for a retry, or
	// finished at or after before.
	ListVerificationDue(ctx context.Context, before time.Time, limit int) (
		[]CertificateTarget, error)
}

// CertificateTarget is one mapping of a certificate to a target.
type CertificateTarget struct {
	CertificateID string
	TargetID      string
}

// Discovered certificate statuses.
const (
	DiscoveredUnmanaged = "Unmanaged"
	DiscoveredManaged   = "Managed"
	DiscoveredDismissed = "Dismissed"
)

// DiscoveredCertificate is a certificate found on a host or on the network that may or may
// not be managed. One record per certificate and place: the same certificate in two files
// is two records.
type DiscoveredCertificate struct {
	ID string
	// AgentID is the agent that found it; "" for network discovery.
	AgentID      string
	Location     string // file path, or host:port
	Format       string // "pem", "der", "pkcs12" or "tls"
	Fingerprint  string
	Subject      string
	CommonName   string
	SANs         []string
	Issuer       string
	Serial       string
	NotBefore    time.Time
	NotAfter     time.Time
	KeyAlgorithm string
	KeyBits      int
	IsCA         bool
	KeyFound     bool
	CertPEM      string
	Status       string
	// CertificateID is the managed certificate it became or matches, when Managed.
	CertificateID string
	FirstSeenAt   time.Time
	LastSeenAt    time.Time
	UpdatedAt     time.Time
}

// DiscoveredFilter narrows ListDiscovered; zero values match everything.
type DiscoveredFilter struct {
	AgentID string
	Status  string
	// Network selects only network discoveries when true.
	Network bool
}

// DiscoveryScan records one scan: an agent's report or a network scan.
type DiscoveryScan struct {
	ID         string
	AgentID    string // "" for network scans
	Targets    []string
	Found      int
	New        int
	Errors     int
	StartedAt  time.Time
	FinishedAt time.Time
}

// NetworkScanTarget is a set of addresses and ports the server scans for TLS certificates.
type NetworkScanTarget struct {
	ID         string
	Name       string
	Hosts      []string // host names, addresses or CIDRs
	Ports      []int
	Enabled    bool
	LastScanAt time.Time
	LastError  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// DiscoveryQueries reads and writes discovered certificates, scans and network scan targets.
type DiscoveryQueries interface {
	// UpsertDiscovered stores d, matched on fingerprint, agent and location: a new record
	// is inserted as given, a known one gets d's details and LastSeenAt and keeps its ID,
	// status, certificate and first-seen time. It reports whether the record was new and
	// returns the stored ID.
	UpsertDiscovered(ctx context.Context, d DiscoveredCertificate) (id string, isNew bool,
		err error)
	// ListDiscovered returns records by last-seen time, newest first, and the keyset
	// position of the last.
	ListDiscovered(ctx context.Context, f DiscoveredFilter, p Page) ([]DiscoveredCertificate,
		string, error)
	CountDiscovered(ctx context.Context, f DiscoveredFilter) (int, error)
	GetDiscovered(ctx context.Context, id string) (DiscoveredCertificate, error)
	// SetDiscoveredStatus sets status and the managed certificate of record id.
	SetDiscoveredStatus(ctx context.Context, id, status, certificateID string,
		at time.Time) error

	CreateDiscoveryScan(ctx context.Context, s DiscoveryScan) error
	// ListDiscoveryScans returns up to limit scans, newest first; agentID "" means all.
	ListDiscoveryScans(ctx context.Context, agentID string, limit int) ([]DiscoveryScan,
		error)

	ListNetworkScanTargets(ctx context.Context) ([]NetworkScanTarget, error)
	GetNetworkScanTarget(ctx context.Context, id string) (NetworkScanTarget, error)
	// CreateNetworkScanTarget inserts t; ErrConflict when the name is taken.
	CreateNetworkScanTarget(ctx context.Context, t NetworkScanTarget) error
	UpdateNetworkScanTarget(ctx context.Context, t NetworkScanTarget) error
	DeleteNetworkScanTarget(ctx context.Context, id string) error
	// RecordNetworkScan sets the last scan time and error of target id.
	RecordNetworkScan(ctx context.Context, id string, at time.Time, scanErr string) error
}
