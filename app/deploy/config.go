package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"certctl/app/valid"
)

// ConfigError lists what is wrong with a target configuration, by field: "type" for the
// target type, otherwise a field of the configuration such as "cert_path" or
// "verify.address". It unwraps to those valid.Errors, so that a caller can file each
// problem under its own field.
type ConfigError struct {
	Fields valid.Errors
}

// Error lists the problems sorted by field, each under its path in a target
// ("config.cert_path: ...").
func (e *ConfigError) Error() string {
	var parts []string
	for _, f := range slices.Sorted(maps.Keys(e.Fields)) {
		path := "config." + f
		if f == "type" {
			path = f
		}
		parts = append(parts, path+": "+e.Fields[f])
	}
	return strings.Join(parts, "; ")
}

// Unwrap returns the problems by field.
func (e *ConfigError) Unwrap() error { return e.Fields }

// Check validates the configuration config (a JSON object) of a target of type typ, as an
// admin saves it: unknown types and fields, missing fields, malformed values, commands
// given as shell strings, and paths that are not absolute and clean or that lie outside
// allowedPaths (directories; a path may equal one or lie below it). The problems come as
// a *ConfigError; a config that is not a JSON object gives a plain error.
func Check(typ string, config []byte, allowedPaths []string) error {
	_, err := parse(typ, config, allowedPaths)
	return err
}

// SecretFields names the configuration fields of typ that are secrets, kept encrypted at
// rest and never shown: "password" for pkcs12 and jks; nil for the other types.
func SecretFields(typ string) []string {
	if t, ok := types[typ]; ok && t.keystore {
		return []string{"password"}
	}
	return nil
}

// Types lists the target types Deploy knows, sorted.
func Types() []string { return slices.Sorted(maps.Keys(types)) }

// targetType says which fields a type takes and which it needs.
type targetType struct {
	fields []string // fields besides the common ones
	// required lists groups of fields of which each needs one set.
	required [][]string
	validate []string // the validate command when the configuration names none
	keystore bool     // one PKCS#12 file at "path", with a password
	// appendChain puts the chain into cert_path when there is no chain_path.
	appendChain bool
	// fullchain puts leaf and chain into cert_path.
	fullchain bool
}

// commonFields are the fields of every type.
var commonFields = []string{"mode", "owner", "group", "validate_command", "reload_command",
	"verify", "command_timeout_seconds"}

// pemFields are the fields of the types that write PEM files as they are told.
var pemFields = []string{"cert_path", "chain_path", "fullchain_path", "key_path", "key_mode"}

var types = map[string]targetType{
	"file": {fields: pemFields,
		required: [][]string{{"cert_path", "chain_path", "fullchain_path", "key_path"}}},
	"nginx": {fields: pemFields, validate: []string{"nginx", "-t"},
		required: [][]string{{"fullchain_path", "cert_path"}, {"key_path"}}},
	"apache": {fields: []string{"cert_path", "chain_path", "key_path", "key_mode"},
		required: [][]string{{"cert_path"}, {"key_path"}}, appendChain: true,
		validate: []string{"apache2ctl", "-t"}},
	"haproxy": {fields: []string{"pem_path"}, required: [][]string{{"pem_path"}}},
	"traefik": {fields: []string{"cert_path", "key_path", "key_mode", "dynamic_config_path"},
		required: [][]string{{"cert_path"}, {"key_path"}}, fullchain: true},
	"caddy": {fields: []string{"cert_path", "key_path", "key_mode"},
		required: [][]string{{"cert_path"}, {"key_path"}}, fullchain: true,
		validate: []string{"caddy", "validate", "--config", "/etc/caddy/Caddyfile"}},
	"postfix": {fields: []string{"cert_path", "chain_path", "key_path", "key_mode"},
		required: [][]string{{"cert_path"}, {"key_path"}}, appendChain: true,
		validate: []string{"postfix", "check"}},
	"dovecot": {fields: []string{"cert_path", "chain_path", "key_path", "key_mode"},
		required: [][]string{{"cert_path"}, {"key_path"}}, appendChain: true,
		validate: []string{"doveconf", "-n"}},
	"pkcs12": {fields: []string{"path", "password"}, keystore: true,
		required: [][]string{{"path"}, {"password"}}},
	"jks": {fields: []string{"path", "password", "alias"}, keystore: true,
		required: [][]string{{"path"}, {"password"}}},
}

