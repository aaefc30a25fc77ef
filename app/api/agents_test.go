package api_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"certctl/app/agentapi"
	"certctl/app/ca"
	"certctl/store"
)

// testAgent is an enrolled agent as the tests drive it.
type testAgent struct {
	id, credential string
}

// enroll enrolls an agent named name with the bootstrap token, allowed to deploy under
// /srv/certs.
func (e *env) enroll(t *testing.T, name string) testAgent {
	t.Helper()
	r := e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: agentToken,
		Name: name, Host: testHost(name)}).want(t, http.StatusCreated, "")
	a := testAgent{id: r.str("agent_id"), credential: r.str("credential")}
	if a.id == "" || !strings.HasPrefix(a.credential, "cctla_") {
		t.Fatalf("enroll answered %s", r.raw)
	}
	return a
}

// testHost is what a test agent named name reports about its host.
func testHost(name string) agentapi.Host {
	return agentapi.Host{Hostname: name + ".lan", OS: "linux", Architecture: "amd64",
		Version: "test", AllowedPaths: []string{"/srv/certs"}}
}

// agentPath fills the agent protocol path p for agent id and job job.
func agentPath(p, id, job string) string {
	return strings.NewReplacer("{id}", id, "{job}", job).Replace(p)
}

func (e *env) agentDo(a testAgent, method, p, job string, body any,
	header ...string) response {
	e.t.Helper()
	return e.do(method, agentPath(p, a.id, job), a.credential, body, header...)
}

// work polls agent a's work and returns the items.
func (e *env) work(t *testing.T, a testAgent) []agentapi.WorkItem {
	t.Helper()
	r := e.agentDo(a, "GET", agentapi.PathWork, "", nil).want(t, http.StatusOK, "")
	items, _ := r.body["items"].([]any)
	var out []agentapi.WorkItem
	for _, it := range items {
		m := it.(map[string]any)
		w := agentapi.WorkItem{Kind: m["kind"].(string), JobID: m["job_id"].(string),
			CertificateID: m["certificate_id"].(string)}
		if kt, ok := m["key_type"].(string); ok {
			w.KeyType = kt
		}
		if tg, ok := m["target"].(map[string]any); ok {
			w.Target = &agentapi.Target{ID: tg["id"].(string), Type: tg["type"].(string)}
		}
		out = append(out, w)
	}
	return out
}

// fileTarget creates a file target of agent a that writes below /srv/certs/name.
func (e *env) fileTarget(t *testing.T, a testAgent, name string) string {
	t.Helper()
	r := e.do("POST", "/api/v1/targets", e.keys["operator"], map[string]any{
		"agent_id": a.id, "name": name, "type": "file",
		"config": map[string]any{"cert_path": "/srv/certs/" + name + "/cert.pem",
			"key_path": "/srv/certs/" + name + "/key.pem"},
	}).want(t, http.StatusCreated, "")
	return r.str("id")
}

