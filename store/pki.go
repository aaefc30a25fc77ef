package store

import (
	"context"
	"time"
)

// Issuer is a source of certificates: the built-in local CA, or later an ACME CA.
type Issuer struct {
	ID   string
	Name string
	Type string // "local"
	// Config holds the issuer's settings as a JSON object, without secrets.
	Config    []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CACert is one certificate of a local CA's hierarchy, with its key sealed by the
// configuration encryption key.
type CACert struct {
	ID        string
	IssuerID  string
	Kind      string // "root", "intermediate" or "ocsp"
	CertPEM   string
	KeySealed []byte
	NotBefore time.Time
	NotAfter  time.Time
	CreatedAt time.Time
}

// IssuerQueries reads and writes issuers and their CA certificates.
type IssuerQueries interface {
	ListIssuers(ctx context.Context) ([]Issuer, error)
	GetIssuer(ctx context.Context, id string) (Issuer, error)
	// CreateIssuer inserts i; ErrConflict when its ID or name is taken.
	CreateIssuer(ctx context.Context, i Issuer) error
	UpdateIssuer(ctx context.Context, i Issuer) error
	// ListCACerts returns the CA certificates of issuer of kind, newest first.
	ListCACerts(ctx context.Context, issuerID, kind string) ([]CACert, error)
	CreateCACert(ctx context.Context, c CACert) error
	// ResealCACert replaces the sealed key of one CA certificate, for key rotation.
	ResealCACert(ctx context.Context, id string, sealed []byte) error
}

// Settings are small named values the server keeps for itself, such as the check value of
// the configuration encryption key.
type SettingQueries interface {
	// GetSetting returns the value of name; ErrNotFound when it was never set.
	GetSetting(ctx context.Context, name string) (string, error)
	// PutSettingIfAbsent stores value under name unless name is set; it reports the value
	// that is stored afterwards, which is the earlier one when two callers race.
	PutSettingIfAbsent(ctx context.Context, name, value string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
}

// Locker serialises work that must happen once across every process sharing the database,
// such as creating the local CA on an empty database.
type Locker interface {
	// WithLock runs fn while holding the named lock, waiting for it as long as ctx allows.
	// fn runs in a transaction that commits when fn returns nil.
	WithLock(ctx context.Context, name string, fn func(q Queries) error) error
}
