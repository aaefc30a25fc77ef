package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/localca"
	"certctl/app/server"
	"certctl/store"
	"certctl/store/storetest"
)

// These tests run several `certctl serve` processes against one PostgreSQL database, the
// way a highly available deployment does, and check that every due certificate is renewed
// exactly once: by the replicas together, and when one of them dies mid-sweep.

// haKey is the encryption key every replica of a test shares.
var haKey = strings.Repeat("3e", 32)

// haConcurrency is CERTCTL_RENEWAL_CONCURRENCY of the replicas in the crash test: the most
// jobs a killed replica can leave Running.
const haConcurrency = 5

// killAtRunning is how many jobs Running, across the three replicas, the crash test waits
// for before it kills one; each is the killed replica's about one time in three.
const killAtRunning = 8

// TestHARenewals lets three replicas renew 1,000 due certificates together.
func TestHARenewals(t *testing.T) {
	const n = 1000
	start := time.Now()
	url := storetest.PostgresSchema(t)
	bin := buildCertctl(t)
	prepareDue(t, url, n, nil)
	db := connect(t, url)

	sweep := time.Now()
	startReplicas(t, bin, url, 3, "CERTCTL_RENEWAL_CONCURRENCY=25")
	waitFor(t, 90*time.Second, "every certificate renewed", func() bool {
		return db.renewed(t) == n
	})
	t.Logf("renewed %d certificates with 3 replicas in %s", n, since(sweep))
	waitSettled(t, db)

	db.checkRenewedOnce(t, n)
	if got := db.count(t, `SELECT count(*) FROM jobs WHERE type = 'Renewal'`); got != n {
		t.Errorf("got %d renewal jobs, want %d", got, n)
	}
	if got := db.count(t, `SELECT count(*) FROM jobs
		WHERE type = 'Renewal' AND attempts <> 1`); got != 0 {
		t.Errorf("got %d renewal jobs run more than once, want 0", got)
	}
	t.Logf("total %s", since(start))
}

// TestHAReplicaKilled kills one of three replicas with SIGKILL a third of the way through
// the sweep. The survivors renew everything else; the jobs the dead replica held stay
// Running until the running-job timeout, which the test brings forward by ageing them.
//
// Renewals make RSA keys here, so that each takes long enough for every replica to hold
// some when one is killed, and failed attempts retry after a second rather than a minute.
func TestHAReplicaKilled(t *testing.T) {
	const n = 300
	start := time.Now()
	url := storetest.PostgresSchema(t)
	bin := buildCertctl(t)
	prepareDue(t, url, n, slowRenewals)
	db := connect(t, url)

	sweep := time.Now()
	replicas := startReplicas(t, bin, url, 3,
		fmt.Sprintf("CERTCTL_RENEWAL_CONCURRENCY=%d", haConcurrency))
	waitFor(t, 90*time.Second, "a third of the renewals", func() bool {
		return db.renewed(t) >= n/3
	})
	// Which replica runs a job is not recorded, so the kill waits for a moment with many
	// jobs Running, most likely some of them on the replica killed.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) &&
		db.running(t) < killAtRunning; {
		time.Sleep(10 * time.Millisecond)
	}
	running := db.running(t)
	replicas[0].kill(t)
	t.Logf("killed %s after %d of %d renewals with %d jobs Running, %s into the sweep",
		replicas[0].name, db.renewed(t), n, running, since(sweep))

	stuck := waitSurvivors(t, db, n)
	t.Logf("survivors finished in %s; %d jobs left Running by the dead replica",
		since(sweep), len(stuck))
	if len(stuck) == 0 {
		t.Log("the killed replica held no job: the running-job timeout goes untested")
	}
	if len(stuck) > haConcurrency {
		t.Fatalf("got %d jobs left Running, want at most %d (its concurrency)", len(stuck),
			haConcurrency)
	}

	requeued := time.Now()
	db.exec(t, `UPDATE jobs SET updated_at = now() - interval '20 minutes'
		WHERE id = ANY($1)`, stuck)
	waitFor(t, 100*time.Second, "the abandoned jobs to be run again", func() bool {
		return db.renewed(t) == n && db.open(t) == 0
	})
	t.Logf("abandoned jobs requeued and completed in %s", since(requeued))
	waitSettled(t, db)

	db.checkRenewedOnce(t, n)
	if got := db.count(t, `SELECT count(*) FROM jobs
		WHERE type = 'Renewal' AND attempts = 2 AND id = ANY($1)`, stuck); got != len(stuck) {
		t.Errorf("got %d of the %d abandoned jobs completed on their second attempt",
			got, len(stuck))
	}
	t.Logf("total %s", since(start))
}

