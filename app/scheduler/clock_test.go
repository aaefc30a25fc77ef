package scheduler

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// stuck is how long a test waits for something that should happen at once before it
// gives up. It guards against hangs only; no result depends on it.
const stuck = 5 * time.Second

// fakeClock is a Clock whose time moves only when a test calls Advance.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*fakeTimer
	changed chan struct{} // closed and replaced whenever pending changes
}

type fakeTimer struct {
	clock *fakeClock
	at    time.Time
	c     chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{
		now:     time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		changed: make(chan struct{}),
	}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()

	t := &fakeTimer{clock: c, at: c.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- c.now
		return t
	}
	c.pending = append(c.pending, t)
	c.notify()
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()

	i := slices.Index(c.pending, t)
	if i < 0 {
		return false
	}
	c.pending = slices.Delete(c.pending, i, i+1)
	c.notify()
	return true
}

// Advance moves the clock forward by d. Timers that fall due on the way fire in deadline
// order, each with the clock set to its deadline, so a tick carries its exact due time.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()

	end := c.now.Add(d)
	for len(c.pending) > 0 {
		i := c.earliest()
		t := c.pending[i]
		if t.at.After(end) {
			break
		}
		c.pending = slices.Delete(c.pending, i, i+1)
		c.now = t.at
		t.c <- t.at
	}
	c.now = end
	c.notify()
}

// earliest returns the index of the first pending timer to fall due; c.mu must be held.
func (c *fakeClock) earliest() int {
	first := 0
	for i, t := range c.pending {
		if t.at.Before(c.pending[first].at) {
			first = i
		}
	}
	return first
}

func (c *fakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitTimers blocks until at least n timers are pending: the goroutines under test have
// reached the point where they wait on the clock.
func (c *fakeClock) waitTimers(t testing.TB, n int) {
	t.Helper()
	give := time.After(stuck)
	for {
		c.mu.Lock()
		got, changed := len(c.pending), c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-give:
			t.Fatalf("pending timers: got %d, want %d", got, n)
		}
	}
}

// untilNext returns the time from now until the earliest pending timer falls due.
func (c *fakeClock) untilNext(t testing.TB) time.Duration {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		t.Fatal("no pending timer")
	}
	return c.pending[c.earliest()].at.Sub(c.now)
}

// pendingTimers returns how many timers have neither fired nor been stopped.
func (c *fakeClock) pendingTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// script returns a random source that yields rs in order and then starts over. It is safe
// for concurrent use.
func script(rs ...float64) func() float64 {
	var mu sync.Mutex
	next := 0
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		r := rs[next%len(rs)]
		next++
		return r
	}
}
