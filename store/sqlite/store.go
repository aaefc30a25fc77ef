// Package sqlite is the embedded SQLite backend of the store, on modernc.org/sqlite (pure Go).
//
// Writes go through one connection, so SQLite's single writer never sees lock upgrades
// between certctl's own connections; transactions begin IMMEDIATE. Reads use a small pool of
// read-only connections that WAL lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"certctl/migrations"
	"certctl/store"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// readConns is the size of the read pool; SQLite reads scale with cores, not connections.
const readConns = 4

// Store is a store.Store on one SQLite database file.
type Store struct {
	queries
	writer *sql.DB
	reader *sql.DB
	rcache *stmtCache
	wcache *stmtCache
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and migrates it to the newest
// schema.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := OpenUnmigrated(path)
	if err != nil {
		return nil, err
	}
	p, err := s.Migrations()
	if err == nil {
		_, err = p.Up(ctx)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	return s, nil
}

// OpenUnmigrated opens the database file at path without touching its schema.
func OpenUnmigrated(path string) (*Store, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database path: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	// The database holds credentials: create it readable by its owner only. SQLite gives
	// its -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f.Close()
	writer, err := sql.Open("sqlite", dsn(path, "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", dsn(path, "_pragma=query_only(1)"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(readConns)
	reader.SetMaxIdleConns(readConns)
	s := &Store{writer: writer, reader: reader, rcache: newStmtCache(reader),
		wcache: newStmtCache(writer)}
	s.queries = queries{r: s.rcache, w: s.wcache}
	if err := writer.PingContext(context.Background()); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, translate(err))
	}
	return s, nil
}

func dsn(path, extra string) string {
	u := url.URL{Scheme: "file", Path: path, OmitHost: true}
	return u.String() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&" + extra
}

// Migrations returns a goose provider for this database's schema.
func (s *Store) Migrations() (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, s.writer, migrations.SQLite())
}

// InTx implements store.Store.
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", translate(err))
	}
	stmts := &txStmts{tx: tx, cache: s.wcache}
	defer stmts.prepare(ctx)
	if err := fn(queries{r: stmts, w: stmts}); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(err))
	}
	return nil
}

// WithLock implements store.Locker. Every write transaction begins IMMEDIATE on the one
// writer connection and so holds SQLite's write lock until it ends, which serialises all
// writers across every process sharing the file: any transaction already is the lock, and
// name needs no row of its own.
func (s *Store) WithLock(ctx context.Context, name string, fn func(q store.Queries) error) error {
	return s.InTx(ctx, fn)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reader.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return translate(err)
	}
	return nil
}

// Backend implements store.Store.
func (s *Store) Backend() string { return "sqlite" }

// Close implements store.Store.
func (s *Store) Close() error {
	s.rcache.Close()
	s.wcache.Close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// dbtx is what both *sql.DB and *sql.Tx offer.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries runs statements: reads on r, writes on w. Inside a transaction both are the
// transaction, so a transaction reads its own writes.
type queries struct {
	r dbtx
	w dbtx
}

// Exec runs one statement outside the store's interface, for tests and maintenance.
func (s *Store) Exec(ctx context.Context, stmt string) error {
	_, err := s.writer.ExecContext(ctx, stmt)
	return translate(err)
}
