package org

import (
	"context"
	"errors"
	"fmt"

	"certctl/app/audit"
	"certctl/app/valid"
	"certctl/store"
)

// TeamInput is what a caller may set on a team.
type TeamInput struct {
	Name        string
	Description string
}

func (in TeamInput) check() (TeamInput, error) {
	e := valid.Errors{}
	in.Name = e.Text("name", in.Name, 1, 100)
	in.Description = e.Text("description", in.Description, 0, 1000)
	return in, e.Err()
}

// CreateTeam adds a team with a name no other team has, in any letter case.
func (s *Service) CreateTeam(ctx context.Context, in TeamInput) (store.Team, error) {
	in, err := in.check()
	if err != nil {
		return store.Team{}, err
	}
	now := store.UTC(s.now())
	t := store.Team{ID: store.NewID("team"), Name: in.Name, Description: in.Description,
		CreatedAt: now, UpdatedAt: now}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := nameFree(ctx, q, t); err != nil {
			return err
		}
		if err := q.CreateTeam(ctx, t); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "team.create", "team", t.ID,
			map[string]any{"name": t.Name, "description": t.Description}))
	})
	if err != nil {
		return store.Team{}, fmt.Errorf("create team: %w", err)
	}
	return t, nil
}

// UpdateTeam replaces the name and description of team id.
func (s *Service) UpdateTeam(ctx context.Context, id string, in TeamInput) (store.Team,
	error) {
	in, err := in.check()
	if err != nil {
		return store.Team{}, err
	}
	var t store.Team
	err = s.st.InTx(ctx, func(q store.Queries) error {
		old, err := q.GetTeam(ctx, id)
		if err != nil {
			return err
		}
		t = old
		t.Name, t.Description, t.UpdatedAt = in.Name, in.Description, store.UTC(s.now())
		if err := nameFree(ctx, q, t); err != nil {
			return err
		}
		if err := q.UpdateTeam(ctx, t); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, t.UpdatedAt, "team.update", "team", id,
			changes(map[string][2]any{"name": {old.Name, t.Name},
				"description": {old.Description, t.Description}})))
	})
	if err != nil {
		return store.Team{}, fmt.Errorf("update team %s: %w", id, err)
	}
	return t, nil
}

// DeleteTeam removes team id, refusing while owners still belong to it.
func (s *Service) DeleteTeam(ctx context.Context, id string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		t, err := q.GetTeam(ctx, id)
		if err != nil {
			return err
		}
		n, err := q.CountOwners(ctx, store.OwnerFilter{TeamID: id})
		if err != nil {
			return err
		}
		if n > 0 {
			return &valid.Conflict{Message: fmt.Sprintf("team %q still has %d owner(s); "+
				"move them to another team or delete them first", t.Name, n)}
		}
		if err := q.DeleteTeam(ctx, id); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, s.now(), "team.delete", "team", id,
			map[string]any{"name": t.Name}))
	})
	if err != nil {
		return fmt.Errorf("delete team %s: %w", id, err)
	}
	return nil
}

func nameFree(ctx context.Context, q store.Queries, t store.Team) error {
	other, err := q.GetTeamByName(ctx, t.Name)
	if used, err := takenBy(other.ID, err, t.ID); !used {
		return err
	}
	return &valid.Conflict{Message: fmt.Sprintf("a team named %q already exists", other.Name),
		Fields: map[string]string{"name": "is already taken by team " + other.ID}}
}

// takenBy interprets a lookup by a unique value: whether it found a record other than self,
// or the error that kept it from knowing.
func takenBy(foundID string, err error, self string) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return foundID != self, nil
}

// changes summarises an update for the audit trail: only the fields whose value changed,
// each with its old and new value.
func changes(fields map[string][2]any) map[string]any {
	out := map[string]any{}
	for name, v := range fields {
		if v[0] != v[1] {
			out[name] = map[string]any{"from": v[0], "to": v[1]}
		}
	}
	return out
}
