// Package agentapi is the wire protocol between `certctl agent` and the server: the JSON
// bodies of the agent's calls, shared by both ends so that they cannot drift apart.
//
// Every call after enrollment carries the agent's own credential as a Bearer token and may
// only touch that agent's work, targets and certificates. A retired agent gets 410 on every
// call and stops.
package agentapi

import (
	"encoding/json"
	"time"
)

// Paths of the agent's calls, under the server's base URL. {id} is the agent's ID, {job}
// a job's.
const (
	PathEnroll    = "/api/v1/agents/enroll"
	PathHeartbeat = "/api/v1/agents/{id}/heartbeat"
	PathWork      = "/api/v1/agents/{id}/work"
	PathCSR       = "/api/v1/agents/{id}/jobs/{job}/csr"
	PathMaterial  = "/api/v1/agents/{id}/jobs/{job}/material"
	PathReport    = "/api/v1/agents/{id}/jobs/{job}/report"
	PathDiscovery = "/api/v1/agents/{id}/discoveries"
)

// EnrollRequest asks for a credential. Token is the bootstrap token
// (CERTCTL_AGENT_BOOTSTRAP_TOKEN) or a one-time enrollment token an admin created.
type EnrollRequest struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	Host
}

// EnrollResponse carries the agent's ID and its credential, which the server keeps only as a
// hash: the agent stores it 0600 in its state directory and sends it as a Bearer token.
type EnrollResponse struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
}

// Host describes the machine an agent runs on, sent at enrollment and with every heartbeat.
type Host struct {
	Version      string   `json:"version"`
	Hostname     string   `json:"hostname"`
	OS           string   `json:"os"`
	Architecture string   `json:"architecture"`
	Addresses    []string `json:"addresses"`
	// AllowedPaths are the agent's CERTCTL_AGENT_ALLOWED_PATHS: the server refuses target
	// configurations that would write elsewhere.
	AllowedPaths []string `json:"allowed_paths"`
}

// Heartbeat is the body of a heartbeat.
type Heartbeat struct {
	Host
}

// Work is the agent's pending work. The server answers GET PathWork with an ETag; while
// nothing changed for this agent, a request with If-None-Match gets 304.
type Work struct {
	Items []WorkItem `json:"items"`
}

// Work item kinds.
const (
	KindCSR    = "csr"    // generate a key on the host and submit a CSR
	KindDeploy = "deploy" // deploy a certificate to a target
)

// WorkItem is one thing for the agent to do.
type WorkItem struct {
	Kind          string `json:"kind"`
	JobID         string `json:"job_id"`
	CertificateID string `json:"certificate_id"`

	// For KindCSR: the names and the key type the profile wants.
	CommonName string   `json:"common_name,omitempty"`
	SANs       []string `json:"sans,omitempty"`
	KeyType    string   `json:"key_type,omitempty"` // e.g. "ecdsa-p256", "rsa-3072", "ed25519"

	// For KindDeploy: the target, with its configuration (secrets included: it travels only
	// to the target's own agent).
	Target *Target `json:"target,omitempty"`
}

// Target is a deployment target as its agent sees it.
type Target struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Type   string          `json:"type"`
	Config json.RawMessage `json:"config"`
}

// CSR submits the CSR for a KindCSR item.
type CSR struct {
	CSRPEM string `json:"csr_pem"`
}

// Material is what a deployment needs, fetched by the target's agent for a KindDeploy item.
// KeyPEM is set only when the server holds the certificate's key; otherwise the agent uses
// the key it generated for the certificate.
type Material struct {
	VersionID   string `json:"version_id"`
	Serial      string `json:"serial"`
	Fingerprint string `json:"fingerprint"`
	CertPEM     string `json:"cert_pem"`
	ChainPEM    string `json:"chain_pem"`
	KeyPEM      string `json:"key_pem,omitempty"`
}

// Report results of a deployment or of a CSR job the agent could not do.
const (
	ResultDeployed   = "deployed"    // written, reloaded and verified
	ResultUnchanged  = "unchanged"   // what was there already matched
	ResultRolledBack = "rolled_back" // failed, and the previous files are back in place
	ResultFailed     = "failed"      // failed; see Error (and Steps for where)
)

// Report tells the server how a job went.
type Report struct {
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
	// Steps records each deploy step with its outcome and duration.
	Steps      []Step    `json:"steps,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Serial is what the verifying handshake saw served, when one was made.
	Serial string `json:"serial,omitempty"`
}

// Step is one step of a deploy.
type Step struct {
	Name       string `json:"name"` // e.g. "write", "validate", "reload", "verify", "restore"
	OK         bool   `json:"ok"`
	Detail     string `json:"detail,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Discovery is the report of one scan of the agent's discovery directories.
type Discovery struct {
	Directories  []string      `json:"directories"`
	Certificates []Discovered  `json:"certificates"`
	Errors       []ScanProblem `json:"errors,omitempty"`
	StartedAt    time.Time     `json:"started_at"`
	FinishedAt   time.Time     `json:"finished_at"`
}

// Discovered is one certificate found in a file (or, for network discovery, at an address).
type Discovered struct {
	Fingerprint  string    `json:"fingerprint"` // SHA-256 of the DER, lower-case hex
	Subject      string    `json:"subject"`
	CommonName   string    `json:"common_name"`
	SANs         []string  `json:"sans"`
	Issuer       string    `json:"issuer"`
	Serial       string    `json:"serial"` // lower-case hex
	NotBefore    time.Time `json:"not_before"`
	NotAfter     time.Time `json:"not_after"`
	KeyAlgorithm string    `json:"key_algorithm"` // e.g. "ecdsa-p256", "rsa-2048"
	KeyBits      int       `json:"key_bits"`
	IsCA         bool      `json:"is_ca"`
	// Location is the file path, or host:port for network discovery.
	Location string `json:"location"`
	// Format is "pem", "der", "pkcs12" or "tls".
	Format  string `json:"format"`
	CertPEM string `json:"cert_pem"`
	// KeyFound reports whether a matching private key sits beside the certificate (same
	// file, or a PKCS#12 bundle). The key itself is never sent.
	KeyFound bool `json:"key_found"`
}

// ScanProblem is a file or address a scan could not read, and why.
type ScanProblem struct {
	Location string `json:"location"`
	Error    string `json:"error"`
}
