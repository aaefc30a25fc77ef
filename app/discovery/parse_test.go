package discovery

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"software.sslmate.com/src/go-pkcs12"
)

func TestDescribe(t *testing.T) {
	c := newChain(t)
	sum := sha256.Sum256(c.leaf.Raw)

	d := Describe(c.leaf, "/etc/ssl/web.pem", "pem")

	if d.Fingerprint != hex.EncodeToString(sum[:]) {
		t.Errorf("got fingerprint %s", d.Fingerprint)
	}
	if d.Serial != c.leaf.SerialNumber.Text(16) || strings.ToLower(d.Serial) != d.Serial {
		t.Errorf("got serial %s, want lower-case hex %x", d.Serial, c.leaf.SerialNumber)
	}
	if d.Subject != "CN=www.example.com" || d.CommonName != "www.example.com" ||
		d.Issuer != "CN=Test Intermediate" {
		t.Errorf("got subject %q, common name %q, issuer %q", d.Subject, d.CommonName, d.Issuer)
	}
	wantSANs := []string{"www.example.com", "example.com", "192.0.2.10", "ops@example.com",
		"spiffe://example.com/web"}
	if diff := cmp.Diff(wantSANs, d.SANs); diff != "" {
		t.Errorf("SANs (-want +got):\n%s", diff)
	}
	if d.KeyAlgorithm != "ecdsa-p256" || d.KeyBits != 256 || d.IsCA {
		t.Errorf("got key %s/%d, CA %v", d.KeyAlgorithm, d.KeyBits, d.IsCA)
	}
	if !d.NotAfter.Equal(c.leaf.NotAfter) || d.NotAfter.Location().String() != "UTC" {
		t.Errorf("got not after %v, want %v in UTC", d.NotAfter, c.leaf.NotAfter)
	}
	block, _ := pem.Decode([]byte(d.CertPEM))
	if block == nil || !bytes.Equal(block.Bytes, c.leaf.Raw) {
		t.Error("CertPEM does not hold the certificate")
	}
	if root := Describe(c.root, "", ""); root.Subject != "CN=Test Root,O=certctl" || !root.IsCA {
		t.Errorf("got root subject %q, CA %v", root.Subject, root.IsCA)
	}
}

func TestDescribeKeyAlgorithms(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name string
		key  crypto.Signer
		alg  string
		bits int
	}{
		{"rsa", rsaKey, "rsa-2048", 2048},
		{"p384", p384, "ecdsa-p384", 384},
		{"p521 named though the CA refuses it", p521, "ecdsa-p521", 521},
		{"ed25519", edKey, "ed25519", 256},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := selfSigned(t, tc.key)
			d := Describe(cert, "", "")
			if d.KeyAlgorithm != tc.alg || d.KeyBits != tc.bits {
				t.Errorf("got %s/%d, want %s/%d", d.KeyAlgorithm, d.KeyBits, tc.alg, tc.bits)
			}
		})
	}
}

