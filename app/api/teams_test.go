package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestTeamLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.admin("POST", "/api/v1/teams",
			map[string]any{"name": " Platform ", "description": "runs the fleet"})
		r.want(t, http.StatusCreated, "")
		id := r.str("id")
		if r.str("name") != "Platform" || r.header.Get("Location") != "/api/v1/teams/"+id {
			t.Fatalf("got %s (Location %q)", r.raw, r.header.Get("Location"))
		}

		got := e.admin("GET", "/api/v1/teams/"+id, nil).want(t, http.StatusOK, "")
		if got.str("description") != "runs the fleet" {
			t.Errorf("get: got %s", got.raw)
		}

		patched := e.admin("PATCH", "/api/v1/teams/"+id, map[string]any{"name": "Platform SRE"})
		patched.want(t, http.StatusOK, "")
		if patched.str("description") != "runs the fleet" || patched.str("name") != "Platform SRE" {
			t.Errorf("PATCH must keep fields it does not name: got %s", patched.raw)
		}
		put := e.admin("PUT", "/api/v1/teams/"+id, map[string]any{"name": "SRE"})
		put.want(t, http.StatusOK, "")
		if put.str("description") != "" {
			t.Errorf("PUT must clear fields it does not name: got %s", put.raw)
		}

		list := e.admin("GET", "/api/v1/teams", nil).want(t, http.StatusOK, "")
		if list.body["total"] != 1.0 || list.body["page"] != 1.0 || list.body["per_page"] != 50.0 {
			t.Errorf("list envelope: got %s", list.raw)
		}

		e.admin("DELETE", "/api/v1/teams/"+id, nil).want(t, http.StatusNoContent, "")
		e.admin("GET", "/api/v1/teams/"+id, nil).want(t, http.StatusNotFound, "not_found")
		e.admin("DELETE", "/api/v1/teams/"+id, nil).want(t, http.StatusNotFound, "not_found")

		actions := map[string]bool{}
		for _, ev := range e.admin("GET", "/api/v1/audit?resource_id="+id, nil).list() {
			actions[ev["action"].(string)] = true
			if ev["actor"] != "apikey:test-admin" {
				t.Errorf("audit actor: got %v, want apikey:test-admin", ev["actor"])
			}
		}
		for _, a := range []string{"team.create", "team.update", "team.delete"} {
			if !actions[a] {
				t.Errorf("no %s audit event; got %v", a, actions)
			}
		}
	})
}

// TestBadInput checks that every malformed request gets a clear 4xx in the contract's shape
// and changes nothing stored.
func TestBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.admin("POST", "/api/v1/teams", map[string]any{"name": "Taken"}).
			want(t, http.StatusCreated, "")
		tests := []struct {
			name   string
			body   any
			header []string
			status int
			code   string
			field  string
		}{
			{"malformed JSON", `{"name": "x"`, nil, 400, "bad_request", ""},
			{"not an object", `["x"]`, nil, 400, "bad_request", ""},
			{"unknown field", `{"name": "x", "colour": "red"}`, nil, 400, "bad_request", "colour"},
			{"wrong type", `{"name": 7}`, nil, 400, "bad_request", "name"},
			{"trailing data", `{"name": "x"} {}`, nil, 400, "bad_request", ""},
			{"empty body", ``, nil, 400, "bad_request", ""},
			{"wrong content type", `{"name": "x"}`, []string{"Content-Type", "text/plain"},
				415, "unsupported_media_type", ""},
			{"too large", `{"name": "` + strings.Repeat("x", 70000) + `"}`, nil, 413,
				"payload_too_large", ""},
			{"missing name", `{"description": "d"}`, nil, 400, "validation_failed", "name"},
			{"name too long", `{"name": "` + strings.Repeat("x", 101) + `"}`, nil, 400,
				"validation_failed", "name"},
			{"duplicate name", `{"name": "TAKEN"}`, nil, 409, "conflict", "name"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := e.counts()
				r := e.admin("POST", "/api/v1/teams", tc.body, tc.header...)
				r.want(t, tc.status, tc.code)
				if tc.field != "" && r.field(tc.field) == "" {
					t.Errorf("got %s, want fields.%s to name the problem", r.raw, tc.field)
				}
				if after := e.counts(); after != before {
					t.Errorf("refused request changed the store: %v -> %v", before, after)
				}
			})
		}
	})
}

func TestDeleteTeamWithOwners(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		team := e.admin("POST", "/api/v1/teams", map[string]any{"name": "Payments"})
		id := team.str("id")
		e.admin("POST", "/api/v1/owners", map[string]any{"name": "Ann",
			"email": "ann@example.com", "team_id": id}).want(t, http.StatusCreated, "")

		before := e.counts()
		r := e.admin("DELETE", "/api/v1/teams/"+id, nil).want(t, http.StatusConflict, "conflict")
		if !strings.Contains(r.str("message"), "owner") {
			t.Errorf("message should say the team still has owners: %s", r.raw)
		}
		if after := e.counts(); after != before {
			t.Errorf("refused delete changed the store: %v -> %v", before, after)
		}
		e.admin("GET", "/api/v1/teams/"+id, nil).want(t, http.StatusOK, "")
	})
}
