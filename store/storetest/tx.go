package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"certctl/store"
)

func testTransactions(t *testing.T, h Harness) {
	s := h.Open(t)
	boom := errors.New("boom")
	before := version(t, s, store.AreaTeams)

	err := s.InTx(ctx(t), func(q store.Queries) error {
		tm := mustCreateTeam(t, q, "Rolled back")
		// A transaction reads its own writes.
		if _, err := q.GetTeam(ctx(t), tm.ID); err != nil {
			t.Errorf("read own write in transaction: %v", err)
		}
		if err := q.AppendAudit(ctx(t), event(1, "user:a", "team.create")); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("InTx: got %v, want the function's error", err)
	}
	if n, _ := s.CountTeams(ctx(t)); n != 0 {
		t.Errorf("teams after rollback: got %d, want 0", n)
	}
	if n, _ := s.CountAudit(ctx(t), store.AuditFilter{}); n != 0 {
		t.Errorf("audit events after rollback: got %d, want 0", n)
	}
	if v := version(t, s, store.AreaTeams); v != before {
		t.Errorf("teams version after rollback: got %d, want %d", v, before)
	}

	err = s.InTx(ctx(t), func(q store.Queries) error {
		mustCreateTeam(t, q, "Committed")
		return q.AppendAudit(ctx(t), event(2, "user:a", "team.create"))
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if n, _ := s.CountTeams(ctx(t)); n != 1 {
		t.Errorf("teams after commit: got %d, want 1", n)
	}
	if n, _ := s.CountAudit(ctx(t), store.AuditFilter{}); n != 1 {
		t.Errorf("audit events after commit: got %d, want 1", n)
	}
}

func testChangeCounters(t *testing.T, h Harness) {
	s := h.Open(t)
	steps := []struct {
		name string
		area string
		do   func() error
	}{
		{"create team", store.AreaTeams, func() error {
			return s.CreateTeam(ctx(t), team("Counted"))
		}},
		{"append audit", store.AreaAudit, func() error {
			return s.AppendAudit(ctx(t), event(1, "user:a", "x"))
		}},
		{"create owner", store.AreaOwners, func() error {
			return s.CreateOwner(ctx(t), owner("O", "o@example.com", ""))
		}},
		{"create api key", store.AreaAPIKeys, func() error {
			return s.CreateAPIKey(ctx(t), apiKey("counted", "secret-counted"))
		}},
	}
	for _, st := range steps {
		before := version(t, s, st.area)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if after := version(t, s, st.area); after <= before {
			t.Errorf("%s: %s version went from %d to %d, want it to grow", st.name, st.area,
				before, after)
		}
	}

	keys, _ := s.ListAPIKeys(ctx(t))
	before := version(t, s, store.AreaAPIKeys)
	if err := s.TouchAPIKey(ctx(t), keys[0].ID, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if after := version(t, s, store.AreaAPIKeys); after != before {
		t.Errorf("recording a key's use changed the api_keys version from %d to %d; "+
			"it must not, or every request would invalidate caches", before, after)
	}
}

func testConcurrentWriters(t *testing.T, h Harness) {
	s := h.Open(t)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.InTx(ctx(t), func(q store.Queries) error {
				if _, err := q.CountTeams(ctx(t)); err != nil {
					return err
				}
				return q.CreateTeam(ctx(t), team(fmt.Sprintf("parallel-%d", i)))
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent transaction: %v", err)
		}
	}
	if n, _ := s.CountTeams(ctx(t)); n != writers {
		t.Errorf("teams: got %d, want %d", n, writers)
	}
}
