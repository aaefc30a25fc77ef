package scheduler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// observed is one run or skip as the scheduler counted it.
type observed struct{ loop, result string }

// harness is a Scheduler on a fake clock whose tickers wait exactly their interval.
type harness struct {
	s        *Scheduler
	clk      *fakeClock
	reg      *prometheus.Registry
	logs     *logBuffer
	observed chan observed
}

func newHarness(t *testing.T, loops ...Loop) *harness {
	t.Helper()
	h := &harness{
		clk:      newFakeClock(),
		reg:      prometheus.NewRegistry(),
		logs:     &logBuffer{},
		observed: make(chan observed, 100),
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// r = 0.5 puts every tick exactly one interval after the last.
	h.s = newScheduler(h.reg, log, h.clk, script(0.5))
	h.s.observe = func(loop, result string) { h.observed <- observed{loop, result} }
	for _, l := range loops {
		h.s.Add(l)
	}
	return h
}

// start runs the scheduler until the returned function cancels it and sees Run return.
func (h *harness) start(t *testing.T) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.s.Run(ctx)
	}()

	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(stuck):
				t.Fatal("Run did not return after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// tick waits until n tickers wait on the clock and advances it to the earliest.
func (h *harness) tick(t *testing.T, n int) {
	t.Helper()
	h.clk.waitTimers(t, n)
	h.clk.Advance(h.clk.untilNext(t))
}

// next returns the next run or skip the scheduler counts.
func (h *harness) next(t *testing.T) observed {
	t.Helper()
	select {
	case o := <-h.observed:
		return o
	case <-time.After(stuck):
		t.Fatal("no run counted")
		return observed{}
	}
}

func (h *harness) expect(t *testing.T, want observed) {
	t.Helper()
	if got := h.next(t); got != want {
		t.Fatalf("counted %+v, want %+v", got, want)
	}
}

func (h *harness) expectCounts(t *testing.T, loop string, ok, failed, skipped float64) {
	t.Helper()
	got := runs(t, h.reg)
	want := map[string]float64{resultOK: ok, resultError: failed, resultSkipped: skipped}
	for result, n := range want {
		if got[loop+"/"+result] != n {
			t.Errorf("runs of %s with result %s: got %v, want %v",
				loop, result, got[loop+"/"+result], n)
		}
	}
}

// logBuffer collects JSON log lines; handlers may write to it from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// find returns the first record with the level and message, or nil.
func (b *logBuffer) find(t *testing.T, level, msg string) map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.Lines(b.buf.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["level"] == level && rec["msg"] == msg {
			return rec
		}
	}
	return nil
}

func every(d time.Duration, run func(ctx context.Context) error) func(name string) Loop {
	return func(name string) Loop {
		return Loop{Name: name, Interval: d, Budget: d, Run: run}
	}
}

func TestSchedulerRunsOncePerTick(t *testing.T) {
	var runs atomic.Int32
	h := newHarness(t, every(time.Minute, func(context.Context) error {
		runs.Add(1)
		return nil
	})("renewal"))
	h.start(t)

	for range 3 {
		h.tick(t, 1)
		h.expect(t, observed{"renewal", resultOK})
	}

	if got := runs.Load(); got != 3 {
		t.Errorf("runs: got %d, want 3", got)
	}
	h.expectCounts(t, "renewal", 3, 0, 0)
}

func TestSchedulerSkipsTickWhileRunning(t *testing.T) {
	started := make(chan struct{}, 10)
	release := make(chan struct{})
	h := newHarness(t, every(time.Minute, func(context.Context) error {
		started <- struct{}{}
		<-release
		return nil
	})("slow"))
	h.start(t)

	h.tick(t, 1)
	<-started
	for range 2 {
		h.tick(t, 1)
		h.expect(t, observed{"slow", resultSkipped})
	}
	if n := len(started); n != 0 {
		t.Fatalf("runs started while one was going: %d, want 0", n)
	}
	close(release)
	h.expect(t, observed{"slow", resultOK})

	// The skipped ticks were not queued: only the next tick starts a run.
	h.tick(t, 1)
	h.expect(t, observed{"slow", resultOK})
	if n := len(started); n != 1 {
		t.Errorf("runs started by one tick: got %d, want 1", n)
	}
	h.expectCounts(t, "slow", 2, 0, 2)
	if h.logs.find(t, "DEBUG", "loop run skipped, previous run still going") == nil {
		t.Error("no debug record of the skipped run")
	}
}

