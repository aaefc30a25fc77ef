package api

import (
	"context"
	"errors"
	"net/http"

	"certctl/app/agents"
	"certctl/app/auth"
	"certctl/app/middleware"
	"certctl/app/valid"
	"certctl/store"
)

// Error is the body of every error answer.
type Error struct {
	Error     string            `json:"error"`
	Message   string            `json:"message"`
	RequestID string            `json:"request_id"`
	Fields    map[string]string `json:"fields,omitempty"`
}

// badRequest is a request the API cannot read: malformed JSON, an unknown field, a bad
// query parameter. Status is 400 unless set.
type badRequest struct {
	status int
	code   string
	msg    string
	fields map[string]string
}

func (e *badRequest) Error() string { return e.msg }

// fail writes the error answer for err. It is the one place where errors become HTTP
// statuses; errors that are the server's fault are logged here, once.
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := a.classify(err)
	body.RequestID = middleware.RequestIDFrom(r.Context())
	switch {
	case status == http.StatusServiceUnavailable:
		// An outage fails every request alike; the readiness probe is what pages a person.
		a.log.Warn("request failed", "request_id", body.RequestID, "method", r.Method,
			"path", r.URL.Path, "error", err)
	case status >= 500:
		a.log.Error("request failed", "request_id", body.RequestID, "method", r.Method,
			"path", r.URL.Path, "error", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="certctl"`)
	}
	writeJSON(w, status, body)
}

func (a *API) classify(err error) (int, Error) {
	var (
		bad      *badRequest
		fields   valid.Errors
		conflict *valid.Conflict
		tooBig   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &bad):
		return bad.status, Error{Error: bad.code, Message: bad.msg, Fields: bad.fields}
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, Error{Error: "payload_too_large",
			Message: "the request body is larger than the server accepts"}
	case errors.As(err, &fields):
		return http.StatusBadRequest, Error{Error: "validation_failed",
			Message: "some fields are not valid; see fields", Fields: fields}
	case errors.As(err, &conflict):
		return http.StatusConflict, Error{Error: "conflict", Message: conflict.Message,
			Fields: conflict.Fields}
	case errors.Is(err, auth.ErrUnauthenticated):
		return http.StatusUnauthorized, Error{Error: "unauthorized",
			Message: "send a valid API key as Authorization: Bearer <key>"}
	case errors.Is(err, agents.ErrRetired):
		return http.StatusGone, Error{Error: "agent_retired",
			Message: "this agent has been retired; stop and uninstall it, or enroll it again"}
	case errors.Is(err, errOtherAgent):
		return http.StatusForbidden, Error{Error: "forbidden", Message: errOtherAgent.Error()}
	case errors.Is(err, auth.ErrForbidden):
		return http.StatusForbidden, Error{Error: "forbidden",
			Message: "your API key's role does not allow this"}
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, Error{Error: "not_found",
			Message: "no such resource"}
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, Error{Error: "conflict",
			Message: "the change conflicts with stored data"}
	case errors.Is(err, store.ErrBadCursor):
		return http.StatusBadRequest, Error{Error: "bad_request",
			Message: "the cursor is not valid; start again without it",
			Fields:  map[string]string{"cursor": "is not a cursor this server issued"}}
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, Error{Error: "unavailable",
			Message: "the database is not reachable; try again shortly"}
	}
	return http.StatusInternalServerError, Error{Error: "internal",
		Message: "the server failed; the log has details under this request ID"}
}
