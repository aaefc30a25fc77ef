package org

import (
	"context"
	"errors"
	"fmt"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// OwnerInput is what a caller may set on an owner.
type OwnerInput struct {
	Name   string
	Email  string
	TeamID string // "" for no team
}

func (in OwnerInput) check(ctx context.Context, q store.Queries) (OwnerInput, error) {
	e := valid.Errors{}
	in.Name = e.Text("name", in.Name, 1, 100)
	in.Email = e.Email("email", in.Email)
	in.TeamID = e.Text("team_id", in.TeamID, 0, 100)
	if in.TeamID != "" && e["team_id"] == "" {
		_, err := q.GetTeam(ctx, in.TeamID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.Add("team_id", "no team has this ID")
		case err != nil:
			return in, err
		}
	}
	return in, e.Err()
}

// CreateOwner adds an owner with an e-mail address no other owner has.
func (s *Service) CreateOwner(ctx context.Context, in OwnerInput) (store.Owner, error) {
	var o store.Owner
	err := s.st.InTx(ctx, func(q store.Queries) error {
		in, err := in.check(ctx, q)
		if err != nil {
			return err
		}
		now := store.UTC(s.now())
		o = store.Owner{ID: store.NewID("own"), Name: in.Name, Email: in.Email,
			TeamID: in.TeamID, CreatedAt: now, UpdatedAt: now}
		if err := emailFree(ctx, q, o); err != nil {
			return err
		}
		if err := q.CreateOwner(ctx, o); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "owner.create", "owner", o.ID,
			map[string]any{"name": o.Name, "email": o.Email, "team_id": o.TeamID}))
	})
	if err != nil {
		return store.Owner{}, fmt.Errorf("create owner: %w", err)
	}
	return o, nil
}

// UpdateOwner replaces the name, e-mail address and team of owner id.
func (s *Service) UpdateOwner(ctx context.Context, id string, in OwnerInput) (store.Owner,
	error) {
	var o store.Owner
	err := s.st.InTx(ctx, func(q store.Queries) error {
		old, err := q.GetOwner(ctx, id)
		if err != nil {
			return err
		}
		if in, err = in.check(ctx, q); err != nil {
			return err
		}
		o = old
		o.Name, o.Email, o.TeamID, o.UpdatedAt = in.Name, in.Email, in.TeamID, store.UTC(s.now())
		if err := emailFree(ctx, q, o); err != nil {
			return err
		}
		if err := q.UpdateOwner(ctx, o); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, o.UpdatedAt, "owner.update", "owner", id,
			changes(map[string][2]any{"name": {old.Name, o.Name},
				"email": {old.Email, o.Email}, "team_id": {old.TeamID, o.TeamID}})))
	})
	if err != nil {
		return store.Owner{}, fmt.Errorf("update owner %s: %w", id, err)
	}
	return o, nil
}

// DeleteOwner removes owner id.
func (s *Service) DeleteOwner(ctx context.Context, id string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		o, err := q.GetOwner(ctx, id)
		if err != nil {
			return err
		}
		if err := q.DeleteOwner(ctx, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "owner.delete", "owner", id,
			map[string]any{"name": o.Name, "email": o.Email}))
	})
	if err != nil {
		return fmt.Errorf("delete owner %s: %w", id, err)
	}
	return nil
}

func emailFree(ctx context.Context, q store.Queries, o store.Owner) error {
	other, err := q.GetOwnerByEmail(ctx, o.Email)
	if used, err := takenBy(other.ID, err, o.ID); !used {
		return err
	}
	return &valid.Conflict{Message: fmt.Sprintf("owner %s already has the e-mail address %s",
		other.ID, other.Email),
		Fields: map[string]string{"email": "is already used by owner " + other.ID}}
}
