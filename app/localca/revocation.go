package localca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"certctl/app/ca"
	"certctl/app/pki"
	"certctl/store"

	"golang.org/x/crypto/ocsp"
)

// How long CRLs and OCSP answers are valid, and how close to its end a CRL is remade.
const (
	crlValidity  = 24 * time.Hour
	crlRefresh   = 8 * time.Hour
	ocspValidity = 4 * time.Hour
)

// crlCache keeps the last CRL made, tagged with the certificates change version it saw.
type crlCache struct {
	version    int64
	der        []byte
	nextUpdate time.Time
}

// CRL returns the CRL of the CA that issues now, DER, and its nextUpdate.
func (c *CA) CRL(ctx context.Context) ([]byte, time.Time, error) {
	return c.CRLOf(ctx, "")
}

// ErrUnknownSigner reports a CRL asked for by an issuing CA that is not, or no longer,
// valid. It matches pki.ErrUnknownCA, which the PKI endpoints answer with 404.
var ErrUnknownSigner = fmt.Errorf("no valid issuing CA has this ID: %w", pki.ErrUnknownCA)

// CRLOf returns the CRL signed by the issuing CA with the given ID ("" for the newest):
// the revoked, unexpired certificates that CA issued. It is made anew after every
// revocation (any change to certificates), and when the cached one nears its nextUpdate.
func (c *CA) CRLOf(ctx context.Context, signerID string) ([]byte, time.Time, error) {
	v, err := c.st.ChangeVersion(ctx, store.AreaCertificates)
	if err != nil {
		return nil, time.Time{}, err
	}
	s, err := c.current(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	sg, ok := s.signer(signerID)
	if !ok {
		return nil, time.Time{}, ErrUnknownSigner
	}
	now := c.now()
	c.mu.Lock()
	cached := c.crls[sg.id]
	c.mu.Unlock()
	if cached.der != nil && cached.version == v && now.Before(cached.nextUpdate.Add(-crlRefresh)) {
		return cached.der, cached.nextUpdate, nil
	}
	der, next, err := c.makeCRL(ctx, sg, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	c.mu.Lock()
	c.crls[sg.id] = crlCache{version: v, der: der, nextUpdate: next}
	c.mu.Unlock()
	return der, next, nil
}

// signer finds a valid issuing CA by ID; "" is the newest.
func (s *state) signer(id string) (signer, bool) {
	if id == "" {
		return s.newest(), true
	}
	for _, sg := range s.signers {
		if sg.id == id {
			return sg, true
		}
	}
	return signer{}, false
}

func (c *CA) makeCRL(ctx context.Context, sg signer, now time.Time) ([]byte, time.Time,
	error) {
	rows, err := c.st.ListRevoked(ctx, IssuerID, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	var revoked []ca.Revoked
	for _, r := range rows {
		if !signedBy(r.CertPEM, sg.auth.Cert) {
			continue
		}
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok {
			return nil, time.Time{}, fmt.Errorf("stored serial %q is not hex", r.Serial)
		}
		revoked = append(revoked, ca.Revoked{Serial: serial, RevokedAt: r.RevokedAt,
			Reason: r.Reason})
	}
	number, err := c.nextCRLNumber(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	next := now.Add(crlValidity)
	der, err := sg.auth.CRL(revoked, number, now, next)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sign CRL: %w", err)
	}
	return der, next, nil
}

// signedBy reports whether the PEM certificate was issued by issuer.
func signedBy(certPEM string, issuer *x509.Certificate) bool {
	certs, err := parseCerts([]byte(certPEM))
	return err == nil && certs[0].CheckSignatureFrom(issuer) == nil
}

// nextCRLNumber counts CRLs in the database, so numbers grow across restarts and replicas.
func (c *CA) nextCRLNumber(ctx context.Context) (*big.Int, error) {
	name := "crl_number:" + IssuerID
	var n int64
	err := c.st.WithLock(ctx, name, func(q store.Queries) error {
		cur, err := q.GetSetting(ctx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if cur != "" {
			if n, err = strconv.ParseInt(cur, 10, 64); err != nil {
				return fmt.Errorf("stored CRL number %q: %w", cur, err)
			}
		}
		n++
		return q.PutSetting(ctx, name, strconv.FormatInt(n, 10))
	})
	return big.NewInt(n), err
}

// OCSP answers a DER OCSP request. The bytes are always a valid OCSP response to send,
// also when err reports a failure behind it.
func (c *CA) OCSP(ctx context.Context, der []byte) ([]byte, error) {
	s, err := c.current(ctx)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}
	// The newest issuing CA answers through its delegated responder; an older one, during a
	// rollover, signs answers about its own leaves itself. A request naming none of them
	// gets the unauthorized answer from the newest.
	issuing, responder := s.newest().auth, s.responder
	certs := make([]*x509.Certificate, len(s.signers))
	for i, sg := range s.signers {
		certs[i] = sg.auth.Cert
	}
	if i := ca.OCSPIssuer(der, certs); i > 0 {
		issuing, responder = s.signers[i].auth, s.signers[i].auth
	}
	lookup := func(serial *big.Int) (ca.OCSPStatus, error) {
		v, err := c.st.GetVersionBySerial(ctx, IssuerID, SerialHex(serial))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return ca.OCSPStatus{Status: ocsp.Unknown}, nil
		case err != nil:
			return ca.OCSPStatus{}, err
		case !v.RevokedAt.IsZero():
			return ca.OCSPStatus{Status: ocsp.Revoked, RevokedAt: v.RevokedAt,
				Reason: v.RevokeReason}, nil
		}
		return ca.OCSPStatus{Status: ocsp.Good}, nil
	}
	return ca.Respond(issuing.Cert, responder, der, lookup, c.now(), ocspValidity)
}

// SerialHex is how the store writes serial numbers: lower-case hex without leading zeros.
func SerialHex(serial *big.Int) string { return serial.Text(16) }

// RefreshCRLs makes anew the CRL of every valid issuing CA that is near its nextUpdate, so
// relying parties never fetch a stale one.
func (c *CA) RefreshCRLs(ctx context.Context) error {
	s, err := c.current(ctx)
	if err != nil {
		return err
	}
	for _, sg := range s.signers {
		if _, _, err := c.CRLOf(ctx, sg.id); err != nil {
			return fmt.Errorf("CRL of %s: %w", sg.id, err)
		}
	}
	return nil
}