func TestAgentEnrollment(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.enroll(t, "web-1")
		// Wrong token, no token, name in use: refused, nothing stored.
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: "wrong-token-0000000",
			Name: "web-2"}).want(t, http.StatusUnauthorized, "unauthorized")
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Name: "web-2"}).
			want(t, http.StatusUnauthorized, "unauthorized")
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: agentToken,
			Name: "WEB-1"}).want(t, http.StatusConflict, "conflict")
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: agentToken,
			Name: "bad name!"}).want(t, http.StatusBadRequest, "validation_failed")
		list := e.do("GET", "/api/v1/agents", e.keys["viewer"], nil).want(t, http.StatusOK, "")
		if len(list.list()) != 1 || list.list()[0]["id"] != a.id {
			t.Fatalf("agents: %s", list.raw)
		}
		if strings.Contains(string(list.raw), a.credential) {
			t.Fatal("the agent list shows a credential")
		}
		// The list answers 304 while nothing changed, and 200 after a heartbeat.
		tag := list.header.Get("ETag")
		e.do("GET", "/api/v1/agents", e.keys["viewer"], nil, "If-None-Match", tag).
			want(t, http.StatusNotModified, "")
		e.agentDo(a, "POST", agentapi.PathHeartbeat, "", agentapi.Heartbeat{Host: agentapi.Host{
			Hostname: "web-1.lan", Version: "2.0", AllowedPaths: []string{"/srv/certs"}}}).
			want(t, http.StatusNoContent, "")
		got := e.do("GET", "/api/v1/agents/"+a.id, e.keys["viewer"], nil).want(t, http.StatusOK, "")
		if got.str("version") != "2.0" || got.str("status") != "Online" {
			t.Fatalf("heartbeat not recorded: %s", got.raw)
		}
		e.do("GET", "/api/v1/agents", e.keys["viewer"], nil, "If-None-Match", tag).
			want(t, http.StatusOK, "")

		// A one-time token works once, only for admins to create, and is never shown again.
		e.do("POST", "/api/v1/agent-enrollment-tokens", e.keys["operator"],
			map[string]any{"name": "db"}).want(t, http.StatusForbidden, "forbidden")
		tok := e.admin("POST", "/api/v1/agent-enrollment-tokens",
			map[string]any{"name": "db", "ttl_seconds": 600}).want(t, http.StatusCreated, "")
		token := tok.str("token")
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: token,
			Name: "db-1"}).want(t, http.StatusCreated, "")
		e.do("POST", agentapi.PathEnroll, "", agentapi.EnrollRequest{Token: token,
			Name: "db-2"}).want(t, http.StatusUnauthorized, "unauthorized")
		tokens := e.admin("GET", "/api/v1/agent-enrollment-tokens", nil)
		if strings.Contains(string(tokens.raw), token) || tokens.list()[0]["used_at"] == nil {
			t.Fatalf("tokens: %s", tokens.raw)
		}

		// An API key is not an agent credential, nor the other way round.
		e.do("GET", agentPath(agentapi.PathWork, a.id, ""), e.keys["admin"], nil).
			want(t, http.StatusUnauthorized, "unauthorized")
		e.do("GET", "/api/v1/agents", a.credential, nil).
			want(t, http.StatusUnauthorized, "unauthorized")

		// Retired: every call answers 410, and the name can be enrolled again.
		e.do("DELETE", "/api/v1/agents/"+a.id+"?reason=decommissioned", e.keys["operator"],
			nil).want(t, http.StatusNoContent, "")
		e.agentDo(a, "GET", agentapi.PathWork, "", nil).want(t, http.StatusGone, "agent_retired")
		e.agentDo(a, "POST", agentapi.PathHeartbeat, "", agentapi.Heartbeat{}).
			want(t, http.StatusGone, "agent_retired")
		e.enroll(t, "web-1")
	})
}

// TestAgentIsolation proves that an agent sees and touches only its own work.
func TestAgentIsolation(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b := e.enroll(t, "alpha"), e.enroll(t, "beta")
		tb := e.fileTarget(t, b, "site")
		r := e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "beta-site", "common_name": "beta.example.com", "issuer_id": "iss-local",
			"key_mode": "server", "target_ids": []string{tb}}).want(t, http.StatusCreated, "")
		certID := r.str("id")
		e.waitStatus(t, certID, "Active")
		items := e.work(t, b)
		if len(items) != 1 || items[0].Kind != agentapi.KindDeploy || items[0].Target.ID != tb {
			t.Fatalf("beta's work: %+v", items)
		}
		job := items[0].JobID
		if got := e.work(t, a); len(got) != 0 {
			t.Fatalf("alpha sees beta's work: %+v", got)
		}
		// Alpha's credential on beta's path, and on its own path with beta's job.
		e.do("GET", agentPath(agentapi.PathWork, b.id, ""), a.credential, nil).
			want(t, http.StatusForbidden, "forbidden")
		e.agentDo(a, "GET", agentapi.PathMaterial, job, nil).want(t, http.StatusNotFound, "")
		e.agentDo(a, "POST", agentapi.PathReport, job, agentapi.Report{
			Result: agentapi.ResultFailed, Error: "spoofed"}).want(t, http.StatusNotFound, "")
		if j, _ := e.st.GetJob(context.Background(), job); j.Status != store.JobPending {
			t.Fatalf("alpha changed beta's job: %+v", j)
		}

		// Beta gets the material, with the server-held key, and the delivery is audited.
		m := e.agentDo(b, "GET", agentapi.PathMaterial, job, nil).want(t, http.StatusOK, "")
		keyPEM := m.str("key_pem")
		if !strings.Contains(keyPEM, "PRIVATE KEY") || !keyMatches(t, keyPEM, m.str("cert_pem")) {
			t.Fatalf("material lacks the certificate's key: %.300s", m.raw)
		}
		audit := e.admin("GET", "/api/v1/audit?action=certificate.key_delivered", nil)
		if len(audit.list()) != 1 || strings.Contains(string(audit.raw), "PRIVATE KEY") {
			t.Fatalf("key delivery audit: %s", audit.raw)
		}
		e.agentDo(b, "POST", agentapi.PathReport, job, agentapi.Report{
			Result: agentapi.ResultDeployed, Serial: m.str("serial"),
			StartedAt: time.Now(), FinishedAt: time.Now()}).want(t, http.StatusOK, "")
		deps := e.admin("GET", "/api/v1/certificates/"+certID+"/deployments", nil)
		if len(deps.list()) != 1 || deps.list()[0]["status"] != "Completed" ||
			deps.list()[0]["result"] == nil {
			t.Fatalf("deployments: %s", deps.raw)
		}
		// A finished job cannot be reported again.
		e.agentDo(b, "POST", agentapi.PathReport, job, agentapi.Report{
			Result: agentapi.ResultFailed}).want(t, http.StatusConflict, "conflict")
	})
}

