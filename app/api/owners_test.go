package api_test

import (
	"net/http"
	"testing"
)

func TestOwners(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		team := e.admin("POST", "/api/v1/teams", map[string]any{"name": "Edge"}).str("id")
		o := e.admin("POST", "/api/v1/owners", map[string]any{"name": "Bo",
			"email": "bo@example.com", "team_id": team}).want(t, http.StatusCreated, "")
		id := o.str("id")
		if o.str("team_id") != team {
			t.Fatalf("got %s", o.raw)
		}

		bad := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"unknown team", map[string]any{"name": "C", "email": "c@example.com",
				"team_id": "team-nope"}, "team_id"},
			{"bad e-mail", map[string]any{"name": "C", "email": "not-an-address"}, "email"},
			{"missing e-mail", map[string]any{"name": "C"}, "email"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := e.admin("POST", "/api/v1/owners", tc.body)
				r.want(t, http.StatusBadRequest, "validation_failed")
				if r.field(tc.field) == "" {
					t.Errorf("got %s, want fields.%s", r.raw, tc.field)
				}
			})
		}
		e.admin("POST", "/api/v1/owners", map[string]any{"name": "Twin",
			"email": "BO@example.com"}).want(t, http.StatusConflict, "conflict")

		list := e.admin("GET", "/api/v1/owners?team_id="+team, nil).want(t, http.StatusOK, "")
		if len(list.list()) != 1 {
			t.Errorf("owners of team: got %s", list.raw)
		}

		// PATCH with team_id null takes the owner out of the team and keeps the rest.
		p := e.admin("PATCH", "/api/v1/owners/"+id, map[string]any{"team_id": nil})
		p.want(t, http.StatusOK, "")
		if p.body["team_id"] != nil || p.str("email") != "bo@example.com" {
			t.Errorf("got %s", p.raw)
		}
		e.admin("DELETE", "/api/v1/teams/"+team, nil).want(t, http.StatusNoContent, "")
		e.admin("DELETE", "/api/v1/owners/"+id, nil).want(t, http.StatusNoContent, "")
	})
}
