package certs

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/store"
)

// backdate starts certificates a little in the past, for clients whose clocks run behind.
const backdate = 5 * time.Minute

// run issues the certificate of a claimed job and records the new version, completing the
// job in the same transaction.
func (s *Service) run(ctx context.Context, j store.Job) error {
	c, err := s.st.GetCertificate(ctx, j.CertificateID)
	if err != nil {
		return fmt.Errorf("load certificate: %w", err)
	}
	p, err := s.st.GetProfile(ctx, c.ProfileID)
	if err != nil {
		return fmt.Errorf("load profile %s: %w", c.ProfileID, err)
	}
	issuer, ok := s.issuers[c.IssuerID]
	if !ok {
		return fmt.Errorf("issuer %s cannot issue from this server", c.IssuerID)
	}
	pub, key, err := s.keyFor(c, p, j)
	if err != nil {
		return err
	}
	names, err := ParseNames(c.CommonName, c.SANs)
	if err != nil {
		return fmt.Errorf("names of certificate %s: %w", c.ID, err)
	}
	now := s.now()
	leaf, chain, err := issuer.Issue(ctx, ca.LeafRequest{PublicKey: pub,
		CommonName: c.CommonName, DNSNames: names.DNS, IPAddresses: names.IPs,
		EmailAddresses: names.Emails, URIs: names.URIs, NotBefore: now.Add(-backdate),
		NotAfter: now.Add(Lifetime(p)), ExtKeyUsage: extKeyUsages(p.ExtKeyUsages),
		MustStaple: p.MustStaple})
	if err != nil {
		return fmt.Errorf("issue with %s: %w", c.IssuerID, err)
	}
	v, err := s.newVersion(c, leaf, chain, key)
	if err != nil {
		return err
	}
	if err := s.complete(ctx, j, c, v); err != nil {
		return err
	}
	if c.ID == ServerCertificateID {
		select {
		case s.serverIssued <- struct{}{}:
		default:
		}
	}
	return nil
}

// keyFor returns the public key to certify: from the agent's CSR in agent key mode, or a
// new key made here in server key mode (returned too, to be sealed with the version).
func (s *Service) keyFor(c store.Certificate, p store.Profile,
	j store.Job) (crypto.PublicKey, crypto.Signer, error) {
	if c.KeyMode == "agent" {
		csr, err := ca.ParseCSR([]byte(j.CSRPEM))
		if err != nil {
			return nil, nil, fmt.Errorf("the job's CSR: %w", err)
		}
		return csr.PublicKey, nil, nil
	}
	if len(p.KeyTypes) == 0 {
		return nil, nil, fmt.Errorf("profile %s allows no key type", p.ID)
	}
	key, err := ca.GenerateKey(p.KeyTypes[0])
	if err != nil {
		return nil, nil, fmt.Errorf("generate %s key: %w", p.KeyTypes[0], err)
	}
	return key.Public(), key, nil
}

func (s *Service) newVersion(c store.Certificate, leaf *x509.Certificate, chain []byte,
	key crypto.Signer) (store.CertificateVersion, error) {
	spec, bits, err := ca.KeySpecOf(leaf.PublicKey)
	if err != nil {
		return store.CertificateVersion{}, err
	}
	sum := sha256.Sum256(leaf.Raw)
	v := store.CertificateVersion{ID: store.NewID("ver"), CertificateID: c.ID,
		IssuerID: c.IssuerID, Serial: leaf.SerialNumber.Text(16),
		CertPEM:     string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})),
		ChainPEM:    string(chain),
		Fingerprint: hex.EncodeToString(sum[:]), NotBefore: store.UTC(leaf.NotBefore),
		NotAfter: store.UTC(leaf.NotAfter), KeyAlgorithm: spec, KeyBits: bits,
		KeyLocation: c.KeyMode, CreatedAt: store.UTC(s.now())}
	if key != nil {
		der, err := ca.MarshalKey(key)
		if err != nil {
			return v, err
		}
		v.KeySealed = s.key.Seal(der, versionAAD(v.ID))
	}
	return v, nil
}

// versionAAD binds a sealed private key to its version.
func versionAAD(id string) []byte { return []byte("cert-key:" + id) }

// complete stores the version, finishes the job and sets the certificate's status, together.
func (s *Service) complete(ctx context.Context, j store.Job, c store.Certificate,
	v store.CertificateVersion) error {
	now := store.UTC(s.now())
	var deployments []string
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.AddVersion(ctx, v); err != nil {
			return err
		}
		j.Status, j.LastError, j.FinishedAt, j.UpdatedAt = store.JobCompleted, "", now, now
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		if err := s.refreshStatus(ctx, q, c.ID); err != nil {
			return err
		}
		c.CurrentVersionID = v.ID
		var err error
		if deployments, err = s.queueDeployments(ctx, q, c, nil, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.issue", "certificate",
			c.ID, map[string]any{"version_id": v.ID, "serial": v.Serial, "job_id": j.ID,
				"not_after": v.NotAfter, "key_location": v.KeyLocation,
				"deployment_job_ids": deployments}))
	})
	if err != nil {
		return err
	}
	s.log.Info("certificate issued", "cert_id", c.ID, "serial", v.Serial,
		"not_after", v.NotAfter, "job_id", j.ID, "deployments", len(deployments))
	return nil
}

func extKeyUsages(names []string) []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	for _, n := range names {
		switch n {
		case "serverAuth":
			out = append(out, x509.ExtKeyUsageServerAuth)
		case "clientAuth":
			out = append(out, x509.ExtKeyUsageClientAuth)
		}
	}
	return out
}
