// Package org manages teams and owners: the people certificates belong to.
package org

import (
	"context"
	"time"

	"certctl/store"
)

// Service creates, changes and removes teams and owners, each change audited in the same
// transaction.
type Service struct {
	st  store.Store
	now func() time.Time
}

// NewService returns a service on st that reads the time from now.
func NewService(st store.Store, now func() time.Time) *Service {
	return &Service{st: st, now: now}
}

// ListTeams returns one page of teams by name, the position of the next page, and the total.
func (s *Service) ListTeams(ctx context.Context, p store.Page) ([]store.Team, string, int,
	error) {
	teams, next, err := s.st.ListTeams(ctx, p)
	if err != nil {
		return nil, "", 0, err
	}
	total, err := s.st.CountTeams(ctx)
	return teams, next, total, err
}

// GetTeam returns one team.
func (s *Service) GetTeam(ctx context.Context, id string) (store.Team, error) {
	return s.st.GetTeam(ctx, id)
}

// ListOwners returns one page of owners by name, the position of the next page, and the
// total.
func (s *Service) ListOwners(ctx context.Context, f store.OwnerFilter,
	p store.Page) ([]store.Owner, string, int, error) {
	owners, next, err := s.st.ListOwners(ctx, f, p)
	if err != nil {
		return nil, "", 0, err
	}
	total, err := s.st.CountOwners(ctx, f)
	return owners, next, total, err
}

// GetOwner returns one owner.
func (s *Service) GetOwner(ctx context.Context, id string) (store.Owner, error) {
	return s.st.GetOwner(ctx, id)
}
