package ca

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Revoked is one revoked certificate to list in a CRL.
type Revoked struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    int // an RFC 5280 CRLReason code; see ReasonCode
}

// RFC 5280 section 5.3.1 CRLReason codes. Code 7 is unassigned.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonRemoveFromCRL        = 8
	ReasonPrivilegeWithdrawn   = 9
	ReasonAACompromise         = 10
)

// reasonNames holds the RFC 5280 name of each reason code.
var reasonNames = map[int]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

// ReasonCode returns the code of an RFC 5280 reason name such as "keyCompromise". It
// refuses unknown names and the two codes tied to holds, certificateHold and
// removeFromCRL: revocation here is final.
func ReasonCode(name string) (int, error) {
	for code, n := range reasonNames {
		if n == name {
			return code, checkReason(code)
		}
	}
	return 0, fmt.Errorf("reason %q: %w", name, ErrReason)
}

// ReasonName returns the RFC 5280 name of a reason code, or "reason(N)" for a code RFC
// 5280 does not assign.
func ReasonName(code int) string {
	if n, ok := reasonNames[code]; ok {
		return n
	}
	return fmt.Sprintf("reason(%d)", code)
}

// checkReason refuses codes that RFC 5280 does not assign or that belong to holds.
func checkReason(code int) error {
	if _, ok := reasonNames[code]; !ok {
		return fmt.Errorf("reason code %d: %w", code, ErrReason)
	}
	if code == ReasonCertificateHold || code == ReasonRemoveFromCRL {
		return fmt.Errorf("%s: holds are not supported: %w", ReasonName(code), ErrReason)
	}
	return nil
}

// CRL signs a certificate revocation list in DER listing revoked, with CRL number number,
// valid from thisUpdate until nextUpdate. Entries with reason unspecified carry no reason
// code extension, as RFC 5280 section 5.3.1 asks. a's certificate must allow CRL signing.
func (a *Authority) CRL(revoked []Revoked, number *big.Int,
	thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if number == nil || number.Sign() < 0 {
		return nil, errors.New("sign crl: number must be zero or more")
	}
	if !nextUpdate.After(thisUpdate) {
		return nil, fmt.Errorf("sign crl: next update is not after this update: %w", ErrValidity)
	}
	entries := make([]x509.RevocationListEntry, len(revoked))
	for i, r := range revoked {
		if err := checkRevoked(r); err != nil {
			return nil, fmt.Errorf("sign crl: entry %d: %w", i, err)
		}
		// A zero ReasonCode makes x509 leave the reason code extension out.
		entries[i] = x509.RevocationListEntry{
			SerialNumber:   r.Serial,
			RevocationTime: r.RevokedAt,
			ReasonCode:     r.Reason,
		}
	}

	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: entries,
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, a.Cert, a.Key)
	if err != nil {
		return nil, fmt.Errorf("sign crl: %w", err)
	}
	return der, nil
}

func checkRevoked(r Revoked) error {
	if r.Serial == nil || r.Serial.Sign() <= 0 {
		return errors.New("serial must be positive")
	}
	if r.RevokedAt.IsZero() {
		return errors.New("revocation time is required")
	}
	return checkReason(r.Reason)
}
