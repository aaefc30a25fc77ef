package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/config"
	"certctl/app/server"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"

	"github.com/jackc/pgx/v5"
)

// certInventory is how many certificates the certificate list benchmark stores.
const certInventory = 100_000

// certQueries are the certificate lists the benchmarks load, by the name their metrics use,
// with the store filter each query makes.
var certQueries = []struct {
	name, query string
	filter      store.CertificateFilter
}{
	{"list", "per_page=50", store.CertificateFilter{}},
	{"filtered", "per_page=50&status=RenewalInProgress&environment=prod",
		store.CertificateFilter{Status: "RenewalInProgress", Environment: "prod"}},
	{"search", "per_page=50&q=svc-0004", store.CertificateFilter{Search: "svc-0004"}},
	{"by-expiry", "per_page=50&sort=not_after", store.CertificateFilter{Sort: "not_after"}},
}

// BenchmarkCertificateList loads GET /api/v1/certificates (a page of 50 out of 100,000
// certificates: plain, filtered, searched and sorted by expiry, each also revalidated with
// If-None-Match) with hey over HTTPS on loopback, beside GET /health in the same run, on
// both backends.
func BenchmarkCertificateList(b *testing.B) {
	if _, err := exec.LookPath("hey"); err != nil {
		storetest.MissingPeer(b, "the load generator hey is missing: apt-get install hey")
	}
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		loadCertificates(b, baseEnv(dir, "CERTCTL_AUTH_SECRET="+benchKey),
			func() (store.Store, error) {
				return sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
			}, func() {})
	})
	b.Run("postgres", func(b *testing.B) {
		env := postgresEnv(b)
		url := strings.TrimPrefix(env[len(env)-1], "CERTCTL_DATABASE_URL=")
		loadCertificates(b, append(env, "CERTCTL_AUTH_SECRET="+benchKey),
			func() (store.Store, error) { return postgres.Open(context.Background(), url, 10) },
			func() { vacuum(b, url) })
	})
}

// seededServe starts the server once so that it stores its CA, default profile and
// policy, seeds the inventory while it is stopped, settles the database, then starts the
// server again, waits until it is quiet and returns it with the inventory's ETag.
func seededServe(b *testing.B, env []string, open func() (store.Store, error),
	settle func()) (*instance, string) {
	env = append(env, "CERTCTL_LOG_LEVEL=warn")
	if err := startServe(b, env).stop(); err != nil {
		b.Fatal(err)
	}
	st, err := open()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	seedCertificates(b, st, certInventory)
	b.Logf("seeded %d certificates in %s", certInventory, time.Since(start).Round(time.Second))
	st.Close()
	settle()

	in := startServe(b, env)
	return in, waitQuiet(b, in)
}

// loadCertificates loads the certificate lists of a server with a seeded inventory.
func loadCertificates(b *testing.B, env []string, open func() (store.Store, error),
	settle func()) {
	in, version := seededServe(b, env, open, settle)
	auth := "Authorization: Bearer " + benchKey
	health := hey(b, in.url+"/health")
	b.ReportMetric(health.rps, "health-req/s")
	b.ReportMetric(health.p99*1000, "health-p99-ms")
	for _, q := range certQueries {
		url := in.url + "/api/v1/certificates?" + q.query
		full := hey(b, url, "-H", auth)
		tag := certListTag(b, in, url)
		cached := hey(b, url, "-H", auth, "-H", "If-None-Match: "+tag)
		b.ReportMetric(full.rps, q.name+"-req/s")
		b.ReportMetric(full.p99*1000, q.name+"-p99-ms")
		b.ReportMetric(100*full.rps/health.rps, q.name+"-%-of-health")
		b.ReportMetric(cached.rps, q.name+"-304-req/s")
		b.ReportMetric(cached.p99*1000, q.name+"-304-p99-ms")
	}
	if now := inventoryTag(b, in); now != version {
		b.Fatalf("the certificates changed during the run (ETag %s, then %s): the figures "+
			"mix cached and uncached answers", version, now)
	}
}

// waitQuiet waits until the server leaves the certificates alone (their list's ETag holds
// for two seconds), so that background work at start does not mix into the figures, and
// returns that ETag.
func waitQuiet(b *testing.B, in *instance) string {
	tag, same := inventoryTag(b, in), 0
	for deadline := time.Now().Add(time.Minute); same < 4; same++ {
		if time.Now().After(deadline) {
			b.Fatal("the certificates kept changing for a minute after the server started")
		}
		time.Sleep(500 * time.Millisecond)
		if now := inventoryTag(b, in); now != tag {
			tag, same = now, -1
		}
	}
	return tag
}

