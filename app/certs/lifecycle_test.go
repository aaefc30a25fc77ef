package certs_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/store"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"
)

func TestServerKeyModeIssuance(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c, j := e.create(t, certs.Input{Name: "web", CommonName: "web.example.com",
			SANs: []string{"www.example.com", "10.0.0.5"}, IssuerID: "iss-local"})
		if c.Status != certs.StatusPending {
			t.Errorf("certificate status: got %s, want %s", c.Status, certs.StatusPending)
		}
		j = e.job(t, j.ID)
		if j.Type != store.JobIssuance || j.Status != store.JobPending {
			t.Errorf("job: got %s %s, want %s %s", j.Type, j.Status, store.JobIssuance,
				store.JobPending)
		}

		e.runOne(t, true)
		e.runOne(t, false)

		c = e.cert(t, c.ID)
		if c.Status != certs.StatusActive {
			t.Errorf("certificate status: got %s, want %s", c.Status, certs.StatusActive)
		}
		if j = e.job(t, j.ID); j.Status != store.JobCompleted {
			t.Errorf("job status: got %s, want %s", j.Status, store.JobCompleted)
		}
		vs := e.versions(t, c.ID)
		if len(vs) != 1 || vs[0].ID != c.CurrentVersionID {
			t.Fatalf("got %d versions, want 1 that is current", len(vs))
		}
		v := vs[0]
		leaf := parseCerts(t, v.CertPEM)[0]
		checkLeafNames(t, leaf)
		if got := leaf.SerialNumber.Text(16); got != v.Serial {
			t.Errorf("leaf serial: got %s, want version serial %s", got, v.Serial)
		}
		if want := e.clock.Now().Add(90 * 24 * time.Hour); !leaf.NotAfter.Equal(want) {
			t.Errorf("leaf not after: got %s, want %s (the profile's 90 days)", leaf.NotAfter,
				want)
		}
		checkSealedKey(t, e, v, leaf)
		checkChain(t, e, v, leaf)
		checkPKIURLs(t, leaf)
		checkIssueAudit(t, e, c.ID)
		checkExport(t, e, c.ID, v)
	})
}

func checkLeafNames(t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	if leaf.Subject.CommonName != "web.example.com" {
		t.Errorf("common name: got %q, want web.example.com", leaf.Subject.CommonName)
	}
	dns := slices.Sorted(slices.Values(leaf.DNSNames))
	if diff := cmp.Diff([]string{"web.example.com", "www.example.com"}, dns); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if len(leaf.IPAddresses) != 1 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.5")) {
		t.Errorf("IP addresses: got %v, want [10.0.0.5]", leaf.IPAddresses)
	}
}

// checkSealedKey checks that the server-held key is stored sealed, not in clear, and is
// the leaf's key.
func checkSealedKey(t *testing.T, e *env, v store.CertificateVersion, leaf *x509.Certificate) {
	t.Helper()
	if v.KeyLocation != "server" || len(v.KeySealed) == 0 {
		t.Fatalf("key: got location %q and %d sealed bytes, want server and a sealed key",
			v.KeyLocation, len(v.KeySealed))
	}
	// The service binds a version's sealed key to the version ID.
	der, err := e.key.Open(v.KeySealed, []byte("cert-key:"+v.ID))
	if err != nil {
		t.Fatalf("unseal version key: %v", err)
	}
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatalf("parse unsealed key: %v", err)
	}
	pub := key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool })
	if !pub.Equal(leaf.PublicKey) {
		t.Error("the sealed key is not the leaf's key")
	}
	clear := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if bytes.Contains(v.KeySealed, der) || bytes.Contains(v.KeySealed, clear) {
		t.Error("the sealed key holds the private key in clear")
	}
	if _, err := e.key.Open(v.KeySealed, []byte("cert-key:ver-other")); err == nil {
		t.Error("the sealed key opens for another version too")
	}
}

// checkChain verifies the leaf through the version's chain up to the CA's root.
func checkChain(t *testing.T, e *env, v store.CertificateVersion, leaf *x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(e.root(t))
	for _, c := range parseCerts(t, v.ChainPEM) {
		inters.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		DNSName: "www.example.com", CurrentTime: e.clock.Now()})
	if err != nil {
		t.Errorf("verify leaf through its chain: %v", err)
	}
}

