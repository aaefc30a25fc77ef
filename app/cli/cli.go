// Package cli implements the certctl command line: it picks the subcommand, reads the
// configuration and runs the part of the application the subcommand names.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"certctl/app/config"
)

// Env is what a command runs with: its arguments, streams and environment.
type Env struct {
	Args   []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Lookup config.Source
}

// usageError is a mistake in how certctl was called; it exits with code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

const usage = `usage: certctl <command> [arguments]

commands:
  serve                       run the server: API, probes, metrics
  agent                       run the agent on this host: enroll, deploy, discover
  migrate up|down|status      apply, roll back one, or list schema migrations
  apikey create --name N --role R
                              create an API key and print it once
  config                      print the effective configuration, secrets redacted
  rotate-key [--new-key-file FILE]
                              re-encrypt keys at rest under a new key (servers stopped)
  certs list|get|create|renew|revoke|export
                              manage certificates through the API of a running server
  jobs list                   list issuance, renewal and deployment jobs through the API
  agents list                 list enrolled agents through the API
  healthcheck                 probe the local server's /health (for container checks)
  version                     print build information

The certs, jobs and agents commands call the server at CERTCTL_SERVER_URL (default
https://localhost:8443) with the API key in CERTCTL_API_KEY; "certctl certs list -h" shows
a command's flags.
`

// Main runs the command in env.Args and returns the process exit code.
func Main(env Env) int {
	err := run(env)
	var ue *usageError
	var ce *config.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue), errors.As(err, &ce):
		fmt.Fprintf(env.Stderr, "certctl: %v\n", err)
		return 2
	default:
		fmt.Fprintf(env.Stderr, "certctl: %v\n", err)
		return 1
	}
}

func run(env Env) error {
	if len(env.Args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return &usageError{"no command given"}
	}
	cmd, args := env.Args[0], env.Args[1:]
	switch cmd {
	case "serve":
		return serve(env, args)
	case "agent":
		return agentCmd(env, args)
	case "migrate":
		return migrate(env, args)
	case "apikey":
		return apikeyCmd(env, args)
	case "config":
		return printConfig(env, args)
	case "rotate-key":
		return rotateKey(env, args)
	case "certs":
		return certsCmd(env, args)
	case "jobs":
		return jobsCmd(env, args)
	case "agents":
		return agentsCmd(env, args)
	case "healthcheck":
		return healthcheck(env, args)
	case "version":
		return printVersion(env, args)
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	fmt.Fprint(env.Stderr, usage)
	return &usageError{fmt.Sprintf("unknown command %q", cmd)}
}

// load reads the configuration and builds the logger it asks for.
func load(env Env) (config.Config, *slog.Logger, error) {
	cfg, err := config.Load(env.Lookup)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, newLogger(env, cfg.LogLevel, cfg.LogFormat), nil
}

// newLogger logs to env's standard error at level, as JSON or, with format "text", as
// text.
func newLogger(env Env, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(env.Stderr, opts)
	if format == "text" {
		h = slog.NewTextHandler(env.Stderr, opts)
	}
	return slog.New(h)
}

func noArgs(cmd string, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Sprintf("%s takes no arguments, got %q", cmd, args[0])}
	}
	return nil
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
