// Package scheduler runs the product's periodic loops: each on a jittered ticker, one run at
// a time, within a time budget, with panics contained and every run counted in metrics.
package scheduler

import (
	"math/rand/v2"
	"sync"
	"time"
)

// DefaultJitter is the share of the interval by which a tick may land early or late. It
// keeps loops of the same cadence, in one process or across replicas, from firing together.
const DefaultJitter = 0.10

// maxJitter keeps every wait positive: at 0.99 the shortest wait is a hundredth of the
// interval.
const maxJitter = 0.99

// Clock is the time source of the ticker and the scheduler. Implementations must be safe
// for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that delivers the then-current time on its channel once d
	// has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C returns the channel the firing time is delivered on, at most once.
	C() <-chan time.Time
	// Stop prevents the timer from firing. It reports whether it stopped the timer, false
	// when the timer had already fired or been stopped.
	Stop() bool
}

// realClock is the Clock of the time package.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time { return t.t.C }

func (t realTimer) Stop() bool { return t.t.Stop() }

// JitteredTicker delivers ticks like time.Ticker, but each wait is the interval moved by a
// random amount of up to jitter times the interval in either direction. The mean wait is
// the interval, so a loop does not drift from its cadence. Like time.Ticker it drops ticks
// rather than queueing them when the reader falls behind.
type JitteredTicker struct {
	// C delivers the ticks. It is closed by Stop.
	C <-chan time.Time

	c        chan time.Time
	interval time.Duration
	jitter   float64
	clock    Clock
	random   func() float64
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewJitteredTicker returns a running ticker whose ticks land within plus or minus
// jitterPct of interval (0.10 is ten percent). A jitterPct below zero is taken as zero, one
// of 1 or more as 0.99. Zero jitter ticks at exactly the interval, like time.Ticker. It
// panics if interval is not positive, as time.NewTicker does. Call Stop to release it.
func NewJitteredTicker(interval time.Duration, jitterPct float64) *JitteredTicker {
	return newJitteredTicker(interval, jitterPct, realClock{}, rand.Float64)
}

// newJitteredTicker is NewJitteredTicker with the clock and the random source passed in;
// random returns values in [0, 1) and must be safe for concurrent use if tickers share it.
func newJitteredTicker(interval time.Duration, jitter float64, clock Clock,
	random func() float64) *JitteredTicker {
	if interval <= 0 {
		panic("scheduler: non-positive interval for NewJitteredTicker")
	}

	c := make(chan time.Time, 1)
	t := &JitteredTicker{
		C:        c,
		c:        c,
		interval: interval,
		jitter:   clampJitter(jitter),
		clock:    clock,
		random:   random,
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	go t.run()
	return t
}

// Stop ends the ticker: it waits for the ticker's goroutine to exit, then closes C. A
// reader ranging over C therefore ends too. Calling Stop again does nothing.
func (t *JitteredTicker) Stop() {
	t.once.Do(func() {
		close(t.stop)
		<-t.done
		close(t.c)
	})
}

func (t *JitteredTicker) run() {
	defer close(t.done)

	for {
		timer := t.clock.NewTimer(t.nextWait())
		select {
		case <-t.stop:
			timer.Stop()
			return
		case now := <-timer.C():
			select {
			case t.c <- now:
			default: // the reader has not taken the last tick yet: drop this one
			}
		}
	}
}

func (t *JitteredTicker) nextWait() time.Duration {
	if t.jitter == 0 {
		return t.interval
	}
	return jitteredWait(t.interval, t.jitter, t.random())
}

// jitteredWait moves interval by jitter*(2r-1) of itself: r in [0, 1) maps to a factor in
// [1-jitter, 1+jitter), centred on 1, so r above one half lengthens the wait.
func jitteredWait(interval time.Duration, jitter, r float64) time.Duration {
	d := time.Duration(float64(interval) * (1 + jitter*(2*r-1)))
	return max(d, 1)
}

// clampJitter brings jitter into [0, maxJitter]; NaN counts as zero.
func clampJitter(jitter float64) float64 {
	if !(jitter > 0) {
		return 0
	}
	return min(jitter, maxJitter)
}
