package storetest

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"certctl/store"

	"github.com/google/go-cmp/cmp"
)

func apiKey(name, secret string) store.APIKey {
	sum := sha256.Sum256([]byte(secret))
	return store.APIKey{ID: store.NewID("key"), Name: name, Role: "operator", Hash: sum[:],
		Prefix: secret[:6], CreatedBy: "test", CreatedAt: store.UTC(base)}
}

func testAPIKeys(t *testing.T, h Harness) {
	s := h.Open(t)
	k := apiKey("deploy", "secret-one")
	if err := s.CreateAPIKey(ctx(t), k); err != nil {
		t.Fatalf("create api key: %v", err)
	}
	got, err := s.GetAPIKeyByHash(ctx(t), k.Hash)
	if diff := cmp.Diff(k, got); err != nil || diff != "" {
		t.Errorf("by hash: %v (-want +got):\n%s", err, diff)
	}
	other := sha256.Sum256([]byte("secret-two"))
	if _, err := s.GetAPIKeyByHash(ctx(t), other[:]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown hash: got %v, want ErrNotFound", err)
	}
	if err := s.CreateAPIKey(ctx(t), apiKey("deploy", "secret-two")); !errors.Is(err,
		store.ErrConflict) {
		t.Errorf("second active key with the same name: got %v, want ErrConflict", err)
	}
	bad := apiKey("bad-role", "secret-three")
	bad.Role = "root"
	if err := s.CreateAPIKey(ctx(t), bad); err == nil {
		t.Error("unknown role: got nil error, want the database to refuse it")
	}

	used := store.UTC(base.Add(time.Hour))
	if err := s.TouchAPIKey(ctx(t), k.ID, used, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchAPIKey(ctx(t), k.ID, used.Add(time.Second), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetAPIKey(ctx(t), k.ID); !got.LastUsedAt.Equal(used) {
		t.Errorf("last used: got %v, want %v (a second use within the interval is not written)",
			got.LastUsedAt, used)
	}

	revoked := store.UTC(base.Add(2 * time.Hour))
	if err := s.RevokeAPIKey(ctx(t), k.ID, revoked); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeAPIKey(ctx(t), k.ID, revoked); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke twice: got %v, want ErrNotFound", err)
	}
	if got, _ := s.GetAPIKeyByHash(ctx(t), k.Hash); !got.RevokedAt.Equal(revoked) {
		t.Errorf("revoked at: got %v, want %v", got.RevokedAt, revoked)
	}
	if err := s.CreateAPIKey(ctx(t), apiKey("deploy", "secret-four")); err != nil {
		t.Errorf("reuse the name of a revoked key: %v", err)
	}
	if keys, err := s.ListAPIKeys(ctx(t)); err != nil || len(keys) != 2 {
		t.Errorf("list: got %d keys, %v; want 2", len(keys), err)
	}
}
