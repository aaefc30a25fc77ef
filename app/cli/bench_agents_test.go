package cli_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"certctl/app/agentapi"
	"certctl/app/auth"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/sqlite"
)

// pollingAgents is how many agents the poll benchmark simulates.
const pollingAgents = 1000

// BenchmarkAgentPoll measures the agents' poll path on the server: 1,000 enrolled agents
// asking for their work with the entity tag of their last answer, so every answer is 304,
// beside GET /health in the same run, both over HTTPS with 50 connections from a load
// generator in this process.
func BenchmarkAgentPoll(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		dir := b.TempDir()
		benchPoll(b, baseEnv(dir), func() (store.Store, error) {
			return sqlite.Open(context.Background(), filepath.Join(dir, "certctl.db"))
		})
	})
	b.Run("postgres", func(b *testing.B) {
		env := postgresEnv(b)
		url := strings.TrimPrefix(env[len(env)-1], "CERTCTL_DATABASE_URL=")
		benchPoll(b, env, func() (store.Store, error) {
			return postgres.Open(context.Background(), url, 10)
		})
	})
}

type simAgent struct{ id, credential, tag string }

func benchPoll(b *testing.B, env []string, open func() (store.Store, error)) {
	env = append(env, "CERTCTL_LOG_LEVEL=warn")
	if err := startServe(b, env).stop(); err != nil {
		b.Fatal(err)
	}
	st, err := open()
	if err != nil {
		b.Fatal(err)
	}
	agents := seedAgents(b, st, pollingAgents)
	st.Close()
	in := startServe(b, env)
	client := loadClient(b, in)
	for i := range agents {
		resp, err := client.Do(workRequest(b, in.url, agents[i]))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		agents[i].tag = resp.Header.Get("ETag")
	}
	next := atomic.Int64{}
	health := load(b, client, func() *http.Request {
		req, _ := http.NewRequest("GET", in.url+"/health", nil)
		return req
	}, http.StatusOK)
	poll := load(b, client, func() *http.Request {
		return workRequest(b, in.url, agents[next.Add(1)%int64(len(agents))])
	}, http.StatusNotModified)
	b.ReportMetric(health.rps, "health-req/s")
	b.ReportMetric(poll.rps, "poll-304-req/s")
	b.ReportMetric(poll.p99*1000, "poll-p99-ms")
	b.ReportMetric(100*poll.rps/health.rps, "poll-%-of-health")
	// At a 30 s interval each agent polls twice a minute; the heartbeat adds one write a
	// minute, which this benchmark does not load.
	b.ReportMetric(poll.rps*30, "agents-at-30s")
}

// seedAgents stores n agents with known credentials.
func seedAgents(b *testing.B, st store.Store, n int) []simAgent {
	ctx := context.Background()
	now := store.UTC(time.Now())
	out := make([]simAgent, n)
	err := st.InTx(ctx, func(q store.Queries) error {
		for i := range out {
			cred := fmt.Sprintf("cctla_benchmark%06d", i)
			out[i] = simAgent{id: store.NewID("agent"), credential: cred}
			err := q.CreateAgent(ctx, store.Agent{ID: out[i].id,
				Name: fmt.Sprintf("host-%04d", i), Status: store.AgentOnline,
				CredentialHash: auth.Hash(cred), CredentialPrefix: cred[:10],
				LastHeartbeatAt: now, CreatedAt: now, UpdatedAt: now})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func workRequest(b testing.TB, base string, a simAgent) *http.Request {
	req, err := http.NewRequest("GET", base+strings.ReplaceAll(agentapi.PathWork, "{id}", a.id),
		nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.credential)
	if a.tag != "" {
		req.Header.Set("If-None-Match", a.tag)
	}
	return req
}

// loadConnections is how many connections the load generator keeps busy.
const loadConnections = 50

// loadClient trusts the server's root and keeps a connection per worker.
func loadClient(b testing.TB, in *instance) *http.Client {
	pem, err := os.ReadFile(filepath.Join(dataDir(in.env), "tls", "ca.pem"))
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: loadConnections,
		ForceAttemptHTTP2: false}}
}

// load sends requests from loadConnections workers for ten seconds and reports the rate and
// the 99th percentile latency; any status but want fails the benchmark.
func load(b testing.TB, client *http.Client, next func() *http.Request, want int) heyResult {
	var mu sync.Mutex
	var lat []time.Duration
	var bad atomic.Value
	deadline := time.Now().Add(10 * time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for range loadConnections {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Do(next())
				if err != nil {
					bad.Store(err.Error())
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != want {
					bad.Store(fmt.Sprintf("status %d, want %d", resp.StatusCode, want))
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if msg := bad.Load(); msg != nil {
		b.Fatalf("load: %v", msg)
	}
	slices.Sort(lat)
	return heyResult{rps: float64(len(lat)) / time.Since(start).Seconds(),
		p99: lat[len(lat)*99/100].Seconds()}
}

// BenchmarkAgentIdleMemory starts the server and an agent that enrolls and then polls and
// heartbeats with nothing to do, and reads the agent's resident memory after a while.
func BenchmarkAgentIdleMemory(b *testing.B) {
	dir := b.TempDir()
	in := startServe(b, baseEnv(filepath.Join(dir, "data"), "CERTCTL_LOG_LEVEL=warn",
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN="+e2eAgentToken))
	env := append(baseEnv(dataDir(in.env)), "CERTCTL_SERVER_URL="+in.url,
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN="+e2eAgentToken,
		"CERTCTL_AGENT_STATE_DIR="+filepath.Join(dir, "agent"),
		"CERTCTL_SERVER_CA_BUNDLE_PATH="+filepath.Join(dataDir(in.env), "tls", "ca.pem"),
		"CERTCTL_AGENT_POLL_INTERVAL=1s", "CERTCTL_AGENT_HEARTBEAT_INTERVAL=1s")
	cmd := exec.Command(binary, "agent")
	cmd.Env = env
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(10 * time.Second)
	if _, err := os.Stat(filepath.Join(dir, "agent", "agent.json")); err != nil {
		b.Fatalf("the agent did not enroll: %v", err)
	}
	b.ReportMetric(residentMB(b, cmd.Process.Pid), "agent-rss-MB")
}
