package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// chainSpecs are the key specs the chain, CRL and OCSP tests run with OpenSSL.
var chainSpecs = []string{ECDSAP256, ECDSAP384, RSA2048, Ed25519}

func TestChainVerifiesWithOpenSSL(t *testing.T) {
	requireOpenSSL(t)
	for _, spec := range chainSpecs {
		t.Run(spec, func(t *testing.T) {
			t.Parallel()
			now := testNow()
			root, inter := newTestChain(t, spec, now)
			req, _ := leafRequest(t, spec, now)
			req.MustStaple = true
			req.CRLURL = "http://ca.example.test/crl/int.crl"
			req.OCSPURL = "http://ca.example.test/ocsp"
			req.IssuerURL = "http://ca.example.test/int.cer"
			leaf, err := inter.Issue(req)
			if err != nil {
				t.Fatalf("issue: %v", err)
			}

			dir := t.TempDir()
			writeFile(t, dir, "root.pem", PEM(root.Cert))
			writeFile(t, dir, "intermediate.pem", PEM(inter.Cert))
			writeFile(t, dir, "leaf.pem", PEM(leaf))
			out := openssl(t, dir, "verify", "-CAfile", "root.pem",
				"-untrusted", "intermediate.pem", "leaf.pem")
			if !strings.Contains(out, "leaf.pem: OK") {
				t.Errorf("openssl verify: got %q, want leaf.pem: OK", out)
			}

			text := openssl(t, dir, "x509", "-in", "leaf.pem", "-noout", "-text")
			for _, want := range []string{
				"DNS:www.example.test", "DNS:example.test", "IP Address:192.0.2.10",
				"IP Address:2001:DB8:0:0:0:0:0:1", "email:ops@example.test",
				"URI:spiffe://example.test/web",
				"URI:http://ca.example.test/crl/int.crl",
				"OCSP - URI:http://ca.example.test/ocsp",
				"CA Issuers - URI:http://ca.example.test/int.cer",
				"TLS Feature:", "status_request",
				"CA:FALSE", "Digital Signature", "TLS Web Server Authentication",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("openssl x509 -text lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

func TestChainVerifiesWithGo(t *testing.T) {
	now := time.Now()
	root, inter := newTestChain(t, ECDSAP256, now)
	leaf := issueLeaf(t, inter, "go.example.test", now)
	roots, mids := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	mids.AddCert(inter.Cert)
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName: "go.example.test", Roots: roots, Intermediates: mids, CurrentTime: now,
	})
	if err != nil {
		t.Errorf("verify: got %v, want a chain", err)
	}
}

func TestNewRoot(t *testing.T) {
	now := time.Now()
	root, _ := newTestChain(t, ECDSAP256, now)
	c := root.Cert
	if !c.IsCA || !c.BasicConstraintsValid {
		t.Errorf("root: IsCA %v, BasicConstraintsValid %v, want both true",
			c.IsCA, c.BasicConstraintsValid)
	}
	if c.MaxPathLen != -1 || c.MaxPathLenZero {
		t.Errorf("root path length: got %d (zero %v), want unconstrained", c.MaxPathLen,
			c.MaxPathLenZero)
	}
	if want := x509.KeyUsageCertSign | x509.KeyUsageCRLSign; c.KeyUsage != want {
		t.Errorf("root key usage: got %v, want %v", c.KeyUsage, want)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("root is not self-signed: %v", err)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("root has no subject key id")
	}
	if got := c.Subject.Organization; !slices.Equal(got, []string{"certctl tests"}) {
		t.Errorf("root organization: got %v, want [certctl tests]", got)
	}
	if len(root.Chain) != 0 {
		t.Errorf("root chain: got %d certificates, want none", len(root.Chain))
	}
}

func TestNewIntermediate(t *testing.T) {
	now := time.Now()
	root, inter := newTestChain(t, ECDSAP384, now)
	c := inter.Cert
	if !c.IsCA || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("intermediate: IsCA %v, path length %d (zero %v), want CA with zero",
			c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if err := c.CheckSignatureFrom(root.Cert); err != nil {
		t.Errorf("intermediate not signed by root: %v", err)
	}
	if len(c.SubjectKeyId) == 0 || !bytes.Equal(c.AuthorityKeyId, root.Cert.SubjectKeyId) {
		t.Errorf("intermediate key ids: SKI %x, AKI %x, want SKI set and AKI %x",
			c.SubjectKeyId, c.AuthorityKeyId, root.Cert.SubjectKeyId)
	}
	if len(inter.Chain) != 1 || inter.Chain[0] != root.Cert {
		t.Errorf("intermediate chain: got %d certificates, want the root", len(inter.Chain))
	}
	pemText := string(inter.ChainPEM())
	if got := strings.Count(pemText, "BEGIN CERTIFICATE"); got != 2 {
		t.Errorf("chain PEM: got %d certificates, want 2", got)
	}
	if !strings.HasPrefix(pemText, string(PEM(inter.Cert))) {
		t.Error("chain PEM does not start with the intermediate")
	}
}

func TestNewIntermediateClampsNotAfter(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	root, _ := newTestChain(t, ECDSAP256, now)
	inter, err := root.NewIntermediate(Template{
		CommonName: "Long", KeySpec: ECDSAP256,
		NotBefore: now, NotAfter: root.Cert.NotAfter.Add(365 * 24 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !inter.Cert.NotAfter.Equal(root.Cert.NotAfter) {
		t.Errorf("not after: got %v, want the root's %v", inter.Cert.NotAfter,
			root.Cert.NotAfter)
	}
}

func TestTemplateRefusals(t *testing.T) {
	now := time.Now()
	root, _ := newTestChain(t, ECDSAP256, now)
	ok := Template{CommonName: "CA", KeySpec: ECDSAP256, NotBefore: now,
		NotAfter: now.Add(time.Hour)}
	tests := []struct {
		name       string
		edit       func(*Template)
		wantErr    error
		want       string
		parentOnly bool // the problem exists only under a parent
	}{
		{"no common name", func(t *Template) { t.CommonName = "" }, nil, "common name", false},
		{"unknown key spec", func(t *Template) { t.KeySpec = "dsa-1024" }, ErrKeySpec, "dsa",
			false},
		{"no dates", func(t *Template) { t.NotAfter = time.Time{} }, ErrValidity, "required",
			false},
		{"reversed dates", func(t *Template) { t.NotAfter = now.Add(-time.Hour) },
			ErrValidity, "not after", false},
		{"starts after parent ends", func(t *Template) {
			t.NotBefore = root.Cert.NotAfter.Add(time.Hour)
			t.NotAfter = t.NotBefore.Add(time.Hour)
		}, ErrValidity, "expires", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := ok
			tt.edit(&tmpl)
			_, err := root.NewIntermediate(tmpl)
			checkErr(t, "new intermediate", err, tt.wantErr, tt.want)
			if !tt.parentOnly {
				_, err = NewRoot(tmpl)
				checkErr(t, "new root", err, tt.wantErr, tt.want)
			}
		})
	}
}

// checkErr checks err contains text and, when want is set, matches want.
func checkErr(t *testing.T, step string, err, want error, text string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), text) {
		t.Fatalf("%s: got %v, want an error containing %q", step, err, text)
	}
	if want != nil && !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", step, err, want)
	}
}
