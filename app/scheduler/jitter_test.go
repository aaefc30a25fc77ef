package scheduler

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// step waits until the ticker waits on the clock, advances the clock to that timer and
// returns the time from the previous tick (or the start) to the tick it receives.
func step(t *testing.T, clk *fakeClock, tk *JitteredTicker) time.Duration {
	t.Helper()
	clk.waitTimers(t, 1)
	before := clk.Now()
	clk.Advance(clk.untilNext(t))

	select {
	case tick := <-tk.C:
		if !tick.Equal(clk.Now()) {
			t.Fatalf("tick at %v, want the clock's time %v", tick, clk.Now())
		}
		return tick.Sub(before)
	case <-time.After(stuck):
		t.Fatal("no tick after the timer fired")
		return 0
	}
}

// collect runs a ticker on a fake clock for n ticks and returns the waits between them.
func collect(t *testing.T, interval time.Duration, jitter float64, random func() float64,
	n int) []time.Duration {
	t.Helper()
	clk := newFakeClock()
	tk := newJitteredTicker(interval, jitter, clk, random)
	defer tk.Stop()

	waits := make([]time.Duration, n)
	for i := range waits {
		waits[i] = step(t, clk, tk)
	}
	return waits
}

// edgesThenSeeded yields the extreme values of r first, then a seeded sequence.
func edgesThenSeeded() func() float64 {
	edges := []float64{0, math.Nextafter(1, 0), 0.5, 0.25, 0.75}
	seeded := rand.New(rand.NewPCG(1, 2))
	return func() float64 {
		if len(edges) > 0 {
			r := edges[0]
			edges = edges[1:]
			return r
		}
		return seeded.Float64()
	}
}

func TestJitteredTickerBounds(t *testing.T) {
	const interval = time.Minute
	for _, jitter := range []float64{0.01, DefaultJitter, 0.25, 0.5, 0.99} {
		lo := time.Duration(float64(interval) * (1 - jitter))
		hi := time.Duration(float64(interval) * (1 + jitter))

		waits := collect(t, interval, jitter, edgesThenSeeded(), 200)
		for i, w := range waits {
			if w < lo || w > hi {
				t.Errorf("jitter %v, tick %d: waited %v, want within [%v, %v]",
					jitter, i, w, lo, hi)
			}
		}
		if waits[0] != lo {
			t.Errorf("jitter %v with r=0: waited %v, want %v", jitter, waits[0], lo)
		}
	}
}

func TestJitteredTickerZeroJitterIsPlainInterval(t *testing.T) {
	const interval = 90 * time.Second
	waits := collect(t, interval, 0, script(0, 0.3, 0.9), 50)
	for i, w := range waits {
		if w != interval {
			t.Fatalf("tick %d: waited %v, want exactly %v", i, w, interval)
		}
	}
}

