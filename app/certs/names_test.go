package certs

import (
	"strings"
	"testing"
	"time"

	"certctl/app/valid"
	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func TestParseNames(t *testing.T) {
	n, err := ParseNames("Web.Example.com", []string{"web.example.com", "10.0.0.1", "::1",
		"ops@example.com", "spiffe://example.org/web", "*.web.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"web.example.com", "*.web.example.com", "10.0.0.1", "::1",
		"ops@example.com", "spiffe://example.org/web"}
	if diff := cmp.Diff(want, n.Strings()); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"", "exa mple.com", "-bad.example.com", "a..b", "x@", "*"} {
		if _, err := ParseNames("", []string{bad}); err == nil {
			t.Errorf("ParseNames(%q): got nil error", bad)
		}
	}
}

func TestCheckNames(t *testing.T) {
	p := store.Profile{ID: "prof-web", SANPatterns: []string{"*.example.com", "example.com"},
		AllowIP: false}
	tests := []struct {
		name, problem string
		sans          []string
	}{
		{"allowed", "", []string{"www.example.com", "example.com"}},
		{"outside patterns", "outside", []string{"www.other.com"}},
		{"two labels deep", "outside", []string{"a.b.example.com"}},
		{"ip not allowed", "IP addresses", []string{"www.example.com", "10.1.1.1"}},
		{"no names", "at least one name", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ParseNames("", tc.sans)
			if err != nil {
				t.Fatal(err)
			}
			e := valid.Errors{}
			CheckNames(e, "sans", p, n)
			if !strings.Contains(e["sans"], tc.problem) || (tc.problem == "") != (e.Err() == nil) {
				t.Errorf("got %q, want a problem containing %q", e["sans"], tc.problem)
			}
		})
	}
}

func TestCheckKeyAndLifetime(t *testing.T) {
	p := store.Profile{ID: "p", KeyTypes: []string{"ecdsa-p256"}}
	e := valid.Errors{}
	CheckKey(e, "key", p, "rsa-1024")
	if !strings.Contains(e["key"], "rsa-1024") {
		t.Errorf("got %q", e["key"])
	}
	if Lifetime(p) != 90*24*time.Hour {
		t.Errorf("default lifetime: got %v", Lifetime(p))
	}
}
