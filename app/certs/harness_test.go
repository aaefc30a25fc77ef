package certs_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"certctl/app/auth"
	"certctl/app/ca"
	"certctl/app/certs"
	"certctl/app/localca"
	"certctl/app/secret"
	"certctl/app/valid"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ocsp"
)

// clock is a time the test moves by hand. The service, the CA and the test read it from
// different goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock {
	return &clock{now: time.Now().UTC().Truncate(time.Second)}
}

// Now returns the clock's time.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// backend opens a fresh, migrated store that is closed when t ends.
type backend struct {
	name string
	open func(t *testing.T) store.Store
}

var backends = []backend{
	{"sqlite", func(t *testing.T) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "c.db"))
		if err != nil {
			t.Fatalf("open sqlite: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
	{"postgres", func(t *testing.T) store.Store {
		st, err := postgres.Open(t.Context(), storetest.PostgresSchema(t), 10)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}},
}

// env is a certificate service on a fresh database, with the local CA as "iss-local", a
// clock the test moves, and a request context acting as alice, an admin.
type env struct {
	st    store.Store
	key   secret.Key
	ca    *localca.CA
	svc   *certs.Service
	clock *clock
	log   *slog.Logger
	ctx   context.Context
}

// eachBackend runs fn as a subtest on every backend, each with its own env.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, newEnv(t, b.open(t))) })
	}
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	e := &env{st: st, key: secret.NewKey(), clock: newClock(),
		log: slog.New(slog.NewTextHandler(t.Output(), nil))}
	e.ctx = as(t.Context(), "apikey:alice")
	e.ca = localca.New(st, e.key, localca.Settings{KeySpec: "ecdsa-p256",
		RootLifetime: 10 * 365 * 24 * time.Hour, IntermediateLifetime: 5 * 365 * 24 * time.Hour,
		PublicURL: "https://certctl.test"}, e.clock.Now, e.log)
	if err := e.ca.Ensure(e.ctx); err != nil {
		t.Fatalf("ensure local CA: %v", err)
	}
	e.svc = e.service(t, st, e.ca)
	return e
}

// service returns a lifecycle service on st that issues "iss-local" certificates with
// issuer.
func (e *env) service(t *testing.T, st store.Store, issuer certs.Issuer) *certs.Service {
	t.Helper()
	svc := certs.NewService(certs.Deps{Store: st, Key: e.key,
		Issuers: map[string]certs.Issuer{"iss-local": issuer}, KeyMode: "server",
		Now: e.clock.Now, Log: e.log})
	if err := svc.EnsureDefaults(e.ctx); err != nil {
		t.Fatalf("ensure defaults: %v", err)
	}
	return svc
}

// as returns ctx acting as actor, an admin.
func as(ctx context.Context, actor string) context.Context {
	return auth.WithPrincipal(ctx, auth.Principal{Actor: actor, Role: auth.RoleAdmin})
}

func (e *env) create(t *testing.T, in certs.Input) (store.Certificate, store.Job) {
	t.Helper()
	if in.IssuerID == "" {
		in.IssuerID = "iss-local"
	}
	c, j, err := e.svc.Create(e.ctx, in)
	if err != nil {
		t.Fatalf("create certificate %q: %v", in.Name, err)
	}
	return c, j
}

// issue creates a server-key certificate for name.example.com and runs its issuance.
func (e *env) issue(t *testing.T, name string) store.Certificate {
	t.Helper()
	c, _ := e.create(t, certs.Input{Name: name, CommonName: name + ".example.com"})
	e.runOne(t, true)
	return e.cert(t, c.ID)
}

// runOne runs one due job and checks whether one ran.
func (e *env) runOne(t *testing.T, want bool) {
	t.Helper()
	if got := e.svc.RunOne(e.ctx); got != want {
		t.Fatalf("RunOne ran a job: got %t, want %t", got, want)
	}
}

func (e *env) cert(t *testing.T, id string) store.Certificate {
	t.Helper()
	c, err := e.svc.Get(e.ctx, id)
	if err != nil {
		t.Fatalf("get certificate %s: %v", id, err)
	}
	return c
}

func (e *env) job(t *testing.T, id string) store.Job {
	t.Helper()
	j, err := e.svc.GetJob(e.ctx, id)
	if err != nil {
		t.Fatalf("get job %s: %v", id, err)
	}
	return j
}

func (e *env) versions(t *testing.T, id string) []store.CertificateVersion {
	t.Helper()
	vs, err := e.svc.Versions(e.ctx, id)
	if err != nil {
		t.Fatalf("versions of %s: %v", id, err)
	}
	return vs
}

// current returns the current version of certificate id and its parsed leaf.
func (e *env) current(t *testing.T, id string) (store.CertificateVersion, *x509.Certificate) {
	t.Helper()
	c := e.cert(t, id)
	if c.CurrentVersionID == "" {
		t.Fatalf("certificate %s has no current version", id)
	}
	v, err := e.st.GetVersion(e.ctx, c.CurrentVersionID)
	if err != nil {
		t.Fatalf("get version %s: %v", c.CurrentVersionID, err)
	}
	return v, parseCerts(t, v.CertPEM)[0]
}

// root returns the self-signed root at the end of the CA's published chain.
func (e *env) root(t *testing.T) *x509.Certificate {
	t.Helper()
	chain, err := e.ca.ChainPEM(e.ctx)
	if err != nil {
		t.Fatalf("CA chain: %v", err)
	}
	certs := parseCerts(t, string(chain))
	return certs[len(certs)-1]
}

