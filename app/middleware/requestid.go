package middleware

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

type infoKey struct{}

// info is what the middleware learns about a request as it passes through the layers. It
// travels as a pointer, so inner layers can fill in what outer layers log.
type info struct {
	id    string
	route string
}

// RequestIDHeader carries the request ID in both directions.
const RequestIDHeader = "X-Request-ID"

// RequestID gives every request an ID: the caller's X-Request-ID when it is a sane token,
// else a new random one. The ID is echoed in the response and kept in the context.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		ctx := context.WithValue(r.Context(), infoKey{}, &info{id: id})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RequestIDFrom returns the request ID ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	if i, ok := ctx.Value(infoKey{}).(*info); ok {
		return i.id
	}
	return ""
}

// RouteFrom returns the route pattern that RecordRoute noted for the request, or "".
func RouteFrom(ctx context.Context) string {
	if i, ok := ctx.Value(infoKey{}).(*info); ok {
		return i.route
	}
	return ""
}

// RecordRoute notes the pattern mux matched, for the access log and metrics outside it.
// (A ServeMux sets Request.Pattern only on the request value it was given, which outer
// middleware never sees after any layer has derived a new request.)
func RecordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if i, ok := r.Context().Value(infoKey{}).(*info); ok {
			i.route = r.Pattern
		}
	})
}

func newRequestID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// saneID accepts IDs a proxy may have set, but nothing that could forge log lines.
func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
