package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"certctl/app/config"
	"certctl/store/postgres"
	"certctl/store/storetest"
)

// outageBootstrapKey is the admin key the outage test authenticates with; it needs no
// database, so authentication cannot be what fails during the outage.
const outageBootstrapKey = "outage-test-bootstrap-key-0123"

const (
	// outageAnswerWithin is how fast a request must be answered while the database is down.
	outageAnswerWithin = 2500 * time.Millisecond
	// outageLoadWorkers and outageLoadMax bound the background load.
	outageLoadWorkers = 4
	outageLoadMax     = 300
)

// TestPostgresOutage stops the database under load and starts it again, with one server
// running throughout: while the database is down requests get a quick 503 with the error
// code "unavailable", and afterwards the server recovers on its own with nothing lost.
func TestPostgresOutage(t *testing.T) {
	cluster := storetest.StartCluster(t)
	srv := outageServer(t, cluster.URL())
	c := &outageClient{base: srv.URL, http: srv.Client()}
	c.http.Timeout = 5 * time.Second

	c.expect(t, "GET", "/ready", "", http.StatusOK)
	c.expect(t, "GET", "/api/v1/teams", "", http.StatusOK)
	c.expect(t, "POST", "/api/v1/teams", `{"name":"before"}`, http.StatusCreated)

	load := startLoad(t, c)
	// Enough answers from the database that the pool holds open connections when it stops.
	load.waitFor(t, 2*outageLoadWorkers, func(r loadResult) bool {
		return r.status == http.StatusOK
	})
	cluster.Stop(t)
	stopped := time.Now()
	load.waitFor(t, 1, func(r loadResult) bool { return r.started.After(stopped) })
	time.Sleep(time.Second)
	results := load.finish()

	checkOutage(t, results, stopped)
	c.expect(t, "GET", "/ready", "", http.StatusServiceUnavailable)

	cluster.Start(t)
	c.pollReady(t, 15*time.Second)
	if names := c.teamNames(t); !names["before"] {
		t.Fatalf("teams after the outage: got %v, want the team \"before\" among them", names)
	}
	c.expect(t, "POST", "/api/v1/teams", `{"name":"after"}`, http.StatusCreated)
	if names := c.teamNames(t); !names["before"] || !names["after"] {
		t.Fatalf("teams after the outage: got %v, want \"before\" and \"after\"", names)
	}
}

