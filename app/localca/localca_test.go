package localca_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/ca"
	"certctl/app/localca"
	"certctl/app/secret"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"

	"golang.org/x/crypto/ocsp"
)

const day = 24 * time.Hour

// clock is a time the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// backend makes fresh databases and opens stores on them; several stores may share one
// database, as replicas do.
type backend struct {
	name  string
	fresh func(t *testing.T) string
	open  func(t *testing.T, where string) store.Store
}

var backends = []backend{
	{"sqlite",
		func(t *testing.T) string { return filepath.Join(t.TempDir(), "c.db") },
		func(t *testing.T, path string) store.Store {
			st, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("open sqlite: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	{"postgres",
		func(t *testing.T) string { return storetest.PostgresSchema(t) },
		func(t *testing.T, url string) store.Store {
			st, err := postgres.Open(t.Context(), url, 4)
			if err != nil {
				t.Fatalf("open postgres: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
}

// eachBackend runs fn as a subtest on every backend with the database's location.
func eachBackend(t *testing.T, fn func(t *testing.T, b backend, where string)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b, b.fresh(t)) })
	}
}

func settings() localca.Settings {
	return localca.Settings{KeySpec: "ecdsa-p256", RootLifetime: 10 * 365 * day,
		IntermediateLifetime: 5 * 365 * day, PublicURL: "https://certctl.test"}
}

func newCA(t *testing.T, st store.Store, key secret.Key, set localca.Settings,
	clk *clock) *localca.CA {
	return localca.New(st, key, set, clk.Now, slog.New(slog.NewTextHandler(t.Output(), nil)))
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Second)} }

func ensure(t *testing.T, ctx context.Context, c *localca.CA) {
	t.Helper()
	if err := c.Ensure(ctx); err != nil {
		t.Fatalf("ensure: %v", err)
	}
}

// checkKinds checks how many CA certificates of each kind the store holds.
func checkKinds(t *testing.T, st store.Store, want map[string]int) {
	t.Helper()
	for kind, n := range want {
		list, err := st.ListCACerts(t.Context(), localca.IssuerID, kind)
		if err != nil {
			t.Fatalf("list %s certificates: %v", kind, err)
		}
		if len(list) != n {
			t.Errorf("%s certificates: got %d, want %d", kind, len(list), n)
		}
	}
}

// issue signs a leaf for name with a new key, valid from the clock's time for lifetime.
func issue(t *testing.T, c *localca.CA, clk *clock, name string,
	lifetime time.Duration) (*x509.Certificate, []*x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	leaf, chain, err := c.Issue(t.Context(), ca.LeafRequest{PublicKey: key.Public(),
		CommonName: name, DNSNames: []string{name}, NotBefore: now.Add(-time.Minute),
		NotAfter: now.Add(lifetime)})
	if err != nil {
		t.Fatalf("issue %s: %v", name, err)
	}
	return leaf, parseCerts(t, chain)
}

func parseCerts(t *testing.T, text []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, text = pem.Decode(text)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in PEM")
	}
	return out
}

func chainPEM(t *testing.T, c *localca.CA) []*x509.Certificate {
	t.Helper()
	text, err := c.ChainPEM(t.Context())
	if err != nil {
		t.Fatalf("chain PEM: %v", err)
	}
	return parseCerts(t, text)
}

// verify checks that leaf verifies at now through chain, whose last certificate is the
// trust anchor.
func verify(t *testing.T, leaf *x509.Certificate, chain []*x509.Certificate, now time.Time) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, c := range chain[:len(chain)-1] {
		inters.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters,
		CurrentTime: now})
	if err != nil {
		t.Errorf("verify %s: %v", leaf.Subject.CommonName, err)
	}
}

func TestEnsureTwiceMakesOneCA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, where string) {
		st, clk := b.open(t, where), newClock()
		c := newCA(t, st, secret.NewKey(), settings(), clk)
		ensure(t, t.Context(), c)
		first := chainPEM(t, c)
		ensure(t, t.Context(), c)

		checkKinds(t, st, map[string]int{"root": 1, "intermediate": 1, "ocsp": 1})
		if n, err := st.CountAudit(t.Context(), store.AuditFilter{Action: "ca.create"}); err != nil ||
			n != 1 {
			t.Errorf("ca.create events: got %d (%v), want 1", n, err)
		}
		again := chainPEM(t, c)
		if len(again) != 2 || len(first) != 2 || !again[0].Equal(first[0]) ||
			!again[1].Equal(first[1]) {
			t.Errorf("published chain: got %d certificates, want the same intermediate and "+
				"root as before", len(again))
		}
		root := first[1]
		if err := root.CheckSignatureFrom(root); err != nil || !root.IsCA {
			t.Errorf("the chain's last certificate is not a self-signed CA: %v", err)
		}
	})
}

