package api

import (
	"net/http"
	"time"

	"certctl/app/ca"
	"certctl/store"
)

// CertificateVersion is one issued certificate as the API shows it: never its private key.
type CertificateVersion struct {
	ID           string     `json:"id"`
	Serial       string     `json:"serial"`
	Fingerprint  string     `json:"fingerprint_sha256"`
	NotBefore    time.Time  `json:"not_before"`
	NotAfter     time.Time  `json:"not_after"`
	KeyAlgorithm string     `json:"key_algorithm"`
	KeyBits      int        `json:"key_bits"`
	KeyLocation  string     `json:"key_location"`
	CertPEM      string     `json:"cert_pem"`
	ChainPEM     string     `json:"chain_pem"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
	RevokeReason *string    `json:"revocation_reason"`
}

func versionOut(v store.CertificateVersion) CertificateVersion {
	out := CertificateVersion{ID: v.ID, Serial: v.Serial, Fingerprint: v.Fingerprint,
		NotBefore: v.NotBefore, NotAfter: v.NotAfter, KeyAlgorithm: v.KeyAlgorithm,
		KeyBits: v.KeyBits, KeyLocation: v.KeyLocation, CertPEM: v.CertPEM,
		ChainPEM: v.ChainPEM, CreatedAt: v.CreatedAt, RevokedAt: optionalTime(v.RevokedAt)}
	if !v.RevokedAt.IsZero() {
		out.RevokeReason = optional(ca.ReasonName(v.RevokeReason))
	}
	return out
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) {
	versions, err := a.certs.Versions(r.Context(), r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p := store.Page{Limit: len(versions)}
	writeJSON(w, http.StatusOK, listOf(versions, versionOut, len(versions), p, 1, ""))
}
