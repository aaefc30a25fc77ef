package agent

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"time"

	"certctl/app/agentapi"
	"certctl/app/scheduler"
	"certctl/app/version"
)

// Material is what a deployment writes: the certificate, its chain and its key.
type Material struct {
	CertPEM  string
	ChainPEM string
	Key      crypto.Signer
}

// Deployer deploys m to target t and reports how it went. It must not panic and must
// leave the target as it was when it fails.
type Deployer func(ctx context.Context, t agentapi.Target, m Material) agentapi.Report

// Scanner scans dirs for certificates.
type Scanner func(ctx context.Context, dirs []string) agentapi.Discovery

// Deps are what the agent does its work with.
type Deps struct {
	Deployer Deployer
	Scanner  Scanner
	Log      *slog.Logger
	// RetryWait is the wait before retry number n+1 after n failures in a row; nil means
	// backoff (tests shorten it).
	RetryWait func(n int) time.Duration
}

// Backoff after failures: the first retry waits up to base, each further one twice as long,
// up to max; the wait is drawn at random below that (full jitter), so agents that lost the
// server together do not come back together.
const (
	backoffBase = 5 * time.Second
	backoffMax  = 5 * time.Minute
)

// discoveryBatch is how many certificates one discovery report carries.
const discoveryBatch = 100

// agent is one running agent.
type agent struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	c     *client
	id    identity
	state state

	mu   sync.Mutex
	etag string          // of the last work answer fully handled
	done map[string]bool // jobs finished in this process
}