func checkPKIURLs(t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	const base = "https://certctl.test/.well-known/pki/"
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"CRL distribution point", leaf.CRLDistributionPoints, base + "crl/iss-local"},
		{"OCSP server", leaf.OCSPServer, base + "ocsp/iss-local"},
		{"CA issuers", leaf.IssuingCertificateURL, base + "ca/iss-local"},
	}
	for _, tc := range tests {
		// The CRL URL goes on to name the issuing CA, so each leaf finds the CRL its own
		// intermediate signs after a rollover.
		if len(tc.got) != 1 || !strings.HasPrefix(tc.got[0], tc.want) {
			t.Errorf("%s: got %v, want one URL starting %s", tc.name, tc.got, tc.want)
		}
	}
}

func checkIssueAudit(t *testing.T, e *env, certID string) {
	t.Helper()
	events, _, err := e.st.ListAudit(e.ctx, store.AuditFilter{ResourceID: certID},
		store.Page{Limit: 50})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	got := map[string]string{}
	for _, ev := range events {
		got[ev.Action] = ev.Actor
	}
	want := map[string]string{"certificate.create": "apikey:alice",
		"certificate.issue": "scheduler"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit actions and actors (-want +got):\n%s", diff)
	}
}

func checkExport(t *testing.T, e *env, certID string, v store.CertificateVersion) {
	t.Helper()
	out, err := e.svc.ExportPEM(e.ctx, certID)
	if err != nil {
		t.Fatalf("export PEM: %v", err)
	}
	if strings.Contains(string(out), "PRIVATE KEY") {
		t.Error("the export holds a private key")
	}
	got := parseCerts(t, string(out))
	want := append(parseCerts(t, v.CertPEM), parseCerts(t, v.ChainPEM)...)
	if len(got) != len(want) || len(want) < 3 {
		t.Fatalf("export: got %d certificates, want the leaf and its %d-certificate chain",
			len(got), len(want)-1)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("export certificate %d: got %q, want %q", i, got[i].Subject, want[i].Subject)
		}
	}
}

func TestCreateRefusesBadInput(t *testing.T) {
	tests := []struct {
		name  string
		in    certs.Input
		field string
	}{
		{"no issuer", certs.Input{CommonName: "a.example.com"}, "issuer_id"},
		{"unknown issuer", certs.Input{CommonName: "a.example.com", IssuerID: "iss-nope"},
			"issuer_id"},
		{"unknown profile", certs.Input{CommonName: "a.example.com", IssuerID: "iss-local",
			ProfileID: "prof-nope"}, "profile_id"},
		{"unknown renewal policy", certs.Input{CommonName: "a.example.com",
			IssuerID: "iss-local", RenewalPolicyID: "rp-nope"}, "renewal_policy_id"},
		{"common name outside profile patterns", certs.Input{CommonName: "a.example.org",
			IssuerID: "iss-local", ProfileID: "prof-narrow"}, "sans"},
		{"SAN outside profile patterns", certs.Input{CommonName: "a.example.com",
			SANs: []string{"db.internal"}, IssuerID: "iss-local", ProfileID: "prof-narrow"},
			"sans"},
		{"pattern matches one label only", certs.Input{CommonName: "a.b.example.com",
			IssuerID: "iss-local", ProfileID: "prof-narrow"}, "sans"},
		{"no names", certs.Input{IssuerID: "iss-local"}, "sans"},
		{"IP under a profile without IPs", certs.Input{CommonName: "a.example.com",
			SANs: []string{"10.0.0.5"}, IssuerID: "iss-local", ProfileID: "prof-narrow"},
			"sans"},
		{"malformed SAN", certs.Input{CommonName: "a.example.com",
			SANs: []string{"bad name!"}, IssuerID: "iss-local"}, "sans"},
		{"bad key mode", certs.Input{CommonName: "a.example.com", IssuerID: "iss-local",
			KeyMode: "hsm"}, "key_mode"},
		{"no certificate name", certs.Input{CommonName: "a.example.com",
			IssuerID: "iss-local", Name: " "}, "name"},
	}
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-narrow", []string{"*.example.com"}, false, "none")
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				in := tc.in
				if in.Name == "" {
					in.Name = "bad " + tc.name
				}
				certsBefore, jobsBefore := e.countCerts(t), e.countJobs(t)
				_, _, err := e.svc.Create(e.ctx, in)
				wantFieldError(t, err, tc.field)
				if got := e.countCerts(t); got != certsBefore {
					t.Errorf("certificates: got %d, want %d", got, certsBefore)
				}
				if got := e.countJobs(t); got != jobsBefore {
					t.Errorf("jobs: got %d, want %d", got, jobsBefore)
				}
			})
		}
	})
}

