// Package postgres is the PostgreSQL backend of the store, on a pgx connection pool.
package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"certctl/migrations"
	"certctl/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// connectTimeout bounds how long a request waits for a new connection, so that a database
// outage turns into quick 503 answers rather than hanging requests.
const connectTimeout = 2 * time.Second

// Store is a store.Store on a PostgreSQL database.
type Store struct {
	queries
	pool *pgxpool.Pool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url with a pool of at most maxConns connections and
// migrates it to the newest schema. Replicas starting together take turns: the migration
// runs under a PostgreSQL advisory lock.
func Open(ctx context.Context, url string, maxConns int) (*Store, error) {
	s, err := OpenUnmigrated(ctx, url, maxConns)
	if err != nil {
		return nil, err
	}
	if err := s.migrateUp(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// OpenUnmigrated connects without touching the schema.
func OpenUnmigrated(ctx context.Context, url string, maxConns int) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("parse CERTCTL_DATABASE_URL: not a valid PostgreSQL URL")
	}
	cfg.MaxConns = int32(maxConns)
	cfg.ConnConfig.ConnectTimeout = connectTimeout
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	s := &Store{pool: pool, queries: queries{db: pool}}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	return s, nil
}

func (s *Store) migrateUp(ctx context.Context) error {
	p, closeDB, err := s.Migrations()
	if err != nil {
		return err
	}
	defer closeDB()
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Migrations returns a goose provider that holds an advisory lock while it changes the
// schema, and a function that releases its connection.
func (s *Store) Migrations() (*goose.Provider, func(), error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres(),
		goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	return p, func() { db.Close() }, nil
}

// lockChanges takes every change counter, always in the same order, before a transaction
// does its work. The triggers that bump a counter hold its row until commit, so without one
// order a transaction that writes jobs and then certificates (queueing a renewal) and one
// that writes certificates and then jobs (storing the issued version) deadlock.
const lockChanges = `SELECT area FROM changes ORDER BY area FOR NO KEY UPDATE`

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", translate(err))
	}
	if _, err := tx.Exec(ctx, lockChanges); err != nil {
		tx.Rollback(ctx)
		return fmt.Errorf("lock change counters: %w", translate(err))
	}
	if err := fn(queries{db: tx}); err != nil {
		tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// WithLock implements store.Locker. It takes a PostgreSQL advisory lock on a 64-bit hash of
// name inside a transaction, so the lock is released by the commit or rollback and cannot
// outlive fn even when the connection breaks. Waiting for the lock ends when ctx does. Two
// names whose hashes collide share one lock, which only costs some waiting.
func (s *Store) WithLock(ctx context.Context, name string,
	fn func(q store.Queries) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", translate(err))
	}
	defer tx.Rollback(ctx) // a no-op after a successful commit

	_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, name)
	if err != nil {
		return fmt.Errorf("take lock %s: %w", name, translate(err))
	}
	if _, err := tx.Exec(ctx, lockChanges); err != nil {
		return fmt.Errorf("lock change counters: %w", translate(err))
	}
	if err := fn(queries{db: tx}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return translate(err)
	}
	return nil
}

// Backend implements store.Store.
func (s *Store) Backend() string { return "postgres" }

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Exec runs one statement outside the store's interface, for tests and maintenance.
func (s *Store) Exec(ctx context.Context, stmt string) error {
	_, err := s.pool.Exec(ctx, stmt)
	return translate(err)
}

// dbtx is what both the pool and a transaction offer.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

type queries struct {
	db dbtx
}

// translate maps driver errors onto the store's sentinels, keeping the original in the chain.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) || errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505" || pe.Code == "23503":
			return fmt.Errorf("%w: %s", store.ErrConflict, pe.Message)
		case pe.Code[:2] == "08" || pe.Code[:2] == "53" || pe.Code == "57P01" ||
			pe.Code == "57P02" || pe.Code == "57P03":
			return fmt.Errorf("%w: %s", store.ErrUnavailable, pe.Message)
		}
		return err
	}
	if connectionLost(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// connectionLost reports errors that mean the database could not be reached or the
// connection broke, as opposed to errors in a statement.
func connectionLost(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		pgconn.SafeToRetry(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, puddle.ErrClosedPool)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullBytes passes an empty byte slice as NULL, so that it reads back as nil.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// affected turns the tag of a single-row write into nil, ErrNotFound or a translated error.
func affected(step string, tag pgconn.CommandTag, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", step, translate(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", step, store.ErrNotFound)
	}
	return nil
}

// jsonList encodes a list for a JSONB array column; nil becomes an empty array.
func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l) // a []string always marshals
	return string(b)
}

// fromJSONList decodes a JSONB array column; an empty array reads as nil.
func fromJSONList(b []byte) ([]string, error) {
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("decode list: %w", err)
	}
	if len(l) == 0 {
		return nil, nil
	}
	return l, nil
}

func fromNullString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
