package api_test

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// waitStatus polls a certificate until it has status, failing after a few seconds.
func (e *env) waitStatus(t *testing.T, id, status string) response {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.admin("GET", "/api/v1/certificates/"+id, nil)
		if r.str("status") == status {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s: status %q, want %q", id, r.str("status"), status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// createCert makes a server-key certificate through the API and waits until it is Active.
func (e *env) createCert(t *testing.T, name string) string {
	t.Helper()
	r := e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
		"name": name, "common_name": name + ".example.com", "sans": []string{"10.1.2.3"},
		"issuer_id": "iss-local", "key_mode": "server", "environment": "prod",
	}).want(t, http.StatusCreated, "")
	if r.str("job_id") == "" || r.str("status") != "Pending" {
		t.Fatalf("create: got %s, want a Pending certificate with its job", r.raw)
	}
	e.waitStatus(t, r.str("id"), "Active")
	return r.str("id")
}

// noKeys fails if an answer carries a private key.
func noKeys(t *testing.T, r response) {
	t.Helper()
	if strings.Contains(string(r.raw), "PRIVATE KEY") {
		t.Fatalf("an answer holds a private key: %.200s", r.raw)
	}
}

func TestCertificateLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createCert(t, "web")
		got := e.admin("GET", "/api/v1/certificates/"+id, nil)
		noKeys(t, got)
		if got.body["current_version_id"] == nil || got.body["not_after"] == nil {
			t.Errorf("issued certificate lacks its version: %s", got.raw)
		}

		versions := e.admin("GET", "/api/v1/certificates/"+id+"/versions", nil)
		noKeys(t, versions)
		if len(versions.list()) != 1 || versions.list()[0]["key_location"] != "server" {
			t.Fatalf("versions: %s", versions.raw)
		}
		pemAnswer := e.admin("GET", "/api/v1/certificates/"+id+"/export/pem", nil)
		noKeys(t, pemAnswer)
		if n := strings.Count(string(pemAnswer.raw), "BEGIN CERTIFICATE"); n != 3 ||
			pemAnswer.header.Get("Content-Type") != "application/x-pem-file" {
			t.Errorf("PEM export: %d certificates, type %q; want leaf, intermediate, root",
				n, pemAnswer.header.Get("Content-Type"))
		}

		e.do("POST", "/api/v1/certificates/"+id+"/renew", e.keys["operator"], nil).
			want(t, http.StatusAccepted, "")
		e.waitStatus(t, id, "Active")
		if n := len(e.admin("GET", "/api/v1/certificates/"+id+"/versions", nil).list()); n != 2 {
			t.Errorf("after renewal: %d versions, want 2", n)
		}

		e.admin("POST", "/api/v1/certificates/"+id+"/revoke", map[string]any{"reason": "nope"}).
			want(t, http.StatusBadRequest, "validation_failed")
		r := e.admin("POST", "/api/v1/certificates/"+id+"/revoke",
			map[string]any{"reason": "superseded"}).want(t, http.StatusOK, "")
		if r.str("status") != "Revoked" {
			t.Errorf("after revocation: %s", r.raw)
		}
		e.admin("POST", "/api/v1/certificates/"+id+"/revoke",
			map[string]any{"reason": "superseded"}).want(t, http.StatusConflict, "conflict")
		e.admin("POST", "/api/v1/certificates/"+id+"/renew", nil).
			want(t, http.StatusConflict, "conflict")
	})
}

