package servertls

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/ca"
	"certctl/store/storetest"
)

var testHosts = []string{"localhost", "127.0.0.1", "::1", "myhost.example"}

// clock is an injected time source that a test moves by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func discardLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testIssuer is a root and an intermediate made in memory, standing in for the local CA.
type testIssuer struct{ inter *ca.Authority }

var (
	issuerOnce sync.Once
	sharedCA   *testIssuer
)

func theIssuer(t *testing.T) *testIssuer {
	issuerOnce.Do(func() {
		now := time.Now()
		tmpl := ca.Template{CommonName: "test root", KeySpec: "ecdsa-p256",
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour)}
		root, err := ca.NewRoot(tmpl)
		if err != nil {
			panic(err)
		}
		tmpl.CommonName = "test intermediate"
		inter, err := root.NewIntermediate(tmpl)
		if err != nil {
			panic(err)
		}
		sharedCA = &testIssuer{inter: inter}
	})
	return sharedCA
}

func (i *testIssuer) Issue(_ context.Context, r ca.LeafRequest) (*x509.Certificate, []byte,
	error) {
	leaf, err := i.inter.Issue(r)
	return leaf, i.inter.ChainPEM(), err
}

func (i *testIssuer) Issued(leaf *x509.Certificate) bool {
	return leaf.CheckSignatureFrom(i.inter.Cert) == nil
}

func newSelfIssued(t *testing.T, dir string, hosts []string, now func() time.Time) *Source {
	t.Helper()
	src, err := Issued(dir, hosts, theIssuer(t), now, discardLog())
	if err != nil {
		t.Fatalf("Issued(%v): %v", hosts, err)
	}
	return src
}

// serve returns the certificate src hands to a handshake, with its leaf parsed from the
// DER so the test does not rely on the Leaf field the code under test fills in.
func serve(t *testing.T, src *Source) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	c, err := src.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatalf("GetCertificate: got error %v, want nil", err)
	}
	if c == nil || len(c.Certificate) == 0 {
		t.Fatalf("GetCertificate: got no certificate")
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatalf("parse served leaf: %v", err)
	}
	return c, leaf
}

// readRoot parses the only certificate in dir's ca.pem.
func readRoot(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, RootFile))
	if err != nil {
		t.Fatalf("read root: %v", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: got no CERTIFICATE block", RootFile)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("%s: got trailing data after the root, want only the root", RootFile)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parse root: %v", err)
	}
	return root
}

// verifyLeaf checks leaf for host as a TLS client trusting only root would at time at.
func verifyLeaf(leaf, root *x509.Certificate, host string, at time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inters := x509.NewCertPool()
	inters.AddCert(sharedCA.inter.Cert)
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       host,
		Roots:         roots,
		Intermediates: inters,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}

func TestSelfIssuedCreatesFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	newSelfIssued(t, dir, testHosts, time.Now)

	tests := []struct {
		name     string
		file     string
		wantMode os.FileMode // zero when any mode will do
	}{
		{name: "root certificate", file: "ca.pem"},
		{name: "server certificate", file: "server.pem"},
		{name: "server key", file: "server.key", wantMode: 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(filepath.Join(dir, tt.file))
			if err != nil {
				t.Fatalf("stat %s: got %v, want the file to exist", tt.file, err)
			}
			if fi.Size() == 0 {
				t.Errorf("%s: got an empty file", tt.file)
			}
			if got := fi.Mode().Perm(); tt.wantMode != 0 && got != tt.wantMode {
				t.Errorf("%s mode: got %#o, want %#o", tt.file, got, tt.wantMode)
			}
		})
	}
}

func TestSelfIssuedLeafVerifiesForEveryHost(t *testing.T) {
	dir := t.TempDir()
	src := newSelfIssued(t, dir, testHosts, time.Now)
	_, leaf := serve(t, src)
	root := readRoot(t, dir)

	tests := []struct {
		name string
		host string
	}{
		{name: "dns localhost", host: "localhost"},
		{name: "ipv4 loopback", host: "127.0.0.1"},
		{name: "ipv6 loopback", host: "::1"},
		{name: "dns other name", host: "myhost.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := verifyLeaf(leaf, root, tt.host, time.Now()); err != nil {
				t.Errorf("verify for %q: got %v, want nil", tt.host, err)
			}
		})
	}

	if err := verifyLeaf(leaf, root, "other.example", time.Now()); err == nil {
		t.Errorf("verify for unlisted host: got nil, want an error")
	}
	if leaf.IsCA {
		t.Errorf("leaf IsCA: got true, want false")
	}
}

func TestSelfIssuedLeafSerial(t *testing.T) {
	src := newSelfIssued(t, t.TempDir(), testHosts, time.Now)
	_, leaf := serve(t, src)

	// A uniformly drawn 128-bit serial is shorter than 120 bits once in 256 draws, so a
	// single serial is held only to the 64-bit entropy floor; TestSerialLength checks the
	// range over many draws.
	if got := leaf.SerialNumber.BitLen(); got < 64 {
		t.Errorf("leaf serial bits: got %d, want at least 64", got)
	}
	if leaf.SerialNumber.Sign() <= 0 {
		t.Errorf("leaf serial: got %v, want positive", leaf.SerialNumber)
	}
}

func TestSelfIssuedVerifiesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		storetest.MissingPeer(t, "openssl not found: install the openssl package")
	}
	dir := t.TempDir()
	newSelfIssued(t, dir, testHosts, time.Now)

	// server.pem holds the leaf, the intermediate and the root; openssl verify checks only
	// the first certificate of a file, so hand it the leaf alone and the rest as untrusted.
	chain, err := os.ReadFile(filepath.Join(dir, "server.pem"))
	if err != nil {
		t.Fatalf("read server.pem: %v", err)
	}
	block, _ := pem.Decode(chain)
	if block == nil {
		t.Fatalf("server.pem: got no PEM block")
	}
	leafPath := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(leafPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("write leaf: %v", err)
	}
	serverPath := filepath.Join(dir, "server.pem")

	tests := []struct {
		name string
		args []string
	}{
		{name: "chain", args: nil},
		{name: "server purpose", args: []string{"-purpose", "sslserver"}},
		{name: "dns name", args: []string{"-verify_hostname", "myhost.example"}},
		{name: "ipv4 address", args: []string{"-verify_ip", "127.0.0.1"}},
		{name: "ipv6 address", args: []string{"-verify_ip", "::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"verify", "-CAfile", filepath.Join(dir, RootFile),
				"-untrusted", serverPath}, tt.args...)
			args = append(args, leafPath)
			out, err := exec.Command(openssl, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl %s: got %v, want success\n%s", strings.Join(args, " "), err, out)
			}
			if !strings.Contains(string(out), ": OK") {
				t.Errorf("openssl verify output: got %q, want it to report OK", out)
			}
		})
	}
}

func TestSelfIssuedRestart(t *testing.T) {
	tests := []struct {
		name         string
		restartHosts []string
		wantSameLeaf bool
	}{
		{name: "same hosts", restartHosts: testHosts, wantSameLeaf: true},
		{
			name:         "host added",
			restartHosts: append(append([]string{}, testHosts...), "new.example"),
			wantSameLeaf: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, before := serve(t, newSelfIssued(t, dir, testHosts, time.Now))
			rootBefore := readRoot(t, dir)

			served, after := serve(t, newSelfIssued(t, dir, tt.restartHosts, time.Now))
			rootAfter := readRoot(t, dir)

			if !rootAfter.Equal(rootBefore) {
				t.Errorf("root after restart: got serial %v, want the first root's serial %v",
					rootAfter.SerialNumber, rootBefore.SerialNumber)
			}
			if n := len(served.Certificate); n < 2 ||
				!bytes.Equal(served.Certificate[n-1], rootBefore.Raw) {
				t.Errorf("served chain: got %d certificates, want it to end with the first root",
					n)
			}
			sameSerial := after.SerialNumber.Cmp(before.SerialNumber) == 0
			if sameSerial != tt.wantSameLeaf {
				t.Errorf("same leaf after restart: got %v (serial %v, before %v), want %v",
					sameSerial, after.SerialNumber, before.SerialNumber, tt.wantSameLeaf)
			}
			for _, h := range tt.restartHosts {
				if err := verifyLeaf(after, rootBefore, h, time.Now()); err != nil {
					t.Errorf("verify %q against the first root: got %v, want nil", h, err)
				}
			}
		})
	}
}

func TestSelfIssuedRenewal(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name    string
		steps   []time.Duration // clock offsets from issuance, one GetCertificate each
		wantNew bool
	}{
		{name: "10 days", steps: []time.Duration{10 * day}, wantNew: false},
		{name: "61 days", steps: []time.Duration{61 * day}, wantNew: true},
		{name: "10 then 61 days", steps: []time.Duration{10 * day, 61 * day}, wantNew: true},
		{
			name:    "due within check interval",
			steps:   []time.Duration{60*day - 30*time.Second, 60*day + 10*time.Second},
			wantNew: false,
		},
		{
			name:    "due after check interval",
			steps:   []time.Duration{60*day - 30*time.Second, 60*day + 30*time.Second},
			wantNew: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			start := time.Now().Truncate(time.Second)
			clk := &clock{t: start}
			src := newSelfIssued(t, dir, testHosts, clk.now)
			_, first := serve(t, src)
			root := readRoot(t, dir)

			var got *x509.Certificate
			for _, d := range tt.steps {
				clk.t = start.Add(d)
				_, got = serve(t, src)
			}

			isNew := got.SerialNumber.Cmp(first.SerialNumber) != 0
			if isNew != tt.wantNew {
				t.Fatalf("new leaf at %v: got %v, want %v", tt.steps, isNew, tt.wantNew)
			}
			if !tt.wantNew {
				return
			}
			if !got.NotAfter.After(first.NotAfter) {
				t.Errorf("renewed NotAfter: got %v, want after %v", got.NotAfter, first.NotAfter)
			}
			for _, h := range testHosts {
				if err := verifyLeaf(got, root, h, clk.t); err != nil {
					t.Errorf("verify renewed leaf for %q: got %v, want nil", h, err)
				}
			}
		})
	}
}