func since(t time.Time) time.Duration { return time.Since(t).Round(10 * time.Millisecond) }

// buildCertctl builds the certctl binary into a directory the test removes.
func buildCertctl(t *testing.T) string {
	t.Helper()
	start := time.Now()
	bin := filepath.Join(t.TempDir(), "certctl")
	build := exec.Command("go", "build", "-o", bin, "certctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build certctl: %v\n%s", err, out)
	}
	t.Logf("built certctl in %s", since(start))
	return bin
}

// prepareDue readies the database at url as a server's first start does, issues n
// certificates with server-held keys in this process, applies adjust when not nil, and
// makes all of them due for renewal.
func prepareDue(t *testing.T, url string, n int,
	adjust func(ctx context.Context, st store.Store, svc *certs.Service) error) {
	t.Helper()
	ctx := context.Background()
	start := time.Now()
	vals := map[string]string{"CERTCTL_CONFIG_ENCRYPTION_KEY": haKey,
		"CERTCTL_DATA_DIR": t.TempDir(), "CERTCTL_DATABASE_URL": url,
		"CERTCTL_DATABASE_MAX_CONNS": "10"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	st, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app, err := server.Build(ctx, cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}

	ids := createCertificates(t, app.Certs, n)
	if ran := app.Certs.ProcessJobs(ctx); ran != n {
		t.Fatalf("issued %d certificates, want %d", ran, n)
	}
	if adjust != nil {
		if err := adjust(ctx, st, app.Certs); err != nil {
			t.Fatal(err)
		}
	}
	due := time.Now().Add(-time.Minute)
	for _, id := range ids {
		if err := st.SetRenewAt(ctx, id, due); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("issued %d certificates and made them due in %s", n, since(start))
}

// slowRenewals makes the default profile issue RSA-2048 keys first and the default
// renewal policy retry after a second.
func slowRenewals(ctx context.Context, st store.Store, svc *certs.Service) error {
	p, err := st.GetProfile(ctx, certs.DefaultProfile)
	if err != nil {
		return err
	}
	p.KeyTypes = []string{"rsa-2048", "ecdsa-p256"}
	if _, err := svc.SaveProfile(ctx, p, false); err != nil {
		return err
	}
	rp, err := st.GetRenewalPolicy(ctx, certs.DefaultPolicy)
	if err != nil {
		return err
	}
	rp.RetryBackoff = time.Second
	_, err = svc.SavePolicy(ctx, rp, false)
	return err
}

// createCertificates creates n server-key certificates, four at a time, and returns their
// IDs; their issuance jobs are queued, not run.
func createCertificates(t *testing.T, svc *certs.Service, n int) []string {
	t.Helper()
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				name := fmt.Sprintf("ha-%04d", i)
				c, _, err := svc.Create(context.Background(), certs.Input{Name: name,
					CommonName: name + ".example.com", IssuerID: localca.IssuerID,
					KeyMode: "server"})
				ids[i] = c.ID
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// replica is one `certctl serve` process.
type replica struct {
	name string
	cmd  *exec.Cmd
	log  *outputBuffer
	done chan error
	dir  string
	url  string
}

// outputBuffer collects a process's output while the test reads it.
type outputBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startReplicas starts count replicas on the database at url together, then waits until
// each answers /health.
func startReplicas(t *testing.T, bin, url string, count int, extra ...string) []*replica {
	t.Helper()
	start := time.Now()
	rs := make([]*replica, count)
	for i := range rs {
		rs[i] = launch(t, bin, fmt.Sprintf("replica-%d", i+1), replicaEnv(t, url, extra))
	}
	for _, r := range rs {
		r.waitHealthy(t)
	}
	t.Logf("%d replicas healthy in %s", count, since(start))
	return rs
}

// replicaEnv is a clean environment for one replica: the test's own CERTCTL_* variables
// must not leak in. Each replica has its own data directory and port; the pool is kept
// small so that three replicas fit in the test server's connection limit.
func replicaEnv(t *testing.T, url string, extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTCTL_") {
			env = append(env, kv)
		}
	}
	env = append(env, "CERTCTL_DATA_DIR="+t.TempDir(), "CERTCTL_DATABASE_URL="+url,
		"CERTCTL_CONFIG_ENCRYPTION_KEY="+haKey, "CERTCTL_DATABASE_MAX_CONNS=10",
		"CERTCTL_SERVER_HOST=127.0.0.1", fmt.Sprintf("CERTCTL_SERVER_PORT=%d", freePort(t)),
		"CERTCTL_SCHEDULER_RENEWAL_CHECK_INTERVAL=1s",
		"CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL=1s", "CERTCTL_JOB_TIMEOUT_INTERVAL=1s",
		"CERTCTL_LOG_LEVEL=warn", "CERTCTL_LOG_FORMAT=text")
	return append(env, extra...)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// launch starts one replica; the test's cleanup stops it and, when the test failed, logs
// what it printed.
func launch(t *testing.T, bin, name string, env []string) *replica {
	t.Helper()
	r := &replica{name: name, log: &outputBuffer{}, done: make(chan error, 1)}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CERTCTL_DATA_DIR="); ok {
			r.dir = v
		}
		if v, ok := strings.CutPrefix(kv, "CERTCTL_SERVER_PORT="); ok {
			r.url = "https://127.0.0.1:" + v
		}
	}
	r.cmd = exec.Command(bin, "serve")
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			t.Logf("output of %s:\n%s", r.name, r.log)
		}
	})
	return r
}

