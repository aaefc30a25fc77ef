package deploy

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"certctl/app/valid"
)

var allowed = []string{"/etc/nginx/certs", "/srv/certs/"}

func TestCheckAccepts(t *testing.T) {
	tests := []struct{ name, typ, config string }{
		{"file, one path", "file", `{"cert_path": "/srv/certs/c.pem"}`},
		{"file, every field", "file", `{"cert_path": "/srv/certs/c.pem",
			"chain_path": "/srv/certs/ch.pem", "fullchain_path": "/srv/certs/f.pem",
			"key_path": "/srv/certs/k.pem", "mode": "0640", "key_mode": "600",
			"owner": "www-data", "group": "33"}`},
		{"the allowed path itself", "file", `{"cert_path": "/srv/certs"}`},
		{"nginx", "nginx", `{"fullchain_path": "/etc/nginx/certs/www.pem",
			"key_path": "/etc/nginx/certs/www.key", "validate_command": ["nginx", "-t"],
			"reload_command": ["systemctl", "reload", "nginx"],
			"verify": {"address": "127.0.0.1:443", "server_name": "www.example.com"},
			"command_timeout_seconds": 20}`},
		{"nginx with cert_path", "nginx",
			`{"cert_path": "/etc/nginx/certs/a", "key_path": "/etc/nginx/certs/b"}`},
		{"no validate command", "nginx", `{"cert_path": "/etc/nginx/certs/a",
			"key_path": "/etc/nginx/certs/b", "validate_command": []}`},
		{"null fields", "file",
			`{"cert_path": "/srv/certs/a", "chain_path": null, "verify": null}`},
		{"apache", "apache", `{"cert_path": "/srv/certs/a", "chain_path": "/srv/certs/b",
			"key_path": "/srv/certs/c"}`},
		{"haproxy", "haproxy", `{"pem_path": "/srv/certs/www.pem",
			"validate_command": ["haproxy", "-c", "-f", "/etc/haproxy/haproxy.cfg"]}`},
		{"traefik", "traefik", `{"cert_path": "/srv/certs/a", "key_path": "/srv/certs/b",
			"dynamic_config_path": "/srv/certs/d.yml"}`},
		{"caddy", "caddy", `{"cert_path": "/srv/certs/a", "key_path": "/srv/certs/b"}`},
		{"postfix", "postfix", `{"cert_path": "/srv/certs/a", "key_path": "/srv/certs/b"}`},
		{"dovecot", "dovecot", `{"cert_path": "/srv/certs/a", "key_path": "/srv/certs/b",
			"chain_path": "/srv/certs/c"}`},
		{"pkcs12", "pkcs12",
			`{"path": "/srv/certs/site.p12", "password": "s3cret-keystore-pass"}`},
		{"jks", "jks", `{"path": "/srv/certs/k.p12", "alias": "tomcat",
			"password": "changeit", "mode": "0640"}`},
		{"verify without a name", "file",
			`{"cert_path": "/srv/certs/a", "verify": {"address": "[::1]:8443"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check(tc.typ, []byte(tc.config), allowed); err != nil {
				t.Errorf("got %v, want no error", err)
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name, typ, config string
		field             string   // the field the problem must name
		allowed           []string // nil: the default ones
	}{
		{"outside", "file", `{"cert_path": "/etc/passwd"}`, "cert_path", nil},
		{"dot-dot out", "file", `{"cert_path": "/srv/certs/../../etc/passwd"}`, "cert_path",
			nil},
		{"dot-dot inside", "file", `{"cert_path": "/srv/certs/a/../b.pem"}`, "cert_path", nil},
		{"prefix trick", "nginx", `{"fullchain_path": "/etc/nginx/certs-evil/a.pem",
			"key_path": "/etc/nginx/certs/k"}`, "fullchain_path", nil},
		{"above the allowed path", "file", `{"cert_path": "/srv"}`, "cert_path", nil},
		{"relative", "file", `{"key_path": "certs/k.pem"}`, "key_path", nil},
		{"trailing slash", "file", `{"cert_path": "/srv/certs/c/"}`, "cert_path", nil},
		{"no allowed paths", "file", `{"cert_path": "/srv/certs/c.pem"}`, "cert_path",
			[]string{}},
		{"relative allowed path", "file", `{"cert_path": "/srv/certs/c.pem"}`, "cert_path",
			[]string{"srv"}},
		{"same file twice", "file", `{"cert_path": "/srv/certs/c", "key_path": "/srv/certs/c"}`,
			"cert_path", nil},
		{"unknown field", "file", `{"cert_path": "/srv/certs/c", "colour": "red"}`, "colour",
			nil},
		{"another type's field", "nginx", `{"pem_path": "/srv/certs/c",
			"cert_path": "/srv/certs/a", "key_path": "/srv/certs/b"}`, "pem_path", nil},
		{"unknown type", "ftp", `{}`, "type", nil},
		{"shell string", "file", `{"cert_path": "/srv/certs/c",
			"reload_command": "systemctl reload nginx"}`, "reload_command", nil},
		{"empty program", "file", `{"cert_path": "/srv/certs/c",
			"validate_command": ["", "-t"]}`, "validate_command", nil},
		{"not strings", "file", `{"cert_path": "/srv/certs/c", "reload_command": [1, 2]}`,
			"reload_command", nil},
		{"path not a string", "file", `{"cert_path": 5}`, "cert_path", nil},
		{"nothing to write", "file", `{}`, "cert_path", nil},
		{"nginx without key", "nginx", `{"fullchain_path": "/srv/certs/f"}`, "key_path", nil},
		{"nginx without cert", "nginx", `{"key_path": "/srv/certs/k"}`, "fullchain_path", nil},
		{"haproxy without pem", "haproxy", `{"reload_command": ["true"]}`, "pem_path", nil},
		{"pkcs12 without password", "pkcs12", `{"path": "/srv/certs/a.p12"}`, "password",
			nil},
		{"short password", "jks", `{"path": "/srv/certs/a.p12", "password": "abc"}`,
			"password", nil},
		{"mode not octal", "file", `{"cert_path": "/srv/certs/c", "mode": "0999"}`, "mode",
			nil},
		{"mode symbolic", "file", `{"cert_path": "/srv/certs/c", "mode": "rw-r--r--"}`, "mode",
			nil},
		{"mode a number", "file", `{"cert_path": "/srv/certs/c", "mode": 420}`, "mode", nil},
		{"mode unreadable", "file", `{"cert_path": "/srv/certs/c", "mode": "0200"}`, "mode",
			nil},
		{"mode setuid", "file", `{"cert_path": "/srv/certs/c", "mode": "4755"}`, "mode", nil},
		{"key mode", "file", `{"key_path": "/srv/certs/k", "key_mode": "06000"}`, "key_mode",
			nil},
		{"owner", "file", `{"cert_path": "/srv/certs/c", "owner": "www data"}`, "owner", nil},
		{"group", "file", `{"cert_path": "/srv/certs/c", "group": "-x"}`, "group", nil},
		{"verify without port", "file", `{"cert_path": "/srv/certs/c",
			"verify": {"address": "localhost"}}`, "verify.address", nil},
		{"verify port", "file", `{"cert_path": "/srv/certs/c",
			"verify": {"address": "localhost:99999"}}`, "verify.address", nil},
		{"verify field", "file", `{"cert_path": "/srv/certs/c",
			"verify": {"address": "a:1", "port": 1}}`, "verify.port", nil},
		{"verify string", "file", `{"cert_path": "/srv/certs/c", "verify": "a:443"}`, "verify",
			nil},
		{"negative timeout", "file", `{"cert_path": "/srv/certs/c",
			"command_timeout_seconds": -1}`, "command_timeout_seconds", nil},
		{"timeout string", "file", `{"cert_path": "/srv/certs/c",
			"command_timeout_seconds": "10"}`, "command_timeout_seconds", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths := allowed
			if tc.allowed != nil {
				paths = tc.allowed
			}
			err := Check(tc.typ, []byte(tc.config), paths)
			var fields valid.Errors
			if !errors.As(err, &fields) {
				t.Fatalf("got %v, want field problems", err)
			}
			if fields[tc.field] == "" {
				t.Fatalf("got %v, want a problem with %s", err, tc.field)
			}
			prefix := "config." + tc.field + ": "
			if tc.field == "type" {
				prefix = "type: "
			}
			if !strings.Contains(err.Error(), prefix) {
				t.Errorf("got %q, want it to name %q", err, prefix)
			}
		})
	}
}

func TestCheckMessages(t *testing.T) {
	err := Check("file", []byte(`{"cert_path": "/etc/passwd"}`), []string{"/etc/nginx/certs"})
	want := "config.cert_path: must lie inside the allowed paths (/etc/nginx/certs)"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
	err = Check("file", []byte(`[]`), allowed)
	var fields valid.Errors
	if err == nil || errors.As(err, &fields) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("got %v for an array, want a plain error about config", err)
	}
}

func TestSecretFields(t *testing.T) {
	for _, typ := range Types() {
		got := SecretFields(typ)
		want := []string(nil)
		if typ == "pkcs12" || typ == "jks" {
			want = []string{"password"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("SecretFields(%q): got %v, want %v", typ, got, want)
		}
	}
}

func TestDefaultCommands(t *testing.T) {
	tests := []struct {
		typ, config string
		validate    []string
	}{
		{"nginx", `{"fullchain_path": "/srv/certs/f", "key_path": "/srv/certs/k"}`,
			[]string{"nginx", "-t"}},
		{"nginx", `{"fullchain_path": "/srv/certs/f", "key_path": "/srv/certs/k",
			"validate_command": []}`, []string{}},
		{"apache", `{"cert_path": "/srv/certs/c", "key_path": "/srv/certs/k"}`,
			[]string{"apache2ctl", "-t"}},
		{"postfix", `{"cert_path": "/srv/certs/c", "key_path": "/srv/certs/k"}`,
			[]string{"postfix", "check"}},
		{"dovecot", `{"cert_path": "/srv/certs/c", "key_path": "/srv/certs/k"}`,
			[]string{"doveconf", "-n"}},
		{"haproxy", `{"pem_path": "/srv/certs/p"}`, nil},
		{"file", `{"cert_path": "/srv/certs/c", "validate_command": ["true"]}`, []string{"true"}},
	}
	for _, tc := range tests {
		tg, err := parse(tc.typ, []byte(tc.config), allowed)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tg.validate, tc.validate) ||
			(tg.validate == nil) != (tc.validate == nil) {
			t.Errorf("%s %s: got validate %q, want %q", tc.typ, tc.config, tg.validate,
				tc.validate)
		}
	}
}
