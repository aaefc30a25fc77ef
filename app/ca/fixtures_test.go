package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/store/storetest"
)

// requireOpenSSL returns the openssl binary, skipping the test when it is missing unless
// CERTCTL_TEST_REQUIRE_ALL=1 asks for every peer to be present.
func requireOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err == nil {
		return path
	}
	storetest.MissingPeer(t, "openssl not found: install the openssl package")
	return ""
}

// openssl runs the openssl binary in dir and returns its combined output, failing the test
// when it exits non-zero.
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := opensslErr(t, dir, args...)
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// opensslErr runs the openssl binary in dir and returns its combined output and exit error.
func opensslErr(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(requireOpenSSL(t), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeFile writes data to name in dir and returns name, for openssl arguments.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// readFile reads name in dir.
func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testNow is the clock of tests whose output openssl checks against the real time.
func testNow() time.Time { return time.Now().Truncate(time.Second) }

// newTestChain makes a root and an intermediate of one key spec, valid around now.
func newTestChain(t testing.TB, spec string, now time.Time) (root, inter *Authority) {
	t.Helper()
	root, err := NewRoot(Template{
		CommonName:   "Test Root " + spec,
		Organization: "certctl tests",
		KeySpec:      spec,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("new root: %v", err)
	}
	inter, err = root.NewIntermediate(Template{
		CommonName: "Test Intermediate " + spec,
		KeySpec:    spec,
		NotBefore:  now.Add(-time.Hour),
		NotAfter:   now.Add(5 * 365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("new intermediate: %v", err)
	}
	return root, inter
}

// leafRequest returns a request naming one of each kind of name, with a new key of spec.
func leafRequest(t *testing.T, spec string, now time.Time) (LeafRequest, crypto.Signer) {
	t.Helper()
	key, err := GenerateKey(spec)
	if err != nil {
		t.Fatal(err)
	}
	uri, _ := url.Parse("spiffe://example.test/web")
	return LeafRequest{
		PublicKey:      key.Public(),
		CommonName:     "www.example.test",
		DNSNames:       []string{"www.example.test", "example.test"},
		IPAddresses:    []net.IP{net.ParseIP("192.0.2.10"), net.ParseIP("2001:db8::1")},
		EmailAddresses: []string{"ops@example.test"},
		URIs:           []*url.URL{uri},
		NotBefore:      now.Add(-time.Minute),
		NotAfter:       now.Add(90 * 24 * time.Hour),
	}, key
}

// issueLeaf issues a plain leaf for name from a.
func issueLeaf(t testing.TB, a *Authority, name string, now time.Time) *x509.Certificate {
	t.Helper()
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.Issue(LeafRequest{
		PublicKey:  key.Public(),
		CommonName: name,
		DNSNames:   []string{name},
		NotBefore:  now.Add(-time.Minute),
		NotAfter:   now.Add(24 * time.Hour),
	})
	if err != nil {
		t.Fatalf("issue %s: %v", name, err)
	}
	return cert
}

// selfSigned makes a certificate from tmpl signed by its own new P-256 key, returned as
// PEM with the key as PKCS#8 PEM.
func selfSigned(t *testing.T, tmpl *x509.Certificate) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := GenerateKey(ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEMOf(t, key)
}

// keyPEMOf encodes key as a PKCS#8 PEM block.
func keyPEMOf(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	der, err := MarshalKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
