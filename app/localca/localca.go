// Package localca is the built-in certificate authority, issuer "iss-local": a root and an
// issuing intermediate made on first start and kept in the database with their keys sealed,
// or an operator's CA loaded from files (sub-CA mode). It issues leaf certificates and
// publishes the chain, the CRL and OCSP answers.
package localca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"certctl/app/ca"
	"certctl/app/secret"
	"certctl/store"
)

// IssuerID is the local CA's issuer ID.
const IssuerID = "iss-local"

// Settings are the local CA's choices, from configuration.
type Settings struct {
	KeySpec              string        // for the root, intermediates and OCSP responders
	RootLifetime         time.Duration // of a new root
	IntermediateLifetime time.Duration // of a new intermediate
	// PublicURL is the base of the CRL, OCSP and CA-issuers URLs put into certificates.
	PublicURL string
	// SubCACertPEM and SubCAKeyPEM, when set, make the local CA sign with this CA instead of
	// its own root and intermediate.
	SubCACertPEM []byte
	SubCAKeyPEM  []byte
}

// CA is the local CA of one server process. It is safe for concurrent use.
type CA struct {
	st  store.Store
	key secret.Key
	set Settings
	log *slog.Logger
	now func() time.Time

	mu     sync.Mutex
	loaded *state              // nil until loaded, and again whenever the CA's rows change
	crls   map[string]crlCache // by signer ID
}

// state is what the CA signs with, decrypted.
type state struct {
	version int64 // the issuers change counter it was loaded at
	// signers are the issuing CAs still valid, newest first. The newest issues new leaves;
	// older ones, during an intermediate rollover, still sign CRLs and OCSP answers for the
	// leaves they issued.
	signers   []signer
	published []*x509.Certificate // every valid intermediate, then the root
	responder *ca.Authority       // answers OCSP for the newest signer
}

// signer is one issuing CA, named by its CA certificate row (or "sub" in sub-CA mode).
type signer struct {
	id   string
	auth *ca.Authority
}

// newest is the signer that issues new leaves.
func (s *state) newest() signer { return s.signers[0] }

// New returns the local CA; call Ensure before anything else.
func New(st store.Store, key secret.Key, set Settings, now func() time.Time,
	log *slog.Logger) *CA {
	return &CA{st: st, key: key, set: set, now: now, log: log.With("component", "localca"),
		crls: map[string]crlCache{}}
}

// ErrNotReady reports a CA used before Ensure made it.
var ErrNotReady = errors.New("the local CA does not exist yet")

// current returns the signing state, reloading it when the CA's rows changed since.
func (c *CA) current(ctx context.Context) (*state, error) {
	v, err := c.st.ChangeVersion(ctx, store.AreaIssuers)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded != nil && c.loaded.version == v {
		return c.loaded, nil
	}
	s, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	s.version = v
	c.loaded = s
	return s, nil
}

// aad binds a sealed key to the CA certificate it belongs to.
func aad(id string) []byte { return []byte("ca-key:" + id) }

func (c *CA) open(cc store.CACert) (*ca.Authority, error) {
	certs, err := parseCerts([]byte(cc.CertPEM))
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", cc.ID, err)
	}
	der, err := c.key.Open(cc.KeySealed, aad(cc.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal key of CA certificate %s: %w", cc.ID, err)
	}
	key, err := ca.ParseKey(der)
	if err != nil {
		return nil, fmt.Errorf("key of CA certificate %s: %w", cc.ID, err)
	}
	return &ca.Authority{Cert: certs[0], Chain: certs[1:], Key: key}, nil
}
