package servertls

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"certctl/app/scheduler"
)

// RootFile is where, in the TLS folder of the data directory, the root of the server
// certificate's chain is written for clients to trust, e.g. with curl --cacert.
const RootFile = "ca.pem"

// Files an earlier version of certctl kept its self-issued certificate in. The inventory
// holds that certificate now, with its key sealed; the old copies are removed.
var oldFiles = []string{"server.pem", "server.key"}

// Inventory keeps the server's certificate and its versions: the certificate service.
type Inventory interface {
	// ServerKeyPair returns the id of the current version of the server's certificate and,
	// unless that is have, the version as a key pair with its chain.
	ServerKeyPair(ctx context.Context, have string) (string, *tls.Certificate, error)
}

// Managed serves the server's certificate from the inventory, where the certificate
// lifecycle issues and renews it like any other. Watch picks up new versions.
type Managed struct {
	inv     Inventory
	dir     string
	log     *slog.Logger
	current atomic.Pointer[tls.Certificate]

	mu      sync.Mutex // serialises refreshes
	version string
}

// NewManaged loads the current version of the server's certificate from inv, writing the
// root of its chain to RootFile in dir.
func NewManaged(ctx context.Context, inv Inventory, dir string,
	log *slog.Logger) (*Managed, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	for _, name := range oldFiles {
		err := os.Remove(filepath.Join(dir, name))
		if err == nil {
			log.Info("removed the server certificate file of an earlier version; the "+
				"inventory holds the certificate now", "file", filepath.Join(dir, name))
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove old server certificate file: %w", err)
		}
	}
	m := &Managed{inv: inv, dir: dir, log: log}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (m *Managed) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.current.Load(), nil
}

// Refresh serves the current version of the certificate, if it is not served already.
// When that fails, the certificate served so far stays.
func (m *Managed) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	id, pair, err := m.inv.ServerKeyPair(ctx, m.version)
	if err != nil {
		return fmt.Errorf("load the server certificate: %w", err)
	}
	if pair == nil {
		return nil
	}
	if len(pair.Certificate) == 0 || pair.Leaf == nil {
		return fmt.Errorf("the server certificate's version %s has no certificate", id)
	}
	root := pair.Certificate[len(pair.Certificate)-1]
	err = writeFile(filepath.Join(m.dir, RootFile),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root}), 0o644)
	if err != nil {
		return err
	}
	m.current.Store(pair)
	m.version = id
	m.log.Info("serving the server certificate", "version_id", id,
		"serial", pair.Leaf.SerialNumber.Text(16), "not_after", pair.Leaf.NotAfter)
	return nil
}

// Watch refreshes about every interval, and whenever issued delivers, until ctx ends. A
// refresh that fails is logged and tried again at the next tick.
func (m *Managed) Watch(ctx context.Context, interval time.Duration, issued <-chan struct{}) {
	t := scheduler.NewJitteredTicker(interval, scheduler.DefaultJitter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-issued:
		}
		rctx, cancel := context.WithTimeout(ctx, interval/2)
		if err := m.Refresh(rctx); err != nil && ctx.Err() == nil {
			m.log.Warn("server certificate not refreshed; serving the current one",
				"error", err)
		}
		cancel()
	}
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
