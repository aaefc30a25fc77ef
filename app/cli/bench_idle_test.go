package cli_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
)

// idleWindow is how long BenchmarkSchedulerIdle watches the idle server: long enough for
// every loop with an interval of a minute or less to run at least twice.
var idleWindow = flag.Duration("idle-window", 3*time.Minute,
	"how long BenchmarkSchedulerIdle measures the idle server's CPU time")

// BenchmarkSchedulerIdle measures the CPU time of a server with 100,000 certificates and
// the default loop intervals while nothing calls it and nothing is due: the cost of the
// scheduler at idle, as a share of one core. Run with -benchtime 1x.
func BenchmarkSchedulerIdle(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		in, _ := seededServe(b, baseEnv(dir, "CERTCTL_AUTH_SECRET="+benchKey),
			func() (store.Store, error) {
				return sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
			}, func() {})
		b.ReportMetric(idleCPU(b, in), "cpu-%-of-core")
	})
	b.Run("postgres", func(b *testing.B) {
		env := postgresEnv(b)
		url := strings.TrimPrefix(env[len(env)-1], "CERTCTL_DATABASE_URL=")
		in, _ := seededServe(b, append(env, "CERTCTL_AUTH_SECRET="+benchKey),
			func() (store.Store, error) { return postgres.Open(context.Background(), url, 10) },
			func() { vacuum(b, url) })
		b.ReportMetric(idleCPU(b, in), "cpu-%-of-core")
	})
}

// idleCPU returns the CPU time the server process used during idleWindow, as a percentage
// of one core. (With PostgreSQL, the database's own work for the loops' queries is not
// included.)
func idleCPU(b *testing.B, in *instance) float64 {
	pid := in.cmd.Process.Pid
	loopsBefore := loopSeconds(b, in)
	before, start := cpuTicks(b, pid), time.Now()
	time.Sleep(*idleWindow)
	used := float64(cpuTicks(b, pid)-before) / clockTicks
	elapsed := time.Since(start).Seconds()
	for loop, secs := range loopSeconds(b, in) {
		if d := secs - loopsBefore[loop]; d > 0 {
			b.Logf("loop %s ran for %.1f ms of the %.0f s", loop, d*1000, elapsed)
		}
	}
	return 100 * used / elapsed
}

// loopSeconds reads how long each scheduler loop has run in total from /metrics.
func loopSeconds(b *testing.B, in *instance) map[string]float64 {
	resp, err := in.client.Get(in.url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	re := regexp.MustCompile(
		`(?m)^certctl_scheduler_run_duration_seconds_sum\{loop="([a-z_]+)"\} (\S+)$`)
	for _, m := range re.FindAllStringSubmatch(string(body), -1) {
		out[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	return out
}

// clockTicks is the kernel's USER_HZ, the unit of the CPU times in /proc/PID/stat; 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// cpuTicks returns the user and system CPU time of process pid, in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name in parentheses may hold spaces; the fields after it are fixed.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("read CPU times from /proc/%d/stat: %v %v", pid, err1, err2)
	}
	return utime + stime
}
