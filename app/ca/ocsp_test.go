package ca

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

const testValidity = 4 * time.Hour

// ocspFixture is a CA with a delegated responder served over HTTP, and what it knows.
type ocspFixture struct {
	root, inter, responder *Authority
	statuses               map[string]OCSPStatus // by decimal serial; absent is unknown
	server                 *httptest.Server
	now                    time.Time
}

func newOCSPFixture(t *testing.T, spec string) *ocspFixture {
	t.Helper()
	f := &ocspFixture{now: testNow(), statuses: map[string]OCSPStatus{}}
	f.root, f.inter = newTestChain(t, spec, f.now)
	responder, err := f.inter.NewOCSPResponder(spec, f.now.Add(-time.Hour),
		f.now.Add(7*24*time.Hour))
	if err != nil {
		t.Fatalf("new responder: %v", err)
	}
	f.responder = responder
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *ocspFixture) lookup(serial *big.Int) (OCSPStatus, error) {
	if s, ok := f.statuses[serial.String()]; ok {
		return s, nil
	}
	return OCSPStatus{Status: ocsp.Unknown}, nil
}

// serve answers POST with the request as body and GET with it base64 in the path, as RFC
// 6960 appendix A describes. It stands in for the product's handler, which lives elsewhere.
func (f *ocspFixture) serve(w http.ResponseWriter, r *http.Request) {
	var der []byte
	var err error
	switch r.Method {
	case http.MethodPost:
		der, err = io.ReadAll(io.LimitReader(r.Body, 64<<10))
	case http.MethodGet:
		var b64 string
		b64, err = url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"))
		if err == nil {
			der, err = base64.StdEncoding.DecodeString(b64)
		}
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err != nil {
		der = nil // answered as malformed below
	}
	resp, _ := Respond(f.inter.Cert, f.responder, der, f.lookup, f.now, testValidity)
	w.Header().Set("Content-Type", "application/ocsp-response")
	_, _ = w.Write(resp)
}

func TestOCSPWithOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	for _, spec := range chainSpecs {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			f := newOCSPFixture(t, spec)
			good := issueLeaf(t, f.inter, "good.example.test", f.now)
			revoked := issueLeaf(t, f.inter, "revoked.example.test", f.now)
			unknown := issueLeaf(t, f.inter, "unknown.example.test", f.now)
			revokedAt := f.now.Add(-time.Hour)
			f.statuses[good.SerialNumber.String()] = OCSPStatus{Status: ocsp.Good}
			f.statuses[revoked.SerialNumber.String()] = OCSPStatus{
				Status: ocsp.Revoked, RevokedAt: revokedAt, Reason: ReasonKeyCompromise}

			dir := t.TempDir()
			writeFile(t, dir, "root.pem", PEM(f.root.Cert))
			writeFile(t, dir, "intermediate.pem", PEM(f.inter.Cert))
			tests := []struct {
				name string
				leaf *x509.Certificate
				want []string
			}{
				{"good", good, []string{"leaf.pem: good"}},
				{"revoked", revoked, []string{"leaf.pem: revoked", "Reason: keyCompromise",
					"Revocation Time: " + revokedAt.UTC().Format("Jan _2 15:04:05 2006 GMT")}},
				{"unknown", unknown, []string{"leaf.pem: unknown"}},
			}
			for _, tt := range tests {
				writeFile(t, dir, "leaf.pem", PEM(tt.leaf))
				out := openssl(t, dir, "ocsp", "-issuer", "intermediate.pem",
					"-cert", "leaf.pem", "-url", f.server.URL+"/", "-CAfile", "root.pem",
					"-resp_text")
				checkOpenSSLOCSP(t, tt.name, out, tt.want)
			}
		})
	}
}

func TestOCSPSignedByIssuerWithOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	f := newOCSPFixture(t, ECDSAP256)
	f.responder = f.inter
	leaf := issueLeaf(t, f.inter, "direct.example.test", f.now)
	f.statuses[leaf.SerialNumber.String()] = OCSPStatus{Status: ocsp.Good}

	dir := t.TempDir()
	writeFile(t, dir, "root.pem", PEM(f.root.Cert))
	writeFile(t, dir, "intermediate.pem", PEM(f.inter.Cert))
	writeFile(t, dir, "leaf.pem", PEM(leaf))
	out := openssl(t, dir, "ocsp", "-issuer", "intermediate.pem", "-cert", "leaf.pem",
		"-url", f.server.URL+"/", "-CAfile", "root.pem", "-resp_text")
	checkOpenSSLOCSP(t, "signed by issuer", out, []string{"leaf.pem: good"})
	if strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("response signed by the issuer carries a certificate:\n%s", out)
	}
}