// Run runs the agent until ctx ends or the server retires it; both return nil. It returns
// an error when it cannot go on: no way to enroll, or a state directory it cannot use.
func Run(ctx context.Context, cfg Config, deps Deps) error {
	log := deps.Log.With("component", "agent")
	st, err := openState(cfg.StateDir)
	if err != nil {
		return err
	}
	hc, err := newHTTPClient(cfg)
	if err != nil {
		return err
	}
	if cfg.InsecureSkipVerify {
		log.Warn("CERTCTL_TLS_INSECURE_SKIP_VERIFY is set: the server's certificate is not " +
			"checked, so anyone on the network path can impersonate it; development only")
	}
	if deps.RetryWait == nil {
		deps.RetryWait = backoff
	}
	a := &agent{cfg: cfg, deps: deps, log: log, state: st, done: map[string]bool{},
		c: &client{base: cfg.ServerURL, http: hc}}
	if err := a.identify(ctx); err != nil {
		if errors.Is(err, errRetired) {
			log.Info("the server says this agent was retired; stopping")
			return nil
		}
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	log.Info("agent running", "agent_id", a.id.AgentID, "server", cfg.ServerURL,
		"poll_interval", cfg.PollInterval)

	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	loop := func(name string, every time.Duration, run func(context.Context) error) {
		wg.Go(func() {
			if err := a.loop(ctx, name, every, run); errors.Is(err, errRetired) {
				stop(errRetired)
			}
		})
	}
	loop("heartbeat", cfg.HeartbeatInterval, a.heartbeat)
	loop("work", cfg.PollInterval, a.poll)
	if len(cfg.DiscoveryDirs) > 0 && deps.Scanner != nil {
		loop("discovery", cfg.DiscoveryInterval, a.discover)
	}
	wg.Wait()
	if errors.Is(context.Cause(ctx), errRetired) {
		log.Info("the server says this agent was retired; stopping. Enroll it again to " +
			"bring it back")
	}
	return nil
}

// identify loads the agent's identity, enrolling first when it has none.
func (a *agent) identify(ctx context.Context) error {
	id, ok, err := a.state.loadIdentity()
	if err != nil {
		return err
	}
	if ok && id.ServerURL != "" && id.ServerURL != a.cfg.ServerURL {
		a.log.Warn("the state directory was enrolled with another server URL; using it "+
			"with the configured one", "enrolled_with", id.ServerURL)
	}
	if !ok {
		if a.cfg.BootstrapToken == "" {
			return errors.New("this agent has not enrolled yet: set " +
				"CERTCTL_AGENT_BOOTSTRAP_TOKEN to the server's bootstrap token or to a " +
				"one-time enrollment token")
		}
		if id, err = a.enroll(ctx); err != nil {
			return err
		}
	}
	a.id, a.c.credential = id, id.Credential
	return nil
}

// enroll asks the server for a credential, retrying while the server cannot be reached.
func (a *agent) enroll(ctx context.Context) (identity, error) {
	req := agentapi.EnrollRequest{Token: a.cfg.BootstrapToken, Name: a.cfg.Name, Host: a.host()}
	for failures := 0; ; failures++ {
		var out agentapi.EnrollResponse
		_, _, err := a.c.call(ctx, "POST", agentapi.PathEnroll, req, &out)
		var se *statusError
		switch {
		case err == nil:
			id := identity{AgentID: out.AgentID, Credential: out.Credential,
				ServerURL: a.cfg.ServerURL}
			if err := a.state.saveIdentity(id); err != nil {
				return identity{}, fmt.Errorf("store the credential: %w", err)
			}
			a.log.Info("enrolled", "agent_id", id.AgentID, "name", a.cfg.Name)
			return id, nil
		case errors.As(err, &se) && se.permanent():
			return identity{}, fmt.Errorf("enrollment refused: %w", err)
		}
		wait := a.deps.RetryWait(failures)
		a.log.Warn("enrollment failed; retrying", "error", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return identity{}, ctx.Err()
		}
	}
}

// loop runs run at start and then every interval (jittered), waiting with backoff after
// failures. It returns when ctx ends or run reports errRetired.
func (a *agent) loop(ctx context.Context, name string, every time.Duration,
	run func(context.Context) error) error {
	t := scheduler.NewJitteredTicker(every, 0.1)
	defer t.Stop()
	failures := 0
	for {
		err := run(ctx)
		if errors.Is(err, errRetired) {
			return err
		}
		if err != nil && ctx.Err() == nil {
			wait := a.deps.RetryWait(failures)
			failures++
			a.log.Warn(name+" failed; retrying", "error", err, "retry_in", wait,
				"failures", failures)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		if failures > 0 && err == nil {
			a.log.Info(name+" works again", "after_failures", failures)
		}
		failures = 0
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// backoff is the wait before retry number n+1: random, below base times 2^n, capped.
func backoff(n int) time.Duration {
	limit := backoffMax
	if n < 16 {
		limit = min(backoffBase<<n, backoffMax)
	}
	return time.Duration(rand.Int64N(int64(limit))) + 100*time.Millisecond
}

// sleep waits for d or ctx, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// host describes this machine.
func (a *agent) host() agentapi.Host {
	name, _ := os.Hostname()
	h := agentapi.Host{Version: version.Get().Version, Hostname: name, OS: runtime.GOOS,
		Architecture: runtime.GOARCH, AllowedPaths: a.cfg.AllowedPaths}
	addrs, _ := net.InterfaceAddrs()
	for _, ad := range addrs {
		if ipn, ok := ad.(*net.IPNet); ok && !ipn.IP.IsLoopback() &&
			!ipn.IP.IsLinkLocalUnicast() && len(h.Addresses) < 32 {
			h.Addresses = append(h.Addresses, ipn.IP.String())
		}
	}
	return h
}

func (a *agent) heartbeat(ctx context.Context) error {
	_, _, err := a.c.call(ctx, "POST", pathFor(agentapi.PathHeartbeat, a.id.AgentID, ""),
		agentapi.Heartbeat{Host: a.host()}, nil)
	return err
}

// discover scans the discovery directories and reports what it found, in batches.
func (a *agent) discover(ctx context.Context) error {
	d := a.deps.Scanner(ctx, a.cfg.DiscoveryDirs)
	if ctx.Err() != nil {
		return nil
	}
	for _, p := range d.Errors {
		a.log.Debug("discovery could not read", "location", p.Location, "error", p.Error)
	}
	path := pathFor(agentapi.PathDiscovery, a.id.AgentID, "")
	for start := 0; start == 0 || start < len(d.Certificates); start += discoveryBatch {
		batch := d
		batch.Certificates = d.Certificates[start:min(start+discoveryBatch, len(d.Certificates))]
		if start > 0 {
			batch.Errors = nil
		}
		if _, _, err := a.c.call(ctx, "POST", path, batch, nil); err != nil {
			return fmt.Errorf("report discoveries: %w", err)
		}
	}
	a.log.Info("discovery reported", "certificates", len(d.Certificates),
		"unreadable", len(d.Errors))
	return nil
}
