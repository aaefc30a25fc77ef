package server_test

import (
	"path/filepath"
	"testing"
	"time"
)

// TestServerKilledSQLite kills the only server of a SQLite database with SIGKILL in the
// middle of a renewal sweep and starts it again: every due certificate is renewed exactly
// once, and the renewals the dead server left Running are run again at once, without
// waiting for the running-job timeout.
func TestServerKilledSQLite(t *testing.T) {
	const n = 200
	start := time.Now()
	url := "sqlite:" + filepath.Join(t.TempDir(), "certctl.db")
	bin := buildCertctl(t)
	prepareDue(t, url, n, slowRenewals)
	db := connect(t, url)

	env := replicaEnv(t, url, []string{"CERTCTL_RENEWAL_CONCURRENCY=5"})
	first := launch(t, bin, "first", env)
	first.waitHealthy(t)
	waitFor(t, 90*time.Second, "a third of the renewals", func() bool {
		return db.renewed(t) >= n/3
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) &&
		db.running(t) == 0; {
		time.Sleep(10 * time.Millisecond)
	}
	running := db.strings(t, `SELECT id FROM jobs WHERE status = 'Running'`)
	first.kill(t)
	t.Logf("killed the server after %d of %d renewals with %d jobs Running",
		db.renewed(t), n, len(running))

	restarted := time.Now()
	second := launch(t, bin, "second", env)
	second.waitHealthy(t)
	waitFor(t, 90*time.Second, "every renewal after the restart", func() bool {
		return db.renewed(t) == n && db.open(t) == 0
	})
	t.Logf("the restarted server finished in %s", since(restarted))
	waitSettled(t, db)
	db.checkRenewedOnce(t, n)
	if got := db.count(t, `SELECT count(*) FROM jobs WHERE type = 'Renewal'`); got != n {
		t.Errorf("got %d renewal jobs, want %d", got, n)
	}
	for _, id := range running {
		var status string
		var attempts int
		if err := db.db.QueryRow(`SELECT status, attempts FROM jobs WHERE id = ?`, id).
			Scan(&status, &attempts); err != nil {
			t.Fatal(err)
		}
		if status != "Completed" || attempts != 2 {
			t.Errorf("job %s Running at the kill: got %s after %d attempts, want Completed "+
				"on the second", id, status, attempts)
		}
	}
	t.Logf("total %s", since(start))
}
