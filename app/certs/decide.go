// Package certs is the certificate lifecycle: the inventory, issuance and renewal through
// durable jobs, and revocation.
package certs

import (
	"time"

	"certctl/store"
)

// Certificate statuses, as the API reports them.
const (
	StatusPending           = "Pending"
	StatusActive            = "Active"
	StatusExpiring          = "Expiring"
	StatusExpired           = "Expired"
	StatusRenewalInProgress = "RenewalInProgress"
	StatusFailed            = "Failed"
	StatusRevoked           = "Revoked"
	StatusArchived          = "Archived"
)

// shortLifetime is the lifetime under which a fractional policy renews at half the lifetime
// at the latest, so that a 6-day certificate keeps three days to renew in.
const shortLifetime = 10 * 24 * time.Hour

// StatusInput is everything the status of a certificate depends on.
type StatusInput struct {
	Archived bool
	// Current is the newest issued version, or nil before the first issuance.
	Current *store.CertificateVersion
	// OpenJob is the type of the certificate's unfinished job, or "".
	OpenJob string
	// LastJobFailed is set when the newest finished job failed for good.
	LastJobFailed bool
	Policy        store.RenewalPolicy
	Now           time.Time
}

// Status decides a certificate's status. Archived and revoked certificates keep their state;
// an expired certificate is Expired even while a renewal runs, since that is what users of it
// see; otherwise work in progress and failures show before the renewal window.
func Status(in StatusInput) string {
	v := in.Current
	switch {
	case in.Archived:
		return StatusArchived
	case v != nil && !v.RevokedAt.IsZero():
		return StatusRevoked
	case v == nil && in.OpenJob == "" && in.LastJobFailed:
		return StatusFailed
	case v == nil:
		return StatusPending
	case !in.Now.Before(v.NotAfter):
		return StatusExpired
	case in.OpenJob != "":
		return StatusRenewalInProgress
	case in.LastJobFailed:
		return StatusFailed
	case !in.Now.Before(RenewAt(v.NotBefore, v.NotAfter, in.Policy)):
		return StatusExpiring
	}
	return StatusActive
}

// RenewAt is when a certificate valid from notBefore to notAfter is due for renewal under p:
// a fixed time before the end when p sets one, else when p's fraction of the lifetime
// remains (at least half of it for lifetimes under ten days). The result never lies before
// notBefore.
func RenewAt(notBefore, notAfter time.Time, p store.RenewalPolicy) time.Time {
	lifetime := notAfter.Sub(notBefore)
	var before time.Duration
	if p.RenewBefore > 0 {
		before = p.RenewBefore
	} else {
		f := p.RenewFraction
		if f <= 0 || f >= 1 {
			f = 1.0 / 3
		}
		if lifetime < shortLifetime && f < 0.5 {
			f = 0.5
		}
		before = time.Duration(float64(lifetime) * f)
	}
	if before > lifetime {
		before = lifetime
	}
	return notAfter.Add(-before)
}

// Backoff is how long to wait before attempt number attempts+1 after a failure: the policy's
// base wait doubled per attempt so far, capped at a day.
func Backoff(base time.Duration, attempts int) time.Duration {
	const ceiling = 24 * time.Hour
	if base <= 0 {
		base = time.Minute
	}
	d := base
	for i := 1; i < attempts && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}
