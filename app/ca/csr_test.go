package ca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseCSR(t *testing.T) {
	requireOpenSSL(t)
	dir := t.TempDir()
	openssl(t, dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-keyout", "k.pem", "-subj", "/CN=csr.example.test",
		"-addext", "subjectAltName=DNS:csr.example.test,DNS:alt.example.test",
		"-out", "csr.pem")
	openssl(t, dir, "req", "-in", "csr.pem", "-outform", "DER", "-out", "csr.der")
	pemCSR, derCSR := readFile(t, dir, "csr.pem"), readFile(t, dir, "csr.der")
	legacy := pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: derCSR})
	badSig := bytes.Clone(derCSR)
	badSig[len(badSig)-1] ^= 0x01
	certPEM := PEM(issueLeaf(t, mustInter(t), "x.example.test", testNow()))

	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"openssl pem", pemCSR, nil},
		{"openssl der", derCSR, nil},
		{"legacy pem header", legacy, nil},
		{"pem with leading text", append([]byte("request follows\n"), pemCSR...), nil},
		{"certificate pem", certPEM, ErrNotCSR},
		{"garbage", []byte("hello"), ErrNotCSR},
		{"empty", nil, ErrNotCSR},
		{"truncated der", derCSR[:len(derCSR)-10], ErrNotCSR},
		{"bad signature", badSig, ErrCSRSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := ParseCSR(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("parse: got %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			want := []string{"csr.example.test", "alt.example.test"}
			if csr.Subject.CommonName != "csr.example.test" || !slices.Equal(csr.DNSNames, want) {
				t.Errorf("parse: got %q %v, want csr.example.test %v",
					csr.Subject.CommonName, csr.DNSNames, want)
			}
		})
	}
}

func TestParseCSRErrorsNameTheProblem(t *testing.T) {
	_, err := ParseCSR(PEM(issueLeaf(t, mustInter(t), "x.example.test", testNow())))
	if err == nil || !strings.Contains(err.Error(), `PEM block is "CERTIFICATE"`) {
		t.Errorf("parse certificate: got %v, want the block type named", err)
	}
}

func TestParseCSRFromGo(t *testing.T) {
	for _, spec := range []string{ECDSAP384, RSA2048, Ed25519} {
		key := testKey(t, spec)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: spec}}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := ParseCSR(der)
		if err != nil || csr.Subject.CommonName != spec {
			t.Errorf("parse %s csr: got %v, want its subject", spec, err)
		}
	}
}

// TestFuzzSeedsHoldAValidCSR keeps the committed corpus useful: one seed must parse.
func TestFuzzSeedsHoldAValidCSR(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParseCSR", "valid_pem"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" {
		t.Fatalf("seed: got %d lines starting %q, want the go test fuzz v1 format",
			len(lines), lines[0])
	}
	body, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("),
		")"))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := ParseCSR([]byte(body)); err != nil {
		t.Errorf("valid seed: got %v, want it to parse", err)
	}
}

func FuzzParseCSR(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		csr, err := ParseCSR(in)
		if err != nil {
			if !errors.Is(err, ErrNotCSR) && !errors.Is(err, ErrCSRSignature) {
				t.Fatalf("parse: got %v, want ErrNotCSR or ErrCSRSignature", err)
			}
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted csr fails its signature: %v", err)
		}
	})
}

// mustInter returns an intermediate CA for tests that need any issuer.
func mustInter(t *testing.T) *Authority {
	t.Helper()
	_, inter := newTestChain(t, ECDSAP256, testNow())
	return inter
}
