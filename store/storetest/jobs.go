package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func job(c store.Certificate, typ string, due time.Time) store.Job {
	return store.Job{ID: store.NewID("job"), Type: typ, CertificateID: c.ID,
		Status: store.JobPending, MaxAttempts: 3, NextAttemptAt: store.UTC(due),
		RequestedBy: "apikey:test", CreatedAt: store.UTC(due), UpdatedAt: store.UTC(due)}
}

func testJobs(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	c := certificate("jobbed")
	if err := s.CreateCertificate(ctx(t), c); err != nil {
		t.Fatal(err)
	}
	j := job(c, store.JobIssuance, base)
	if err := s.CreateJob(ctx(t), j); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetJob(ctx(t), j.ID)
	if diff := cmp.Diff(j, got); err != nil || diff != "" {
		t.Errorf("job round trip: %v (-want +got):\n%s", err, diff)
	}
	if open, err := s.OpenJob(ctx(t), c.ID); err != nil || open.ID != j.ID {
		t.Errorf("open job: got %v, %v", open.ID, err)
	}

	if _, err := s.ClaimJob(ctx(t), []string{store.JobRenewal}, base.Add(time.Hour)); !errors.Is(
		err, store.ErrNotFound) {
		t.Errorf("claim of another type: got %v, want ErrNotFound", err)
	}
	if _, err := s.ClaimJob(ctx(t), []string{store.JobIssuance}, base.Add(-time.Second)); !errors.Is(
		err, store.ErrNotFound) {
		t.Errorf("claim before the job is due: got %v, want ErrNotFound", err)
	}
	claimed, err := s.ClaimJob(ctx(t), []string{store.JobIssuance, store.JobRenewal}, base)
	if err != nil || claimed.ID != j.ID || claimed.Status != store.JobRunning ||
		claimed.Attempts != 1 {
		t.Fatalf("claim: got %+v, %v", claimed, err)
	}
	if _, err := s.ClaimJob(ctx(t), []string{store.JobIssuance}, base); !errors.Is(err,
		store.ErrNotFound) {
		t.Errorf("claim a running job: got %v, want ErrNotFound", err)
	}

	claimed.Status, claimed.LastError = store.JobCompleted, ""
	claimed.FinishedAt, claimed.UpdatedAt = store.UTC(base.Add(time.Minute)), store.UTC(base.Add(time.Minute))
	if err := s.UpdateJob(ctx(t), claimed); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetJob(ctx(t), j.ID); got.Status != store.JobCompleted ||
		!got.FinishedAt.Equal(claimed.FinishedAt) {
		t.Errorf("after update: got %+v", got)
	}
	if _, err := s.OpenJob(ctx(t), c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("open job after completion: got %v, want ErrNotFound", err)
	}

	later := job(c, store.JobRenewal, base.Add(time.Hour))
	if err := s.CreateJob(ctx(t), later); err != nil {
		t.Fatal(err)
	}
	twice := job(c, store.JobRenewal, base.Add(time.Hour))
	if err := s.CreateJob(ctx(t), twice); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second open renewal of one certificate: got %v, want ErrConflict", err)
	}
	list, _, err := s.ListJobs(ctx(t), store.JobFilter{CertificateID: c.ID}, store.Page{Limit: 10})
	if err != nil || len(list) != 2 || list[0].ID != later.ID {
		t.Errorf("jobs newest first: got %v, %v", list, err)
	}
	first, next, err := s.ListJobs(ctx(t), store.JobFilter{}, store.Page{Limit: 1})
	if err != nil || len(first) != 1 || next == "" {
		t.Fatalf("first page of jobs: got %v, %q, %v", first, next, err)
	}
	second, _, err := s.ListJobs(ctx(t), store.JobFilter{}, store.Page{Limit: 1, After: next})
	if err != nil || len(second) != 1 || second[0].ID != j.ID || first[0].ID != later.ID {
		t.Errorf("keyset pages of jobs: got %v then %v, %v; want the newer then the older",
			first, second, err)
	}
	if n, err := s.DeleteFinishedJobs(ctx(t), claimed.FinishedAt, 10); err != nil || n != 0 {
		t.Errorf("delete jobs finished before the only finished one: got %d, %v; want 0", n,
			err)
	}
	defer func() {
		n, err := s.DeleteFinishedJobs(ctx(t), claimed.FinishedAt.Add(time.Second), 10)
		if err != nil || n != 1 {
			t.Errorf("delete finished jobs: got %d, %v; want the completed one", n, err)
		}
		if _, err := s.GetJob(ctx(t), later.ID); err != nil {
			t.Errorf("an open job was deleted: %v", err)
		}
	}()
	for f, want := range map[store.JobFilter]int{{Type: store.JobRenewal}: 1,
		{Status: store.JobCompleted}: 1, {Status: store.JobFailed}: 0} {
		if n, err := s.CountJobs(ctx(t), f); err != nil || n != want {
			t.Errorf("count %+v: got %d, %v; want %d", f, n, err, want)
		}
	}
}

