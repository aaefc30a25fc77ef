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
	"time"

	"certctl/app/config"
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
	ln, err := listen(cfg, app.CA, log)
	if err != nil {
		return err
	}
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

func listen(cfg config.Config, iss servertls.Issuer, log *slog.Logger) (net.Listener,
	error) {
	ln, err := net.Listen("tcp", cfg.Listen())
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen(), err)
	}
	if cfg.TLSDisabled {
		log.Warn("serving plain HTTP: CERTCTL_SERVER_TLS_DISABLED is set; " +
			"run behind a proxy that terminates TLS")
		return ln, nil
	}
	src, err := tlsSource(cfg, iss, log)
	if err != nil {
		ln.Close()
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: src.GetCertificate,
		NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(ln, tc), nil
}

func tlsSource(cfg config.Config, iss servertls.Issuer,
	log *slog.Logger) (*servertls.Source, error) {
	log = log.With("component", "tls")
	if cfg.TLSCertPath != "" {
		src, err := servertls.FromFiles(cfg.TLSCertPath, cfg.TLSKeyPath, log)
		if err != nil {
			return nil, fmt.Errorf("CERTCTL_SERVER_TLS_CERT_PATH: %w", err)
		}
		return src, nil
	}
	return servertls.Issued(filepath.Join(cfg.DataDir, "tls"), serverHosts(cfg), iss,
		time.Now, log)
}

// serverHosts are the names the self-issued certificate covers: loopback, this host, and
// the public URL's host.
func serverHosts(cfg config.Config) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		hosts = append(hosts, h)
	}
	if cfg.PublicURL != "" {
		if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
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
