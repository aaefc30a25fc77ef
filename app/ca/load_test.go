package ca

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestLoadAuthorityOwnChain(t *testing.T) {
	now := time.Now()
	root, inter := newTestChain(t, ECDSAP256, now)
	a, err := LoadAuthority(inter.ChainPEM(), keyPEMOf(t, inter.Key), now)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if !a.Cert.Equal(inter.Cert) || len(a.Chain) != 1 || !a.Chain[0].Equal(root.Cert) {
		t.Errorf("load: got %q with %d chain certificates, want the intermediate and root",
			a.Cert.Subject.CommonName, len(a.Chain))
	}
	if _, err := a.Issue(mustLeafRequest(t, now)); err != nil {
		t.Errorf("issue from loaded CA: %v", err)
	}
}

// TestLoadAuthorityFromOpenSSL loads CAs and keys made by openssl in each key format the
// operator may hold, then checks openssl accepts a leaf the loaded CA issues.
func TestLoadAuthorityFromOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	tests := []struct {
		name    string
		keyArgs []string
		keyType string
	}{
		{"pkcs8 ec", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"},
			"PRIVATE KEY"},
		{"pkcs8 ed25519", []string{"-newkey", "ed25519"}, "PRIVATE KEY"},
		{"pkcs1 rsa", []string{"-newkey", "rsa:2048"}, "RSA PRIVATE KEY"},
		{"sec1 ec", []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"},
			"EC PRIVATE KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"req", "-x509", "-nodes", "-days", "30",
				"-subj", "/CN=Operator CA", "-keyout", "ca.key", "-out", "ca.pem",
				"-addext", "basicConstraints=critical,CA:TRUE",
				"-addext", "keyUsage=critical,keyCertSign,cRLSign"}, tt.keyArgs...)
			openssl(t, dir, args...)
			keyPEM := convertKey(t, dir, tt.keyType)

			a, err := LoadAuthority(readFile(t, dir, "ca.pem"), keyPEM, time.Now())
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			leaf, err := a.Issue(mustLeafRequest(t, time.Now()))
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			writeFile(t, dir, "leaf.pem", PEM(leaf))
			out := openssl(t, dir, "verify", "-CAfile", "ca.pem", "leaf.pem")
			if !strings.Contains(out, "leaf.pem: OK") {
				t.Errorf("openssl verify: got %q, want OK", out)
			}
		})
	}
}

// convertKey rewrites ca.key in dir into the PEM type wanted, with openssl.
func convertKey(t *testing.T, dir, keyType string) []byte {
	t.Helper()
	name := "ca.key"
	switch keyType {
	case "RSA PRIVATE KEY":
		name = "ca-pkcs1.key"
		openssl(t, dir, "rsa", "-in", "ca.key", "-traditional", "-out", name)
	case "EC PRIVATE KEY":
		name = "ca-sec1.key"
		openssl(t, dir, "ec", "-in", "ca.key", "-out", name)
	}
	keyPEM := readFile(t, dir, name)
	if block, _ := pem.Decode(keyPEM); block == nil || block.Type != keyType {
		t.Fatalf("openssl wrote %.40q, want a %s block", keyPEM, keyType)
	}
	return keyPEM
}

func mustLeafRequest(t *testing.T, now time.Time) LeafRequest {
	t.Helper()
	req, _ := leafRequest(t, ECDSAP256, now)
	return req
}

func TestLoadAuthorityRefusals(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	otherRoot, _ := newTestChain(t, ECDSAP256, now)
	leafCert, leafKey := selfSigned(t, caTemplate(now, func(c *x509.Certificate) {
		c.IsCA = false
		c.KeyUsage = x509.KeyUsageDigitalSignature
	}))
	noSignCert, noSignKey := selfSigned(t, caTemplate(now, func(c *x509.Certificate) {
		c.KeyUsage = x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	}))
	tests := []struct {
		name     string
		cert     []byte
		key      []byte
		at       time.Time
		wantErr  error
		wantText string
	}{
		{"not a CA", leafCert, leafKey, now, ErrNotCA, "not a CA"},
		{"no certSign", noSignCert, noSignKey, now, ErrNoCertSign, "lacks the certSign"},
		{"expired", inter.ChainPEM(), keyPEMOf(t, inter.Key),
			inter.Cert.NotAfter.Add(time.Second), ErrExpired, "has expired"},
		{"not yet valid", inter.ChainPEM(), keyPEMOf(t, inter.Key),
			inter.Cert.NotBefore.Add(-time.Second), ErrNotYetValid, "not yet valid"},
		{"mismatched key", inter.ChainPEM(), keyPEMOf(t, otherRoot.Key), now,
			ErrKeyMismatch, "does not match"},
		{"chain from another root", append(PEM(inter.Cert), PEM(otherRoot.Cert)...),
			keyPEMOf(t, inter.Key), now, ErrBadChain, "is not signed by"},
		{"no certificate", keyPEMOf(t, inter.Key), keyPEMOf(t, inter.Key), now, nil,
			"no CERTIFICATE PEM block"},
		{"no key", inter.ChainPEM(), inter.ChainPEM(), now, nil, "no private key"},
		{"encrypted key", inter.ChainPEM(), []byte(encryptedKeyPEM), now, nil,
			"encrypted PEM keys are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadAuthority(tt.cert, tt.key, tt.at)
			checkErr(t, "load", err, tt.wantErr, tt.wantText)
		})
	}
}

const encryptedKeyPEM = `-----BEGIN ENCRYPTED PRIVATE KEY-----
MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhTZXN0U2FsdAICCAAw
DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEAAAAAAAAAAAAAAAAAAAAAAEQAAA
-----END ENCRYPTED PRIVATE KEY-----
`

// caTemplate returns a CA certificate template valid around now, changed by edit.
func caTemplate(now time.Time, edit func(*x509.Certificate)) *x509.Certificate {
	c := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Handmade"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	edit(c)
	return c
}
