package deploy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/store/storetest"
)

// testPKI is a root and an intermediate CA that issue leaves for the tests.
type testPKI struct {
	rootPEM  string
	inter    *x509.Certificate
	interKey *ecdsa.PrivateKey
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	rootKey := newKey(t)
	root := sign(t, &x509.Certificate{SerialNumber: big.NewInt(1000),
		Subject: pkix.Name{CommonName: "certctl test root"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign},
		nil, rootKey, rootKey)
	interKey := newKey(t)
	inter := sign(t, &x509.Certificate{SerialNumber: big.NewInt(1001),
		Subject: pkix.Name{CommonName: "certctl test intermediate"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign},
		root, interKey, rootKey)
	return &testPKI{rootPEM: string(certPEM(root)), inter: inter, interKey: interKey}
}

// issue returns material for a leaf with the given serial for site.test and 127.0.0.1,
// with a key of its own.
func (p *testPKI) issue(t *testing.T, serial int64) Material {
	t.Helper()
	key := newKey(t)
	leaf := sign(t, &x509.Certificate{SerialNumber: big.NewInt(serial),
		Subject: pkix.Name{CommonName: "site.test"}, DNSNames: []string{"site.test"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		p.inter, key, p.interKey)
	return Material{CertPEM: string(certPEM(leaf)), ChainPEM: string(certPEM(p.inter)),
		Key: key}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sign makes tmpl a certificate for key, signed by parentKey as parent (self-signed when
// parent is nil).
func sign(t *testing.T, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey,
) *x509.Certificate {
	t.Helper()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// keyPEM is the PKCS#8 PEM Deploy writes for m's key.
func keyPEM(t *testing.T, m Material) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(m.Key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// needTool skips t when a program it runs is missing, or fails it when
// CERTCTL_TEST_REQUIRE_ALL=1 (as in CI), so that nothing is skipped silently there.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			storetest.MissingPeer(t, name+" is missing: install the package that has it")
		}
	}
}

// run runs a program a test checks the result with, failing t when it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeTestFile writes content to path with mode, creating its directory.
func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
