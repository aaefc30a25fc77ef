package api

import "sync"

// countCache remembers list totals per filter for one change version of their area, so a
// busy list endpoint counts rows once per change instead of once per request.
type countCache struct {
	mu      sync.Mutex
	entries map[string]countEntry
}

type countEntry struct {
	version int64
	n       int
}

// maxCounts bounds the cache; when full it starts over, which costs only recounts.
const maxCounts = 1024

func newCountCache() *countCache { return &countCache{entries: map[string]countEntry{}} }

// get returns the total for key at version, calling count when none is cached.
func (c *countCache) get(key string, version int64, count func() (int, error)) (int, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && e.version == version {
		return e.n, nil
	}
	n, err := count()
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if len(c.entries) >= maxCounts {
		clear(c.entries)
	}
	c.entries[key] = countEntry{version: version, n: n}
	c.mu.Unlock()
	return n, nil
}
