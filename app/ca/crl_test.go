package ca

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestCRLWithOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	for _, spec := range chainSpecs {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			now := testNow()
			_, inter := newTestChain(t, spec, now)
			compromised := issueLeaf(t, inter, "a.example.test", now).SerialNumber
			retired := issueLeaf(t, inter, "b.example.test", now).SerialNumber
			der, err := inter.CRL([]Revoked{
				{Serial: compromised, RevokedAt: now.Add(-time.Minute),
					Reason: ReasonKeyCompromise},
				{Serial: retired, RevokedAt: now.Add(-time.Minute),
					Reason: ReasonUnspecified},
			}, big.NewInt(42), now, now.Add(24*time.Hour))
			if err != nil {
				t.Fatalf("crl: %v", err)
			}

			dir := t.TempDir()
			writeFile(t, dir, "crl.der", der)
			writeFile(t, dir, "chain.pem", inter.ChainPEM())
			out := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der",
				"-CAfile", "chain.pem", "-verify", "-noout")
			if !strings.Contains(out, "verify OK") {
				t.Errorf("openssl crl -verify: got %q, want verify OK", out)
			}
			// Another chain with the same names: only the signature tells them apart.
			_, impostor := newTestChain(t, spec, now)
			writeFile(t, dir, "impostor.pem", impostor.ChainPEM())
			// OpenSSL 3.0 exits 0 on a bad CRL signature, so the text decides.
			out, _ = opensslErr(t, dir, "crl", "-inform", "DER", "-in", "crl.der",
				"-CAfile", "impostor.pem", "-verify", "-noout")
			if !strings.Contains(out, "verify failure") || strings.Contains(out, "verify OK") {
				t.Errorf("openssl crl -verify with another CA of the same name: got %q, "+
					"want a failure", out)
			}

			text := openssl(t, dir, "crl", "-inform", "DER", "-in", "crl.der", "-text", "-noout")
			checkCRLText(t, text, compromised, retired)
		})
	}
}

// checkCRLText checks openssl's rendering of the CRL made in TestCRLWithOpenSSL.
func checkCRLText(t *testing.T, text string, compromised, retired *big.Int) {
	t.Helper()
	for _, want := range []string{
		"Serial Number: " + opensslSerial(compromised),
		"Serial Number: " + opensslSerial(retired),
		"Key Compromise", "Next Update:", "X509v3 CRL Number:", "42",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl crl -text lacks %q:\n%s", want, text)
		}
	}
	if got := strings.Count(text, "CRL Reason Code"); got != 1 {
		t.Errorf("reason codes: got %d, want 1 (unspecified is left out):\n%s", got, text)
	}
}

// opensslSerial renders a serial as openssl prints it: upper-case hex, whole bytes.
func opensslSerial(s *big.Int) string {
	return strings.ToUpper(hex.EncodeToString(s.Bytes()))
}

func TestCRLParsesInGo(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	der, err := inter.CRL([]Revoked{
		{Serial: big.NewInt(7), RevokedAt: now, Reason: ReasonSuperseded},
		{Serial: big.NewInt(8), RevokedAt: now, Reason: ReasonUnspecified},
	}, big.NewInt(3), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(inter.Cert); err != nil {
		t.Errorf("signature: %v", err)
	}
	if crl.Number.Int64() != 3 {
		t.Errorf("number: got %v, want 3", crl.Number)
	}
	entries := crl.RevokedCertificateEntries
	if len(entries) != 2 || entries[0].ReasonCode != ReasonSuperseded {
		t.Fatalf("entries: got %+v, want 2 with the first superseded", entries)
	}
	for _, ext := range entries[1].Extensions {
		if ext.Id.String() == "2.5.29.21" {
			t.Error("unspecified entry carries a reason code extension")
		}
	}
}

func TestCRLRefusals(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	ok := Revoked{Serial: big.NewInt(9), RevokedAt: now, Reason: ReasonKeyCompromise}
	tests := []struct {
		name    string
		revoked []Revoked
		number  *big.Int
		next    time.Time
		want    string
	}{
		{"hold", []Revoked{{Serial: big.NewInt(1), RevokedAt: now, Reason: 6}},
			big.NewInt(1), now.Add(time.Hour), "holds are not supported"},
		{"unassigned reason", []Revoked{{Serial: big.NewInt(1), RevokedAt: now, Reason: 7}},
			big.NewInt(1), now.Add(time.Hour), "reason code 7"},
		{"no serial", []Revoked{{RevokedAt: now}}, big.NewInt(1), now.Add(time.Hour),
			"serial must be positive"},
		{"no time", []Revoked{{Serial: big.NewInt(1)}}, big.NewInt(1), now.Add(time.Hour),
			"revocation time is required"},
		{"no number", []Revoked{ok}, nil, now.Add(time.Hour), "number"},
		{"next before this", []Revoked{ok}, big.NewInt(1), now.Add(-time.Hour),
			"next update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := inter.CRL(tt.revoked, tt.number, now, tt.next)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("crl: got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestReasonCode(t *testing.T) {
	tests := []struct {
		name string
		code int
		ok   bool
	}{
		{"unspecified", 0, true},
		{"keyCompromise", 1, true},
		{"cACompromise", 2, true},
		{"affiliationChanged", 3, true},
		{"superseded", 4, true},
		{"cessationOfOperation", 5, true},
		{"certificateHold", 6, false},
		{"removeFromCRL", 8, false},
		{"privilegeWithdrawn", 9, true},
		{"aACompromise", 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, err := ReasonCode(tt.name)
			if tt.ok && (err != nil || code != tt.code) {
				t.Errorf("code: got %d, %v, want %d", code, err, tt.code)
			}
			if !tt.ok && !errors.Is(err, ErrReason) {
				t.Errorf("code: got %d, %v, want ErrReason", code, err)
			}
			if got := ReasonName(tt.code); got != tt.name {
				t.Errorf("name of %d: got %q, want %q", tt.code, got, tt.name)
			}
		})
	}
	if _, err := ReasonCode("KeyCompromise"); !errors.Is(err, ErrReason) {
		t.Errorf("code of a misspelt name: got %v, want ErrReason", err)
	}
	if got := ReasonName(7); got != "reason(7)" {
		t.Errorf("name of 7: got %q, want reason(7)", got)
	}
}