func TestCreateRefusesDuplicateName(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.create(t, certs.Input{Name: "api", CommonName: "api.example.com"})
		for _, name := range []string{"api", "API"} {
			_, _, err := e.svc.Create(e.ctx, certs.Input{Name: name,
				CommonName: "other.example.com", IssuerID: "iss-local"})
			if c := wantConflict(t, err); c.Fields["name"] == "" {
				t.Errorf("name %q: got conflict fields %v, want one for name", name, c.Fields)
			}
		}
		if got := e.countCerts(t); got != 1 {
			t.Errorf("certificates: got %d, want 1", got)
		}
		if got := e.countJobs(t); got != 1 {
			t.Errorf("jobs: got %d, want 1", got)
		}
	})
}

func TestRenew(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		c := e.issue(t, "app")
		first, _ := e.current(t, c.ID)
		e.clock.Advance(time.Hour)

		j, err := e.svc.Renew(e.ctx, c.ID)
		if err != nil {
			t.Fatalf("renew: %v", err)
		}
		if j.Type != store.JobRenewal || j.Status != store.JobPending {
			t.Errorf("job: got %s %s, want %s %s", j.Type, j.Status, store.JobRenewal,
				store.JobPending)
		}
		if got := e.cert(t, c.ID).Status; got != certs.StatusRenewalInProgress {
			t.Errorf("status while renewing: got %s, want %s", got,
				certs.StatusRenewalInProgress)
		}
		_, err = e.svc.Renew(e.ctx, c.ID)
		wantConflict(t, err)

		e.runOne(t, true)
		e.runOne(t, false)

		c = e.cert(t, c.ID)
		vs := e.versions(t, c.ID)
		if len(vs) != 2 {
			t.Fatalf("versions: got %d, want 2", len(vs))
		}
		if vs[0].ID != c.CurrentVersionID || vs[1].ID != first.ID {
			t.Errorf("current version: got %s, want the new one %s (old %s)",
				c.CurrentVersionID, vs[0].ID, first.ID)
		}
		if vs[0].Serial == first.Serial {
			t.Errorf("renewed serial: got %s again, want a new one", first.Serial)
		}
		if !c.NotAfter.After(first.NotAfter) {
			t.Errorf("not after: got %s, want later than %s", c.NotAfter, first.NotAfter)
		}
		if c.Status != certs.StatusActive {
			t.Errorf("status: got %s, want %s", c.Status, certs.StatusActive)
		}
		if j = e.job(t, j.ID); j.Status != store.JobCompleted {
			t.Errorf("renewal job: got %s, want %s", j.Status, store.JobCompleted)
		}
	})
}