// testJobClaimOrder pins the order of claims: the types in the order given, and within a
// type the job due first, whatever order the jobs were created in.
func testJobClaimOrder(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	var jobs []store.Job
	for i, spec := range []struct {
		typ string
		due time.Duration
	}{{store.JobRenewal, 0}, {store.JobIssuance, 3 * time.Minute},
		{store.JobIssuance, time.Minute}, {store.JobRenewal, -time.Minute}} {
		c := certificate(fmt.Sprintf("ordered-%d", i))
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		j := job(c, spec.typ, base.Add(spec.due))
		if err := s.CreateJob(ctx(t), j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	var got []string
	for {
		j, err := s.ClaimJob(ctx(t), []string{store.JobIssuance, store.JobRenewal},
			base.Add(time.Hour))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, j.ID)
	}
	want := []string{jobs[2].ID, jobs[1].ID, jobs[3].ID, jobs[0].ID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claim order (-want +got):\n%s", diff)
	}
}

// testJobClaimsAreExclusive has several workers claim many jobs at once: every job is
// claimed exactly once.
func testJobClaimsAreExclusive(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	const jobs = 40
	for i := 0; i < jobs; i++ {
		c := certificate(fmt.Sprintf("many-%d", i))
		if err := s.CreateCertificate(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateJob(ctx(t), job(c, store.JobRenewal, base)); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claims := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j, err := s.ClaimJob(ctx(t), []string{store.JobRenewal}, base.Add(time.Second))
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				mu.Lock()
				claims[j.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claims) != jobs {
		t.Errorf("claimed %d distinct jobs, want %d", len(claims), jobs)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
}

func testJobVersions(t *testing.T, h Harness) {
	s := h.Open(t)
	pkiFixture(t, s)
	c := mustCreateCertificates(t, s, "versioned")[0]
	j := job(c, store.JobIssuance, base)
	mustCreateJobs(t, s, j)
	read := func() store.Job {
		t.Helper()
		got, err := s.GetJob(ctx(t), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if v := read().Version; v != 0 {
		t.Fatalf("new job: version %d, want 0", v)
	}

	stale := read()
	claimed, err := s.ClaimJob(ctx(t), []string{store.JobIssuance}, base.Add(time.Minute))
	if err != nil || claimed.ID != j.ID || claimed.Version != 1 {
		t.Fatalf("claim: got %+v, %v; want the job at version 1", claimed, err)
	}
	stale.Status, stale.LastError = store.JobCancelled, "late writer"
	if err := s.UpdateJob(ctx(t), stale); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update over a claim: got %v, want ErrConflict", err)
	}
	if got := read(); got.Status != store.JobRunning || got.LastError != "" {
		t.Fatalf("a refused update changed the job: %+v", got)
	}

	claimed.Status, claimed.FinishedAt = store.JobCompleted, store.UTC(base.Add(time.Hour))
	if err := s.UpdateJob(ctx(t), claimed); err != nil {
		t.Fatalf("update at the version read: %v", err)
	}
	if got := read(); got.Status != store.JobCompleted || got.Version != 2 {
		t.Fatalf("after the update: %s at version %d, want Completed at 2", got.Status,
			got.Version)
	}
	if err := s.UpdateJob(ctx(t), claimed); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the same update twice: got %v, want ErrConflict", err)
	}
	missing := j
	missing.ID = "job-missing"
	if err := s.UpdateJob(ctx(t), missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing job: got %v, want ErrNotFound", err)
	}
}
