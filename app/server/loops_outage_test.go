package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/localca"
	"certctl/store/postgres"
	"certctl/store/storetest"
)

// TestLoopsSurviveOutage stops PostgreSQL under a running scheduler: its loops count failed
// runs and keep ticking instead of crashing or stopping, and once the database is back they
// succeed again and do their work, without a restart.
func TestLoopsSurviveOutage(t *testing.T) {
	cluster := storetest.StartCluster(t)
	st, err := postgres.Open(t.Context(), cluster.URL(), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	env := map[string]string{
		"CERTCTL_DATABASE_URL":                      cluster.URL(),
		"CERTCTL_CONFIG_ENCRYPTION_KEY":             strings.Repeat("5b", 32),
		"CERTCTL_SCHEDULER_RENEWAL_CHECK_INTERVAL":  "1s",
		"CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL":  "1s",
		"CERTCTL_SCHEDULER_STATUS_REFRESH_INTERVAL": "1s",
	}
	cfg, err := config.Load(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	app, err := Build(t.Context(), cfg, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	worked := make(chan struct{})
	go func() { app.Work(ctx); close(worked) }()
	t.Cleanup(func() { stop(); <-worked })

	runs := func(result string) int { return loopRuns(t, app, "renewal_check", result) }
	waitUntil(t, 20*time.Second, "a first good renewal check", func() bool {
		return runs("ok") > 0
	})

	cluster.Stop(t)
	failed := runs("error")
	waitUntil(t, 60*time.Second, "two failed renewal checks", func() bool {
		return runs("error") >= failed+2
	})

	cluster.Start(t)
	ok := runs("ok")
	waitUntil(t, 60*time.Second, "a good renewal check after the outage", func() bool {
		return runs("ok") > ok
	})
	// The loops do their work again: a new certificate's issuance job is run by the job
	// processor loop.
	c, _, err := app.Certs.Create(context.Background(), certs.Input{Name: "after-outage",
		CommonName: "after.example.com", IssuerID: localca.IssuerID, KeyMode: "server"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 30*time.Second, "the certificate issued after the outage", func() bool {
		got, err := st.GetCertificate(context.Background(), c.ID)
		return err == nil && got.CurrentVersionID != ""
	})
}

// loopRuns reads certctl_scheduler_runs_total for loop and result from /metrics.
func loopRuns(t *testing.T, app *App, loop, result string) int {
	t.Helper()
	rec := httptest.NewRecorder()
	app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^certctl_scheduler_runs_total\{loop="%s",`+
		`result="%s"\} (\d+)$`, loop, result))
	m := re.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatalf("no certctl_scheduler_runs_total{loop=%q,result=%q} in /metrics", loop,
			result)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func waitUntil(t *testing.T, within time.Duration, what string, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !done(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting %s for %s", within, what)
		}
	}
}
