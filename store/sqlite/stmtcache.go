package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxStatements bounds the statement cache. The store builds its SQL from fixed fragments,
// so the number of distinct statements is small; the bound only guards against a mistake.
const maxStatements = 512

// stmtCache runs statements on a *sql.DB through prepared statements kept for reuse, which
// saves SQLite from parsing and planning the same SQL on every call.
type stmtCache struct {
	db    *sql.DB
	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}}
}

func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if s, ok := c.lookup(query); ok {
		return s, nil
	}
	// Prepare without holding the lock: preparing waits for a connection, and the writer's
	// one connection may be held by a transaction that is itself looking statements up.
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if kept, ok := c.stmts[query]; ok {
		s.Close()
		return kept, nil
	}
	if len(c.stmts) < maxStatements {
		c.stmts[query] = s
	}
	return s, nil
}

// lookup returns the statement prepared for query, if there is one.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.stmts[query]
	return s, ok
}

// ExecContext implements dbtx.
func (c *stmtCache) ExecContext(ctx context.Context, query string,
	args ...any) (sql.Result, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// QueryContext implements dbtx.
func (c *stmtCache) QueryContext(ctx context.Context, query string,
	args ...any) (*sql.Rows, error) {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// QueryRowContext implements dbtx. A failed prepare surfaces from Scan, as with *sql.DB.
func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	s, err := c.stmt(ctx, query)
	if err != nil {
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return s.QueryRowContext(ctx, args...)
}

// Close releases every prepared statement.
func (c *stmtCache) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

// txStmts runs the statements of one transaction on the writer, through the statements the
// writer's cache prepared on that same connection. A statement the cache does not have yet
// runs unprepared and is noted, and prepare adds it once the transaction has ended and the
// connection is free again.
type txStmts struct {
	tx     *sql.Tx
	cache  *stmtCache
	missed []string
}

func (t *txStmts) stmt(ctx context.Context, query string) *sql.Stmt {
	s, ok := t.cache.lookup(query)
	if !ok {
		t.missed = append(t.missed, query)
		return nil
	}
	return t.tx.StmtContext(ctx, s)
}

// ExecContext implements dbtx.
func (t *txStmts) ExecContext(ctx context.Context, query string,
	args ...any) (sql.Result, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext implements dbtx.
func (t *txStmts) QueryContext(ctx context.Context, query string,
	args ...any) (*sql.Rows, error) {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext implements dbtx.
func (t *txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if s := t.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// prepare adds the statements the transaction ran unprepared to the cache; call it after the
// transaction has ended. A statement that does not prepare is left out: the transaction
// already reported its error.
func (t *txStmts) prepare(ctx context.Context) {
	for _, q := range t.missed {
		t.cache.stmt(ctx, q)
	}
}