// pathFields are the fields that name files, in the order their files are written.
var pathFields = []string{"key_path", "cert_path", "chain_path", "fullchain_path", "pem_path",
	"path", "dynamic_config_path"}

// target is a checked configuration.
type target struct {
	typ  string
	kind targetType

	paths           map[string]string // path field -> cleaned absolute path
	mode, keyMode   uint32            // 0: preserve the file's mode, or the default
	owner, group    string
	password, alias string
	validate        []string
	reload          []string
	verify          *verifyTarget
	timeoutSeconds  int
}

// verifyTarget is where a deployment checks that the new certificate is served.
type verifyTarget struct {
	Address    string
	ServerName string
}

// parse checks config of a target of type typ against allowed and returns it.
func parse(typ string, config []byte, allowed []string) (*target, error) {
	kind, ok := types[typ]
	if !ok {
		return nil, &ConfigError{valid.Errors{"type": fmt.Sprintf(
			"unknown target type %q; the types are %s", typ, strings.Join(Types(), ", "))}}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil || fields == nil {
		return nil, errors.New("config: must be a JSON object")
	}
	e := valid.Errors{}
	known := append(slices.Clone(commonFields), kind.fields...)
	for name := range fields {
		if !slices.Contains(known, name) {
			e.Add(name, fmt.Sprintf("is not a field of %s targets", typ))
		}
	}
	t := &target{typ: typ, kind: kind, paths: map[string]string{}, alias: "server"}
	t.decode(e, fields)
	t.checkPaths(e, allowed)
	for _, group := range kind.required {
		if !slices.ContainsFunc(group, func(f string) bool { return t.set(f) }) {
			e.Add(group[0], requiredProblem(group))
		}
	}
	if t.validate == nil {
		t.validate = kind.validate
	}
	if err := e.Err(); err != nil {
		return nil, &ConfigError{e}
	}
	return t, nil
}

func requiredProblem(group []string) string {
	if len(group) == 1 {
		return "is required"
	}
	return "is required, or one of " + strings.Join(group[1:], ", ")
}

// set reports whether field has a value.
func (t *target) set(field string) bool {
	if field == "password" {
		return t.password != ""
	}
	return t.paths[field] != ""
}

// decode reads each known field of fields into t, recording malformed values in e.
func (t *target) decode(e valid.Errors, fields map[string]json.RawMessage) {
	for name, raw := range fields {
		switch name {
		case "mode":
			t.mode = fileMode(e, name, raw)
		case "key_mode":
			t.keyMode = fileMode(e, name, raw)
		case "owner", "group":
			s := decodeString(e, name, raw)
			if s != "" && !validAccount(s) {
				e.Add(name, "must be a user or group name or a numeric ID")
			}
			if name == "owner" {
				t.owner = s
			} else {
				t.group = s
			}
		case "password":
			// keytool refuses shorter ones, and a short one could not be told apart from
			// other text when it is removed from command output.
			if t.password = decodeString(e, name, raw); len(t.password) < 6 {
				e.Add(name, "must have at least 6 characters")
			}
		case "alias":
			if s := decodeString(e, name, raw); s != "" {
				t.alias = s
			}
		case "validate_command":
			t.validate = command(e, name, raw)
		case "reload_command":
			t.reload = command(e, name, raw)
		case "verify":
			t.verify = decodeVerify(e, raw)
		case "command_timeout_seconds":
			if err := json.Unmarshal(raw, &t.timeoutSeconds); err != nil ||
				t.timeoutSeconds < 0 || t.timeoutSeconds > 3600 {
				e.Add(name, "must be a whole number of seconds from 1 to 3600")
			}
		default:
			if slices.Contains(pathFields, name) {
				t.paths[name] = decodeString(e, name, raw)
			}
		}
	}
	for name, p := range t.paths {
		if p == "" {
			delete(t.paths, name)
		}
	}
}

// checkPaths records paths that are not absolute and clean, lie outside allowed, or name
// the same file as another field.
func (t *target) checkPaths(e valid.Errors, allowed []string) {
	roots := cleanRoots(allowed)
	seen := map[string]string{}
	for _, name := range pathFields {
		p, ok := t.paths[name]
		if !ok {
			continue
		}
		switch {
		case !filepath.IsAbs(p):
			e.Add(name, "must be an absolute path")
		case filepath.Clean(p) != p:
			e.Add(name, fmt.Sprintf("must be a clean path (%s)", filepath.Clean(p)))
		case strings.ContainsAny(p, "\x00\n\r"):
			e.Add(name, "must not contain control characters")
		case !inside(p, roots):
			e.Add(name, outsideProblem(roots))
		case seen[p] != "":
			e.Add(name, "is the same file as "+seen[p])
		}
		seen[p] = name
	}
}

func outsideProblem(roots []string) string {
	if len(roots) == 0 {
		return "must lie inside the agent's allowed paths, and it allows none " +
			"(CERTCTL_AGENT_ALLOWED_PATHS)"
	}
	return fmt.Sprintf("must lie inside the allowed paths (%s)", strings.Join(roots, ", "))
}

// cleanRoots returns the absolute entries of allowed, cleaned.
func cleanRoots(allowed []string) []string {
	var roots []string
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if filepath.IsAbs(a) {
			roots = append(roots, filepath.Clean(a))
		}
	}
	return roots
}

