package deploy

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"regexp"
	"strings"
)

// redactor removes secrets from text a report or a log line carries: PEM private keys,
// whole or cut, the lines of the deployment's own key, and the keystore password.
// Commands print what they like, and a validate command may well print a key file.
type redactor struct {
	key      crypto.Signer
	password string
	keyLines []string
}

var (
	pemKeyBlock = regexp.MustCompile(
		`(?s)-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----.*?(-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)`)
	// The end of a key whose beginning was cut off.
	pemKeyEnd = regexp.MustCompile(`[A-Za-z0-9+/=\s]*-----END[A-Z0-9 ]*PRIVATE KEY-----`)
)

const removed = "[secret removed]"

func (r *redactor) clean(s string) string {
	s = pemKeyBlock.ReplaceAllString(s, removed)
	s = pemKeyEnd.ReplaceAllString(s, removed)
	for _, line := range r.lines() {
		s = strings.ReplaceAll(s, line, removed)
	}
	if r.password != "" {
		s = strings.ReplaceAll(s, r.password, removed)
	}
	return s
}

// lines returns the base64 lines of the key's PKCS#8 PEM, which text may carry without
// the PEM frame.
func (r *redactor) lines() []string {
	if r.keyLines != nil || r.key == nil {
		return r.keyLines
	}
	r.keyLines = []string{}
	// A broken key (a nil pointer) must not break the report: the deployment refuses it.
	defer func() { recover() }()
	der, err := x509.MarshalPKCS8PrivateKey(r.key)
	if err != nil {
		return r.keyLines
	}
	p := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	for _, line := range strings.Split(p, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			r.keyLines = append(r.keyLines, line)
		}
	}
	return r.keyLines
}
