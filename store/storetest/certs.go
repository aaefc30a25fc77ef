package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func profile(id string) store.Profile {
	return store.Profile{ID: id, Name: "Profile " + id, Description: "d",
		KeyTypes: []string{"ecdsa-p256", "rsa-2048"}, MaxLifetime: 90 * 24 * time.Hour,
		ExtKeyUsages: []string{"serverAuth"}, SANPatterns: []string{"*.example.com"},
		AllowIP: true, MustStaple: true, Approval: "issuance",
		CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
}

func policy(id string) store.RenewalPolicy {
	return store.RenewalPolicy{ID: id, Name: "Policy " + id, RenewFraction: 1.0 / 3,
		MaxAttempts: 5, RetryBackoff: time.Minute,
		AlertBefore: []time.Duration{30 * 24 * time.Hour, 7 * 24 * time.Hour},
		CreatedAt:   store.UTC(base),
		UpdatedAt:   store.UTC(base)}
}

func testProfiles(t *testing.T, h Harness) {
	s := h.Open(t)
	p := profile("prof-a")
	if err := s.CreateProfile(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetProfile(ctx(t), "prof-a")
	if diff := cmp.Diff(p, got); err != nil || diff != "" {
		t.Errorf("profile round trip: %v (-want +got):\n%s", err, diff)
	}
	p.KeyTypes, p.SANPatterns, p.Approval = []string{"ed25519"}, nil, "none"
	if err := s.UpdateProfile(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetProfile(ctx(t), "prof-a")
	if diff := cmp.Diff(p, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
	if err := s.CreateProfile(ctx(t), profile("prof-a")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate profile: got %v, want ErrConflict", err)
	}
	if list, err := s.ListProfiles(ctx(t)); err != nil || len(list) != 1 {
		t.Errorf("list profiles: got %v, %v", list, err)
	}

	rp := policy("rp-a")
	if err := s.CreateRenewalPolicy(ctx(t), rp); err != nil {
		t.Fatal(err)
	}
	gotRP, err := s.GetRenewalPolicy(ctx(t), "rp-a")
	if diff := cmp.Diff(rp, gotRP); err != nil || diff != "" {
		t.Errorf("policy round trip: %v (-want +got):\n%s", err, diff)
	}
	rp.RenewFraction, rp.RenewBefore = 0, 7*24*time.Hour
	if err := s.UpdateRenewalPolicy(ctx(t), rp); err != nil {
		t.Fatal(err)
	}
	if gotRP, _ = s.GetRenewalPolicy(ctx(t), "rp-a"); gotRP.RenewBefore != rp.RenewBefore {
		t.Errorf("policy after update: got %v", gotRP)
	}
	if _, err := s.GetRenewalPolicy(ctx(t), "rp-x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing policy: got %v, want ErrNotFound", err)
	}
	if list, err := s.ListRenewalPolicies(ctx(t)); err != nil || len(list) != 1 {
		t.Errorf("list policies: got %v, %v", list, err)
	}

	c := certificate("uses-both")
	c.ProfileID, c.RenewalPolicyID, c.IssuerID = "prof-a", "rp-a", ""
	if err := s.CreateCertificate(ctx(t), c); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx(t), "prof-a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("delete a profile in use: got %v, want ErrConflict", err)
	}
	if err := s.DeleteRenewalPolicy(ctx(t), "rp-a"); !errors.Is(err, store.ErrConflict) {
		t.Errorf("delete a policy in use: got %v, want ErrConflict", err)
	}
	c.ProfileID, c.RenewalPolicyID = "", ""
	if err := s.UpdateCertificate(ctx(t), c); err != nil {
		t.Fatal(err)
	}
	for name, del := range map[string]func() error{
		"profile": func() error { return s.DeleteProfile(ctx(t), "prof-a") },
		"policy":  func() error { return s.DeleteRenewalPolicy(ctx(t), "rp-a") },
	} {
		if err := del(); err != nil {
			t.Errorf("delete unused %s: %v", name, err)
		}
		if err := del(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete %s twice: got %v, want ErrNotFound", name, err)
		}
	}
}

// pkiFixture stores an issuer, a profile and a policy certificates can refer to.
func pkiFixture(t *testing.T, s store.Store) {
	t.Helper()
	for _, err := range []error{s.CreateIssuer(ctx(t), issuer("iss-a")),
		s.CreateProfile(ctx(t), profile("prof-a")),
		s.CreateRenewalPolicy(ctx(t), policy("rp-a"))} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func certificate(name string) store.Certificate {
	return store.Certificate{ID: store.NewID("cert"), Name: name, CommonName: name + ".example.com",
		SANs: []string{name + ".example.com", "10.0.0.1"}, Environment: "prod",
		Tags: []string{"web"}, IssuerID: "iss-a", ProfileID: "prof-a", RenewalPolicyID: "rp-a",
		KeyMode: "server", Status: "Pending", CreatedAt: store.UTC(base),
		UpdatedAt: store.UTC(base)}
}

func newVersion(c store.Certificate, serial string, at time.Time) store.CertificateVersion {
	return store.CertificateVersion{ID: store.NewID("ver"), CertificateID: c.ID,
		IssuerID: c.IssuerID, Serial: serial, CertPEM: "leaf " + serial, ChainPEM: "chain",
		Fingerprint: "fp" + serial, NotBefore: store.UTC(at),
		NotAfter: store.UTC(at.Add(90 * 24 * time.Hour)), KeyAlgorithm: "ecdsa-p256",
		KeyBits: 256, KeyLocation: "server", KeySealed: []byte{7}, CreatedAt: store.UTC(at)}
}

func testCertificates(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	c := certificate("web")
	if err := s.CreateCertificate(ctx(t), c); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetCertificate(ctx(t), c.ID)
	if diff := cmp.Diff(c, got); err != nil || diff != "" {
		t.Errorf("certificate round trip: %v (-want +got):\n%s", err, diff)
	}
	dup := certificate("WEB")
	if err := s.CreateCertificate(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name: got %v, want ErrConflict", err)
	}
	bad := certificate("orphan")
	bad.IssuerID = "iss-missing"
	if err := s.CreateCertificate(ctx(t), bad); !errors.Is(err, store.ErrConflict) {
		t.Errorf("unknown issuer: got %v, want ErrConflict", err)
	}

	v1 := newVersion(c, "0a01", base)
	v2 := newVersion(c, "0a02", base.Add(24*time.Hour))
	for _, v := range []store.CertificateVersion{v1, v2} {
		if err := s.AddVersion(ctx(t), v); err != nil {
			t.Fatal(err)
		}
	}
	got, _ = s.GetCertificate(ctx(t), c.ID)
	if got.CurrentVersionID != v2.ID || !got.NotAfter.Equal(v2.NotAfter) {
		t.Errorf("current version: got %s %v, want %s %v", got.CurrentVersionID, got.NotAfter,
			v2.ID, v2.NotAfter)
	}
	versions, err := s.ListVersions(ctx(t), c.ID)
	if err != nil || len(versions) != 2 || versions[0].ID != v2.ID {
		t.Fatalf("versions newest first: got %v, %v", versions, err)
	}
	if diff := cmp.Diff(v2, versions[0]); diff != "" {
		t.Errorf("version round trip (-want +got):\n%s", diff)
	}
	if bySerial, err := s.GetVersionBySerial(ctx(t), "iss-a", "0a01"); err != nil ||
		bySerial.ID != v1.ID {
		t.Errorf("by serial: got %v, %v", bySerial.ID, err)
	}
	if err := s.AddVersion(ctx(t), newVersion(c, "0a01", base)); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate serial for one issuer: got %v, want ErrConflict", err)
	}

	sealed, err := s.ListSealedKeys(ctx(t))
	if err != nil || len(sealed) != 2 {
		t.Fatalf("sealed keys: got %v, %v; want both versions", sealed, err)
	}
	if err := s.ResealVersion(ctx(t), v1.ID, []byte{8, 8}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetVersion(ctx(t), v1.ID); string(got.KeySealed) != "\x08\x08" {
		t.Errorf("resealed key: got %v", got.KeySealed)
	}
	if err := s.ResealVersion(ctx(t), "ver-missing", []byte{1}); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("reseal a missing version: got %v, want ErrNotFound", err)
	}
	v1.KeySealed = []byte{8, 8}
	stale := c // read before the versions were added
	stale.Environment, stale.Tags, stale.UpdatedAt = "staging", nil, store.UTC(base.Add(time.Hour))
	if err := s.UpdateCertificate(ctx(t), stale); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetCertificate(ctx(t), c.ID)
	if got.Environment != "staging" || len(got.Tags) != 0 || got.CurrentVersionID != v2.ID ||
		!got.NotAfter.Equal(v2.NotAfter) || !got.CreatedAt.Equal(c.CreatedAt) {
		t.Errorf("update from a stale copy: got %+v; want the edit kept and version %s kept",
			got, v2.ID)
	}
	renamed := got
	renamed.Name = "Renamed-Frontend"
	if err := s.UpdateCertificate(ctx(t), renamed); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{"frontend": 1, "renamed-front": 1, "zzz": 0} {
		if n, err := s.CountCertificates(ctx(t), store.CertificateFilter{Search: q}); err != nil ||
			n != want {
			t.Errorf("search %q after a rename: got %d, %v; want %d", q, n, err, want)
		}
	}
	if err := s.SetCertificateStatus(ctx(t), c.ID, "Active", base); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetCertificate(ctx(t), c.ID); got.Status != "Active" {
		t.Errorf("status: got %s, want Active", got.Status)
	}
	testRevocation(t, s, v1, v2)
}

func testRevocation(t *testing.T, s store.Store, v1, v2 store.CertificateVersion) {
	at := store.UTC(base.Add(48 * time.Hour))
	if err := s.RevokeVersion(ctx(t), v1.ID, at, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeVersion(ctx(t), v1.ID, at, 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: got %v, want ErrNotFound", err)
	}
	got, _ := s.GetVersion(ctx(t), v1.ID)
	if !got.RevokedAt.Equal(at) || got.RevokeReason != 1 {
		t.Errorf("revoked version: got %v reason %d", got.RevokedAt, got.RevokeReason)
	}
	revoked, err := s.ListRevoked(ctx(t), "iss-a", base)
	want := []store.Revoked{{Serial: "0a01", RevokedAt: at, Reason: 1, CertPEM: v1.CertPEM}}
	if diff := cmp.Diff(want, revoked); err != nil || diff != "" {
		t.Errorf("revoked list: %v (-want +got):\n%s", err, diff)
	}
	// An expired revoked certificate leaves the CRL.
	if revoked, _ := s.ListRevoked(ctx(t), "iss-a", v1.NotAfter.Add(time.Second)); len(revoked) != 0 {
		t.Errorf("revoked list after expiry: got %v, want none", revoked)
	}
}

func testCertificatePaging(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	for i := 0; i < 7; i++ {
		c := certificate(fmt.Sprintf("cert-%d", i))
		c.Status = []string{"Active", "Expiring"}[i%2]
		if i == 3 {
			c.Environment = "staging"
		}
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		v := newVersion(c, fmt.Sprintf("%02x", i+1), base.Add(time.Duration(i)*24*time.Hour))
		if err := s.AddVersion(ctx(t), v); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    store.CertificateFilter
		want int
	}{
		{"all", store.CertificateFilter{}, 7},
		{"status", store.CertificateFilter{Status: "Expiring"}, 3},
		{"environment", store.CertificateFilter{Environment: "staging"}, 1},
		{"issuer", store.CertificateFilter{IssuerID: "iss-a"}, 7},
		{"profile", store.CertificateFilter{ProfileID: "prof-a"}, 7},
		{"other profile", store.CertificateFilter{ProfileID: "prof-b"}, 0},
		{"search name in other case", store.CertificateFilter{Search: "CERT-3"}, 1},
		{"search SAN", store.CertificateFilter{Search: "3.example.com"}, 1},
		{"search IP", store.CertificateFilter{Search: "10.0.0"}, 7},
		{"search short", store.CertificateFilter{Search: "t-"}, 7},
		{"search is not a pattern", store.CertificateFilter{Search: "%"}, 0},
		{"search with quote", store.CertificateFilter{Search: `ce"rt`}, 0},
		{"search and status", store.CertificateFilter{Search: "example",
			Status: "Expiring"}, 3},
		{"expires before", store.CertificateFilter{
			ExpiresBefore: base.Add(92 * 24 * time.Hour)}, 2},
		{"expires after", store.CertificateFilter{
			ExpiresAfter: base.Add(92 * 24 * time.Hour)}, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]bool{}
			after := ""
			for pages := 0; pages < 10; pages++ {
				list, next, err := s.ListCertificates(ctx(t), tc.f, store.Page{Limit: 2,
					After: after})
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range list {
					seen[c.ID] = true
				}
				if next == "" {
					break
				}
				after = next
			}
			n, err := s.CountCertificates(ctx(t), tc.f)
			if len(seen) != tc.want || n != tc.want || err != nil {
				t.Errorf("got %d listed, count %d, %v; want %d", len(seen), n, err, tc.want)
			}
		})
	}
	testSorts(t, s)
}

// testSorts pages through every sort order two rows at a time and checks the order, with
// a certificate never issued sorting as expiring last.
func testSorts(t *testing.T, s store.Store) {
	unissued := certificate("zz-unissued")
	if err := s.CreateCertificate(ctx(t), unissued); err != nil {
		t.Fatal(err)
	}
	byName := []string{"cert-0", "cert-1", "cert-2", "cert-3", "cert-4", "cert-5", "cert-6",
		"zz-unissued"}
	reversed := slices.Clone(byName)
	slices.Reverse(reversed)
	for sort, want := range map[string][]string{"": byName, "name": byName,
		"-name": reversed, "not_after": byName, "-not_after": reversed} {
		var got []string
		after := ""
		for pages := 0; pages < 10; pages++ {
			list, next, err := s.ListCertificates(ctx(t), store.CertificateFilter{Sort: sort},
				store.Page{Limit: 2, After: after})
			if err != nil {
				t.Fatalf("sort %q: %v", sort, err)
			}
			for _, c := range list {
				got = append(got, c.Name)
			}
			if next == "" {
				break
			}
			after = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sort %q (-want +got):\n%s", sort, diff)
		}
	}
	if _, _, err := s.ListCertificates(ctx(t), store.CertificateFilter{Sort: "colour"},
		store.Page{Limit: 2}); err == nil {
		t.Error("unknown sort: got nil error")
	}
}