// inventoryTag returns the ETag of a one-certificate list, which changes with any
// certificate.
func inventoryTag(b *testing.B, in *instance) string {
	resp, err := in.client.Do(mustRequest(b, in.url+"/api/v1/certificates?per_page=1"))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("list certificates: status %d", resp.StatusCode)
	}
	return resp.Header.Get("ETag")
}

// certListTag returns the ETag of a list answer, after checking that the list is not
// empty and that the tag revalidates to 304.
func certListTag(b *testing.B, in *instance, url string) string {
	resp, err := in.client.Do(mustRequest(b, url))
	if err != nil {
		b.Fatal(err)
	}
	// The client asks for gzip and decompresses, as hey does: the length is the JSON's.
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	tag := resp.Header.Get("ETag")
	if err != nil || resp.StatusCode != http.StatusOK || tag == "" || len(body) < 1000 {
		b.Fatalf("GET %s: status %d, ETag %q, %d bytes (%v); want 200 with a tag and a "+
			"full page", url, resp.StatusCode, tag, len(body), err)
	}
	req := mustRequest(b, url)
	req.Header.Set("If-None-Match", tag)
	if resp, err = in.client.Do(req); err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		b.Fatalf("GET %s with If-None-Match: status %d, want 304", url, resp.StatusCode)
	}
	return tag
}

