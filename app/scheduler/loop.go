package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Loop is one periodic job of the product.
type Loop struct {
	// Name identifies the loop in logs and is its metric label. It is unique within a
	// Scheduler.
	Name string
	// Interval is the mean time between runs; each wait is jittered by DefaultJitter.
	Interval time.Duration
	// Budget bounds one run: the run's context ends once it is spent.
	Budget time.Duration
	// Run does the work. It should return soon after its context ends: until it returns,
	// further ticks of the loop are skipped and Scheduler.Run cannot return.
	Run func(ctx context.Context) error
}

// Values of the result label of certctl_scheduler_runs_total.
const (
	resultOK      = "ok"
	resultError   = "error"
	resultSkipped = "skipped"
)

// ErrBusy is returned by RunNow when the loop's previous run is still going.
var ErrBusy = errors.New("previous run still going")

// Scheduler runs loops, each on its own jittered ticker. A loop never runs concurrently
// with itself: a tick that finds the previous run still going is skipped, not queued. A
// panic in a run is recovered and counted as an error; other loops keep running.
type Scheduler struct {
	log      *slog.Logger
	clock    Clock
	random   func() float64
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight sync.WaitGroup // runs started by ticks

	// observe, when set, is called after each run or skip has been counted. Tests use it
	// to wait for runs without polling.
	observe func(loop, result string)

	mu      sync.Mutex
	loops   []*loop
	started bool
}

// loop is a Loop with its logger and whether a run is going.
type loop struct {
	Loop
	log     *slog.Logger
	running atomic.Bool
}

// New returns a Scheduler without loops, with its metrics registered on reg. A nil reg
// leaves the metrics unregistered, for a process that serves none.
func New(reg prometheus.Registerer, log *slog.Logger) *Scheduler {
	return newScheduler(reg, log, realClock{}, rand.Float64)
}

// newScheduler is New with the clock and the random source of the tickers passed in.
func newScheduler(reg prometheus.Registerer, log *slog.Logger, clock Clock,
	random func() float64) *Scheduler {
	s := &Scheduler{
		log:    log.With("component", "scheduler"),
		clock:  clock,
		random: random,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certctl_scheduler_runs_total",
			Help: "Scheduler loop runs, by loop and result (ok, error, skipped).",
		}, []string{"loop", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "certctl_scheduler_run_duration_seconds",
			Help:    "Time taken by scheduler loop runs, by loop.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"loop"}),
	}
	if reg != nil {
		reg.MustRegister(s.runs, s.duration)
	}
	return s
}

// Add registers l and creates its metric series, at zero for every result, so dashboards
// and alerts see the loop before its first run. It panics if the name is empty or taken,
// the interval or budget is not positive, Run is nil, or Run has been called.
func (s *Scheduler) Add(l Loop) {
	if err := check(l); err != nil {
		panic("scheduler: " + err.Error())
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic(fmt.Sprintf("scheduler: add loop %q after Run", l.Name))
	}
	if s.lookupLocked(l.Name) != nil {
		panic(fmt.Sprintf("scheduler: loop %q added twice", l.Name))
	}

	for _, result := range []string{resultOK, resultError, resultSkipped} {
		s.runs.WithLabelValues(l.Name, result)
	}
	s.duration.WithLabelValues(l.Name)
	s.loops = append(s.loops, &loop{Loop: l, log: s.log.With("loop", l.Name)})
}

func check(l Loop) error {
	switch {
	case l.Name == "":
		return errors.New("loop without a name")
	case l.Interval <= 0:
		return fmt.Errorf("loop %q: interval %v is not positive", l.Name, l.Interval)
	case l.Budget <= 0:
		return fmt.Errorf("loop %q: budget %v is not positive", l.Name, l.Budget)
	case l.Run == nil:
		return fmt.Errorf("loop %q: no Run function", l.Name)
	}
	return nil
}

