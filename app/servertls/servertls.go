// Package servertls provides the certificate the server presents: its own, which the
// certificate lifecycle issues from the local CA and renews, or one an operator supplies as
// files.
package servertls

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Source hands the operator's certificate files to the TLS stack, and reloads them when they
// change on disk.
type Source struct {
	mu      sync.Mutex
	cert    *tls.Certificate
	checked time.Time
	refresh func(current *tls.Certificate) (*tls.Certificate, error)
	now     func() time.Time
	log     *slog.Logger
}

// checkEvery bounds how often a handshake looks at whether the certificate must change.
const checkEvery = time.Minute

// GetCertificate implements tls.Config.GetCertificate. When replacing the certificate fails,
// it keeps serving the current one and logs why.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.checked) >= checkEvery {
		s.checked = now
		next, err := s.refresh(s.cert)
		if err != nil {
			s.log.Warn("server certificate not refreshed", "error", err)
		} else {
			s.cert = next
		}
	}
	return s.cert, nil
}

// FromFiles serves the PEM certificate chain and key at certPath and keyPath, re-reading
// them when either file's modification time changes.
func FromFiles(certPath, keyPath string, log *slog.Logger) (*Source, error) {
	var stamp string
	load := func(current *tls.Certificate) (*tls.Certificate, error) {
		st, err := fileStamp(certPath, keyPath)
		if err != nil {
			return nil, err
		}
		if current != nil && st == stamp {
			return current, nil
		}
		c, err := tls.LoadX509KeyPair(certPath, keyPath)
		if err != nil {
			return nil, fmt.Errorf("load %s and %s: %w", certPath, keyPath, err)
		}
		if current != nil {
			log.Info("server certificate reloaded", "path", certPath)
		}
		stamp = st
		return &c, nil
	}
	return newSource(load, time.Now, log)
}

func fileStamp(paths ...string) (string, error) {
	var stamp string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", err
		}
		stamp += fmt.Sprintf("%s:%d:%d;", p, fi.ModTime().UnixNano(), fi.Size())
	}
	return stamp, nil
}

func newSource(refresh func(*tls.Certificate) (*tls.Certificate, error),
	now func() time.Time, log *slog.Logger) (*Source, error) {
	cert, err := refresh(nil)
	if err != nil {
		return nil, err
	}
	return &Source{cert: cert, checked: now(), refresh: refresh, now: now, log: log}, nil
}
