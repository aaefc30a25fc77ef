package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"certctl/app/ca"
	"certctl/store"
)

// The certificate the server presents over HTTPS when no certificate files are configured
// is an inventory entry like any other, with a fixed id so that every replica finds the
// same one: issued with a server-held key, renewed by its renewal policy, audited, listed.
const (
	ServerCertificateID   = "cert-certctl-server"
	serverCertificateName = "certctl-server"
)

// EnsureServerCertificate makes sure the inventory holds the server's own certificate for
// commonName and sans, issued by issuerID. A missing one is created and its issuance queued;
// one that lacks some of the names gets them added and a renewal queued, so that the next
// version carries them (until then the current one keeps being served). Replicas starting
// together create it once.
func (s *Service) EnsureServerCertificate(ctx context.Context, issuerID, commonName string,
	sans []string) error {
	var err error
	// A conflict means another replica created it or queued its work meanwhile: look again.
	for range 3 {
		err = s.ensureServerCertificate(ctx, issuerID, commonName, sans)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	return err
}

func (s *Service) ensureServerCertificate(ctx context.Context, issuerID, commonName string,
	sans []string) error {
	c, err := s.st.GetCertificate(ctx, ServerCertificateID)
	if errors.Is(err, store.ErrNotFound) {
		_, _, err = s.create(ctx, Input{Name: serverCertificateName, CommonName: commonName,
			SANs: sans, IssuerID: issuerID, Environment: "certctl", Tags: []string{"certctl"},
			KeyMode: "server"}, ServerCertificateID)
		return err
	}
	if err != nil {
		return err
	}
	if c.Status == StatusArchived {
		return fmt.Errorf("the server's certificate %s is archived, so it is no longer "+
			"renewed: serve certificate files with CERTCTL_SERVER_TLS_CERT_PATH and "+
			"CERTCTL_SERVER_TLS_KEY_PATH instead", ServerCertificateID)
	}
	missing := missingNames(c, sans)
	if len(missing) > 0 {
		in := inputOf(c)
		in.SANs = append(slices.Clone(c.SANs), missing...)
		if _, err := s.Update(ctx, c.ID, in); err != nil {
			return err
		}
	}
	if len(missing) == 0 && c.CurrentVersionID != "" && c.Status != StatusRevoked {
		return nil
	}
	// New names, no version yet (a first issuance that failed for good), or a revoked
	// version whose replacement was not queued: queue work, unless some is under way.
	if _, err := s.st.OpenJob(ctx, c.ID); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	_, err = s.Renew(ctx, c.ID)
	return err
}

// missingNames returns the names of want that certificate c does not list.
func missingNames(c store.Certificate, want []string) []string {
	var out []string
	for _, n := range want {
		has := strings.EqualFold(n, c.CommonName) || slices.ContainsFunc(c.SANs,
			func(s string) bool { return strings.EqualFold(s, n) })
		if !has && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// inputOf is what a caller would set to leave certificate c as it is.
func inputOf(c store.Certificate) Input {
	return Input{Name: c.Name, CommonName: c.CommonName, SANs: c.SANs, IssuerID: c.IssuerID,
		ProfileID: c.ProfileID, RenewalPolicyID: c.RenewalPolicyID, OwnerID: c.OwnerID,
		TeamID: c.TeamID, Environment: c.Environment, Tags: c.Tags, KeyMode: c.KeyMode}
}

// WaitServerCertificate waits until the server's certificate has a version that is not
// revoked, at most timeout. When its issuance fails or waits for something else (an
// approval), the error says what.
func (s *Service) WaitServerCertificate(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		c, err := s.st.GetCertificate(ctx, ServerCertificateID)
		if err == nil && c.CurrentVersionID != "" && c.Status != StatusRevoked {
			return nil
		}
		state := "no issuance is queued"
		if err != nil {
			state = err.Error()
		} else if j, err := lastIssuanceJob(ctx, s.st, c.ID); err == nil && j.ID != "" {
			state = fmt.Sprintf("job %s is %s", j.ID, j.Status)
			if j.LastError != "" {
				state += ": " + j.LastError
			}
			if j.Status == store.JobFailed || j.Status == store.JobCancelled {
				return fmt.Errorf("the server's certificate %s was not issued: %s",
					ServerCertificateID, state)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server's certificate %s was not issued within %s (%s)",
				ServerCertificateID, timeout, state)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ServerCertificateIssued is signalled when this process has issued a new version of the
// server's certificate, so that it is served at once; versions other replicas issue are
// found by looking.
func (s *Service) ServerCertificateIssued() <-chan struct{} { return s.serverIssued }

// ServerKeyPair returns the current version of the server's certificate as a key pair with
// its chain, and the version's id. When that version is have, it returns have and no pair,
// without unsealing the key again.
func (s *Service) ServerKeyPair(ctx context.Context, have string) (string, *tls.Certificate,
	error) {
	c, err := s.st.GetCertificate(ctx, ServerCertificateID)
	if err != nil {
		return "", nil, fmt.Errorf("the server's certificate: %w", err)
	}
	if c.CurrentVersionID == "" {
		return "", nil, fmt.Errorf("the server's certificate %s has not been issued yet",
			ServerCertificateID)
	}
	if c.CurrentVersionID == have {
		return have, nil, nil
	}
	v, err := s.st.GetVersion(ctx, c.CurrentVersionID)
	if err != nil {
		return "", nil, err
	}
	if len(v.KeySealed) == 0 {
		return "", nil, fmt.Errorf("the server does not hold the key of its certificate's "+
			"version %s", v.ID)
	}
	der, err := s.key.Open(v.KeySealed, versionAAD(v.ID))
	if err != nil {
		return "", nil, fmt.Errorf("unseal key of version %s: %w", v.ID, err)
	}
	key, err := ca.ParseKey(der)
	if err != nil {
		return "", nil, err
	}
	certs, err := parsePEMCerts(v.CertPEM + v.ChainPEM)
	if err != nil {
		return "", nil, err
	}
	pair := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	return v.ID, pair, nil
}
