package certs

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/valid"
	"certctl/store"
)

// ImportInput is a certificate issued elsewhere, brought into the inventory.
type ImportInput struct {
	Name string
	// CertPEM holds the leaf first, then any chain.
	CertPEM string
	// KeyPEM is the leaf's private key, optional; it is kept sealed like a server-held key.
	KeyPEM          string
	OwnerID         string
	TeamID          string
	Environment     string
	Tags            []string
	RenewalPolicyID string
}

// Bundle is a parsed certificate chain with an optional key.
type Bundle struct {
	Leaf  *x509.Certificate
	Chain []*x509.Certificate
	Key   crypto.Signer // nil when none was given
}

// ParseBundle reads a PEM leaf with its chain and an optional PEM key, refusing input that
// holds no certificate, anything but certificates in the chain, or a key that is not the
// leaf's. Problems are reported by field: cert_pem and key_pem.
func ParseBundle(certPEM, keyPEM []byte) (Bundle, error) {
	var b Bundle
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return Bundle{}, valid.Errors{"cert_pem": fmt.Sprintf("holds a %s block; "+
				"send only certificates here and the key in key_pem", block.Type)}
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return Bundle{}, valid.Errors{"cert_pem": "a certificate does not parse: " +
				err.Error()}
		}
		if b.Leaf == nil {
			b.Leaf = cert
		} else {
			b.Chain = append(b.Chain, cert)
		}
	}
	if b.Leaf == nil {
		return Bundle{}, valid.Errors{"cert_pem": "holds no PEM certificate"}
	}
	if len(strings.TrimSpace(string(keyPEM))) == 0 {
		return b, nil
	}
	key, err := parseKeyPEM(keyPEM)
	if err != nil {
		return Bundle{}, valid.Errors{"key_pem": err.Error()}
	}
	if !samePublicKey(key.Public(), b.Leaf.PublicKey) {
		return Bundle{}, valid.Errors{"key_pem": "does not belong to the certificate"}
	}
	b.Key = key
	return b, nil
}

func parseKeyPEM(text []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(text)
	if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, errors.New("holds no PEM private key")
	}
	if k, err := ca.ParseKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("the private key does not parse (PKCS#8, PKCS#1 or SEC1 expected)")
}

func samePublicKey(a, b crypto.PublicKey) bool {
	x, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && x.Equal(b)
}

// externalIssuer names the issuer of a certificate that certctl did not issue, so serial
// numbers of different CAs never collide.
func externalIssuer(leaf *x509.Certificate) string {
	sum := sha256.Sum256(leaf.RawIssuer)
	return "ext-" + hex.EncodeToString(sum[:8])
}

// Import adds a certificate issued elsewhere. It has no issuer, so it is monitored for
// expiry until an issuer is set and it is re-issued.
func (s *Service) Import(ctx context.Context, in ImportInput) (store.Certificate, error) {
	var c store.Certificate
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		c, err = s.ImportIn(ctx, q, in)
		return err
	})
	if err != nil {
		return store.Certificate{}, fmt.Errorf("import certificate: %w", err)
	}
	return s.st.GetCertificate(ctx, c.ID)
}

// ImportIn is Import inside the caller's transaction q.
func (s *Service) ImportIn(ctx context.Context, q store.Queries, in ImportInput) (
	store.Certificate, error) {
	b, err := ParseBundle([]byte(in.CertPEM), []byte(in.KeyPEM))
	if err != nil {
		return store.Certificate{}, err
	}
	e := valid.Errors{}
	now := store.UTC(s.now())
	c := store.Certificate{ID: store.NewID("cert"), Name: e.Text("name", in.Name, 1, 200),
		CommonName: b.Leaf.Subject.CommonName, SANs: leafNames(b.Leaf).Strings(),
		Environment: e.Text("environment", in.Environment, 0, 50), OwnerID: in.OwnerID,
		TeamID: in.TeamID, Tags: checkTags(e, in.Tags), ProfileID: DefaultProfile,
		RenewalPolicyID: orDefault(in.RenewalPolicyID, DefaultPolicy), KeyMode: "agent",
		Status: StatusPending, CreatedAt: now, UpdatedAt: now}
	if b.Key != nil {
		c.KeyMode = "server"
	}
	if err := s.checkRefs(ctx, q, e, c); err != nil {
		return c, err
	}
	if err := e.Err(); err != nil {
		return c, err
	}
	return c, s.storeImport(ctx, q, c, b)
}

func (s *Service) storeImport(ctx context.Context, q store.Queries, c store.Certificate,
	b Bundle) error {
	if err := q.CreateCertificate(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nameTaken(c.Name)
		}
		return err
	}
	v, err := s.newVersion(c, b.Leaf, ca.PEM(b.Chain...), b.Key)
	if err != nil {
		return err
	}
	v.IssuerID = externalIssuer(b.Leaf)
	if b.Key == nil {
		v.KeyLocation = "none"
	}
	if err := q.AddVersion(ctx, v); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &valid.Conflict{Message: "this certificate (issuer and serial) is " +
				"already in the inventory", Fields: map[string]string{"cert_pem": "already imported"}}
		}
		return err
	}
	if err := s.refreshStatus(ctx, q, c.ID); err != nil {
		return err
	}
	return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "certificate.import", "certificate",
		c.ID, map[string]any{"name": c.Name, "serial": v.Serial, "fingerprint": v.Fingerprint,
			"not_after": v.NotAfter, "with_key": b.Key != nil}))
}

// leafNames are the names a certificate carries.
func leafNames(c *x509.Certificate) Names {
	return Names{CommonName: c.Subject.CommonName, DNS: c.DNSNames, IPs: c.IPAddresses,
		Emails: c.EmailAddresses, URIs: c.URIs}
}
