package middleware

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// tagOf returns the tag ETag should set for body.
func tagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// serve runs h behind ETag for one request and returns the recorded response.
func serve(t *testing.T, h http.Handler, method, ifNoneMatch string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "/thing", nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	ETag(h).ServeHTTP(rec, req)
	return rec
}

// bodyHandler writes body with the given status, in one call, plus caching headers.
func bodyHandler(status int, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "private, max-age=60")
		w.Header().Set("Vary", "Accept")
		if status != 0 {
			w.WriteHeader(status)
		}
		io.WriteString(w, body)
	})
}

// randomBody returns n deterministic pseudo-random bytes.
func randomBody(n int) []byte {
	rng := rand.New(rand.NewChaCha8([32]byte{1, 2, 3}))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func TestETagTagsSuccessfulGET(t *testing.T) {
	tests := []struct {
		name       string
		handler    http.Handler
		wantStatus int
		wantBody   string
	}{
		{
			name:       "implicit 200",
			handler:    bodyHandler(0, "hello"),
			wantStatus: http.StatusOK,
			wantBody:   "hello",
		},
		{
			name:       "explicit 201",
			handler:    bodyHandler(http.StatusCreated, "made"),
			wantStatus: http.StatusCreated,
			wantBody:   "made",
		},
		{
			name: "several writes",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "one ")
				io.WriteString(w, "two ")
				io.WriteString(w, "three")
			}),
			wantStatus: http.StatusOK,
			wantBody:   "one two three",
		},
		{
			name:       "exactly MaxETagBody",
			handler:    bodyHandler(0, string(randomBody(MaxETagBody))),
			wantStatus: http.StatusOK,
			wantBody:   string(randomBody(MaxETagBody)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, tt.handler, http.MethodGet, "")

			if rec.Code != tt.wantStatus {
				t.Errorf("status: got %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body: got %d bytes, want %d", len(got), len(tt.wantBody))
			}
			if got, want := rec.Header().Get("ETag"), tagOf([]byte(tt.wantBody)); got != want {
				t.Errorf("ETag: got %q, want %q", got, want)
			}
			wantLen := strconv.Itoa(len(tt.wantBody))
			if got := rec.Header().Get("Content-Length"); got != wantLen {
				t.Errorf("Content-Length: got %q, want %q", got, wantLen)
			}
		})
	}
}

func TestETagIfNoneMatch(t *testing.T) {
	const body = "the representation"
	tag := tagOf([]byte(body))
	weak := "W/" + tag

	tests := []struct {
		name        string
		ifNoneMatch string
		want304     bool
	}{
		{name: "same tag", ifNoneMatch: tag, want304: true},
		{name: "list with one match", ifNoneMatch: `"a", ` + tag + `, "b"`, want304: true},
		{name: "match last without spaces", ifNoneMatch: `"a",W/"b",` + tag, want304: true},
		{name: "weak tag", ifNoneMatch: weak, want304: true},
		{name: "star", ifNoneMatch: "*", want304: true},
		{name: "malformed before match", ifNoneMatch: `bogus, "x y", ` + tag, want304: true},
		{name: "other tag", ifNoneMatch: `"deadbeef"`, want304: false},
		{name: "list without match", ifNoneMatch: `"a", W/"b"`, want304: false},
		{name: "unquoted tag", ifNoneMatch: tag[1 : len(tag)-1], want304: false},
		{name: "no header", ifNoneMatch: "", want304: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(t, bodyHandler(0, body), http.MethodGet, tt.ifNoneMatch)

			if got := rec.Header().Get("ETag"); got != tag {
				t.Errorf("ETag: got %q, want %q", got, tag)
			}
			if !tt.want304 {
				if rec.Code != http.StatusOK || rec.Body.String() != body {
					t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), body)
				}
				return
			}
			checkNotModified(t, rec)
		})
	}
}

