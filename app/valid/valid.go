// Package valid carries input problems by field name, so the API can list them and forms
// can mark the field.
package valid

import (
	"fmt"
	"net/mail"
	"sort"
	"strings"
	"unicode/utf8"

	"certctl/store"
)

// Errors maps field names to what is wrong with them. A nil or empty Errors is no error.
type Errors map[string]string

// Error lists the problems, sorted by field.
func (e Errors) Error() string {
	fields := make([]string, 0, len(e))
	for f := range e {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f + ": " + e[f]
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records problem for field, keeping the first problem a field has.
func (e Errors) Add(field, problem string) {
	if _, ok := e[field]; !ok {
		e[field] = problem
	}
}

// Err returns e as an error, or nil when there is no problem.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Conflict is a request that is well formed but clashes with what is stored: a name in use,
// a team that still has owners. It matches store.ErrConflict.
type Conflict struct {
	Message string
	Fields  map[string]string // may be nil
}

func (c *Conflict) Error() string { return c.Message }

// Unwrap makes a Conflict match store.ErrConflict.
func (c *Conflict) Unwrap() error { return store.ErrConflict }

// Text checks that s, trimmed, has between min and max characters, recording a problem for
// field otherwise, and returns the trimmed text.
func (e Errors) Text(field, s string, min, max int) string {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0 && min > 0:
		e.Add(field, "is required")
	case n < min:
		e.Add(field, fmt.Sprintf("must have at least %d characters", min))
	case n > max:
		e.Add(field, fmt.Sprintf("must have at most %d characters", max))
	case strings.ContainsAny(s, "\x00\r\n"):
		e.Add(field, "must be a single line")
	}
	return s
}

// Email checks that s is one bare e-mail address such as ops@example.com.
func (e Errors) Email(field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		e.Add(field, "is required")
		return s
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		e.Add(field, "must be an e-mail address such as ops@example.com")
	}
	return s
}