func TestSchedulerRecoversPanic(t *testing.T) {
	h := newHarness(t,
		every(time.Minute, func(context.Context) error { panic("boom") })("broken"),
		every(time.Minute, func(context.Context) error { return nil })("healthy"),
	)
	h.start(t)

	for range 2 {
		h.tick(t, 2) // both loops fall due together
		got := map[observed]int{}
		got[h.next(t)]++
		got[h.next(t)]++
		if got[observed{"broken", resultError}] != 1 || got[observed{"healthy", resultOK}] != 1 {
			t.Fatalf("counted %v, want one error of broken and one ok of healthy", got)
		}
	}
	h.expectCounts(t, "broken", 0, 2, 0)
	h.expectCounts(t, "healthy", 2, 0, 0)

	rec := h.logs.find(t, "ERROR", "loop panicked")
	if rec == nil {
		t.Fatal("panic not logged at error")
	}
	if rec["loop"] != "broken" || rec["component"] != "scheduler" || rec["panic"] != "boom" {
		t.Errorf("panic record: got %v, want loop=broken component=scheduler panic=boom", rec)
	}
	if stack, _ := rec["stack"].(string); !strings.Contains(stack, "TestSchedulerRecoversPanic") {
		t.Errorf("panic record stack does not reach the panicking function: %q", stack)
	}
}

func TestRunNow(t *testing.T) {
	errDown := errors.New("database down")
	tests := []struct {
		name    string
		run     func(ctx context.Context) error
		wantErr string
		counts  [3]float64 // ok, error, skipped
	}{
		{"ok", func(context.Context) error { return nil }, "", [3]float64{1, 0, 0}},
		{"error", func(context.Context) error { return errDown }, "run loop job: database down",
			[3]float64{0, 1, 0}},
		{"panic", func(context.Context) error { panic("boom") }, "run loop job: panic: boom",
			[3]float64{0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			h = newHarness(t, every(time.Minute, func(ctx context.Context) error {
				h.clk.Advance(1500 * time.Millisecond) // the run takes 1.5 s of clock time
				return tt.run(ctx)
			})("job"))

			err := h.s.RunNow(t.Context(), "job")

			if got := errorText(err); got != tt.wantErr {
				t.Errorf("error: got %q, want %q", got, tt.wantErr)
			}
			h.expectCounts(t, "job", tt.counts[0], tt.counts[1], tt.counts[2])
			if n, sum := histogram(t, h.reg, "job"); n != 1 || sum != 1.5 {
				t.Errorf("duration histogram: got %d runs taking %v s, want 1 taking 1.5 s", n, sum)
			}
		})
	}
}

func TestRunNowErrorKeepsCause(t *testing.T) {
	h := newHarness(t, every(time.Minute, func(context.Context) error {
		return context.Canceled
	})("job"))

	if err := h.s.RunNow(t.Context(), "job"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want it to wrap context.Canceled", err)
	}
	if h.logs.find(t, "WARN", "loop run failed") == nil {
		t.Error("error return not logged at warn")
	}
}

func TestRunNowBudgetEndsContext(t *testing.T) {
	const budget = 20 * time.Millisecond
	l := Loop{Name: "job", Interval: time.Minute, Budget: budget,
		Run: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("run context has no deadline")
			}
			<-ctx.Done()
			return ctx.Err()
		}}
	h := newHarness(t, l)

	err := h.s.RunNow(t.Context(), "job")

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want context.DeadlineExceeded", err)
	}
	h.expectCounts(t, "job", 0, 1, 0)
	rec := h.logs.find(t, "WARN", "loop run failed")
	if rec == nil || rec["budget"] == nil {
		t.Errorf("budget overrun: got log record %v, want a warning naming the budget", rec)
	}
}

func TestRunNowBusyAndUnknown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	h := newHarness(t, every(time.Minute, func(context.Context) error {
		close(started)
		<-release
		return nil
	})("job"))
	first := make(chan error)
	go func() { first <- h.s.RunNow(t.Context(), "job") }()
	<-started

	if err := h.s.RunNow(t.Context(), "job"); !errors.Is(err, ErrBusy) {
		t.Errorf("second RunNow: got %v, want ErrBusy", err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("first RunNow: %v", err)
	}
	h.expectCounts(t, "job", 1, 0, 1)

	if err := h.s.RunNow(t.Context(), "nope"); errorText(err) != "run loop nope: no such loop" {
		t.Errorf("unknown loop: got %v", err)
	}
}

