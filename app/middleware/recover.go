package middleware

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panic in a handler into a 500 answer produced by fail, and logs it once
// with its stack. http.ErrAbortHandler is re-raised, as net/http expects.
func Recover(log *slog.Logger, fail func(http.ResponseWriter, *http.Request, error),
	next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			log.Error("handler panicked", "request_id", RequestIDFrom(r.Context()),
				"method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			fail(w, r, errPanic)
		}()
		next.ServeHTTP(w, r)
	})
}

type panicError struct{}

func (panicError) Error() string { return "internal error" }

var errPanic error = panicError{}
