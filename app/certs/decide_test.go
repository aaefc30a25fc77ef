package certs

import (
	"testing"
	"time"

	"certctl/store"
)

var t0 = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func ver(lifetime time.Duration) *store.CertificateVersion {
	return &store.CertificateVersion{NotBefore: t0, NotAfter: t0.Add(lifetime)}
}

var third = store.RenewalPolicy{RenewFraction: 1.0 / 3}

func TestStatus(t *testing.T) {
	day := 24 * time.Hour
	revoked := ver(90 * day)
	revoked.RevokedAt = t0.Add(day)
	tests := []struct {
		name string
		in   StatusInput
		want string
	}{
		{"archived wins", StatusInput{Archived: true, Current: revoked}, StatusArchived},
		{"revoked", StatusInput{Current: revoked, Now: t0.Add(2 * day)}, StatusRevoked},
		{"never issued", StatusInput{OpenJob: store.JobIssuance}, StatusPending},
		{"first issuance failed", StatusInput{LastJobFailed: true}, StatusFailed},
		{"fresh", StatusInput{Current: ver(90 * day), Policy: third, Now: t0.Add(day)},
			StatusActive},
		{"renewal window", StatusInput{Current: ver(90 * day), Policy: third,
			Now: t0.Add(61 * day)}, StatusExpiring},
		{"renewing", StatusInput{Current: ver(90 * day), OpenJob: store.JobRenewal,
			Policy: third, Now: t0.Add(61 * day)}, StatusRenewalInProgress},
		{"renewal failed", StatusInput{Current: ver(90 * day), LastJobFailed: true,
			Policy: third, Now: t0.Add(61 * day)}, StatusFailed},
		{"expired while renewing", StatusInput{Current: ver(90 * day),
			OpenJob: store.JobRenewal, Now: t0.Add(90 * day)}, StatusExpired},
		{"six-day certificate at day 2", StatusInput{Current: ver(6 * day), Policy: third,
			Now: t0.Add(2 * day)}, StatusActive},
		{"six-day certificate at day 3", StatusInput{Current: ver(6 * day), Policy: third,
			Now: t0.Add(3 * day)}, StatusExpiring},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.in); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestRenewAt(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		lifetime time.Duration
		p        store.RenewalPolicy
		want     time.Duration // after t0
	}{
		{"a third of 90 days", 90 * day, third, 60 * day},
		{"a third of a year", 365 * day, third, 365*day - 365*day/3},
		{"half of 6 days", 6 * day, third, 3 * day},
		{"half of 47 hours", 47 * time.Hour, third, 47 * time.Hour / 2},
		{"fixed 30 days", 90 * day, store.RenewalPolicy{RenewBefore: 30 * day}, 60 * day},
		{"fixed longer than the lifetime", 6 * day,
			store.RenewalPolicy{RenewBefore: 30 * day}, 0},
		{"no fraction set means a third", 90 * day, store.RenewalPolicy{}, 60 * day},
		{"a larger fraction is kept", 6 * day, store.RenewalPolicy{RenewFraction: 0.75},
			6*day - 6*day*3/4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RenewAt(t0, t0.Add(tc.lifetime), tc.p)
			if want := t0.Add(tc.want); !got.Equal(want) {
				t.Errorf("got %v, want %v", got.Sub(t0), tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base     time.Duration
		attempts int
		want     time.Duration
	}{
		{time.Minute, 1, time.Minute},
		{time.Minute, 2, 2 * time.Minute},
		{time.Minute, 4, 8 * time.Minute},
		{time.Hour, 10, 24 * time.Hour},
		{0, 1, time.Minute},
	}
	for _, tc := range tests {
		if got := Backoff(tc.base, tc.attempts); got != tc.want {
			t.Errorf("Backoff(%v, %d): got %v, want %v", tc.base, tc.attempts, got, tc.want)
		}
	}
}
