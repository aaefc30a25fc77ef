// Package pki serves the unauthenticated PKI endpoints relying parties use: the CA chain,
// the CRL and the OCSP responder of each issuer that has them.
package pki

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"certctl/app/middleware"

	"golang.org/x/crypto/ocsp"
)

// Authority is what an issuer publishes.
type Authority interface {
	// ChainPEM returns the issuing chain up to and including the root.
	ChainPEM(ctx context.Context) ([]byte, error)
	// CRLOf returns the CRL, DER, and its nextUpdate, signed by the issuing CA with the
	// given ID, or by the newest one for "". An unknown ID matches ErrUnknownCA.
	CRLOf(ctx context.Context, caID string) ([]byte, time.Time, error)
	// OCSP answers a DER request; the bytes are a response to send even when err is set.
	OCSP(ctx context.Context, der []byte) ([]byte, error)
}

// ErrUnknownCA is what an Authority returns for a CRL of an issuing CA it does not have.
var ErrUnknownCA = errors.New("unknown issuing CA")

// maxOCSPRequest bounds an OCSP request body; real ones are a few hundred bytes.
const maxOCSPRequest = 8 << 10

// Handler serves the endpoints of a set of issuers by ID.
type Handler struct {
	issuers map[string]Authority
	log     *slog.Logger
	now     func() time.Time
}

// New returns the PKI endpoints for issuers.
func New(issuers map[string]Authority, now func() time.Time, log *slog.Logger) *Handler {
	return &Handler{issuers: issuers, now: now, log: log.With("component", "pki")}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /.well-known/pki/ca/{issuer}", h.chain)
	mux.HandleFunc("GET /.well-known/pki/crl/{issuer}", h.crl)
	mux.HandleFunc("GET /.well-known/pki/crl/{issuer}/{ca}", h.crl)
	mux.HandleFunc("POST /.well-known/pki/ocsp/{issuer}", h.ocspPost)
	mux.HandleFunc("GET /.well-known/pki/ocsp/{issuer}/{request...}", h.ocspGet)
}

func (h *Handler) issuer(w http.ResponseWriter, r *http.Request) (Authority, bool) {
	a, ok := h.issuers[r.PathValue("issuer")]
	if !ok {
		http.Error(w, "no issuer "+r.PathValue("issuer")+" publishes PKI material here",
			http.StatusNotFound)
	}
	return a, ok
}

func (h *Handler) chain(w http.ResponseWriter, r *http.Request) {
	a, ok := h.issuer(w, r)
	if !ok {
		return
	}
	pem, err := a.ChainPEM(r.Context())
	if err != nil {
		h.failed(w, r, "serve CA chain", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(pem)
}

// crl serves the DER CRL with an ETag of its content and a cache lifetime that ends at its
// nextUpdate.
func (h *Handler) crl(w http.ResponseWriter, r *http.Request) {
	a, ok := h.issuer(w, r)
	if !ok {
		return
	}
	der, next, err := a.CRLOf(r.Context(), r.PathValue("ca"))
	if errors.Is(err, ErrUnknownCA) {
		http.Error(w, "no valid issuing CA "+r.PathValue("ca")+" of issuer "+
			r.PathValue("issuer"), http.StatusNotFound)
		return
	}
	if err != nil {
		h.failed(w, r, "serve CRL", err)
		return
	}
	sum := sha256.Sum256(der)
	tag := `"` + hex.EncodeToString(sum[:16]) + `"`
	maxAge := max(0, int(next.Sub(h.now()).Seconds()))
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d, must-revalidate", maxAge))
	w.Header().Set("Last-Modified", h.now().UTC().Format(http.TimeFormat))
	if middleware.NoneMatch(r, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(der)
}

func (h *Handler) ocspPost(w http.ResponseWriter, r *http.Request) {
	a, ok := h.issuer(w, r)
	if !ok {
		return
	}
	der, err := io.ReadAll(io.LimitReader(r.Body, maxOCSPRequest+1))
	if err != nil || len(der) > maxOCSPRequest {
		h.writeOCSP(w, ocsp.MalformedRequestErrorResponse, false)
		return
	}
	h.answer(w, r, a, der, false)
}

// ocspGet takes the base64 request, URL-encoded or not, as the rest of the path (RFC 6960
// appendix A.1).
func (h *Handler) ocspGet(w http.ResponseWriter, r *http.Request) {
	a, ok := h.issuer(w, r)
	if !ok {
		return
	}
	raw := strings.TrimPrefix(r.URL.EscapedPath(),
		"/.well-known/pki/ocsp/"+r.PathValue("issuer")+"/")
	der, err := decodeGET(raw)
	if err != nil {
		h.writeOCSP(w, ocsp.MalformedRequestErrorResponse, false)
		return
	}
	h.answer(w, r, a, der, true)
}

func decodeGET(raw string) ([]byte, error) {
	s, err := url.PathUnescape(raw)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(s)
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request, a Authority, der []byte,
	cacheable bool) {
	resp, err := a.OCSP(r.Context(), der)
	if err != nil {
		h.log.Warn("OCSP answer failed", "request_id", middleware.RequestIDFrom(r.Context()),
			"error", err)
		cacheable = false
	}
	h.writeOCSP(w, resp, cacheable)
}

func (h *Handler) writeOCSP(w http.ResponseWriter, resp []byte, cacheable bool) {
	w.Header().Set("Content-Type", "application/ocsp-response")
	if cacheable {
		w.Header().Set("Cache-Control", "public, max-age=300")
	} else {
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Write(resp)
}

func (h *Handler) failed(w http.ResponseWriter, r *http.Request, step string, err error) {
	h.log.Error(step, "request_id", middleware.RequestIDFrom(r.Context()), "error", err)
	http.Error(w, step+": the server failed; see its log", http.StatusServiceUnavailable)
}