// TestAgentWorkNotModified checks the poll path: 304 while nothing changed for the agent,
// also when other agents' work changes, and 200 once its own work changes.
func TestAgentWorkNotModified(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a, b := e.enroll(t, "alpha"), e.enroll(t, "beta")
		first := e.agentDo(a, "GET", agentapi.PathWork, "", nil).want(t, http.StatusOK, "")
		tag := first.header.Get("ETag")
		if tag == "" {
			t.Fatal("work answer without an ETag")
		}
		e.agentDo(a, "GET", agentapi.PathWork, "", nil, "If-None-Match", tag).
			want(t, http.StatusNotModified, "")
		// Beta's work changes; alpha's does not.
		tb := e.fileTarget(t, b, "site")
		e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "b", "common_name": "b.example.com", "issuer_id": "iss-local",
			"key_mode": "server", "target_ids": []string{tb}}).want(t, http.StatusCreated, "")
		e.agentDo(a, "POST", agentapi.PathHeartbeat, "",
			agentapi.Heartbeat{Host: testHost("alpha")}).want(t, http.StatusNoContent, "")
		e.agentDo(a, "GET", agentapi.PathWork, "", nil, "If-None-Match", tag).
			want(t, http.StatusNotModified, "")
		// Alpha gets a target and a certificate in agent key mode: its work changes.
		ta := e.fileTarget(t, a, "site")
		r := e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "a", "common_name": "a.example.com", "issuer_id": "iss-local",
			"key_mode": "agent", "target_ids": []string{ta}}).want(t, http.StatusCreated, "")
		// On PostgreSQL the server hears of the change by a notification, which may arrive
		// a moment after the commit: until then the poll still answers 304.
		next := e.agentDo(a, "GET", agentapi.PathWork, "", nil, "If-None-Match", tag)
		for deadline := time.Now().Add(5 * time.Second); next.status ==
			http.StatusNotModified && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			next = e.agentDo(a, "GET", agentapi.PathWork, "", nil, "If-None-Match", tag)
		}
		next.want(t, http.StatusOK, "")
		if next.header.Get("ETag") == tag {
			t.Fatal("the tag did not change with the work")
		}
		items := e.work(t, a)
		if len(items) != 1 || items[0].Kind != agentapi.KindCSR || items[0].KeyType == "" ||
			items[0].CertificateID != r.str("id") {
			t.Fatalf("alpha's work: %+v", items)
		}
	})
}