// waitHealthy polls /health over TLS, trusting only the root the replica wrote into its
// data directory.
func (r *replica) waitHealthy(t *testing.T) {
	t.Helper()
	var client *http.Client
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if client == nil {
			client = rootTrusting(r.dir)
		}
		if client != nil {
			if resp, err := client.Get(r.url + "/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
				}
			}
		}
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("%s exited early: %v\n%s", r.name, err, r.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not become healthy:\n%s", r.name, r.log)
}

// rootTrusting returns a client that trusts only the root in dir, or nil before it exists.
func rootTrusting(dir string) *http.Client {
	pem, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// kill ends the replica at once, as a crash would.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %s: %v", r.name, err)
	}
	err := <-r.done
	r.done <- err
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("%s after SIGKILL: %v, want killed", r.name, err)
	}
}

// stop sends SIGTERM, and SIGKILL when the replica has not exited 10 s later. A replica
// that had exited on its own fails the test.
func (r *replica) stop(t *testing.T) {
	select {
	case err := <-r.done:
		r.done <- err
		if r.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("%s exited by itself: %v", r.name, err)
		}
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s stopped with %v after SIGTERM, want a clean exit", r.name, err)
		}
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-r.done
		t.Errorf("%s did not stop within 10 s of SIGTERM", r.name)
	}
}

// haDB reads the shared database directly, beside the replicas: PostgreSQL, or the SQLite
// file of a database URL "sqlite:PATH".
type haDB struct {
	db  *sql.DB
	now string // the SQL for the current time
}

func connect(t *testing.T, url string) *haDB {
	t.Helper()
	d := &haDB{now: "now()"}
	var err error
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		d.db, err = sql.Open("sqlite", path)
		d.now = "datetime('now')"
	} else {
		d.db, err = sql.Open("pgx", url)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.db.Close() })
	return d
}

