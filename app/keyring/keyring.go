// Package keyring finds the configuration encryption key, the key that seals CA keys,
// server-held private keys and credentials at rest, and makes sure every process sharing a
// database uses the same one.
package keyring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"certctl/app/secret"
	"certctl/store"
)

// checkSetting names the setting that holds the key's check value.
const checkSetting = "encryption_key_check"

// FileName is the key file written into the data directory when SQLite runs without a
// configured key.
const FileName = "encryption.key"

// Source says where the key comes from.
type Source struct {
	// Hex is CERTCTL_CONFIG_ENCRYPTION_KEY, or "".
	Hex string
	// DataDir receives a generated key when Hex is empty and Generate is set.
	DataDir string
	// Generate allows making a key on first start; set for SQLite only, where the data
	// directory and the database live together. PostgreSQL replicas must share a key, so
	// there it must be configured.
	Generate bool
}

// Errors about the key itself, as opposed to failures reading it.
var (
	// ErrWrongKey means the key does not match the one the database was sealed with.
	ErrWrongKey = errors.New("does not match the key this database was encrypted with; " +
		"start with the original key")
	// ErrNoKey means no key is configured where one must be.
	ErrNoKey = errors.New("is required with PostgreSQL, so that every replica uses the " +
		"same key: generate one with `openssl rand -hex 32`")
)

// Load returns the key src names and checks it against the check value stored in the
// database, storing it when the database has none yet.
func Load(ctx context.Context, src Source, st store.Store, log *slog.Logger) (secret.Key,
	error) {
	key, err := resolve(src, log)
	if err != nil {
		return secret.Key{}, err
	}
	stored, err := st.PutSettingIfAbsent(ctx, checkSetting, key.CheckValue())
	if err != nil {
		return secret.Key{}, fmt.Errorf("check encryption key: %w", err)
	}
	if stored != key.CheckValue() {
		return secret.Key{}, ErrWrongKey
	}
	return key, nil
}

func resolve(src Source, log *slog.Logger) (secret.Key, error) {
	if src.Hex != "" {
		k, err := secret.ParseKey(src.Hex)
		if err != nil {
			return secret.Key{}, fmt.Errorf("CERTCTL_CONFIG_ENCRYPTION_KEY: %w", err)
		}
		return k, nil
	}
	if !src.Generate {
		return secret.Key{}, ErrNoKey
	}
	return fromFile(filepath.Join(src.DataDir, FileName), log)
}

// fromFile reads the key file, or creates it (mode 0600) when it does not exist.
func fromFile(path string, log *slog.Logger) (secret.Key, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := secret.ParseKey(strings.TrimSpace(string(b)))
		if err != nil {
			return secret.Key{}, fmt.Errorf("encryption key file %s: %w", path, err)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return secret.Key{}, fmt.Errorf("read encryption key: %w", err)
	}
	k := secret.NewKey()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return secret.Key{}, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return secret.Key{}, fmt.Errorf("write encryption key: %w", err)
	}
	_, err = f.WriteString(k.Hex() + "\n")
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		return secret.Key{}, fmt.Errorf("write encryption key: %w", err)
	}
	log.Warn("generated the encryption key that protects CA keys and credentials; back it "+
		"up with the database, which is useless without it", "path", path)
	return k, nil
}

// Replace writes key into the key file of dataDir, keeping the key it replaces beside it as
// FileName + ".previous" for restoring backups made before the change.
func Replace(dataDir string, key secret.Key) error {
	path := filepath.Join(dataDir, FileName)
	if err := os.Rename(path, path+".previous"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("keep the previous key: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(key.Hex()+"\n"), 0o600); err != nil {
		return fmt.Errorf("write encryption key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write encryption key: %w", err)
	}
	return nil
}
