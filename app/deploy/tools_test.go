package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"certctl/app/agentapi"
)

// These tests deploy to the real servers and check their verdicts: the programs must be
// installed (Debian: nginx apache2 haproxy caddy postfix dovecot-core
// openjdk-17-jre-headless openssl).

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer collects a server's output for the failure message.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs a server in the foreground until the test ends, and waits until addr
// serves a leaf with the serial want.
func startServer(t *testing.T, addr, want string, env []string, name string,
	args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	// A group of its own, so that the workers go with the master.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ := servedChain(addr)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s serves serial %q, want %s:\n%s", name, got, want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servedChain returns the serial of the leaf addr serves for site.test, and how many
// certificates it sends.
func servedChain(addr string) (string, int) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "site.test",
		InsecureSkipVerify: true})
	if err != nil {
		return "", 0
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	return certs[0].SerialNumber.Text(16), len(certs)
}

// placeholder writes a certificate and key for a server to start with.
func placeholder(t *testing.T, pki *testPKI, certPath, keyPath string) {
	t.Helper()
	m := pki.issue(t, 0x100)
	writeTestFile(t, certPath, m.CertPEM+m.ChainPEM, 0o644)
	writeTestFile(t, keyPath, keyPEM(t, m), 0o600)
}

func TestNginx(t *testing.T) {
	needTool(t, "nginx")
	dir, pki := t.TempDir(), newPKI(t)
	site := filepath.Join(dir, "site")
	fullchain, key := filepath.Join(site, "fullchain.pem"), filepath.Join(site, "key.pem")
	placeholder(t, pki, fullchain, key)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := filepath.Join(dir, "nginx.conf")
	writeTestFile(t, conf, fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    server {
        listen %[2]s ssl;
        server_name site.test;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        location / { return 200 "ok"; }
    }
}
`, dir, addr, fullchain, key), 0o644)
	nginx := []string{"-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
	startServer(t, addr, "100", nil, "nginx", append(nginx, "-g", "daemon off;")...)

	fields := map[string]any{"fullchain_path": fullchain, "key_path": key,
		"validate_command": append([]string{"nginx", "-t"}, nginx...),
		"reload_command":   append([]string{"nginx", "-s", "reload"}, nginx...),
		"verify":           map[string]any{"address": addr, "server_name": "site.test"}}
	r := Deploy(context.Background(), "nginx", config(t, fields), []string{site},
		pki.issue(t, 1), Options{VerifyTimeout: 10 * time.Second})
	wantResult(t, r, agentapi.ResultDeployed,
		"check prepare backup write validate reload verify")
	if serial, n := servedChain(addr); r.Serial != "1" || serial != "1" || n != 2 {
		t.Fatalf("report serial %q; nginx serves %q with %d certificates", r.Serial, serial, n)
	}

	// A validate command that fails: the files go back and nginx keeps serving serial 1.
	fields["validate_command"] = []string{"false"}
	r = Deploy(context.Background(), "nginx", config(t, fields), []string{site},
		pki.issue(t, 2), Options{VerifyTimeout: 10 * time.Second})
	wantResult(t, r, agentapi.ResultRolledBack,
		"check prepare backup write validate! restore reload")
	if serial, _ := servedChain(addr); serial != "1" {
		t.Fatalf("nginx serves %q after the rollback, want 1", serial)
	}
}

func TestApache(t *testing.T) {
	needTool(t, "apache2", "apache2ctl")
	dir, pki := t.TempDir(), newPKI(t)
	cert, chain := filepath.Join(dir, "site", "cert.pem"), filepath.Join(dir, "site", "chain.pem")
	key := filepath.Join(dir, "site", "key.pem")
	placeholder(t, pki, cert, key)
	writeTestFile(t, chain, string(certPEM(pki.inter)), 0o644)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	user := ""
	if os.Geteuid() == 0 {
		user = "User nobody\nGroup nogroup"
	}
	mods := "/usr/lib/apache2/modules"
	conf := filepath.Join(dir, "apache2.conf")
	writeTestFile(t, conf, fmt.Sprintf(`ServerRoot %[1]s
ServerName site.test
DefaultRuntimeDir %[1]s
PidFile %[1]s/apache2.pid
ErrorLog %[1]s/error.log
%[6]s
LoadModule mpm_event_module %[7]s/mod_mpm_event.so
LoadModule authz_core_module %[7]s/mod_authz_core.so
LoadModule ssl_module %[7]s/mod_ssl.so
Listen %[2]s
<VirtualHost %[2]s>
    ServerName site.test
    SSLEngine on
    SSLCertificateFile %[3]s
    SSLCertificateChainFile %[4]s
    SSLCertificateKeyFile %[5]s
</VirtualHost>
`, dir, addr, cert, chain, key, user, mods), 0o644)
	apache := []string{"-d", dir, "-f", conf}
	startServer(t, addr, "100", nil, "apache2", append(apache, "-DFOREGROUND")...)

	fields := map[string]any{"cert_path": cert, "chain_path": chain, "key_path": key,
		"validate_command": append([]string{"apache2ctl", "-t"}, apache...),
		"reload_command":   append([]string{"apache2", "-k", "graceful"}, apache...),
		"verify":           map[string]any{"address": addr, "server_name": "site.test"}}
	r := Deploy(context.Background(), "apache", config(t, fields), []string{dir},
		pki.issue(t, 1), Options{VerifyTimeout: 10 * time.Second})
	wantResult(t, r, agentapi.ResultDeployed,
		"check prepare backup write validate reload verify")
	// The leaf alone in cert_path, the chain from chain_path.
	if serial, n := servedChain(addr); serial != "1" || n != 2 {
		t.Fatalf("apache serves %q with %d certificates, want 1 with its chain", serial, n)
	}
}

func TestHAProxy(t *testing.T) {
	needTool(t, "haproxy")
	dir, pki := t.TempDir(), newPKI(t)
	pemPath := filepath.Join(dir, "certs", "site.pem")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	conf := filepath.Join(dir, "haproxy.cfg")
	writeTestFile(t, conf, fmt.Sprintf(`global
    log stderr local0
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend site
    bind %s ssl crt %s
    http-request return status 200
`, addr, pemPath), 0o644)
	fields := map[string]any{"pem_path": pemPath,
		"validate_command": []string{"haproxy", "-c", "-f", conf}}
	r := Deploy(context.Background(), "haproxy", config(t, fields), []string{dir},
		pki.issue(t, 1), Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write validate")
	if got := modeOf(t, pemPath); got != 0o600 {
		t.Errorf("pem mode %04o, want 0600", got)
	}
	startServer(t, addr, "1", nil, "haproxy", "-db", "-f", conf)
	if _, n := servedChain(addr); n != 2 {
		t.Errorf("haproxy serves %d certificates, want the leaf and its chain", n)
	}
}

func TestCaddy(t *testing.T) {
	needTool(t, "caddy")
	dir, pki := t.TempDir(), newPKI(t)
	cert, key := filepath.Join(dir, "certs", "site.crt"), filepath.Join(dir, "certs", "site.key")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	caddyfile := filepath.Join(dir, "Caddyfile")
	writeTestFile(t, caddyfile, fmt.Sprintf(`{
	admin off
	storage file_system %s/data
}
https://site.test:%s {
	bind 127.0.0.1
	tls %s %s
	respond "ok"
}
`, dir, strings.Split(addr, ":")[1], cert, key), 0o644)
	// Caddy keeps state under these; the test's own directory keeps $HOME clean.
	env := []string{"XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	fields := map[string]any{"cert_path": cert, "key_path": key,
		"validate_command": []string{"caddy", "validate", "--config", caddyfile,
			"--adapter", "caddyfile"}}
	r := Deploy(context.Background(), "caddy", config(t, fields), []string{dir},
		pki.issue(t, 1), Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write validate")
	startServer(t, addr, "1", env, "caddy", "run", "--config", caddyfile,
		"--adapter", "caddyfile")
	if _, n := servedChain(addr); n != 2 {
		t.Errorf("caddy serves %d certificates, want the full chain from cert_path", n)
	}
}

func TestPostfix(t *testing.T) {
	needTool(t, "postconf", "openssl")
	dir, pki := t.TempDir(), newPKI(t)
	cert, key := filepath.Join(dir, "certs", "mail.pem"), filepath.Join(dir, "certs", "mail.key")
	conf := filepath.Join(dir, "postfix")
	writeTestFile(t, filepath.Join(conf, "main.cf"), fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
maillog_file = /dev/stdout
smtpd_tls_security_level = may
smtpd_tls_cert_file = %[2]s
smtpd_tls_key_file = %[3]s
`, dir, cert, key), 0o644)
	writeTestFile(t, filepath.Join(conf, "master.cf"),
		"smtp inet n - y - - smtpd\npostlog unix-dgram n - n - 1 postlogd\n", 0o644)
	// postfix check is for the superuser only; otherwise postconf at least parses the
	// configuration, and openssl below checks the files.
	validate := []string{"postconf", "-c", conf, "-n"}
	if os.Geteuid() == 0 {
		needTool(t, "postfix")
		os.MkdirAll(filepath.Join(dir, "queue"), 0o755)
		os.MkdirAll(filepath.Join(dir, "data"), 0o755)
		validate = []string{"postfix", "-c", conf, "check"}
	}
	fields := map[string]any{"cert_path": cert, "key_path": key,
		"validate_command": validate}
	m := pki.issue(t, 1)
	r := Deploy(context.Background(), "postfix", config(t, fields), []string{dir}, m,
		Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write validate")

	// Without chain_path the chain follows the leaf in cert_path.
	if got := readTestFile(t, cert); got != m.CertPEM+m.ChainPEM {
		t.Errorf("cert_path holds\n%s", got)
	}
	root := filepath.Join(dir, "root.pem")
	writeTestFile(t, root, pki.rootPEM, 0o644)
	out := run(t, "openssl", "verify", "-CAfile", root, "-untrusted", cert, cert)
	if !strings.Contains(out, ": OK") {
		t.Errorf("openssl verify: %s", out)
	}
	certKey := run(t, "openssl", "x509", "-noout", "-pubkey", "-in", cert)
	if keyKey := run(t, "openssl", "pkey", "-pubout", "-in", key); certKey != keyKey {
		t.Errorf("the certificate's public key\n%s\nis not the key file's\n%s", certKey, keyKey)
	}
}

