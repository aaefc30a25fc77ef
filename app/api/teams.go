package api

import (
	"net/http"
	"time"

	"certctl/app/org"
	"certctl/store"
)

// Team is a team as the API shows it.
type Team struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// TeamInput is the body of team creation and updates.
type TeamInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func teamOut(t store.Team) Team {
	return Team{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt,
		UpdatedAt: t.UpdatedAt}
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request) {
	p, page, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	teams, next, total, err := a.org.ListTeams(r.Context(), p)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listOf(teams, teamOut, total, p, page, next))
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request) {
	t, err := a.org.GetTeam(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, teamOut(t))
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request) {
	var in TeamInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.org.CreateTeam(r.Context(), org.TeamInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/teams/"+t.ID)
	writeJSON(w, http.StatusCreated, teamOut(t))
}

// replaceTeam sets every field; fields left out become empty.
func (a *API) replaceTeam(w http.ResponseWriter, r *http.Request) {
	a.updateTeam(w, r, TeamInput{})
}

// patchTeam changes only the fields the body names.
func (a *API) patchTeam(w http.ResponseWriter, r *http.Request) {
	t, err := a.org.GetTeam(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.updateTeam(w, r, TeamInput{Name: t.Name, Description: t.Description})
}

func (a *API) updateTeam(w http.ResponseWriter, r *http.Request, in TeamInput) {
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	t, err := a.org.UpdateTeam(r.Context(), r.PathValue("id"), org.TeamInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, teamOut(t))
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request) {
	if err := a.org.DeleteTeam(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
