package config

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Var declares one configuration variable.
type Var struct {
	Name    string
	Default string
	Secret  bool
	Doc     string
	set     func(c *Config, raw string) error
}

// Vars lists every variable the server reads, in the order `certctl config` prints them.
func Vars() []Var { return append([]Var(nil), vars...) }

var vars = []Var{
	{Name: "CERTCTL_SERVER_HOST", Default: "0.0.0.0", Doc: "listen host",
		set: func(c *Config, s string) error { c.ServerHost = s; return nil }},
	{Name: "CERTCTL_SERVER_PORT", Default: "8443", Doc: "listen port",
		set: func(c *Config, s string) error { return parsePort(s, &c.ServerPort) }},
	{Name: "CERTCTL_SERVER_TLS_CERT_PATH", Doc: "PEM certificate chain to serve instead of " +
		"the one the server issues itself",
		set: func(c *Config, s string) error { c.TLSCertPath = s; return nil }},
	{Name: "CERTCTL_SERVER_TLS_KEY_PATH", Doc: "PEM private key for CERTCTL_SERVER_TLS_CERT_PATH",
		set: func(c *Config, s string) error { c.TLSKeyPath = s; return nil }},
	{Name: "CERTCTL_SERVER_TLS_DISABLED", Default: "false",
		Doc: "serve plain HTTP, for running behind an ingress that terminates TLS",
		set: func(c *Config, s string) error { return parseBool(s, &c.TLSDisabled) }},
	{Name: "CERTCTL_PUBLIC_URL", Doc: "base URL clients use to reach the server; derived " +
		"from the listen address when unset",
		set: func(c *Config, s string) error { c.PublicURL = s; return nil }},
	{Name: "CERTCTL_DATA_DIR", Default: "./data", Doc: "SQLite database, generated keys " +
		"and bootstrap material",
		set: func(c *Config, s string) error { c.DataDir = s; return nil }},
	{Name: "CERTCTL_DATABASE_URL", Secret: true, Doc: "postgres://... selects PostgreSQL; " +
		"sqlite:PATH an explicit SQLite file; unset: SQLite at DATA_DIR/certctl.db",
		set: func(c *Config, s string) error { return parseDatabaseURL(s, &c.DatabaseURL) }},
	{Name: "CERTCTL_DATABASE_MAX_CONNS", Default: "50", Doc: "PostgreSQL pool size per replica",
		set: func(c *Config, s string) error { return parseInt(s, 1, 10000, &c.DatabaseMaxConn) }},
	{Name: "CERTCTL_AUTH_TYPE", Default: "api-key", Doc: "api-key, or none to switch " +
		"authentication off (development only; logged as a warning at every start)",
		set: func(c *Config, s string) error {
			return parseEnum(s, []string{"api-key", "none"}, &c.AuthType)
		}},
	{Name: "CERTCTL_AUTH_SECRET", Secret: true, Doc: "bootstrap admin API key, accepted " +
		"besides the keys stored in the database (at least 16 characters)",
		set: func(c *Config, s string) error { c.AuthSecret = s; return nil }},
	{Name: "CERTCTL_CONFIG_ENCRYPTION_KEY", Secret: true, Doc: "64 hex characters (32 " +
		"bytes) that encrypt CA keys, server-held keys and credentials at rest",
		set: func(c *Config, s string) error { return parseHexKey(s, &c.EncryptionKey) }},
	{Name: "CERTCTL_CA_CERT_PATH", Doc: "sub-CA mode: PEM certificate (and chain) of the CA " +
		"the local CA signs with",
		set: func(c *Config, s string) error { c.CACertPath = s; return nil }},
	{Name: "CERTCTL_CA_KEY_PATH", Doc: "sub-CA mode: PEM private key of CERTCTL_CA_CERT_PATH",
		set: func(c *Config, s string) error { c.CAKeyPath = s; return nil }},
	{Name: "CERTCTL_CA_KEY_TYPE", Default: "ecdsa-p256", Doc: "key type of the local CA's " +
		"root, intermediates and OCSP responder",
		set: func(c *Config, s string) error {
			return parseEnum(s, []string{"ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072",
				"rsa-4096", "ed25519"}, &c.CAKeyType)
		}},
	{Name: "CERTCTL_CA_ROOT_LIFETIME", Default: "87600h", Doc: "lifetime of a new local root",
		set: func(c *Config, s string) error { return parseDuration(s, &c.CARootLifetime) }},
	{Name: "CERTCTL_CA_INTERMEDIATE_LIFETIME", Default: "26280h",
		Doc: "lifetime of a new local intermediate; it is rolled over with a third left",
		set: func(c *Config, s string) error { return parseDuration(s, &c.CAInterLifetime) }},
	{Name: "CERTCTL_KEYGEN_MODE", Default: "agent", Doc: "where keys of new certificates " +
		"are made when the request does not say: agent or server",
		set: func(c *Config, s string) error {
			return parseEnum(s, []string{"agent", "server"}, &c.KeygenMode)
		}},
	{Name: "CERTCTL_RENEWAL_CONCURRENCY", Default: "25", Doc: "issuance and renewal jobs " +
		"one server runs at once",
		set: func(c *Config, s string) error { return parseInt(s, 1, 1000, &c.RenewalConcurrency) }},
	loopVar("CERTCTL_SCHEDULER_RENEWAL_CHECK_INTERVAL", "renewal_check", "1m",
		"how often certificates due for renewal get a renewal job"),
	loopVar("CERTCTL_SCHEDULER_JOB_PROCESSOR_INTERVAL", "job_processor", "5s",
		"how often jobs queued by other servers are looked for (jobs queued here start at once)"),
	loopVar("CERTCTL_JOB_TIMEOUT_INTERVAL", "job_timeout", "1m",
		"how often jobs that waited too long are ended"),
	loopVar("CERTCTL_SCHEDULER_STATUS_REFRESH_INTERVAL", "status_refresh", "1m",
		"how often certificates move to Expiring and Expired as time passes"),
	loopVar("CERTCTL_CRL_GENERATION_INTERVAL", "crl_generation", "1h",
		"how often CRLs near their nextUpdate are made anew"),
	loopVar("CERTCTL_SCHEDULER_OCSP_ROTATION_INTERVAL", "ocsp_rotation", "1h",
		"how often the OCSP responder certificate is checked and replaced when due"),
	loopVar("CERTCTL_SCHEDULER_CA_ROLLOVER_INTERVAL", "ca_rollover", "6h",
		"how often the local intermediate is checked and rolled over when due"),
	loopVar("CERTCTL_SCHEDULER_METRICS_REFRESH_INTERVAL", "metrics_refresh", "30s",
		"how often the inventory gauges of /metrics are recounted"),
	loopVar("CERTCTL_SCHEDULER_RETENTION_INTERVAL", "retention", "1h",
		"how often finished jobs past CERTCTL_JOB_RETENTION are removed"),
	loopVar("CERTCTL_SCHEDULER_AGENT_HEALTH_CHECK_INTERVAL", "agent_health", "1m",
		"how often agents silent for longer than CERTCTL_AGENT_OFFLINE_AFTER are marked Offline"),
	loopVar("CERTCTL_SCHEDULER_RETRY_INTERVAL", "job_retry", "30s",
		"how often failed deployments whose next attempt is due are queued again"),
	loopVar("CERTCTL_SCHEDULER_DEPLOYMENT_VERIFICATION_INTERVAL", "deployment_verification",
		"1h", "how often deployments due for a check (CERTCTL_DEPLOYMENT_VERIFY_AFTER) are "+
			"queued again, for their agents to check that the endpoint still serves them"),
	{Name: "CERTCTL_DEPLOYMENT_VERIFY_AFTER", Default: "24h", Doc: "how long after a " +
		"deployment to a target with verify it is checked again; 0 turns the checks off",
		set: func(c *Config, s string) error {
			if s == "0" {
				c.DeploymentVerifyAfter = 0
				return nil
			}
			return parseDuration(s, &c.DeploymentVerifyAfter)
		}},
	loopVar("CERTCTL_NETWORK_SCAN_INTERVAL", "network_scan", "6h",
		"how often the enabled network scan targets are scanned (with "+
			"CERTCTL_NETWORK_SCAN_ENABLED)"),
	{Name: "CERTCTL_AGENT_BOOTSTRAP_TOKEN", Secret: true, Doc: "shared secret that lets a " +
		"new agent enroll (at least 16 characters); unset: only one-time enrollment tokens",
		set: func(c *Config, s string) error { c.AgentBootstrapToken = s; return nil }},
	{Name: "CERTCTL_AGENT_OFFLINE_AFTER", Default: "5m", Doc: "how long an agent may go " +
		"without a heartbeat before it counts as Offline",
		set: func(c *Config, s string) error { return parseDuration(s, &c.AgentOfflineAfter) }},
	{Name: "CERTCTL_NETWORK_SCAN_ENABLED", Default: "false", Doc: "scan the network scan " +
		"targets admins configured for TLS certificates",
		set: func(c *Config, s string) error { return parseBool(s, &c.NetworkScanEnabled) }},
	{Name: "CERTCTL_JOB_RETENTION", Default: "2160h", Doc: "how long finished jobs are " +
		"kept (audit events are kept for ever)",
		set: func(c *Config, s string) error { return parseDuration(s, &c.JobRetention) }},
	{Name: "CERTCTL_MAX_BODY_BYTES", Default: "1048576", Doc: "largest request body accepted",
		set: func(c *Config, s string) error {
			var n int
			err := parseInt(s, 1024, 1<<30, &n)
			c.MaxBodyBytes = int64(n)
			return err
		}},
	{Name: "CERTCTL_SHUTDOWN_TIMEOUT", Default: "30s", Doc: "how long a stopping server " +
		"waits for requests in flight",
		set: func(c *Config, s string) error { return parseDuration(s, &c.ShutdownTimeout) }},
	{Name: "CERTCTL_LOG_LEVEL", Default: "info", Doc: "debug, info, warn or error",
		set: func(c *Config, s string) error { return parseLevel(s, &c.LogLevel) }},
	{Name: "CERTCTL_LOG_FORMAT", Default: "json", Doc: "json or text",
		set: func(c *Config, s string) error {
			return parseEnum(s, []string{"json", "text"}, &c.LogFormat)
		}},
}

