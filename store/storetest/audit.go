package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func event(i int, actor, action string) store.AuditEvent {
	return store.AuditEvent{
		ID:           store.NewID("evt"),
		OccurredAt:   store.UTC(base.Add(time.Duration(i) * time.Second)),
		Actor:        actor,
		Action:       action,
		ResourceType: "team",
		ResourceID:   fmt.Sprintf("team-%d", i%3),
		RequestID:    fmt.Sprintf("req-%d", i),
		Details:      json.RawMessage(fmt.Sprintf(`{"n": %d}`, i)),
	}
}

func appendEvents(t *testing.T, s store.Store, n int) []store.AuditEvent {
	t.Helper()
	var events []store.AuditEvent
	for i := 0; i < n; i++ {
		actor := "apikey:ci"
		if i%2 == 0 {
			actor = "user:alice"
		}
		e := event(i, actor, []string{"team.create", "team.update"}[i%2])
		if err := s.AppendAudit(ctx(t), e); err != nil {
			t.Fatalf("append audit: %v", err)
		}
		events = append(events, e)
	}
	return events
}

// sameJSON compares JSON documents by meaning, since PostgreSQL normalises jsonb.
var sameJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
})

func testAudit(t *testing.T, h Harness) {
	s := h.Open(t)
	events := appendEvents(t, s, 6)

	got, err := s.GetAudit(ctx(t), events[2].ID)
	if diff := cmp.Diff(events[2], got, sameJSON); err != nil || diff != "" {
		t.Errorf("get audit: %v (-want +got):\n%s", err, diff)
	}
	if _, err := s.GetAudit(ctx(t), "evt-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing event: got %v, want ErrNotFound", err)
	}

	tests := []struct {
		name string
		f    store.AuditFilter
		want []int // indexes into events, newest first
	}{
		{"all", store.AuditFilter{}, []int{5, 4, 3, 2, 1, 0}},
		{"actor", store.AuditFilter{Actor: "user:alice"}, []int{4, 2, 0}},
		{"action", store.AuditFilter{Action: "team.update"}, []int{5, 3, 1}},
		{"resource", store.AuditFilter{ResourceType: "team", ResourceID: "team-1"},
			[]int{4, 1}},
		{"since inclusive", store.AuditFilter{Since: events[4].OccurredAt}, []int{5, 4}},
		{"until exclusive", store.AuditFilter{Until: events[1].OccurredAt}, []int{0}},
		{"combined", store.AuditFilter{Actor: "apikey:ci", Since: events[2].OccurredAt,
			Until: events[5].OccurredAt}, []int{3}},
		{"no match", store.AuditFilter{Actor: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, _, err := s.ListAudit(ctx(t), tc.f, store.Page{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, e := range list {
				for i := range events {
					if events[i].ID == e.ID {
						got = append(got, i)
					}
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
			if n, err := s.CountAudit(ctx(t), tc.f); err != nil || n != len(tc.want) {
				t.Errorf("count: got %d, %v; want %d", n, err, len(tc.want))
			}
		})
	}
}

func testAuditPaging(t *testing.T, h Harness) {
	s := h.Open(t)
	events := appendEvents(t, s, 11)
	// Two events in the same microsecond must still page without loss or repeats.
	twin := event(10, "user:alice", "team.create")
	if err := s.AppendAudit(ctx(t), twin); err != nil {
		t.Fatal(err)
	}
	events = append(events, twin)

	seen := map[string]int{}
	after := ""
	for pages := 0; pages < 20; pages++ {
		list, next, err := s.ListAudit(ctx(t), store.AuditFilter{}, store.Page{Limit: 4,
			After: after})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, e := range list {
			seen[e.ID]++
		}
		if next == "" {
			break
		}
		after = next
	}
	for _, e := range events {
		if seen[e.ID] != 1 {
			t.Errorf("event %s seen %d times over keyset pages, want once", e.ID, seen[e.ID])
		}
	}
}

func testAuditAppendOnly(t *testing.T, h Harness) {
	s := h.Open(t)
	appendEvents(t, s, 2)
	for _, stmt := range []string{
		`UPDATE audit_events SET actor = 'mallory'`,
		`DELETE FROM audit_events`,
	} {
		if err := h.Exec(ctx(t), s, stmt); err == nil {
			t.Errorf("%s: got nil error, want the database to refuse", stmt)
		}
	}
	if n, _ := s.CountAudit(ctx(t), store.AuditFilter{Actor: "mallory"}); n != 0 {
		t.Errorf("rewritten events: got %d, want 0", n)
	}
	if n, _ := s.CountAudit(ctx(t), store.AuditFilter{}); n != 2 {
		t.Errorf("events after refused delete: got %d, want 2", n)
	}
}
