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
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// inventory stands in for the certificate service: versions of the server's certificate
// issued by the test CA, one of them current.
type inventory struct {
	mu       sync.Mutex
	versions map[string]*tls.Certificate
	current  string
	fail     error
	loads    int // versions handed out in full
}

func newInventory() *inventory { return &inventory{versions: map[string]*tls.Certificate{}} }

// issue adds version id for hosts and makes it current.
func (inv *inventory) issue(t *testing.T, id string, hosts []string) *x509.Certificate {
	t.Helper()
	key, err := ca.GenerateKey("ecdsa-p256")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	req := ca.LeafRequest{PublicKey: key.Public(), CommonName: hosts[0],
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			req.IPAddresses = append(req.IPAddresses, ip)
		} else {
			req.DNSNames = append(req.DNSNames, h)
		}
	}
	leaf, chain, err := theIssuer(t).Issue(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	pair := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for rest := chain; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		pair.Certificate = append(pair.Certificate, b.Bytes)
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.versions[id], inv.current = pair, id
	return leaf
}

func (inv *inventory) ServerKeyPair(_ context.Context, have string) (string, *tls.Certificate,
	error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.fail != nil {
		return "", nil, inv.fail
	}
	if inv.current == have {
		return have, nil, nil
	}
	inv.loads++
	return inv.current, inv.versions[inv.current], nil
}

func (inv *inventory) setFail(err error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.fail = err
}

func newManaged(t *testing.T, inv *inventory, dir string) *Managed {
	t.Helper()
	m, err := NewManaged(t.Context(), inv, dir, discardLog())
	if err != nil {
		t.Fatalf("NewManaged: %v", err)
	}
	return m
}

type certGetter interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// serve returns the certificate src hands to a handshake, with its leaf parsed from the
// DER so the test does not rely on the Leaf field the code under test fills in.
func serve(t *testing.T, src certGetter) (*tls.Certificate, *x509.Certificate) {
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

func TestManagedServesTheCurrentVersion(t *testing.T) {
	inv := newInventory()
	issued := inv.issue(t, "ver-1", testHosts)
	dir := filepath.Join(t.TempDir(), "tls")
	// A certificate and key a version before the inventory kept them on disk.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"server.pem", "server.key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := newManaged(t, inv, dir)

	served, leaf := serve(t, m)
	if !leaf.Equal(issued) {
		t.Fatalf("served leaf: got serial %v, want the current version's %v",
			leaf.SerialNumber, issued.SerialNumber)
	}
	root := readRoot(t, dir)
	if n := len(served.Certificate); n != 3 || !bytes.Equal(served.Certificate[n-1], root.Raw) {
		t.Errorf("served chain: got %d certificates, want leaf, intermediate and the root "+
			"in %s", n, RootFile)
	}
	for _, name := range []string{"server.pem", "server.key"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s of an earlier version: got %v, want it removed", name, err)
		}
	}
}

func TestManagedServedChainVerifiesWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		storetest.MissingPeer(t, "openssl not found: install the openssl package")
	}
	inv := newInventory()
	inv.issue(t, "ver-1", testHosts)
	dir := t.TempDir()
	served, _ := serve(t, newManaged(t, inv, dir))

	// openssl verify checks the first certificate of a file: hand it the leaf alone and
	// the served chain as untrusted.
	write := func(name string, ders [][]byte) string {
		var text []byte
		for _, d := range ders {
			text = append(text, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, text, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	leafPath := write("leaf.pem", served.Certificate[:1])
	chainPath := write("chain.pem", served.Certificate)
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
				"-untrusted", chainPath}, tt.args...)
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

func TestManagedRefresh(t *testing.T) {
	inv := newInventory()
	first := inv.issue(t, "ver-1", testHosts)
	m := newManaged(t, inv, t.TempDir())

	// Nothing new: the version served is not loaded again.
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, leaf := serve(t, m); !leaf.Equal(first) || inv.loads != 1 {
		t.Errorf("refresh without a new version: serial %v after %d loads, want %v after 1",
			leaf.SerialNumber, inv.loads, first.SerialNumber)
	}

	// A renewal made a new version.
	second := inv.issue(t, "ver-2", append(slices.Clone(testHosts), "new.example"))
	if err := m.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, leaf := serve(t, m); !leaf.Equal(second) {
		t.Errorf("after a new version: got serial %v, want %v", leaf.SerialNumber,
			second.SerialNumber)
	}

	// The database is unreachable: the refresh fails and the certificate stays.
	inv.issue(t, "ver-3", testHosts)
	inv.setFail(errors.New("database unreachable"))
	if err := m.Refresh(t.Context()); err == nil || !strings.Contains(err.Error(),
		"database unreachable") {
		t.Errorf("refresh with the database down: got %v, want its error", err)
	}
	if _, leaf := serve(t, m); !leaf.Equal(second) {
		t.Errorf("with the database down: got serial %v, want %v still served",
			leaf.SerialNumber, second.SerialNumber)
	}
}

func TestManagedWatch(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
		signal   bool
	}{
		// Versions another replica issued are found by looking on every tick.
		{name: "tick", interval: 10 * time.Millisecond},
		// The tick is far off: only the signal that a version was issued here can wake it.
		{name: "issued here", interval: time.Hour, signal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInventory()
			inv.issue(t, "ver-1", testHosts)
			m := newManaged(t, inv, t.TempDir())
			ctx, cancel := context.WithCancel(t.Context())
			issued := make(chan struct{})
			done := make(chan struct{})
			go func() { m.Watch(ctx, tt.interval, issued); close(done) }()
			defer func() { cancel(); <-done }()

			next := inv.issue(t, "ver-2", testHosts)
			if tt.signal {
				issued <- struct{}{}
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, leaf := serve(t, m); leaf.Equal(next) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("Watch did not serve the new version within 10 s")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func TestNewManagedWithoutVersion(t *testing.T) {
	inv := newInventory()
	inv.setFail(errors.New("the server's certificate has not been issued yet"))
	if _, err := NewManaged(t.Context(), inv, t.TempDir(), discardLog()); err == nil ||
		!strings.Contains(err.Error(), "not been issued") {
		t.Errorf("NewManaged without a version: got %v, want the inventory's error", err)
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
