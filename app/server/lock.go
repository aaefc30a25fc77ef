package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrSQLiteBusy reports a second `certctl serve` on one SQLite database.
var ErrSQLiteBusy = errors.New("another certctl serve is using this SQLite database; " +
	"SQLite allows one server (short commands such as apikey create still work beside " +
	"it); use PostgreSQL to run several replicas")

// lockSQLite takes the server lock of the SQLite database at path: an exclusive lock on a
// file beside it, held until release. The operating system drops it when the process dies,
// so a crash never leaves the database locked.
func lockSQLite(path string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create database folder: %w", err)
	}
	f, err := os.OpenFile(path+".serve-lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open server lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s)", ErrSQLiteBusy, path)
		}
		return nil, fmt.Errorf("take server lock: %w", err)
	}
	return func() { f.Close() }, nil
}
