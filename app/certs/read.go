package certs

import (
	"context"
	"fmt"

	"certctl/store"
)

// Get returns certificate id.
func (s *Service) Get(ctx context.Context, id string) (store.Certificate, error) {
	return s.st.GetCertificate(ctx, id)
}

// Versions returns the versions of certificate id, newest first.
func (s *Service) Versions(ctx context.Context, id string) ([]store.CertificateVersion, error) {
	if _, err := s.st.GetCertificate(ctx, id); err != nil {
		return nil, err
	}
	return s.st.ListVersions(ctx, id)
}

// ExportPEM returns the current version of certificate id as PEM, the leaf first and then
// its chain, without any key.
func (s *Service) ExportPEM(ctx context.Context, id string) ([]byte, error) {
	v, err := s.currentVersion(ctx, id)
	if err != nil {
		return nil, err
	}
	return []byte(v.CertPEM + v.ChainPEM), nil
}

// currentVersion returns the newest issued version of certificate id; ErrNotFound before
// the first issuance.
func (s *Service) currentVersion(ctx context.Context, id string) (store.CertificateVersion,
	error) {
	c, err := s.st.GetCertificate(ctx, id)
	if err != nil {
		return store.CertificateVersion{}, err
	}
	if c.CurrentVersionID == "" {
		return store.CertificateVersion{}, fmt.Errorf("certificate %s has not been issued "+
			"yet: %w", id, store.ErrNotFound)
	}
	return s.st.GetVersion(ctx, c.CurrentVersionID)
}

// GetJob returns job id.
func (s *Service) GetJob(ctx context.Context, id string) (store.Job, error) {
	return s.st.GetJob(ctx, id)
}
