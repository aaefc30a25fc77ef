package certs

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"

	"certctl/app/ca"
	"certctl/store"
)

// needsApproval decides whether a job waits for approval under profile p: under "always",
// every job; under "issuance", first issuance and renewals that change the names or the key
// type (changed); under "none", never.
func needsApproval(p store.Profile, jobType string, changed bool) bool {
	switch p.Approval {
	case "always":
		return true
	case "issuance":
		return jobType == store.JobIssuance || changed
	}
	return false
}

// renewalChanges reports whether renewing c now would change what its current version
// certifies: other names, or in server key mode another key type.
func (s *Service) renewalChanges(ctx context.Context, q store.Queries, c store.Certificate,
	p store.Profile) (bool, error) {
	if c.CurrentVersionID == "" {
		return false, nil
	}
	v, err := q.GetVersion(ctx, c.CurrentVersionID)
	if err != nil {
		return false, err
	}
	leaf, err := parseLeaf(v.CertPEM)
	if err != nil {
		return false, err
	}
	if !sameNames(leafNames(leaf).Strings(), c.SANs, c.CommonName, leaf.Subject.CommonName) {
		return true, nil
	}
	return c.KeyMode == "server" && len(p.KeyTypes) > 0 && p.KeyTypes[0] != v.KeyAlgorithm,
		nil
}

// keyTypeChanged reports whether an agent's CSR key differs in type from the current
// version's, which under an "issuance" profile needs approval like a change of names.
func keyTypeChanged(csr *x509.CertificateRequest, v store.CertificateVersion) bool {
	spec, _, err := ca.KeySpecOf(csr.PublicKey)
	return err != nil || spec != v.KeyAlgorithm
}

func sameNames(issued, wanted []string, wantedCN, issuedCN string) bool {
	a, b := slices.Clone(issued), slices.Clone(wanted)
	slices.Sort(a)
	slices.Sort(b)
	return wantedCN == issuedCN && slices.Equal(slices.Compact(a), slices.Compact(b))
}

var errNoPEM = errors.New("stored certificate is not PEM")

func parseLeaf(text string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, errNoPEM
	}
	return x509.ParseCertificate(b.Bytes)
}
