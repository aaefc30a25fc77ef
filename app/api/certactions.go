package api

import (
	"fmt"
	"net/http"

	"certctl/app/certs"
)

// ImportInput is the body of a certificate import.
type ImportInput struct {
	Name            string   `json:"name"`
	CertPEM         string   `json:"cert_pem"`
	KeyPEM          string   `json:"key_pem"`
	OwnerID         string   `json:"owner_id"`
	TeamID          string   `json:"team_id"`
	Environment     string   `json:"environment"`
	Tags            []string `json:"tags"`
	RenewalPolicyID string   `json:"renewal_policy_id"`
}

// BulkInput selects certificates for a bulk action.
type BulkInput struct {
	IDs       []string `json:"ids"`
	IssuerID  string   `json:"issuer_id"`
	OwnerID   string   `json:"owner_id"`
	TeamID    string   `json:"team_id"`
	ProfileID string   `json:"profile_id"`
	Reason    string   `json:"reason"`
	DryRun    bool     `json:"dry_run"`
}

// BulkResult says what a bulk action touched, or would touch on a dry run.
type BulkResult struct {
	DryRun  bool              `json:"dry_run"`
	Matched []string          `json:"matched"`
	Done    []string          `json:"done"`
	Skipped map[string]string `json:"skipped"`
}

// PKCS12Input is the body of a PKCS#12 export.
type PKCS12Input struct {
	Password string `json:"password"`
}

func (a *API) importCertificate(w http.ResponseWriter, r *http.Request) {
	var in ImportInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err := a.certs.Import(r.Context(), certs.ImportInput(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/certificates/"+c.ID)
	writeJSON(w, http.StatusCreated, certificateOut(c))
}

// patchCertificate changes only the fields the body names.
func (a *API) patchCertificate(w http.ResponseWriter, r *http.Request) {
	c, err := a.certs.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	in := CertificateInput{Name: c.Name, CommonName: c.CommonName, SANs: c.SANs,
		IssuerID: c.IssuerID, ProfileID: c.ProfileID, RenewalPolicyID: c.RenewalPolicyID,
		OwnerID: c.OwnerID, TeamID: c.TeamID, Environment: c.Environment, Tags: c.Tags,
		KeyMode: c.KeyMode}
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	c, err = a.certs.Update(r.Context(), c.ID, certs.Input(in))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.writeCertificate(w, r, http.StatusOK, c)
}

// archiveCertificate answers DELETE: the certificate is archived, never erased, so its
// history and audit trail stay.
func (a *API) archiveCertificate(w http.ResponseWriter, r *http.Request) {
	if err := a.certs.Archive(r.Context(), r.PathValue("id")); err != nil {
		a.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) bulkRenew(w http.ResponseWriter, r *http.Request) {
	var in BulkInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.certs.BulkRenew(r.Context(), in.criteria(), in.DryRun)
	a.bulkAnswer(w, r, in, res, err)
}

func (a *API) bulkRevoke(w http.ResponseWriter, r *http.Request) {
	var in BulkInput
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	res, err := a.certs.BulkRevoke(r.Context(), in.criteria(), in.Reason, in.DryRun)
	a.bulkAnswer(w, r, in, res, err)
}

func (in BulkInput) criteria() certs.Criteria {
	return certs.Criteria{IDs: in.IDs, IssuerID: in.IssuerID, OwnerID: in.OwnerID,
		TeamID: in.TeamID, ProfileID: in.ProfileID}
}

func (a *API) bulkAnswer(w http.ResponseWriter, r *http.Request, in BulkInput,
	res certs.BulkResult, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BulkResult{DryRun: in.DryRun, Matched: nonNil(res.Matched),
		Done: nonNil(res.Done), Skipped: res.Skipped})
}

func (a *API) exportPKCS12(w http.ResponseWriter, r *http.Request) {
	var in PKCS12Input
	if err := decode(r, &in); err != nil {
		a.fail(w, r, err)
		return
	}
	p12, err := a.certs.ExportPKCS12(r.Context(), r.PathValue("id"), in.Password)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition",
		fmt.Sprintf(`attachment; filename="%s.p12"`, r.PathValue("id")))
	w.Write(p12)
}
