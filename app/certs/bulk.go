package certs

import (
	"context"
	"errors"
	"fmt"

	"certctl/app/valid"
	"certctl/store"
)

// Criteria select certificates for a bulk action. At least one must be set, so that no
// request touches the whole inventory by accident.
type Criteria struct {
	IDs       []string
	IssuerID  string
	OwnerID   string
	TeamID    string
	ProfileID string
}

// BulkResult says what a bulk action touched, or would touch on a dry run.
type BulkResult struct {
	Matched []string          // IDs of every certificate the criteria select
	Done    []string          // IDs acted on
	Skipped map[string]string // ID -> why it was left alone
}

// maxBulk bounds one bulk action; larger sets are split by the caller.
const maxBulk = 5000

// match returns the IDs the criteria select.
func (s *Service) match(ctx context.Context, c Criteria) ([]string, error) {
	if len(c.IDs) == 0 && c.IssuerID == "" && c.OwnerID == "" && c.TeamID == "" &&
		c.ProfileID == "" {
		return nil, valid.Errors{"criteria": "name at least one of ids, issuer_id, owner_id, " +
			"team_id, profile_id"}
	}
	if len(c.IDs) > 0 {
		if len(c.IDs) > maxBulk {
			return nil, valid.Errors{"ids": fmt.Sprintf("at most %d at once", maxBulk)}
		}
		return c.IDs, nil
	}
	f := store.CertificateFilter{IssuerID: c.IssuerID, OwnerID: c.OwnerID, TeamID: c.TeamID,
		ProfileID: c.ProfileID}
	var ids []string
	p := store.Page{Limit: 500}
	for {
		list, next, err := s.st.ListCertificates(ctx, f, p)
		if err != nil {
			return nil, err
		}
		for _, cert := range list {
			ids = append(ids, cert.ID)
		}
		if next == "" || len(ids) > maxBulk {
			break
		}
		p.After = next
	}
	if len(ids) > maxBulk {
		return nil, valid.Errors{"criteria": fmt.Sprintf("select more than %d certificates; "+
			"narrow them", maxBulk)}
	}
	return ids, nil
}

// BulkRenew queues a renewal of every certificate the criteria select; with dryRun it only
// reports which those are.
func (s *Service) BulkRenew(ctx context.Context, c Criteria, dryRun bool) (BulkResult, error) {
	return s.bulk(ctx, c, dryRun, func(id string) error {
		_, err := s.Renew(ctx, id)
		return err
	})
}

// BulkRevoke revokes every certificate the criteria select with reason; with dryRun it only
// reports which those are.
func (s *Service) BulkRevoke(ctx context.Context, c Criteria, reason string,
	dryRun bool) (BulkResult, error) {
	if _, err := reasonCode(reason); err != nil {
		return BulkResult{}, err
	}
	return s.bulk(ctx, c, dryRun, func(id string) error {
		return s.Revoke(ctx, id, reason, false)
	})
}

// bulk runs act on each selected certificate in its own transaction, so one refusal does
// not undo the others; refusals are reported per certificate.
func (s *Service) bulk(ctx context.Context, c Criteria, dryRun bool,
	act func(id string) error) (BulkResult, error) {
	ids, err := s.match(ctx, c)
	if err != nil {
		return BulkResult{}, err
	}
	r := BulkResult{Matched: ids, Skipped: map[string]string{}}
	if dryRun {
		return r, nil
	}
	for _, id := range ids {
		err := act(id)
		var conflict *valid.Conflict
		switch {
		case err == nil:
			r.Done = append(r.Done, id)
		case errors.As(err, &conflict):
			r.Skipped[id] = conflict.Message
		case errors.Is(err, store.ErrNotFound):
			r.Skipped[id] = "no such certificate"
		default:
			return r, err
		}
	}
	return r, nil
}