// loopVar declares the interval variable of one scheduler loop.
func loopVar(name, loop, def, doc string) Var {
	return Var{Name: name, Default: def, Doc: doc, set: func(c *Config, s string) error {
		var d time.Duration
		if err := parseDuration(s, &d); err != nil {
			return err
		}
		if d < time.Second {
			return fmt.Errorf("%q is shorter than one second", s)
		}
		if c.Intervals == nil {
			c.Intervals = map[string]time.Duration{}
		}
		c.Intervals[loop] = d
		return nil
	}}
}

func parseLevel(s string, dst *slog.Level) error {
	var name string
	if err := parseEnum(strings.ToLower(s), []string{"debug", "info", "warn", "error"},
		&name); err != nil {
		// Quote what the operator typed, not the lowercased copy.
		return fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return dst.UnmarshalText([]byte(name))
}

// parseHexKey checks the shape of a 32-byte hex key without echoing it.
func parseHexKey(s string, dst *string) error {
	if s == "" {
		return nil
	}
	if _, err := hex.DecodeString(s); err != nil || len(s) != 64 {
		return fmt.Errorf("must be 64 hex characters (32 bytes); make one with " +
			"`openssl rand -hex 32`")
	}
	*dst = s
	return nil
}

func parsePort(s string, dst *int) error { return parseInt(s, 1, 65535, dst) }

func parseInt(s string, lo, hi int, dst *int) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi)
	}
	*dst = n
	return nil
}

