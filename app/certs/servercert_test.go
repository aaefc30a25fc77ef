package certs_test

import (
	"crypto"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/store"
)

var serverNames = []string{"localhost", "127.0.0.1", "::1", "certctl.example"}

// serverPair checks that ServerKeyPair hands out version want of the server's certificate,
// as a key pair whose leaf matches its key and chains to the local CA's root for every name
// of names, and returns the leaf.
func (e *env) serverPair(t *testing.T, want string, names []string) *x509.Certificate {
	t.Helper()
	id, pair, err := e.svc.ServerKeyPair(e.ctx, "")
	if err != nil {
		t.Fatalf("ServerKeyPair: %v", err)
	}
	if id != want || pair == nil {
		t.Fatalf("ServerKeyPair: got version %q (pair %v), want %q", id, pair != nil, want)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok || !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(
		signer.Public()) {
		t.Fatal("the served key does not match the served leaf")
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(e.root(t))
	for _, der := range pair.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		inters.AddCert(c)
	}
	for _, name := range names {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots,
			Intermediates: inters, CurrentTime: e.clock.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
		if err != nil {
			t.Errorf("served leaf for %q: %v", name, err)
		}
	}
	return leaf
}

func TestServerCertificateLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if err := e.svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
			serverNames); err != nil {
			t.Fatal(err)
		}
		c := e.cert(t, certs.ServerCertificateID)
		if c.Name != "certctl-server" || c.KeyMode != "server" || c.IssuerID != "iss-local" ||
			c.Status != certs.StatusPending {
			t.Fatalf("server certificate: got %+v", c)
		}
		if _, _, err := e.svc.ServerKeyPair(e.ctx, ""); err == nil ||
			!strings.Contains(err.Error(), "not been issued") {
			t.Errorf("ServerKeyPair before issuance: got %v, want it not issued yet", err)
		}
		e.runOne(t, true)
		c = e.cert(t, certs.ServerCertificateID)
		if c.Status != certs.StatusActive {
			t.Fatalf("after issuance: status %s, want Active", c.Status)
		}
		first := e.serverPair(t, c.CurrentVersionID, serverNames)
		if id, pair, err := e.svc.ServerKeyPair(e.ctx, c.CurrentVersionID); err != nil ||
			id != c.CurrentVersionID || pair != nil {
			t.Errorf("ServerKeyPair of the version held: got %q, %v, %v, want no pair", id,
				pair != nil, err)
		}

		// A restart with the same names changes nothing.
		jobs := e.countJobs(t)
		if err := e.svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
			serverNames); err != nil {
			t.Fatal(err)
		}
		if n := e.countJobs(t); n != jobs {
			t.Errorf("ensure with the same names: %d jobs, want %d", n, jobs)
		}

		// A restart with a new name adds it and renews; the old version is served until
		// the new one is issued.
		more := append([]string{"new.example"}, serverNames...)
		if err := e.svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
			more); err != nil {
			t.Fatal(err)
		}
		if got := e.cert(t, c.ID).SANs; !strings.Contains(strings.Join(got, ","),
			"new.example") {
			t.Fatalf("SANs after a new name: got %v", got)
		}
		if open, err := e.st.OpenJob(e.ctx, c.ID); err != nil ||
			open.Type != store.JobRenewal {
			t.Fatalf("job after a new name: got %+v, %v, want a renewal", open, err)
		}
		e.serverPair(t, c.CurrentVersionID, serverNames)
		e.runOne(t, true)
		c = e.cert(t, c.ID)
		second := e.serverPair(t, c.CurrentVersionID, more)

		// Renewal by the policy, like any other certificate: a third of 90 days before
		// the end.
		e.clock.Advance(61 * 24 * time.Hour)
		if n, err := e.svc.RenewDue(e.ctx); err != nil || n != 1 {
			t.Fatalf("RenewDue after 61 days: got %d, %v, want 1", n, err)
		}
		e.runOne(t, true)
		c = e.cert(t, c.ID)
		third := e.serverPair(t, c.CurrentVersionID, more)
		if !third.NotAfter.After(second.NotAfter) || third.SerialNumber.Cmp(
			first.SerialNumber) == 0 {
			t.Errorf("renewed leaf: not after %v (before %v)", third.NotAfter,
				second.NotAfter)
		}
		if n := len(e.versions(t, c.ID)); n != 3 {
			t.Errorf("versions: got %d, want 3", n)
		}
		if err := e.svc.WaitServerCertificate(e.ctx, time.Second); err != nil {
			t.Errorf("wait with a version: %v", err)
		}
	})
}

func TestServerCertificateReplicasCreateOne(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		replicas := []*certs.Service{e.svc, e.service(t, e.st, e.ca), e.service(t, e.st, e.ca)}
		var wg sync.WaitGroup
		errs := make([]error, len(replicas))
		for i, svc := range replicas {
			wg.Go(func() {
				errs[i] = svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
					serverNames)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
		}
		if n, j := e.countCerts(t), e.countJobs(t); n != 1 || j != 1 {
			t.Errorf("after three replicas started: %d certificates and %d jobs, want 1 and 1",
				n, j)
		}
	})
}

func TestWaitServerCertificate(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		if err := e.svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
			serverNames); err != nil {
			t.Fatal(err)
		}
		// No worker runs the job: the wait ends with what it waited for.
		err := e.svc.WaitServerCertificate(e.ctx, 300*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "Pending") {
			t.Errorf("wait without a worker: got %v, want it to name the Pending job", err)
		}

		// A certificate revoked by an operator is replaced at once, with a new key.
		e.runOne(t, true)
		revoked := e.cert(t, certs.ServerCertificateID).CurrentVersionID
		if err := e.svc.Revoke(e.ctx, certs.ServerCertificateID, "keyCompromise",
			true); err != nil {
			t.Fatal(err)
		}
		if open, err := e.st.OpenJob(e.ctx, certs.ServerCertificateID); err != nil ||
			open.Type != store.JobRenewal {
			t.Fatalf("after revoking the server's certificate: open job %+v, %v, want "+
				"a renewal", open, err)
		}
		err = e.svc.WaitServerCertificate(e.ctx, 300*time.Millisecond)
		if err == nil {
			t.Error("wait with only a revoked version: got nil, want it to wait")
		}
		e.runOne(t, true)
		c := e.cert(t, certs.ServerCertificateID)
		if c.Status != certs.StatusActive || c.CurrentVersionID == revoked {
			t.Fatalf("after the replacement: status %s, version %s (revoked %s)", c.Status,
				c.CurrentVersionID, revoked)
		}
		if err := e.svc.WaitServerCertificate(e.ctx, time.Second); err != nil {
			t.Errorf("wait after the replacement: %v", err)
		}

		// An archived one is refused with what to do instead.
		if err := e.svc.Archive(e.ctx, certs.ServerCertificateID); err != nil {
			t.Fatal(err)
		}
		err = e.svc.EnsureServerCertificate(e.ctx, "iss-local", "certctl.example",
			serverNames)
		if err == nil || !strings.Contains(err.Error(), "CERTCTL_SERVER_TLS_CERT_PATH") {
			t.Errorf("ensure an archived server certificate: got %v, want it refused", err)
		}
	})
}
