package valid

import (
	"errors"
	"strings"
	"testing"

	"certctl/store"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in, problem string
	}{
		{"ok", "  Platform  ", ""},
		{"empty", "   ", "is required"},
		{"long", strings.Repeat("x", 101), "at most 100"},
		{"newline", "a\nb", "single line"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Errors{}
			got := e.Text("name", tc.in, 1, 100)
			if !strings.Contains(e["name"], tc.problem) || (tc.problem == "") != (e.Err() == nil) {
				t.Errorf("got problem %q, want one containing %q", e["name"], tc.problem)
			}
			if tc.problem == "" && got != "Platform" {
				t.Errorf("got %q, want it trimmed", got)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	for in, ok := range map[string]bool{
		"ops@example.com": true, "Ops <ops@example.com>": false, "ops": false,
		"ops@localhost": false, "": false,
	} {
		e := Errors{}
		e.Email("email", in)
		if (e.Err() == nil) != ok {
			t.Errorf("Email(%q): got %v, want ok=%v", in, e.Err(), ok)
		}
	}
}

func TestConflictMatchesStore(t *testing.T) {
	var err error = &Conflict{Message: "name taken"}
	if !errors.Is(err, store.ErrConflict) {
		t.Error("Conflict must match store.ErrConflict")
	}
	if got := (Errors{"b": "x", "a": "y"}).Error(); got != "invalid input: a: y; b: x" {
		t.Errorf("got %q", got)
	}
}
