package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func agent(name string) store.Agent {
	return store.Agent{ID: store.NewID("agent"), Name: name, Hostname: name + ".internal",
		OS: "linux", Architecture: "amd64", Version: "1.0.0",
		Addresses: []string{"10.0.0.7", "fd00::7"}, AllowedPaths: []string{"/etc/ssl"},
		Status: store.AgentOnline, CredentialHash: []byte("hash-" + name),
		CredentialPrefix: "cc_" + name[:1], LastHeartbeatAt: store.UTC(base),
		CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
}

func mustCreateAgent(t *testing.T, q store.Queries, name string) store.Agent {
	t.Helper()
	a := agent(name)
	if err := q.CreateAgent(ctx(t), a); err != nil {
		t.Fatalf("create agent %q: %v", name, err)
	}
	return a
}

func testAgents(t *testing.T, h Harness) {
	s := h.Open(t)
	web := mustCreateAgent(t, s, "web-1")
	got, err := s.GetAgent(ctx(t), web.ID)
	if diff := cmp.Diff(web, got); err != nil || diff != "" {
		t.Errorf("agent round trip: %v (-want +got):\n%s", err, diff)
	}
	if _, err := s.GetAgent(ctx(t), "agent-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing agent: got %v, want ErrNotFound", err)
	}
	want := store.AgentIdentity{ID: web.ID, Name: web.Name, Status: web.Status,
		CredentialHash: web.CredentialHash, WorkVersion: web.WorkVersion}
	if got, err := s.GetAgentIdentity(ctx(t), []byte("hash-web-1")); err != nil ||
		!cmp.Equal(got, want) {
		t.Errorf("by credential: got %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.GetAgentIdentity(ctx(t), []byte("hash-other")); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("unknown credential: got %v, want ErrNotFound", err)
	}
	dup := agent("WEB-1")
	dup.CredentialHash = []byte("hash-dup")
	if err := s.CreateAgent(ctx(t), dup); !errors.Is(err, store.ErrConflict) {
		t.Errorf("name taken in other case: got %v, want ErrConflict", err)
	}
	sameKey := agent("db-1")
	sameKey.CredentialHash = web.CredentialHash
	if err := s.CreateAgent(ctx(t), sameKey); !errors.Is(err, store.ErrConflict) {
		t.Errorf("credential taken: got %v, want ErrConflict", err)
	}

	at := store.UTC(base.Add(time.Hour))
	if err := s.SetAgentCredential(ctx(t), web.ID, []byte("hash-new"), "cc_n", at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetAgentIdentity(ctx(t), web.CredentialHash); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("replaced credential still finds the agent: %v", err)
	}
	if got, err := s.GetAgentIdentity(ctx(t), []byte("hash-new")); err != nil ||
		got.ID != web.ID {
		t.Errorf("new credential: got %+v, %v", got, err)
	}
	if got, _ := s.GetAgent(ctx(t), web.ID); got.CredentialPrefix != "cc_n" ||
		!got.UpdatedAt.Equal(at) {
		t.Errorf("agent with a new credential: got %+v", got)
	}
	if err := s.SetAgentCredential(ctx(t), web.ID, nil, "", at); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAgent(ctx(t), web.ID); got.CredentialHash != nil {
		t.Errorf("revoked credential: got hash %x, want nil", got.CredentialHash)
	}
	if err := s.SetAgentCredential(ctx(t), "agent-missing", nil, "", at); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("credential of a missing agent: got %v, want ErrNotFound", err)
	}
}

func testAgentHeartbeats(t *testing.T, h Harness) {
	s := h.Open(t)
	a := mustCreateAgent(t, s, "beating")
	quiet := mustCreateAgent(t, s, "quiet")
	never := agent("never")
	never.LastHeartbeatAt = time.Time{}
	never.CreatedAt = store.UTC(base.Add(time.Hour))
	if err := s.CreateAgent(ctx(t), never); err != nil {
		t.Fatal(err)
	}

	beat := store.UTC(base.Add(10 * time.Minute))
	host := store.AgentHost{Hostname: "beating.example", OS: "freebsd", Architecture: "arm64",
		Version: "1.1.0", Addresses: []string{"192.0.2.1"}, AllowedPaths: []string{"/srv"}}
	if err := s.RecordHeartbeat(ctx(t), a.ID, host, beat); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetAgent(ctx(t), a.ID)
	gotHost := store.AgentHost{Hostname: got.Hostname, OS: got.OS,
		Architecture: got.Architecture, Version: got.Version, Addresses: got.Addresses,
		AllowedPaths: got.AllowedPaths}
	if diff := cmp.Diff(host, gotHost); diff != "" || !got.LastHeartbeatAt.Equal(beat) {
		t.Errorf("after heartbeat: at %v (-want +got):\n%s", got.LastHeartbeatAt, diff)
	}
	if got.WorkVersion != 0 {
		t.Errorf("a heartbeat changed the work version to %d; it must not", got.WorkVersion)
	}

	// quiet beat at base, never was created an hour after base: a cut-off between them
	// catches only quiet.
	sweep := store.UTC(base.Add(2 * time.Hour))
	ids, err := s.MarkAgentsOffline(ctx(t), base.Add(5*time.Minute), sweep)
	if err != nil || !slices.Equal(ids, []string{quiet.ID}) {
		t.Errorf("mark offline: got %v, %v; want only %s", ids, err, quiet.ID)
	}
	if got, _ := s.GetAgent(ctx(t), quiet.ID); got.Status != store.AgentOffline ||
		!got.UpdatedAt.Equal(sweep) {
		t.Errorf("quiet agent: got %s at %v, want Offline at %v", got.Status, got.UpdatedAt,
			sweep)
	}
	ids, err = s.MarkAgentsOffline(ctx(t), base.Add(90*time.Minute), sweep)
	want := []string{a.ID, never.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Errorf("mark offline later: got %v, %v; want %v (the agent already Offline is "+
			"not reported again)", ids, err, want)
	}
	if err := s.RecordHeartbeat(ctx(t), quiet.ID, host, sweep); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAgent(ctx(t), quiet.ID); got.Status != store.AgentOnline {
		t.Errorf("heartbeat of an Offline agent: status %s, want Online", got.Status)
	}
	if err := s.RecordHeartbeat(ctx(t), "agent-missing", host, sweep); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("heartbeat of a missing agent: got %v, want ErrNotFound", err)
	}
}

