package server

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"certctl/app/config"
	"certctl/store/sqlite"
	"certctl/store/storetest"

	"golang.org/x/crypto/ocsp"
)

const pkiKey = "pki-test-bootstrap-key-0123"

// pkiEnv is a running server on SQLite, with its job worker, and a folder for files handed
// to openssl.
type pkiEnv struct {
	t   *testing.T
	url string
	dir string
}

func newPKIEnv(t *testing.T) *pkiEnv {
	if _, err := exec.LookPath("openssl"); err != nil {
		storetest.MissingPeer(t, "the PKI tests need openssl: apt-get install openssl")
	}
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewUnstartedServer(nil)
	vals := map[string]string{"CERTCTL_AUTH_SECRET": pkiKey, "CERTCTL_DATA_DIR": dir,
		"CERTCTL_PUBLIC_URL":  "http://" + srv.Listener.Addr().String(),
		"CERTCTL_CA_KEY_TYPE": "ecdsa-p256"}
	cfg, err := config.Load(func(k string) (string, bool) { v, ok := vals[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	app, err := Build(context.Background(), cfg, st, slog.New(slog.NewTextHandler(io.Discard,
		nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { app.Work(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	srv.Config.Handler = app.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return &pkiEnv{t: t, url: srv.URL, dir: dir}
}

func (e *pkiEnv) call(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+pkiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// issue creates a server-key certificate and waits until it is Active; it returns its ID.
func (e *pkiEnv) issue(name string) string {
	e.t.Helper()
	status, body := e.call("POST", "/api/v1/certificates", `{"name":"`+name+
		`","common_name":"`+name+`.example.com","issuer_id":"iss-local","key_mode":"server"}`)
	if status != http.StatusCreated {
		e.t.Fatalf("create certificate: %d %s", status, body)
	}
	var c struct{ ID, Status string }
	json.Unmarshal(body, &c)
	deadline := time.Now().Add(10 * time.Second)
	for c.Status != "Active" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		_, body = e.call("GET", "/api/v1/certificates/"+c.ID, "")
		json.Unmarshal(body, &c)
	}
	if c.Status != "Active" {
		e.t.Fatalf("certificate %s did not become Active: %s", c.ID, body)
	}
	return c.ID
}

// save writes data into the test folder and returns its path.
func (e *pkiEnv) save(name string, data []byte) string {
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *pkiEnv) openssl(args ...string) string {
	e.t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		e.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// chainFiles fetches the published chain and writes the root and the intermediates apart.
func (e *pkiEnv) chainFiles() (root, inter string) {
	status, chain := e.call("GET", "/.well-known/pki/ca/iss-local", "")
	if status != http.StatusOK {
		e.t.Fatalf("CA chain: %d", status)
	}
	var blocks [][]byte
	for rest := chain; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		blocks = append(blocks, pem.EncodeToMemory(b))
	}
	if len(blocks) < 2 {
		e.t.Fatalf("the chain holds %d certificates, want an intermediate and the root",
			len(blocks))
	}
	return e.save("root.pem", blocks[len(blocks)-1]),
		e.save("inter.pem", bytes.Join(blocks[:len(blocks)-1], nil))
}

// leafFile exports a certificate's PEM and writes its leaf alone.
func (e *pkiEnv) leafFile(id string) (string, *x509.Certificate) {
	status, body := e.call("GET", "/api/v1/certificates/"+id+"/export/pem", "")
	if status != http.StatusOK || strings.Contains(string(body), "PRIVATE KEY") {
		e.t.Fatalf("export: %d %s", status, body)
	}
	b, _ := pem.Decode(body)
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.save(id+".pem", pem.EncodeToMemory(b)), cert
}

// TestPKIWithOpenSSL issues from the local CA, revokes, and checks the chain, the CRL and
// the OCSP responder with the openssl tools as the relying party.
func TestPKIWithOpenSSL(t *testing.T) {
	e := newPKIEnv(t)
	root, inter := e.chainFiles()
	goodID, revokedID := e.issue("good"), e.issue("revoked")
	goodPath, good := e.leafFile(goodID)
	revokedPath, revoked := e.leafFile(revokedID)

	for _, leaf := range []string{goodPath, revokedPath} {
		if out := e.openssl("verify", "-CAfile", root, "-untrusted", inter, leaf); !strings.
			Contains(out, ": OK") {
			t.Errorf("openssl verify %s: %s", leaf, out)
		}
	}
	if status, body := e.call("POST", "/api/v1/certificates/"+revokedID+"/revoke",
		`{"reason":"keyCompromise"}`); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}

	status, crl := e.call("GET", "/.well-known/pki/crl/iss-local", "")
	if status != http.StatusOK {
		t.Fatalf("CRL: %d", status)
	}
	crlPath := e.save("crl.der", crl)
	out := e.openssl("crl", "-inform", "DER", "-in", crlPath, "-CAfile", inter, "-noout",
		"-text")
	for _, want := range []string{"verify OK", "Next Update", "Key Compromise",
		strings.ToUpper(revoked.SerialNumber.Text(16))} {
		if !strings.Contains(strings.ToUpper(out), strings.ToUpper(want)) {
			t.Errorf("the CRL text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ToUpper(out), strings.ToUpper(good.SerialNumber.Text(16))) {
		t.Error("the CRL lists the certificate that was not revoked")
	}

	ocspURL := e.url + "/.well-known/pki/ocsp/iss-local"
	for path, want := range map[string]string{goodPath: ": good", revokedPath: ": revoked"} {
		out := e.openssl("ocsp", "-issuer", inter, "-cert", path, "-url", ocspURL,
			"-CAfile", root, "-resp_text")
		if !strings.Contains(out, want) || !strings.Contains(out, "Response verify OK") ||
			strings.Contains(out, "WARNING") {
			t.Errorf("openssl ocsp for %s: want %q and a verified answer:\n%s", path, want, out)
		}
	}
	e.checkOCSPGet(good, inter)
}

// checkOCSPGet asks with the GET form of RFC 6960: the base64 request in the path.
func (e *pkiEnv) checkOCSPGet(leaf *x509.Certificate, interPath string) {
	pemBytes, _ := os.ReadFile(interPath)
	b, _ := pem.Decode(pemBytes)
	issuer, _ := x509.ParseCertificate(b.Bytes)
	der, err := ocsp.CreateRequest(leaf, issuer, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	status, body := e.call("GET", "/.well-known/pki/ocsp/iss-local/"+
		strings.ReplaceAll(base64.StdEncoding.EncodeToString(der), "/", "%2F"), "")
	if status != http.StatusOK {
		e.t.Fatalf("OCSP GET: %d", status)
	}
	resp, err := ocsp.ParseResponseForCert(body, leaf, issuer)
	if err != nil || resp.Status != ocsp.Good {
		e.t.Errorf("OCSP GET: got %+v, %v; want good", resp, err)
	}
}
