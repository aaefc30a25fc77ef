package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"certctl/app/agents"
	"certctl/store"
)

// Target is a deployment target as the API shows it. Config never holds the secret fields;
// SecretFields names those that have a value.
type Target struct {
	ID           string          `json:"id"`
	AgentID      string          `json:"agent_id"`
	Name         string          `json:"name"`
	Type         string          `json:"type"`
	Config       json.RawMessage `json:"config"`
	SecretFields []string        `json:"secret_fields"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
}

// TargetInput is the body that creates or replaces a target.
type TargetInput struct {
	AgentID string          `json:"agent_id"`
	Name    string          `json:"name"`
	Type    string          `json:"type"`
	Config  json.RawMessage `json:"config"`
}

func (a *API) targetOut(t store.Target) (Target, error) {
	names, err := a.agents.SecretNames(t)
	return Target{ID: t.ID, AgentID: t.AgentID, Name: t.Name, Type: t.Type, Config: t.Config,
		SecretFields: nonNil(names), CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}, err
}

func (a *API) listTargets(w http.ResponseWriter, r *http.Request) {
	p, page, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := store.TargetFilter{AgentID: q.Get("agent_id"), CertificateID: q.Get("certificate_id"),
		Type: q.Get("type")}
	list, next, err := a.agents.ListTargets(r.Context(), f, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	total, err := a.st.CountTargets(r.Context(), f)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := make([]Target, 0, len(list))
	for _, t := range list {
		o, err := a.targetOut(t)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		out = append(out, o)
	}
	writeJSON(w, http.StatusOK, listOf(out, func(t Target) Target { return t }, total, p, page,
		next))
}

func (a *API) writeTarget(w http.ResponseWriter, r *http.Request, status int, t store.Target,
	err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.targetOut(t)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, out)
}

func (a *API) getTarget(w http.ResponseWriter, r *http.Request) {
	t, _, err := a.agents.GetTarget(r.Context(), r.PathValue("id"))
	a.writeTarget(w, r, http.StatusOK, t, err)
}

func (a *API) createTarget(w http.ResponseWriter, r *http.Request) {
	var in TargetInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.agents.CreateTarget(r.Context(), agents.TargetInput(in))
	a.writeTarget(w, r, http.StatusCreated, t, err)
}

func (a *API) replaceTarget(w http.ResponseWriter, r *http.Request) {
	var in TargetInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.agents.UpdateTarget(r.Context(), r.PathValue("id"), agents.TargetInput(in))
	a.writeTarget(w, r, http.StatusOK, t, err)
}

func (a *API) deleteTarget(w http.ResponseWriter, r *http.Request) {
	if err := a.agents.DeleteTarget(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Deployment is a deployment job with the agent's report.
type Deployment struct {
	Job
	TargetID  string          `json:"target_id"`
	AgentID   string          `json:"agent_id"`
	StartedAt *time.Time      `json:"started_at"`
	Result    json.RawMessage `json:"result"`
}

func deploymentOut(j store.Job) Deployment {
	res := j.Result
	if len(res) == 0 {
		res = json.RawMessage("null")
	}
	return Deployment{Job: jobOut(j), TargetID: j.TargetID, AgentID: j.AgentID,
		StartedAt: optionalTime(j.StartedAt), Result: res}
}

// DeployInput is the optional body of a deployment request: the targets, or all.
type DeployInput struct {
	TargetIDs []string `json:"target_ids"`
}

func (a *API) listDeployments(w http.ResponseWriter, r *http.Request) {
	p, page, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	jobs, err := a.certs.Deployments(r.Context(), r.PathValue("id"), p.Limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(jobs, deploymentOut, len(jobs), p, page, ""))
}

func (a *API) deployCertificate(w http.ResponseWriter, r *http.Request) {
	var in DeployInput
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	jobs, err := a.certs.Deploy(r.Context(), r.PathValue("id"), in.TargetIDs)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, listOf(jobs, deploymentOut, len(jobs),
		store.Page{Limit: len(jobs)}, 1, ""))
}

// DiscoveredCertificate is a certificate an agent or a network scan found.
type DiscoveredCertificate struct {
	ID            string    `json:"id"`
	AgentID       *string   `json:"agent_id"`
	Location      string    `json:"location"`
	Format        string    `json:"format"`
	Fingerprint   string    `json:"fingerprint"`
	Subject       string    `json:"subject"`
	CommonName    string    `json:"common_name"`
	SANs          []string  `json:"sans"`
	Issuer        string    `json:"issuer"`
	Serial        string    `json:"serial"`
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	KeyAlgorithm  string    `json:"key_algorithm"`
	KeyBits       int       `json:"key_bits"`
	IsCA          bool      `json:"is_ca"`
	KeyFound      bool      `json:"key_found"`
	Status        string    `json:"status"`
	CertificateID *string   `json:"certificate_id"`
	FirstSeenAt   time.Time `json:"first_seen_at"`
	LastSeenAt    time.Time `json:"last_seen_at"`
}

func discoveredOut(d store.DiscoveredCertificate) DiscoveredCertificate {
	return DiscoveredCertificate{ID: d.ID, AgentID: optional(d.AgentID), Location: d.Location,
		Format: d.Format, Fingerprint: d.Fingerprint, Subject: d.Subject,
		CommonName: d.CommonName, SANs: nonNil(d.SANs), Issuer: d.Issuer, Serial: d.Serial,
		NotBefore: d.NotBefore, NotAfter: d.NotAfter, KeyAlgorithm: d.KeyAlgorithm,
		KeyBits: d.KeyBits, IsCA: d.IsCA, KeyFound: d.KeyFound, Status: d.Status,
		CertificateID: optional(d.CertificateID), FirstSeenAt: d.FirstSeenAt,
		LastSeenAt: d.LastSeenAt}
}

// ClaimInput is the body of a claim: a name for the new managed certificate, or the ID of
// one it is.
type ClaimInput struct {
	Name          string `json:"name"`
	CertificateID string `json:"certificate_id"`
	Environment   string `json:"environment"`
	OwnerID       string `json:"owner_id"`
	TeamID        string `json:"team_id"`
}

func (a *API) listDiscovered(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.DiscoveredFilter{AgentID: q.Get("agent_id"), Status: q.Get("status"),
		Network: q.Get("source") == "network"}
	a.versionedList(w, r, store.AreaDiscovered, func(p store.Page, page int,
		version int64) (any, error) {
		list, next, err := a.agents.ListDiscovered(r.Context(), f, p)
		if err != nil {
			return nil, err
		}
		total, err := a.counts.get(fmt.Sprintf("discovered|%+v", f), version,
			func() (int, error) { return a.st.CountDiscovered(r.Context(), f) })
		return listOf(list, discoveredOut, total, p, page, next), err
	})
}

func (a *API) getDiscovered(w http.ResponseWriter, r *http.Request) {
	d, err := a.agents.GetDiscovered(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, discoveredOut(d))
}

func (a *API) claimDiscovered(w http.ResponseWriter, r *http.Request) {
	var in ClaimInput
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	d, err := a.agents.Claim(r.Context(), r.PathValue("id"), agents.ClaimInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, discoveredOut(d))
}

func (a *API) dismissDiscovered(w http.ResponseWriter, r *http.Request) {
	d, err := a.agents.Dismiss(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, discoveredOut(d))
}

// NetworkScanTarget is a set of hosts and ports the server scans for certificates.
type NetworkScanTarget struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Hosts      []string   `json:"hosts"`
	Ports      []int      `json:"ports"`
	Enabled    bool       `json:"enabled"`
	LastScanAt *time.Time `json:"last_scan_at"`
	LastError  string     `json:"last_error"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// NetworkScanTargetInput is the body that creates or replaces a network scan target.
type NetworkScanTargetInput struct {
	Name    string   `json:"name"`
	Hosts   []string `json:"hosts"`
	Ports   []int    `json:"ports"`
	Enabled bool     `json:"enabled"`
}

// ScanResult answers a scan run on demand.
type ScanResult struct {
	Found int `json:"found"`
}

func scanTargetOut(t store.NetworkScanTarget) NetworkScanTarget {
	ports := t.Ports
	if ports == nil {
		ports = []int{}
	}
	return NetworkScanTarget{ID: t.ID, Name: t.Name, Hosts: nonNil(t.Hosts), Ports: ports,
		Enabled: t.Enabled, LastScanAt: optionalTime(t.LastScanAt), LastError: t.LastError,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (a *API) listScanTargets(w http.ResponseWriter, r *http.Request) {
	list, err := a.agents.ScanTargets(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(list, scanTargetOut, len(list),
		store.Page{Limit: len(list)}, 1, ""))
}

func (a *API) getScanTarget(w http.ResponseWriter, r *http.Request) {
	t, err := a.agents.ScanTarget(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, scanTargetOut(t))
}

func (a *API) saveScanTarget(w http.ResponseWriter, r *http.Request) {
	var in NetworkScanTargetInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	t, err := a.agents.SaveScanTarget(r.Context(), id, agents.ScanTargetInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if id == "" {
		status = http.StatusCreated
	}
	writeJSON(w, status, scanTargetOut(t))
}

func (a *API) deleteScanTarget(w http.ResponseWriter, r *http.Request) {
	if err := a.agents.DeleteScanTarget(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) runScanTarget(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := a.agents.ScanTarget(r.Context(), id); err != nil {
		a.fail(w, r, err)
		return
	}
	found, err := a.agents.ScanNetwork(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ScanResult{Found: found})
}
