package postgres_test

import (
	"context"
	"testing"

	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/storetest"

	"github.com/jackc/pgx/v5"
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

// TestConcurrentMigrations starts several stores on one empty database at once, as replicas
// do on a first deploy: each must come up, and every migration must be applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	url := storetest.PostgresSchema(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for i := 0; i < replicas; i++ {
		go func() {
			s, err := postgres.Open(context.Background(), url, 2)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for i := 0; i < replicas; i++ {
		if err := <-errs; err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}

	s, err := postgres.OpenUnmigrated(context.Background(), url, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, release, err := s.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	statuses, err := p.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range statuses {
		if st.State != "applied" {
			t.Errorf("migration %s: state %s, want applied", st.Source.Path, st.State)
		}
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(context.Background(),
		`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(statuses) {
		t.Errorf("goose recorded %d applied migrations, want %d (one per file)", n,
			len(statuses))
	}
}