func testAgentRetirement(t *testing.T, h Harness) {
	s := h.Open(t)
	old := mustCreateAgent(t, s, "Edge")
	at := store.UTC(base.Add(time.Hour))
	if err := s.RetireAgent(ctx(t), old.ID, "host decommissioned", at); err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetAgent(ctx(t), old.ID)
	if got.Status != store.AgentRetired ||
		string(got.CredentialHash) != string(old.CredentialHash) ||
		!got.RetiredAt.Equal(at) || got.RetiredReason != "host decommissioned" {
		t.Errorf("retired agent: got %+v", got)
	}
	if got, err := s.GetAgentIdentity(ctx(t), old.CredentialHash); err != nil ||
		got.Status != store.AgentRetired {
		t.Errorf("a retired agent's credential must still find it, as Retired: %+v, %v", got,
			err)
	}
	for name, err := range map[string]error{
		"retire twice":     s.RetireAgent(ctx(t), old.ID, "again", at),
		"retire a missing": s.RetireAgent(ctx(t), "agent-missing", "x", at),
		"heartbeat":        s.RecordHeartbeat(ctx(t), old.ID, store.AgentHost{}, at),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s: got %v, want ErrNotFound", name, err)
		}
	}
	if got, _ := s.GetAgent(ctx(t), old.ID); got.Status != store.AgentRetired {
		t.Errorf("a heartbeat revived a retired agent: status %s", got.Status)
	}
	if ids, _ := s.MarkAgentsOffline(ctx(t), at.Add(time.Hour), at); len(ids) != 0 {
		t.Errorf("a retired agent was marked offline: %v", ids)
	}

	successor := agent("edge")
	successor.CredentialHash = []byte("hash-successor")
	if err := s.CreateAgent(ctx(t), successor); err != nil {
		t.Errorf("reuse the name of a retired agent: %v", err)
	}
	twin := agent("EDGE")
	twin.CredentialHash = []byte("hash-twin")
	if err := s.CreateAgent(ctx(t), twin); !errors.Is(err, store.ErrConflict) {
		t.Errorf("name of a live agent: got %v, want ErrConflict", err)
	}
	if err := s.RetireAgent(ctx(t), successor.ID, "replaced", at); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAgent(ctx(t), twin); err != nil {
		t.Errorf("a name two retired agents had: %v", err)
	}
}