// checkNotModified checks rec is a bare 304 that kept the caching headers.
func checkNotModified(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code != http.StatusNotModified {
		t.Errorf("status: got %d, want %d", rec.Code, http.StatusNotModified)
	}
	if rec.Body.Len() != 0 {
		t.Errorf("body: got %q, want empty", rec.Body.String())
	}
	for _, name := range []string{"Content-Length", "Content-Type"} {
		if got := rec.Header().Get(name); got != "" {
			t.Errorf("%s: got %q, want none", name, got)
		}
	}
	kept := map[string]string{"Cache-Control": "private, max-age=60", "Vary": "Accept"}
	for name, want := range kept {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s: got %q, want %q", name, got, want)
		}
	}
}

func TestETagChangedBodyGetsNewTag(t *testing.T) {
	body := "version one"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})

	old := serve(t, h, http.MethodGet, "").Header().Get("ETag")
	body = "version two"
	rec := serve(t, h, http.MethodGet, old)

	if rec.Code != http.StatusOK {
		t.Errorf("status: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got := rec.Body.String(); got != body {
		t.Errorf("body: got %q, want %q", got, body)
	}
	got := rec.Header().Get("ETag")
	if got == old || got != tagOf([]byte(body)) {
		t.Errorf("ETag: got %q, want %q (old %q)", got, tagOf([]byte(body)), old)
	}
}

func TestETagPassesOtherMethods(t *testing.T) {
	const body = "created"
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		t.Run(method, func(t *testing.T) {
			req := httptest.NewRequest(method, "/thing", nil)
			req.Header.Set("If-None-Match", "*")
			rec := httptest.NewRecorder()
			ran := false
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran = true
				if w != http.ResponseWriter(rec) {
					t.Errorf("writer: got %T, want the server's own writer", w)
				}
				io.WriteString(w, body)
			})

			ETag(h).ServeHTTP(rec, req)

			if !ran {
				t.Fatalf("handler ran: got false, want true")
			}
			if rec.Code != http.StatusOK || rec.Body.String() != body {
				t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), body)
			}
			if got := rec.Header().Get("ETag"); got != "" {
				t.Errorf("ETag: got %q, want none", got)
			}
		})
	}
}

func TestETagPassesNonSuccess(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{name: "moved", status: http.StatusMovedPermanently, body: "go elsewhere"},
		{name: "handler 304", status: http.StatusNotModified, body: ""},
		{name: "not found", status: http.StatusNotFound, body: "no such certificate\n"},
		{name: "conflict", status: http.StatusConflict, body: `{"error":"taken"}`},
		{name: "server error", status: http.StatusInternalServerError, body: "boom"},
		{name: "partial content", status: http.StatusPartialContent, body: "part"},
		{name: "error without body", status: http.StatusServiceUnavailable, body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := bodyHandler(tt.status, tt.body)
			want := httptest.NewRecorder()
			h.ServeHTTP(want, httptest.NewRequest(http.MethodGet, "/thing", nil))

			got := serve(t, h, http.MethodGet, "*")

			if got.Code != want.Code {
				t.Errorf("status: got %d, want %d", got.Code, want.Code)
			}
			if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
				t.Errorf("body: got %q, want %q", got.Body.String(), want.Body.String())
			}
			if len(got.Header()) != len(want.Header()) {
				t.Errorf("headers: got %v, want %v", got.Header(), want.Header())
			}
			for name := range want.Header() {
				if g, w := got.Header().Get(name), want.Header().Get(name); g != w {
					t.Errorf("%s: got %q, want %q", name, g, w)
				}
			}
			if tag := got.Header().Get("ETag"); tag != "" {
				t.Errorf("ETag: got %q, want none", tag)
			}
		})
	}
}

