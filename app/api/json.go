package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"certctl/store"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := render(v)
	if err != nil {
		http.Error(w, `{"error":"internal","message":"encode answer"}`,
			http.StatusInternalServerError)
		return
	}
	writeBody(w, status, b)
}

// decode reads a JSON request body into dst, refusing other content types, unknown fields,
// trailing data and bodies over the server's limit, each with an error that says which.
func decode(r *http.Request, dst any) error {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/json" {
		return &badRequest{status: http.StatusUnsupportedMediaType,
			code: "unsupported_media_type", msg: "send the body as Content-Type: application/json"}
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &badRequest{status: http.StatusBadRequest, code: "bad_request",
			msg: "the body must hold exactly one JSON object"}
	}
	return nil
}

func decodeError(err error) error {
	var (
		syntax    *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		unknownFx = "json: unknown field "
	)
	bad := func(msg string, fields map[string]string) error {
		return &badRequest{status: http.StatusBadRequest, code: "bad_request", msg: msg,
			fields: fields}
	}
	switch {
	case errors.As(err, &maxErr):
		return err
	case errors.As(err, &syntax):
		return bad(fmt.Sprintf("malformed JSON at byte %d", syntax.Offset), nil)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return bad("the body is empty or cut short; send a JSON object", nil)
	case errors.As(err, &typeErr):
		return bad(fmt.Sprintf("field %q must be a JSON %s", typeErr.Field, typeErr.Type),
			map[string]string{typeErr.Field: "must be a JSON " + typeErr.Type.String()})
	case strings.HasPrefix(err.Error(), unknownFx):
		field := strings.Trim(strings.TrimPrefix(err.Error(), unknownFx), `"`)
		return bad(fmt.Sprintf("unknown field %q", field),
			map[string]string{field: "is not a field of this resource"})
	}
	return bad("the body is not a valid JSON object: "+err.Error(), nil)
}

// List is the envelope of every list answer.
type List[T any] struct {
	Data       []T    `json:"data"`
	Total      int    `json:"total"`
	Page       int    `json:"page"`
	PerPage    int    `json:"per_page"`
	NextCursor string `json:"next_cursor,omitempty"`
}

const (
	defaultPerPage = 50
	maxPerPage     = 500
)

// listParams reads page, per_page and cursor. A cursor, when given, replaces the page.
func listParams(r *http.Request) (store.Page, int, error) {
	q := r.URL.Query()
	page, err := intParam(q.Get("page"), "page", 1, 1, 1<<20)
	if err != nil {
		return store.Page{}, 0, err
	}
	per, err := intParam(q.Get("per_page"), "per_page", defaultPerPage, 1, maxPerPage)
	if err != nil {
		return store.Page{}, 0, err
	}
	p := store.Page{Limit: per, After: q.Get("cursor")}
	if p.After == "" {
		p.Offset = (page - 1) * per
	}
	return p, page, nil
}

func intParam(s, name string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		msg := fmt.Sprintf("must be a whole number from %d to %d", lo, hi)
		return 0, &badRequest{status: http.StatusBadRequest, code: "bad_request",
			msg: name + " " + msg, fields: map[string]string{name: msg}}
	}
	return n, nil
}

func listOf[T, R any](records []R, conv func(R) T, total int, p store.Page, page int,
	next string) List[T] {
	out := List[T]{Data: make([]T, 0, len(records)), Total: total, Page: page,
		PerPage: p.Limit, NextCursor: next}
	for _, r := range records {
		out.Data = append(out.Data, conv(r))
	}
	return out
}