// selfSigned returns a PEM certificate and key for a throwaway server named cn.
func selfSigned(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("create certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encode key: %v", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM
}

// writeFiles writes data to path and sets its modification time to mtime, so a reload
// never hinges on the file system's timestamp resolution.
func writeFiles(t *testing.T, mtime time.Time, files map[string][]byte) {
	t.Helper()
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatalf("set times of %s: %v", path, err)
		}
	}
}

// fromFilesWithClock builds a FromFiles source whose check interval runs on an injected
// clock, since FromFiles itself reads the wall clock.
func fromFilesWithClock(t *testing.T, certPath, keyPath string) (*Source, *clock) {
	t.Helper()
	src, err := FromFiles(certPath, keyPath, discardLog())
	if err != nil {
		t.Fatalf("FromFiles: got error %v, want nil", err)
	}
	clk := &clock{t: src.checked}
	src.now = clk.now
	return src, clk
}

func TestFromFilesReloadsChangedFiles(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	oldCert, oldKey := selfSigned(t, "old.example")
	writeFiles(t, time.Now().Add(-time.Hour), map[string][]byte{certPath: oldCert, keyPath: oldKey})

	src, clk := fromFilesWithClock(t, certPath, keyPath)
	if _, leaf := serve(t, src); leaf.Subject.CommonName != "old.example" {
		t.Fatalf("served at start: got %q, want %q", leaf.Subject.CommonName, "old.example")
	}
	start := clk.t

	newCert, newKey := selfSigned(t, "new.example")
	writeFiles(t, time.Now(), map[string][]byte{certPath: newCert, keyPath: newKey})

	tests := []struct {
		name   string
		offset time.Duration
		wantCN string
	}{
		{name: "within check interval", offset: 30 * time.Second, wantCN: "old.example"},
		{name: "after check interval", offset: checkEvery, wantCN: "new.example"},
		{name: "later checks", offset: 5 * checkEvery, wantCN: "new.example"},
	}
	// The cases run in order against one source: each moves the clock further.
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.t = start.Add(tt.offset)
			if _, leaf := serve(t, src); leaf.Subject.CommonName != tt.wantCN {
				t.Errorf("served: got %q, want %q", leaf.Subject.CommonName, tt.wantCN)
			}
		})
	}
}

func TestFromFilesMissingFiles(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, "server.example")
	tests := []struct {
		name  string
		files map[string][]byte // by base name
	}{
		{name: "both missing", files: nil},
		{name: "certificate missing", files: map[string][]byte{"tls.key": keyPEM}},
		{name: "key missing", files: map[string][]byte{"tls.crt": certPEM}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				writeFiles(t, time.Now(), map[string][]byte{filepath.Join(dir, name): data})
			}
			src, err := FromFiles(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"),
				discardLog())
			if err == nil {
				t.Fatalf("FromFiles: got nil error, want one")
			}
			if src != nil {
				t.Errorf("FromFiles source: got %v, want nil", src)
			}
		})
	}
}

func TestFromFilesKeepsServingWhenFilesBreak(t *testing.T) {
	otherCert, otherKey := selfSigned(t, "other.example")
	tests := []struct {
		name       string
		breakFiles func(t *testing.T, certPath, keyPath string)
	}{
		{
			name: "files removed",
			breakFiles: func(t *testing.T, certPath, keyPath string) {
				for _, p := range []string{certPath, keyPath} {
					if err := os.Remove(p); err != nil {
						t.Fatalf("remove %s: %v", p, err)
					}
				}
			},
		},
		{
			name: "certificate garbled",
			breakFiles: func(t *testing.T, certPath, _ string) {
				writeFiles(t, time.Now(), map[string][]byte{certPath: []byte("not a certificate")})
			},
		},
		{
			name: "key from another pair",
			breakFiles: func(t *testing.T, _, keyPath string) {
				writeFiles(t, time.Now(), map[string][]byte{keyPath: otherKey})
			},
		},
		{
			name: "certificate from another pair",
			breakFiles: func(t *testing.T, certPath, _ string) {
				writeFiles(t, time.Now(), map[string][]byte{certPath: otherCert})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certPath, keyPath := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
			certPEM, keyPEM := selfSigned(t, "server.example")
			writeFiles(t, time.Now().Add(-time.Hour),
				map[string][]byte{certPath: certPEM, keyPath: keyPEM})
			src, clk := fromFilesWithClock(t, certPath, keyPath)
			_, before := serve(t, src)

			tt.breakFiles(t, certPath, keyPath)
			for i := range 3 {
				clk.t = clk.t.Add(checkEvery)
				if _, got := serve(t, src); !got.Equal(before) {
					t.Errorf("check %d after break: got %q, want the old %q",
						i+1, got.Subject.CommonName, before.Subject.CommonName)
				}
			}
		})
	}
}