func TestETagLargeBodyStreamsIntact(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		chunk int
	}{
		{name: "one byte over in one write", size: MaxETagBody + 1, chunk: MaxETagBody + 1},
		{name: "one byte over in small writes", size: MaxETagBody + 1, chunk: 1000},
		{name: "large in odd writes", size: 300 << 10, chunk: 4093},
		{name: "cap crossed by last byte", size: MaxETagBody + 1, chunk: MaxETagBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := randomBody(tt.size)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for rest := body; len(rest) > 0; {
					n := min(tt.chunk, len(rest))
					if _, err := w.Write(rest[:n]); err != nil {
						t.Errorf("write: %v", err)
						return
					}
					rest = rest[n:]
				}
			})
			srv := httptest.NewServer(ETag(h))
			defer srv.Close()

			for _, inm := range []string{"", "*", tagOf(body)} {
				resp, got := fetch(t, srv, http.MethodGet, inm)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("If-None-Match %q: status: got %d, want 200", inm, resp.StatusCode)
				}
				if !bytes.Equal(got, body) {
					t.Errorf("If-None-Match %q: body: got %d bytes, want the %d written",
						inm, len(got), len(body))
				}
				if tag := resp.Header.Get("ETag"); tag != "" {
					t.Errorf("If-None-Match %q: ETag: got %q, want none", inm, tag)
				}
			}
		})
	}
}

// fetch sends one request to srv and returns the response with its body read.
func fetch(
	t *testing.T,
	srv *httptest.Server,
	method, ifNoneMatch string,
) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/thing", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

func TestETagHEADLikeGET(t *testing.T) {
	const body = "same for both"
	srv := httptest.NewServer(ETag(bodyHandler(0, body)))
	defer srv.Close()

	getResp, _ := fetch(t, srv, http.MethodGet, "")
	headResp, headBody := fetch(t, srv, http.MethodHead, "")
	tag := getResp.Header.Get("ETag")

	if tag != tagOf([]byte(body)) {
		t.Errorf("GET ETag: got %q, want %q", tag, tagOf([]byte(body)))
	}
	if got := headResp.Header.Get("ETag"); got != tag {
		t.Errorf("HEAD ETag: got %q, want GET's %q", got, tag)
	}
	if headResp.StatusCode != http.StatusOK || len(headBody) != 0 {
		t.Errorf("HEAD: got %d with %d body bytes, want 200 with none",
			headResp.StatusCode, len(headBody))
	}
	if got, want := headResp.ContentLength, int64(len(body)); got != want {
		t.Errorf("HEAD Content-Length: got %d, want %d", got, want)
	}

	matched, _ := fetch(t, srv, http.MethodHead, tag)
	if matched.StatusCode != http.StatusNotModified {
		t.Errorf("HEAD with matching tag: got %d, want %d",
			matched.StatusCode, http.StatusNotModified)
	}
	if got := matched.Header.Get("ETag"); got != tag {
		t.Errorf("HEAD 304 ETag: got %q, want %q", got, tag)
	}
}

func TestETagHEADWithoutBody(t *testing.T) {
	tests := []struct {
		name       string
		length     string
		wantLength string
	}{
		{name: "handler declares length", length: "42", wantLength: "42"},
		{name: "handler declares nothing", length: "", wantLength: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.length != "" {
					w.Header().Set("Content-Length", tt.length)
				}
			})

			rec := serve(t, h, http.MethodHead, "")

			if rec.Code != http.StatusOK {
				t.Errorf("status: got %d, want %d", rec.Code, http.StatusOK)
			}
			if got := rec.Header().Get("Content-Length"); got != tt.wantLength {
				t.Errorf("Content-Length: got %q, want %q", got, tt.wantLength)
			}
			if got, want := rec.Header().Get("ETag"), tagOf(nil); got != want {
				t.Errorf("ETag: got %q, want %q", got, want)
			}
		})
	}
}

