package api

import (
	"net/http"
	"time"

	"certctl/app/org"
	"certctl/store"
)

// Owner is an owner as the API shows it. TeamID is null for an owner in no team.
type Owner struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	TeamID    *string   `json:"team_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// OwnerInput is the body of owner creation and updates.
type OwnerInput struct {
	Name   string  `json:"name"`
	Email  string  `json:"email"`
	TeamID *string `json:"team_id"`
}

func ownerOut(o store.Owner) Owner {
	out := Owner{ID: o.ID, Name: o.Name, Email: o.Email, CreatedAt: o.CreatedAt,
		UpdatedAt: o.UpdatedAt}
	if o.TeamID != "" {
		out.TeamID = &o.TeamID
	}
	return out
}

func (in OwnerInput) service() org.OwnerInput {
	out := org.OwnerInput{Name: in.Name, Email: in.Email}
	if in.TeamID != nil {
		out.TeamID = *in.TeamID
	}
	return out
}

func (a *API) listOwners(w http.ResponseWriter, r *http.Request) {
	p, page, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := store.OwnerFilter{TeamID: r.URL.Query().Get("team_id")}
	owners, next, total, err := a.org.ListOwners(r.Context(), f, p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(owners, ownerOut, total, p, page, next))
}

func (a *API) getOwner(w http.ResponseWriter, r *http.Request) {
	o, err := a.org.GetOwner(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ownerOut(o))
}

func (a *API) createOwner(w http.ResponseWriter, r *http.Request) {
	var in OwnerInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.org.CreateOwner(r.Context(), in.service())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/owners/"+o.ID)
	writeJSON(w, http.StatusCreated, ownerOut(o))
}

// replaceOwner sets every field; fields left out become empty.
func (a *API) replaceOwner(w http.ResponseWriter, r *http.Request) {
	a.updateOwner(w, r, OwnerInput{})
}

// patchOwner changes only the fields the body names; "team_id": null leaves the team.
func (a *API) patchOwner(w http.ResponseWriter, r *http.Request) {
	o, err := a.org.GetOwner(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.updateOwner(w, r, OwnerInput{Name: o.Name, Email: o.Email, TeamID: ownerOut(o).TeamID})
}

func (a *API) updateOwner(w http.ResponseWriter, r *http.Request, in OwnerInput) {
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	o, err := a.org.UpdateOwner(r.Context(), r.PathValue("id"), in.service())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ownerOut(o))
}

func (a *API) deleteOwner(w http.ResponseWriter, r *http.Request) {
	if err := a.org.DeleteOwner(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
