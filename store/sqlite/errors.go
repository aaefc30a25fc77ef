package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"certctl/store"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// timeFormat keeps times as fixed-width UTC text, so text order is time order.
const timeFormat = "2006-01-02 15:04:05.000000"

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func fmtNullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

// translate maps driver errors onto the store's sentinels, keeping the original in the chain.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY,
		sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_TRIGGER:
		return fmt.Errorf("%w: %s", store.ErrConflict, se.Error())
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
		return fmt.Errorf("%w: %s", store.ErrUnavailable, se.Error())
	}
	return err
}