func (d *haDB) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (d *haDB) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := d.db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func (d *haDB) strings(t *testing.T, query string, args ...any) []string {
	t.Helper()
	rows, err := d.db.Query(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// renewed counts certificates with more than their first version.
func (d *haDB) renewed(t *testing.T) int {
	return d.count(t, `SELECT count(*) FROM (SELECT certificate_id FROM certificate_versions
		GROUP BY 1 HAVING count(*) >= 2) d`)
}

// running counts jobs Running.
func (d *haDB) running(t *testing.T) int {
	return d.count(t, `SELECT count(*) FROM jobs WHERE status = 'Running'`)
}

// open counts jobs not yet finished.
func (d *haDB) open(t *testing.T) int {
	return d.count(t, `SELECT count(*) FROM jobs
		WHERE status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running')`)
}

// checkRenewedOnce checks the end state of a sweep over n certificates: each has exactly
// two versions and one completed renewal, no job is left open or failed, and each is
// Active with its next renewal in the future. The servers' own certificate, issued once
// when the first of them started, is not among the n.
func (d *haDB) checkRenewedOnce(t *testing.T, n int) {
	t.Helper()
	if got := d.count(t, `SELECT count(*) FROM certificate_versions
		WHERE certificate_id <> '`+certs.ServerCertificateID+`'`); got != 2*n {
		t.Errorf("got %d versions, want %d (%d new)", got, 2*n, n)
	}
	if ids := d.strings(t, `SELECT certificate_id || ': ' || count(*) FROM
		certificate_versions WHERE certificate_id <> '`+certs.ServerCertificateID+`'
		GROUP BY certificate_id HAVING count(*) <> 2`); len(ids) > 0 {
		t.Errorf("%d certificates without exactly 2 versions, e.g. %s", len(ids),
			strings.Join(ids[:min(len(ids), 5)], ", "))
	}
	if ids := d.strings(t, `SELECT certificate_id FROM jobs
		WHERE type = 'Renewal' AND status = 'Completed'
		GROUP BY certificate_id HAVING count(*) > 1`); len(ids) > 0 {
		t.Errorf("%d certificates renewed more than once, e.g. %s", len(ids),
			strings.Join(ids[:min(len(ids), 5)], ", "))
	}
	if got := d.count(t, `SELECT count(*) FROM jobs
		WHERE type = 'Renewal' AND status = 'Completed'`); got != n {
		t.Errorf("got %d completed renewals, want %d", got, n)
	}
	if got := d.strings(t, `SELECT type || ' ' || status || ' ' || count(*) FROM jobs
		WHERE status <> 'Completed' GROUP BY type, status`); len(got) > 0 {
		t.Errorf("jobs not completed: %s", strings.Join(got, ", "))
	}
	if got := d.strings(t, `SELECT status || ' ' || count(*) FROM certificates
		WHERE status <> 'Active' OR renew_at IS NULL OR renew_at <= `+d.now+`
		GROUP BY status`); len(got) > 0 {
		t.Errorf("certificates not Active with a future renewal time: %s",
			strings.Join(got, ", "))
	}
}

// waitSurvivors waits until the replicas still running have done all they can for n
// certificates: nothing is Pending, every certificate is renewed or has its renewal
// Running, and the same jobs have stayed Running for three seconds, far longer than a
// renewal takes. It returns the IDs of those jobs, which only a dead replica can hold.
func waitSurvivors(t *testing.T, db *haDB, n int) []string {
	t.Helper()
	waitFor(t, 60*time.Second, "the survivors to finish", func() bool {
		return db.count(t, `SELECT count(*) FROM jobs WHERE status = 'Pending'`) == 0 &&
			db.renewed(t)+db.running(t) == n
	})
	const query = `SELECT j.id FROM jobs j WHERE j.status = 'Running'
		AND j.id = (SELECT l.id FROM jobs l WHERE l.certificate_id = j.certificate_id
		            ORDER BY l.created_at DESC, l.id DESC LIMIT 1)
		ORDER BY j.id`
	stuck := db.strings(t, query)
	for deadline := time.Now().Add(30 * time.Second); ; {
		time.Sleep(3 * time.Second)
		now := db.strings(t, query)
		if slices.Equal(now, stuck) {
			return stuck
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs Running kept changing: %v, then %v", stuck, now)
		}
		stuck = now
	}
}

// waitSettled waits three renewal checks more and checks that the replicas queued nothing
// more: a replica working from a stale list of due certificates would show up here.
func waitSettled(t *testing.T, db *haDB) {
	t.Helper()
	waitFor(t, 30*time.Second, "no open jobs", func() bool { return db.open(t) == 0 })
	jobs := db.count(t, `SELECT count(*) FROM jobs`)
	time.Sleep(3 * time.Second)
	if got := db.count(t, `SELECT count(*) FROM jobs`); got != jobs {
		t.Errorf("got %d jobs three seconds after the sweep, want %d as before", got, jobs)
	}
}

// waitFor polls done every 100 ms until it holds, failing the test after within.
func waitFor(t *testing.T, within time.Duration, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !done(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
