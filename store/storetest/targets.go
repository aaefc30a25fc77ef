package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func target(a store.Agent, name string) store.Target {
	return store.Target{ID: store.NewID("tgt"), AgentID: a.ID, Name: name, Type: "nginx",
		Config:        []byte(`{"cert_path":"/etc/ssl/` + name + `.pem"}`),
		SecretsSealed: []byte{1, 2, 3}, CreatedAt: store.UTC(base), UpdatedAt: store.UTC(base)}
}

func mustCreateTarget(t *testing.T, s store.Store, a store.Agent, name string) store.Target {
	t.Helper()
	tg := target(a, name)
	if err := s.CreateTarget(ctx(t), tg); err != nil {
		t.Fatalf("create target %q: %v", name, err)
	}
	return tg
}

func testTargets(t *testing.T, h Harness) {
	s := h.Open(t)
	a, b := mustCreateAgent(t, s, "a"), mustCreateAgent(t, s, "b")
	web := mustCreateTarget(t, s, a, "Web")
	got, err := s.GetTarget(ctx(t), web.ID)
	if diff := cmp.Diff(web, got, sameJSONBytes); err != nil || diff != "" {
		t.Errorf("target round trip: %v (-want +got):\n%s", err, diff)
	}
	if _, err := s.GetTarget(ctx(t), "tgt-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing target: got %v, want ErrNotFound", err)
	}
	if err := s.CreateTarget(ctx(t), target(a, "WEB")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("name taken on the agent in other case: got %v, want ErrConflict", err)
	}
	if err := s.CreateTarget(ctx(t), target(b, "web")); err != nil {
		t.Errorf("the same name on another agent: %v", err)
	}
	orphan := target(store.Agent{ID: "agent-missing"}, "orphan")
	if err := s.CreateTarget(ctx(t), orphan); !errors.Is(err, store.ErrConflict) {
		t.Errorf("unknown agent: got %v, want ErrConflict", err)
	}
	bare := target(a, "bare")
	bare.Config, bare.SecretsSealed = nil, nil
	if err := s.CreateTarget(ctx(t), bare); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetTarget(ctx(t), bare.ID); !jsonEqual(got.Config, []byte(`{}`)) ||
		got.SecretsSealed != nil {
		t.Errorf("target without config: got config %s, secrets %v; want {} and nil",
			got.Config, got.SecretsSealed)
	}

	web.Name, web.Type, web.Config = "web-main", "files", []byte(`{"dir":"/srv"}`)
	web.SecretsSealed, web.UpdatedAt = nil, store.UTC(base.Add(time.Hour))
	moved := web
	moved.AgentID = b.ID
	if err := s.UpdateTarget(ctx(t), moved); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetTarget(ctx(t), web.ID)
	if diff := cmp.Diff(web, got, sameJSONBytes); diff != "" {
		t.Errorf("after update, agent kept (-want +got):\n%s", diff)
	}
	if err := s.UpdateTarget(ctx(t), target(a, "ghost")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update a missing target: got %v, want ErrNotFound", err)
	}
	clash := bare
	clash.Name = "WEB-MAIN"
	if err := s.UpdateTarget(ctx(t), clash); !errors.Is(err, store.ErrConflict) {
		t.Errorf("rename onto a taken name: got %v, want ErrConflict", err)
	}
}

