package ca

import "errors"

// Errors the CA returns, each wrapped with the details of the case. Callers match them
// with errors.Is to tell a bad request from a broken CA.
var (
	// ErrNoNames reports a certificate request with neither a common name nor any
	// subject alternative name.
	ErrNoNames = errors.New("request names no subject: no common name and no alternative names")

	// ErrValidity reports a validity period that is empty or reversed, possibly after
	// being cut to end with the issuer's.
	ErrValidity = errors.New("validity period is empty")

	// ErrNotCA reports a certificate offered as a CA whose basic constraints do not make
	// it one.
	ErrNotCA = errors.New("certificate is not a CA (basic constraints)")

	// ErrNoCertSign reports a CA certificate whose key usage lacks certSign.
	ErrNoCertSign = errors.New("CA certificate lacks the certSign key usage")

	// ErrExpired reports a CA certificate past its NotAfter.
	ErrExpired = errors.New("CA certificate has expired")

	// ErrNotYetValid reports a CA certificate before its NotBefore.
	ErrNotYetValid = errors.New("CA certificate is not yet valid")

	// ErrKeyMismatch reports a private key that does not belong to the certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate's public key")

	// ErrBadChain reports chain certificates that do not sign each other in order.
	ErrBadChain = errors.New("chain is out of order or incomplete")

	// ErrNotCSR reports input that is not a PKCS#10 certificate signing request.
	ErrNotCSR = errors.New("not a certificate signing request")

	// ErrCSRSignature reports a CSR whose self-signature does not verify, so the
	// requester has not shown it holds the private key.
	ErrCSRSignature = errors.New("certificate signing request has a bad signature")

	// ErrReason reports a revocation reason the CA does not know or does not support.
	ErrReason = errors.New("unsupported revocation reason")
)
