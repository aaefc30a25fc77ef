package ca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

func TestIssueNames(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	req, _ := leafRequest(t, ECDSAP256, now)
	leaf, err := inter.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != req.CommonName {
		t.Errorf("common name: got %q, want %q", leaf.Subject.CommonName, req.CommonName)
	}
	if !slices.Equal(leaf.DNSNames, req.DNSNames) {
		t.Errorf("dns names: got %v, want %v", leaf.DNSNames, req.DNSNames)
	}
	if !slices.EqualFunc(leaf.IPAddresses, req.IPAddresses, net.IP.Equal) {
		t.Errorf("ip addresses: got %v, want %v", leaf.IPAddresses, req.IPAddresses)
	}
	if !slices.Equal(leaf.EmailAddresses, req.EmailAddresses) {
		t.Errorf("emails: got %v, want %v", leaf.EmailAddresses, req.EmailAddresses)
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != req.URIs[0].String() {
		t.Errorf("uris: got %v, want %v", leaf.URIs, req.URIs)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Errorf("leaf: IsCA %v, BasicConstraintsValid %v, want an end entity", leaf.IsCA,
			leaf.BasicConstraintsValid)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, inter.Cert.SubjectKeyId) {
		t.Errorf("authority key id: got %x, want %x", leaf.AuthorityKeyId,
			inter.Cert.SubjectKeyId)
	}
}

func TestIssueSerials(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	req, _ := leafRequest(t, ECDSAP256, now)
	seen := map[string]bool{}
	for range 100 {
		leaf, err := inter.Issue(req)
		if err != nil {
			t.Fatal(err)
		}
		s := leaf.SerialNumber
		if s.Sign() <= 0 || s.BitLen() < 121 || s.BitLen() > 160 {
			t.Errorf("serial %x: got %d bits, want positive with 121 to 160", s, s.BitLen())
		}
		if seen[s.String()] {
			t.Errorf("serial %x issued twice", s)
		}
		seen[s.String()] = true
	}
}

func TestIssueKeyUsage(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	tests := []struct {
		spec string
		want x509.KeyUsage
	}{
		{ECDSAP256, x509.KeyUsageDigitalSignature},
		{Ed25519, x509.KeyUsageDigitalSignature},
		{RSA2048, x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			req, _ := leafRequest(t, tt.spec, now)
			leaf, err := inter.Issue(req)
			if err != nil {
				t.Fatal(err)
			}
			if leaf.KeyUsage != tt.want {
				t.Errorf("key usage: got %v, want %v", leaf.KeyUsage, tt.want)
			}
			want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			if !slices.Equal(leaf.ExtKeyUsage, want) {
				t.Errorf("ext key usage: got %v, want %v", leaf.ExtKeyUsage, want)
			}
		})
	}
}

func TestIssueOptionalExtensions(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	req, _ := leafRequest(t, ECDSAP256, now)
	plain, err := inter.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if HasMustStaple(plain) || plain.CRLDistributionPoints != nil || plain.OCSPServer != nil ||
		plain.IssuingCertificateURL != nil {
		t.Errorf("plain leaf: got must-staple %v, crl %v, ocsp %v, issuer %v, want none",
			HasMustStaple(plain), plain.CRLDistributionPoints, plain.OCSPServer,
			plain.IssuingCertificateURL)
	}

	req.MustStaple = true
	req.CRLURL, req.OCSPURL, req.IssuerURL = "http://c/crl", "http://c/ocsp", "http://c/ca"
	req.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	full, err := inter.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if !HasMustStaple(full) {
		t.Error("must-staple leaf lacks the TLS feature extension")
	}
	checkTLSFeatureBytes(t, full)
	if !slices.Equal(full.CRLDistributionPoints, []string{"http://c/crl"}) ||
		!slices.Equal(full.OCSPServer, []string{"http://c/ocsp"}) ||
		!slices.Equal(full.IssuingCertificateURL, []string{"http://c/ca"}) {
		t.Errorf("urls: got crl %v, ocsp %v, issuer %v", full.CRLDistributionPoints,
			full.OCSPServer, full.IssuingCertificateURL)
	}
	if !slices.Equal(full.ExtKeyUsage, req.ExtKeyUsage) {
		t.Errorf("ext key usage: got %v, want %v", full.ExtKeyUsage, req.ExtKeyUsage)
	}
}

// checkTLSFeatureBytes checks the extension holds exactly SEQUENCE { INTEGER 5 }.
func checkTLSFeatureBytes(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidTLSFeature) {
			want := []byte{0x30, 0x03, 0x02, 0x01, 0x05}
			if !bytes.Equal(ext.Value, want) || ext.Critical {
				t.Errorf("tls feature: got %x critical %v, want %x non-critical", ext.Value,
					ext.Critical, want)
			}
		}
	}
}

func TestIssueClampsNotAfter(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	_, inter := newTestChain(t, ECDSAP256, now)
	req, _ := leafRequest(t, ECDSAP256, now)
	req.NotAfter = inter.Cert.NotAfter.Add(24 * time.Hour)
	leaf, err := inter.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf.NotAfter.Equal(inter.Cert.NotAfter) {
		t.Errorf("not after: got %v, want the CA's %v", leaf.NotAfter, inter.Cert.NotAfter)
	}

	req.NotBefore = inter.Cert.NotAfter.Add(time.Hour)
	_, err = inter.Issue(req)
	if !errors.Is(err, ErrValidity) {
		t.Errorf("issue starting after the CA ends: got %v, want ErrValidity", err)
	}
}

func TestIssueRefusals(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	shortRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*LeafRequest)
		wantErr error
		want    string
	}{
		{"no names", func(r *LeafRequest) {
			r.CommonName, r.DNSNames, r.IPAddresses = "", nil, nil
			r.EmailAddresses, r.URIs = nil, nil
		}, ErrNoNames, "no common name and no alternative names"},
		{"no key", func(r *LeafRequest) { r.PublicKey = nil }, nil, "public key is required"},
		{"short rsa key", func(r *LeafRequest) { r.PublicKey = shortRSA.Public() },
			ErrKeySpec, "rsa-1024 is below the 2048-bit minimum"},
		{"p-521 key", func(r *LeafRequest) { r.PublicKey = p521.Public() },
			ErrKeySpec, "P-521"},
		{"no dates", func(r *LeafRequest) { r.NotBefore = time.Time{} }, ErrValidity,
			"required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := leafRequest(t, ECDSAP256, now)
			tt.edit(&req)
			_, err := inter.Issue(req)
			checkErr(t, "issue", err, tt.wantErr, tt.want)
		})
	}
}

func TestIssueOnlyNamesInSANs(t *testing.T) {
	now := time.Now()
	_, inter := newTestChain(t, ECDSAP256, now)
	req, _ := leafRequest(t, ECDSAP256, now)
	req.CommonName = ""
	leaf, err := inter.Issue(req)
	if err != nil {
		t.Fatalf("issue with SANs only: %v", err)
	}
	for _, ext := range leaf.Extensions {
		// RFC 5280 section 4.2.1.6: with an empty subject the SAN must be critical.
		if ext.Id.String() == "2.5.29.17" && !ext.Critical {
			t.Error("subject alternative name is not critical under an empty subject")
		}
	}
}