func selfSigned(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(255), Subject: pkix.Name{CommonName: "k"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestParseFile(t *testing.T) {
	c := newChain(t)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(c.leafKey)
	trusted := append(append([]byte{}, c.root.Raw...), 0x30, 0x00) // empty trust settings
	tests := []struct {
		name    string
		file    string
		data    []byte
		format  string
		certs   int
		keys    int
		problem string // "" for none; errUnrecognized problems start "no certificate"
	}{
		{"pem chain with text around", "a", append(append([]byte("subject=x\n"),
			certPEM(c.leaf, c.inter)...), "trailer\n"...), "pem", 2, 0, ""},
		{"trusted certificate", "a", pem.EncodeToMemory(&pem.Block{
			Type: "TRUSTED CERTIFICATE", Bytes: trusted}), "pem", 1, 0, ""},
		{"der certificate", "a", c.leaf.Raw, "der", 1, 0, ""},
		{"der key", "a", keyDER, "der", 0, 1, ""},
		{"pem key only", "a", keyPEM(t, c.leafKey), "pem", 0, 1, ""},
		{"csr is not a certificate", "a", pem.EncodeToMemory(&pem.Block{
			Type: "CERTIFICATE REQUEST", Bytes: []byte{1}}), "pem", 0, 0, ""},
		{"damaged certificate block", "a", pem.EncodeToMemory(&pem.Block{
			Type: "CERTIFICATE", Bytes: []byte{0x30, 0}}), "pem", 0, 0, "certificate 1"},
		{"damaged base64", "a", []byte("-----BEGIN CERTIFICATE-----\n!!!\n" +
			"-----END CERTIFICATE-----\n"), "pem", 0, 0, "truncated or damaged"},
		{"empty", "a", []byte(" \n"), "", 0, 0, "no certificate"},
		{"text", "a", []byte("hello"), "", 0, 0, "no certificate"},
		{"der garbage says why", "a.der", []byte{0x30, 3, 1, 2, 3}, "", 0, 0, "x509"},
		{"p12 garbage", "a.p12", []byte{0x30, 3, 1, 2, 3}, "", 0, 0, "no certificate"},
		{"pkcs12", "a", p12(t, pkcs12.Modern, c, ""), "pkcs12", 2, 1, ""},
		{"pkcs12 with password", "a", p12(t, pkcs12.Modern, c, "x"), "", 0, 0, "password"},
		{"legacy pkcs12", "a", p12(t, pkcs12.LegacyDES, c, ""), "pkcs12", 2, 1, ""},
		{"java trust store", "a", trustStore(t, c), "pkcs12", 2, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFile(tc.file, tc.data)
			if got.format != tc.format && tc.problem == "" || len(got.certs) != tc.certs ||
				len(got.keys) != tc.keys {
				t.Errorf("got format %q, %d certificates, %d keys; want %q, %d, %d",
					got.format, len(got.certs), len(got.keys), tc.format, tc.certs, tc.keys)
			}
			switch {
			case tc.problem == "" && err != nil:
				t.Errorf("got error %v, want none", err)
			case tc.problem != "" && (err == nil || !strings.Contains(err.Error(), tc.problem)):
				t.Errorf("got error %v, want one containing %q", err, tc.problem)
			}
		})
	}
}

func trustStore(t *testing.T, c chain) []byte {
	t.Helper()
	data, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{c.root, c.inter}, "")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestPKCS12IterationLimit(t *testing.T) {
	c := newChain(t)
	if n := kdfIterations(p12(t, pkcs12.Modern, c, ""), 0); n != 2048 {
		t.Errorf("got %d iterations in an ordinary bundle, want 2048", n)
	}

	// A bundle whose MAC asks for five million iterations: refused before any derivation,
	// which would otherwise end in a MAC mismatch after seconds of work.
	type algorithm struct{ OID asn1.ObjectIdentifier }
	type digestInfo struct {
		Algorithm algorithm
		Digest    []byte
	}
	type macData struct {
		Mac        digestInfo
		Salt       []byte
		Iterations int
	}
	type contentInfo struct {
		Type    asn1.ObjectIdentifier
		Content []byte `asn1:"explicit,tag:0"`
	}
	type pfx struct {
		Version  int
		AuthSafe contentInfo
		MacData  macData
	}
	data, err := asn1.Marshal(pfx{
		Version:  3,
		AuthSafe: contentInfo{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, []byte{0x30, 0}},
		MacData: macData{digestInfo{algorithm{asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}},
			make([]byte, 20)}, make([]byte, 8), 5_000_000},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = parseFile("evil.bin", data)
	if err == nil || !strings.Contains(err.Error(), "5000000 key derivation iterations") {
		t.Errorf("got %v, want the iteration count refused", err)
	}
	if errors.Is(err, errUnrecognized) {
		t.Error("a PKCS#12 bundle refused for its cost must be reported whatever its name")
	}
}