func parseBool(s string, dst *bool) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*dst = b
	return nil
}

func parseDuration(s string, dst *time.Duration) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive Go duration such as 30s or 5m", s)
	}
	*dst = d
	return nil
}

func parseEnum(s string, allowed []string, dst *string) error {
	for _, a := range allowed {
		if s == a {
			*dst = s
			return nil
		}
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
}

// parseDatabaseURL checks the scheme without echoing the value, which may hold a password.
func parseDatabaseURL(s string, dst *string) error {
	switch {
	case s == "":
	case strings.HasPrefix(s, "sqlite:"):
		if strings.TrimPrefix(s, "sqlite:") == "" {
			return fmt.Errorf("sqlite: needs a file path, e.g. sqlite:/var/lib/certctl/certctl.db")
		}
	case strings.HasPrefix(s, "postgres://"), strings.HasPrefix(s, "postgresql://"):
		if _, err := url.Parse(s); err != nil {
			return fmt.Errorf("not a valid postgres:// URL (is a special character in the " +
				"password not percent-encoded?)")
		}
	default:
		return fmt.Errorf("must start with postgres://, postgresql:// or sqlite:")
	}
	*dst = s
	return nil
}

// Redacted renders the effective value of v from env for display, hiding secrets.
func (v Var) Redacted(env Source) string {
	raw, err := lookup(env, v)
	if err != nil {
		return "(error: " + err.Error() + ")"
	}
	if v.Secret && raw != "" {
		return "(set, redacted)"
	}
	return raw
}
