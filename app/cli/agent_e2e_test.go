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
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "placeholder"},
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

// TestAgentDeploysToNginx runs the whole chain with real processes: the server, an agent
// that enrolls with the bootstrap token and makes the key on its host, and nginx that the
// agent reloads; a handshake shows each new certificate being served. Then the agent's
// discovery report reaches the server, and retiring the agent stops it.
func TestAgentDeploysToNginx(t *testing.T) {
	dir := t.TempDir()
	site := startNginx(t, dir)
	discover := filepath.Join(dir, "discover")
	os.MkdirAll(discover, 0o755)
	legacy, _ := placeholderCert(t)
	writeFile(t, filepath.Join(discover, "legacy.crt"), legacy, 0o644)

	in := startServe(t, baseEnv(filepath.Join(dir, "data"), "CERTCTL_AUTH_SECRET="+e2eAdminKey,
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN="+e2eAgentToken))
	agentCmd, agentLog, agentDone := startAgent(t, in, dir,
		"CERTCTL_AGENT_ALLOWED_PATHS="+site.siteDir, "CERTCTL_DISCOVERY_DIRS="+discover)

	var agents listOf[struct{ ID, Name, Status string }]
	waitFor(t, 20*time.Second, func() string { return "agent did not enroll:\n" + agentLog.String() },
		func() bool {
			in.getJSON("/api/v1/agents", &agents)
			return len(agents.Data) == 1 && agents.Data[0].Status == "Online"
		})
	agentID := agents.Data[0].ID
	if info, err := os.Stat(filepath.Join(dir, "agent-state", "agent.json")); err != nil ||
		info.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v %v", info, err)
	}

	nginx := []string{"-c", site.conf, "-p", site.prefix}
	target, _ := json.Marshal(map[string]any{"agent_id": agentID, "name": "site", "type": "nginx",
		"config": map[string]any{
			"fullchain_path":   filepath.Join(site.siteDir, "fullchain.pem"),
			"key_path":         filepath.Join(site.siteDir, "key.pem"),
			"validate_command": append([]string{"nginx", "-t"}, nginx...),
			"reload_command":   append([]string{"nginx", "-s", "reload"}, nginx...),
			"verify": map[string]any{"address": fmt.Sprintf("127.0.0.1:%d", site.port),
				"server_name": "site.test"}}})
	status, body := in.request("POST", "/api/v1/targets", e2eAdminKey, string(target))
	if status != 201 {
		t.Fatalf("create target: %d %s", status, body)
	}
	var tgt struct{ ID string }
	json.Unmarshal([]byte(body), &tgt)
	status, body = in.request("POST", "/api/v1/certificates", e2eAdminKey, fmt.Sprintf(
		`{"name":"site","common_name":"site.test","sans":["site.test"],"issuer_id":"iss-local",
		  "key_mode":"agent","target_ids":[%q]}`, tgt.ID))
	if status != 201 {
		t.Fatalf("create certificate: %d %s", status, body)
	}
	var cert struct{ ID string }
	json.Unmarshal([]byte(body), &cert)

	// deployed waits for n completed deployments and checks that nginx serves the current
	// version.
	deployed := func(n int) string {
		t.Helper()
		var deps listOf[deployment]
		waitFor(t, 30*time.Second, func() string {
			return fmt.Sprintf("deployments %+v\nagent log:\n%s", deps.Data, agentLog)
		}, func() bool {
			in.getJSON("/api/v1/certificates/"+cert.ID+"/deployments", &deps)
			done := 0
			for _, d := range deps.Data {
				if d.Status == "Completed" {
					done++
				}
			}
			return done >= n
		})
		var versions listOf[struct{ Serial string }]
		in.getJSON("/api/v1/certificates/"+cert.ID+"/versions", &versions)
		if served := site.servedSerial(); served != versions.Data[0].Serial {
			t.Fatalf("nginx serves %s, the current version is %s", served, versions.Data[0].Serial)
		}
		return versions.Data[0].Serial
	}
	first := deployed(1)
	keys, _ := filepath.Glob(filepath.Join(dir, "agent-state", "keys", cert.ID, "*.key"))
	if len(keys) != 1 {
		t.Fatalf("agent keys: %v", keys)
	}
	if info, _ := os.Stat(keys[0]); info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", info.Mode())
	}

	// A renewal makes a new key on the host and the new certificate is served.
	status, body = in.request("POST", "/api/v1/certificates/"+cert.ID+"/renew", e2eAdminKey, "")
	if status != 202 && status != 200 {
		t.Fatalf("renew: %d %s", status, body)
	}
	if second := deployed(2); second == first {
		t.Fatal("the renewal deployed the same certificate")
	}

	// The certificate in the discovery directory was reported.
	var found listOf[struct{ Location string }]
	waitFor(t, 10*time.Second, func() string { return "no discovery report:\n" + agentLog.String() },
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
	status, body = in.request("DELETE", "/api/v1/agents/"+agentID, e2eAdminKey, "")
	if status != 204 {
		t.Fatalf("retire: %d %s", status, body)
	}
	select {
	case err := <-agentDone:
		if err != nil {
			t.Fatalf("the retired agent exited with %v:\n%s", err, agentLog)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the retired agent is still running:\n%s", agentLog)
	}
	_ = agentCmd
	if strings.Contains(agentLog.String(), "cctla_") {
		t.Fatal("the agent logged its credential")
	}
}