func TestCertificateBadInput(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.createCert(t, "taken")
		tests := []struct {
			name   string
			body   map[string]any
			status int
			field  string
		}{
			{"no issuer", map[string]any{"name": "a", "common_name": "a.example.com"},
				400, "issuer_id"},
			{"unknown issuer", map[string]any{"name": "a", "common_name": "a.example.com",
				"issuer_id": "iss-nope"}, 400, "issuer_id"},
			{"no names", map[string]any{"name": "a", "issuer_id": "iss-local"}, 400, "sans"},
			{"bad name", map[string]any{"name": "a", "issuer_id": "iss-local",
				"sans": []string{"not a name"}}, 400, "sans"},
			{"bad key mode", map[string]any{"name": "a", "common_name": "a.example.com",
				"issuer_id": "iss-local", "key_mode": "hsm"}, 400, "key_mode"},
			{"duplicate name", map[string]any{"name": "TAKEN", "common_name": "b.example.com",
				"issuer_id": "iss-local"}, 409, "name"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := e.admin("GET", "/api/v1/certificates", nil).body["total"]
				r := e.admin("POST", "/api/v1/certificates", tc.body).want(t, tc.status, "")
				if r.field(tc.field) == "" {
					t.Errorf("got %s, want fields.%s", r.raw, tc.field)
				}
				if after := e.admin("GET", "/api/v1/certificates", nil).body["total"]; after != before {
					t.Errorf("a refused create changed the inventory: %v -> %v", before, after)
				}
			})
		}
	})
}

func TestCertificateListETag(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		e.createCert(t, "etag")
		for _, path := range []string{"/api/v1/certificates", "/api/v1/jobs"} {
			first := e.admin("GET", path, nil).want(t, http.StatusOK, "")
			tag := first.header.Get("ETag")
			if tag == "" {
				t.Fatalf("%s: no ETag", path)
			}
			if again := e.admin("GET", path, nil, "If-None-Match", tag); again.status != 304 {
				t.Errorf("%s repeat: got %d, want 304", path, again.status)
			}
		}
		tag := e.admin("GET", "/api/v1/certificates", nil).header.Get("ETag")
		e.createCert(t, "etag-2")
		if after := e.admin("GET", "/api/v1/certificates", nil, "If-None-Match", tag); after.
			status != http.StatusOK || after.body["total"] != 2.0 {
			t.Errorf("after a change: got %d %s, want 200 with both", after.status, after.raw)
		}
	})
}

// TestListCompression checks that list answers are sent compressed to clients that accept
// gzip, as the same JSON, under a tag of their own that revalidates like the plain one.
func TestListCompression(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		for i := range 3 {
			e.createCert(t, fmt.Sprintf("gz-%d", i))
		}
		const path = "/api/v1/certificates?per_page=50"
		plain := e.admin("GET", path, nil, "Accept-Encoding", "identity").
			want(t, http.StatusOK, "")
		// Setting the header by hand keeps the client from decompressing on its own.
		gz := e.admin("GET", path, nil, "Accept-Encoding", "br;q=1.0, gzip;q=0.8").
			want(t, http.StatusOK, "")
		if plain.header.Get("Content-Encoding") != "" ||
			gz.header.Get("Content-Encoding") != "gzip" ||
			gz.header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("encodings: plain %q, gzip %q (Vary %q)",
				plain.header.Get("Content-Encoding"), gz.header.Get("Content-Encoding"),
				gz.header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz.raw))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.raw) {
			t.Fatalf("the compressed answer (%v) is not the plain one:\n%s\n%s", err,
				unzipped, plain.raw)
		}
		if len(gz.raw) >= len(plain.raw) {
			t.Errorf("compressed %d bytes, plain %d", len(gz.raw), len(plain.raw))
		}
		plainTag, gzTag := plain.header.Get("ETag"), gz.header.Get("ETag")
		if plainTag == "" || plainTag == gzTag {
			t.Fatalf("tags: plain %q, gzip %q, want two different ones", plainTag, gzTag)
		}
		e.admin("GET", path, nil, "Accept-Encoding", "gzip", "If-None-Match", gzTag).
			want(t, http.StatusNotModified, "")
		e.admin("GET", path, nil, "Accept-Encoding", "identity", "If-None-Match", plainTag).
			want(t, http.StatusNotModified, "")
		// A tag of the other representation does not match.
		e.admin("GET", path, nil, "Accept-Encoding", "identity", "If-None-Match", gzTag).
			want(t, http.StatusOK, "")
		e.admin("GET", path, nil, "Accept-Encoding", "gzip;q=0", "If-None-Match", plainTag).
			want(t, http.StatusNotModified, "")
	})
}

