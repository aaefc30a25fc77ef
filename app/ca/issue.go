package ca

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// LeafRequest describes an end-entity certificate to issue.
type LeafRequest struct {
	PublicKey      crypto.PublicKey
	CommonName     string
	DNSNames       []string
	IPAddresses    []net.IP
	EmailAddresses []string
	URIs           []*url.URL
	NotBefore      time.Time
	// NotAfter is cut to the issuing CA's NotAfter when it would outlive the CA.
	NotAfter time.Time
	// ExtKeyUsage defaults to server authentication when empty.
	ExtKeyUsage []x509.ExtKeyUsage
	// MustStaple asks TLS clients to require a stapled OCSP response (RFC 7633).
	MustStaple bool
	// CRLURL, OCSPURL and IssuerURL, when set, become the CRL distribution point and the
	// authority information access entries for OCSP and the issuing certificate.
	CRLURL    string
	OCSPURL   string
	IssuerURL string
}

// oidTLSFeature is the TLS feature extension of RFC 7633.
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

// tlsFeatureStatusRequest is the TLS extension number of status_request (RFC 6066), the
// one feature must-staple lists.
const tlsFeatureStatusRequest = 5

// Issue signs an end-entity certificate for r with a's key. It refuses requests that name
// nothing (ErrNoNames), keys it does not handle (ErrKeySpec) and validity periods that are
// empty once cut to end with the CA's (ErrValidity).
func (a *Authority) Issue(r LeafRequest) (*x509.Certificate, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	notAfter, err := clampValidity(r.NotBefore, r.NotAfter, a.Cert)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	tmpl, err := r.certificate(notAfter)
	if err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}

	cert, err := create(tmpl, a.Cert, r.PublicKey, a.Key)
	if err != nil {
		return nil, fmt.Errorf("issue certificate for %q: %w", r.CommonName, err)
	}
	return cert, nil
}

func (r LeafRequest) check() error {
	if r.PublicKey == nil {
		return errors.New("public key is required")
	}
	if err := checkPublicKey(r.PublicKey); err != nil {
		return err
	}
	if r.CommonName == "" && len(r.DNSNames) == 0 && len(r.IPAddresses) == 0 &&
		len(r.EmailAddresses) == 0 && len(r.URIs) == 0 {
		return ErrNoNames
	}
	if r.NotBefore.IsZero() || r.NotAfter.IsZero() {
		return fmt.Errorf("not before and not after are required: %w", ErrValidity)
	}
	return nil
}

// certificate returns the template for r, ending at notAfter.
func (r LeafRequest) certificate(notAfter time.Time) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: r.CommonName},
		DNSNames:              r.DNSNames,
		IPAddresses:           r.IPAddresses,
		EmailAddresses:        r.EmailAddresses,
		URIs:                  r.URIs,
		NotBefore:             r.NotBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           r.ExtKeyUsage,
		BasicConstraintsValid: true,
	}
	// RSA keys may also carry TLS 1.2 key transport; other key types cannot encipher.
	if _, ok := r.PublicKey.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if len(tmpl.ExtKeyUsage) == 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	r.addURLs(tmpl)
	if r.MustStaple {
		ext, err := mustStapleExtension()
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	return tmpl, nil
}

func (r LeafRequest) addURLs(tmpl *x509.Certificate) {
	if r.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{r.CRLURL}
	}
	if r.OCSPURL != "" {
		tmpl.OCSPServer = []string{r.OCSPURL}
	}
	if r.IssuerURL != "" {
		tmpl.IssuingCertificateURL = []string{r.IssuerURL}
	}
}

// mustStapleExtension returns the TLS feature extension listing status_request. RFC 7633
// leaves it non-critical so clients that do not know it still accept the certificate.
func mustStapleExtension() (pkix.Extension, error) {
	value, err := asn1.Marshal([]int{tlsFeatureStatusRequest})
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("encode tls feature: %w", err)
	}
	return pkix.Extension{Id: oidTLSFeature, Value: value}, nil
}

// HasMustStaple reports whether cert carries the TLS feature extension with status_request.
func HasMustStaple(cert *x509.Certificate) bool {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidTLSFeature) {
			continue
		}
		var features []int
		if rest, err := asn1.Unmarshal(ext.Value, &features); err != nil || len(rest) > 0 {
			return false
		}
		for _, f := range features {
			if f == tlsFeatureStatusRequest {
				return true
			}
		}
	}
	return false
}