func TestConcurrentEnsureMakesOneCA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, where string) {
		const replicas = 4
		key, clk := secret.NewKey(), newClock()
		var cas []*localca.CA
		var stores []store.Store
		for range replicas {
			st := b.open(t, where)
			stores = append(stores, st)
			cas = append(cas, newCA(t, st, key, settings(), clk))
		}

		var wg sync.WaitGroup
		errs := make([]error, replicas)
		for i, c := range cas {
			wg.Go(func() { errs[i] = c.Ensure(t.Context()) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("replica %d: ensure: %v", i, err)
			}
		}

		checkKinds(t, stores[0], map[string]int{"root": 1, "intermediate": 1, "ocsp": 1})
		want := chainPEM(t, cas[0])
		for i, c := range cas[1:] {
			got := chainPEM(t, c)
			if len(got) != len(want) || !got[0].Equal(want[0]) {
				t.Errorf("replica %d publishes another chain than replica 0", i+1)
			}
		}
	})
}

func TestOtherKeyCannotIssue(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, where string) {
		st, clk := b.open(t, where), newClock()
		good := newCA(t, st, secret.NewKey(), settings(), clk)
		ensure(t, t.Context(), good)
		wrong := newCA(t, st, secret.NewKey(), settings(), clk)

		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		now := clk.Now()
		_, _, err = wrong.Issue(t.Context(), ca.LeafRequest{PublicKey: key.Public(),
			CommonName: "x.example.com", NotBefore: now, NotAfter: now.Add(day)})
		if err == nil || !strings.Contains(err.Error(), "unseal") {
			t.Errorf("issue with another key: got %v, want an unseal error", err)
		}
		if err := wrong.Ensure(t.Context()); err == nil {
			t.Error("ensure with another key: got no error, want an unseal error")
		}
		issue(t, good, clk, "still.example.com", day)
		checkKinds(t, st, map[string]int{"root": 1, "intermediate": 1, "ocsp": 1})
	})
}

func TestRollover(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, where string) {
		st, clk := b.open(t, where), newClock()
		set := settings()
		set.IntermediateLifetime = 90 * day
		c := newCA(t, st, secret.NewKey(), set, clk)
		ensure(t, t.Context(), c)
		start := clk.Now()
		before, beforeChain := issue(t, c, clk, "before.example.com", 80*day)

		tests := []struct {
			name       string
			at         time.Duration
			wantRolled bool
			wantInters int
		}{
			{"early", 59 * day, false, 1},
			{"due", 61 * day, true, 2},
			{"just rolled", 61*day + time.Hour, false, 2},
		}
		for _, tc := range tests {
			clk.Set(start.Add(tc.at))
			rolled, err := c.RolloverIfDue(t.Context())
			if err != nil || rolled != tc.wantRolled {
				t.Fatalf("%s: rolled over: got %t (%v), want %t", tc.name, rolled, err,
					tc.wantRolled)
			}
			checkKinds(t, st, map[string]int{"root": 1, "intermediate": tc.wantInters})
		}

		chain := chainPEM(t, c)
		if len(chain) != 3 {
			t.Fatalf("published chain: got %d certificates, want 2 intermediates and the root",
				len(chain))
		}
		oldInter, root := beforeChain[0], beforeChain[len(beforeChain)-1]
		if !chain[1].Equal(oldInter) || !chain[2].Equal(root) || chain[0].Equal(oldInter) {
			t.Errorf("published chain: got %q, %q, %q; want the new intermediate, the old "+
				"one %q, then the root", chain[0].Subject, chain[1].Subject, chain[2].Subject,
				oldInter.Subject)
		}
		verify(t, before, chain, clk.Now())

		after, afterChain := issue(t, c, clk, "after.example.com", 10*day)
		if !afterChain[0].Equal(chain[0]) {
			t.Errorf("issuing CA after rollover: got %q, want the new intermediate",
				afterChain[0].Subject)
		}
		verify(t, after, chain, clk.Now())
		checkOCSPSigned(t, c, after, afterChain[0])
		// A leaf of the old intermediate still gets OCSP answers and a CRL its own
		// intermediate signed, at the URL written into it.
		checkOCSPSigned(t, c, before, oldInter)
		for leaf, issuer := range map[*x509.Certificate]*x509.Certificate{before: oldInter,
			after: afterChain[0]} {
			checkCRLOfLeaf(t, c, leaf, issuer)
		}
	})
}