// checkOpenSSLOCSP checks openssl ocsp output: verified, nonce echoed, and the wanted text.
func checkOpenSSLOCSP(t *testing.T, name, out string, want []string) {
	t.Helper()
	want = append(want, "Response verify OK", "Cert Status:", "Responder Id:")
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: openssl ocsp output lacks %q:\n%s", name, w, out)
		}
	}
	for _, bad := range []string{"WARNING", "no nonce", "Nonce Verify error"} {
		if strings.Contains(out, bad) {
			t.Errorf("%s: openssl ocsp output has %q:\n%s", name, bad, out)
		}
	}
}

func TestOCSPOverHTTPWithGo(t *testing.T) {
	f := newOCSPFixture(t, ECDSAP256)
	leaf := issueLeaf(t, f.inter, "go.example.test", f.now)
	f.statuses[leaf.SerialNumber.String()] = OCSPStatus{Status: ocsp.Good}
	req, err := ocsp.CreateRequest(leaf, f.inter.Cert, nil)
	if err != nil {
		t.Fatal(err)
	}

	get := f.server.URL + "/" + url.PathEscape(base64.StdEncoding.EncodeToString(req))
	for name, do := range map[string]func() (*http.Response, error){
		"get": func() (*http.Response, error) { return http.Get(get) },
		"post": func() (*http.Response, error) {
			return http.Post(f.server.URL, "application/ocsp-request", bytes.NewReader(req))
		},
	} {
		t.Run(name, func(t *testing.T) {
			resp := fetch(t, do)
			got, err := ocsp.ParseResponseForCert(resp, leaf, f.inter.Cert)
			if err != nil {
				t.Fatalf("parse response: %v", err)
			}
			if got.Status != ocsp.Good || !got.ThisUpdate.Equal(f.now) ||
				!got.NextUpdate.Equal(f.now.Add(testValidity)) {
				t.Errorf("response: got status %d, %v to %v, want good from %v for %v",
					got.Status, got.ThisUpdate, got.NextUpdate, f.now, testValidity)
			}
			if got.Certificate == nil || !got.Certificate.Equal(f.responder.Cert) {
				t.Error("response does not carry the responder certificate")
			}
		})
	}
}

func fetch(t *testing.T, do func() (*http.Response, error)) []byte {
	t.Helper()
	resp, err := do()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestOCSPMalformedOverHTTP(t *testing.T) {
	f := newOCSPFixture(t, ECDSAP256)
	for name, do := range map[string]func() (*http.Response, error){
		"post garbage": func() (*http.Response, error) {
			return http.Post(f.server.URL, "application/ocsp-request",
				strings.NewReader("not ocsp"))
		},
		"get bad base64": func() (*http.Response, error) {
			return http.Get(f.server.URL + "/no!")
		},
		"get garbage": func() (*http.Response, error) {
			return http.Get(f.server.URL + "/AAAA")
		},
	} {
		t.Run(name, func(t *testing.T) {
			body := fetch(t, do)
			_, err := ocsp.ParseResponse(body, nil)
			var re ocsp.ResponseError
			if !errors.As(err, &re) || re.Status != ocsp.Malformed {
				t.Errorf("response: got %x (%v), want malformedRequest", body, err)
			}
		})
	}
}

func TestNewOCSPResponder(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	_, inter := newTestChain(t, ECDSAP256, now)
	r, err := inter.NewOCSPResponder(Ed25519, now, inter.Cert.NotAfter.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c := r.Cert
	if err := c.CheckSignatureFrom(inter.Cert); err != nil {
		t.Errorf("responder not signed by its CA: %v", err)
	}
	if c.IsCA || len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageOCSPSigning {
		t.Errorf("responder: IsCA %v, ext key usage %v, want an OCSP signer", c.IsCA,
			c.ExtKeyUsage)
	}
	if !c.NotAfter.Equal(inter.Cert.NotAfter) {
		t.Errorf("not after: got %v, want the CA's %v", c.NotAfter, inter.Cert.NotAfter)
	}
	noCheck := false
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidOCSPNoCheck) {
			noCheck = bytes.Equal(ext.Value, []byte{0x05, 0x00}) && !ext.Critical
		}
	}
	if !noCheck {
		t.Error("responder lacks a non-critical id-pkix-ocsp-nocheck with a NULL value")
	}
	if len(r.Chain) != 2 || r.Chain[0] != inter.Cert {
		t.Errorf("responder chain: got %d certificates, want the intermediate and root",
			len(r.Chain))
	}

	_, err = inter.NewOCSPResponder(ECDSAP256, time.Time{}, now)
	if !errors.Is(err, ErrValidity) {
		t.Errorf("responder without dates: got %v, want ErrValidity", err)
	}
	_, err = inter.NewOCSPResponder("dsa", now, now.Add(time.Hour))
	if !errors.Is(err, ErrKeySpec) {
		t.Errorf("responder with unknown spec: got %v, want ErrKeySpec", err)
	}
}
