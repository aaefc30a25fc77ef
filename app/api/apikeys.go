package api

import (
	"net/http"
	"time"

	"certctl/store"
)

// APIKey is a stored API key as the API shows it: never its secret or hash.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Prefix     string     `json:"prefix"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// APIKeyInput is the body of API key creation.
type APIKeyInput struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// APIKeyCreated is the answer to API key creation, the one time the secret is shown.
type APIKeyCreated struct {
	APIKey
	Key string `json:"key"`
}

func apiKeyOut(k store.APIKey) APIKey {
	out := APIKey{ID: k.ID, Name: k.Name, Role: k.Role, Prefix: k.Prefix,
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt}
	if !k.LastUsedAt.IsZero() {
		out.LastUsedAt = &k.LastUsedAt
	}
	if !k.RevokedAt.IsZero() {
		out.RevokedAt = &k.RevokedAt
	}
	return out
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := a.keys.List(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := store.Page{Limit: len(keys)}
	writeJSON(w, http.StatusOK, listOf(keys, apiKeyOut, len(keys), p, 1, ""))
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in APIKeyInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	k, secret, err := a.keys.Create(r.Context(), in.Name, in.Role)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, APIKeyCreated{APIKey: apiKeyOut(k), Key: secret})
}

func (a *API) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	if err := a.keys.Revoke(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
