package ca

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// ParseCSR reads a PKCS#10 certificate signing request as PEM, in a "CERTIFICATE REQUEST"
// or legacy "NEW CERTIFICATE REQUEST" block, or as DER, and checks its self-signature. It
// returns ErrNotCSR for anything else and ErrCSRSignature when the signature fails.
func ParseCSR(pemOrDER []byte) (*x509.CertificateRequest, error) {
	der := pemOrDER
	if block, _ := pem.Decode(pemOrDER); block != nil {
		if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("parse csr: PEM block is %q: %w", block.Type, ErrNotCSR)
		}
		der = block.Bytes
	}

	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("parse csr: %w: %w", ErrNotCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("parse csr: %w: %w", ErrCSRSignature, err)
	}
	return csr, nil
}
