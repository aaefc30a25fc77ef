package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
)

// pageCache keeps rendered list answers by entity tag. A tag names a change version of its
// area and the query, so a stored answer stays exact until the area changes, after which
// its tag is never asked for again. Busy dashboards polling the same list then cost the
// version read and a copy, not a query and rendering.
type pageCache struct {
	mu    sync.Mutex
	pages map[string][]byte
	size  int
}

// Bounds of the page cache; when either is reached it starts over.
const (
	maxPages     = 256
	maxPageBytes = 16 << 20
)

func newPageCache() *pageCache { return &pageCache{pages: map[string][]byte{}} }

func (c *pageCache) get(tag string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.pages[tag]
	return b, ok
}

func (c *pageCache) put(tag string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pages) >= maxPages || c.size+len(body) > maxPageBytes {
		clear(c.pages)
		c.size = 0
	}
	c.pages[tag] = body
	c.size += len(body)
}

// writeBody sends a JSON body rendered earlier.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// render encodes v as writeJSON would send it.
func render(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
