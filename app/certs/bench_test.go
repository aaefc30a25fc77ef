package certs_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"certctl/app/auth"
	"certctl/app/ca"
	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/localca"
	"certctl/app/secret"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// These benchmarks measure issuance through the lifecycle service, against the bare cost of
// signing. Run them with `go test -run '^$' -bench Issuance -benchtime 2s ./app/certs`; the
// figures go into docs/benchmarks.md.

// rawRate is the certificates per second BenchmarkIssuance/raw measured in this process,
// so the end-to-end rates can be given as a share of it; zero until it has run.
var rawRate float64

// issuanceWorkers is how many goroutines run jobs at once in the parallel variant.
const issuanceWorkers = 4

// BenchmarkIssuance measures issuing a server-key ECDSA P-256 leaf from an intermediate of
// the local CA's configured key type (the default, or CERTCTL_CA_KEY_TYPE when set): the
// bare signature, then end to end through the certificate service on each backend.
func BenchmarkIssuance(b *testing.B) {
	spec := caKeySpec(b)
	b.Logf("local CA key type %s", spec)
	b.Run("raw", func(b *testing.B) { benchRawIssuance(b, spec) })
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "c.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchServiceIssuance(b, st, spec)
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(b.Context(), storetest.PostgresSchema(b), 50)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchServiceIssuance(b, st, spec)
	})
}

// caKeySpec is the local CA's key type as the server would configure it.
func caKeySpec(b *testing.B) string {
	cfg, err := config.Load(func(name string) (string, bool) {
		if name == "CERTCTL_CA_KEY_TYPE" {
			return os.LookupEnv(name)
		}
		return "", false
	})
	if err != nil {
		b.Fatal(err)
	}
	return cfg.CAKeyType
}

// benchRawIssuance generates a P-256 key and signs a leaf for it with an intermediate of
// key type spec, with the extensions the local CA adds, and nothing else: no database, no
// sealing.
func benchRawIssuance(b *testing.B, spec string) {
	inter, interKey := rawIntermediate(b, spec)
	var i int64
	for b.Loop() {
		i++
		signRaw(b, inter, interKey, i)
	}
	rawRate = float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rawRate, "certs/s")
}

// signRaw makes a P-256 key and signs leaf number i for it with inter.
func signRaw(b *testing.B, inter *x509.Certificate, interKey crypto.Signer, i int64) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	_, err = x509.CreateCertificate(rand.Reader, rawLeaf(b, i), inter, key.Public(), interKey)
	if err != nil {
		b.Fatal(err)
	}
}

// rawIntermediate returns an intermediate signed by a root, both with keys of type spec,
// and the intermediate's key.
func rawIntermediate(b *testing.B, spec string) (*x509.Certificate, crypto.Signer) {
	rootKey := caKey(b, spec)
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject: pkix.Name{CommonName: "Benchmark Root"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, rootKey.Public(), rootKey)
	if err != nil {
		b.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		b.Fatal(err)
	}
	interKey := caKey(b, spec)
	tmpl.SerialNumber, tmpl.Subject = big.NewInt(2), pkix.Name{CommonName: "Benchmark Issuing"}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root, interKey.Public(), rootKey)
	if err != nil {
		b.Fatal(err)
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	return inter, interKey
}

func caKey(b *testing.B, spec string) crypto.Signer {
	k, err := ca.GenerateKey(spec)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// rawLeaf is a leaf template like the local CA's: random serial, two DNS names, TLS server
// and client use, CRL, OCSP and CA-issuers URLs.
func rawLeaf(b *testing.B, i int64) *x509.Certificate {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		b.Fatal(err)
	}
	name := fmt.Sprintf("svc-%06d.example.com", i)
	now := time.Now()
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name, "www." + name}, NotBefore: now.Add(-5 * time.Minute),
		NotAfter: now.Add(90 * 24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		CRLDistributionPoints: []string{"https://certctl.test/.well-known/pki/crl/iss-local"},
		OCSPServer:            []string{"https://certctl.test/.well-known/pki/ocsp/iss-local"},
		IssuingCertificateURL: []string{"https://certctl.test/.well-known/pki/ca/iss-local"}}
}

// issuanceBench is a certificate service in server key mode on one store, with the local
// CA.
type issuanceBench struct {
	st   store.Store
	svc  *certs.Service
	ctx  context.Context
	made int // certificates created so far, for unique names
}

