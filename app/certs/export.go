package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/secret"
	"certctl/app/valid"
	"certctl/store"

	"software.sslmate.com/src/go-pkcs12"
)

// ExportPKCS12 returns the current version of certificate id with its server-held key and
// chain as a PKCS#12 file protected by password. It is the one way a server-held key leaves
// the server besides deployment, so every export is audited.
func (s *Service) ExportPKCS12(ctx context.Context, id, password string) ([]byte, error) {
	if len(password) < 8 {
		return nil, valid.Errors{"password": "must have at least 8 characters"}
	}
	v, err := s.currentVersion(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(v.KeySealed) == 0 {
		return nil, &valid.Conflict{Message: "the server does not hold this certificate's " +
			"private key (it lives with the agent, or was never given)"}
	}
	p12, err := s.encodePKCS12(v, password)
	if err != nil {
		return nil, err
	}
	err = s.st.AppendAudit(ctx, audit.Event(ctx, s.now(), "certificate.export_pkcs12",
		"certificate", id, map[string]any{"version_id": v.ID, "serial": v.Serial}))
	if err != nil {
		return nil, fmt.Errorf("audit the export: %w", err)
	}
	return p12, nil
}

func (s *Service) encodePKCS12(v store.CertificateVersion, password string) ([]byte, error) {
	der, err := s.key.Open(v.KeySealed, versionAAD(v.ID))
	if err != nil {
		return nil, fmt.Errorf("unseal key of version %s: %w", v.ID, err)
	}
	key, err := ca.ParseKey(der)
	if err != nil {
		return nil, err
	}
	certs, err := parsePEMCerts(v.CertPEM + v.ChainPEM)
	if err != nil {
		return nil, err
	}
	p12, err := pkcs12.Modern.Encode(key, certs[0], certs[1:], password)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12: %w", err)
	}
	return p12, nil
}

func parsePEMCerts(text string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("stored certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("stored version has no certificate")
	}
	return out, nil
}

// Reseal re-encrypts every server-held private key from old to new, for key rotation; it
// returns how many it moved.
func Reseal(ctx context.Context, q store.Queries, old, new secret.Key) (int, error) {
	keys, err := q.ListSealedKeys(ctx)
	if err != nil {
		return 0, err
	}
	for i, k := range keys {
		der, err := old.Open(k.Sealed, versionAAD(k.VersionID))
		if err != nil {
			return i, fmt.Errorf("unseal key of version %s: %w", k.VersionID, err)
		}
		if err := q.ResealVersion(ctx, k.VersionID, new.Seal(der, versionAAD(k.VersionID))); err != nil {
			return i, err
		}
	}
	return len(keys), nil
}
