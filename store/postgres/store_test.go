package postgres_test

import (
	"context"
	"testing"

	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.PostgresURL(t)
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T) store.Store {
			s, err := postgres.Open(t.Context(), storetest.PostgresSchema(t), 10)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Exec: func(ctx context.Context, s store.Store, sql string) error {
			return s.(*postgres.Store).Exec(ctx, sql)
		},
	})
}