// TestAgentKeyMode runs agent key mode end to end over the API: the agent makes the key,
// sends the CSR, the server issues, and a deployment without any key follows.
func TestAgentKeyMode(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.enroll(t, "alpha")
		ta := e.fileTarget(t, a, "site")
		r := e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "a", "common_name": "a.example.com", "sans": []string{"a.example.com"},
			"issuer_id": "iss-local", "key_mode": "agent", "target_ids": []string{ta}}).
			want(t, http.StatusCreated, "")
		certID := r.str("id")
		items := e.work(t, a)
		if len(items) != 1 || items[0].Kind != agentapi.KindCSR {
			t.Fatalf("work: %+v", items)
		}
		key, err := ca.GenerateKey(items[0].KeyType)
		if err != nil {
			t.Fatal(err)
		}
		// A CSR for names the profile does not allow is refused and changes nothing.
		e.agentDo(a, "POST", agentapi.PathCSR, items[0].JobID, agentapi.CSR{
			CSRPEM: csrFor(t, key, "*.evil")}).want(t, http.StatusBadRequest, "validation_failed")
		e.agentDo(a, "POST", agentapi.PathCSR, items[0].JobID, agentapi.CSR{
			CSRPEM: csrFor(t, key, "a.example.com")}).want(t, http.StatusAccepted, "")
		e.waitStatus(t, certID, "Active")
		items = e.work(t, a)
		if len(items) != 1 || items[0].Kind != agentapi.KindDeploy {
			t.Fatalf("work after issuance: %+v", items)
		}
		m := e.agentDo(a, "GET", agentapi.PathMaterial, items[0].JobID, nil).
			want(t, http.StatusOK, "")
		if m.str("key_pem") != "" {
			t.Fatal("the server sent a key it should not hold")
		}
		if !keyMatches(t, pemKey(t, key), m.str("cert_pem")) {
			t.Fatal("the issued certificate is not for the agent's key")
		}
		// A failed deployment is retried: reported Failed, with attempts left.
		e.agentDo(a, "POST", agentapi.PathReport, items[0].JobID, agentapi.Report{
			Result: agentapi.ResultRolledBack, Error: "nginx -t failed",
			Steps: []agentapi.Step{{Name: "validate", Detail: "exit status 1"}}}).
			want(t, http.StatusOK, "")
		j, err := e.st.GetJob(context.Background(), items[0].JobID)
		if err != nil || j.Status != store.JobFailed || j.LastError != "nginx -t failed" {
			t.Fatalf("job after a failed deploy: %+v, %v", j, err)
		}
	})
}

func TestTargets(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.enroll(t, "alpha")
		for name, tc := range map[string]struct {
			body  map[string]any
			field string
		}{
			"outside allowed paths": {map[string]any{"agent_id": a.id, "name": "x",
				"type": "file", "config": map[string]any{"cert_path": "/etc/passwd"}},
				"config.cert_path"},
			"unknown type": {map[string]any{"agent_id": a.id, "name": "x", "type": "ftp",
				"config": map[string]any{}}, "type"},
			"unknown agent": {map[string]any{"agent_id": "agent-nope", "name": "x",
				"type": "file", "config": map[string]any{"cert_path": "/srv/certs/c.pem"}},
				"agent_id"},
		} {
			t.Run(name, func(t *testing.T) {
				r := e.do("POST", "/api/v1/targets", e.keys["operator"], tc.body).
					want(t, http.StatusBadRequest, "validation_failed")
				if r.field(tc.field) == "" {
					t.Fatalf("no problem named for %s: %s", tc.field, r.raw)
				}
			})
		}
		// Secrets are stored sealed, never shown, and kept when an update leaves them out.
		r := e.do("POST", "/api/v1/targets", e.keys["operator"], map[string]any{
			"agent_id": a.id, "name": "store", "type": "pkcs12",
			"config": map[string]any{"path": "/srv/certs/site.p12",
				"password": "s3cret-keystore-pass"}}).want(t, http.StatusCreated, "")
		id := r.str("id")
		for _, got := range []response{r, e.admin("GET", "/api/v1/targets/"+id, nil),
			e.admin("GET", "/api/v1/targets", nil)} {
			if strings.Contains(string(got.raw), "s3cret") {
				t.Fatalf("a secret is shown: %s", got.raw)
			}
		}
		if !strings.Contains(string(r.raw), `"secret_fields":["password"]`) {
			t.Fatalf("secret fields: %s", r.raw)
		}
		t2, err := e.st.GetTarget(context.Background(), id)
		if err != nil || strings.Contains(string(t2.Config), "s3cret") ||
			len(t2.SecretsSealed) == 0 {
			t.Fatalf("stored target: %s, sealed %d bytes, %v", t2.Config,
				len(t2.SecretsSealed), err)
		}
		e.do("PUT", "/api/v1/targets/"+id, e.keys["operator"], map[string]any{
			"name": "store", "type": "pkcs12",
			"config": map[string]any{"path": "/srv/certs/other.p12"}}).want(t, http.StatusOK, "")
		ta := e.fileTarget(t, a, "web")
		e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "p", "common_name": "p.example.com", "issuer_id": "iss-local",
			"key_mode": "server", "target_ids": []string{id, ta}}).want(t, http.StatusCreated, "")
		var cfg string
		deadline := time.Now().Add(10 * time.Second)
		for cfg == "" && time.Now().Before(deadline) {
			w := e.agentDo(a, "GET", agentapi.PathWork, "", nil)
			if strings.Contains(string(w.raw), "other.p12") {
				cfg = string(w.raw)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(cfg, "s3cret-keystore-pass") {
			t.Fatalf("the agent does not get its target's secret: %s", cfg)
		}
		// Agent key mode: targets on two agents are refused.
		b := e.enroll(t, "beta")
		tb := e.fileTarget(t, b, "web")
		e.do("POST", "/api/v1/certificates", e.keys["operator"], map[string]any{
			"name": "split", "common_name": "s.example.com", "issuer_id": "iss-local",
			"key_mode": "agent", "target_ids": []string{ta, tb}}).
			want(t, http.StatusBadRequest, "validation_failed")
	})
}

