// Package ca is the certificate authority engine: it makes root and intermediate CAs, loads
// an operator's CA for sub-CA mode, issues leaf certificates, and signs CRLs and OCSP
// responses. It holds no state and touches no database; callers store what it returns.
package ca

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Authority is a CA able to sign: its certificate, the issuers above it and its key.
type Authority struct {
	// Cert is the CA's own certificate.
	Cert *x509.Certificate
	// Chain holds the issuers above Cert, nearest first, ending with the self-signed root
	// when known. It is empty for a root.
	Chain []*x509.Certificate
	// Key is the private key of Cert.
	Key crypto.Signer
}

// Template describes a CA certificate to make.
type Template struct {
	CommonName   string
	Organization string // optional
	KeySpec      string // one of KeySpecs()
	NotBefore    time.Time
	NotAfter     time.Time
}

// NewRoot makes a self-signed root CA with a new key. Its path length is unconstrained.
func NewRoot(t Template) (*Authority, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("make root: %w", err)
	}
	key, err := GenerateKey(t.KeySpec)
	if err != nil {
		return nil, fmt.Errorf("make root: %w", err)
	}
	tmpl, err := t.certificate()
	if err != nil {
		return nil, fmt.Errorf("make root: %w", err)
	}
	tmpl.MaxPathLen = -1

	cert, err := create(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("make root: %w", err)
	}
	return &Authority{Cert: cert, Key: key}, nil
}

// NewIntermediate makes a CA signed by a with a new key. It may issue only end-entity
// certificates (path length zero), and its NotAfter is cut to a's if it would outlive a.
func (a *Authority) NewIntermediate(t Template) (*Authority, error) {
	if err := t.check(); err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	notAfter, err := clampValidity(t.NotBefore, t.NotAfter, a.Cert)
	if err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	t.NotAfter = notAfter
	key, err := GenerateKey(t.KeySpec)
	if err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	tmpl, err := t.certificate()
	if err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true

	cert, err := create(tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	chain := append([]*x509.Certificate{a.Cert}, a.Chain...)
	return &Authority{Cert: cert, Chain: chain, Key: key}, nil
}

func (t Template) check() error {
	if t.CommonName == "" {
		return errors.New("common name is required")
	}
	if t.NotBefore.IsZero() || t.NotAfter.IsZero() {
		return fmt.Errorf("not before and not after are required: %w", ErrValidity)
	}
	if !t.NotAfter.After(t.NotBefore) {
		return fmt.Errorf("not after %s is not after not before %s: %w",
			t.NotAfter.Format(time.RFC3339), t.NotBefore.Format(time.RFC3339), ErrValidity)
	}
	return nil
}

// certificate returns the CA certificate template for t. The SubjectKeyId is left to
// x509.CreateCertificate, which derives it from the public key for every CA, so children
// always get an AuthorityKeyId.
func (t Template) certificate() (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	subject := pkix.Name{CommonName: t.CommonName}
	if t.Organization != "" {
		subject.Organization = []string{t.Organization}
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             t.NotBefore,
		NotAfter:              t.NotAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}, nil
}

// clampValidity returns notAfter cut to the issuer's NotAfter, or ErrValidity when the
// result would not end after notBefore.
func clampValidity(notBefore, notAfter time.Time, issuer *x509.Certificate) (time.Time, error) {
	if notAfter.After(issuer.NotAfter) {
		notAfter = issuer.NotAfter
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, fmt.Errorf("issuer %q expires %s, before not before %s: %w",
			issuer.Subject.CommonName, issuer.NotAfter.Format(time.RFC3339),
			notBefore.Format(time.RFC3339), ErrValidity)
	}
	return notAfter, nil
}

// serialPrefix is the byte put before the 16 random bytes of a serial number. Being
// non-zero it fixes the length at 17 octets whatever the random bytes are, and being
// below 0x80 it keeps the DER INTEGER positive without a padding byte. That leaves all
// 128 random bits intact and stays within the 20 octets RFC 5280 section 4.1.2.2 allows.
const serialPrefix = 0x01

// newSerial returns a certificate serial number with 128 random bits.
func newSerial() (*big.Int, error) {
	b := make([]byte, 17)
	b[0] = serialPrefix
	if _, err := rand.Read(b[1:]); err != nil {
		return nil, fmt.Errorf("draw serial number: %w", err)
	}
	return new(big.Int).SetBytes(b), nil
}

// create signs tmpl as parent with key and parses the result.
func create(tmpl, parent *x509.Certificate, pub crypto.PublicKey,
	key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	return cert, nil
}

// ChainPEM returns a's certificate followed by its chain, as PEM.
func (a *Authority) ChainPEM() []byte {
	return PEM(append([]*x509.Certificate{a.Cert}, a.Chain...)...)
}

// PEM encodes certificates as consecutive CERTIFICATE blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		// Writing to a bytes.Buffer cannot fail.
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}