// inside reports whether the clean absolute path p equals or lies below one of roots.
// It compares whole path elements, so /etc/nginx-evil is not inside /etc/nginx.
func inside(p string, roots []string) bool {
	for _, r := range roots {
		if p == r || r == "/" || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

func decodeString(e valid.Errors, name string, raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		e.Add(name, "must be a string")
	}
	return s
}

// fileMode reads an octal permission string such as "0644".
func fileMode(e valid.Errors, name string, raw json.RawMessage) uint32 {
	s := decodeString(e, name, raw)
	if s == "" {
		return 0
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || len(s) < 3 || len(s) > 4 || m > 0o777 || m&0o400 == 0 {
		e.Add(name, `must be octal permissions that let the owner read, such as "0640"`)
		return 0
	}
	return uint32(m)
}

// validAccount reports whether s can name a user or group: a name or a numeric ID.
func validAccount(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			strings.ContainsRune("._-$", r)
		if !ok {
			return false
		}
	}
	return !strings.HasPrefix(s, "-")
}

// command reads an argument list. An empty list means no command, also where the type has
// a default one.
func command(e valid.Errors, name string, raw json.RawMessage) []string {
	var argv []string
	if err := json.Unmarshal(raw, &argv); err != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			e.Add(name, `must be a list of arguments such as ["nginx", "-t"]; `+
				"commands run without a shell")
			return nil
		}
		e.Add(name, "must be a list of strings")
		return nil
	}
	if argv == nil && string(raw) != "null" {
		argv = []string{}
	}
	if len(argv) > 0 && strings.TrimSpace(argv[0]) == "" {
		e.Add(name, "must start with the program to run")
	}
	return argv
}

func decodeVerify(e valid.Errors, raw json.RawMessage) *verifyTarget {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		e.Add("verify", `must be an object such as {"address": "127.0.0.1:443"}`)
		return nil
	}
	if fields == nil {
		return nil
	}
	v := &verifyTarget{}
	for name, raw := range fields {
		switch name {
		case "address":
			v.Address = decodeString(e, "verify.address", raw)
		case "server_name":
			v.ServerName = decodeString(e, "verify.server_name", raw)
		default:
			e.Add("verify."+name, "is not a field of verify")
		}
	}
	host, port, err := net.SplitHostPort(v.Address)
	n, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		e.Add("verify.address", "must be a host and port such as 127.0.0.1:443")
	}
	if strings.ContainsAny(v.ServerName, " /:\x00") {
		e.Add("verify.server_name", "must be a host name")
	}
	return v
}
