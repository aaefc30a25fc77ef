package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"certctl/app/agents"
	"certctl/app/ca"
	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/keyring"
	"certctl/app/localca"
	"certctl/app/metrics"
	"certctl/app/scheduler"
	"certctl/store"
)

// wakePoll is how often the wake-up worker looks for work by itself; the job processor loop
// does that more often, and work queued here wakes the worker at once.
const wakePoll = time.Hour

// App is the server's parts, built on one store: the local CA, the lifecycle service and
// the metrics registry.
type App struct {
	cfg     config.Config
	st      store.Store
	log     *slog.Logger
	CA      *localca.CA
	Certs   *certs.Service
	Agents  *agents.Service
	Metrics *metrics.Metrics

	inventory *metrics.Inventory
	sched     *scheduler.Scheduler
}

// Build readies everything the server needs on st: it checks the encryption key, makes the
// local CA on first start and stores the default profile and renewal policy.
func Build(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger) (*App,
	error) {
	key, err := keyring.Load(ctx, keyring.Source{Hex: cfg.EncryptionKey, DataDir: cfg.DataDir,
		Generate: st.Backend() == "sqlite"}, st, log)
	if errors.Is(err, keyring.ErrWrongKey) || errors.Is(err, keyring.ErrNoKey) {
		return nil, &config.Error{Var: "CERTCTL_CONFIG_ENCRYPTION_KEY", Problem: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	set := localca.Settings{KeySpec: cfg.CAKeyType, RootLifetime: cfg.CARootLifetime,
		IntermediateLifetime: cfg.CAInterLifetime, PublicURL: cfg.BaseURL()}
	if cfg.CACertPath != "" {
		if set.SubCACertPEM, err = os.ReadFile(cfg.CACertPath); err != nil {
			return nil, &config.Error{Var: "CERTCTL_CA_CERT_PATH", Problem: err.Error()}
		}
		if set.SubCAKeyPEM, err = os.ReadFile(cfg.CAKeyPath); err != nil {
			return nil, &config.Error{Var: "CERTCTL_CA_KEY_PATH", Problem: err.Error()}
		}
		// Refuse a CA that cannot sign now, before anything is stored.
		if _, err := ca.LoadAuthority(set.SubCACertPEM, set.SubCAKeyPEM, time.Now()); err != nil {
			return nil, &config.Error{Var: "CERTCTL_CA_CERT_PATH", Problem: err.Error()}
		}
	}
	local := localca.New(st, key, set, time.Now, log)
	if err := local.Ensure(ctx); err != nil {
		return nil, err
	}
	svc := certs.NewService(certs.Deps{Store: st, Key: key,
		Issuers: map[string]certs.Issuer{localca.IssuerID: local}, KeyMode: cfg.KeygenMode,
		Concurrency: cfg.RenewalConcurrency, Now: time.Now, Log: log})
	if err := svc.EnsureDefaults(ctx); err != nil {
		return nil, fmt.Errorf("store default profile and policy: %w", err)
	}
	agentSvc := agents.New(agents.Deps{Store: st, Certs: svc, Key: key,
		BootstrapToken: cfg.AgentBootstrapToken, TargetTypes: targetTypes{},
		Scanner: networkScanner{}, OfflineAfter: cfg.AgentOfflineAfter, Now: time.Now,
		Log: log})
	m := metrics.New()
	a := &App{cfg: cfg, st: st, log: log, CA: local, Certs: svc, Agents: agentSvc, Metrics: m,
		inventory: m.NewInventory(), sched: scheduler.New(m.Registry, log)}
	for _, l := range a.loops() {
		a.sched.Add(l)
	}
	return a, nil
}

// Work runs the background work of the server until ctx ends: the scheduler's loops, and
// the worker that starts jobs the moment they are queued here.
func (a *App) Work(ctx context.Context) {
	woken, watched := make(chan struct{}), make(chan struct{})
	go func() { a.Certs.Work(ctx, wakePoll); close(woken) }()
	go func() { a.Agents.Watch(ctx); close(watched) }()
	if err := a.sched.RunNow(ctx, "metrics_refresh"); err != nil {
		a.log.Warn("first metrics refresh", "error", err)
	}
	a.sched.Run(ctx)
	<-woken
	<-watched
}