func TestAgentKeyMode(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-narrow", []string{"*.example.com"}, false, "none")
		c, j := e.create(t, certs.Input{Name: "edge", CommonName: "edge.example.com",
			KeyMode: "agent"})
		narrow, narrowJob := e.create(t, certs.Input{Name: "narrow",
			CommonName: "n.example.com", KeyMode: "agent", ProfileID: "prof-narrow"})
		if j.Status != store.JobAwaitingCSR || narrowJob.Status != store.JobAwaitingCSR {
			t.Fatalf("jobs: got %s and %s, want %s", j.Status, narrowJob.Status,
				store.JobAwaitingCSR)
		}
		e.runOne(t, false)

		refusals := []struct {
			name, jobID string
			csr         []byte
			want        string // in the csr problem
		}{
			{"garbage", j.ID, []byte("not a CSR"), "certificate signing request"},
			{"forbidden key type", j.ID, newCSR(t, ed25519Key(t), "edge.example.com"),
				"ed25519"},
			{"name outside the profile", narrowJob.ID,
				newCSR(t, ecdsaKey(t), "n.example.com", "evil.example.org"),
				"evil.example.org"},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.SubmitCSR(e.ctx, tc.jobID, tc.csr)
				ve := wantFieldError(t, err, "csr")
				if !strings.Contains(ve["csr"], tc.want) {
					t.Errorf("csr problem: got %q, want it to mention %q", ve["csr"], tc.want)
				}
				if got := e.job(t, tc.jobID); got.Status != store.JobAwaitingCSR ||
					got.CSRPEM != "" {
					t.Errorf("job after a refused CSR: got %s with CSR %t, want %s without",
						got.Status, got.CSRPEM != "", store.JobAwaitingCSR)
				}
			})
		}
		e.runOne(t, false)

		key := ecdsaKey(t)
		j, err := e.svc.SubmitCSR(e.ctx, j.ID, newCSR(t, key, "edge.example.com"))
		if err != nil {
			t.Fatalf("submit CSR: %v", err)
		}
		if j.Status != store.JobPending {
			t.Errorf("job after CSR: got %s, want %s", j.Status, store.JobPending)
		}
		_, err = e.svc.SubmitCSR(e.ctx, j.ID, newCSR(t, key, "edge.example.com"))
		wantConflict(t, err)

		e.runOne(t, true)
		e.runOne(t, false)
		if got := e.cert(t, c.ID).Status; got != certs.StatusActive {
			t.Errorf("status: got %s, want %s", got, certs.StatusActive)
		}
		if got := e.cert(t, narrow.ID).Status; got != certs.StatusPending {
			t.Errorf("certificate still waiting for its CSR: got %s, want %s", got,
				certs.StatusPending)
		}
		v, leaf := e.current(t, c.ID)
		if v.KeyLocation != "agent" || len(v.KeySealed) != 0 {
			t.Errorf("key: got location %q and %d sealed bytes, want agent and none",
				v.KeyLocation, len(v.KeySealed))
		}
		if !key.PublicKey.Equal(leaf.PublicKey) {
			t.Error("the leaf does not certify the CSR's key")
		}
	})
}

