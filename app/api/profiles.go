package api

import (
	"net/http"
	"time"

	"certctl/store"
)

// ProfileInput is the body of profile creation and replacement.
type ProfileInput struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	Description        string   `json:"description"`
	KeyTypes           []string `json:"key_types"`
	MaxLifetimeSeconds int64    `json:"max_lifetime_seconds"`
	ExtKeyUsages       []string `json:"ext_key_usages"`
	SANPatterns        []string `json:"san_patterns"`
	AllowIP            bool     `json:"allow_ip"`
	AllowEmail         bool     `json:"allow_email"`
	AllowURI           bool     `json:"allow_uri"`
	MustStaple         bool     `json:"must_staple"`
	Approval           string   `json:"approval"`
}

// PolicyInput is the body of renewal policy creation and replacement.
type PolicyInput struct {
	ID                  string  `json:"id"`
	Name                string  `json:"name"`
	RenewFraction       float64 `json:"renew_fraction"`
	RenewBeforeSeconds  int64   `json:"renew_before_seconds"`
	MaxAttempts         int     `json:"max_attempts"`
	RetryBackoffSeconds int64   `json:"retry_backoff_seconds"`
	AlertBeforeSeconds  []int64 `json:"alert_before_seconds"`
}

func (in ProfileInput) record() store.Profile {
	return store.Profile{ID: in.ID, Name: in.Name, Description: in.Description,
		KeyTypes: in.KeyTypes, MaxLifetime: time.Duration(in.MaxLifetimeSeconds) * time.Second,
		ExtKeyUsages: in.ExtKeyUsages, SANPatterns: in.SANPatterns, AllowIP: in.AllowIP,
		AllowEmail: in.AllowEmail, AllowURI: in.AllowURI, MustStaple: in.MustStaple,
		Approval: in.Approval}
}

func (in PolicyInput) record() store.RenewalPolicy {
	return store.RenewalPolicy{ID: in.ID, Name: in.Name, RenewFraction: in.RenewFraction,
		RenewBefore:  time.Duration(in.RenewBeforeSeconds) * time.Second,
		MaxAttempts:  in.MaxAttempts,
		RetryBackoff: time.Duration(in.RetryBackoffSeconds) * time.Second,
		AlertBefore:  durations(in.AlertBeforeSeconds)}
}

func durations(secs []int64) []time.Duration {
	var out []time.Duration
	for _, s := range secs {
		out = append(out, time.Duration(s)*time.Second)
	}
	return out
}

func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request) {
	if err := a.certs.DeleteProfile(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request) {
	if err := a.certs.DeletePolicy(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) createProfile(w http.ResponseWriter, r *http.Request) {
	a.saveProfile(w, r, true, "")
}

func (a *API) replaceProfile(w http.ResponseWriter, r *http.Request) {
	a.saveProfile(w, r, false, r.PathValue("id"))
}

func (a *API) saveProfile(w http.ResponseWriter, r *http.Request, create bool, id string) {
	var in ProfileInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if !create {
		in.ID = id
	}
	p, err := a.certs.SaveProfile(r.Context(), in.record(), create)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if create {
		w.Header().Set("Location", "/api/v1/profiles/"+p.ID)
		status = http.StatusCreated
	}
	writeJSON(w, status, profileOut(p))
}

func (a *API) createPolicy(w http.ResponseWriter, r *http.Request) {
	a.savePolicy(w, r, true, "")
}

func (a *API) replacePolicy(w http.ResponseWriter, r *http.Request) {
	a.savePolicy(w, r, false, r.PathValue("id"))
}

func (a *API) savePolicy(w http.ResponseWriter, r *http.Request, create bool, id string) {
	var in PolicyInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if !create {
		in.ID = id
	}
	p, err := a.certs.SavePolicy(r.Context(), in.record(), create)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if create {
		w.Header().Set("Location", "/api/v1/renewal-policies/"+p.ID)
		status = http.StatusCreated
	}
	writeJSON(w, status, policyOut(p))
}