func TestPKCS12Export(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		id := e.createCert(t, "p12")
		path := "/api/v1/certificates/" + id + "/export/pkcs12"
		body := map[string]any{"password": "correct horse"}
		e.do("POST", path, e.keys["operator"], body).want(t, http.StatusForbidden, "forbidden")
		e.admin("POST", path, map[string]any{"password": "short"}).
			want(t, http.StatusBadRequest, "validation_failed")

		r := e.admin("POST", path, body).want(t, http.StatusOK, "")
		key, leaf, chain, err := pkcs12.DecodeChain(r.raw, "correct horse")
		if err != nil {
			t.Fatalf("decode PKCS#12: %v", err)
		}
		if !key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) || len(chain) != 2 {
			t.Errorf("PKCS#12: key matches leaf %v, chain %d; want true, 2",
				key.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey), len(chain))
		}
		events := e.admin("GET", "/api/v1/audit?action=certificate.export_pkcs12", nil).list()
		if len(events) != 1 || events[0]["actor"] != "apikey:test-admin" {
			t.Errorf("export audit: %v", events)
		}
		if strings.Contains(string(e.admin("GET", "/api/v1/audit", nil).raw), "correct horse") {
			t.Error("the audit trail holds the export password")
		}
	})
}

func TestImport(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		certPEM, keyPEM := selfSigned(t, "legacy.example.com")
		_, otherKey := selfSigned(t, "other.example.com")
		tests := []struct {
			name   string
			body   map[string]any
			status int
			field  string
		}{
			{"garbage", map[string]any{"name": "g", "cert_pem": "hello"}, 400, "cert_pem"},
			{"key of another certificate", map[string]any{"name": "k", "cert_pem": certPEM,
				"key_pem": otherKey}, 400, "key_pem"},
			{"key in the certificate field", map[string]any{"name": "k",
				"cert_pem": certPEM + keyPEM}, 400, "cert_pem"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := e.admin("POST", "/api/v1/certificates/import", tc.body).want(t, tc.status, "")
				if r.field(tc.field) == "" {
					t.Errorf("got %s, want fields.%s", r.raw, tc.field)
				}
			})
		}
		r := e.admin("POST", "/api/v1/certificates/import", map[string]any{"name": "legacy",
			"cert_pem": certPEM, "key_pem": keyPEM}).want(t, http.StatusCreated, "")
		noKeys(t, r)
		if r.str("status") != "Active" || r.str("common_name") != "legacy.example.com" ||
			r.str("issuer_id") != "" {
			t.Errorf("imported: %s", r.raw)
		}
		e.admin("POST", "/api/v1/certificates/import", map[string]any{"name": "again",
			"cert_pem": certPEM}).want(t, http.StatusConflict, "conflict")
		e.admin("POST", "/api/v1/certificates/"+r.str("id")+"/renew", nil).
			want(t, http.StatusConflict, "conflict")

		// Setting an issuer lets it be re-issued under certctl.
		e.admin("PATCH", "/api/v1/certificates/"+r.str("id"), map[string]any{
			"issuer_id": "iss-local"}).want(t, http.StatusOK, "")
		e.admin("POST", "/api/v1/certificates/"+r.str("id")+"/renew", nil).
			want(t, http.StatusAccepted, "")
		e.waitStatus(t, r.str("id"), "Active")
	})
}

func TestBulkRevoke(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b := e.createCert(t, "bulk-a"), e.createCert(t, "bulk-b")
		e.admin("POST", "/api/v1/certificates/bulk-revoke", map[string]any{
			"reason": "cessationOfOperation"}).want(t, http.StatusBadRequest, "validation_failed")
		dry := e.admin("POST", "/api/v1/certificates/bulk-revoke", map[string]any{
			"issuer_id": "iss-local", "reason": "cessationOfOperation", "dry_run": true}).
			want(t, http.StatusOK, "")
		if m, _ := dry.body["matched"].([]any); len(m) != 2 {
			t.Errorf("dry run matched: %s", dry.raw)
		}
		e.waitStatus(t, a, "Active")
		done := e.admin("POST", "/api/v1/certificates/bulk-revoke", map[string]any{
			"ids": []string{a, b, "cert-missing"}, "reason": "cessationOfOperation"}).
			want(t, http.StatusOK, "")
		if d, _ := done.body["done"].([]any); len(d) != 2 {
			t.Errorf("bulk revoke: %s", done.raw)
		}
		e.waitStatus(t, b, "Revoked")
	})
}

