package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"certctl/store"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "certctl.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Exec: func(ctx context.Context, s store.Store, sql string) error {
			return s.(*sqlite.Store).Exec(ctx, sql)
		},
	})
}