// addProfile stores a profile with the default profile's key types and lifetime and the
// given ID, patterns, IP permission and approval mode.
func (e *env) addProfile(t *testing.T, id string, patterns []string, allowIP bool,
	approval string) {
	t.Helper()
	now := e.clock.Now()
	p := store.Profile{ID: id, Name: "Profile " + id, KeyTypes: []string{"ecdsa-p256"},
		MaxLifetime: 30 * 24 * time.Hour, ExtKeyUsages: []string{"serverAuth"},
		SANPatterns: patterns, AllowIP: allowIP, Approval: approval, CreatedAt: now,
		UpdatedAt: now}
	if err := e.st.CreateProfile(e.ctx, p); err != nil {
		t.Fatalf("create profile %s: %v", id, err)
	}
}

func (e *env) countCerts(t *testing.T) int {
	t.Helper()
	n, err := e.st.CountCertificates(e.ctx, store.CertificateFilter{})
	if err != nil {
		t.Fatalf("count certificates: %v", err)
	}
	return n
}

func (e *env) countJobs(t *testing.T) int {
	t.Helper()
	n, err := e.st.CountJobs(e.ctx, store.JobFilter{})
	if err != nil {
		t.Fatalf("count jobs: %v", err)
	}
	return n
}

// parseCerts reads every CERTIFICATE block of text, failing on anything else.
func parseCerts(t *testing.T, text string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("PEM block %q, want CERTIFICATE", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatalf("no certificate in %q", text)
	}
	return out
}

// wantFieldError checks that err is a valid.Errors naming field.
func wantFieldError(t *testing.T, err error, field string) valid.Errors {
	t.Helper()
	var ve valid.Errors
	if !errors.As(err, &ve) {
		t.Fatalf("got error %v (%T), want valid.Errors naming %q", err, err, field)
	}
	if ve[field] == "" {
		t.Fatalf("got problems %v, want one for field %q", ve, field)
	}
	return ve
}

// wantConflict checks that err is a *valid.Conflict.
func wantConflict(t *testing.T, err error) *valid.Conflict {
	t.Helper()
	var c *valid.Conflict
	if !errors.As(err, &c) {
		t.Fatalf("got error %v (%T), want *valid.Conflict", err, err)
	}
	return c
}

// flakyIssuer fails its first fails calls (every call when fails is negative), then
// passes requests to next.
type flakyIssuer struct {
	next certs.Issuer

	mu    sync.Mutex
	fails int
	calls int
}

// Issue implements certs.Issuer.
func (f *flakyIssuer) Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte,
	error) {
	f.mu.Lock()
	f.calls++
	fail := f.fails != 0
	if f.fails > 0 {
		f.fails--
	}
	f.mu.Unlock()
	if fail {
		return nil, nil, errors.New("stub CA is down")
	}
	return f.next.Issue(ctx, r)
}

func (f *flakyIssuer) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// claimWatch is a store that reports the outcome of every ClaimJob call on claimed,
// dropping reports nobody waits for.
type claimWatch struct {
	store.Store
	claimed chan error
}

// ClaimJob implements store.JobQueries.
func (w claimWatch) ClaimJob(ctx context.Context, types []string, now time.Time) (store.Job,
	error) {
	j, err := w.Store.ClaimJob(ctx, types, now)
	select {
	case w.claimed <- err:
	default:
	}
	return j, err
}

func ecdsaKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ed25519Key(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newCSR returns a PEM CSR signed by key for the common name cn and the DNS names dns.
func newCSR(t *testing.T, key crypto.Signer, cn string, dns ...string) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatalf("create CSR: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// fetchCRL returns the CA's CRL after checking inter signed it.
func fetchCRL(t *testing.T, e *env, inter *x509.Certificate) *x509.RevocationList {
	t.Helper()
	der, next, err := e.ca.CRL(e.ctx)
	if err != nil {
		t.Fatalf("CRL: %v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("parse CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(inter); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if !crl.NextUpdate.Equal(next) || !next.After(e.clock.Now()) {
		t.Errorf("CRL next update: got %s (reported %s), want a time after %s",
			crl.NextUpdate, next, e.clock.Now())
	}
	return crl
}

// checkCRLEntries checks that crl lists exactly the serials in want, with their reasons.
func checkCRLEntries(t *testing.T, crl *x509.RevocationList, want map[string]int) {
	t.Helper()
	got := map[string]int{}
	for _, r := range crl.RevokedCertificateEntries {
		got[localca.SerialHex(r.SerialNumber)] = r.ReasonCode
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CRL entries, serial to reason (-want +got):\n%s", diff)
	}
}

// checkOCSP asks the CA about leaf and checks the signed answer.
func checkOCSP(t *testing.T, e *env, inter, leaf *x509.Certificate, want int) {
	t.Helper()
	req, err := ocsp.CreateRequest(leaf, inter, nil)
	if err != nil {
		t.Fatalf("OCSP request: %v", err)
	}
	der, err := e.ca.OCSP(e.ctx, req)
	if err != nil {
		t.Fatalf("OCSP: %v", err)
	}
	resp, err := ocsp.ParseResponse(der, inter)
	if err != nil {
		t.Fatalf("parse OCSP response: %v", err)
	}
	if resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 || resp.Status != want {
		t.Errorf("OCSP answer: got status %d for serial %x, want %d for %x", resp.Status,
			resp.SerialNumber, want, leaf.SerialNumber)
	}
	if want == ocsp.Revoked && resp.RevocationReason != ocsp.KeyCompromise {
		t.Errorf("OCSP revocation reason: got %d, want %d", resp.RevocationReason,
			ocsp.KeyCompromise)
	}
	if leaf.Raw == nil {
		return
	}
	if _, err := ocsp.ParseResponseForCert(der, leaf, inter); err != nil {
		t.Errorf("parse OCSP response for the leaf: %v", err)
	}
}

func randomSerial(t *testing.T) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}