// checkCRLOfLeaf fetches the CRL named by leaf's distribution point and checks that issuer
// signed it.
func checkCRLOfLeaf(t *testing.T, c *localca.CA, leaf, issuer *x509.Certificate) {
	t.Helper()
	if len(leaf.CRLDistributionPoints) != 1 {
		t.Fatalf("CRL distribution points: %v", leaf.CRLDistributionPoints)
	}
	url := leaf.CRLDistributionPoints[0]
	der, _, err := c.CRLOf(t.Context(), url[strings.LastIndex(url, "/")+1:])
	if err != nil {
		t.Fatalf("CRL at %s: %v", url, err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("CRL at %s: not signed by %q: %v", url, issuer.Subject, err)
	}
}

// checkOCSPSigned checks that the CA answers about leaf with a response signed for issuer.
// Leaves issued here are not in the inventory, so the answer is Unknown.
func checkOCSPSigned(t *testing.T, c *localca.CA, leaf, issuer *x509.Certificate) {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		t.Fatalf("OCSP request: %v", err)
	}
	der, err := c.OCSP(t.Context(), req)
	if err != nil {
		t.Fatalf("OCSP: %v", err)
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	if resp.Status != ocsp.Unknown {
		t.Errorf("OCSP status: got %d, want %d (unknown)", resp.Status, ocsp.Unknown)
	}
}

func TestSubCA(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend, where string) {
		clk := newClock()
		now := clk.Now()
		root, err := ca.NewRoot(ca.Template{CommonName: "Operator Root", KeySpec: "ecdsa-p256",
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(365 * day)})
		if err != nil {
			t.Fatal(err)
		}
		inter, err := root.NewIntermediate(ca.Template{CommonName: "Operator Issuing",
			KeySpec: "ecdsa-p256", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(300 * day)})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			ca   *ca.Authority
		}{
			{"operator root", root},
			{"operator intermediate with its root", inter},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				st := b.open(t, b.fresh(t))
				set := settings()
				set.SubCACertPEM = tc.ca.ChainPEM()
				set.SubCAKeyPEM = keyPEM(t, tc.ca)
				c := newCA(t, st, secret.NewKey(), set, clk)
				ensure(t, t.Context(), c)
				checkKinds(t, st, map[string]int{"root": 0, "intermediate": 0, "ocsp": 1})

				leaf, chain := issue(t, c, clk, "sub.example.com", 30*day)
				if err := leaf.CheckSignatureFrom(tc.ca.Cert); err != nil {
					t.Errorf("leaf not signed by the operator's CA: %v", err)
				}
				if !chain[0].Equal(tc.ca.Cert) || !chain[len(chain)-1].Equal(root.Cert) {
					t.Errorf("leaf chain: got %d certificates from %q to %q, want from %q "+
						"to the operator root", len(chain), chain[0].Subject,
						chain[len(chain)-1].Subject, tc.ca.Cert.Subject)
				}
				verify(t, leaf, chain, clk.Now())
				published := chainPEM(t, c)
				if !published[len(published)-1].Equal(root.Cert) {
					t.Errorf("published chain ends in %q, want the operator root",
						published[len(published)-1].Subject)
				}
				checkOCSPSigned(t, c, leaf, tc.ca.Cert)
				if rolled, err := c.RolloverIfDue(t.Context()); rolled || err != nil {
					t.Errorf("rollover in sub-CA mode: got %t (%v), want false", rolled, err)
				}
			})
		}
	})
}

// keyPEM writes a's key as a PKCS#8 PEM block, as an operator's key file holds it.
func keyPEM(t *testing.T, a *ca.Authority) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(a.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