func TestProfilesAndPolicies(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		p := map[string]any{"id": "prof-web", "name": "Web", "key_types": []string{"ecdsa-p256"},
			"max_lifetime_seconds": 7 * 24 * 3600, "ext_key_usages": []string{"serverAuth"},
			"san_patterns": []string{"*.example.com"}, "approval": "issuance"}
		e.do("POST", "/api/v1/profiles", e.keys["operator"], p).want(t, 403, "forbidden")
		e.admin("POST", "/api/v1/profiles", p).want(t, http.StatusCreated, "")
		e.admin("POST", "/api/v1/profiles", p).want(t, http.StatusConflict, "conflict")
		bad := map[string]any{"id": "x", "name": "X", "key_types": []string{"rsa-1024"},
			"max_lifetime_seconds": 10}
		r := e.admin("POST", "/api/v1/profiles", bad).want(t, 400, "validation_failed")
		if r.field("key_types") == "" || r.field("max_lifetime_seconds") == "" {
			t.Errorf("bad profile: %s", r.raw)
		}

		// The profile's patterns and approval apply to new certificates.
		e.admin("POST", "/api/v1/certificates", map[string]any{"name": "out",
			"common_name": "www.other.com", "issuer_id": "iss-local",
			"profile_id": "prof-web"}).want(t, 400, "validation_failed")
		c := e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "in", "common_name": "www.example.com", "issuer_id": "iss-local",
			"profile_id": "prof-web", "key_mode": "server"}).want(t, http.StatusCreated, "")
		job := c.str("job_id")
		if j := e.admin("GET", "/api/v1/jobs/"+job, nil); j.str("status") != "AwaitingApproval" {
			t.Fatalf("job under an approval profile: %s", j.raw)
		}
		e.do("POST", "/api/v1/jobs/"+job+"/approve", e.keys["operator"], nil).
			want(t, http.StatusConflict, "conflict")
		e.admin("POST", "/api/v1/jobs/"+job+"/approve", nil).want(t, http.StatusOK, "")
		e.waitStatus(t, c.str("id"), "Active")

		rp := map[string]any{"id": "rp-short", "name": "Short", "renew_fraction": 0.5,
			"max_attempts": 3, "retry_backoff_seconds": 30,
			"alert_before_seconds": []int{3600, 86400, 3600}}
		created := e.admin("POST", "/api/v1/renewal-policies", rp).want(t, http.StatusCreated, "")
		if got := fmt.Sprint(created.body["alert_before_seconds"]); got != "[86400 3600]" {
			t.Errorf("alert thresholds: got %s, want longest first without repeats", got)
		}
		rp["renew_before_seconds"] = 3600
		r = e.admin("PUT", "/api/v1/renewal-policies/rp-short", rp).want(t, 400, "")
		if r.field("renew_fraction") == "" {
			t.Errorf("both fraction and fixed time: %s", r.raw)
		}

		e.admin("DELETE", "/api/v1/profiles/prof-default", nil).want(t, 409, "conflict")
		e.admin("DELETE", "/api/v1/profiles/prof-web", nil).want(t, 409, "conflict")
		e.admin("DELETE", "/api/v1/renewal-policies/rp-short", nil).want(t, 204, "")
		e.admin("DELETE", "/api/v1/renewal-policies/rp-short", nil).want(t, 404, "not_found")
	})
}

// selfSigned makes a certificate and key from outside certctl, as PEM.
func selfSigned(t *testing.T, cn string) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), DNSNames: []string{cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(200 * 24 * time.Hour)}
	tmpl.Subject.CommonName = cn
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
	return n
}
