package agents

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"certctl/app/agentapi"
	"certctl/store"
	"certctl/store/postgres"
	"certctl/store/storetest"
)

// countingStore counts identity reads; the watching comes from the embedded store.
type countingStore struct {
	*postgres.Store
	reads atomic.Int64
}

func (c *countingStore) GetAgentIdentity(ctx context.Context, hash []byte) (
	store.AgentIdentity, error) {
	c.reads.Add(1)
	return c.Store.GetAgentIdentity(ctx, hash)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// On PostgreSQL an agent's identity is read once and then kept while nothing changes it
// (a heartbeat does not); a change to its work or its retirement reaches the next call.
func TestIdentitiesFollowChanges(t *testing.T) {
	pg, err := postgres.Open(t.Context(), storetest.PostgresSchema(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	st := &countingStore{Store: pg}
	svc := New(Deps{Store: st, BootstrapToken: "bootstrap-token-0123456789",
		OfflineAfter: time.Minute, Now: time.Now, Log: slog.New(slog.DiscardHandler)})
	ctx, stop := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { svc.Watch(ctx); close(watched) }()
	defer func() { stop(); <-watched }()
	eventually(t, "the store to listen", func() bool {
		svc.ids.mu.Lock()
		defer svc.ids.mu.Unlock()
		return svc.ids.on
	})

	enrolled, err := svc.Enroll(ctx, agentapi.EnrollRequest{
		Token: "bootstrap-token-0123456789", Name: "web-1"})
	if err != nil {
		t.Fatal(err)
	}
	auth := func() (store.AgentIdentity, error) {
		t.Helper()
		return svc.Authenticate(ctx, enrolled.Credential)
	}
	first, err := auth()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth(); err != nil || st.reads.Load() != 1 {
		t.Fatalf("second call: %v after %d reads, want it from memory", err, st.reads.Load())
	}

	if err := pg.RecordHeartbeat(ctx, first.ID, store.AgentHost{Hostname: "h"},
		store.UTC(time.Now())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // time for an announcement, were there one
	if _, err := auth(); err != nil || st.reads.Load() != 1 {
		t.Errorf("after a heartbeat: %v after %d reads, want it still in memory", err,
			st.reads.Load())
	}

	now := store.UTC(time.Now())
	if err := pg.CreateTarget(ctx, store.Target{ID: store.NewID("tgt"), AgentID: first.ID,
		Name: "site", Type: "file", Config: []byte(`{}`), CreatedAt: now,
		UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the new work version", func() bool {
		a, err := auth()
		return err == nil && a.WorkVersion > first.WorkVersion
	})

	// The listening connection dies: nothing kept is trusted until it listens again, and
	// changes are heard after that.
	svc.ids.mu.Lock()
	gen := svc.ids.gen
	svc.ids.mu.Unlock()
	if err := pg.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = 'LISTEN certctl_agents'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the store to listen again", func() bool {
		svc.ids.mu.Lock()
		defer svc.ids.mu.Unlock()
		return svc.ids.on && svc.ids.gen >= gen+2 && len(svc.ids.byHash) == 0
	})

	if err := pg.RetireAgent(ctx, first.ID, "test", now); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the retirement", func() bool {
		_, err := auth()
		return errors.Is(err, ErrRetired)
	})
}

// An identity read before a change was heard is not kept: it may be older than the change.
func TestIdentitiesRefuseReadsOlderThanAChange(t *testing.T) {
	c := newIdentities()
	c.listening(true)
	a := store.AgentIdentity{ID: "agent-1", CredentialHash: []byte("h"), WorkVersion: 1}
	if _, gen, ok := c.get(a.CredentialHash); !ok {
		c.changed("agent-1") // announced while the read was on its way
		c.put(a, gen)
	}
	if _, _, ok := c.get(a.CredentialHash); ok {
		t.Fatal("kept an identity read before a change was heard")
	}
	_, gen, _ := c.get(a.CredentialHash)
	c.put(a, gen)
	if got, _, ok := c.get(a.CredentialHash); !ok || got.WorkVersion != 1 {
		t.Fatal("did not keep an identity read with nothing heard meanwhile")
	}
	c.listening(false)
	if _, _, ok := c.get(a.CredentialHash); ok {
		t.Fatal("trusted an identity while not listening")
	}
}
