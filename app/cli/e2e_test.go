package cli_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"certctl/store/storetest"
)

// binary is the certctl executable built once for these tests.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "certctl-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "certctl")
	build := exec.Command("go", "build", "-o", binary, "certctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build certctl: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// instance is one `certctl serve` process.
type instance struct {
	t      testing.TB
	cmd    *exec.Cmd
	env    []string
	url    string
	client *http.Client
	log    *syncBuffer
	done   chan error
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// baseEnv is a clean environment: the test's own CERTCTL_* variables must not leak in.
func baseEnv(dataDir string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CERTCTL_") {
			env = append(env, kv)
		}
	}
	env = append(env, "CERTCTL_DATA_DIR="+dataDir, "CERTCTL_LOG_FORMAT=text")
	return append(env, extra...)
}

// startServe runs certctl serve and waits until /health answers over TLS verified against
// the root the server wrote into its data directory.
func startServe(t testing.TB, env []string) *instance {
	t.Helper()
	port := freePort(t)
	env = append(env, fmt.Sprintf("CERTCTL_SERVER_PORT=%d", port),
		"CERTCTL_SERVER_HOST=127.0.0.1")
	in := &instance{t: t, env: env, url: fmt.Sprintf("https://127.0.0.1:%d", port),
		log: &syncBuffer{}, done: make(chan error, 1)}
	in.cmd = exec.Command(binary, "serve")
	in.cmd.Env = env
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.done <- in.cmd.Wait() }()
	t.Cleanup(func() { in.stop() })

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if in.client == nil {
			in.client = trustingClient(dataDir(env))
		}
		if in.client != nil {
			if resp, err := in.client.Get(in.url + "/health"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return in
				}
			}
		}
		select {
		case err := <-in.done:
			t.Fatalf("certctl serve exited early: %v\n%s", err, in.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("certctl serve did not become healthy:\n%s", in.log)
	return nil
}

func dataDir(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "CERTCTL_DATA_DIR="); ok {
			return v
		}
	}
	return ""
}

// trustingClient trusts only the server's own root, or returns nil before it exists.
func trustingClient(dir string) *http.Client {
	pem, err := os.ReadFile(filepath.Join(dir, "tls", "ca.pem"))
	if err != nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// stop sends SIGTERM and waits for a clean exit.
func (in *instance) stop() error {
	if in.cmd.ProcessState != nil {
		return nil
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-in.done:
		return err
	case <-time.After(15 * time.Second):
		in.cmd.Process.Kill()
		return errors.New("did not stop within 15 s of SIGTERM")
	}
}

// run runs a short certctl command with env and returns its exit code, stdout and stderr.
func run(t testing.TB, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() { <-ctx.Done(); cmd.Process.Kill() }()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func (in *instance) request(method, path, key, body string) (int, string) {
	in.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, in.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := in.client.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func postgresEnv(t testing.TB) []string {
	return baseEnv(t.TempDir(), "CERTCTL_CONFIG_ENCRYPTION_KEY="+strings.Repeat("5a", 32),
		"CERTCTL_DATABASE_URL="+storetest.PostgresSchema(t))
}
