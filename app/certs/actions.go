package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"certctl/app/audit"
	"certctl/app/ca"
	"certctl/app/valid"
	"certctl/store"
)

// Renew queues a renewal of certificate id, unless work on it is already under way.
func (s *Service) Renew(ctx context.Context, id string) (store.Job, error) {
	return s.renew(ctx, id, false)
}

// renew is Renew; with onlyDue set it also refuses, as a conflict, a certificate whose
// renewal time has not come. The scheduler queues from a list of due certificates read
// before; by the time it reaches one, another replica may have renewed it already.
func (s *Service) renew(ctx context.Context, id string, onlyDue bool) (store.Job, error) {
	var j store.Job
	err := s.st.InTx(ctx, func(q store.Queries) error {
		c, err := q.GetCertificate(ctx, id)
		if err != nil {
			return err
		}
		if onlyDue && (c.RenewAt.IsZero() || c.RenewAt.After(s.now())) {
			return &valid.Conflict{Message: fmt.Sprintf("certificate %s is not due for "+
				"renewal", id)}
		}
		if c.IssuerID == "" {
			return &valid.Conflict{Message: fmt.Sprintf("certificate %s has no issuer; set "+
				"issuer_id before renewing it", id)}
		}
		// A revoked certificate is not renewed, except the server's own, which is
		// replaced so that the server stops presenting it.
		if c.Status == StatusRevoked && c.ID != ServerCertificateID ||
			c.Status == StatusArchived {
			return &valid.Conflict{Message: fmt.Sprintf("certificate %s is %s; create a new "+
				"one instead of renewing it", id, c.Status)}
		}
		if open, err := q.OpenJob(ctx, id); err == nil {
			return &valid.Conflict{Message: fmt.Sprintf("job %s (%s, %s) is already under way "+
				"for this certificate", open.ID, open.Type, open.Status)}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		p, err := q.GetProfile(ctx, c.ProfileID)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		typ := store.JobRenewal
		if c.CurrentVersionID == "" {
			typ = store.JobIssuance
		}
		changed, err := s.renewalChanges(ctx, q, c, p)
		if err != nil {
			return err
		}
		j, err = s.newJob(ctx, q, c, typ, needsApproval(p, typ, changed), now)
		if err != nil {
			return err
		}
		if err := q.CreateJob(ctx, j); err != nil {
			// Another replica queued one between the check above and this insert.
			return conflictOr(err, "job", "a job is already under way for this certificate")
		}
		if err := s.refreshStatus(ctx, q, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "certificate.renew", "certificate", id,
			map[string]any{"job_id": j.ID, "job_status": j.Status}))
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("renew certificate %s: %w", id, err)
	}
	s.kick()
	return j, nil
}

// SubmitCSR gives a job waiting in AwaitingCSR the agent's CSR. The CSR must be signed by its
// key, use a key type the profile allows, and ask only for names the profile allows; the job
// then runs like any other.
func (s *Service) SubmitCSR(ctx context.Context, jobID string, csrPEM []byte) (store.Job,
	error) {
	csr, err := ca.ParseCSR(csrPEM)
	if err != nil {
		return store.Job{}, valid.Errors{"csr": err.Error()}
	}
	var j store.Job
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if j, err = q.GetJob(ctx, jobID); err != nil {
			return err
		}
		if j.Status != store.JobAwaitingCSR {
			return &valid.Conflict{Message: fmt.Sprintf("job %s is %s, not waiting for a CSR",
				jobID, j.Status)}
		}
		if err := s.checkCSR(ctx, q, j, csr); err != nil {
			return err
		}
		status, err := s.afterCSR(ctx, q, j, csr)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		j.Status, j.CSRPEM, j.NextAttemptAt, j.UpdatedAt = status, string(csrPEM), now, now
		if err := q.UpdateJob(ctx, j); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "job.csr_submitted", "job", jobID,
			map[string]any{"certificate_id": j.CertificateID}))
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("submit CSR for job %s: %w", jobID, err)
	}
	s.kick()
	return j, nil
}

// afterCSR is the status a job takes once its CSR is in: Pending, or AwaitingApproval for a
// renewal whose new key type the profile wants approved.
func (s *Service) afterCSR(ctx context.Context, q store.Queries, j store.Job,
	csr *x509.CertificateRequest) (string, error) {
	c, err := q.GetCertificate(ctx, j.CertificateID)
	if err != nil || j.Type != store.JobRenewal || j.ApprovedBy != "" ||
		c.CurrentVersionID == "" {
		return store.JobPending, err
	}
	p, err := q.GetProfile(ctx, c.ProfileID)
	if err != nil {
		return "", err
	}
	v, err := q.GetVersion(ctx, c.CurrentVersionID)
	if err != nil {
		return "", err
	}
	if p.Approval == "issuance" && keyTypeChanged(csr, v) {
		return store.JobAwaitingApproval, nil
	}
	return store.JobPending, nil
}

// checkCSR refuses a CSR whose key type or requested names, the common name included, the
// certificate's profile does not allow, or that asks for a name the certificate does not
// have. Issuance uses the certificate's own names; the CSR's are checked so that an agent
// asking for more is told so instead of silently ignored.
func (s *Service) checkCSR(ctx context.Context, q store.Queries, j store.Job,
	csr *x509.CertificateRequest) error {
	c, err := q.GetCertificate(ctx, j.CertificateID)
	if err != nil {
		return err
	}
	p, err := q.GetProfile(ctx, c.ProfileID)
	if err != nil {
		return err
	}
	e := valid.Errors{}
	spec, _, err := ca.KeySpecOf(csr.PublicKey)
	if err != nil {
		e.Add("csr", err.Error())
	} else {
		CheckKey(e, "csr", p, spec)
	}
	names, err := ParseNames(csr.Subject.CommonName, csrSANs(csr))
	switch {
	case err != nil:
		e.Add("csr", err.Error())
	case !names.Empty():
		CheckNames(e, "csr", p, names)
	}
	has := map[string]bool{strings.ToLower(c.CommonName): true}
	for _, n := range c.SANs {
		has[strings.ToLower(n)] = true
	}
	for _, n := range append([]string{csr.Subject.CommonName}, csrSANs(csr)...) {
		if n != "" && !has[strings.ToLower(n)] {
			e.Add("csr", fmt.Sprintf("asks for %q, which is not one of certificate %s's "+
				"names", n, c.ID))
			break
		}
	}
	return e.Err()
}

// csrSANs are the alternative names a CSR asks for, as plain strings.
func csrSANs(csr *x509.CertificateRequest) []string {
	out := append([]string(nil), csr.DNSNames...)
	for _, ip := range csr.IPAddresses {
		out = append(out, ip.String())
	}
	out = append(out, csr.EmailAddresses...)
	for _, u := range csr.URIs {
		out = append(out, u.String())
	}
	return out
}