func TestDovecot(t *testing.T) {
	needTool(t, "doveconf")
	dir, pki := t.TempDir(), newPKI(t)
	cert, key := filepath.Join(dir, "certs", "mail.pem"), filepath.Join(dir, "certs", "mail.key")
	conf := filepath.Join(dir, "dovecot.conf")
	writeTestFile(t, conf, fmt.Sprintf(`base_dir = %s/run
ssl = required
ssl_cert = <%s
ssl_key = <%s
`, dir, cert, key), 0o644)
	fields := map[string]any{"cert_path": cert, "key_path": key,
		"validate_command": []string{"doveconf", "-n", "-c", conf}}
	m := pki.issue(t, 1)
	r := Deploy(context.Background(), "dovecot", config(t, fields), []string{dir}, m,
		Options{})
	wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write validate")
	// doveconf -x reads the file the way dovecot loads it.
	got := run(t, "doveconf", "-x", "-c", conf, "-h", "ssl_cert")
	if strings.TrimSpace(got) != strings.TrimSpace(m.CertPEM+m.ChainPEM) {
		t.Errorf("dovecot reads ssl_cert as\n%s", got)
	}
}

func TestKeytool(t *testing.T) {
	needTool(t, "keytool")
	dir, pki := t.TempDir(), newPKI(t)
	m := pki.issue(t, 7)
	tests := []struct {
		typ, alias string
		want       []string
	}{
		{"jks", "", []string{"Alias name: server", "Entry type: PrivateKeyEntry"}},
		{"jks", "tomcat", []string{"Alias name: tomcat", "Entry type: PrivateKeyEntry"}},
		{"pkcs12", "", []string{"Entry type: PrivateKeyEntry"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ+" "+tc.alias, func(t *testing.T) {
			path := filepath.Join(dir, tc.typ+tc.alias+".p12")
			fields := map[string]any{"path": path, "password": "changeit-please"}
			if tc.alias != "" {
				fields["alias"] = tc.alias
			}
			r := Deploy(context.Background(), tc.typ, config(t, fields), []string{dir}, m,
				Options{})
			wantResult(t, r, agentapi.ResultDeployed, "check prepare backup write")
			if got := modeOf(t, path); got != 0o600 {
				t.Errorf("keystore mode %04o, want 0600", got)
			}
			out := run(t, "keytool", "-list", "-v", "-keystore", path, "-storetype", "PKCS12",
				"-storepass", "changeit-please")
			for _, want := range append(tc.want, "Certificate chain length: 2",
				"Serial number: 7") {
				if !strings.Contains(out, want) {
					t.Errorf("keytool -list shows no %q:\n%s", want, out)
				}
			}
		})
	}
}
