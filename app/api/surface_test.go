package api_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestUnroutedAnswersJSON(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.admin("GET", "/api/v1/nothing-here", nil).want(t, http.StatusNotFound, "not_found")
		r := e.admin("POST", "/api/v1/audit", map[string]any{})
		r.want(t, http.StatusMethodNotAllowed, "method_not_allowed")
		if r.header.Get("Allow") != "GET" {
			t.Errorf("Allow: got %q, want GET", r.header.Get("Allow"))
		}
		r = e.admin("POST", "/api/v1/teams/x", map[string]any{})
		r.want(t, http.StatusMethodNotAllowed, "method_not_allowed")
		if got := r.header.Get("Allow"); got != "GET, PUT, PATCH, DELETE" {
			t.Errorf("Allow: got %q", got)
		}
	})
}

func TestPublicEndpoints(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		h := e.do("GET", "/health", "", nil).want(t, http.StatusOK, "")
		if h.str("status") != "healthy" {
			t.Errorf("/health: got %s", h.raw)
		}
		e.do("GET", "/ready", "", nil).want(t, http.StatusOK, "")
		v := e.do("GET", "/api/v1/version", "", nil).want(t, http.StatusOK, "")
		if v.str("version") == "" || !strings.HasPrefix(v.str("go_version"), "go") {
			t.Errorf("/api/v1/version: got %s", v.raw)
		}
		spec := e.do("GET", "/api/v1/openapi.json", "", nil).want(t, http.StatusOK, "")
		if spec.str("openapi") != "3.1.0" {
			t.Errorf("openapi.json: got %.100s", spec.raw)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
		} {
			if got := h.header.Get(name); got != want {
				t.Errorf("%s: got %q, want %q", name, got, want)
			}
		}
		if h.header.Get("Content-Security-Policy") == "" || h.header.Get("X-Request-ID") == "" {
			t.Error("missing Content-Security-Policy or X-Request-ID")
		}
	})
}

func TestMetrics(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.admin("GET", "/api/v1/teams", nil)
		e.admin("GET", "/api/v1/nowhere", nil)
		m := e.do("GET", "/metrics", "", nil).want(t, http.StatusOK, "")
		for _, want := range []string{
			`certctl_http_requests_total{code="200",method="GET",route="GET /api/v1/teams"} 1`,
			`certctl_http_requests_total{code="404",method="GET",route="/api/"} 1`,
			`certctl_http_request_duration_seconds_bucket{method="GET",route="GET /api/v1/teams"`,
			"go_goroutines ", "process_resident_memory_bytes ",
		} {
			if !strings.Contains(string(m.raw), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})
}