func TestApproval(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.addProfile(t, "prof-approve", nil, false, "issuance")
		bob := as(e.ctx, "apikey:bob")

		c, j := e.create(t, certs.Input{Name: "pay", CommonName: "pay.example.com",
			ProfileID: "prof-approve"})
		if j.Status != store.JobAwaitingApproval {
			t.Fatalf("job: got %s, want %s", j.Status, store.JobAwaitingApproval)
		}
		e.runOne(t, false)

		_, err := e.svc.Approve(e.ctx, j.ID)
		wantConflict(t, err)
		if got := e.job(t, j.ID).Status; got != store.JobAwaitingApproval {
			t.Errorf("job after self-approval: got %s, want %s", got, store.JobAwaitingApproval)
		}
		j, err = e.svc.Approve(bob, j.ID)
		if err != nil {
			t.Fatalf("approve as bob: %v", err)
		}
		if j.Status != store.JobPending {
			t.Errorf("approved job: got %s, want %s", j.Status, store.JobPending)
		}
		e.runOne(t, true)
		j = e.job(t, j.ID)
		if j.Status != store.JobCompleted || j.ApprovedBy != "apikey:bob" {
			t.Errorf("job: got %s approved by %q, want %s approved by apikey:bob", j.Status,
				j.ApprovedBy, store.JobCompleted)
		}
		if got := e.cert(t, c.ID).Status; got != certs.StatusActive {
			t.Errorf("status: got %s, want %s", got, certs.StatusActive)
		}
		_, err = e.svc.Approve(bob, j.ID)
		wantConflict(t, err)

		c2, j2 := e.create(t, certs.Input{Name: "pay2", CommonName: "pay2.example.com",
			ProfileID: "prof-approve"})
		j2, err = e.svc.Reject(bob, j2.ID)
		if err != nil {
			t.Fatalf("reject as bob: %v", err)
		}
		if j2.Status != store.JobCancelled {
			t.Errorf("rejected job: got %s, want %s", j2.Status, store.JobCancelled)
		}
		e.runOne(t, false)
		e.clock.Advance(24 * time.Hour)
		e.runOne(t, false)
		if got := e.cert(t, c2.ID).Status; got == certs.StatusActive {
			t.Errorf("status after rejection: got %s, want anything else", got)
		}
		if vs := e.versions(t, c2.ID); len(vs) != 0 {
			t.Errorf("versions after rejection: got %d, want 0", len(vs))
		}
		_, err = e.svc.Approve(as(e.ctx, "apikey:carol"), j2.ID)
		wantConflict(t, err)
	})
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name       string
		fails      int // negative: always
		policyMax  int // the renewal policy's MaxAttempts
		wantCalls  int
		wantJob    string
		wantStatus string
	}{
		{"fails always", -1, 3, 3, store.JobFailed, certs.StatusFailed},
		{"fails once", 1, 3, 2, store.JobCompleted, certs.StatusActive},
		{"policy allows more than five", -1, 7, 7, store.JobFailed, certs.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eachBackend(t, func(t *testing.T, e *env) {
				stub := &flakyIssuer{next: e.ca, fails: tc.fails}
				e.svc = e.service(t, e.st, stub)
				now := e.clock.Now()
				err := e.st.CreateRenewalPolicy(e.ctx, store.RenewalPolicy{ID: "rp-retry",
					Name: "Retries", RenewFraction: 1.0 / 3, MaxAttempts: tc.policyMax,
					RetryBackoff: time.Minute, CreatedAt: now, UpdatedAt: now})
				if err != nil {
					t.Fatalf("create renewal policy: %v", err)
				}
				c, j := e.create(t, certs.Input{Name: "flaky", CommonName: "f.example.com",
					RenewalPolicyID: "rp-retry"})
				if j.MaxAttempts != tc.policyMax {
					t.Errorf("job max attempts: got %d, want the policy's %d", j.MaxAttempts,
						tc.policyMax)
				}

				j = runRetries(t, e, j.ID)

				if got := stub.Calls(); got != tc.wantCalls {
					t.Errorf("issue calls: got %d, want %d", got, tc.wantCalls)
				}
				if j.Status != tc.wantJob || j.Attempts != tc.wantCalls {
					t.Errorf("job: got %s after %d attempts, want %s after %d", j.Status,
						j.Attempts, tc.wantJob, tc.wantCalls)
				}
				if got := e.cert(t, c.ID).Status; got != tc.wantStatus {
					t.Errorf("status: got %s, want %s", got, tc.wantStatus)
				}
				e.clock.Advance(24 * time.Hour)
				e.runOne(t, false)
				if got := stub.Calls(); got != tc.wantCalls {
					t.Errorf("issue calls a day later: got %d, want %d", got, tc.wantCalls)
				}
			})
		})
	}
}

// runRetries runs job id until it stops being retried, checking each failed attempt's
// record and wait (one minute, doubled per attempt), and returns the job.
func runRetries(t *testing.T, e *env, id string) store.Job {
	t.Helper()
	for attempt := 1; ; attempt++ {
		e.runOne(t, true)
		j := e.job(t, id)
		if j.Status != store.JobPending {
			return j
		}
		wait := time.Minute << (attempt - 1)
		want := e.clock.Now().Add(wait)
		if j.Attempts != attempt || j.LastError == "" || !j.NextAttemptAt.Equal(want) {
			t.Fatalf("after failed attempt %d: got attempts %d, error %q, next %s; want "+
				"attempts %d, an error, next %s", attempt, j.Attempts, j.LastError,
				j.NextAttemptAt, attempt, want)
		}
		if !strings.Contains(j.LastError, "stub CA is down") {
			t.Errorf("last error: got %q, want the issuer's error", j.LastError)
		}
		if got := e.cert(t, j.CertificateID).Status; got != certs.StatusPending {
			t.Errorf("status while retrying: got %s, want %s", got, certs.StatusPending)
		}
		e.clock.Advance(wait - time.Second)
		e.runOne(t, false)
		e.clock.Advance(time.Second)
	}
}

