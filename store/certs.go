package store

import (
	"context"
	"time"
)

// Profile constrains what certificates may be issued under it.
type Profile struct {
	ID          string
	Name        string
	Description string
	// KeyTypes lists the allowed key specs, e.g. "ecdsa-p256", "rsa-2048".
	KeyTypes    []string
	MaxLifetime time.Duration
	// ExtKeyUsages lists "serverAuth" and/or "clientAuth".
	ExtKeyUsages []string
	// SANPatterns restricts DNS names to these patterns ("*.example.com" matches one label);
	// empty allows any name.
	SANPatterns []string
	AllowIP     bool
	AllowEmail  bool
	AllowURI    bool
	MustStaple  bool
	// Approval is "none", "issuance" (new certificates and renewals that change names or key
	// type wait for approval) or "always" (every renewal too).
	Approval  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// RenewalPolicy decides when certificates renew and how failures retry.
type RenewalPolicy struct {
	ID   string
	Name string
	// RenewFraction renews when this fraction of the lifetime remains (e.g. 1/3); used when
	// RenewBefore is zero.
	RenewFraction float64
	// RenewBefore renews this long before expiry, when not zero.
	RenewBefore  time.Duration
	MaxAttempts  int
	RetryBackoff time.Duration
	// AlertBefore lists how long before expiry an alert is due for a certificate that has
	// not been renewed by then, longest first; empty uses the notification defaults.
	AlertBefore []time.Duration
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ProfileQueries reads and writes profiles and renewal policies.
type ProfileQueries interface {
	ListProfiles(ctx context.Context) ([]Profile, error)
	GetProfile(ctx context.Context, id string) (Profile, error)
	CreateProfile(ctx context.Context, p Profile) error
	UpdateProfile(ctx context.Context, p Profile) error
	ListRenewalPolicies(ctx context.Context) ([]RenewalPolicy, error)
	GetRenewalPolicy(ctx context.Context, id string) (RenewalPolicy, error)
	CreateRenewalPolicy(ctx context.Context, p RenewalPolicy) error
	UpdateRenewalPolicy(ctx context.Context, p RenewalPolicy) error
	// DeleteProfile removes a profile; ErrConflict while certificates use it.
	DeleteProfile(ctx context.Context, id string) error
	// DeleteRenewalPolicy removes a policy; ErrConflict while certificates use it.
	DeleteRenewalPolicy(ctx context.Context, id string) error
}

// Certificate is a managed certificate: what should exist, independent of any one issued
// version.
type Certificate struct {
	ID              string
	Name            string
	CommonName      string
	SANs            []string
	Environment     string
	OwnerID         string
	TeamID          string
	Tags            []string
	IssuerID        string
	ProfileID       string
	RenewalPolicyID string
	KeyMode         string // "agent" or "server"
	Status          string
	// CurrentVersionID and NotAfter describe the newest issued version; empty before the
	// first issuance.
	CurrentVersionID string
	NotAfter         time.Time
	// RenewAt is when the current version is due for renewal under the renewal policy;
	// zero before issuance. Only SetRenewAt moves it.
	RenewAt   time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CertificateVersion is one issued certificate.
type CertificateVersion struct {
	ID            string
	CertificateID string
	IssuerID      string
	Serial        string // lower-case hex, no separators
	CertPEM       string // the leaf
	ChainPEM      string // the issuers above the leaf, up to the root
	Fingerprint   string // SHA-256 of the leaf's DER, lower-case hex
	NotBefore     time.Time
	NotAfter      time.Time
	KeyAlgorithm  string // e.g. "ecdsa-p256"
	KeyBits       int
	KeyLocation   string // "agent", "server" or "none"
	KeySealed     []byte // only when KeyLocation is "server"
	CreatedAt     time.Time
	RevokedAt     time.Time // zero while not revoked
	RevokeReason  int       // RFC 5280 CRLReason
}

// CertificateFilter narrows ListCertificates; zero values match everything. ExpiresAfter is
// inclusive and ExpiresBefore exclusive, both on the current version's end.
type CertificateFilter struct {
	Status      string
	IssuerID    string
	OwnerID     string
	TeamID      string
	ProfileID   string
	Environment string
	// Search matches certificates whose name, common name or a SAN contains it, ignoring
	// letter case.
	Search string
	// Sort is "name" (the default), "-name", "not_after" or "-not_after"; certificates not
	// issued yet sort as expiring last.
	Sort          string
	ExpiresAfter  time.Time
	ExpiresBefore time.Time
}

// SealedKey is a server-held private key as stored: sealed to its version.
type SealedKey struct {
	VersionID string
	Sealed    []byte
}

// CertificateSorts lists the values CertificateFilter.Sort takes.
var CertificateSorts = []string{"name", "-name", "not_after", "-not_after"}

// Revoked is a revoked serial as a CRL lists it, with the certificate, so that a CA with
// several issuing certificates can tell which of them signed it.
type Revoked struct {
	Serial    string
	RevokedAt time.Time
	Reason    int
	CertPEM   string
}

// CertificateQueries reads and writes certificates and their versions.
type CertificateQueries interface {
	// ListCertificates returns certificates by name and the keyset position of the last.
	ListCertificates(ctx context.Context, f CertificateFilter, p Page) ([]Certificate, string,
		error)
	CountCertificates(ctx context.Context, f CertificateFilter) (int, error)
	GetCertificate(ctx context.Context, id string) (Certificate, error)
	CreateCertificate(ctx context.Context, c Certificate) error
	// UpdateCertificate replaces the fields a caller edits, status and updated time of the
	// certificate with c.ID. CreatedAt, CurrentVersionID and NotAfter are left alone: only
	// AddVersion moves them, so an update from an older copy cannot undo an issuance.
	UpdateCertificate(ctx context.Context, c Certificate) error
	// SetCertificateStatus changes only the status.
	SetCertificateStatus(ctx context.Context, id, status string, at time.Time) error
	// SetRenewAt records when certificate id is due for renewal; zero clears it.
	SetRenewAt(ctx context.Context, id string, renewAt time.Time) error
	// ListRenewalDue returns up to limit certificates whose renewal time has come by now,
	// earliest first, that have no unfinished job and are Active, Expiring or Expired.
	ListRenewalDue(ctx context.Context, now time.Time, limit int) ([]Certificate, error)
	// ListUnscheduled returns up to limit issued certificates with no renewal time yet.
	ListUnscheduled(ctx context.Context, limit int) ([]Certificate, error)
	// ListStatusStale returns up to limit certificates whose stored status time has
	// overtaken: Active ones whose renewal time has come, and certificates not yet marked
	// Expired (nor Revoked or Archived) whose current version ended by now.
	ListStatusStale(ctx context.Context, now time.Time, limit int) ([]Certificate, error)

	// AddVersion stores v and makes it the certificate's current version.
	AddVersion(ctx context.Context, v CertificateVersion) error
	// ListVersions returns a certificate's versions, newest first.
	ListVersions(ctx context.Context, certificateID string) ([]CertificateVersion, error)
	GetVersion(ctx context.Context, id string) (CertificateVersion, error)
	// GetVersionBySerial finds a version issued by issuer with the serial.
	GetVersionBySerial(ctx context.Context, issuerID, serial string) (CertificateVersion, error)
	// RevokeVersion marks a version revoked; ErrNotFound when missing or already revoked.
	RevokeVersion(ctx context.Context, id string, at time.Time, reason int) error
	// ListSealedKeys returns the ID and sealed key of every version whose key the server
	// holds, for re-encryption under a new key.
	ListSealedKeys(ctx context.Context) ([]SealedKey, error)
	// ResealVersion replaces the sealed key of version id.
	ResealVersion(ctx context.Context, id string, sealed []byte) error
	// ListRevoked returns every revoked serial of issuer that has not yet expired at now.
	ListRevoked(ctx context.Context, issuerID string, now time.Time) ([]Revoked, error)
}
