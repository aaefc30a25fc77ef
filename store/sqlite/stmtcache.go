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
	c.mu.RLock()
	s, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stmts[query]; ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if len(c.stmts) < maxStatements {
		c.stmts[query] = s
	}
	return s, nil
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
