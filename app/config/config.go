// Package config reads the server's configuration from CERTCTL_* environment variables.
//
// Every variable is declared once in the table in vars.go with its default, its parser and
// whether it is a secret. A secret may instead be given through a file named by the same
// variable with a _FILE suffix, which is how container orchestrators hand secrets over.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the effective configuration of a certctl server process.
type Config struct {
	ServerHost      string
	ServerPort      int
	TLSCertPath     string
	TLSKeyPath      string
	TLSDisabled     bool
	PublicURL       string
	DataDir         string
	DatabaseURL     string
	DatabaseMaxConn int
	AuthType        string
	AuthSecret      string
	EncryptionKey   string
	CACertPath      string
	CAKeyPath       string
	CAKeyType       string
	CARootLifetime  time.Duration
	CAInterLifetime time.Duration
	KeygenMode      string
	// RenewalConcurrency bounds the issuance and renewal jobs one server runs at once.
	RenewalConcurrency int
	// JobRetention is how long finished jobs are kept.
	JobRetention time.Duration
	// AgentBootstrapToken lets new agents enroll; "" allows only one-time tokens.
	AgentBootstrapToken string
	// AgentOfflineAfter is how long an agent may be silent before it counts as Offline.
	AgentOfflineAfter time.Duration
	// DeploymentVerifyAfter is how long after a deployment to a target with verify it is
	// checked again; 0 turns the checks off.
	DeploymentVerifyAfter time.Duration
	// NetworkScanEnabled turns the network scan loop on.
	NetworkScanEnabled bool
	// Intervals holds the period of each scheduler loop, by loop name.
	Intervals       map[string]time.Duration
	MaxBodyBytes    int64
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	LogFormat       string
}

// Error names the variable whose value could not be used and what is wrong with it.
type Error struct {
	Var     string
	Problem string
}

func (e *Error) Error() string { return e.Var + ": " + e.Problem }

// Source looks up one environment variable; os.LookupEnv satisfies it.
type Source func(name string) (string, bool)

// Load reads every declared variable from env, applying defaults, _FILE twins and validation.
// The first problem found is returned as an *Error.
func Load(env Source) (Config, error) {
	var cfg Config
	for _, v := range vars {
		raw, err := lookup(env, v)
		if err != nil {
			return Config{}, err
		}
		if err := v.set(&cfg, raw); err != nil {
			return Config{}, &Error{Var: v.Name, Problem: err.Error()}
		}
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// lookup returns the raw value of v: the variable itself, else the content of the file its
// _FILE twin names (secrets only), else the default.
func lookup(env Source, v Var) (string, error) {
	val, set := env(v.Name)
	if v.Secret {
		path, fileSet := env(v.Name + "_FILE")
		if set && fileSet && path != "" && val != "" {
			return "", &Error{Var: v.Name, Problem: "set both directly and through " + v.Name +
				"_FILE; use one"}
		}
		if fileSet && path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return "", &Error{Var: v.Name + "_FILE", Problem: err.Error()}
			}
			return strings.TrimRight(string(b), "\r\n"), nil
		}
	}
	if !set || val == "" {
		return v.Default, nil
	}
	return val, nil
}

func (c *Config) validate() error {
	if (c.CACertPath == "") != (c.CAKeyPath == "") {
		return &Error{Var: "CERTCTL_CA_CERT_PATH",
			Problem: "must be set together with CERTCTL_CA_KEY_PATH"}
	}
	if (c.TLSCertPath == "") != (c.TLSKeyPath == "") {
		return &Error{Var: "CERTCTL_SERVER_TLS_CERT_PATH",
			Problem: "must be set together with CERTCTL_SERVER_TLS_KEY_PATH"}
	}
	if (c.CACertPath == "") != (c.CAKeyPath == "") {
		return &Error{Var: "CERTCTL_CA_CERT_PATH",
			Problem: "must be set together with CERTCTL_CA_KEY_PATH"}
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &Error{Var: "CERTCTL_PUBLIC_URL", Problem: fmt.Sprintf("%q is not an "+
				"absolute http or https URL, e.g. https://certctl.example.com", c.PublicURL)}
		}
	}
	if c.AgentBootstrapToken != "" && len(c.AgentBootstrapToken) < 16 {
		return &Error{Var: "CERTCTL_AGENT_BOOTSTRAP_TOKEN",
			Problem: "must be at least 16 characters"}
	}
	if c.AgentOfflineAfter < 10*time.Second {
		return &Error{Var: "CERTCTL_AGENT_OFFLINE_AFTER", Problem: "must be at least 10s"}
	}
	if c.AuthType == "api-key" && c.AuthSecret != "" && len(c.AuthSecret) < 16 {
		return &Error{Var: "CERTCTL_AUTH_SECRET", Problem: "must be at least 16 characters"}
	}
	return nil
}

// Listen is the address the server listens on, host and port joined.
func (c Config) Listen() string {
	host := c.ServerHost
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, c.ServerPort)
}

// SQLitePath is the database file when the server runs on SQLite, or "" on PostgreSQL.
func (c Config) SQLitePath() string {
	switch {
	case c.DatabaseURL == "":
		return filepath.Join(c.DataDir, "certctl.db")
	case strings.HasPrefix(c.DatabaseURL, "sqlite:"):
		return strings.TrimPrefix(c.DatabaseURL, "sqlite:")
	default:
		return ""
	}
}

// BaseURL is the URL people and other systems use to reach the server: CERTCTL_PUBLIC_URL
// when set, else one derived from the listen address.
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	scheme := "https"
	if c.TLSDisabled {
		scheme = "http"
	}
	host := c.ServerHost
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(c.ServerPort))
}
