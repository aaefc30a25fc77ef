// Package server assembles and runs `certctl serve`: the store, the HTTP surface and TLS.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"certctl/app/auth"
	"certctl/app/certs"
	"certctl/app/config"
	"certctl/app/localca"
	"certctl/app/servertls"
	"certctl/store"
)

// Run serves until ctx is cancelled, then stops accepting connections, lets requests in
// flight finish within the shutdown timeout, and closes the database. ready, when not nil,
// receives the listening address once the server accepts connections.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready func(addr string)) error {
	if path := cfg.SQLitePath(); path != "" {
		release, err := lockSQLite(path)
		if err != nil {
			return err
		}
		defer release()
	}
	st, err := OpenStore(ctx, cfg, true)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()
	log.Info("database ready", "database", describe(cfg))
	app, err := Build(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	if st.Backend() == "sqlite" {
		// The lock above makes this the only server on the database: a job Running now
		// was left by one that died, and need not wait for the running-job timeout.
		n, err := app.Certs.RecoverAbandonedJobs(ctx)
		if err != nil {
			return fmt.Errorf("recover jobs left running: %w", err)
		}
		if n > 0 {
			log.Warn("jobs left running by a server that stopped were queued again", "jobs", n)
		}
	}
	workCtx, stopWork := context.WithCancel(context.Background())
	worked := make(chan struct{})
	go func() { app.Work(workCtx); close(worked) }()
	defer func() { stopWork(); <-worked }()

	srv := &http.Server{
		Handler:           app.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, watchCert, err := listen(ctx, cfg, app, log)
	if err != nil {
		return err
	}
	watched := make(chan struct{})
	go func() { watchCert(workCtx); close(watched) }()
	defer func() { stopWork(); <-watched }()
	greet(ctx, cfg, st, ln.Addr().String(), log)
	if ready != nil {
		ready(ln.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("stopped")
	return nil
}

// serverCertRefresh is how often a server looks for a new version of its own certificate.
const serverCertRefresh = time.Minute

// serverCertWait bounds how long a server that starts without a version of its own
// certificate waits for the job worker to issue one.
const serverCertWait = time.Minute

// listen opens the listener, with TLS unless it is disabled. The function it returns keeps
// the server's certificate current until its context ends.
func listen(ctx context.Context, cfg config.Config, app *App, log *slog.Logger) (net.Listener,
	func(context.Context), error) {
	ln, err := net.Listen("tcp", cfg.Listen())
	if err != nil {
		return nil, nil, fmt.Errorf("listen on %s: %w", cfg.Listen(), err)
	}
	if cfg.TLSDisabled {
		log.Warn("serving plain HTTP: CERTCTL_SERVER_TLS_DISABLED is set; " +
			"run behind a proxy that terminates TLS")
		return ln, func(context.Context) {}, nil
	}
	log = log.With("component", "tls")
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	watch := func(context.Context) {}
	if cfg.TLSCertPath != "" {
		src, err := servertls.FromFiles(cfg.TLSCertPath, cfg.TLSKeyPath, log)
		if err != nil {
			ln.Close()
			return nil, nil, fmt.Errorf("CERTCTL_SERVER_TLS_CERT_PATH: %w", err)
		}
		getCert = src.GetCertificate
	} else {
		m, err := ownCertificate(ctx, cfg, app, log)
		if err != nil {
			ln.Close()
			return nil, nil, err
		}
		getCert = m.GetCertificate
		watch = func(ctx context.Context) {
			m.Watch(ctx, serverCertRefresh, app.Certs.ServerCertificateIssued())
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: getCert,
		NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(ln, tc), watch, nil
}

// ownCertificate makes sure the inventory holds the server's own certificate for its
// names, waits for a version of it when there is none yet (the job worker issues it), and
// serves it.
func ownCertificate(ctx context.Context, cfg config.Config, app *App,
	log *slog.Logger) (*servertls.Managed, error) {
	cn, sans := serverNames(cfg, log)
	ctx = auth.WithPrincipal(ctx, auth.Principal{Actor: "server:" + hostname()})
	err := app.Certs.EnsureServerCertificate(ctx, localca.IssuerID, cn, sans)
	if err == nil {
		err = app.Certs.WaitServerCertificate(ctx, serverCertWait)
	}
	if err != nil {
		return nil, fmt.Errorf("the server's own certificate: %w", err)
	}
	return servertls.NewManaged(ctx, app.Certs, filepath.Join(cfg.DataDir, "tls"), log)
}

// serverNames are the names the server's own certificate covers: loopback, this host, and
// the public URL's host, which is also the common name when there is one. In Kubernetes
// the host name is the pod's, which changes with every pod and is not how clients reach the
// server, so it is left out there.
func serverNames(cfg config.Config, log *slog.Logger) (string, []string) {
	sans := []string{"localhost", "127.0.0.1", "::1"}
	cn := "localhost"
	add := func(name, source string) {
		if _, err := certs.ParseNames("", []string{name}); err != nil {
			log.Warn("not a name the server's certificate can carry", "name", name,
				"source", source, "error", err)
			return
		}
		if !slices.ContainsFunc(sans, func(s string) bool { return strings.EqualFold(s, name) }) {
			sans = append(sans, name)
		}
		cn = name
	}
	if h := hostname(); h != "" && h != "localhost" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		add(h, "host name")
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
			add(u.Hostname(), "CERTCTL_PUBLIC_URL")
		}
	}
	return cn, sans
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// greet logs where the server listens and how to get in.
func greet(ctx context.Context, cfg config.Config, st store.Store, addr string,
	log *slog.Logger) {
	log.Info("certctl server ready", "url", cfg.BaseURL(), "listen", addr)
	switch {
	case cfg.AuthType == "none":
		log.Warn("AUTHENTICATION IS OFF (CERTCTL_AUTH_TYPE=none): anyone who can reach " +
			"this port is an admin; use only for local development")
	case cfg.AuthSecret != "":
		log.Info("the bootstrap admin key from CERTCTL_AUTH_SECRET is accepted")
	default:
		keys, err := st.ListAPIKeys(ctx)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return
		}
		if len(keys) == 0 {
			log.Info("no API key exists yet; create an admin key with " +
				"`certctl apikey create --name admin --role admin` (works while the server " +
				"runs), or set CERTCTL_AUTH_SECRET")
		}
	}
	if !cfg.TLSDisabled && cfg.TLSCertPath == "" {
		log.Info("the server certificate comes from the local CA; clients can trust its root",
			"root", filepath.Join(cfg.DataDir, "tls", servertls.RootFile))
	}
}
