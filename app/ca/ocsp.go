package ca

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/ocsp"
)

// oidOCSPNoCheck is id-pkix-ocsp-nocheck (RFC 6960 section 4.2.2.2.1).
var oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}

// NewOCSPResponder makes a delegated OCSP responder for a: a key of the given spec and a
// certificate signed by a for OCSP signing only. The certificate carries id-pkix-ocsp-nocheck,
// so clients do not ask about the responder itself; keep its lifetime short, since it
// cannot usefully be revoked. Its NotAfter is cut to a's.
func (a *Authority) NewOCSPResponder(spec string, notBefore,
	notAfter time.Time) (*Authority, error) {
	if notBefore.IsZero() || notAfter.IsZero() {
		return nil, fmt.Errorf("make ocsp responder: validity is required: %w", ErrValidity)
	}
	notAfter, err := clampValidity(notBefore, notAfter, a.Cert)
	if err != nil {
		return nil, fmt.Errorf("make ocsp responder: %w", err)
	}
	key, err := GenerateKey(spec)
	if err != nil {
		return nil, fmt.Errorf("make ocsp responder: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("make ocsp responder: %w", err)
	}

	name := a.Cert.Subject.CommonName + " OCSP Responder"
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning},
		BasicConstraintsValid: true,
		ExtraExtensions:       []pkix.Extension{{Id: oidOCSPNoCheck, Value: asn1.NullBytes}},
	}
	cert, err := create(tmpl, a.Cert, key.Public(), a.Key)
	if err != nil {
		return nil, fmt.Errorf("make ocsp responder: %w", err)
	}
	chain := append([]*x509.Certificate{a.Cert}, a.Chain...)
	return &Authority{Cert: cert, Chain: chain, Key: key}, nil
}

// OCSPStatus is what a lookup knows about one serial number.
type OCSPStatus struct {
	Status    int // ocsp.Good, ocsp.Revoked or ocsp.Unknown
	RevokedAt time.Time
	Reason    int // an RFC 5280 CRLReason code, for ocsp.Revoked
}

// Respond answers a DER OCSP request about a certificate issued by issuer, signed by
// responder: a delegated responder from NewOCSPResponder, or the issuing CA itself. The
// response is valid from now for validity, echoes the request's nonce and carries the
// delegated responder's certificate (none when the CA signs itself). Only the first
// certificate a request asks about is answered.
//
// Requests that do not parse, or carry a nonce RFC 9654 does not allow, get the
// malformedRequest response; requests about another issuer get unauthorized (RFC 6960
// section 2.3). lookup is called only for requests this responder can answer. When the
// responder's certificate is not valid at now, or lookup or signing fails, Respond returns
// the internalError response together with the error, so a handler can always send the
// bytes and log the error.
func Respond(issuer *x509.Certificate, responder *Authority, der []byte,
	lookup func(serial *big.Int) (OCSPStatus, error), now time.Time,
	validity time.Duration) ([]byte, error) {
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	wire, err := parseRequestWire(der)
	if err != nil {
		return ocsp.MalformedRequestErrorResponse, nil
	}
	if !issuedBy(req, issuer) {
		return ocsp.UnauthorizedErrorResponse, nil
	}
	if err := checkResponder(responder.Cert, now); err != nil {
		return ocsp.InternalErrorErrorResponse, err
	}

	status, err := lookup(req.SerialNumber)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, fmt.Errorf("look up serial %x: %w",
			req.SerialNumber, err)
	}
	resp, err := signResponse(responder, responderCerts(issuer, responder), single{
		certID:     wire.certID,
		status:     status,
		thisUpdate: now,
		nextUpdate: now.Add(validity),
	}, wire.nonce, now)
	if err != nil {
		return ocsp.InternalErrorErrorResponse, fmt.Errorf("answer ocsp for serial %x: %w",
			req.SerialNumber, err)
	}
	return resp, nil
}

// checkResponder refuses a responder certificate out of its validity at now: every client
// would reject what it signs, so the operator must hear of it instead.
func checkResponder(c *x509.Certificate, now time.Time) error {
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("ocsp responder %q is valid only from %s to %s",
			c.Subject.CommonName, c.NotBefore.Format(time.RFC3339),
			c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// responderCerts returns the certificates a response carries: the delegated responder's,
// or none when the issuer signs itself, since the client already holds the issuer.
func responderCerts(issuer *x509.Certificate, responder *Authority) []*x509.Certificate {
	if responder.Cert.Equal(issuer) {
		return nil
	}
	return []*x509.Certificate{responder.Cert}
}

// issuedBy reports whether the request names issuer: the hashes of its subject and of its
// public key, computed with the request's hash algorithm, match.
func issuedBy(req *ocsp.Request, issuer *x509.Certificate) bool {
	if !req.HashAlgorithm.Available() {
		return false
	}
	keyBits, err := subjectPublicKeyBits(issuer.RawSubjectPublicKeyInfo)
	if err != nil {
		return false
	}
	h := req.HashAlgorithm.New()
	h.Write(issuer.RawSubject)
	nameHash := h.Sum(nil)
	h.Reset()
	h.Write(keyBits)
	keyHash := h.Sum(nil)
	return bytes.Equal(nameHash, req.IssuerNameHash) && bytes.Equal(keyHash, req.IssuerKeyHash)
}

// subjectPublicKeyBits returns the bytes of the subjectPublicKey BIT STRING of a DER
// SubjectPublicKeyInfo, which is what OCSP key hashes cover.
func subjectPublicKeyBits(spki []byte) ([]byte, error) {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(spki, &info)
	if err != nil {
		return nil, fmt.Errorf("parse public key info: %w", err)
	}
	if len(rest) > 0 {
		return nil, errors.New("parse public key info: trailing data")
	}
	return info.PublicKey.RightAlign(), nil
}

// OCSPIssuer returns the index of the certificate in candidates that a DER OCSP request
// names as the issuer, or -1 when it names none of them or does not parse. A CA with more
// than one issuing certificate, during a rollover, uses it to answer with the right one.
func OCSPIssuer(der []byte, candidates []*x509.Certificate) int {
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		return -1
	}
	for i, c := range candidates {
		if issuedBy(req, c) {
			return i
		}
	}
	return -1
}
