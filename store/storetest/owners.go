package storetest

import (
	"errors"
	"testing"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func owner(name, email, teamID string) store.Owner {
	return store.Owner{ID: store.NewID("own"), Name: name, Email: email, TeamID: teamID,
		CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
}

func testOwners(t *testing.T, h Harness) {
	s := h.Open(t)
	tm := mustCreateTeam(t, s, "Payments")
	alice := owner("Alice", "alice@example.com", tm.ID)
	bob := owner("bob", "bob@example.com", "")
	for _, o := range []store.Owner{alice, bob} {
		if err := s.CreateOwner(ctx(t), o); err != nil {
			t.Fatalf("create owner %s: %v", o.Name, err)
		}
	}

	got, err := s.GetOwner(ctx(t), alice.ID)
	if diff := cmp.Diff(alice, got); err != nil || diff != "" {
		t.Errorf("get owner: %v (-want +got):\n%s", err, diff)
	}
	if got, err := s.GetOwnerByEmail(ctx(t), "BOB@example.com"); err != nil || got.ID != bob.ID {
		t.Errorf("by e-mail in other case: got %s, %v; want %s", got.ID, err, bob.ID)
	}
	dup := owner("Al", "ALICE@example.com", "")
	if err := s.CreateOwner(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate e-mail: got %v, want ErrConflict", err)
	}
	orphan := owner("Carol", "carol@example.com", "team-missing")
	if err := s.CreateOwner(ctx(t), orphan); !errors.Is(err, store.ErrConflict) {
		t.Errorf("unknown team: got %v, want ErrConflict", err)
	}

	list, _, err := s.ListOwners(ctx(t), store.OwnerFilter{TeamID: tm.ID}, store.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != alice.ID {
		t.Errorf("owners of team: got %v, %v; want only Alice", list, err)
	}
	list, _, _ = s.ListOwners(ctx(t), store.OwnerFilter{}, store.Page{Limit: 10})
	if len(list) != 2 || list[0].Name != "Alice" || list[1].Name != "bob" {
		t.Errorf("all owners by name: got %v", list)
	}
	if n, _ := s.CountOwners(ctx(t), store.OwnerFilter{TeamID: tm.ID}); n != 1 {
		t.Errorf("count owners of team: got %d, want 1", n)
	}

	if err := s.DeleteTeam(ctx(t), tm.ID); !errors.Is(err, store.ErrConflict) {
		t.Errorf("delete team with owners: got %v, want ErrConflict", err)
	}
	if _, err := s.GetTeam(ctx(t), tm.ID); err != nil {
		t.Errorf("team must survive a refused delete: %v", err)
	}

	alice.TeamID, alice.UpdatedAt = "", store.UTC(base.Add(2e9))
	if err := s.UpdateOwner(ctx(t), alice); err != nil {
		t.Fatalf("update owner: %v", err)
	}
	if err := s.DeleteTeam(ctx(t), tm.ID); err != nil {
		t.Errorf("delete emptied team: %v", err)
	}
	if err := s.DeleteOwner(ctx(t), bob.ID); err != nil {
		t.Errorf("delete owner: %v", err)
	}
	if err := s.DeleteOwner(ctx(t), bob.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete owner twice: got %v, want ErrNotFound", err)
	}
}
