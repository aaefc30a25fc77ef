package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"certctl/app/middleware"
	"certctl/store"
)

// AuditEvent is an audit event as the API shows it.
type AuditEvent struct {
	ID           string          `json:"id"`
	OccurredAt   time.Time       `json:"occurred_at"`
	Actor        string          `json:"actor"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	RequestID    string          `json:"request_id"`
	Details      json.RawMessage `json:"details"`
}

func auditOut(e store.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, OccurredAt: e.OccurredAt, Actor: e.Actor, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, RequestID: e.RequestID,
		Details: e.Details}
}

func auditFilter(r *http.Request) (store.AuditFilter, error) {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"),
		ResourceType: q.Get("resource_type"), ResourceID: q.Get("resource_id")}
	var err error
	if f.Since, err = timeParam(q.Get("since"), "since"); err != nil {
		return f, err
	}
	f.Until, err = timeParam(q.Get("until"), "until")
	return f, err
}

func timeParam(s, name string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		msg := "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
		return time.Time{}, &badRequest{status: http.StatusBadRequest, code: "bad_request",
			msg: name + " " + msg, fields: map[string]string{name: msg}}
	}
	return t, nil
}

func (a *API) listAudit(w http.ResponseWriter, r *http.Request) {
	f, err := auditFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.versionedList(w, r, store.AreaAudit, func(p store.Page, page int,
		version int64) (any, error) {
		events, next, err := a.st.ListAudit(r.Context(), f, p)
		if err != nil {
			return nil, err
		}
		total, err := a.counts.get(fmt.Sprintf("audit|%+v", f), version, func() (int, error) {
			return a.st.CountAudit(r.Context(), f)
		})
		return listOf(events, auditOut, total, p, page, next), err
	})
}

func (a *API) getAudit(w http.ResponseWriter, r *http.Request) {
	e, err := a.st.GetAudit(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, auditOut(e))
}

// versionedList answers a list request of area from its change counter, read before anything
// else: the answer is tagged with it, so a client that already holds this version gets 304
// for the price of that one read, and an answer rendered earlier for the same version and
// query is sent again as it was. Otherwise build makes the answer; it may use the version to
// cache totals, which then are counted once per change instead of once per request.
func (a *API) versionedList(w http.ResponseWriter, r *http.Request, area string,
	build func(p store.Page, page int, version int64) (any, error)) {
	p, page, err := listParams(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	version, err := a.st.ChangeVersion(r.Context(), area)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	tag := versionTag(area, version, r.URL.Query().Encode())
	// The compressed answer is another representation, so it has a tag of its own.
	gz := acceptsGzip(r)
	sent := tag
	if gz {
		sent = strings.TrimSuffix(tag, `"`) + `-gzip"`
	}
	w.Header().Set("ETag", sent)
	w.Header().Set("Vary", "Accept-Encoding")
	if middleware.NoneMatch(r, sent) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if cached, ok := a.pages.get(tag); ok {
		writePage(w, cached, gz)
		return
	}
	answer, err := build(p, page, version)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	body, err := render(answer)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	rendered := newPage(body)
	a.pages.put(tag, rendered)
	writePage(w, rendered, gz)
}

// versionTag is the entity tag of a list answer: the area's change version and the
// normalised query that selected the rows.
func versionTag(area string, version int64, query string) string {
	sum := sha256.Sum256([]byte(query))
	return fmt.Sprintf(`"%s-%d-%s"`, area, version, hex.EncodeToString(sum[:8]))
}
