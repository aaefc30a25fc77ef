package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestAuditTrail(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		r := e.admin("POST", "/api/v1/teams", map[string]any{"name": "Audited"},
			"X-Request-ID", "req-audit-1")
		if r.header.Get("X-Request-ID") != "req-audit-1" {
			t.Errorf("request ID not echoed: %q", r.header.Get("X-Request-ID"))
		}
		events := e.admin("GET", "/api/v1/audit?resource_type=team&resource_id="+r.str("id"),
			nil).want(t, http.StatusOK, "").list()
		if len(events) != 1 {
			t.Fatalf("got %d events, want 1", len(events))
		}
		ev := events[0]
		if ev["action"] != "team.create" || ev["actor"] != "apikey:test-admin" ||
			ev["request_id"] != "req-audit-1" {
			t.Errorf("got %v", ev)
		}
		one := e.admin("GET", "/api/v1/audit/"+ev["id"].(string), nil).want(t, http.StatusOK, "")
		if one.str("action") != "team.create" {
			t.Errorf("get one: %s", one.raw)
		}

		// Reads are not audited.
		before := e.counts()
		e.admin("GET", "/api/v1/teams", nil)
		e.admin("GET", "/api/v1/audit", nil)
		if after := e.counts(); after != before {
			t.Errorf("reads wrote audit events: %v -> %v", before, after)
		}
	})
}

func TestAuditFilters(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		start := time.Now().UTC().Add(-time.Second)
		e.do("POST", "/api/v1/teams", e.keys["operator"], map[string]any{"name": "By op"})
		e.admin("POST", "/api/v1/teams", map[string]any{"name": "By admin"})
		tests := []struct {
			query string
			want  int
		}{
			{"actor=apikey:test-operator", 1},
			{"action=team.create", 2},
			{"action=apikey.create", 3},
			{"resource_type=api_key", 3},
			{"since=" + url.QueryEscape(start.Format(time.RFC3339Nano)) + "&action=team.create", 2},
			{"until=" + url.QueryEscape(start.Format(time.RFC3339Nano)) + "&action=team.create", 0},
		}
		for _, tc := range tests {
			t.Run(tc.query, func(t *testing.T) {
				r := e.admin("GET", "/api/v1/audit?"+tc.query, nil).want(t, http.StatusOK, "")
				if len(r.list()) != tc.want || r.body["total"] != float64(tc.want) {
					t.Errorf("got %d events, total %v; want %d", len(r.list()), r.body["total"],
						tc.want)
				}
			})
		}
		for q, field := range map[string]string{"since=yesterday": "since",
			"until=2026-13-01": "until", "per_page=501": "per_page", "page=0": "page",
			"cursor=bm9wZQ": "cursor"} {
			r := e.admin("GET", "/api/v1/audit?"+q, nil).want(t, http.StatusBadRequest, "")
			if r.field(field) == "" {
				t.Errorf("%s: got %s, want fields.%s", q, r.raw, field)
			}
		}
	})
}

func TestAuditKeysetPaging(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for i := 0; i < 7; i++ {
			e.admin("POST", "/api/v1/teams", map[string]any{"name": fmt.Sprintf("t%d", i)})
		}
		seen := map[string]bool{}
		path := "/api/v1/audit?action=team.create&per_page=3"
		for pages := 0; pages < 10; pages++ {
			r := e.admin("GET", path, nil).want(t, http.StatusOK, "")
			for _, ev := range r.list() {
				if seen[ev["id"].(string)] {
					t.Errorf("event %v repeated across pages", ev["id"])
				}
				seen[ev["id"].(string)] = true
			}
			next := r.str("next_cursor")
			if next == "" {
				break
			}
			path = "/api/v1/audit?action=team.create&per_page=3&cursor=" + url.QueryEscape(next)
		}
		if len(seen) != 7 {
			t.Errorf("got %d events over the pages, want 7", len(seen))
		}
	})
}

func TestAuditETag(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		first := e.admin("GET", "/api/v1/audit", nil).want(t, http.StatusOK, "")
		tag := first.header.Get("ETag")
		if tag == "" {
			t.Fatal("no ETag on the audit list")
		}
		again := e.admin("GET", "/api/v1/audit", nil, "If-None-Match", tag)
		if again.status != http.StatusNotModified || len(again.raw) != 0 {
			t.Fatalf("repeat: got %d with %d bytes, want 304 and no body", again.status,
				len(again.raw))
		}
		other := e.admin("GET", "/api/v1/audit?per_page=5", nil, "If-None-Match", tag)
		other.want(t, http.StatusOK, "")

		e.admin("POST", "/api/v1/teams", map[string]any{"name": "Changes the tag"})
		after := e.admin("GET", "/api/v1/audit", nil, "If-None-Match", tag)
		after.want(t, http.StatusOK, "")
		if after.header.Get("ETag") == tag {
			t.Error("the ETag did not change after a new audit event")
		}
		if after.body["total"] != first.body["total"].(float64)+1 {
			t.Errorf("total after one more event: got %v, want %v + 1", after.body["total"],
				first.body["total"])
		}
	})
}
