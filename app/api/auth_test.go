package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuthentication(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tests := []struct {
			name, header string
			status       int
		}{
			{"no header", "", http.StatusUnauthorized},
			{"not bearer", "Basic " + e.keys["admin"], http.StatusUnauthorized},
			{"unknown key", "Bearer cctl_notakey", http.StatusUnauthorized},
			{"stored key", "Bearer " + e.keys["viewer"], http.StatusOK},
			{"bootstrap key", "Bearer " + bootstrapKey, http.StatusOK},
			{"scheme in lower case", "bearer " + e.keys["viewer"], http.StatusOK},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.do("GET", "/api/v1/teams", "", nil, "Authorization", tc.header)
				r.want(t, tc.status, "")
				if tc.status == http.StatusUnauthorized {
					r.want(t, tc.status, "unauthorized")
					if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
						t.Errorf("401 without WWW-Authenticate: Bearer")
					}
				}
			})
		}
	})
}

func TestRoles(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		tests := []struct {
			role, method, path string
			body               any
			status             int
		}{
			{"viewer", "GET", "/api/v1/teams", nil, http.StatusOK},
			{"viewer", "GET", "/api/v1/audit", nil, http.StatusOK},
			{"viewer", "POST", "/api/v1/teams", map[string]any{"name": "v"}, http.StatusForbidden},
			{"operator", "POST", "/api/v1/teams", map[string]any{"name": "o"}, http.StatusCreated},
			{"operator", "GET", "/api/v1/api-keys", nil, http.StatusForbidden},
			{"operator", "POST", "/api/v1/api-keys",
				map[string]any{"name": "x", "role": "admin"}, http.StatusForbidden},
			{"admin", "GET", "/api/v1/api-keys", nil, http.StatusOK},
			{"admin", "POST", "/api/v1/teams", map[string]any{"name": "a"}, http.StatusCreated},
		}
		for _, tc := range tests {
			t.Run(tc.role+" "+tc.method+" "+tc.path, func(t *testing.T) {
				before := e.counts()
				r := e.do(tc.method, tc.path, e.keys[tc.role], tc.body)
				r.want(t, tc.status, "")
				if tc.status == http.StatusForbidden {
					r.want(t, tc.status, "forbidden")
					if after := e.counts(); after != before {
						t.Errorf("a refused request changed the store: %v -> %v", before, after)
					}
				}
			})
		}
	})
}

func TestAPIKeys(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		created := e.admin("POST", "/api/v1/api-keys",
			map[string]any{"name": "ci", "role": "viewer"}).want(t, http.StatusCreated, "")
		secret := created.str("key")
		if !strings.HasPrefix(secret, "cctl_") || created.str("role") != "viewer" {
			t.Fatalf("got %s, want a viewer key starting cctl_", created.raw)
		}
		if created.header.Get("Cache-Control") != "no-store" {
			t.Error("the answer holding a secret must not be cached")
		}
		e.do("GET", "/api/v1/teams", secret, nil).want(t, http.StatusOK, "")

		listed := e.admin("GET", "/api/v1/api-keys", nil).want(t, http.StatusOK, "")
		audit := e.admin("GET", "/api/v1/audit?action=apikey.create", nil)
		for what, raw := range map[string][]byte{"list": listed.raw, "audit": audit.raw} {
			if strings.Contains(string(raw), secret) || strings.Contains(string(raw), secret[12:]) {
				t.Errorf("the %s shows the key's secret: %s", what, raw)
			}
		}
		for _, k := range listed.list() {
			if _, ok := k["hash"]; ok {
				t.Errorf("the list shows a hash: %v", k)
			}
		}

		e.admin("POST", "/api/v1/api-keys", map[string]any{"name": "ci", "role": "viewer"}).
			want(t, http.StatusConflict, "conflict")
		e.admin("POST", "/api/v1/api-keys", map[string]any{"name": "x", "role": "root"}).
			want(t, http.StatusBadRequest, "validation_failed")

		id := created.str("id")
		e.admin("DELETE", "/api/v1/api-keys/"+id, nil).want(t, http.StatusNoContent, "")
		e.do("GET", "/api/v1/teams", secret, nil).want(t, http.StatusUnauthorized, "unauthorized")
		e.admin("DELETE", "/api/v1/api-keys/"+id, nil).want(t, http.StatusConflict, "conflict")
		e.admin("DELETE", "/api/v1/api-keys/key-missing", nil).want(t, http.StatusNotFound, "")
	})
}
