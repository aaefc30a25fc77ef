package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"certctl/store"
)

// Job is a job as the API shows it.
type Job struct {
	ID            string     `json:"id"`
	Type          string     `json:"type"`
	CertificateID string     `json:"certificate_id"`
	Status        string     `json:"status"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts"`
	NextAttemptAt time.Time  `json:"next_attempt_at"`
	LastError     string     `json:"last_error"`
	RequestedBy   string     `json:"requested_by"`
	ApprovedBy    string     `json:"approved_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	FinishedAt    *time.Time `json:"finished_at"`
}

// CSRInput is the body that hands a job waiting for a CSR its PEM CSR.
type CSRInput struct {
	CSR string `json:"csr"`
}

func jobOut(j store.Job) Job {
	return Job{ID: j.ID, Type: j.Type, CertificateID: j.CertificateID, Status: j.Status,
		Attempts: j.Attempts, MaxAttempts: j.MaxAttempts, NextAttemptAt: j.NextAttemptAt,
		LastError: j.LastError, RequestedBy: j.RequestedBy, ApprovedBy: j.ApprovedBy,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt, FinishedAt: optionalTime(j.FinishedAt)}
}

func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.JobFilter{Type: q.Get("type"), Status: q.Get("status"),
		CertificateID: q.Get("certificate_id")}
	a.versionedList(w, r, store.AreaJobs, func(p store.Page, page int,
		version int64) (any, error) {
		jobs, next, err := a.st.ListJobs(r.Context(), f, p)
		if err != nil {
			return nil, err
		}
		total, err := a.counts.get(fmt.Sprintf("jobs|%+v", f), version,
			func() (int, error) { return a.st.CountJobs(r.Context(), f) })
		return listOf(jobs, jobOut, total, p, page, next), err
	})
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	j, err := a.certs.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobOut(j))
}

func (a *API) submitCSR(w http.ResponseWriter, r *http.Request) {
	var in CSRInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	j, err := a.certs.SubmitCSR(r.Context(), r.PathValue("id"), []byte(in.CSR))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, jobOut(j))
}

func (a *API) approveJob(w http.ResponseWriter, r *http.Request) {
	a.jobAction(w, r, a.certs.Approve)
}

func (a *API) rejectJob(w http.ResponseWriter, r *http.Request) {
	a.jobAction(w, r, a.certs.Reject)
}

func (a *API) cancelJob(w http.ResponseWriter, r *http.Request) {
	a.jobAction(w, r, a.certs.Cancel)
}

func (a *API) jobAction(w http.ResponseWriter, r *http.Request,
	act func(ctx context.Context, id string) (store.Job, error)) {
	j, err := act(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobOut(j))
}