func TestETagKeepsHandlerTag(t *testing.T) {
	const body = "versioned"
	tests := []struct {
		name        string
		handlerTag  string
		ifNoneMatch string
		want304     bool
	}{
		{name: "no condition", handlerTag: `"v1"`, want304: false},
		{name: "same tag", handlerTag: `"v1"`, ifNoneMatch: `"v1"`, want304: true},
		{name: "weak request", handlerTag: `"v1"`, ifNoneMatch: `W/"v1"`, want304: true},
		{name: "weak handler", handlerTag: `W/"v2"`, ifNoneMatch: `"v2"`, want304: true},
		{name: "other tag", handlerTag: `"v1"`, ifNoneMatch: `"v0"`, want304: false},
		{
			name:        "body hash is not the tag",
			handlerTag:  `"v1"`,
			ifNoneMatch: tagOf([]byte(body)),
			want304:     false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("ETag", tt.handlerTag)
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Header().Set("Cache-Control", "private, max-age=60")
				w.Header().Set("Vary", "Accept")
				io.WriteString(w, body)
			})

			rec := serve(t, h, http.MethodGet, tt.ifNoneMatch)

			if got := rec.Header().Get("ETag"); got != tt.handlerTag {
				t.Errorf("ETag: got %q, want %q", got, tt.handlerTag)
			}
			if tt.want304 {
				checkNotModified(t, rec)
				return
			}
			if rec.Code != http.StatusOK || rec.Body.String() != body {
				t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), body)
			}
		})
	}
}

func TestETagEmptyBody(t *testing.T) {
	emptyTag := tagOf(nil)
	tests := []struct {
		name       string
		status     int
		wantStatus int
		wantLength string
	}{
		{name: "handler does nothing", status: 0, wantStatus: http.StatusOK, wantLength: "0"},
		{
			name:       "status only",
			status:     http.StatusAccepted,
			wantStatus: http.StatusAccepted,
			wantLength: "0",
		},
		{
			name:       "no content",
			status:     http.StatusNoContent,
			wantStatus: http.StatusNoContent,
			wantLength: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
			})

			rec := serve(t, h, http.MethodGet, "")
			if rec.Code != tt.wantStatus || rec.Body.Len() != 0 {
				t.Errorf("got %d %q, want %d and no body",
					rec.Code, rec.Body.String(), tt.wantStatus)
			}
			if got := rec.Header().Get("ETag"); got != emptyTag {
				t.Errorf("ETag: got %q, want %q", got, emptyTag)
			}
			if got := rec.Header().Get("Content-Length"); got != tt.wantLength {
				t.Errorf("Content-Length: got %q, want %q", got, tt.wantLength)
			}

			again := serve(t, h, http.MethodGet, emptyTag)
			if again.Code != http.StatusNotModified {
				t.Errorf("with matching tag: got %d, want %d", again.Code, http.StatusNotModified)
			}
		})
	}
}

func TestETagMalformedIfNoneMatch(t *testing.T) {
	const body = "robust"
	values := []string{
		`"`, `"unterminated`, `W/`, `W/"`, `w/"x"`, `,,,`, ` , `, `"a" "b"`, `"a"junk`,
		`**`, `*junk`, `"a,b`, "\"a\x00b\"", "\"tab\tinside\"", `W/W/"x"`, `"\"`, "\xff\xfe",
	}
	for _, v := range values {
		t.Run(v, func(t *testing.T) {
			rec := serve(t, bodyHandler(0, body), http.MethodGet, v)

			if rec.Code != http.StatusOK || rec.Body.String() != body {
				t.Errorf("got %d %q, want 200 %q", rec.Code, rec.Body.String(), body)
			}
		})
	}
}