func TestAddCreatesEverySeries(t *testing.T) {
	noop := func(context.Context) error { return nil }
	h := newHarness(t, every(time.Minute, noop)("renewal"), every(time.Hour, noop)("crl"))

	want := map[string]float64{
		"crl/error": 0, "crl/ok": 0, "crl/skipped": 0,
		"renewal/error": 0, "renewal/ok": 0, "renewal/skipped": 0,
	}
	if got := runs(t, h.reg); !maps.Equal(got, want) {
		t.Errorf("certctl_scheduler_runs_total: got %v, want %v", got, want)
	}
	for _, loop := range []string{"crl", "renewal"} {
		if n, _ := histogram(t, h.reg, loop); n != 0 {
			t.Errorf("duration histogram of %s: got %d runs, want 0", loop, n)
		}
	}
}

func TestAddPanics(t *testing.T) {
	noop := func(context.Context) error { return nil }
	ok := Loop{Name: "job", Interval: time.Minute, Budget: time.Minute, Run: noop}
	tests := []struct {
		name string
		edit func(l *Loop)
	}{
		{"duplicate name", func(*Loop) {}},
		{"empty name", func(l *Loop) { l.Name = "" }},
		{"zero interval", func(l *Loop) { l.Interval = 0 }},
		{"negative interval", func(l *Loop) { l.Interval = -time.Second }},
		{"zero budget", func(l *Loop) { l.Budget = 0 }},
		{"nil run", func(l *Loop) { l.Run = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, ok)
			l := ok
			tt.edit(&l)
			if !panics(func() { h.s.Add(l) }) {
				t.Errorf("Add(%+v) did not panic", l)
			}
		})
	}

	t.Run("after Run", func(t *testing.T) {
		h := newHarness(t, ok)
		h.start(t)
		h.clk.waitTimers(t, 1)
		l := ok
		l.Name = "late"
		if !panics(func() { h.s.Add(l) }) {
			t.Error("Add after Run did not panic")
		}
	})
}

func TestRunReturnsAfterCancelWithNothingLeft(t *testing.T) {
	before := runtime.NumGoroutine()
	started := make(chan struct{})
	var sawCancel atomic.Bool
	noop := func(context.Context) error { return nil }
	h := newHarness(t,
		every(time.Hour, noop)("idle"),
		every(time.Minute, func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			sawCancel.Store(true)
			return ctx.Err()
		})("busy"),
	)
	stop := h.start(t)
	h.tick(t, 2) // the minute loop falls due first
	<-started

	stop()

	if !sawCancel.Load() {
		t.Error("Run returned before the run going at shutdown had ended")
	}
	if n := h.clk.pendingTimers(); n != 0 {
		t.Errorf("timers left after Run returned: got %d, want 0", n)
	}
	if h.logs.find(t, "INFO", "loop run interrupted by shutdown") == nil {
		t.Error("run cut short by shutdown not logged at info")
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits for the goroutine count to fall back to want: the goroutine that
// called Run may still be on its way out when Run has returned.
func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	give := time.Now().Add(stuck)
	for runtime.NumGoroutine() > want {
		if time.Now().After(give) {
			t.Fatalf("goroutines: got %d, want at most %d", runtime.NumGoroutine(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// runs returns every certctl_scheduler_runs_total series, keyed by "loop/result". The
// helpers here read gathered values through their getters, so that the tests need no
// import beyond the prometheus package.
func runs(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}

	series := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "certctl_scheduler_runs_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			series[labels["loop"]+"/"+labels["result"]] = m.GetCounter().GetValue()
		}
	}
	return series
}

// histogram returns the number and sum of observations of the loop's run duration.
func histogram(t *testing.T, reg *prometheus.Registry, loop string) (uint64, float64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}

	for _, f := range families {
		if f.GetName() != "certctl_scheduler_run_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == loop {
				return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no duration histogram for loop %s", loop)
	return 0, 0
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func panics(f func()) (panicked bool) {
	defer func() { panicked = recover() != nil }()
	f()
	return false
}
