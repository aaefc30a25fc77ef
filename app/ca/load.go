package ca

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// LoadAuthority reads an operator's CA for sub-CA mode. certPEM holds the CA certificate
// first, then optionally the issuers above it, nearest first; keyPEM holds its private key
// as PKCS#8, PKCS#1 RSA or SEC1 EC. It refuses a certificate that is not a CA (ErrNotCA),
// cannot sign certificates (ErrNoCertSign), is outside its validity period at now
// (ErrExpired, ErrNotYetValid), has a key type the CA does not handle (ErrKeySpec), whose
// chain does not link up (ErrBadChain), or whose key is not the one given (ErrKeyMismatch).
func LoadAuthority(certPEM, keyPEM []byte, now time.Time) (*Authority, error) {
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	cert := certs[0]
	if err := checkCA(cert, now); err != nil {
		return nil, fmt.Errorf("load CA %q: %w", cert.Subject.CommonName, err)
	}
	if err := checkChain(certs); err != nil {
		return nil, fmt.Errorf("load CA %q: %w", cert.Subject.CommonName, err)
	}

	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	type publicKey interface{ Equal(x crypto.PublicKey) bool }
	pub, ok := key.Public().(publicKey)
	if !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("load CA %q: %w", cert.Subject.CommonName, ErrKeyMismatch)
	}
	return &Authority{Cert: cert, Chain: certs[1:], Key: key}, nil
}

// parseCertsPEM returns every CERTIFICATE block in text, in order, skipping other blocks.
func parseCertsPEM(text []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, text = pem.Decode(text)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return certs, nil
}

// checkCA refuses a certificate that cannot act as a CA at now.
func checkCA(cert *x509.Certificate, now time.Time) error {
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return ErrNotCA
	}
	if cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return ErrNoCertSign
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w: not after %s", ErrExpired, cert.NotAfter.Format(time.RFC3339))
	}
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: not before %s", ErrNotYetValid,
			cert.NotBefore.Format(time.RFC3339))
	}
	return checkPublicKey(cert.PublicKey)
}

// checkChain makes sure each certificate is signed by the next one.
func checkChain(certs []*x509.Certificate) error {
	for i := 0; i+1 < len(certs); i++ {
		child, parent := certs[i], certs[i+1]
		if err := child.CheckSignatureFrom(parent); err != nil {
			return fmt.Errorf("%w: %q is not signed by %q: %w", ErrBadChain,
				child.Subject.CommonName, parent.Subject.CommonName, err)
		}
	}
	return nil
}
