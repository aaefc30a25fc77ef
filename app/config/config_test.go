package config_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"certctl/app/config"
)

// env is a fake environment: a variable is set when it is a key of the map.
type env map[string]string

func (e env) lookup(name string) (string, bool) {
	v, ok := e[name]
	return v, ok
}

func TestLoadDefaults(t *testing.T) {
	got, err := config.Load(env{}.lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	want := config.Config{
		ServerHost:         "0.0.0.0",
		ServerPort:         8443,
		DataDir:            "./data",
		DatabaseMaxConn:    50,
		AuthType:           "api-key",
		CAKeyType:          "ecdsa-p256",
		CARootLifetime:     87600 * time.Hour,
		CAInterLifetime:    26280 * time.Hour,
		KeygenMode:         "agent",
		RenewalConcurrency: 25,
		Intervals: map[string]time.Duration{"renewal_check": time.Minute,
			"job_processor": 5 * time.Second, "job_timeout": time.Minute,
			"status_refresh": time.Minute, "crl_generation": time.Hour,
			"ocsp_rotation": time.Hour, "ca_rollover": 6 * time.Hour,
			"metrics_refresh": 30 * time.Second, "retention": time.Hour,
			"agent_health": time.Minute, "job_retry": 30 * time.Second,
			"network_scan": 6 * time.Hour, "deployment_verification": time.Hour},
		AgentOfflineAfter:     5 * time.Minute,
		DeploymentVerifyAfter: 24 * time.Hour,
		JobRetention:          2160 * time.Hour,
		MaxBodyBytes:          1 << 20,
		ShutdownTimeout:       30 * time.Second,
		LogLevel:              slog.LevelInfo,
		LogFormat:             "json",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadValues(t *testing.T) {
	e := env{
		"CERTCTL_SERVER_HOST":              "::1",
		"CERTCTL_SERVER_PORT":              "9443",
		"CERTCTL_SERVER_TLS_CERT_PATH":     "/etc/certctl/tls.crt",
		"CERTCTL_SERVER_TLS_KEY_PATH":      "/etc/certctl/tls.key",
		"CERTCTL_SERVER_TLS_DISABLED":      "true",
		"CERTCTL_PUBLIC_URL":               "https://certctl.example.com",
		"CERTCTL_DATA_DIR":                 "/var/lib/certctl",
		"CERTCTL_DATABASE_URL":             "postgres://certctl:pw@db:5432/certctl",
		"CERTCTL_DATABASE_MAX_CONNS":       "8",
		"CERTCTL_AUTH_TYPE":                "none",
		"CERTCTL_AUTH_SECRET":              "short",
		"CERTCTL_MAX_BODY_BYTES":           "2048",
		"CERTCTL_CONFIG_ENCRYPTION_KEY":    strings.Repeat("ab", 32),
		"CERTCTL_CA_CERT_PATH":             "/etc/certctl/ca.pem",
		"CERTCTL_CA_KEY_PATH":              "/etc/certctl/ca.key",
		"CERTCTL_CA_KEY_TYPE":              "rsa-3072",
		"CERTCTL_CA_ROOT_LIFETIME":         "1000h",
		"CERTCTL_CA_INTERMEDIATE_LIFETIME": "100h",
		"CERTCTL_KEYGEN_MODE":              "server",
		"CERTCTL_SHUTDOWN_TIMEOUT":         "5m",
		"CERTCTL_LOG_LEVEL":                "WARN",
		"CERTCTL_LOG_FORMAT":               "text",
		"CERTCTL_AGENT_BOOTSTRAP_TOKEN":    "bootstrap-token-0123456789",
		"CERTCTL_AGENT_OFFLINE_AFTER":      "10m",
		"CERTCTL_NETWORK_SCAN_ENABLED":     "true",
		"CERTCTL_DEPLOYMENT_VERIFY_AFTER":  "0",
	}
	got, err := config.Load(e.lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}

	// A short AUTH_SECRET is only checked when keys are checked at all.
	want := config.Config{
		ServerHost:         "::1",
		ServerPort:         9443,
		TLSCertPath:        "/etc/certctl/tls.crt",
		TLSKeyPath:         "/etc/certctl/tls.key",
		TLSDisabled:        true,
		PublicURL:          "https://certctl.example.com",
		DataDir:            "/var/lib/certctl",
		DatabaseURL:        "postgres://certctl:pw@db:5432/certctl",
		DatabaseMaxConn:    8,
		AuthType:           "none",
		AuthSecret:         "short",
		EncryptionKey:      strings.Repeat("ab", 32),
		CACertPath:         "/etc/certctl/ca.pem",
		CAKeyPath:          "/etc/certctl/ca.key",
		CAKeyType:          "rsa-3072",
		CARootLifetime:     1000 * time.Hour,
		CAInterLifetime:    100 * time.Hour,
		KeygenMode:         "server",
		RenewalConcurrency: 25,
		Intervals: map[string]time.Duration{"renewal_check": time.Minute,
			"job_processor": 5 * time.Second, "job_timeout": time.Minute,
			"status_refresh": time.Minute, "crl_generation": time.Hour,
			"ocsp_rotation": time.Hour, "ca_rollover": 6 * time.Hour,
			"metrics_refresh": 30 * time.Second, "retention": time.Hour,
			"agent_health": time.Minute, "job_retry": 30 * time.Second,
			"network_scan": 6 * time.Hour, "deployment_verification": time.Hour},
		AgentBootstrapToken: "bootstrap-token-0123456789",
		AgentOfflineAfter:   10 * time.Minute,
		NetworkScanEnabled:  true,
		JobRetention:        2160 * time.Hour,
		MaxBodyBytes:        2048,
		ShutdownTimeout:     5 * time.Minute,
		LogLevel:            slog.LevelWarn,
		LogFormat:           "text",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestLoadEmptyMeansDefault(t *testing.T) {
	got, err := config.Load(env{"CERTCTL_SERVER_PORT": "", "CERTCTL_LOG_LEVEL": ""}.lookup)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.ServerPort != 8443 || got.LogLevel != slog.LevelInfo {
		t.Errorf("got port %d, level %v; want 8443, INFO", got.ServerPort, got.LogLevel)
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		env     env
		wantVar string
		// wantIn must appear in the message; wantOut must not (secrets).
		wantIn  []string
		wantOut []string
	}{
		{name: "port out of range", env: env{"CERTCTL_SERVER_PORT": "99999"},
			wantVar: "CERTCTL_SERVER_PORT", wantIn: []string{`"99999"`}},
		{name: "port not a number", env: env{"CERTCTL_SERVER_PORT": "abc"},
			wantVar: "CERTCTL_SERVER_PORT", wantIn: []string{`"abc"`}},
		{name: "port zero", env: env{"CERTCTL_SERVER_PORT": "0"},
			wantVar: "CERTCTL_SERVER_PORT", wantIn: []string{`"0"`}},
		{name: "bad bool", env: env{"CERTCTL_SERVER_TLS_DISABLED": "yes"},
			wantVar: "CERTCTL_SERVER_TLS_DISABLED", wantIn: []string{`"yes"`}},
		{name: "bad duration", env: env{"CERTCTL_SHUTDOWN_TIMEOUT": "soon"},
			wantVar: "CERTCTL_SHUTDOWN_TIMEOUT", wantIn: []string{`"soon"`}},
		{name: "negative duration", env: env{"CERTCTL_SHUTDOWN_TIMEOUT": "-5s"},
			wantVar: "CERTCTL_SHUTDOWN_TIMEOUT", wantIn: []string{`"-5s"`}},
		{name: "max conns zero", env: env{"CERTCTL_DATABASE_MAX_CONNS": "0"},
			wantVar: "CERTCTL_DATABASE_MAX_CONNS", wantIn: []string{`"0"`}},
		{name: "body limit too small", env: env{"CERTCTL_MAX_BODY_BYTES": "12"},
			wantVar: "CERTCTL_MAX_BODY_BYTES", wantIn: []string{`"12"`}},
		{name: "bad log level", env: env{"CERTCTL_LOG_LEVEL": "loud"},
			wantVar: "CERTCTL_LOG_LEVEL", wantIn: []string{`"loud"`}},
		{name: "bad log level quoted as typed", env: env{"CERTCTL_LOG_LEVEL": "LOUD"},
			wantVar: "CERTCTL_LOG_LEVEL", wantIn: []string{`"LOUD"`}},
		{name: "bad log format", env: env{"CERTCTL_LOG_FORMAT": "xml"},
			wantVar: "CERTCTL_LOG_FORMAT", wantIn: []string{`"xml"`}},
		{name: "unknown auth type", env: env{"CERTCTL_AUTH_TYPE": "oauth"},
			wantVar: "CERTCTL_AUTH_TYPE", wantIn: []string{`"oauth"`}},
		{name: "database URL with wrong scheme",
			env:     env{"CERTCTL_DATABASE_URL": "mysql://root:hunter2@db/certctl"},
			wantVar: "CERTCTL_DATABASE_URL", wantIn: []string{"postgres://"},
			wantOut: []string{"hunter2", "mysql://"}},
		{name: "postgres URL that does not parse",
			env:     env{"CERTCTL_DATABASE_URL": "postgres://certctl:p%zzw@db/certctl"},
			wantVar: "CERTCTL_DATABASE_URL", wantOut: []string{"p%zzw", "certctl:"}},
		{name: "sqlite URL without a path", env: env{"CERTCTL_DATABASE_URL": "sqlite:"},
			wantVar: "CERTCTL_DATABASE_URL"},
		{name: "public URL without scheme",
			env:     env{"CERTCTL_PUBLIC_URL": "certctl.example.com"},
			wantVar: "CERTCTL_PUBLIC_URL", wantIn: []string{`"certctl.example.com"`}},
		{name: "public URL with another scheme",
			env:     env{"CERTCTL_PUBLIC_URL": "ftp://certctl.example.com"},
			wantVar: "CERTCTL_PUBLIC_URL", wantIn: []string{`"ftp://certctl.example.com"`}},
		{name: "TLS cert without key",
			env:     env{"CERTCTL_SERVER_TLS_CERT_PATH": "/etc/certctl/tls.crt"},
			wantVar: "CERTCTL_SERVER_TLS_CERT_PATH",
			wantIn:  []string{"CERTCTL_SERVER_TLS_KEY_PATH"}},
		{name: "TLS key without cert",
			env:     env{"CERTCTL_SERVER_TLS_KEY_PATH": "/etc/certctl/tls.key"},
			wantVar: "CERTCTL_SERVER_TLS_CERT_PATH",
			wantIn:  []string{"CERTCTL_SERVER_TLS_KEY_PATH"}},
		{name: "auth secret too short", env: env{"CERTCTL_AUTH_SECRET": "fifteen-chars!!"},
			wantVar: "CERTCTL_AUTH_SECRET", wantIn: []string{"16"},
			wantOut: []string{"fifteen-chars!!"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(tt.env.lookup)

			ce := asConfigError(t, err)
			if ce.Var != tt.wantVar {
				t.Errorf("Var: got %q, want %q", ce.Var, tt.wantVar)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, tt.wantVar+": ") {
				t.Errorf("message %q does not start with the variable name", msg)
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("message %q is not one line", msg)
			}
			for _, s := range tt.wantIn {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q lacks %q", msg, s)
				}
			}
			for _, s := range tt.wantOut {
				if strings.Contains(msg, s) {
					t.Errorf("message %q reveals %q", msg, s)
				}
			}
		})
	}
}

func TestLoadSecretFiles(t *testing.T) {
	dir := t.TempDir()
	secretFile := writeFile(t, dir, "auth_secret", "0123456789abcdef-from-file\n")
	urlFile := writeFile(t, dir, "database_url", "postgres://certctl:pw@db/certctl\r\n")
	portFile := writeFile(t, dir, "port", "1234\n")
	missing := filepath.Join(dir, "missing")

	t.Run("value read from the file, line break trimmed", func(t *testing.T) {
		cfg, err := config.Load(env{
			"CERTCTL_AUTH_SECRET_FILE":  secretFile,
			"CERTCTL_DATABASE_URL_FILE": urlFile,
		}.lookup)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.AuthSecret != "0123456789abcdef-from-file" {
			t.Errorf("AuthSecret: got %q, want %q", cfg.AuthSecret, "0123456789abcdef-from-file")
		}
		if cfg.DatabaseURL != "postgres://certctl:pw@db/certctl" {
			t.Errorf("DatabaseURL: got %q, want the file's URL", cfg.DatabaseURL)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		_, err := config.Load(env{"CERTCTL_AUTH_SECRET_FILE": missing}.lookup)
		ce := asConfigError(t, err)
		if ce.Var != "CERTCTL_AUTH_SECRET_FILE" {
			t.Errorf("Var: got %q, want CERTCTL_AUTH_SECRET_FILE", ce.Var)
		}
	})

	t.Run("both set is refused", func(t *testing.T) {
		_, err := config.Load(env{
			"CERTCTL_AUTH_SECRET":      "0123456789abcdef-direct",
			"CERTCTL_AUTH_SECRET_FILE": secretFile,
		}.lookup)
		ce := asConfigError(t, err)
		if ce.Var != "CERTCTL_AUTH_SECRET" {
			t.Errorf("Var: got %q, want CERTCTL_AUTH_SECRET", ce.Var)
		}
		if strings.Contains(err.Error(), "0123456789abcdef") {
			t.Errorf("message %q reveals the secret", err)
		}
	})

	t.Run("empty file variable is ignored", func(t *testing.T) {
		cfg, err := config.Load(env{
			"CERTCTL_AUTH_SECRET":      "0123456789abcdef-direct",
			"CERTCTL_AUTH_SECRET_FILE": "",
		}.lookup)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.AuthSecret != "0123456789abcdef-direct" {
			t.Errorf("AuthSecret: got %q, want the direct value", cfg.AuthSecret)
		}
	})

	t.Run("file twin of a non-secret is ignored", func(t *testing.T) {
		cfg, err := config.Load(env{
			"CERTCTL_SERVER_PORT_FILE": portFile,
			"CERTCTL_LOG_LEVEL_FILE":   missing,
		}.lookup)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if cfg.ServerPort != 8443 {
			t.Errorf("ServerPort: got %d, want 8443", cfg.ServerPort)
		}
	})
}

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		name string
		env  env
		want string
	}{
		{name: "unset URL", env: env{"CERTCTL_DATA_DIR": "/var/lib/certctl"},
			want: filepath.Join("/var/lib/certctl", "certctl.db")},
		{name: "unset URL, default data dir", env: env{},
			want: filepath.Join("data", "certctl.db")},
		{name: "explicit sqlite file", env: env{"CERTCTL_DATABASE_URL": "sqlite:/x/y.db"},
			want: "/x/y.db"},
		{name: "postgres", env: env{"CERTCTL_DATABASE_URL": "postgres://u:p@db/certctl"},
			want: ""},
		{name: "postgresql", env: env{"CERTCTL_DATABASE_URL": "postgresql://db/certctl"},
			want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(tt.env.lookup)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.SQLitePath(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestListen(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{host: "0.0.0.0", want: "0.0.0.0:8443"},
		{host: "127.0.0.1", want: "127.0.0.1:8443"},
		{host: "certctl.internal", want: "certctl.internal:8443"},
		{host: "::", want: "[::]:8443"},
		{host: "::1", want: "[::1]:8443"},
		{host: "fe80::1%eth0", want: "[fe80::1%eth0]:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			cfg := config.Config{ServerHost: tt.host, ServerPort: 8443}
			if got := cfg.Listen(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		name string
		cfg  config.Config
		want string
	}{
		{name: "public URL wins",
			cfg: config.Config{ServerHost: "10.0.0.5", ServerPort: 8443,
				PublicURL: "https://certctl.example.com"},
			want: "https://certctl.example.com"},
		{name: "public URL trailing slash dropped",
			cfg:  config.Config{ServerPort: 8443, PublicURL: "https://certctl.example.com/"},
			want: "https://certctl.example.com"},
		{name: "public URL kept with TLS disabled",
			cfg: config.Config{ServerPort: 8080, TLSDisabled: true,
				PublicURL: "https://certctl.example.com"},
			want: "https://certctl.example.com"},
		{name: "derived from host",
			cfg:  config.Config{ServerHost: "certctl.internal", ServerPort: 8443},
			want: "https://certctl.internal:8443"},
		{name: "TLS disabled",
			cfg:  config.Config{ServerHost: "certctl.internal", ServerPort: 8080, TLSDisabled: true},
			want: "http://certctl.internal:8080"},
		{name: "any IPv4 address means localhost",
			cfg:  config.Config{ServerHost: "0.0.0.0", ServerPort: 8443},
			want: "https://localhost:8443"},
		{name: "any IPv6 address means localhost",
			cfg:  config.Config{ServerHost: "::", ServerPort: 8443},
			want: "https://localhost:8443"},
		{name: "empty host means localhost",
			cfg:  config.Config{ServerPort: 8443},
			want: "https://localhost:8443"},
		{name: "IPv6 host bracketed",
			cfg:  config.Config{ServerHost: "::1", ServerPort: 8443},
			want: "https://[::1]:8443"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.BaseURL(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedacted(t *testing.T) {
	secretFile := writeFile(t, t.TempDir(), "auth_secret", "0123456789abcdef-from-file\n")
	tests := []struct {
		name    string
		varName string
		env     env
		want    string
	}{
		{name: "secret set", varName: "CERTCTL_AUTH_SECRET",
			env: env{"CERTCTL_AUTH_SECRET": "0123456789abcdef"}, want: "(set, redacted)"},
		{name: "secret set through a file", varName: "CERTCTL_AUTH_SECRET",
			env: env{"CERTCTL_AUTH_SECRET_FILE": secretFile}, want: "(set, redacted)"},
		{name: "database URL set", varName: "CERTCTL_DATABASE_URL",
			env: env{"CERTCTL_DATABASE_URL": "postgres://u:pw@db/certctl"}, want: "(set, redacted)"},
		{name: "secret unset", varName: "CERTCTL_AUTH_SECRET", env: env{}, want: ""},
		{name: "non-secret set", varName: "CERTCTL_SERVER_PORT",
			env: env{"CERTCTL_SERVER_PORT": "9443"}, want: "9443"},
		{name: "non-secret default", varName: "CERTCTL_LOG_FORMAT", env: env{}, want: "json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := findVar(t, tt.varName).Redacted(tt.env.lookup); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}

	t.Run("error hides the secret", func(t *testing.T) {
		got := findVar(t, "CERTCTL_AUTH_SECRET").Redacted(env{
			"CERTCTL_AUTH_SECRET":      "0123456789abcdef-direct",
			"CERTCTL_AUTH_SECRET_FILE": secretFile,
		}.lookup)
		if !strings.HasPrefix(got, "(error: ") || strings.Contains(got, "0123456789abcdef") {
			t.Errorf("got %q, want an error that does not show the secret", got)
		}
	})
}

func TestVarsIsACopy(t *testing.T) {
	vs := config.Vars()
	vs[0].Name = "CHANGED"
	if config.Vars()[0].Name == "CHANGED" {
		t.Error("changing the result of Vars changed the declared variables")
	}
}

func asConfigError(t *testing.T, err error) *config.Error {
	t.Helper()
	if err == nil {
		t.Fatal("Load succeeded, want an error")
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want *config.Error", err, err)
	}
	return ce
}

func findVar(t *testing.T, name string) config.Var {
	t.Helper()
	for _, v := range config.Vars() {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no variable %s", name)
	return config.Var{}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