// seedCertificates stores n issued certificates directly, in batches of 5,000 per
// transaction: names svc-00000 upwards in four environments, two or three SANs, ends
// spread over the coming year.
func seedCertificates(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	leaf := seedLeafPEM(b)
	const batch = 5000
	for done := 0; done < n; done += batch {
		err := st.InTx(ctx, func(q store.Queries) error {
			for i := done; i < done+batch && i < n; i++ {
				if err := seedCertificate(ctx, q, i, now, leaf); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// renewWindow is when the default renewal policy renews a 90-day certificate: with a
// third of its lifetime left.
const renewWindow = 30 * 24 * time.Hour

// seedCertificate stores certificate number i of the inventory with its one version and
// its renewal time. A certificate inside its renewal window has a renewal job queued in the
// last twelve hours, waiting for its agent's CSR, and so is RenewalInProgress, as the server
// would have set it; the others are Active.
// So the server's loops find nothing to do: no certificate is due without a job, none is
// stale, and no job has waited long enough to time out.
func seedCertificate(ctx context.Context, q store.Queries, i int, now time.Time,
	leafPEM string) error {
	env := []string{"prod", "staging", "dev", "test"}[i%4]
	name := fmt.Sprintf("svc-%05d", i)
	cn := name + "." + env + ".example.com"
	sans := []string{cn, "www." + cn}
	if i%5 == 0 {
		sans = append(sans, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	// A multiplier prime to the hours of a year spreads consecutive names over the year;
	// the half hour keeps every renewal time at least that far from now, so none falls due
	// while the benchmark runs.
	hours := time.Duration(24+(i*7919)%(365*24-24)) * time.Hour
	notAfter := now.Add(hours + 30*time.Minute)
	renewAt, issued := notAfter.Add(-renewWindow), notAfter.Add(-90*24*time.Hour)
	c := store.Certificate{ID: store.NewID("cert"), Name: name, CommonName: cn, SANs: sans,
		Environment: env, Tags: []string{"tier-" + fmt.Sprint(i%3)}, IssuerID: "iss-local",
		ProfileID: "prof-default", RenewalPolicyID: "rp-default", KeyMode: "agent",
		Status: "Active", CreatedAt: issued.Add(-time.Hour), UpdatedAt: issued}
	if renewAt.Before(now) {
		c.Status = "RenewalInProgress"
	}
	serial := fmt.Sprintf("%032x", i+1)
	sum := sha256.Sum256([]byte(serial))
	v := store.CertificateVersion{ID: store.NewID("ver"), CertificateID: c.ID,
		IssuerID: "iss-local", Serial: serial, CertPEM: leafPEM,
		Fingerprint: hex.EncodeToString(sum[:]), NotBefore: issued, NotAfter: notAfter,
		KeyAlgorithm: "ecdsa-p256", KeyBits: 256, KeyLocation: "agent", CreatedAt: issued}

	if err := q.CreateCertificate(ctx, c); err != nil {
		return err
	}
	if err := q.AddVersion(ctx, v); err != nil {
		return err
	}
	if err := q.SetRenewAt(ctx, c.ID, renewAt); err != nil {
		return err
	}
	if c.Status != "RenewalInProgress" {
		return nil
	}
	queued := now.Add(-time.Duration(i%720) * time.Minute)
	return q.CreateJob(ctx, store.Job{ID: store.NewID("job"), Type: store.JobRenewal,
		CertificateID: c.ID, Status: store.JobAwaitingCSR, MaxAttempts: 5,
		NextAttemptAt: queued, RequestedBy: "scheduler", CreatedAt: queued,
		UpdatedAt: queued})
}

// vacuum brings PostgreSQL's statistics and visibility map up to date after the bulk load,
// as autovacuum does on a database that has been running for a while; right after a
// load, plans and counts are slower than they will be a minute later.
func vacuum(b *testing.B, url string) {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(),
		"VACUUM ANALYZE certificates, certificate_versions, jobs")
	if err != nil {
		b.Fatal(err)
	}
}

// seedLeafPEM is a self-signed P-256 leaf, stored as the PEM of every seeded version so
// that rows have a realistic size; the list never reads it.
func seedLeafPEM(b *testing.B) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:  pkix.Name{CommonName: "svc.example.com"},
		DNSNames: []string{"svc.example.com"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(90 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// BenchmarkListCertificatesHandler measures the server's own cost of the certificate lists
// in-process, without TLS, network or load generator, at two inventory sizes, for profiling
// and to see which costs grow with the inventory.
func BenchmarkListCertificatesHandler(b *testing.B) {
	for _, n := range []int{1_000, certInventory} {
		b.Run(fmt.Sprintf("sqlite/%d", n), func(b *testing.B) {
			dir := b.TempDir()
			st, err := sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
			if err != nil {
				b.Fatal(err)
			}
			benchListHandler(b, st, dir, n, func() {})
		})
		b.Run(fmt.Sprintf("postgres/%d", n), func(b *testing.B) {
			url := storetest.PostgresSchema(b)
			st, err := postgres.Open(context.Background(), url, 10)
			if err != nil {
				b.Fatal(err)
			}
			benchListHandler(b, st, b.TempDir(), n, func() { vacuum(b, url) })
		})
	}
}

// benchListHandler builds the server's handler on st with n certificates and measures, per
// list: the same page again (from the page cache), revalidation (304), a page the cache has
// not seen (an extra query parameter makes a new entity tag; the total stays cached), and
// the count the list runs once per change of the certificates.
func benchListHandler(b *testing.B, st store.Store, dir string, n int, settle func()) {
	defer st.Close()
	cfg, err := config.Load(func(name string) (string, bool) {
		switch name {
		case "CERTCTL_AUTH_SECRET":
			return benchKey, true
		case "CERTCTL_CONFIG_ENCRYPTION_KEY":
			return strings.Repeat("5a", 32), true
		case "CERTCTL_DATA_DIR":
			return dir, true
		}
		return "", false
	})
	if err != nil {
		b.Fatal(err)
	}
	app, err := server.Build(context.Background(), cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	seedCertificates(b, st, n)
	settle()
	h := app.Handler()
	serve := func(b *testing.B, path, tag string, want int) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+benchKey)
		if tag != "" {
			req.Header.Set("If-None-Match", tag)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			b.Fatalf("GET %s: status %d, want %d", path, w.Code, want)
		}
		return w
	}

	b.Run("health", func(b *testing.B) {
		for b.Loop() {
			serve(b, "/health", "", http.StatusOK)
		}
	})
	for _, q := range certQueries {
		path := "/api/v1/certificates?" + q.query
		tag := serve(b, path, "", http.StatusOK).Header().Get("ETag")
		b.Run(q.name+"/cached", func(b *testing.B) {
			for b.Loop() {
				serve(b, path, "", http.StatusOK)
			}
		})
		b.Run(q.name+"/304", func(b *testing.B) {
			for b.Loop() {
				serve(b, path, tag, http.StatusNotModified)
			}
		})
		b.Run(q.name+"/uncached", func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				serve(b, fmt.Sprintf("%s&nocache=%d", path, i), "", http.StatusOK)
			}
		})
		b.Run(q.name+"/count", func(b *testing.B) {
			for b.Loop() {
				if _, err := st.CountCertificates(context.Background(), q.filter); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
