package localca

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/secret"
	"certctl/store"
)

// Lifetimes of the OCSP responder certificate, and how early it is replaced.
const (
	responderLifetime = 30 * 24 * time.Hour
	responderRenewal  = 10 * 24 * time.Hour
)

// Ensure makes the local CA on first start: the issuer row, a root and an intermediate (or
// nothing of its own in sub-CA mode), and an OCSP responder certificate. It runs under a
// database lock, so replicas starting together on an empty database make one CA.
func (c *CA) Ensure(ctx context.Context) error {
	err := c.st.WithLock(ctx, "localca:"+IssuerID, func(q store.Queries) error {
		_, err := q.GetIssuer(ctx, IssuerID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if err := c.create(ctx, q); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		return c.ensureResponder(ctx, q)
	})
	if err != nil {
		return fmt.Errorf("ensure local CA: %w", err)
	}
	return nil
}

func (c *CA) create(ctx context.Context, q store.Queries) error {
	now := store.UTC(c.now())
	iss := store.Issuer{ID: IssuerID, Name: "Local CA", Type: "local", Config: []byte(
		fmt.Sprintf(`{"key_spec":%q,"sub_ca":%t}`, c.set.KeySpec, c.subCA())),
		CreatedAt: now, UpdatedAt: now}
	if err := q.CreateIssuer(ctx, iss); err != nil {
		return err
	}
	details := map[string]any{"key_spec": c.set.KeySpec, "sub_ca": c.subCA()}
	if !c.subCA() {
		root, err := ca.NewRoot(ca.Template{CommonName: "certctl Local Root CA",
			Organization: "certctl", KeySpec: c.set.KeySpec, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(c.set.RootLifetime)})
		if err != nil {
			return fmt.Errorf("make root: %w", err)
		}
		if err := c.store(ctx, q, "root", root); err != nil {
			return err
		}
		inter, err := c.newIntermediate(ctx, q, root, now)
		if err != nil {
			return err
		}
		details["root_serial"] = root.Cert.SerialNumber.Text(16)
		details["intermediate_serial"] = inter.Cert.SerialNumber.Text(16)
	}
	c.log.Info("local CA created", "issuer_id", IssuerID, "sub_ca", c.subCA())
	return q.AppendAudit(ctx, audit.Event(ctx, now, "ca.create", "issuer", IssuerID, details))
}

func (c *CA) newIntermediate(ctx context.Context, q store.Queries, root *ca.Authority,
	now time.Time) (*ca.Authority, error) {
	inter, err := root.NewIntermediate(ca.Template{
		CommonName:   "certctl Local Issuing CA " + now.Format("2006-01"),
		Organization: "certctl", KeySpec: c.set.KeySpec, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(c.set.IntermediateLifetime)})
	if err != nil {
		return nil, fmt.Errorf("make intermediate: %w", err)
	}
	return inter, c.store(ctx, q, "intermediate", inter)
}

// store keeps a CA certificate with its chain and its key sealed to its row.
func (c *CA) store(ctx context.Context, q store.Queries, kind string, a *ca.Authority) error {
	der, err := ca.MarshalKey(a.Key)
	if err != nil {
		return err
	}
	id := store.NewID("cac")
	certs := append([]*x509.Certificate{a.Cert}, a.Chain...)
	return q.CreateCACert(ctx, store.CACert{ID: id, IssuerID: IssuerID, Kind: kind,
		CertPEM: string(ca.PEM(certs...)), KeySealed: c.key.Seal(der, aad(id)),
		NotBefore: store.UTC(a.Cert.NotBefore), NotAfter: store.UTC(a.Cert.NotAfter),
		CreatedAt: store.UTC(c.now())})
}

// ensureResponder makes a new OCSP responder certificate when there is none, when the
// newest is near its end, or when it was not signed by the current issuing CA.
func (c *CA) ensureResponder(ctx context.Context, q store.Queries) error {
	issuing, err := c.issuing(ctx, q)
	if err != nil {
		return err
	}
	list, err := q.ListCACerts(ctx, IssuerID, "ocsp")
	if err != nil {
		return err
	}
	now := c.now()
	if len(list) > 0 && now.Before(list[0].NotAfter.Add(-responderRenewal)) {
		certs, err := parseCerts([]byte(list[0].CertPEM))
		if err == nil && certs[0].CheckSignatureFrom(issuing.Cert) == nil {
			return nil
		}
	}
	r, err := issuing.NewOCSPResponder(c.set.KeySpec, now.Add(-time.Hour),
		now.Add(responderLifetime))
	if err != nil {
		return fmt.Errorf("make OCSP responder: %w", err)
	}
	c.log.Info("OCSP responder certificate issued", "issuer_id", IssuerID,
		"not_after", r.Cert.NotAfter)
	return c.store(ctx, q, "ocsp", r)
}

func (c *CA) subCA() bool { return len(c.set.SubCACertPEM) > 0 }

func parseCerts(text []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, text = pem.Decode(text)
		if b == nil {
			break
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate in PEM")
	}
	return certs, nil
}

// Reseal re-encrypts the keys of every local CA certificate from old to new, for key
// rotation; it returns how many it moved.
func Reseal(ctx context.Context, q store.Queries, old, new secret.Key) (int, error) {
	n := 0
	for _, kind := range []string{"root", "intermediate", "ocsp"} {
		list, err := q.ListCACerts(ctx, IssuerID, kind)
		if err != nil {
			return n, err
		}
		for _, cc := range list {
			der, err := old.Open(cc.KeySealed, aad(cc.ID))
			if err != nil {
				return n, fmt.Errorf("unseal key of CA certificate %s: %w", cc.ID, err)
			}
			if err := q.ResealCACert(ctx, cc.ID, new.Seal(der, aad(cc.ID))); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