// Run starts every loop on its own ticker and blocks until ctx ends and every loop, with
// any run still going, has returned. The first run of each loop comes at its first tick;
// use RunNow for a run at startup. Run may be called once.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		panic("scheduler: Run called twice")
	}
	s.started = true
	loops := slices.Clone(s.loops)
	s.mu.Unlock()

	s.log.Info("scheduler started", "loops", len(loops))
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Go(func() { s.tickLoop(ctx, l) })
	}
	wg.Wait()
	// Every tick loop has returned, so no run can start any more.
	s.inflight.Wait()
	s.log.Info("scheduler stopped")
}

func (s *Scheduler) tickLoop(ctx context.Context, l *loop) {
	ticker := newJitteredTicker(l.Interval, DefaultJitter, s.clock, s.random)
	defer ticker.Stop()

	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if ctx.Err() != nil {
				return
			}
			s.tick(ctx, l)
		}
	}
}

// tick starts a run of l in the background unless the previous one is still going.
func (s *Scheduler) tick(ctx context.Context, l *loop) {
	if !l.running.CompareAndSwap(false, true) {
		s.skip(l)
		return
	}
	s.inflight.Go(func() { s.execute(ctx, l) })
}

// RunNow runs the named loop once and waits for it, counted like a run from a tick. It
// returns the run's error, a recovered panic as an error, or ErrBusy if a run of the loop
// is still going.
func (s *Scheduler) RunNow(ctx context.Context, name string) error {
	s.mu.Lock()
	l := s.lookupLocked(name)
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("run loop %s: no such loop", name)
	}

	if !l.running.CompareAndSwap(false, true) {
		s.skip(l)
		return fmt.Errorf("run loop %s: %w", name, ErrBusy)
	}
	if err := s.execute(ctx, l); err != nil {
		return fmt.Errorf("run loop %s: %w", name, err)
	}
	return nil
}

func (s *Scheduler) lookupLocked(name string) *loop {
	i := slices.IndexFunc(s.loops, func(l *loop) bool { return l.Name == name })
	if i < 0 {
		return nil
	}
	return s.loops[i]
}

// execute runs l, which the caller has marked running, and counts the result.
func (s *Scheduler) execute(ctx context.Context, l *loop) error {
	start := s.clock.Now()
	err := call(ctx, l)
	elapsed := s.clock.Now().Sub(start)
	// Released before counting, so whoever sees the count may start the next run.
	l.running.Store(false)

	s.duration.WithLabelValues(l.Name).Observe(elapsed.Seconds())
	s.count(l, report(ctx, l, err, elapsed))
	return err
}

// report logs the end of a run and returns its result label.
func report(ctx context.Context, l *loop, err error, elapsed time.Duration) string {
	switch {
	case err == nil:
		l.log.Debug("loop run finished", "duration", elapsed)
		return resultOK
	case errors.As(err, new(panicError)):
		return resultError // call has logged it, with the stack
	case ctx.Err() != nil:
		// Shutdown cut the run short: expected, not trouble.
		l.log.Info("loop run interrupted by shutdown", "error", err, "duration", elapsed)
		return resultError
	}

	attrs := []any{"error", err, "duration", elapsed}
	if errors.Is(err, context.DeadlineExceeded) {
		attrs = append(attrs, "budget", l.Budget)
	}
	l.log.Warn("loop run failed", attrs...)
	return resultError
}

// call runs l within its budget and turns a panic into a panicError, logged with the stack.
func call(ctx context.Context, l *loop) (err error) {
	ctx, cancel := context.WithTimeout(ctx, l.Budget)
	defer cancel()
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		l.log.Error("loop panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		err = panicError{v}
	}()

	return l.Run(ctx)
}

// panicError is a panic recovered from a run, returned as the run's error.
type panicError struct{ value any }

func (e panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func (s *Scheduler) skip(l *loop) {
	l.log.Debug("loop run skipped, previous run still going")
	s.count(l, resultSkipped)
}

func (s *Scheduler) count(l *loop, result string) {
	s.runs.WithLabelValues(l.Name, result).Inc()
	if s.observe != nil {
		s.observe(l.Name, result)
	}
}
