package localca

import (
	"context"
	"crypto/x509"
	"strings"

	"certctl/app/ca"
)

// Paths of the PKI endpoints under the public URL.
const (
	CAPath   = "/.well-known/pki/ca/"
	CRLPath  = "/.well-known/pki/crl/"
	OCSPPath = "/.well-known/pki/ocsp/"
)

// Issue signs a leaf for r with the current issuing CA, adding the CRL, OCSP and CA-issuers
// URLs, and returns it with the chain above it, PEM.
func (c *CA) Issue(ctx context.Context, r ca.LeafRequest) (*x509.Certificate, []byte, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	issuing := s.newest()
	base := strings.TrimRight(c.set.PublicURL, "/")
	// The CRL URL names the signer, so that after a rollover each leaf still points at the
	// CRL its own issuing CA signs.
	r.CRLURL = base + CRLPath + IssuerID + "/" + issuing.id
	r.OCSPURL = base + OCSPPath + IssuerID
	r.IssuerURL = base + CAPath + IssuerID
	cert, err := issuing.auth.Issue(r)
	if err != nil {
		return nil, nil, err
	}
	chain := append([]*x509.Certificate{issuing.auth.Cert}, issuing.auth.Chain...)
	return cert, ca.PEM(chain...), nil
}

// Issued reports whether leaf was signed by the CA that issues now; false when the CA
// cannot be read.
func (c *CA) Issued(leaf *x509.Certificate) bool {
	s, err := c.current(context.Background())
	return err == nil && leaf.CheckSignatureFrom(s.newest().auth.Cert) == nil
}
