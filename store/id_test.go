package store

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewIDShapeAndOrder(t *testing.T) {
	var ids []string
	for i := 0; i < 3; i++ {
		id := NewID("team")
		if !strings.HasPrefix(id, "team-") || len(id) != len("team-")+26 {
			t.Fatalf("got %q, want team- and 26 characters", id)
		}
		ids = append(ids, id)
		time.Sleep(2 * time.Millisecond)
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("got %v, want IDs made later to sort later", ids)
	}
	if NewID("x") == NewID("x") {
		t.Error("two IDs in the same millisecond are equal")
	}
}

func TestKeyRoundTrip(t *testing.T) {
	key := EncodeKey("2026-01-02 03:04:05.000000", "evt-1")
	parts, err := DecodeKey(key, 2)
	if err != nil || parts[0] != "2026-01-02 03:04:05.000000" || parts[1] != "evt-1" {
		t.Fatalf("got %v, %v", parts, err)
	}
	for _, bad := range []string{"!!!", EncodeKey("only-one")} {
		if _, err := DecodeKey(bad, 2); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeKey(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}
