package storetest

import (
	"errors"
	"fmt"
	"testing"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func testTeams(t *testing.T, h Harness) {
	s := h.Open(t)
	want := mustCreateTeam(t, s, "Platform")

	got, err := s.GetTeam(ctx(t), want.ID)
	if err != nil {
		t.Fatalf("get team: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("get team (-want +got):\n%s", diff)
	}
	if got, err := s.GetTeamByName(ctx(t), "pLATFORM"); err != nil || got.ID != want.ID {
		t.Errorf("get team by other case: got %v, %v; want %s", got.ID, err, want.ID)
	}
	if err := s.CreateTeam(ctx(t), team("platform")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate name in other case: got %v, want ErrConflict", err)
	}

	want.Name, want.Description = "Platform SRE", ""
	want.UpdatedAt = store.UTC(base.Add(1e9))
	if err := s.UpdateTeam(ctx(t), want); err != nil {
		t.Fatalf("update team: %v", err)
	}
	got, _ = s.GetTeam(ctx(t), want.ID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}

	missing := team("ghost")
	for name, err := range map[string]error{
		"get":    func() error { _, err := s.GetTeam(ctx(t), missing.ID); return err }(),
		"byname": func() error { _, err := s.GetTeamByName(ctx(t), "ghost"); return err }(),
		"update": s.UpdateTeam(ctx(t), missing),
		"delete": s.DeleteTeam(ctx(t), missing.ID),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s missing team: got %v, want ErrNotFound", name, err)
		}
	}

	if err := s.DeleteTeam(ctx(t), want.ID); err != nil {
		t.Fatalf("delete team: %v", err)
	}
	if n, err := s.CountTeams(ctx(t)); err != nil || n != 0 {
		t.Errorf("count after delete: got %d, %v; want 0", n, err)
	}
}

func testTeamPaging(t *testing.T, h Harness) {
	s := h.Open(t)
	var want []string
	for i := 0; i < 7; i++ {
		// Mixed case checks that the order ignores letter case.
		name := fmt.Sprintf("team-%02d", i)
		if i%2 == 0 {
			name = fmt.Sprintf("TEAM-%02d", i)
		}
		mustCreateTeam(t, s, name)
		want = append(want, name)
	}

	var got []string
	after := ""
	for pages := 0; pages < 10; pages++ {
		teams, next, err := s.ListTeams(ctx(t), store.Page{Limit: 3, After: after})
		if err != nil {
			t.Fatalf("list teams: %v", err)
		}
		for _, tm := range teams {
			got = append(got, tm.Name)
		}
		if next == "" {
			break
		}
		after = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keyset pages (-want +got):\n%s", diff)
	}

	teams, _, err := s.ListTeams(ctx(t), store.Page{Limit: 2, Offset: 5})
	if err != nil || len(teams) != 2 || teams[0].Name != want[5] {
		t.Errorf("offset page: got %v, %v; want %v", teams, err, want[5:])
	}
	if n, _ := s.CountTeams(ctx(t)); n != 7 {
		t.Errorf("count: got %d, want 7", n)
	}
	_, _, err = s.ListTeams(ctx(t), store.Page{Limit: 2, After: "not-a-cursor"})
	if !errors.Is(err, store.ErrBadCursor) {
		t.Errorf("bad cursor: got %v, want ErrBadCursor", err)
	}
}
