package migrations

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"testing"
)

var fileName = regexp.MustCompile(`^\d{5}_[a-z0-9_]+\.sql$`)

func names(t *testing.T, f fs.FS) []string {
	t.Helper()
	got, err := fs.Glob(f, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestDialectsInStep keeps the two folders numbered and named alike, so a change cannot ship
// for one database only.
func TestDialectsInStep(t *testing.T) {
	lite, pg := names(t, SQLite()), names(t, Postgres())
	if len(lite) == 0 {
		t.Fatal("no migrations embedded")
	}
	if !slices.Equal(lite, pg) {
		t.Fatalf("sqlite has %v, postgres has %v; want the same files", lite, pg)
	}
	for i, n := range lite {
		if !fileName.MatchString(n) {
			t.Errorf("%s: want NNNNN_snake_name.sql", n)
		}
		if want := fmt.Sprintf("%05d", i+1); n[:5] != want {
			t.Errorf("%s: want number %s (no gaps, no repeats)", n, want)
		}
	}
}
