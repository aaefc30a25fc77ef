package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"certctl/app/agentapi"
	"certctl/app/agents"
	"certctl/app/auth"
	"certctl/app/middleware"
	"certctl/store"
)

// Agent is an enrolled agent as the API shows it; never its credential.
type Agent struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	Hostname         string     `json:"hostname"`
	OS               string     `json:"os"`
	Architecture     string     `json:"architecture"`
	Version          string     `json:"version"`
	Addresses        []string   `json:"addresses"`
	AllowedPaths     []string   `json:"allowed_paths"`
	Status           string     `json:"status"`
	CredentialPrefix string     `json:"credential_prefix"`
	LastHeartbeatAt  *time.Time `json:"last_heartbeat_at"`
	RetiredAt        *time.Time `json:"retired_at"`
	RetiredReason    string     `json:"retired_reason"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

func agentOut(a store.Agent) Agent {
	return Agent{ID: a.ID, Name: a.Name, Hostname: a.Hostname, OS: a.OS,
		Architecture: a.Architecture, Version: a.Version, Addresses: nonNil(a.Addresses),
		AllowedPaths: nonNil(a.AllowedPaths), Status: a.Status,
		CredentialPrefix: a.CredentialPrefix, LastHeartbeatAt: optionalTime(a.LastHeartbeatAt),
		RetiredAt: optionalTime(a.RetiredAt), RetiredReason: a.RetiredReason,
		CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt}
}

// RetireInput is the optional body of retiring an agent.
type RetireInput struct {
	Reason string `json:"reason"`
}

// CredentialRotated answers a credential rotation; the credential is shown only here.
type CredentialRotated struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
}

// EnrollmentToken is a one-time enrollment token as the API lists it.
type EnrollmentToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Prefix    string     `json:"prefix"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at"`
	AgentID   *string    `json:"agent_id"`
}

// EnrollmentTokenInput is the body that creates an enrollment token.
type EnrollmentTokenInput struct {
	Name       string `json:"name"`
	TTLSeconds int    `json:"ttl_seconds"`
}

// EnrollmentTokenCreated answers token creation; the token is shown only here.
type EnrollmentTokenCreated struct {
	EnrollmentToken
	Token string `json:"token"`
}

func tokenOut(t store.EnrollmentToken) EnrollmentToken {
	return EnrollmentToken{ID: t.ID, Name: t.Name, Prefix: t.Prefix, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, UsedAt: optionalTime(t.UsedAt),
		AgentID: optional(t.AgentID)}
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request) {
	f := store.AgentFilter{Status: r.URL.Query().Get("status")}
	a.versionedList(w, r, store.AreaAgents, func(p store.Page, page int,
		version int64) (any, error) {
		list, next, err := a.agents.List(r.Context(), f, p)
		if err != nil {
			return nil, err
		}
		total, err := a.counts.get(fmt.Sprintf("agents|%+v", f), version,
			func() (int, error) { return a.st.CountAgents(r.Context(), f) })
		return listOf(list, agentOut, total, p, page, next), err
	})
}

func (a *API) getAgent(w http.ResponseWriter, r *http.Request) {
	ag, err := a.agents.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, agentOut(ag))
}

func (a *API) retireAgent(w http.ResponseWriter, r *http.Request) {
	var in RetireInput
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			a.fail(w, r, err)
			return
		}
	}
	if in.Reason == "" {
		in.Reason = r.URL.Query().Get("reason")
	}
	if err := a.agents.Retire(r.Context(), r.PathValue("id"), in.Reason); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateAgentCredential(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	credential, err := a.agents.RotateCredential(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CredentialRotated{AgentID: id, Credential: credential})
}

func (a *API) listEnrollmentTokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.agents.Tokens(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(list, tokenOut, len(list), store.Page{Limit: len(list)},
		1, ""))
}

func (a *API) createEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	in := EnrollmentTokenInput{TTLSeconds: 24 * 3600}
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	t, token, err := a.agents.CreateToken(r.Context(), in.Name,
		time.Duration(in.TTLSeconds)*time.Second)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, EnrollmentTokenCreated{EnrollmentToken: tokenOut(t),
		Token: token})
}

func (a *API) deleteEnrollmentToken(w http.ResponseWriter, r *http.Request) {
	if err := a.agents.DeleteToken(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// The agent's own calls.

type agentKey struct{}

// callingAgent returns the agent that authenticated the request.
func callingAgent(ctx context.Context) store.AgentIdentity {
	ag, _ := ctx.Value(agentKey{}).(store.AgentIdentity)
	return ag
}

// errOtherAgent answers a credential that names another agent in the path.
var errOtherAgent = errors.New("a credential acts only for its own agent")

// agentOnly lets a request through only with an agent credential that belongs to the agent
// the path names. A retired agent gets 410 Gone, which tells it to stop.
func (a *API) agentOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		ag, err := a.agents.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if ag.ID != r.PathValue("id") {
			a.fail(w, r, errOtherAgent)
			return
		}
		ctx := context.WithValue(r.Context(), agentKey{}, ag)
		ctx = auth.WithPrincipal(ctx, auth.Principal{Actor: "agent:" + ag.Name})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *API) enrollAgent(w http.ResponseWriter, r *http.Request) {
	var in agentapi.EnrollRequest
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	out, err := a.agents.Enroll(r.Context(), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (a *API) agentHeartbeat(w http.ResponseWriter, r *http.Request) {
	var in agentapi.Heartbeat
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if err := a.agents.Heartbeat(r.Context(), callingAgent(r.Context()), in); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// agentWork answers an agent's poll. The tag comes from the agent's work version, read
// with its credential, so an agent whose work has not changed gets 304 without the work
// query running.
func (a *API) agentWork(w http.ResponseWriter, r *http.Request) {
	ag := callingAgent(r.Context())
	tag := agents.WorkTag(ag)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if middleware.NoneMatch(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	work, err := a.agents.Work(r.Context(), ag)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, work)
}

func (a *API) agentCSR(w http.ResponseWriter, r *http.Request) {
	var in agentapi.CSR
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	j, err := a.agents.SubmitCSR(r.Context(), callingAgent(r.Context()), r.PathValue("job"),
		in.CSRPEM)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, jobOut(j))
}

func (a *API) agentMaterial(w http.ResponseWriter, r *http.Request) {
	m, err := a.agents.Material(r.Context(), callingAgent(r.Context()), r.PathValue("job"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, m)
}

func (a *API) agentReport(w http.ResponseWriter, r *http.Request) {
	var in agentapi.Report
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	j, err := a.agents.Report(r.Context(), callingAgent(r.Context()), r.PathValue("job"), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobOut(j))
}

// DiscoveryAccepted answers a discovery report.
type DiscoveryAccepted struct {
	Found int `json:"found"`
	New   int `json:"new"`
}

func (a *API) agentDiscovery(w http.ResponseWriter, r *http.Request) {
	var in agentapi.Discovery
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	found, added, err := a.agents.ReportDiscovery(r.Context(), callingAgent(r.Context()), in)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, DiscoveryAccepted{Found: found, New: added})
}