func TestRevocation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		a := e.issue(t, "alpha")
		b := e.issue(t, "beta")
		vA, leafA := e.current(t, a.ID)
		_, leafB := e.current(t, b.ID)
		inter := parseCerts(t, vA.ChainPEM)[0]
		crl0 := fetchCRL(t, e, inter)

		err := e.svc.Revoke(e.ctx, a.ID, "bogus", false)
		wantFieldError(t, err, "reason")
		if err := e.svc.Revoke(e.ctx, a.ID, "keyCompromise", false); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if got := e.cert(t, a.ID).Status; got != certs.StatusRevoked {
			t.Errorf("status: got %s, want %s", got, certs.StatusRevoked)
		}
		wantConflict(t, e.svc.Revoke(e.ctx, a.ID, "keyCompromise", false))

		crl1 := fetchCRL(t, e, inter)
		checkCRLEntries(t, crl1, map[string]int{vA.Serial: 1})
		if crl1.Number.Cmp(crl0.Number) <= 0 {
			t.Errorf("CRL number after a revocation: got %s, want above %s", crl1.Number,
				crl0.Number)
		}
		if again := fetchCRL(t, e, inter); again.Number.Cmp(crl1.Number) != 0 {
			t.Errorf("CRL number with nothing changed: got %s, want %s", again.Number,
				crl1.Number)
		}
		e.clock.Advance(17 * time.Hour)
		crl2 := fetchCRL(t, e, inter)
		if crl2.Number.Cmp(crl1.Number) <= 0 || !crl2.ThisUpdate.Equal(e.clock.Now()) {
			t.Errorf("CRL near its next update: got number %s from %s, want above %s from %s",
				crl2.Number, crl2.ThisUpdate, crl1.Number, e.clock.Now())
		}
		checkCRLEntries(t, crl2, map[string]int{vA.Serial: 1})

		checkOCSP(t, e, inter, leafA, ocsp.Revoked)
		checkOCSP(t, e, inter, leafB, ocsp.Good)
		stranger := &x509.Certificate{SerialNumber: randomSerial(t)}
		checkOCSP(t, e, inter, stranger, ocsp.Unknown)
	})
}

func TestRevokeVersions(t *testing.T) {
	tests := []struct {
		name string
		all  bool
		want []bool // revoked, newest version first
	}{
		{"current only", false, []bool{true, false}},
		{"all versions", true, []bool{true, true}},
	}
	eachBackend(t, func(t *testing.T, e *env) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := e.issue(t, strings.ReplaceAll(tc.name, " ", "-"))
				if _, err := e.svc.Renew(e.ctx, c.ID); err != nil {
					t.Fatalf("renew: %v", err)
				}
				e.runOne(t, true)
				if err := e.svc.Revoke(e.ctx, c.ID, "superseded", tc.all); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				var got []bool
				for _, v := range e.versions(t, c.ID) {
					got = append(got, !v.RevokedAt.IsZero())
					if !v.RevokedAt.IsZero() && v.RevokeReason != 4 {
						t.Errorf("reason of %s: got %d, want 4 (superseded)", v.Serial,
							v.RevokeReason)
					}
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("revoked versions (-want +got):\n%s", diff)
				}
				if got := e.cert(t, c.ID).Status; got != certs.StatusRevoked {
					t.Errorf("status: got %s, want %s", got, certs.StatusRevoked)
				}
			})
		}
	})
}

func TestWorkWakesOnEnqueue(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		watch := claimWatch{Store: e.st, claimed: make(chan error, 1)}
		svc := e.service(t, watch, e.ca)
		ctx, cancel := context.WithCancel(e.ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			svc.Work(ctx, time.Hour)
		}()
		defer func() {
			cancel()
			<-done
		}()

		// The first pass finds nothing; only a wake-up can start the next before an hour.
		select {
		case err := <-watch.claimed:
			if !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("first claim: got %v, want ErrNotFound", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the worker made no first pass")
		}
		c, _, err := svc.Create(e.ctx, certs.Input{Name: "woken",
			CommonName: "woken.example.com", IssuerID: "iss-local"})
		if err != nil {
			t.Fatalf("create: %v", err)
		}

		deadline := time.Now().Add(5 * time.Second)
		for e.cert(t, c.ID).Status != certs.StatusActive {
			if time.Now().After(deadline) {
				t.Fatalf("status after 5s: got %s, want %s", e.cert(t, c.ID).Status,
					certs.StatusActive)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
