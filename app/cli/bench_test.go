package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
	"certctl/store/storetest"
)

// These benchmarks measure the built binary from outside, as an operator would see it. Run
// them with `just bench` or `go test -run '^$' -bench . -benchtime 1x ./app/cli`; the
// figures go into docs/benchmarks.md.

// BenchmarkColdStart times `certctl serve` on an empty data directory until /health
// answers over TLS, and reports the resident memory once it idles.
func BenchmarkColdStart(b *testing.B) {
	info, err := os.Stat(binary)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	var rss float64
	for i := 0; i < b.N; i++ {
		start := time.Now()
		in := startServe(b, baseEnv(b.TempDir()))
		total += time.Since(start)
		time.Sleep(2 * time.Second)
		rss = residentMB(b, in.cmd.Process.Pid)
		in.stop()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/start")
	b.ReportMetric(rss, "idle-RSS-MB")
	b.ReportMetric(float64(info.Size())/(1<<20), "binary-MB")
}

func residentMB(b testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		b.Fatal("no VmRSS in /proc status")
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

// auditEvents is how many events the audit list benchmark stores.
const auditEvents = 100_000

// BenchmarkAuditList loads GET /api/v1/audit (a page of 50 out of 100,000 events) with hey
// over HTTPS on loopback, beside GET /health in the same run, on both backends.
func BenchmarkAuditList(b *testing.B) {
	if _, err := exec.LookPath("hey"); err != nil {
		storetest.MissingPeer(b, "the load generator hey is missing: apt-get install hey")
	}
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		st, err := sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
		if err != nil {
			b.Fatal(err)
		}
		loadAudit(b, st, baseEnv(dir, "CERTCTL_AUTH_SECRET="+benchKey))
	})
	b.Run("postgres", func(b *testing.B) {
		env := postgresEnv(b)
		url := strings.TrimPrefix(env[len(env)-1], "CERTCTL_DATABASE_URL=")
		st, err := postgres.Open(context.Background(), url, 10)
		if err != nil {
			b.Fatal(err)
		}
		loadAudit(b, st, append(env, "CERTCTL_AUTH_SECRET="+benchKey))
	})
}

const benchKey = "benchmark-bootstrap-key-0123456789"

func loadAudit(b *testing.B, st store.Store, env []string) {
	seedAudit(b, st, auditEvents)
	st.Close()
	in := startServe(b, append(env, "CERTCTL_LOG_LEVEL=warn"))
	auth := "Authorization: Bearer " + benchKey

	health := hey(b, in.url+"/health")
	list := hey(b, in.url+"/api/v1/audit?per_page=50", "-H", auth)
	filtered := hey(b, in.url+"/api/v1/audit?per_page=50&action=team.update", "-H", auth)
	resp, err := in.client.Do(mustRequest(b, in.url+"/api/v1/audit?per_page=50"))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	cached := hey(b, in.url+"/api/v1/audit?per_page=50", "-H", auth,
		"-H", "If-None-Match: "+resp.Header.Get("ETag"))

	b.ReportMetric(health.rps, "health-req/s")
	b.ReportMetric(list.rps, "audit-req/s")
	b.ReportMetric(list.p99*1000, "audit-p99-ms")
	b.ReportMetric(filtered.rps, "filtered-req/s")
	b.ReportMetric(cached.rps, "304-req/s")
	b.ReportMetric(100*list.rps/health.rps, "audit-%-of-health")
}

func mustRequest(b testing.TB, url string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+benchKey)
	return req
}

func seedAudit(b testing.TB, st store.Store, n int) {
	ctx := context.Background()
	base := time.Now().Add(-time.Duration(n) * time.Second)
	const batch = 5000
	for done := 0; done < n; done += batch {
		err := st.InTx(ctx, func(q store.Queries) error {
			for i := done; i < done+batch && i < n; i++ {
				e := store.AuditEvent{ID: store.NewID("evt"),
					OccurredAt: store.UTC(base.Add(time.Duration(i) * time.Second)),
					Actor:      fmt.Sprintf("apikey:bot-%d", i%20), Action: []string{
						"team.create", "team.update", "owner.create", "owner.update"}[i%4],
					ResourceType: "team", ResourceID: fmt.Sprintf("team-%d", i%500),
					Details: []byte(`{"name":"benchmark"}`)}
				if err := q.AppendAudit(ctx, e); err != nil {
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

type heyResult struct{ rps, p99 float64 }

// hey runs the load generator for a fixed time with 50 connections and parses its summary.
func hey(b testing.TB, url string, args ...string) heyResult {
	args = append([]string{"-z", "10s", "-c", "50"}, args...)
	out, err := exec.Command("hey", append(args, url)...).CombinedOutput()
	if err != nil {
		b.Fatalf("hey: %v\n%s", err, out)
	}
	codes := regexp.MustCompile(`\[(\d{3})\]\s+\d+ responses`).FindAllSubmatch(out, -1)
	for _, c := range codes {
		if string(c[1]) != "200" && string(c[1]) != "304" {
			b.Fatalf("hey saw status %s:\n%s", c[1], out)
		}
	}
	if len(codes) == 0 {
		b.Fatalf("hey saw no answers:\n%s", out)
	}
	return heyResult{rps: parseFloat(b, `Requests/sec:\s+([\d.]+)`, out),
		p99: parseFloat(b, `99% in ([\d.]+) secs`, out)}
}

func parseFloat(b testing.TB, pattern string, out []byte) float64 {
	m := regexp.MustCompile(pattern).FindSubmatch(out)
	if m == nil {
		b.Fatalf("no %q in hey output:\n%s", pattern, out)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}