func TestDiscoveryTriage(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		a := e.enroll(t, "alpha")
		certPEM, _ := selfSigned(t, "legacy.example.com")
		block, _ := pem.Decode([]byte(certPEM))
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(leaf.Raw)
		found := agentapi.Discovered{Fingerprint: hex.EncodeToString(sum[:]),
			Subject: "CN=legacy.example.com", CommonName: "legacy.example.com",
			SANs: []string{"legacy.example.com"}, Serial: leaf.SerialNumber.Text(16),
			NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, KeyAlgorithm: "ecdsa-p256",
			KeyBits: 256, Location: "/etc/ssl/legacy.pem", Format: "pem",
			CertPEM: certPEM}
		report := agentapi.Discovery{Directories: []string{"/etc/ssl"},
			Certificates: []agentapi.Discovered{found}}
		r := e.agentDo(a, "POST", agentapi.PathDiscovery, "", report).
			want(t, http.StatusAccepted, "")
		if r.body["new"] != float64(1) {
			t.Fatalf("report: %s", r.raw)
		}
		// The same certificate in the same place again is the same record.
		r = e.agentDo(a, "POST", agentapi.PathDiscovery, "", report).
			want(t, http.StatusAccepted, "")
		if r.body["new"] != float64(0) {
			t.Fatalf("second report: %s", r.raw)
		}
		list := e.admin("GET", "/api/v1/discovered-certificates?status=Unmanaged", nil)
		if len(list.list()) != 1 {
			t.Fatalf("discovered: %s", list.raw)
		}
		tag := list.header.Get("ETag")
		e.admin("GET", "/api/v1/discovered-certificates?status=Unmanaged", nil,
			"If-None-Match", tag).want(t, http.StatusNotModified, "")
		id := list.list()[0]["id"].(string)
		claimed := e.do("POST", "/api/v1/discovered-certificates/"+id+"/claim",
			e.keys["operator"], map[string]any{"name": "legacy"}).want(t, http.StatusOK, "")
		certID, _ := claimed.body["certificate_id"].(string)
		c := e.admin("GET", "/api/v1/certificates/"+certID, nil).want(t, http.StatusOK, "")
		if c.str("name") != "legacy" || c.str("status") != "Active" {
			t.Fatalf("claimed certificate: %s", c.raw)
		}
		e.do("POST", "/api/v1/discovered-certificates/"+id+"/dismiss", e.keys["operator"],
			nil).want(t, http.StatusConflict, "conflict")
		// Garbage in a report is refused by field, and nothing is stored.
		bad := report
		bad.Certificates = []agentapi.Discovered{{Fingerprint: "zz", Location: "/x"}}
		e.agentDo(a, "POST", agentapi.PathDiscovery, "", bad).
			want(t, http.StatusBadRequest, "validation_failed")
	})
}

// csrFor makes a CSR for dnsName signed by key.
func csrFor(t *testing.T, key crypto.Signer, dnsName string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func pemKey(t *testing.T, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// keyMatches reports whether the PEM key is the key of the PEM certificate.
func keyMatches(t *testing.T, keyPEM, certPEM string) bool {
	t.Helper()
	kb, _ := pem.Decode([]byte(keyPEM))
	cb, _ := pem.Decode([]byte(certPEM))
	if kb == nil || cb == nil {
		return false
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(key.(crypto.Signer).Public())
	want, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
	return slices.Equal(pub, want)
}