// outageServer serves the whole handler on a migrated store at url.
func outageServer(t *testing.T, url string) *httptest.Server {
	t.Helper()
	st, err := postgres.Open(t.Context(), url, 10)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	env := map[string]string{
		"CERTCTL_DATABASE_URL":          url,
		"CERTCTL_AUTH_SECRET":           outageBootstrapKey,
		"CERTCTL_CONFIG_ENCRYPTION_KEY": strings.Repeat("5a", 32),
	}
	cfg, err := config.Load(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	// Every 503 is logged as a failed request; the test reads the answers instead.
	log := slog.New(slog.DiscardHandler)
	app, err := Build(context.Background(), cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// checkOutage checks the answers the load got: never anything but 200 or 503, never slow,
// and only 503 "unavailable" for requests started once the database had stopped.
func checkOutage(t *testing.T, results []loadResult, stopped time.Time) {
	t.Helper()
	after, slowest, statuses := 0, time.Duration(0), map[int]int{}
	for _, r := range results {
		slowest = max(slowest, r.took)
		statuses[r.status]++
		if r.err != nil {
			t.Errorf("%s started %v after the stop: %v (after %v)", r.path,
				r.started.Sub(stopped), r.err, r.took)
			continue
		}
		if r.took >= outageAnswerWithin {
			t.Errorf("%s started %v after the stop: answered in %v, want under %v", r.path,
				r.started.Sub(stopped), r.took, outageAnswerWithin)
		}
		if r.status != http.StatusOK && r.status != http.StatusServiceUnavailable {
			t.Errorf("%s started %v after the stop: got %d %q, want 200 or 503", r.path,
				r.started.Sub(stopped), r.status, r.code)
		}
		if !r.started.After(stopped) {
			continue
		}
		after++
		if r.status != http.StatusServiceUnavailable || r.code != "unavailable" {
			t.Errorf("%s after the stop: got %d %q, want 503 \"unavailable\"", r.path,
				r.status, r.code)
		}
	}
	t.Logf("load: %d requests (by status %v), %d started after the stop, slowest %v",
		len(results), statuses, after, slowest)
}

// outageClient sends authenticated requests to the server under test.
type outageClient struct {
	base string
	http *http.Client
}

// do sends one request and returns its status and, for an error answer, its error code.
func (c *outageClient) do(method, path, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+outageBootstrapKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	var e struct {
		Error string `json:"error"`
	}
	if resp.StatusCode >= 400 {
		json.Unmarshal(b, &e)
	}
	return resp.StatusCode, e.Error, nil
}

func (c *outageClient) expect(t *testing.T, method, path, body string, want int) {
	t.Helper()
	status, code, err := c.do(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s: got %d %q, want %d", method, path, status, code, want)
	}
}

// pollReady asks /ready until it answers 200, failing t after within.
func (c *outageClient) pollReady(t *testing.T, within time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		status, _, err := c.do("GET", "/ready", "")
		if err == nil && status == http.StatusOK {
			t.Logf("ready again %v after the restart", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Since(start) > within {
			t.Fatalf("/ready after the restart: got %d (%v) for %v, want 200", status, err,
				within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// teamNames lists the teams' names.
func (c *outageClient) teamNames(t *testing.T) map[string]bool {
	t.Helper()
	resp, err := c.http.Do(c.get(t, "/api/v1/teams"))
	if err != nil {
		t.Fatalf("list teams: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("list teams: got %d, want 200", resp.StatusCode)
	}
	var list struct {
		Data []struct {
			Name string `json:"name"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("list teams: %v", err)
	}
	names := map[string]bool{}
	for _, team := range list.Data {
		names[team.Name] = true
	}
	return names
}

func (c *outageClient) get(t *testing.T, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+outageBootstrapKey)
	return req
}

// loadResult is one request of the background load.
type loadResult struct {
	path    string
	started time.Time
	took    time.Duration
	status  int
	code    string
	err     error
}

// load is a few workers reading lists in a loop, each stopping after outageLoadMax requests,
// on finish, or at its deadline.
type load struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	results []loadResult
}

// startLoad starts the workers; they are stopped by finish or, at the latest, when t ends.
func startLoad(t *testing.T, c *outageClient) *load {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	l := &load{cancel: cancel}
	t.Cleanup(func() { l.finish() })
	paths := []string{"/api/v1/teams", "/api/v1/audit"}
	for w := range outageLoadWorkers {
		l.wg.Go(func() {
			for i := 0; i < outageLoadMax && ctx.Err() == nil; i++ {
				l.record(c, paths[(w+i)%len(paths)])
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	return l
}

// record sends one request. Its context is not the load's: finishing the load lets requests
// in flight complete, so their answers are judged too.
func (l *load) record(c *outageClient, path string) {
	r := loadResult{path: path, started: time.Now()}
	r.status, r.code, r.err = c.do("GET", path, "")
	r.took = time.Since(r.started)
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// waitFor returns once n results satisfy ok, failing t after five seconds.
func (l *load) waitFor(t *testing.T, n int, ok func(loadResult) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		seen := 0
		for _, r := range l.results {
			if ok(r) {
				seen++
			}
		}
		l.mu.Unlock()
		if seen >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("load: fewer than %d requests with the awaited outcome within 5s", n)
}

// finish stops the workers, waits for them and returns every result.
func (l *load) finish() []loadResult {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results
}