func TestJitteredTickerClampsJitter(t *testing.T) {
	const interval = 100 * time.Second
	tests := []struct {
		name   string
		jitter float64
		want   []time.Duration // waits for r = 0, 0.5 and 0.75
	}{
		{"negative is zero", -0.5, []time.Duration{interval, interval, interval}},
		{"NaN is zero", math.NaN(), []time.Duration{interval, interval, interval}},
		// Unclamped, 1.5 would give -50s and 175s.
		{"1.5 is 0.99", 1.5, []time.Duration{time.Second, interval, 149500 * time.Millisecond}},
		{"1 is 0.99", 1, []time.Duration{time.Second, interval, 149500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, interval, tt.jitter, script(0, 0.5, 0.75), len(tt.want))
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("wait %d: got %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// The mean test feeds an evenly spread r sequence, in shuffled order, so the true mean of
// 2r-1 is zero. A formula not centred on the interval fails it: interval*(1+jitter*r)
// averages 1.05 intervals at 10% jitter, past the 1% allowed. It cannot catch a flipped
// sign, since interval*(1-jitter*(2r-1)) mirrors a symmetric sequence onto itself;
// TestJitteredTickerDirection catches that.
func TestJitteredTickerMeanDoesNotDrift(t *testing.T) {
	const interval, n = time.Minute, 1000
	rs := make([]float64, n)
	for k := range rs {
		rs[k] = (float64(k) + 0.5) / n
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(n, func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })

	var total time.Duration
	for _, w := range collect(t, interval, DefaultJitter, script(rs...), n) {
		total += w
	}

	mean := total / n
	if diff := (mean - interval).Abs(); diff > interval/100 {
		t.Errorf("mean wait over %d ticks: got %v, want %v within 1%%", n, mean, interval)
	}
}

// A sign error in the formula, interval*(1-jitter*(2r-1)), keeps every wait within the
// bounds and the mean on the interval, but turns long waits into short ones. Scripting r
// above one half must give only waits longer than the interval, and r below one half
// only shorter ones; with the sign flipped both halves fail.
func TestJitteredTickerDirection(t *testing.T) {
	const interval = time.Minute
	tests := []struct {
		name   string
		rs     []float64
		longer bool
	}{
		{"r above one half lengthens", []float64{0.51, 0.6, 0.75, 0.9, math.Nextafter(1, 0)}, true},
		{"r below one half shortens", []float64{0, 0.1, 0.25, 0.4, 0.49}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waits := collect(t, interval, DefaultJitter, script(tt.rs...), len(tt.rs))
			want := "shorter"
			if tt.longer {
				want = "longer"
			}
			for i, w := range waits {
				if (w > interval) != tt.longer {
					t.Errorf("r=%v: waited %v, want %s than %v", tt.rs[i], w, want, interval)
				}
			}
		})
	}
}

func TestJitteredTickerDropsTicksForSlowReader(t *testing.T) {
	clk := newFakeClock()
	tk := newJitteredTicker(time.Second, 0, clk, script(0.5))
	defer tk.Stop()

	clk.waitTimers(t, 1)
	first := clk.Now().Add(time.Second)
	clk.Advance(time.Second)
	clk.waitTimers(t, 1)
	clk.Advance(time.Second)
	// A third timer means the ticker has handled the second tick.
	clk.waitTimers(t, 1)

	if got := len(tk.C); got != 1 {
		t.Fatalf("ticks waiting: got %d, want 1", got)
	}
	if got := <-tk.C; !got.Equal(first) {
		t.Errorf("kept tick: got %v, want the first, %v", got, first)
	}
}

func TestJitteredTickerStop(t *testing.T) {
	clk := newFakeClock()
	tk := newJitteredTicker(time.Second, DefaultJitter, clk, script(0.5))
	step(t, clk, tk)
	clk.waitTimers(t, 1)
	clk.Advance(clk.untilNext(t)) // leaves one tick unread

	tk.Stop()

	select {
	case <-tk.done:
	default:
		t.Fatal("ticker goroutine still running after Stop")
	}
	if n := clk.pendingTimers(); n != 0 {
		t.Errorf("pending timers after Stop: got %d, want 0", n)
	}
	if _, ok := <-tk.C; !ok {
		t.Error("unread tick lost by Stop")
	}
	clk.Advance(time.Hour)
	expectClosed(t, tk.C)
}

// expectClosed fails unless c is closed and empty.
func expectClosed(t *testing.T, c <-chan time.Time) {
	t.Helper()
	select {
	case tick, ok := <-c:
		if ok {
			t.Errorf("tick at %v after Stop, want C closed", tick)
		}
	case <-time.After(stuck):
		t.Error("C still open after Stop")
	}
}

func TestJitteredTickerStopTwice(t *testing.T) {
	tk := newJitteredTicker(time.Second, DefaultJitter, newFakeClock(), script(0.5))

	done := make(chan struct{})
	go func() {
		defer close(done)
		tk.Stop()
	}()
	tk.Stop()
	tk.Stop()
	<-done

	expectClosed(t, tk.C)
}

func TestNewJitteredTickerPanicsOnNonPositiveInterval(t *testing.T) {
	for _, interval := range []time.Duration{0, -time.Second} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("interval %v: no panic", interval)
				}
			}()
			NewJitteredTicker(interval, DefaultJitter)
		}()
	}
}

// The real clock, briefly: ticks arrive and Stop ends the ticker.
func TestNewJitteredTickerRealClock(t *testing.T) {
	tk := NewJitteredTicker(time.Millisecond, DefaultJitter)
	for range 3 {
		select {
		case <-tk.C:
		case <-time.After(stuck):
			t.Fatal("no tick from the real clock")
		}
	}
	tk.Stop()
	<-tk.done
}
