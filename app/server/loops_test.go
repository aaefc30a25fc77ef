package server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/certs"
	"certctl/app/config"
	"certctl/store/sqlite"
)

// TestSchedulerWiring runs the server's background work with the job processor loop set to
// an hour: a queued certificate must still be issued at once (the wake-up on enqueue), and
// /metrics must show every loop's series and the inventory gauges from the start.
func TestSchedulerWiring(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	vals := map[string]string{"CERTCTL_DATA_DIR": dir,
		"CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL": "1h"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	app, err := Build(context.Background(), cfg, st, slog.New(slog.NewTextHandler(io.Discard,
		nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Work(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	c, _, err := app.Certs.Create(ctx, certs.Input{Name: "woken", CommonName: "w.example.com",
		IssuerID: "iss-local", KeyMode: "server"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for got, _ := app.Certs.Get(ctx, c.ID); got.Status != "Active"; got, _ = app.Certs.Get(
		ctx, c.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("status after 5 s: %s; the wake-up on enqueue did not start the job",
				got.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}

	rec := httptest.NewRecorder()
	app.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, loop := range []string{"renewal_check", "job_processor", "job_timeout",
		"status_refresh", "crl_generation", "ocsp_rotation", "ca_rollover", "metrics_refresh",
		"retention"} {
		for _, result := range []string{"ok", "error", "skipped"} {
			series := `certctl_scheduler_runs_total{loop="` + loop + `",result="` + result + `"}`
			if !strings.Contains(body, series) {
				t.Errorf("metrics lack %s", series)
			}
		}
	}
	for _, series := range []string{`certctl_scheduler_runs_total{loop="metrics_refresh",` +
		`result="ok"} 1`, `certctl_certificates{status="Revoked"} 0`,
		`certctl_jobs{status="Completed",type="Issuance"}`,
		"certctl_certificate_expiry_earliest_timestamp_seconds",
		`certctl_scheduler_run_duration_seconds_bucket{loop="renewal_check"`} {
		if !strings.Contains(body, series) {
			t.Errorf("metrics lack %s", series)
		}
	}
}
