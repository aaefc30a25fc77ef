package agent

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/agentapi"
)

// fakeServer speaks the server's side of the agent protocol, and can be down (503 to
// everything) or say the agent was retired (410).
type fakeServer struct {
	srv *httptest.Server

	mu                 sync.Mutex
	down, retired      bool
	enrolls, whileDown int
	heartbeats, polls  int
}

const fakeCredential = "cctla_fake-credential-for-tests"

func newFakeServer(t *testing.T) *fakeServer {
	f := &fakeServer{}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	answer := func(status int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
	if f.down {
		f.whileDown++
		answer(http.StatusServiceUnavailable, map[string]string{"error": "unavailable"})
		return
	}
	if r.URL.Path == agentapi.PathEnroll {
		f.enrolls++
		answer(http.StatusCreated, agentapi.EnrollResponse{AgentID: "agent-1",
			Credential: fakeCredential})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeCredential {
		answer(http.StatusUnauthorized, map[string]string{"error": "unauthorized"})
		return
	}
	if f.retired {
		answer(http.StatusGone, map[string]string{"error": "agent_retired"})
		return
	}
	switch r.URL.Path {
	case pathFor(agentapi.PathHeartbeat, "agent-1", ""):
		f.heartbeats++
		w.WriteHeader(http.StatusNoContent)
	case pathFor(agentapi.PathWork, "agent-1", ""):
		f.polls++
		w.Header().Set("ETag", `"w1"`)
		if r.Header.Get("If-None-Match") == `"w1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		answer(http.StatusOK, agentapi.Work{Items: []agentapi.WorkItem{}})
	default:
		answer(http.StatusNotFound, map[string]string{"error": "not_found"})
	}
}

func (f *fakeServer) set(down, retired bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.retired = down, retired
}

func (f *fakeServer) count(n *int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *n
}

// syncLog collects the agent's log lines.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestAgentRidesOutOutages runs the agent against a server that is down when it starts and
// again later: the agent keeps retrying instead of exiting, enrolls once the server is
// back, resumes its heartbeats and polls after the second outage, and stops cleanly when
// the server says it was retired.
func TestAgentRidesOutOutages(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE",
		Bytes: f.srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ServerURL: f.srv.URL, BootstrapToken: "bootstrap-token-0123456789",
		Name: "web-1", StateDir: filepath.Join(dir, "state"), CABundlePath: bundle,
		PollInterval: 30 * time.Millisecond, HeartbeatInterval: 30 * time.Millisecond,
		DiscoveryInterval: time.Hour}
	log := &syncLog{}
	f.set(true, false)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), cfg, Deps{
			Log:       slog.New(slog.NewTextHandler(log, nil)),
			RetryWait: func(int) time.Duration { return 20 * time.Millisecond }})
	}()

	waitUntil(t, "enrollment attempts while the server is down", func() bool {
		return f.count(&f.whileDown) >= 5
	})
	select {
	case err := <-done:
		t.Fatalf("the agent gave up while the server was down: %v", err)
	default:
	}
	f.set(false, false)
	waitUntil(t, "heartbeats once the server is up", func() bool {
		return f.count(&f.heartbeats) >= 2 && f.count(&f.polls) >= 2
	})
	info, err := os.Stat(filepath.Join(cfg.StateDir, "agent.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v, %v; want mode 0600", info, err)
	}

	f.set(true, false)
	down := f.count(&f.whileDown)
	waitUntil(t, "retries during the second outage", func() bool {
		return f.count(&f.whileDown) >= down+5
	})
	beats := f.count(&f.heartbeats)
	f.set(false, false)
	waitUntil(t, "heartbeats after the second outage", func() bool {
		return f.count(&f.heartbeats) >= beats+2
	})
	if n := f.count(&f.enrolls); n != 1 {
		t.Errorf("the agent enrolled %d times, want once", n)
	}
	if !strings.Contains(log.String(), "heartbeat works again") {
		t.Errorf("no log line for the recovery:\n%s", log)
	}

	f.set(false, true)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("a retired agent stopped with %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the retired agent is still running")
	}
	if strings.Contains(log.String(), fakeCredential) {
		t.Fatal("the agent logged its credential")
	}
}

// TestBackoff checks that waits are random below a limit that doubles from 5 s up to 5
// minutes.
func TestBackoff(t *testing.T) {
	for n := range 20 {
		limit := min(backoffBase<<min(n, 16), backoffMax) + 100*time.Millisecond
		longest := time.Duration(0)
		for range 200 {
			d := backoff(n)
			if d < 100*time.Millisecond || d > limit {
				t.Fatalf("backoff(%d) = %s, want between 100ms and %s", n, d, limit)
			}
			longest = max(longest, d)
		}
		if longest < limit/2 {
			t.Errorf("backoff(%d): longest of 200 waits %s, want them spread up to %s", n,
				longest, limit)
		}
	}
}