func newIssuanceBench(b *testing.B, st store.Store, spec string) *issuanceBench {
	ctx := auth.WithPrincipal(b.Context(), auth.Principal{Actor: "apikey:bench",
		Role: auth.RoleAdmin})
	key := secret.NewKey()
	log := slog.New(slog.DiscardHandler)
	local := localca.New(st, key, localca.Settings{KeySpec: spec,
		RootLifetime: 10 * 365 * 24 * time.Hour, IntermediateLifetime: 5 * 365 * 24 * time.Hour,
		PublicURL: "https://certctl.test"}, time.Now, log)
	if err := local.Ensure(ctx); err != nil {
		b.Fatal(err)
	}
	svc := certs.NewService(certs.Deps{Store: st, Key: key,
		Issuers: map[string]certs.Issuer{localca.IssuerID: local}, KeyMode: "server",
		Now: time.Now, Log: log})
	if err := svc.EnsureDefaults(ctx); err != nil {
		b.Fatal(err)
	}
	return &issuanceBench{st: st, svc: svc, ctx: ctx}
}

// create adds a server-key certificate with a new name, queued for issuance.
func (e *issuanceBench) create(b *testing.B) {
	e.made++
	name := fmt.Sprintf("svc-%06d", e.made)
	_, _, err := e.svc.Create(e.ctx, certs.Input{Name: name, CommonName: name + ".example.com",
		SANs: []string{"www." + name + ".example.com"}, IssuerID: localca.IssuerID,
		Environment: "prod", KeyMode: "server"})
	if err != nil {
		b.Fatal(err)
	}
}

// checkAllIssued fails unless every certificate created so far has been issued: a job
// that failed would still count as run.
func (e *issuanceBench) checkAllIssued(b *testing.B) {
	n, err := e.st.CountCertificates(e.ctx, store.CertificateFilter{Status: certs.StatusActive})
	if err != nil {
		b.Fatal(err)
	}
	if n != e.made {
		b.Fatalf("%d certificates active, want all %d created", n, e.made)
	}
}

// benchServiceIssuance measures issuance end to end on st: one worker creating and issuing
// one certificate per operation, then several workers issuing queued certificates.
func benchServiceIssuance(b *testing.B, st store.Store, spec string) {
	e := newIssuanceBench(b, st, spec)
	raw := rawRateOnce(b, spec)
	report := func(b *testing.B) {
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "certs/s")
		b.ReportMetric(100*rate/raw, "%-of-raw")
	}
	// Per operation: the certificate is stored with its job and audit event, then the job
	// is claimed, a P-256 key made, the leaf signed, the version stored with the sealed
	// key, the job completed and the issuance audited.
	b.Run("create+issue", func(b *testing.B) {
		for b.Loop() {
			e.create(b)
			if !e.svc.RunOne(e.ctx) {
				b.Fatal("RunOne found no job")
			}
		}
		report(b)
		e.checkAllIssued(b)
	})
	// Certificates are queued first, untimed; then the workers drain the queue, each
	// claiming its own jobs.
	b.Run(fmt.Sprintf("issue-%d-workers", issuanceWorkers), func(b *testing.B) {
		e.drainQueued(b, func() {
			var wg sync.WaitGroup
			for range issuanceWorkers {
				wg.Go(func() {
					for e.svc.RunOne(e.ctx) {
					}
				})
			}
			wg.Wait()
		})
		report(b)
	})
	// The same, drained as the server's job worker does it: ProcessJobs with the default
	// concurrency.
	b.Run("issue-process-jobs", func(b *testing.B) {
		e.drainQueued(b, func() { e.svc.ProcessJobs(e.ctx) })
		report(b)
	})
}

// drainQueued creates b.N certificates with the timer stopped, times drain, and checks
// that it issued them all.
func (e *issuanceBench) drainQueued(b *testing.B, drain func()) {
	b.StopTimer()
	for range b.N {
		e.create(b)
	}
	b.StartTimer()
	drain()
	b.StopTimer()
	e.checkAllIssued(b)
}

// rawRateOnce returns the raw signing rate of this run, measuring it for a second now when
// the raw benchmark was not selected. (testing.Benchmark cannot be called here: it waits
// for the benchmark that is running.)
func rawRateOnce(b *testing.B, spec string) float64 {
	if rawRate != 0 {
		return rawRate
	}
	inter, interKey := rawIntermediate(b, spec)
	start := time.Now()
	var n int64
	for time.Since(start) < time.Second {
		n++
		signRaw(b, inter, interKey, n)
	}
	rawRate = float64(n) / time.Since(start).Seconds()
	return rawRate
}
