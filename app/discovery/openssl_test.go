package discovery

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"certctl/app/agentapi"
	"certctl/store/storetest"
)

// openssl runs the openssl binary in dir and returns its standard output, skipping the test
// when openssl is missing (see storetest.MissingPeer).
func openssl(t *testing.T, dir string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		storetest.MissingPeer(t, "openssl not found: install the openssl package")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// TestOpenSSLFiles scans what openssl writes: certificates, keys in their usual encodings
// beside them, and PKCS#12 bundles with the empty password, none or a real one.
func TestOpenSSLFiles(t *testing.T) {
	dir := t.TempDir()
	openssl(t, dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "web.key",
		"-out", "web.crt", "-subj", "/CN=web.example/O=Example, Inc.", "-days", "30",
		"-addext", "subjectAltName=DNS:web.example,IP:192.0.2.1")
	openssl(t, dir, "ecparam", "-name", "prime256v1", "-genkey", "-out", "ec.key")
	openssl(t, dir, "req", "-x509", "-key", "ec.key", "-out", "ec.pem", "-subj", "/CN=ec",
		"-days", "30")
	openssl(t, dir, "x509", "-in", "ec.pem", "-outform", "DER", "-out", "ec.der")
	openssl(t, dir, "req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", "ed.key",
		"-out", "ed.cer", "-subj", "/CN=ed", "-days", "30")
	openssl(t, dir, "pkey", "-in", "web.key", "-traditional", "-out", "trad.key")
	openssl(t, dir, "x509", "-in", "web.crt", "-out", "trad.crt")
	openssl(t, dir, "x509", "-in", "web.crt", "-text", "-out", "text.txt")
	export := []string{"pkcs12", "-export", "-in", "web.crt", "-inkey", "web.key"}
	openssl(t, dir, append(export, "-passout", "pass:", "-out", "web.p12")...)
	openssl(t, dir, append(export, "-passout", "pass:secret", "-out", "locked.pfx")...)
	openssl(t, dir, append(export, "-keypbe", "NONE", "-certpbe", "NONE", "-nomac",
		"-passout", "pass:", "-out", "plain.p12")...)
	openssl(t, dir, "pkcs12", "-export", "-in", "web.crt", "-nokeys", "-passout", "pass:",
		"-out", "certonly.p12")

	got := Scan(context.Background(), []string{dir}, Options{})
	found, problems := index(t, got)

	want := map[string]struct {
		format, alg string
		keyFound    bool
	}{
		"web.crt":   {"pem", "rsa-2048", true},
		"trad.crt":  {"pem", "rsa-2048", true},
		"text.txt":  {"pem", "rsa-2048", false},
		"ec.pem":    {"pem", "ecdsa-p256", true},
		"ec.der":    {"der", "ecdsa-p256", true},
		"ed.cer":    {"pem", "ed25519", true},
		"web.p12":   {"pkcs12", "rsa-2048", true},
		"plain.p12": {"pkcs12", "rsa-2048", true},
	}
	for name, w := range want {
		d, ok := found[filepath.Join(dir, name)]
		if !ok {
			t.Errorf("%s: not found", name)
			continue
		}
		if d.Format != w.format || d.KeyAlgorithm != w.alg || d.KeyFound != w.keyFound {
			t.Errorf("%s: got %s, %s, key found %v; want %s, %s, %v", name, d.Format,
				d.KeyAlgorithm, d.KeyFound, w.format, w.alg, w.keyFound)
		}
	}
	if len(found) != len(want) {
		t.Errorf("got certificates at %v, want %d", keys(found), len(want))
	}
	// A bundle without a key is read only in Java's trust store form (see parsePKCS12), so
	// openssl's -nokeys bundle is reported rather than silently missed.
	for name, problem := range map[string]string{
		"locked.pfx": "password", "certonly.p12": "private key missing"} {
		if p := problems[filepath.Join(dir, name)]; !strings.Contains(p, problem) {
			t.Errorf("%s: got problem %q, want one containing %q", name, p, problem)
		}
	}
	if len(problems) != 2 {
		t.Errorf("got problems %v, want 2", problems)
	}

	checkAgainstOpenSSL(t, dir, found[filepath.Join(dir, "web.crt")])
}

// checkAgainstOpenSSL compares the fingerprint, serial and subject of web.crt with what
// openssl prints for it.
func checkAgainstOpenSSL(t *testing.T, dir string, d agentapi.Discovered) {
	t.Helper()
	out := openssl(t, dir, "x509", "-in", "web.crt", "-noout", "-fingerprint", "-sha256",
		"-serial", "-subject", "-nameopt", "RFC2253")
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		fields[k] = v
	}
	fingerprint := strings.ToLower(strings.ReplaceAll(fields["sha256 Fingerprint"], ":", ""))
	serial := strings.TrimLeft(strings.ToLower(fields["serial"]), "0")
	if d.Fingerprint != fingerprint || d.Serial != serial || d.Subject != fields["subject"] {
		t.Errorf("got fingerprint %s, serial %s, subject %q; openssl says %s, %s, %q",
			d.Fingerprint, d.Serial, d.Subject, fingerprint, serial, fields["subject"])
	}
	if d.Subject != `O=Example\, Inc.,CN=web.example` {
		t.Errorf("got subject %q, want RFC 2253 order and escaping", d.Subject)
	}
}