func testTargetLists(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a, b := mustCreateAgent(t, s, "a"), mustCreateAgent(t, s, "b")
	byName := map[string]store.Target{}
	for _, tg := range []store.Target{target(a, "delta"), target(b, "Alpha"),
		target(a, "charlie"), target(b, "bravo"), target(a, "Echo")} {
		if tg.Name == "charlie" {
			tg.Type = "files"
		}
		if err := s.CreateTarget(ctx(t), tg); err != nil {
			t.Fatal(err)
		}
		byName[tg.Name] = tg
	}
	c := mustCreateCertificates(t, s, "mapped")[0]
	err := s.SetCertificateTargets(ctx(t), c.ID,
		[]string{byName["Echo"].ID, byName["Alpha"].ID})
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	page := store.Page{Limit: 2}
	for i := 0; ; i++ {
		list, next, err := s.ListTargets(ctx(t), store.TargetFilter{}, page)
		if err != nil || i > 5 {
			t.Fatalf("page %d: %v", i, err)
		}
		for _, tg := range list {
			got = append(got, tg.Name)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	if want := []string{"Alpha", "bravo", "charlie", "delta", "Echo"}; !slices.Equal(got,
		want) {
		t.Errorf("targets by name in keyset pages: got %v, want %v", got, want)
	}
	for _, tc := range []struct {
		name string
		f    store.TargetFilter
		want []string
	}{
		{"of agent a", store.TargetFilter{AgentID: a.ID}, []string{"charlie", "delta", "Echo"}},
		{"of type files", store.TargetFilter{Type: "files"}, []string{"charlie"}},
		{"of the certificate", store.TargetFilter{CertificateID: c.ID},
			[]string{"Alpha", "Echo"}},
		{"of the certificate on a", store.TargetFilter{CertificateID: c.ID, AgentID: a.ID},
			[]string{"Echo"}},
	} {
		list, _, err := s.ListTargets(ctx(t), tc.f, store.Page{Limit: 10})
		var names []string
		for _, tg := range list {
			names = append(names, tg.Name)
		}
		if err != nil || !slices.Equal(names, tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, names, err, tc.want)
		}
		if n, err := s.CountTargets(ctx(t), tc.f); err != nil || n != len(tc.want) {
			t.Errorf("count %s: got %d, %v; want %d", tc.name, n, err, len(tc.want))
		}
	}
}

func testCertificateTargets(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a := mustCreateAgent(t, s, "a")
	t1, t2, t3 := mustCreateTarget(t, s, a, "one"), mustCreateTarget(t, s, a, "two"),
		mustCreateTarget(t, s, a, "three")
	certs := mustCreateCertificates(t, s, "first", "second")
	c, other := certs[0], certs[1]
	sorted := func(ids ...string) []string {
		slices.Sort(ids)
		return ids
	}
	mapped := func(certificateID string) []string {
		t.Helper()
		ids, err := s.CertificateTargetIDs(ctx(t), certificateID)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}

	if err := s.SetCertificateTargets(ctx(t), c.ID, []string{t2.ID, t1.ID, t2.ID}); err != nil {
		t.Fatal(err)
	}
	if got := mapped(c.ID); !slices.Equal(got, sorted(t1.ID, t2.ID)) {
		t.Errorf("targets of c: got %v, want %v sorted, without repeats", got,
			[]string{t1.ID, t2.ID})
	}
	if err := s.SetCertificateTargets(ctx(t), other.ID, []string{t2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCertificateTargets(ctx(t), c.ID, []string{t2.ID, t3.ID}); err != nil {
		t.Fatal(err)
	}
	if got := mapped(c.ID); !slices.Equal(got, sorted(t2.ID, t3.ID)) {
		t.Errorf("replaced targets of c: got %v", got)
	}
	got, err := s.TargetCertificateIDs(ctx(t), t2.ID)
	if err != nil || !slices.Equal(got, sorted(c.ID, other.ID)) {
		t.Errorf("certificates of t2: got %v, %v", got, err)
	}

	bad := []string{t1.ID, "tgt-missing"}
	if err := s.SetCertificateTargets(ctx(t), c.ID, bad); !errors.Is(err, store.ErrConflict) {
		t.Errorf("an unknown target: got %v, want ErrConflict", err)
	}
	if got := mapped(c.ID); !slices.Equal(got, sorted(t2.ID, t3.ID)) {
		t.Errorf("after a refused mapping: got %v, want the old one", got)
	}
	// A caller that goes on after the refusal must not commit half of the replacement.
	txErr := s.InTx(ctx(t), func(q store.Queries) error {
		if err := q.SetCertificateTargets(ctx(t), c.ID, bad); !errors.Is(err,
			store.ErrConflict) {
			t.Errorf("an unknown target in a transaction: got %v, want ErrConflict", err)
		}
		return nil
	})
	if got := mapped(c.ID); !slices.Equal(got, sorted(t2.ID, t3.ID)) {
		t.Errorf("after a refused mapping in a transaction (which ended with %v): got %v, "+
			"want the old one", txErr, got)
	}
	if err := s.SetCertificateTargets(ctx(t), "cert-missing", []string{t1.ID}); !errors.Is(err,
		store.ErrConflict) {
		t.Errorf("an unknown certificate: got %v, want ErrConflict", err)
	}

	d := deployment(c, t3, store.JobCompleted, base)
	mustCreateJobs(t, s, d)
	if err := s.DeleteTarget(ctx(t), t3.ID); err != nil {
		t.Fatal(err)
	}
	if got := mapped(c.ID); !slices.Equal(got, []string{t2.ID}) {
		t.Errorf("after deleting t3: got %v, want only t2", got)
	}
	if _, err := s.GetJob(ctx(t), d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deployment to a deleted target: got %v, want it gone", err)
	}
	if err := s.DeleteTarget(ctx(t), t3.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: got %v, want ErrNotFound", err)
	}
	if err := s.SetCertificateTargets(ctx(t), c.ID, nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), mapped(c.ID), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("cleared mapping (-want +got):\n%s", diff)
	}
	if got, _ := s.TargetCertificateIDs(ctx(t), t2.ID); !slices.Equal(got, []string{other.ID}) {
		t.Errorf("another certificate's mapping was touched: t2 has %v", got)
	}
}

func testVerificationDue(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a := mustCreateAgent(t, s, "verifier")
	checked := target(a, "checked")
	checked.Config = []byte(`{"fullchain_path":"/srv/c.pem","verify":{"address":"127.0.0.1:443"}}`)
	if err := s.CreateTarget(ctx(t), checked); err != nil {
		t.Fatal(err)
	}
	plain := mustCreateTarget(t, s, a, "plain") // no verify
	before := store.UTC(base.Add(time.Hour))

	certs := map[string]store.Certificate{}
	for _, name := range []string{"due", "recent", "open", "never", "retrying", "gaveup",
		"unissued", "revoked"} {
		c := certificate(name)
		if name == "revoked" {
			c.Status = "Revoked"
		}
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		if name != "unissued" {
			if err := s.AddVersion(ctx(t), newVersion(c, "0b"+name, base)); err != nil {
				t.Fatal(err)
			}
		}
		err := s.SetCertificateTargets(ctx(t), c.ID, []string{checked.ID, plain.ID})
		if err != nil {
			t.Fatal(err)
		}
		certs[name] = c
	}
	job := func(name string, tg store.Target, status string, finished time.Time,
		attempts int) store.Job {
		j := deployment(certs[name], tg, status, base.Add(-time.Hour))
		j.Attempts, j.FinishedAt = attempts, store.UTC(finished)
		return j
	}
	long := base.Add(-30 * time.Minute)
	mustCreateJobs(t, s,
		job("due", checked, store.JobCompleted, long, 1),
		job("due", plain, store.JobCompleted, long, 1),
		job("recent", checked, store.JobCompleted, long, 1),
		job("recent", checked, store.JobCompleted, before, 1), // finished at before: recent
		job("open", checked, store.JobCompleted, long, 1),
		job("open", checked, store.JobPending, time.Time{}, 0),
		job("never", checked, store.JobFailed, long, 3),
		job("retrying", checked, store.JobCompleted, long, 1),
		job("retrying", checked, store.JobFailed, long, 1),
		job("gaveup", checked, store.JobCompleted, long.Add(-time.Hour), 1),
		job("gaveup", checked, store.JobFailed, long, 3),
		job("revoked", checked, store.JobCompleted, long, 1),
	)

	got, err := s.ListVerificationDue(ctx(t), before, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.CertificateTarget{{CertificateID: certs["due"].ID, TargetID: checked.ID},
		{CertificateID: certs["gaveup"].ID, TargetID: checked.ID}}
	slices.SortFunc(want, func(x, y store.CertificateTarget) int {
		return strings.Compare(x.CertificateID, y.CertificateID)
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("due for verification (-want +got):\n%s", diff)
	}
	if got, err := s.ListVerificationDue(ctx(t), before, 1); err != nil || len(got) != 1 ||
		got[0] != want[0] {
		t.Errorf("limit 1: got %v, %v; want %v", got, err, want[:1])
	}
}
