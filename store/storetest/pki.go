package storetest

import (
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func issuer(id string) store.Issuer {
	return store.Issuer{ID: id, Name: "Issuer " + id, Type: "local",
		Config: []byte(`{"key_spec":"ecdsa-p256"}`), CreatedAt: store.UTC(base),
		UpdatedAt: store.UTC(base)}
}

func testIssuers(t *testing.T, h Harness) {
	s := h.Open(t)
	want := issuer("iss-a")
	if err := s.CreateIssuer(ctx(t), want); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateIssuer(ctx(t), want); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate issuer: got %v, want ErrConflict", err)
	}
	got, err := s.GetIssuer(ctx(t), "iss-a")
	if diff := cmp.Diff(want, got, sameJSONBytes); err != nil || diff != "" {
		t.Errorf("get issuer: %v (-want +got):\n%s", err, diff)
	}
	want.Config, want.UpdatedAt = []byte(`{"key_spec":"rsa-2048"}`), store.UTC(base.Add(time.Hour))
	if err := s.UpdateIssuer(ctx(t), want); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListIssuers(ctx(t))
	if err != nil || len(list) != 1 || !jsonEqual(list[0].Config, want.Config) {
		t.Errorf("list issuers: got %v, %v", list, err)
	}
	if _, err := s.GetIssuer(ctx(t), "iss-missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing issuer: got %v, want ErrNotFound", err)
	}

	var certs []store.CACert
	for i, kind := range []string{"root", "intermediate", "intermediate"} {
		c := store.CACert{ID: store.NewID("cac"), IssuerID: "iss-a", Kind: kind,
			CertPEM: "pem", KeySealed: []byte{1, 2, byte(i)},
			NotBefore: store.UTC(base), NotAfter: store.UTC(base.Add(time.Hour)),
			CreatedAt: store.UTC(base.Add(time.Duration(i) * time.Minute))}
		if err := s.CreateCACert(ctx(t), c); err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	inter, err := s.ListCACerts(ctx(t), "iss-a", "intermediate")
	if err != nil || len(inter) != 2 || inter[0].ID != certs[2].ID {
		t.Fatalf("intermediates newest first: got %v, %v", inter, err)
	}
	if diff := cmp.Diff(certs[2], inter[0]); diff != "" {
		t.Errorf("CA cert round trip (-want +got):\n%s", diff)
	}
	if err := s.ResealCACert(ctx(t), certs[0].ID, []byte{9}); err != nil {
		t.Fatal(err)
	}
	roots, _ := s.ListCACerts(ctx(t), "iss-a", "root")
	if len(roots) != 1 || string(roots[0].KeySealed) != "\x09" {
		t.Errorf("resealed root: got %v", roots)
	}
}

// jsonEqual compares JSON documents by meaning, since PostgreSQL normalises jsonb.
func jsonEqual(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
}

var sameJSONBytes = cmp.FilterPath(func(p cmp.Path) bool {
	return p.Last().String() == ".Config"
}, cmp.Comparer(jsonEqual))

func testSettings(t *testing.T, h Harness) {
	s := h.Open(t)
	if _, err := s.GetSetting(ctx(t), "kcv"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unset setting: got %v, want ErrNotFound", err)
	}
	// Racing writers: exactly one value wins and everyone sees it.
	var wg sync.WaitGroup
	got := make([]string, 6)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.PutSettingIfAbsent(ctx(t), "kcv", string(rune('a'+i)))
			if err != nil {
				t.Errorf("put if absent: %v", err)
			}
			got[i] = v
		}()
	}
	wg.Wait()
	stored, err := s.GetSetting(ctx(t), "kcv")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != stored {
			t.Errorf("caller %d saw %q, stored is %q", i, v, stored)
		}
	}
	if err := s.PutSetting(ctx(t), "kcv", "new"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetSetting(ctx(t), "kcv"); v != "new" {
		t.Errorf("after put: got %q, want new", v)
	}
}

// testLocker checks that WithLock serialises: concurrent holders never overlap, and work
// done under the lock commits.
func testLocker(t *testing.T, h Harness) {
	s := h.Open(t)
	var mu sync.Mutex
	inside, overlap := 0, false
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.WithLock(ctx(t), "ca:iss-a", func(q store.Queries) error {
				mu.Lock()
				inside++
				overlap = overlap || inside > 1
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
				mu.Lock()
				inside--
				mu.Unlock()
				_, err := q.PutSettingIfAbsent(ctx(t), "made-by-lock", "yes")
				return err
			})
			if err != nil {
				t.Errorf("WithLock: %v", err)
			}
		}()
	}
	wg.Wait()
	if overlap {
		t.Error("two holders were inside the lock at once")
	}
	if v, err := s.GetSetting(ctx(t), "made-by-lock"); err != nil || v != "yes" {
		t.Errorf("work under the lock: got %q, %v", v, err)
	}
}
