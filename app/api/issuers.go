package api

import (
	"encoding/json"
	"net/http"
	"time"

	"certctl/store"
)

// Issuer is an issuer as the API shows it, without secrets.
type Issuer struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Config    json.RawMessage `json:"config"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Profile is a profile as the API shows it.
type Profile struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Description        string    `json:"description"`
	KeyTypes           []string  `json:"key_types"`
	MaxLifetimeSeconds int64     `json:"max_lifetime_seconds"`
	ExtKeyUsages       []string  `json:"ext_key_usages"`
	SANPatterns        []string  `json:"san_patterns"`
	AllowIP            bool      `json:"allow_ip"`
	AllowEmail         bool      `json:"allow_email"`
	AllowURI           bool      `json:"allow_uri"`
	MustStaple         bool      `json:"must_staple"`
	Approval           string    `json:"approval"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// RenewalPolicy is a renewal policy as the API shows it.
type RenewalPolicy struct {
	ID                  string    `json:"id"`
	Name                string    `json:"name"`
	RenewFraction       float64   `json:"renew_fraction"`
	RenewBeforeSeconds  int64     `json:"renew_before_seconds"`
	MaxAttempts         int       `json:"max_attempts"`
	RetryBackoffSeconds int64     `json:"retry_backoff_seconds"`
	AlertBeforeSeconds  []int64   `json:"alert_before_seconds"`
	CreatedAt           time.Time `json:"created_at"`
	UpdatedAt           time.Time `json:"updated_at"`
}

func issuerOut(i store.Issuer) Issuer {
	cfg := json.RawMessage(i.Config)
	if len(cfg) == 0 {
		cfg = json.RawMessage(`{}`)
	}
	return Issuer{ID: i.ID, Name: i.Name, Type: i.Type, Config: cfg, CreatedAt: i.CreatedAt,
		UpdatedAt: i.UpdatedAt}
}

func profileOut(p store.Profile) Profile {
	return Profile{ID: p.ID, Name: p.Name, Description: p.Description,
		KeyTypes: nonNil(p.KeyTypes), MaxLifetimeSeconds: int64(p.MaxLifetime.Seconds()),
		ExtKeyUsages: nonNil(p.ExtKeyUsages), SANPatterns: nonNil(p.SANPatterns),
		AllowIP: p.AllowIP, AllowEmail: p.AllowEmail, AllowURI: p.AllowURI,
		MustStaple: p.MustStaple, Approval: p.Approval, CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt}
}

func policyOut(p store.RenewalPolicy) RenewalPolicy {
	return RenewalPolicy{ID: p.ID, Name: p.Name, RenewFraction: p.RenewFraction,
		RenewBeforeSeconds: int64(p.RenewBefore.Seconds()), MaxAttempts: p.MaxAttempts,
		RetryBackoffSeconds: int64(p.RetryBackoff.Seconds()),
		AlertBeforeSeconds:  secondsOf(p.AlertBefore), CreatedAt: p.CreatedAt,
		UpdatedAt: p.UpdatedAt}
}

func secondsOf(ds []time.Duration) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = int64(d / time.Second)
	}
	return out
}

// all answers a short list that needs no paging.
func all[T, R any](w http.ResponseWriter, records []R, conv func(R) T) {
	p := store.Page{Limit: len(records)}
	writeJSON(w, http.StatusOK, listOf(records, conv, len(records), p, 1, ""))
}

func (a *API) listIssuers(w http.ResponseWriter, r *http.Request) {
	list, err := a.st.ListIssuers(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all(w, list, issuerOut)
}

func (a *API) getIssuer(w http.ResponseWriter, r *http.Request) {
	i, err := a.st.GetIssuer(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, issuerOut(i))
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	list, err := a.st.ListProfiles(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all(w, list, profileOut)
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.st.GetProfile(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, profileOut(p))
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request) {
	list, err := a.st.ListRenewalPolicies(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	all(w, list, policyOut)
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) {
	p, err := a.st.GetRenewalPolicy(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, policyOut(p))
}