func TestNoneMatch(t *testing.T) {
	tests := []struct {
		name    string
		values  []string
		current string
		want    bool
	}{
		{name: "no values", values: nil, current: `"a"`, want: false},
		{name: "strong equal", values: []string{`"a"`}, current: `"a"`, want: true},
		{name: "weak both", values: []string{`W/"a"`}, current: `W/"a"`, want: true},
		{name: "prefix is not equal", values: []string{`"ab"`}, current: `"a"`, want: false},
		{name: "comma inside tag", values: []string{`"a,b"`}, current: `"a,b"`, want: true},
		{name: "second field line", values: []string{`"x"`, `"a"`}, current: `"a"`, want: true},
		{name: "star in list", values: []string{`"x", *`}, current: `"a"`, want: true},
		{name: "star with bad current", values: []string{`*`}, current: `a`, want: true},
		{name: "bad current never equal", values: []string{`a`}, current: `a`, want: false},
		{name: "element after junk", values: []string{`"x"junk, "a"`}, current: `"a"`, want: true},
		{name: "junk spoils element", values: []string{`"a"junk`}, current: `"a"`, want: false},
		{name: "space ends a bad tag", values: []string{`"x y, "a"`}, current: `"a"`, want: true},
		{name: "empty opaque tag", values: []string{`""`}, current: `""`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := noneMatch(tt.values, tt.current); got != tt.want {
				t.Errorf("noneMatch(%q, %q): got %v, want %v", tt.values, tt.current, got, tt.want)
			}
		})
	}
}

func FuzzNoneMatch(f *testing.F) {
	for _, seed := range []string{`"a"`, `W/"a", "b"`, `*`, `"`, `W/`, `,"a`, "\"\x7f\""} {
		f.Add(seed, `"a"`)
	}
	f.Fuzz(func(t *testing.T, list, current string) {
		noneMatch([]string{list}, current)
	})
}

func TestETagFlush(t *testing.T) {
	rec := httptest.NewRecorder()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Fatalf("writer %T: got no http.Flusher, want one", w)
		}
		io.WriteString(w, "first ")
		f.Flush()
		if got := rec.Body.String(); got != "first " {
			t.Errorf("after Flush, client has %q, want %q", got, "first ")
		}
		io.WriteString(w, "second")
	})

	ETag(h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/thing", nil))

	if !rec.Flushed {
		t.Errorf("flushed: got false, want true")
	}
	if got := rec.Body.String(); got != "first second" {
		t.Errorf("body: got %q, want %q", got, "first second")
	}
	if got := rec.Header().Get("ETag"); got != "" {
		t.Errorf("ETag: got %q, want none after a flush", got)
	}
}

// plainWriter is a ResponseWriter without http.Flusher.
type plainWriter struct {
	http.ResponseWriter
}

func TestETagNoFlusherWithoutUnderlyingFlusher(t *testing.T) {
	rec := httptest.NewRecorder()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := w.(http.Flusher); ok {
			t.Errorf("writer %T: got http.Flusher, want none", w)
		}
		io.WriteString(w, "x")
	})

	ETag(h).ServeHTTP(plainWriter{rec}, httptest.NewRequest(http.MethodGet, "/thing", nil))

	if got, want := rec.Header().Get("ETag"), tagOf([]byte("x")); got != want {
		t.Errorf("ETag: got %q, want %q", got, want)
	}
}

func TestETagResponseController(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("set write deadline: got %v, want nil", err)
		}
		io.WriteString(w, "streamed ")
		if err := rc.Flush(); err != nil {
			t.Errorf("flush: got %v, want nil", err)
		}
		io.WriteString(w, "on")
	})
	srv := httptest.NewServer(ETag(h))
	defer srv.Close()

	resp, body := fetch(t, srv, http.MethodGet, "")

	if string(body) != "streamed on" {
		t.Errorf("body: got %q, want %q", body, "streamed on")
	}
	if got := resp.Header.Get("ETag"); got != "" {
		t.Errorf("ETag: got %q, want none after a flush", got)
	}
}

func BenchmarkETag(b *testing.B) {
	body := randomBody(4 << 10)
	h := ETag(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	req := httptest.NewRequest(http.MethodGet, "/thing", nil)

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status: got %d, want %d", rec.Code, http.StatusOK)
		}
	}
}
