package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

// deployment is a Deployment job of c to target tg, created at at.
func deployment(c store.Certificate, tg store.Target, status string, at time.Time) store.Job {
	j := job(c, store.JobDeployment, at)
	j.Status, j.TargetID, j.AgentID = status, tg.ID, tg.AgentID
	return j
}

func mustCreateJobs(t *testing.T, s store.Store, jobs ...store.Job) {
	t.Helper()
	for _, j := range jobs {
		if err := s.CreateJob(ctx(t), j); err != nil {
			t.Fatalf("create %s job: %v", j.Type, err)
		}
	}
}

func mustCreateCertificates(t *testing.T, s store.Store, names ...string) []store.Certificate {
	t.Helper()
	var certs []store.Certificate
	for _, n := range names {
		c := certificate(n)
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return certs
}

func jobIDs(jobs []store.Job) []string {
	ids := []string{}
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func testDeploymentJobs(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a, b := mustCreateAgent(t, s, "a"), mustCreateAgent(t, s, "b")
	ta, tb := mustCreateTarget(t, s, a, "nginx"), mustCreateTarget(t, s, b, "nginx")
	certs := mustCreateCertificates(t, s, "one", "two")
	one, two := certs[0], certs[1]

	d := deployment(one, ta, store.JobPending, base)
	mustCreateJobs(t, s, d)
	got, err := s.GetJob(ctx(t), d.ID)
	if diff := cmp.Diff(d, got); err != nil || diff != "" {
		t.Errorf("deployment round trip: %v (-want +got):\n%s", err, diff)
	}

	started := store.UTC(base.Add(time.Minute))
	d.Status, d.StartedAt, d.UpdatedAt = store.JobRunning, started, started
	d.Result = []byte(`{"result": "deployed", "steps": [{"name": "write", "ok": true}]}`)
	moved := d
	moved.TargetID = tb.ID
	if err := s.UpdateJob(ctx(t), moved); err != nil {
		t.Fatal(err)
	}
	got, _ = s.GetJob(ctx(t), d.ID)
	if got.TargetID != ta.ID || got.Status != store.JobRunning ||
		!got.StartedAt.Equal(started) || !jsonEqual(got.Result, d.Result) {
		t.Errorf("after update: got target %s, status %s, started %v, result %s; want "+
			"target %s kept as created", got.TargetID, got.Status, got.StartedAt, got.Result,
			ta.ID)
	}

	// The renewal of one is open beside its deployment; OpenJob sees only the renewal.
	renewal := job(one, store.JobRenewal, base.Add(2*time.Minute))
	csr := job(two, store.JobIssuance, base.Add(3*time.Minute))
	csr.Status, csr.AgentID = store.JobAwaitingCSR, a.ID
	elsewhere := deployment(two, tb, store.JobPending, base.Add(4*time.Minute))
	done := deployment(two, ta, store.JobCompleted, base.Add(5*time.Minute))
	mustCreateJobs(t, s, renewal, csr, elsewhere, done)
	if open, err := s.OpenJob(ctx(t), one.ID); err != nil || open.ID != renewal.ID {
		t.Errorf("open job beside a deployment: got %s, %v; want the renewal", open.ID, err)
	}
	if _, err := s.OpenJob(ctx(t), two.ID); err != nil {
		t.Errorf("open issuance of two: %v", err)
	}
	three := mustCreateCertificates(t, s, "three")[0]
	mustCreateJobs(t, s, deployment(three, ta, store.JobPending, base.Add(6*time.Minute)))
	if _, err := s.OpenJob(ctx(t), three.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("open job with only a deployment: got %v, want ErrNotFound", err)
	}

	work, err := s.ListAgentWork(ctx(t), a.ID, 10)
	want := []string{d.ID, csr.ID}
	if err != nil || len(work) != 3 || !slices.Equal(jobIDs(work[:2]), want) {
		t.Errorf("work of a: got %v, %v; want %v and the deployment of three, oldest "+
			"first", jobIDs(work), err, want)
	}
	if work, _ := s.ListAgentWork(ctx(t), a.ID, 1); len(work) != 1 {
		t.Errorf("work with limit 1: got %d jobs", len(work))
	}
	if work, _ := s.ListAgentWork(ctx(t), b.ID, 10); !slices.Equal(jobIDs(work),
		[]string{elsewhere.ID}) {
		t.Errorf("work of b: got %v, want only %s", jobIDs(work), elsewhere.ID)
	}

	for f, want := range map[store.JobFilter]int{{AgentID: a.ID}: 4, {TargetID: ta.ID}: 3,
		{TargetID: tb.ID, CertificateID: two.ID}: 1, {AgentID: b.ID, TargetID: ta.ID}: 0} {
		if n, err := s.CountJobs(ctx(t), f); err != nil || n != want {
			t.Errorf("count %+v: got %d, %v; want %d", f, n, err, want)
		}
	}
	list, _, err := s.ListJobs(ctx(t), store.JobFilter{AgentID: b.ID}, store.Page{Limit: 10})
	if err != nil || !slices.Equal(jobIDs(list), []string{elsewhere.ID}) {
		t.Errorf("list jobs of b: got %v, %v", jobIDs(list), err)
	}

	if open, err := s.OpenDeployments(ctx(t), one.ID, ta.ID); err != nil ||
		!slices.Equal(jobIDs(open), []string{d.ID}) {
		t.Errorf("open deployments of one to ta: got %v, %v", jobIDs(open), err)
	}
	if open, _ := s.OpenDeployments(ctx(t), two.ID, ta.ID); len(open) != 0 {
		t.Errorf("a completed deployment is not open: got %v", jobIDs(open))
	}
	if open, _ := s.OpenDeployments(ctx(t), one.ID, tb.ID); len(open) != 0 {
		t.Errorf("no deployment of one to tb: got %v", jobIDs(open))
	}
}

func testRetryDue(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a := mustCreateAgent(t, s, "a")
	ta := mustCreateTarget(t, s, a, "files")
	c := mustCreateCertificates(t, s, "retried")[0]
	failed := func(typ string, attempts int, due time.Duration) store.Job {
		j := deployment(c, ta, store.JobFailed, base.Add(due))
		if typ != store.JobDeployment {
			j = job(c, typ, base.Add(due))
			j.Status = store.JobFailed
		}
		j.Attempts, j.MaxAttempts = attempts, 3
		return j
	}
	first := failed(store.JobDeployment, 1, time.Hour)
	second := failed(store.JobDeployment, 2, 2*time.Hour)
	spent := failed(store.JobDeployment, 3, 0)
	renewal := failed(store.JobRenewal, 1, 0)
	waiting := deployment(c, ta, store.JobPending, base)
	mustCreateJobs(t, s, first, second, spent, renewal, waiting)

	for _, tc := range []struct {
		name  string
		typ   string
		now   time.Duration
		limit int
		want  []string
	}{
		{"none due yet", store.JobDeployment, 30 * time.Minute, 10, []string{}},
		{"one due", store.JobDeployment, 90 * time.Minute, 10, []string{first.ID}},
		{"both due, by due time", store.JobDeployment, 3 * time.Hour, 10,
			[]string{first.ID, second.ID}},
		{"limit", store.JobDeployment, 3 * time.Hour, 1, []string{first.ID}},
		{"other type", store.JobRenewal, 3 * time.Hour, 10, []string{renewal.ID}},
	} {
		got, err := s.ListRetryDue(ctx(t), tc.typ, base.Add(tc.now), tc.limit)
		if err != nil || !slices.Equal(jobIDs(got), tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.name, jobIDs(got), err, tc.want)
		}
	}
}

// testWorkVersion checks that an agent's work version grows with every write to its jobs,
// targets and their mappings, and with nothing else.
func testWorkVersion(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a, b := mustCreateAgent(t, s, "a"), mustCreateAgent(t, s, "b")
	c := mustCreateCertificates(t, s, "worked")[0]
	ta := target(a, "nginx")
	server := job(c, store.JobIssuance, base)
	d := deployment(c, ta, store.JobPending, base)
	at := store.UTC(base.Add(time.Hour))

	steps := []struct {
		name         string
		do           func() error
		bumpA, bumpB bool
	}{
		{"heartbeat of a", func() error {
			return s.RecordHeartbeat(ctx(t), a.ID, store.AgentHost{Hostname: "h"}, at)
		}, false, false},
		{"create a's target", func() error { return s.CreateTarget(ctx(t), ta) }, true, false},
		{"update a's target", func() error {
			ta.Name = "nginx-main"
			return s.UpdateTarget(ctx(t), ta)
		}, true, false},
		{"map the certificate to a's target", func() error {
			return s.SetCertificateTargets(ctx(t), c.ID, []string{ta.ID})
		}, true, false},
		{"create a job of no agent", func() error { return s.CreateJob(ctx(t), server) },
			false, false},
		{"update a job of no agent", func() error {
			server.Status = store.JobRunning
			return updateJob(t, s, &server)
		}, false, false},
		{"create a's deployment", func() error { return s.CreateJob(ctx(t), d) }, true, false},
		{"update a's deployment", func() error {
			d.Status = store.JobRunning
			return updateJob(t, s, &d)
		}, true, false},
		{"move the deployment to b", func() error {
			d.AgentID = b.ID
			return updateJob(t, s, &d)
		}, true, true},
		{"finish b's deployment", func() error {
			d.Status, d.FinishedAt = store.JobCompleted, base
			return updateJob(t, s, &d)
		}, false, true},
		{"delete b's finished deployment", func() error {
			_, err := s.DeleteFinishedJobs(ctx(t), at, 10)
			return err
		}, false, true},
		{"unmap the certificate", func() error {
			return s.SetCertificateTargets(ctx(t), c.ID, nil)
		}, true, false},
		{"delete a's target", func() error { return s.DeleteTarget(ctx(t), ta.ID) },
			true, false},
		{"retire a", func() error { return s.RetireAgent(ctx(t), a.ID, "x", at) },
			false, false},
	}
	work := func(id string) int64 {
		t.Helper()
		got, err := s.GetAgent(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		return got.WorkVersion
	}
	for _, st := range steps {
		beforeA, beforeB := work(a.ID), work(b.ID)
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, w := range []struct {
			agent        string
			before, now  int64
			wantIncrease bool
		}{{"a", beforeA, work(a.ID), st.bumpA}, {"b", beforeB, work(b.ID), st.bumpB}} {
			if grew := w.now > w.before; grew != w.wantIncrease {
				t.Errorf("%s: work version of %s went from %d to %d; want growth %v",
					st.name, w.agent, w.before, w.now, w.wantIncrease)
			}
		}
	}
}

// testAgentWriteRace has heartbeats and job writes of one agent, outside transactions, race
// transactions that write that agent's jobs: every write must succeed, none may deadlock.
func testAgentWriteRace(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	a := mustCreateAgent(t, s, "busy")
	ta := mustCreateTarget(t, s, a, "files")
	c := mustCreateCertificates(t, s, "busy")[0]
	const rounds = 30
	var wg sync.WaitGroup
	errs := make(chan error, 4*rounds)
	run := func(do func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if err := do(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	run(func(i int) error {
		return s.RecordHeartbeat(ctx(t), a.ID, store.AgentHost{}, base)
	})
	run(func(i int) error {
		return s.CreateJob(ctx(t), deployment(c, ta, store.JobCompleted, base))
	})
	for range 2 {
		run(func(i int) error {
			return s.InTx(ctx(t), func(q store.Queries) error {
				if _, err := q.CountJobs(ctx(t), store.JobFilter{}); err != nil {
					return err
				}
				time.Sleep(time.Millisecond) // let the others queue behind the counters
				return q.CreateJob(ctx(t), deployment(c, ta, store.JobCompleted, base))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("write: %v", err)
	}
}

// updateJob updates *j and, when that worked, moves j to the version the store now holds,
// as a caller that goes on with the same job does.
func updateJob(t *testing.T, s store.Store, j *store.Job) error {
	t.Helper()
	if err := s.UpdateJob(ctx(t), *j); err != nil {
		return err
	}
	j.Version++
	return nil
}
