package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"certctl/app/certs"
	"certctl/app/valid"
	"certctl/store"
)

// Certificate is a managed certificate as the API shows it.
type Certificate struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	CommonName       string     `json:"common_name"`
	SANs             []string   `json:"sans"`
	Environment      string     `json:"environment"`
	OwnerID          *string    `json:"owner_id"`
	TeamID           *string    `json:"team_id"`
	Tags             []string   `json:"tags"`
	IssuerID         string     `json:"issuer_id"`
	ProfileID        string     `json:"profile_id"`
	RenewalPolicyID  string     `json:"renewal_policy_id"`
	KeyMode          string     `json:"key_mode"`
	Status           string     `json:"status"`
	CurrentVersionID *string    `json:"current_version_id"`
	NotAfter         *time.Time `json:"not_after"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	// TargetIDs is set on single certificates, not in lists.
	TargetIDs []string `json:"target_ids,omitempty"`
}

// CertificateInput is the body of certificate creation.
type CertificateInput struct {
	Name            string   `json:"name"`
	CommonName      string   `json:"common_name"`
	SANs            []string `json:"sans"`
	IssuerID        string   `json:"issuer_id"`
	ProfileID       string   `json:"profile_id"`
	RenewalPolicyID string   `json:"renewal_policy_id"`
	OwnerID         string   `json:"owner_id"`
	TeamID          string   `json:"team_id"`
	Environment     string   `json:"environment"`
	Tags            []string `json:"tags"`
	KeyMode         string   `json:"key_mode"`
	TargetIDs       []string `json:"target_ids"`
}

// CertificateCreated answers certificate creation: the certificate and its issuance job.
type CertificateCreated struct {
	Certificate
	JobID string `json:"job_id"`
}

// RevokeInput is the body of a revocation.
type RevokeInput struct {
	Reason string `json:"reason"`
	// All revokes every version, not only the current one.
	All bool `json:"all"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func certificateOut(c store.Certificate) Certificate {
	return Certificate{ID: c.ID, Name: c.Name, CommonName: c.CommonName,
		SANs: nonNil(c.SANs), Environment: c.Environment, OwnerID: optional(c.OwnerID),
		TeamID: optional(c.TeamID), Tags: nonNil(c.Tags), IssuerID: c.IssuerID,
		ProfileID: c.ProfileID, RenewalPolicyID: c.RenewalPolicyID, KeyMode: c.KeyMode,
		Status: c.Status, CurrentVersionID: optional(c.CurrentVersionID),
		NotAfter: optionalTime(c.NotAfter), CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func certificateFilter(r *http.Request) (store.CertificateFilter, error) {
	q := r.URL.Query()
	f := store.CertificateFilter{Status: q.Get("status"), IssuerID: q.Get("issuer_id"),
		OwnerID: q.Get("owner_id"), TeamID: q.Get("team_id"), ProfileID: q.Get("profile_id"),
		Environment: q.Get("environment"), Search: strings.TrimSpace(q.Get("q")),
		Sort: q.Get("sort")}
	if f.Sort != "" && !slices.Contains(store.CertificateSorts, f.Sort) {
		msg := "must be one of " + strings.Join(store.CertificateSorts, ", ")
		return f, &badRequest{status: http.StatusBadRequest, code: "bad_request",
			msg: "sort " + msg, fields: map[string]string{"sort": msg}}
	}
	var err error
	if f.ExpiresAfter, err = timeParam(q.Get("expires_after"), "expires_after"); err != nil {
		return f, err
	}
	f.ExpiresBefore, err = timeParam(q.Get("expires_before"), "expires_before")
	return f, err
}

func (a *API) listCertificates(w http.ResponseWriter, r *http.Request) {
	f, err := certificateFilter(r)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.versionedList(w, r, store.AreaCertificates, func(p store.Page, page int,
		version int64) (any, error) {
		list, next, err := a.st.ListCertificates(r.Context(), f, p)
		if err != nil {
			return nil, err
		}
		total, err := a.counts.get(fmt.Sprintf("certificates|%+v", f), version,
			func() (int, error) { return a.st.CountCertificates(r.Context(), f) })
		return listOf(list, certificateOut, total, p, page, next), err
	})
}

func (a *API) getCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := a.certs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeCertificate(w, r, http.StatusOK, c)
}

// writeCertificate answers with one certificate and its targets.
func (a *API) writeCertificate(w http.ResponseWriter, r *http.Request, status int,
	c store.Certificate) {
	out := certificateOut(c)
	ids, err := a.certs.TargetIDs(r.Context(), c.ID)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out.TargetIDs = nonNil(ids)
	writeJSON(w, status, out)
}

func (a *API) createCertificate(w http.ResponseWriter, r *http.Request) {
	var in CertificateInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, j, err := a.certs.Create(r.Context(), certs.Input(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/certificates/"+c.ID)
	out := certificateOut(c)
	out.TargetIDs = nonNil(in.TargetIDs)
	if ids, err := a.certs.TargetIDs(r.Context(), c.ID); err == nil {
		out.TargetIDs = nonNil(ids)
	}
	writeJSON(w, http.StatusCreated, CertificateCreated{Certificate: out, JobID: j.ID})
}

func (a *API) renewCertificate(w http.ResponseWriter, r *http.Request) {
	j, err := a.certs.Renew(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, jobOut(j))
}

func (a *API) revokeCertificate(w http.ResponseWriter, r *http.Request) {
	var in RevokeInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	if in.Reason == "" {
		a.fail(w, r, valid.Errors{"reason": "is required, e.g. keyCompromise or superseded"})
		return
	}
	id := r.PathValue("id")
	if err := a.certs.Revoke(r.Context(), id, in.Reason, in.All); err != nil {
		a.fail(w, r, err)
		return
	}
	a.getCertificate(w, r)
}

func (a *API) exportPEM(w http.ResponseWriter, r *http.Request) {
	pem, err := a.certs.ExportPEM(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition",
		fmt.Sprintf(`attachment; filename="%s.pem"`, r.PathValue("id")))
	w.Write(pem)
}
