package middleware

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// MaxETagBody is the largest response body, in bytes, that ETag buffers and tags.
// Longer bodies are streamed to the client untagged.
const MaxETagBody = 64 << 10

// ETag wraps next so that successful GET and HEAD responses carry a strong entity tag,
// the hex SHA-256 of the body, and answer a matching If-None-Match with 304 Not Modified.
//
// It saves bandwidth, not work: next still runs in full on every request. A tag the
// handler sets itself is kept and used for the comparison. Responses that are not 2xx,
// 206 Partial Content, bodies over MaxETagBody and responses flushed early pass through
// untagged. Other methods reach next untouched.
func ETag(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}

		ew := &etagWriter{w: w, method: r.Method}
		if _, ok := w.(http.Flusher); ok {
			next.ServeHTTP(flushWriter{ew}, r)
		} else {
			next.ServeHTTP(ew, r)
		}
		ew.finish(r)
	})
}

// etagWriter buffers a response until it knows whether the response can be tagged.
// Once it gives up on tagging it switches to pass-through and forwards everything.
type etagWriter struct {
	w           http.ResponseWriter
	method      string
	buf         bytes.Buffer
	status      int
	wroteHeader bool
	passthrough bool
}

// flushWriter adds http.Flusher to an etagWriter whose underlying writer has it.
type flushWriter struct {
	*etagWriter
}

// Flush sends what is buffered and turns tagging off for the rest of the response.
func (f flushWriter) Flush() {
	_ = f.FlushError()
}

// Header returns the underlying header map; it is sent when the response is released.
func (w *etagWriter) Header() http.Header {
	return w.w.Header()
}

// Unwrap returns the underlying writer so http.ResponseController can reach it.
func (w *etagWriter) Unwrap() http.ResponseWriter {
	return w.w
}

// WriteHeader records the status. Informational codes go out at once, and a status
// that can never be tagged releases the response to pass-through immediately.
func (w *etagWriter) WriteHeader(code int) {
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.w.WriteHeader(code)
		return
	}
	if w.wroteHeader {
		return
	}

	w.wroteHeader = true
	w.status = code
	if !taggable(code) {
		w.passthrough = true
		w.w.WriteHeader(code)
	}
}

// Write buffers p, or forwards it once the body has outgrown MaxETagBody.
func (w *etagWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.passthrough && w.buf.Len()+len(p) > MaxETagBody {
		if err := w.release(); err != nil {
			return 0, err
		}
	}
	if w.passthrough {
		return w.w.Write(p)
	}
	return w.buf.Write(p)
}

// FlushError releases the response to pass-through and flushes the underlying writer.
// It lets http.ResponseController flush through the buffer instead of around it.
func (w *etagWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.release(); err != nil {
		return err
	}
	if err := http.NewResponseController(w.w).Flush(); err != nil {
		return fmt.Errorf("flush response: %w", err)
	}
	return nil
}

// release writes the status and the buffered bytes and switches to pass-through.
func (w *etagWriter) release() error {
	if w.passthrough {
		return nil
	}

	w.passthrough = true
	w.w.WriteHeader(w.status)
	if _, err := w.w.Write(w.buf.Bytes()); err != nil {
		return fmt.Errorf("write buffered body: %w", err)
	}
	w.buf = bytes.Buffer{}
	return nil
}

// finish sends a buffered response once the handler has returned: tagged, and
// replaced by 304 Not Modified when the request's If-None-Match matches the tag.
func (w *etagWriter) finish(r *http.Request) {
	if w.passthrough {
		return
	}
	if !w.wroteHeader {
		w.status = http.StatusOK
	}

	h := w.Header()
	if h.Get("ETag") == "" {
		sum := sha256.Sum256(w.buf.Bytes())
		h.Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	}
	if noneMatch(r.Header.Values("If-None-Match"), h.Get("ETag")) {
		h.Del("Content-Length")
		h.Del("Content-Type")
		w.w.WriteHeader(http.StatusNotModified)
		return
	}

	w.setContentLength()
	w.w.WriteHeader(w.status)
	// The handler has returned; like net/http, a failed final write has nobody to tell.
	_, _ = w.w.Write(w.buf.Bytes())
}

// setContentLength declares the buffered body's length unless the handler already did.
func (w *etagWriter) setContentLength() {
	h := w.Header()
	if h.Get("Content-Length") != "" || w.status == http.StatusNoContent {
		return
	}
	// A HEAD handler may skip writing the body; an empty buffer says nothing about it.
	if w.method == http.MethodHead && w.buf.Len() == 0 {
		return
	}
	h.Set("Content-Length", strconv.Itoa(w.buf.Len()))
}

// taggable reports whether a response with status code may be tagged. A 206 body is
// only part of the representation, so its hash would not identify the whole.
func taggable(code int) bool {
	return code >= 200 && code <= 299 && code != http.StatusPartialContent
}

// noneMatch reports whether the If-None-Match field values match the current tag.
// Per RFC 9110 section 13.1.2 the comparison is weak (W/"x" matches "x") and "*"
// matches any current representation. Malformed list elements are skipped.
func noneMatch(values []string, current string) bool {
	cur, _, curOK := scanETag(current)
	for _, list := range values {
		for list != "" {
			list = strings.TrimLeft(list, " \t,")
			if list == "" {
				break
			}

			var tag string
			var ok bool
			tag, list, ok = scanElement(list)
			if ok && (tag == "*" || (curOK && tag == cur)) {
				return true
			}
		}
	}
	return false
}

// scanElement reads one If-None-Match list element, "*" or an entity-tag, from the
// start of s. It returns the opaque tag, the rest of s from the next comma on, and
// whether the element was well formed.
func scanElement(s string) (tag, rest string, ok bool) {
	if s[0] == '*' {
		tag, rest, ok = "*", s[1:], true
	} else {
		tag, rest, ok = scanETag(s)
	}

	rest = strings.TrimLeft(rest, " \t")
	if rest == "" || rest[0] == ',' {
		return tag, rest, ok
	}
	// Anything else before the comma spoils the whole element.
	if i := strings.IndexByte(rest, ','); i >= 0 {
		return "", rest[i:], false
	}
	return "", "", false
}

// scanETag reads one entity-tag from the start of s and returns its opaque part,
// quotes included and any W/ prefix dropped, which is what weak comparison compares.
func scanETag(s string) (opaque, rest string, ok bool) {
	s = strings.TrimPrefix(s, "W/")
	if s == "" || s[0] != '"' {
		return "", s, false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '"' {
			return s[:i+1], s[i+1:], true
		}
		// etagc is %x21 / %x23-7E / obs-text (%x80-FF).
		if c < 0x21 || c == 0x7f {
			return "", s[i:], false
		}
	}
	return "", "", false
}
