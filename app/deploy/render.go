package deploy

import (
	"encoding/json"
	"io/fs"
)

// file is one file a deployment writes.
type file struct {
	field string // the configuration field that names it
	path  string
	data  []byte
	// mode is the configured mode; 0 keeps the mode of the file on disk, or, for a new
	// file, uses defaultMode.
	mode        fs.FileMode
	defaultMode fs.FileMode
	// equivalent, when set, reports whether bytes on disk already hold what data holds,
	// for formats whose encoding is randomised (PKCS#12 salts).
	equivalent func(old []byte) bool

	old *snapshot // the file on disk before the deployment; nil when there was none
}

// render lays out the files of t for m, in the order they are written.
func (t *target) render(m *material) ([]*file, error) {
	data := map[string][]byte{}
	keyFiles := map[string]bool{"key_path": true, "pem_path": true, "path": true}
	var equivalent func([]byte) bool
	switch {
	case t.kind.keystore:
		alias := ""
		if t.typ == "jks" {
			alias = t.alias
		}
		ks, err := encodeKeystore(m, t.password, alias)
		if err != nil {
			return nil, err
		}
		data["path"] = ks
		equivalent = func(old []byte) bool { return keystoreHolds(old, m, t.password, alias) }
	case t.typ == "haproxy":
		data["pem_path"] = append(m.fullchain(), m.keyPEM...)
	default:
		cert := m.leafPEM
		if t.kind.fullchain || t.kind.appendChain && !t.set("chain_path") {
			cert = m.fullchain()
		}
		data["cert_path"], data["chain_path"] = cert, m.chainPEM
		data["fullchain_path"], data["key_path"] = m.fullchain(), m.keyPEM
		data["dynamic_config_path"] = traefikConfig(t.paths["cert_path"], t.paths["key_path"])
	}

	var files []*file
	for _, field := range pathFields {
		path, ok := t.paths[field]
		if !ok {
			continue
		}
		f := &file{field: field, path: path, data: data[field],
			mode: fs.FileMode(t.mode), defaultMode: 0o644}
		if keyFiles[field] {
			f.defaultMode = 0o600
		}
		if field == "key_path" {
			f.mode = fs.FileMode(t.keyMode)
		}
		if field == "path" {
			f.equivalent = equivalent
		}
		files = append(files, f)
	}
	return files, nil
}

// traefikConfig is a dynamic configuration for Traefik's file provider that names the
// certificate and key files. JSON strings are valid YAML scalars.
func traefikConfig(certPath, keyPath string) []byte {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return []byte("# Written by certctl; replaced on every deployment.\n" +
		"tls:\n  certificates:\n" +
		"    - certFile: " + q(certPath) + "\n" +
		"      keyFile: " + q(keyPath) + "\n")
}
