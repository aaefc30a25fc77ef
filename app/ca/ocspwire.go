package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

// The OCSP responses are encoded here rather than by ocsp.CreateResponse, which writes
// extensions only into the single response while RFC 6960 section 4.4.1 puts the nonce in
// responseExtensions (where OpenSSL looks for it), takes producedAt from the wall clock,
// and cannot sign with Ed25519. The ASN.1 shapes follow RFC 6960 section 4.2.1.

var (
	oidOCSPNonce = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidOCSPBasic = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

// maxNonce is the longest nonce RFC 9654 lets a request carry.
const maxNonce = 128

type requestASN1 struct {
	TBS       tbsRequestASN1
	Signature asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type tbsRequestASN1 struct {
	Version       int           `asn1:"explicit,tag:0,default:0,optional"`
	RequestorName asn1.RawValue `asn1:"explicit,tag:1,optional"`
	RequestList   []struct {
		CertID     asn1.RawValue
		Extensions []pkix.Extension `asn1:"explicit,tag:0,optional"`
	}
	Extensions []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

// requestWire is what the responder echoes from a request: the first CertID, byte for
// byte, and the nonce extension when there is one.
type requestWire struct {
	certID asn1.RawValue
	nonce  *pkix.Extension
}

// parseRequestWire reads the parts of a request ocsp.ParseRequest does not expose.
func parseRequestWire(der []byte) (requestWire, error) {
	var req requestASN1
	if _, err := asn1.Unmarshal(der, &req); err != nil {
		return requestWire{}, fmt.Errorf("parse ocsp request: %w", err)
	}
	if len(req.TBS.RequestList) == 0 {
		return requestWire{}, errors.New("parse ocsp request: no certificate asked about")
	}
	w := requestWire{certID: req.TBS.RequestList[0].CertID}
	for _, ext := range req.TBS.Extensions {
		if !ext.Id.Equal(oidOCSPNonce) {
			continue
		}
		var nonce []byte
		rest, err := asn1.Unmarshal(ext.Value, &nonce)
		if err != nil || len(rest) > 0 || len(nonce) < 1 || len(nonce) > maxNonce {
			return requestWire{}, errors.New("parse ocsp request: nonce is not 1 to 128 octets")
		}
		w.nonce = &pkix.Extension{Id: oidOCSPNonce, Value: ext.Value}
	}
	return w, nil
}

type responseASN1 struct {
	Status asn1.Enumerated
	Bytes  struct {
		Type     asn1.ObjectIdentifier
		Response []byte
	} `asn1:"explicit,tag:0"`
}

type basicResponseASN1 struct {
	TBS          asn1.RawValue
	Algorithm    pkix.AlgorithmIdentifier
	Signature    asn1.BitString
	Certificates []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseDataASN1 struct {
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleASN1
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type singleASN1 struct {
	CertID     asn1.RawValue
	Status     asn1.RawValue
	ThisUpdate time.Time `asn1:"generalized"`
	NextUpdate time.Time `asn1:"generalized,explicit,tag:0"`
}

type revokedInfoASN1 struct {
	RevokedAt time.Time       `asn1:"generalized"`
	Reason    asn1.Enumerated `asn1:"explicit,tag:0,optional"`
}

// single is the answer about one certificate.
type single struct {
	certID                 asn1.RawValue
	status                 OCSPStatus
	thisUpdate, nextUpdate time.Time
}

// signResponse encodes and signs a successful basic response holding s, carrying certs
// for the client to verify the signature with.
func signResponse(responder *Authority, certs []*x509.Certificate, s single,
	nonce *pkix.Extension, now time.Time) ([]byte, error) {
	status, err := certStatus(s.status)
	if err != nil {
		return nil, err
	}
	responderID, err := responderKeyID(responder)
	if err != nil {
		return nil, err
	}
	data := responseDataASN1{
		ResponderID: responderID,
		ProducedAt:  now.UTC().Truncate(time.Second),
		Responses: []singleASN1{{
			CertID:     asn1.RawValue{FullBytes: s.certID.FullBytes},
			Status:     status,
			ThisUpdate: s.thisUpdate.UTC().Truncate(time.Second),
			NextUpdate: s.nextUpdate.UTC().Truncate(time.Second),
		}},
	}
	if nonce != nil {
		data.Extensions = []pkix.Extension{*nonce}
	}
	tbs, err := asn1.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode response data: %w", err)
	}
	return wrapBasic(responder.Key, certs, tbs)
}

// wrapBasic signs tbs and wraps it as a successful OCSPResponse of the basic type.
func wrapBasic(key crypto.Signer, certs []*x509.Certificate, tbs []byte) ([]byte, error) {
	algorithm, signature, err := sign(key, tbs)
	if err != nil {
		return nil, err
	}
	var raw []asn1.RawValue // nil, not empty, so the optional field is left out
	for _, c := range certs {
		raw = append(raw, asn1.RawValue{FullBytes: c.Raw})
	}
	basic, err := asn1.Marshal(basicResponseASN1{
		TBS:          asn1.RawValue{FullBytes: tbs},
		Algorithm:    algorithm,
		Signature:    asn1.BitString{Bytes: signature, BitLength: 8 * len(signature)},
		Certificates: raw,
	})
	if err != nil {
		return nil, fmt.Errorf("encode basic response: %w", err)
	}
	var resp responseASN1
	resp.Status = asn1.Enumerated(ocsp.Success)
	resp.Bytes.Type = oidOCSPBasic
	resp.Bytes.Response = basic
	out, err := asn1.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return out, nil
}

// certStatus encodes the CertStatus choice: good [0], revoked [1] or unknown [2], all
// implicitly tagged. A revocation with reason unspecified carries no reason, as in CRLs.
func certStatus(s OCSPStatus) (asn1.RawValue, error) {
	switch s.Status {
	case ocsp.Good:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0}, nil
	case ocsp.Unknown:
		return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2}, nil
	case ocsp.Revoked:
		return revokedStatus(s)
	}
	return asn1.RawValue{}, fmt.Errorf("ocsp status %d is not good, revoked or unknown", s.Status)
}

func revokedStatus(s OCSPStatus) (asn1.RawValue, error) {
	if err := checkReason(s.Reason); err != nil {
		return asn1.RawValue{}, err
	}
	if s.RevokedAt.IsZero() {
		return asn1.RawValue{}, errors.New("revoked status without revocation time")
	}
	der, err := asn1.Marshal(revokedInfoASN1{
		RevokedAt: s.RevokedAt.UTC().Truncate(time.Second),
		Reason:    asn1.Enumerated(s.Reason),
	})
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("encode revoked info: %w", err)
	}
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return asn1.RawValue{}, fmt.Errorf("re-read revoked info: %w", err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true,
		Bytes: seq.Bytes}, nil
}

// responderKeyID returns the byKey ResponderID [2]: the SHA-1 of the responder's public key
// bits, as RFC 6960 section 4.2.1 defines KeyHash.
func responderKeyID(responder *Authority) (asn1.RawValue, error) {
	bits, err := subjectPublicKeyBits(responder.Cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return asn1.RawValue{}, err
	}
	sum := sha1.Sum(bits)
	hash, err := asn1.Marshal(sum[:])
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("encode responder key hash: %w", err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true,
		Bytes: hash}, nil
}

// sign signs message with key, choosing the algorithm x509 would use for a certificate.
func sign(key crypto.Signer, message []byte) (pkix.AlgorithmIdentifier, []byte, error) {
	algorithm, hash, err := signatureAlgorithm(key.Public())
	if err != nil {
		return algorithm, nil, err
	}
	digest := message
	if hash != 0 {
		h := hash.New()
		h.Write(message)
		digest = h.Sum(nil)
	}
	sig, err := key.Sign(rand.Reader, digest, hash)
	if err != nil {
		return algorithm, nil, fmt.Errorf("sign ocsp response: %w", err)
	}
	return algorithm, sig, nil
}

// signatureAlgorithm picks the signature algorithm and digest for a responder key. Ed25519
// signs the message itself, so its digest is zero.
func signatureAlgorithm(pub crypto.PublicKey) (pkix.AlgorithmIdentifier, crypto.Hash, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		// RFC 4055 requires the NULL parameters for RSA PKCS#1 v1.5 signatures.
		return pkix.AlgorithmIdentifier{Algorithm: oidSHA256WithRSA,
			Parameters: asn1.NullRawValue}, crypto.SHA256, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P384() {
			return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA384}, crypto.SHA384, nil
		}
		if k.Curve == elliptic.P256() {
			return pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256}, crypto.SHA256, nil
		}
	case ed25519.PublicKey:
		return pkix.AlgorithmIdentifier{Algorithm: oidEd25519}, 0, nil
	}
	return pkix.AlgorithmIdentifier{}, 0, fmt.Errorf("responder key %T: %w", pub, ErrKeySpec)
}
