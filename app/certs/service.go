package certs

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"time"

	"certctl/app/ca"
	"certctl/app/secret"
	"certctl/store"
)

// Issuer signs certificates. The local CA is one; an ACME CA will be another.
type Issuer interface {
	// Issue signs a leaf for r and returns it with the chain above it, PEM.
	Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte, error)
}

// Defaults a fresh install has, and new certificates use unless told otherwise.
const (
	DefaultProfile = "prof-default"
	DefaultPolicy  = "rp-default"
)

// Service runs the certificate lifecycle.
type Service struct {
	st      store.Store
	key     secret.Key
	issuers map[string]Issuer
	keyMode string // default key mode: "agent" or "server"
	now     func() time.Time
	log     *slog.Logger
	wake    chan struct{}
	slots   chan struct{} // one per job that may run at once
	// serverIssued is signalled when this process issued a version of the server's
	// certificate.
	serverIssued chan struct{}
}

// Deps are the service's collaborators.
type Deps struct {
	Store store.Store
	// Key seals server-held private keys.
	Key     secret.Key
	Issuers map[string]Issuer
	// KeyMode is the key mode of certificates that do not name one.
	KeyMode string
	// Concurrency bounds the jobs that run at once; 0 means 25.
	Concurrency int
	Now         func() time.Time
	Log         *slog.Logger
}

// NewService returns the lifecycle service.
func NewService(d Deps) *Service {
	return &Service{st: d.Store, key: d.Key, issuers: d.Issuers, keyMode: d.KeyMode,
		now: d.Now, log: d.Log.With("component", "certs"), wake: make(chan struct{}, 1),
		serverIssued: make(chan struct{}, 1),
		slots:        make(chan struct{}, cmp.Or(d.Concurrency, 25))}
}

// EnsureDefaults stores the default profile and renewal policy when they are missing.
func (s *Service) EnsureDefaults(ctx context.Context) error {
	now := store.UTC(s.now())
	p := store.Profile{ID: DefaultProfile, Name: "Default",
		Description: "TLS server and client certificates, ECDSA P-256 or RSA, up to 90 days",
		KeyTypes:    []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"},
		MaxLifetime: 90 * 24 * time.Hour, ExtKeyUsages: []string{"serverAuth", "clientAuth"},
		AllowIP: true, Approval: "none", CreatedAt: now, UpdatedAt: now}
	rp := store.RenewalPolicy{ID: DefaultPolicy, Name: "Default",
		RenewFraction: 1.0 / 3, MaxAttempts: 5, RetryBackoff: time.Minute,
		CreatedAt: now, UpdatedAt: now}
	return s.st.InTx(ctx, func(q store.Queries) error {
		_, err := q.GetProfile(ctx, p.ID)
		if err := createIfMissing(err, func() error { return q.CreateProfile(ctx, p) }); err != nil {
			return err
		}
		_, err = q.GetRenewalPolicy(ctx, rp.ID)
		return createIfMissing(err, func() error { return q.CreateRenewalPolicy(ctx, rp) })
	})
}

// createIfMissing calls create when the lookup that returned err found nothing.
func createIfMissing(err error, create func() error) error {
	if errors.Is(err, store.ErrNotFound) {
		return create()
	}
	return err
}

// kick wakes the job worker.
func (s *Service) kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
