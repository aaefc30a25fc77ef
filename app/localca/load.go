package localca

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"certctl/app/ca"
	"certctl/store"
)

// issuing returns the CA that signs leaves: the operator's CA in sub-CA mode, else the
// newest intermediate.
func (c *CA) issuing(ctx context.Context, q store.Queries) (*ca.Authority, error) {
	if c.subCA() {
		a, err := ca.LoadAuthority(c.set.SubCACertPEM, c.set.SubCAKeyPEM, c.now())
		if err != nil {
			return nil, fmt.Errorf("sub-CA from CERTCTL_CA_CERT_PATH: %w", err)
		}
		return a, nil
	}
	list, err := q.ListCACerts(ctx, IssuerID, "intermediate")
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotReady
	}
	return c.open(list[0])
}

// load reads and unseals everything the CA signs with.
func (c *CA) load(ctx context.Context) (*state, error) {
	signers, err := c.signers(ctx)
	if err != nil {
		return nil, err
	}
	published, err := c.publishedChain(ctx, signers[0].auth)
	if err != nil {
		return nil, err
	}
	responders, err := c.st.ListCACerts(ctx, IssuerID, "ocsp")
	if err != nil {
		return nil, err
	}
	if len(responders) == 0 {
		return nil, ErrNotReady
	}
	responder, err := c.open(responders[0])
	if err != nil {
		return nil, err
	}
	return &state{signers: signers, published: published, responder: responder}, nil
}

// signers unseals every issuing CA still valid, newest first.
func (c *CA) signers(ctx context.Context) ([]signer, error) {
	if c.subCA() {
		a, err := c.issuing(ctx, c.st)
		if err != nil {
			return nil, err
		}
		return []signer{{id: "sub", auth: a}}, nil
	}
	list, err := c.st.ListCACerts(ctx, IssuerID, "intermediate")
	if err != nil {
		return nil, err
	}
	var out []signer
	for i, cc := range list {
		if i > 0 && c.now().After(cc.NotAfter) {
			continue
		}
		a, err := c.open(cc)
		if err != nil {
			return nil, err
		}
		out = append(out, signer{id: cc.ID, auth: a})
	}
	if len(out) == 0 {
		return nil, ErrNotReady
	}
	return out, nil
}

// publishedChain is what /.well-known/pki/ca serves: every intermediate still valid, newest
// first (so clients holding certificates from the previous one during a rollover find it),
// then the root.
func (c *CA) publishedChain(ctx context.Context, issuing *ca.Authority) ([]*x509.Certificate,
	error) {
	if c.subCA() {
		return append([]*x509.Certificate{issuing.Cert}, issuing.Chain...), nil
	}
	list, err := c.st.ListCACerts(ctx, IssuerID, "intermediate")
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	now := c.now()
	for _, cc := range list {
		if now.After(cc.NotAfter) {
			continue
		}
		certs, err := parseCerts([]byte(cc.CertPEM))
		if err != nil {
			return nil, fmt.Errorf("CA certificate %s: %w", cc.ID, err)
		}
		out = append(out, certs[0])
	}
	if len(issuing.Chain) == 0 {
		return nil, errors.New("the intermediate is stored without its root")
	}
	return append(out, issuing.Chain[len(issuing.Chain)-1]), nil
}

// ChainPEM returns the published chain, PEM: the intermediates, then the root.
func (c *CA) ChainPEM(ctx context.Context) ([]byte, error) {
	s, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	return ca.PEM(s.published...), nil
}

// RolloverIfDue makes a new intermediate under the same root when the newest has less than
// a third of its lifetime left. The old one keeps being published until it expires, so
// certificates it issued stay verifiable. It reports whether it rolled over.
func (c *CA) RolloverIfDue(ctx context.Context) (bool, error) {
	if c.subCA() {
		return false, nil
	}
	rolled := false
	err := c.st.WithLock(ctx, "localca:"+IssuerID, func(q store.Queries) error {
		list, err := q.ListCACerts(ctx, IssuerID, "intermediate")
		if err != nil || len(list) == 0 {
			return err
		}
		newest, now := list[0], c.now()
		if now.Before(newest.NotAfter.Add(-newest.NotAfter.Sub(newest.NotBefore) / 3)) {
			return nil
		}
		roots, err := q.ListCACerts(ctx, IssuerID, "root")
		if err != nil || len(roots) == 0 {
			return fmt.Errorf("find root: %w", errors.Join(err, ErrNotReady))
		}
		root, err := c.open(roots[0])
		if err != nil {
			return err
		}
		inter, err := c.newIntermediate(ctx, q, root, store.UTC(now))
		if err != nil {
			return err
		}
		rolled = true
		c.log.Info("intermediate rolled over", "issuer_id", IssuerID,
			"not_after", inter.Cert.NotAfter)
		return c.ensureResponder(ctx, q)
	})
	if err != nil {
		return false, fmt.Errorf("roll over intermediate: %w", err)
	}
	return rolled, nil
}