func testAgentLists(t *testing.T, h Harness) {
	s := h.Open(t)
	for _, name := range []string{"delta", "Alpha", "charlie", "bravo", "echo"} {
		a := agent(name)
		if name == "Alpha" {
			a.Status = store.AgentOffline
		}
		if err := s.CreateAgent(ctx(t), a); err != nil {
			t.Fatal(err)
		}
		if name == "delta" {
			if err := s.RetireAgent(ctx(t), a.ID, "gone", base); err != nil {
				t.Fatal(err)
			}
		}
	}

	var got []string
	page := store.Page{Limit: 2}
	for i := 0; ; i++ {
		list, next, err := s.ListAgents(ctx(t), store.AgentFilter{}, page)
		if err != nil || i > 5 {
			t.Fatalf("page %d: %v", i, err)
		}
		for _, a := range list {
			got = append(got, a.Name)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	if want := []string{"Alpha", "bravo", "charlie", "echo"}; !slices.Equal(got, want) {
		t.Errorf("agents by name in keyset pages: got %v, want %v (no retired)", got, want)
	}
	for f, want := range map[store.AgentFilter]string{
		{Status: store.AgentRetired}: "delta",
		{Status: store.AgentOffline}: "Alpha",
	} {
		list, _, err := s.ListAgents(ctx(t), f, store.Page{Limit: 10})
		if err != nil || len(list) != 1 || list[0].Name != want {
			t.Errorf("list %+v: got %v, %v; want only %s", f, list, err, want)
		}
	}
	if n, err := s.CountAgents(ctx(t), store.AgentFilter{}); err != nil || n != 4 {
		t.Errorf("count agents: got %d, %v; want 4 (retired left out)", n, err)
	}
	if n, _ := s.CountAgents(ctx(t), store.AgentFilter{Status: store.AgentOnline}); n != 3 {
		t.Errorf("count online agents: got %d, want 3", n)
	}
	counts, err := s.CountAgentsByStatus(ctx(t))
	want := map[string]int{store.AgentOnline: 3, store.AgentOffline: 1, store.AgentRetired: 1}
	if diff := cmp.Diff(want, counts); err != nil || diff != "" {
		t.Errorf("count by status: %v (-want +got):\n%s", err, diff)
	}
}

func token(name string, expires time.Time) store.EnrollmentToken {
	return store.EnrollmentToken{ID: store.NewID("tok"), Hash: []byte("tok-hash-" + name),
		Prefix: "ct_" + name[:1], Name: name, CreatedBy: "user:admin",
		CreatedAt: store.UTC(base), ExpiresAt: expires}
}

func testEnrollmentTokens(t *testing.T, h Harness) {
	s := h.Open(t)
	expiring := token("expiring", store.UTC(base.Add(time.Hour)))
	forever := token("forever", time.Time{})
	forever.CreatedAt = store.UTC(base.Add(time.Minute))
	for _, tk := range []store.EnrollmentToken{expiring, forever} {
		if err := s.CreateEnrollmentToken(ctx(t), tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateEnrollmentToken(ctx(t), token("expiring", time.Time{})); !errors.Is(err,
		store.ErrConflict) {
		t.Errorf("a second token with the same hash: got %v, want ErrConflict", err)
	}
	list, err := s.ListEnrollmentTokens(ctx(t))
	if err != nil || len(list) != 2 || list[0].ID != forever.ID {
		t.Fatalf("tokens newest first: got %v, %v", list, err)
	}
	if diff := cmp.Diff([]store.EnrollmentToken{forever, expiring}, list); diff != "" {
		t.Errorf("token round trip (-want +got):\n%s", diff)
	}
	if got, err := s.GetEnrollmentTokenByHash(ctx(t), expiring.Hash); err != nil ||
		got.ID != expiring.ID {
		t.Errorf("by hash: got %s, %v", got.ID, err)
	}

	late := expiring.ExpiresAt
	if err := s.UseEnrollmentToken(ctx(t), expiring.ID, "agent-x", late); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("use at the expiry time: got %v, want ErrNotFound", err)
	}
	used := store.UTC(late.Add(-time.Second))
	if err := s.UseEnrollmentToken(ctx(t), expiring.ID, "agent-x", used); err != nil {
		t.Fatalf("use before expiry: %v", err)
	}
	got, _ := s.GetEnrollmentTokenByHash(ctx(t), expiring.Hash)
	if !got.UsedAt.Equal(used) || got.AgentID != "agent-x" {
		t.Errorf("used token: got used %v by %q", got.UsedAt, got.AgentID)
	}
	if err := s.UseEnrollmentToken(ctx(t), expiring.ID, "agent-y", used); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("use twice: got %v, want ErrNotFound", err)
	}
	far := store.UTC(base.Add(100 * 365 * 24 * time.Hour))
	if err := s.UseEnrollmentToken(ctx(t), forever.ID, "agent-z", far); err != nil {
		t.Errorf("a token without expiry, used much later: %v", err)
	}
	if err := s.UseEnrollmentToken(ctx(t), "tok-missing", "a", used); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("use a missing token: got %v, want ErrNotFound", err)
	}

	if err := s.DeleteEnrollmentToken(ctx(t), expiring.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete a used token: got %v, want ErrNotFound", err)
	}
	unused := token("unused", time.Time{})
	if err := s.CreateEnrollmentToken(ctx(t), unused); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEnrollmentToken(ctx(t), unused.ID); err != nil {
		t.Errorf("delete an unused token: %v", err)
	}
	if _, err := s.GetEnrollmentTokenByHash(ctx(t), unused.Hash); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("deleted token: got %v, want ErrNotFound", err)
	}
}

// testEnrollmentTokenRace has two callers spend each of several tokens at the same moment:
// exactly one of them succeeds every time.
func testEnrollmentTokenRace(t *testing.T, h Harness) {
	s := h.Open(t)
	for i := 0; i < 10; i++ {
		tk := token(fmt.Sprintf("race-%d", i), time.Time{})
		if err := s.CreateEnrollmentToken(ctx(t), tk); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, agentID := range []string{"agent-a", "agent-b"} {
			go func() {
				<-start
				errs <- s.UseEnrollmentToken(ctx(t), tk.ID, agentID, base)
			}()
		}
		close(start)
		won, lost := 0, 0
		for range 2 {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, store.ErrNotFound):
				lost++
			default:
				t.Errorf("token %d: %v", i, err)
			}
		}
		if won != 1 || lost != 1 {
			t.Errorf("token %d: %d callers won and %d lost, want one each", i, won, lost)
		}
	}
}
