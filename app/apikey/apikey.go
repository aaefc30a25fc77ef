// Package apikey manages the API keys stored in the database.
package apikey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"certctl/app/audit"
	"certctl/app/auth"
	"certctl/app/valid"
	"certctl/store"
)

// Keys manages stored API keys, each change audited in the same transaction.
type Keys struct {
	st  store.Store
	now func() time.Time
}

// NewKeys returns a key manager on st.
func NewKeys(st store.Store, now func() time.Time) *Keys { return &Keys{st: st, now: now} }

// Create stores a new key named name with role and returns it with its secret, which exists
// nowhere else afterwards: only its hash is kept.
func (k *Keys) Create(ctx context.Context, name, role string) (store.APIKey, string, error) {
	e := valid.Errors{}
	name = e.Text("name", name, 1, 100)
	if _, err := auth.ParseRole(role); err != nil {
		e.Add("role", "must be viewer, operator or admin")
	}
	if err := e.Err(); err != nil {
		return store.APIKey{}, "", err
	}
	secret := auth.NewKey()
	now := store.UTC(k.now())
	key := store.APIKey{ID: store.NewID("key"), Name: name, Role: role, Hash: auth.Hash(secret),
		Prefix: auth.DisplayPrefix(secret), CreatedBy: actor(ctx), CreatedAt: now}
	err := k.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateAPIKey(ctx, key); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return &valid.Conflict{Message: fmt.Sprintf("an API key named %q exists", name),
					Fields: map[string]string{"name": "is already taken by a valid key"}}
			}
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "apikey.create", "api_key", key.ID,
			map[string]any{"name": name, "role": role, "prefix": key.Prefix}))
	})
	if err != nil {
		return store.APIKey{}, "", fmt.Errorf("create api key: %w", err)
	}
	return key, secret, nil
}

// Revoke makes key id unusable from now on.
func (k *Keys) Revoke(ctx context.Context, id string) error {
	err := k.st.InTx(ctx, func(q store.Queries) error {
		key, err := q.GetAPIKey(ctx, id)
		if err != nil {
			return err
		}
		if !key.RevokedAt.IsZero() {
			return &valid.Conflict{Message: "the API key is already revoked"}
		}
		now := store.UTC(k.now())
		if err := q.RevokeAPIKey(ctx, id, now); err != nil {
			return err
		}
		return q.AppendAudit(ctx, audit.Event(ctx, now, "apikey.revoke", "api_key", id,
			map[string]any{"name": key.Name}))
	})
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return nil
}

// List returns every key, revoked ones included.
func (k *Keys) List(ctx context.Context) ([]store.APIKey, error) {
	return k.st.ListAPIKeys(ctx)
}

func actor(ctx context.Context) string {
	if a := auth.PrincipalFrom(ctx).Actor; a != "" {
		return a
	}
	return "system"
}
