package agents

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"certctl/app/agentapi"
	"certctl/app/audit"
	"certctl/app/certs"
	"certctl/app/valid"
	"certctl/store"
)

// maxReported bounds the certificates one discovery report may carry.
const maxReported = 10_000

var fingerprintPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ReportDiscovery stores what agent a found in its discovery directories and returns how
// many certificates it reported and how many were new.
func (s *Service) ReportDiscovery(ctx context.Context, a store.AgentIdentity,
	d agentapi.Discovery) (found, added int, err error) {
	if len(d.Certificates) > maxReported {
		return 0, 0, valid.Errors{"certificates": fmt.Sprintf("at most %d per report",
			maxReported)}
	}
	if len(d.Directories) > 100 {
		return 0, 0, valid.Errors{"directories": "at most 100 directories"}
	}
	return s.storeDiscovered(ctx, a.ID, d.Directories, d.Certificates, len(d.Errors),
		d.StartedAt, d.FinishedAt)
}

// storeDiscovered upserts found certificates of agentID ("" for the network scanner) and
// records the scan.
func (s *Service) storeDiscovered(ctx context.Context, agentID string, scanned []string,
	list []agentapi.Discovered, problems int, started, finished time.Time) (int, int, error) {
	now := store.UTC(s.now())
	for i, c := range list {
		if err := checkDiscovered(c); err != nil {
			return 0, 0, valid.Errors{fmt.Sprintf("certificates[%d]", i): err.Error()}
		}
	}
	added := 0
	err := s.st.InTx(ctx, func(q store.Queries) error {
		for _, c := range list {
			_, isNew, err := q.UpsertDiscovered(ctx, store.DiscoveredCertificate{
				ID: store.NewID("disc"), AgentID: agentID, Location: c.Location,
				Format: c.Format, Fingerprint: c.Fingerprint, Subject: c.Subject,
				CommonName: c.CommonName, SANs: c.SANs, Issuer: c.Issuer, Serial: c.Serial,
				NotBefore: store.UTC(c.NotBefore), NotAfter: store.UTC(c.NotAfter),
				KeyAlgorithm: c.KeyAlgorithm, KeyBits: c.KeyBits, IsCA: c.IsCA,
				KeyFound: c.KeyFound, CertPEM: c.CertPEM, Status: store.DiscoveredUnmanaged,
				FirstSeenAt: now, LastSeenAt: now, UpdatedAt: now})
			if err != nil {
				return err
			}
			if isNew {
				added++
			}
		}
		scan := store.DiscoveryScan{ID: store.NewID("scan"), AgentID: agentID,
			Targets: scanned, Found: len(list), New: added, Errors: problems,
			StartedAt: store.UTC(orNow(started, now)), FinishedAt: store.UTC(orNow(finished, now))}
		if err := q.CreateDiscoveryScan(ctx, scan); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "discovery.report", "discovery_scan",
			scan.ID, map[string]any{"agent_id": agentID, "found": len(list), "new": added,
				"errors": problems}))
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store discovery report: %w", err)
	}
	return len(list), added, nil
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// checkDiscovered refuses a reported certificate the inventory cannot use.
func checkDiscovered(c agentapi.Discovered) error {
	switch {
	case !fingerprintPattern.MatchString(c.Fingerprint):
		return errors.New("fingerprint must be 64 lower-case hex digits")
	case c.Location == "" || len(c.Location) > 4096:
		return errors.New("location must have 1 to 4096 characters")
	case len(c.CertPEM) > 64<<10:
		return errors.New("cert_pem is larger than 64 KiB")
	case len(c.SANs) > 1000:
		return errors.New("at most 1000 names")
	case c.NotAfter.Before(c.NotBefore):
		return errors.New("not_after is before not_before")
	}
	return nil
}

// ListDiscovered returns one page of discovered certificates.
func (s *Service) ListDiscovered(ctx context.Context, f store.DiscoveredFilter,
	p store.Page) ([]store.DiscoveredCertificate, string, error) {
	return s.st.ListDiscovered(ctx, f, p)
}

// GetDiscovered returns discovered certificate id.
func (s *Service) GetDiscovered(ctx context.Context, id string) (store.DiscoveredCertificate,
	error) {
	return s.st.GetDiscovered(ctx, id)
}

// ClaimInput says what a claimed certificate becomes: a new managed certificate named Name
// (imported, monitored until re-issued), or, with CertificateID, a link to one that exists.
type ClaimInput struct {
	Name          string
	CertificateID string
	Environment   string
	OwnerID       string
	TeamID        string
}

// Claim brings discovered certificate id under management and marks it Managed.
func (s *Service) Claim(ctx context.Context, id string, in ClaimInput) (
	store.DiscoveredCertificate, error) {
	var d store.DiscoveredCertificate
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if d, err = q.GetDiscovered(ctx, id); err != nil {
			return err
		}
		if d.Status == store.DiscoveredManaged {
			return &valid.Conflict{Message: "the certificate is managed already, as " +
				d.CertificateID}
		}
		certID := strings.TrimSpace(in.CertificateID)
		if certID != "" {
			if _, err := q.GetCertificate(ctx, certID); errors.Is(err, store.ErrNotFound) {
				return valid.Errors{"certificate_id": fmt.Sprintf("nothing has the ID %q",
					certID)}
			} else if err != nil {
				return err
			}
		} else {
			name := strings.TrimSpace(in.Name)
			if name == "" {
				name = d.CommonName
			}
			c, err := s.certs.ImportIn(ctx, q, certs.ImportInput{Name: name,
				CertPEM: d.CertPEM, Environment: in.Environment, OwnerID: in.OwnerID,
				TeamID: in.TeamID})
			if err != nil {
				return err
			}
			certID = c.ID
		}
		now := store.UTC(s.now())
		if err := q.SetDiscoveredStatus(ctx, id, store.DiscoveredManaged, certID, now); err != nil {
			return err
		}
		d.Status, d.CertificateID, d.UpdatedAt = store.DiscoveredManaged, certID, now
		return q.AppendAudit(ctx, audit.Event(ctx, now, "discovered.claim",
			"discovered_certificate", id, map[string]any{"certificate_id": certID,
				"fingerprint": d.Fingerprint, "location": d.Location}))
	})
	if err != nil {
		return store.DiscoveredCertificate{}, fmt.Errorf("claim %s: %w", id, err)
	}
	return d, nil
}

// Dismiss marks discovered certificate id as not to be managed; it stays dismissed when
// seen again.
func (s *Service) Dismiss(ctx context.Context, id string) (store.DiscoveredCertificate,
	error) {
	var d store.DiscoveredCertificate
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if d, err = q.GetDiscovered(ctx, id); err != nil {
			return err
		}
		if d.Status == store.DiscoveredManaged {
			return &valid.Conflict{Message: "the certificate is managed; archive the " +
				"managed certificate instead"}
		}
		now := store.UTC(s.now())
		if err := q.SetDiscoveredStatus(ctx, id, store.DiscoveredDismissed, "", now); err != nil {
			return err
		}
		d.Status, d.UpdatedAt = store.DiscoveredDismissed, now
		return q.AppendAudit(ctx, audit.Event(ctx, now, "discovered.dismiss",
			"discovered_certificate", id, map[string]any{"fingerprint": d.Fingerprint,
				"location": d.Location}))
	})
	if err != nil {
		return store.DiscoveredCertificate{}, fmt.Errorf("dismiss %s: %w", id, err)
	}
	return d, nil
}
