// Package agent is `certctl agent`: the process on each host that enrolls with the server,
// keeps private keys on the host, deploys what the server issued, and reports the
// certificates it finds. It only ever calls out to the server.
package agent

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"certctl/app/config"
)

// Config is the agent's configuration, from CERTCTL_* variables.
type Config struct {
	ServerURL          string
	BootstrapToken     string
	Name               string
	StateDir           string
	DiscoveryDirs      []string
	AllowedPaths       []string
	CABundlePath       string
	InsecureSkipVerify bool
	PollInterval       time.Duration
	HeartbeatInterval  time.Duration
	DiscoveryInterval  time.Duration
	LogLevel           slog.Level
	LogFormat          string
}

// LoadConfig reads the agent's variables through lookup. A problem is reported as a
// *config.Error naming the variable.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	host, _ := os.Hostname()
	c := Config{ServerURL: get("CERTCTL_SERVER_URL", ""), Name: get("CERTCTL_AGENT_NAME", host),
		StateDir:     get("CERTCTL_AGENT_STATE_DIR", "/var/lib/certctl-agent"),
		CABundlePath: get("CERTCTL_SERVER_CA_BUNDLE_PATH", ""),
		LogFormat:    get("CERTCTL_LOG_FORMAT", "json")}
	bad := func(name, format string, args ...any) error {
		return &config.Error{Var: name, Problem: fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(c.ServerURL)
	switch {
	case c.ServerURL == "":
		return c, bad("CERTCTL_SERVER_URL", "is required, e.g. https://certctl.example.com:8443")
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return c, bad("CERTCTL_SERVER_URL", "%q is not an absolute https URL", c.ServerURL)
	}
	c.ServerURL = strings.TrimRight(c.ServerURL, "/")
	if c.BootstrapToken, err = secretValue(lookup, "CERTCTL_AGENT_BOOTSTRAP_TOKEN"); err != nil {
		return c, err
	}
	if !filepath.IsAbs(c.StateDir) {
		return c, bad("CERTCTL_AGENT_STATE_DIR", "%q is not an absolute path", c.StateDir)
	}
	c.DiscoveryDirs = list(get("CERTCTL_DISCOVERY_DIRS", ""))
	c.AllowedPaths = list(get("CERTCTL_AGENT_ALLOWED_PATHS", ""))
	for name, paths := range map[string][]string{"CERTCTL_DISCOVERY_DIRS": c.DiscoveryDirs,
		"CERTCTL_AGENT_ALLOWED_PATHS": c.AllowedPaths} {
		for _, p := range paths {
			if !filepath.IsAbs(p) {
				return c, bad(name, "%q is not an absolute path", p)
			}
		}
	}
	switch v := get("CERTCTL_TLS_INSECURE_SKIP_VERIFY", "false"); v {
	case "true", "1":
		c.InsecureSkipVerify = true
	case "false", "0":
	default:
		return c, bad("CERTCTL_TLS_INSECURE_SKIP_VERIFY", "%q is not true or false", v)
	}
	durations := []struct {
		name, def string
		dst       *time.Duration
	}{
		{"CERTCTL_AGENT_POLL_INTERVAL", "30s", &c.PollInterval},
		{"CERTCTL_AGENT_HEARTBEAT_INTERVAL", "60s", &c.HeartbeatInterval},
		{"CERTCTL_DISCOVERY_INTERVAL", "6h", &c.DiscoveryInterval},
	}
	for _, d := range durations {
		v := get(d.name, d.def)
		if *d.dst, err = time.ParseDuration(v); err != nil || *d.dst < 100*time.Millisecond {
			return c, bad(d.name, "%q is not a duration of at least 100ms, e.g. 30s", v)
		}
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("CERTCTL_LOG_LEVEL", "info"))); err != nil {
		return c, bad("CERTCTL_LOG_LEVEL", "%q is not one of debug, info, warn, error",
			get("CERTCTL_LOG_LEVEL", ""))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, bad("CERTCTL_LOG_FORMAT", "%q is not json or text", c.LogFormat)
	}
	return c, nil
}

// secretValue reads a secret variable or the file its _FILE twin names.
func secretValue(lookup func(string) (string, bool), name string) (string, error) {
	v, _ := lookup(name)
	path, _ := lookup(name + "_FILE")
	if v != "" && path != "" {
		return "", &config.Error{Var: name, Problem: "set both directly and through " + name +
			"_FILE; use one"}
	}
	if path == "" {
		return strings.TrimSpace(v), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &config.Error{Var: name + "_FILE", Problem: err.Error()}
	}
	return strings.TrimSpace(string(b)), nil
}

func list(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, filepath.Clean(p))
		}
	}
	return out
}
