package cli_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"certctl/store/storetest"
)

const (
	e2eAdminKey   = "e2e-admin-key-0123456789abcdef"
	e2eAgentToken = "e2e-agent-bootstrap-token"
)

// nginxSite is an nginx started from a configuration of the test's own, serving TLS for
// site.test on a free loopback port from files in dir/site.
type nginxSite struct {
	prefix, conf, siteDir string
	port                  int
	cmd                   *exec.Cmd
}

func startNginx(t *testing.T, dir string) *nginxSite {
	t.Helper()
	if _, err := exec.LookPath("nginx"); err != nil {
		storetest.MissingPeer(t, "nginx is missing: apt-get install nginx")
	}
	n := &nginxSite{prefix: filepath.Join(dir, "nginx"), siteDir: filepath.Join(dir, "site"),
		port: freePort(t)}
	n.conf = filepath.Join(n.prefix, "nginx.conf")
	for _, d := range []string{n.prefix, n.siteDir, filepath.Join(n.prefix, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A placeholder so that nginx can start before the first deployment.
	certPEM, keyPEM := placeholderCert(t)
	writeFile(t, filepath.Join(n.siteDir, "fullchain.pem"), certPEM, 0o644)
	writeFile(t, filepath.Join(n.siteDir, "key.pem"), keyPEM, 0o600)
	tmp := filepath.Join(n.prefix, "tmp")
	writeFile(t, n.conf, fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    server {
        listen 127.0.0.1:%[3]d ssl;
        server_name site.test;
        ssl_certificate %[4]s/fullchain.pem;
        ssl_certificate_key %[4]s/key.pem;
        location / { return 200 "ok"; }
    }
}
`, n.prefix, tmp, n.port, n.siteDir), 0o644)
	n.cmd = exec.Command("nginx", "-c", n.conf, "-p", n.prefix, "-g", "daemon off;")
	out := &syncBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	// nginx runs in a process group of its own, so that its workers go with it: a worker
	// left behind would keep the port, and the output pipe Wait waits for.
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	n.cmd.WaitDelay = 5 * time.Second
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM) // nginx's fast shutdown
		done := make(chan struct{})
		go func() { n.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for n.servedSerial() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not start:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n
}

// servedSerial is the serial of the leaf nginx serves for site.test, or "" when it does not
// answer.
func (n *nginxSite) servedSerial() string {
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port),
		&tls.Config{ServerName: "site.test", InsecureSkipVerify: true})
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}

func placeholderCert(t *testing.T) (string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject:  pkix.Name{CommonName: "placeholder"},
		DNSNames: []string{"site.test"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// startAgent runs `certctl agent` against the server in.
func startAgent(t *testing.T, in *instance, dir string, extra ...string) (*exec.Cmd,
	*syncBuffer, chan error) {
	t.Helper()
	env := append(baseEnv(dataDir(in.env)), "CERTCTL_SERVER_URL="+in.url,
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN="+e2eAgentToken, "CERTCTL_AGENT_NAME=web-1",
		"CERTCTL_AGENT_STATE_DIR="+filepath.Join(dir, "agent-state"),
		"CERTCTL_SERVER_CA_BUNDLE_PATH="+filepath.Join(dataDir(in.env), "tls", "ca.pem"),
		"CERTCTL_AGENT_POLL_INTERVAL=300ms", "CERTCTL_AGENT_HEARTBEAT_INTERVAL=1s")
	cmd := exec.Command(binary, "agent")
	cmd.Env = append(env, extra...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	return cmd, log, done
}

// getJSON fetches path with the admin key and decodes it.
func (in *instance) getJSON(path string, out any) {
	in.t.Helper()
	status, body := in.request("GET", path, e2eAdminKey, "")
	if status != 200 {
		in.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal([]byte(body), out); err != nil {
		in.t.Fatalf("GET %s: %v", path, err)
	}
}

// waitFor polls cond until it holds, failing with what after timeout.
func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type listOf[T any] struct {
	Data []T `json:"data"`
}

type deployment struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	LastError string `json:"last_error"`
}

// agentSite is a server, an agent enrolled with the bootstrap token, nginx on the agent's
// host, and a certificate in agent key mode mapped to an nginx target of the agent.
type agentSite struct {
	t        *testing.T
	dir      string
	site     *nginxSite
	in       *instance
	agentLog *syncBuffer
	agentEnd chan error
	agentID  string
	certID   string
}

// startAgentSite sets up an agentSite; serveEnv is added to the server's environment,
// agentEnv to the agent's.
func startAgentSite(t *testing.T, serveEnv, agentEnv []string) *agentSite {
	t.Helper()
	s := &agentSite{t: t, dir: t.TempDir()}
	s.site = startNginx(t, s.dir)
	s.in = startServe(t, baseEnv(filepath.Join(s.dir, "data"), append([]string{
		"CERTCTL_AUTH_SECRET=" + e2eAdminKey,
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN=" + e2eAgentToken}, serveEnv...)...))
	_, s.agentLog, s.agentEnd = startAgent(t, s.in, s.dir,
		append([]string{"CERTCTL_AGENT_ALLOWED_PATHS=" + s.site.siteDir}, agentEnv...)...)

	var agents listOf[struct{ ID, Name, Status string }]
	waitFor(t, 20*time.Second,
		func() string { return "agent did not enroll:\n" + s.agentLog.String() },
		func() bool {
			s.in.getJSON("/api/v1/agents", &agents)
			return len(agents.Data) == 1 && agents.Data[0].Status == "Online"
		})
	s.agentID = agents.Data[0].ID

	nginx := []string{"-c", s.site.conf, "-p", s.site.prefix}
	target, _ := json.Marshal(map[string]any{"agent_id": s.agentID, "name": "site",
		"type": "nginx", "config": map[string]any{
			"fullchain_path":   filepath.Join(s.site.siteDir, "fullchain.pem"),
			"key_path":         filepath.Join(s.site.siteDir, "key.pem"),
			"validate_command": append([]string{"nginx", "-t"}, nginx...),
			"reload_command":   append([]string{"nginx", "-s", "reload"}, nginx...),
			"verify": map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", s.site.port),
				"server_name": "site.test"}}})
	status, body := s.in.request("POST", "/api/v1/targets", e2eAdminKey, string(target))
	if status != 201 {
		t.Fatalf("create target: %d %s", status, body)
	}
	var tgt struct{ ID string }
	json.Unmarshal([]byte(body), &tgt)
	status, body = s.in.request("POST", "/api/v1/certificates", e2eAdminKey, fmt.Sprintf(
		`{"name":"site","common_name":"site.test","sans":["site.test"],"issuer_id":"iss-local",
		  "key_mode":"agent","target_ids":[%q]}`, tgt.ID))
	if status != 201 {
		t.Fatalf("create certificate: %d %s", status, body)
	}
	var cert struct{ ID string }
	json.Unmarshal([]byte(body), &cert)
	s.certID = cert.ID
	return s
}

// deployed waits for n completed deployments and checks that nginx serves the current
// version, whose serial it returns.
func (s *agentSite) deployed(n int) string {
	s.t.Helper()
	var deps listOf[deployment]
	waitFor(s.t, 30*time.Second, func() string {
		return fmt.Sprintf("deployments %+v\nagent log:\n%s", deps.Data, s.agentLog)
	}, func() bool {
		s.in.getJSON("/api/v1/certificates/"+s.certID+"/deployments", &deps)
		done := 0
		for _, d := range deps.Data {
			if d.Status == "Completed" {
				done++
			}
		}
		return done >= n
	})
	var versions listOf[struct{ Serial string }]
	s.in.getJSON("/api/v1/certificates/"+s.certID+"/versions", &versions)
	// nginx -s reload returns before its new workers take over: look again for a moment.
	served := s.site.servedSerial()
	for deadline := time.Now().Add(5 * time.Second); served != versions.Data[0].Serial &&
		time.Now().Before(deadline); served = s.site.servedSerial() {
		time.Sleep(50 * time.Millisecond)
	}
	if served != versions.Data[0].Serial {
		s.t.Fatalf("nginx serves %s, the current version is %s", served,
			versions.Data[0].Serial)
	}
	return versions.Data[0].Serial
}

// TestAgentDeploysToNginx runs the whole chain with real processes: the server, an agent
// that enrolls with the bootstrap token and makes the key on its host, and nginx that the
// agent reloads; a handshake shows each new certificate being served. Then the agent's
// discovery report reaches the server, and retiring the agent stops it.
func TestAgentDeploysToNginx(t *testing.T) {
	discover := filepath.Join(t.TempDir(), "discover")
	os.MkdirAll(discover, 0o755)
	legacy, _ := placeholderCert(t)
	writeFile(t, filepath.Join(discover, "legacy.crt"), legacy, 0o644)
	s := startAgentSite(t, nil, []string{"CERTCTL_DISCOVERY_DIRS=" + discover})
	dir, in, agentLog := s.dir, s.in, s.agentLog
	if info, err := os.Stat(filepath.Join(dir, "agent-state", "agent.json")); err != nil ||
		info.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", info, err)
	}
	first := s.deployed(1)
	keys, _ := filepath.Glob(filepath.Join(dir, "agent-state", "keys", s.certID, "*.key"))
	if len(keys) != 1 {
		t.Fatalf("agent keys: %v", keys)
	}
	if info, _ := os.Stat(keys[0]); info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", info.Mode())
	}

	// A renewal makes a new key on the host and the new certificate is served.
	status, body := in.request("POST", "/api/v1/certificates/"+s.certID+"/renew", e2eAdminKey, "")
	if status != 202 && status != 200 {
		t.Fatalf("renew: %d %s", status, body)
	}
	if second := s.deployed(2); second == first {
		t.Fatal("the renewal deployed the same certificate")
	}

	// The certificate in the discovery directory was reported.
	var found listOf[struct{ Location string }]
	waitFor(t, 10*time.Second,
		func() string { return "no discovery report:\n" + agentLog.String() },
		func() bool {
			in.getJSON("/api/v1/discovered-certificates", &found)
			return len(found.Data) == 1 && strings.HasSuffix(found.Data[0].Location, "legacy.crt")
		})

	// The CLI lists the agent.
	code, out, errOut := run(t, append(baseEnv(dir), "CERTCTL_SERVER_URL="+in.url,
		"CERTCTL_API_KEY="+e2eAdminKey,
		"CERTCTL_SERVER_CA_BUNDLE_PATH="+filepath.Join(dataDir(in.env), "tls", "ca.pem")),
		"agents", "list")
	if code != 0 || !strings.Contains(out, "web-1") || !strings.Contains(out, "Online") {
		t.Fatalf("agents list: %d %s %s", code, out, errOut)
	}

	// Retired, the agent stops by itself with exit code 0.
	status, body = in.request("DELETE", "/api/v1/agents/"+s.agentID, e2eAdminKey, "")
	if status != 204 {
		t.Fatalf("retire: %d %s", status, body)
	}
	select {
	case err := <-s.agentEnd:
		if err != nil {
			t.Fatalf("the retired agent exited with %v:\n%s", err, agentLog)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the retired agent is still running:\n%s", agentLog)
	}
	if strings.Contains(agentLog.String(), "cctla_") {
		t.Fatal("the agent logged its credential")
	}
}

// TestAgentRestoresDrift has someone replace the certificate nginx serves by hand after a
// deployment: the deployment verification loop queues a check, the agent finds the files
// changed, deploys the certificate again, and nginx serves it once more.
func TestAgentRestoresDrift(t *testing.T) {
	s := startAgentSite(t, []string{"CERTCTL_SCHEDULER_DEPLOYMENT_VERIFICATION_INTERVAL=1s",
		"CERTCTL_DEPLOYMENT_VERIFY_AFTER=2s"}, nil)
	serial := s.deployed(1)

	certPEM, keyPEM := placeholderCert(t)
	writeFile(t, filepath.Join(s.site.siteDir, "fullchain.pem"), certPEM, 0o644)
	writeFile(t, filepath.Join(s.site.siteDir, "key.pem"), keyPEM, 0o600)
	reload := exec.Command("nginx", "-s", "reload", "-c", s.site.conf, "-p", s.site.prefix)
	if out, err := reload.CombinedOutput(); err != nil {
		t.Fatalf("nginx -s reload: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, func() string { return "nginx did not load the other certificate" },
		func() bool { return s.site.servedSerial() == "1" })

	waitFor(t, 30*time.Second, func() string {
		return fmt.Sprintf("nginx serves %s, not %s again\nagent log:\n%s",
			s.site.servedSerial(), serial, s.agentLog)
	}, func() bool { return s.site.servedSerial() == serial })
	var events listOf[struct {
		ResourceID string `json:"resource_id"`
	}]
	s.in.getJSON("/api/v1/audit?action=certificate.verify_deployment", &events)
	if len(events.Data) == 0 || events.Data[0].ResourceID != s.certID {
		t.Fatalf("no certificate.verify_deployment audit event for %s: %+v", s.certID,
			events.Data)
	}
}
