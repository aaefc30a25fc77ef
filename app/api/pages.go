package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// pageCache keeps rendered list answers by entity tag, each also compressed with gzip for
// clients that accept it. A tag names a change version of its area and the query, so a
// stored answer stays exact until the area changes, after which its tag is never asked for
// again. Busy dashboards polling the same list then cost the version read and a copy, not a
// query, rendering and compression.
type pageCache struct {
	mu    sync.Mutex
	pages map[string]page
	size  int
}

// page is a rendered answer, plain and compressed.
type page struct{ plain, gzipped []byte }

// Bounds of the page cache; when either is reached it starts over.
const (
	maxPages     = 256
	maxPageBytes = 16 << 20
)

func newPageCache() *pageCache { return &pageCache{pages: map[string]page{}} }

func (c *pageCache) get(tag string) (page, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[tag]
	return p, ok
}

func (c *pageCache) put(tag string, p page) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p.plain) + len(p.gzipped)
	if len(c.pages) >= maxPages || c.size+n > maxPageBytes {
		clear(c.pages)
		c.size = 0
	}
	c.pages[tag] = p
	c.size += n
}

// newPage compresses body, a rendered answer.
func newPage(body []byte) page {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // the level is valid
	zw.Write(body)                                     // writes to memory do not fail
	zw.Close()
	return page{plain: body, gzipped: buf.Bytes()}
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			if !ok {
				return true
			}
			weight, err := strconv.ParseFloat(q, 64)
			return err == nil && weight > 0
		}
	}
	return false
}

// writePage sends p, compressed when gz is set.
func writePage(w http.ResponseWriter, p page, gz bool) {
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
		writeBody(w, http.StatusOK, p.gzipped)
		return
	}
	writeBody(w, http.StatusOK, p.plain)
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
