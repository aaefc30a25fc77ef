package cli

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/user"
	"strings"
	"time"

	"certctl/app/apikey"
	"certctl/app/auth"
	"certctl/app/config"
	"certctl/app/server"
	"certctl/app/version"
)

func apikeyCmd(env Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return &usageError{"usage: certctl apikey create --name NAME --role viewer|operator|admin"}
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "key name")
	role := fs.String("role", "", "viewer, operator or admin")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || *name == "" || *role == "" {
		return &usageError{"usage: certctl apikey create --name NAME --role viewer|operator|admin"}
	}
	if _, err := auth.ParseRole(*role); err != nil {
		return &usageError{err.Error()}
	}
	cfg, _, err := load(env)
	if err != nil {
		return err
	}
	ctx := context.Background()
	st, err := server.OpenStore(ctx, cfg, true)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()

	ctx = auth.WithPrincipal(ctx, auth.Principal{Actor: "cli:" + osUser(), Role: auth.RoleAdmin})
	k, secret, err := apikey.NewKeys(st, time.Now).Create(ctx, *name, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "created API key %s (%s, role %s); it is shown only now:\n",
		k.ID, k.Name, k.Role)
	fmt.Fprintln(env.Stdout, secret)
	return nil
}

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

func printConfig(env Env, args []string) error {
	if err := noArgs("config", args); err != nil {
		return err
	}
	for _, v := range config.Vars() {
		fmt.Fprintf(env.Stdout, "%s=%s\n", v.Name, v.Redacted(env.Lookup))
	}
	_, err := config.Load(env.Lookup)
	return err
}

func printVersion(env Env, args []string) error {
	if err := noArgs("version", args); err != nil {
		return err
	}
	v := version.Get()
	fmt.Fprintf(env.Stdout, "certctl %s (commit %s, %s, %s)\n", v.Version, orNone(v.Commit),
		v.GoVersion, v.Platform)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// healthcheck asks the server on this host for /health. It checks that the process answers,
// not who it is, so it does not verify the certificate: the address is loopback.
func healthcheck(env Env, args []string) error {
	if err := noArgs("healthcheck", args); err != nil {
		return err
	}
	cfg, _, err := load(env)
	if err != nil {
		return err
	}
	scheme, host := "https", "127.0.0.1"
	if cfg.TLSDisabled {
		scheme = "http"
	}
	if strings.Contains(cfg.ServerHost, ":") {
		host = "[::1]"
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback liveness
	}}
	resp, err := client.Get(fmt.Sprintf("%s://%s:%d/health", scheme, host, cfg.ServerPort))
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: status %d", resp.StatusCode)
	}
	fmt.Fprintln(env.Stdout, "healthy")
	return nil
}
