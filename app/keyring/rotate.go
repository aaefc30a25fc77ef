package keyring

import (
	"context"
	"fmt"

	"certctl/app/secret"
	"certctl/store"
)

// Resealer re-encrypts the blobs one part of the server sealed, from old to new, inside the
// rotation's transaction.
type Resealer func(ctx context.Context, q store.Queries, old, new secret.Key) (int, error)

// Rotate re-encrypts everything sealed with old under new and records new's check value,
// all in one transaction: either every blob moves to the new key or none does. It returns
// how many blobs moved. Servers hold the key in memory, so every server sharing the
// database must be stopped first and started again with the new key.
func Rotate(ctx context.Context, st store.Store, old, new secret.Key,
	parts ...Resealer) (int, error) {
	moved := 0
	err := st.WithLock(ctx, "encryption-key", func(q store.Queries) error {
		stored, err := q.GetSetting(ctx, checkSetting)
		if err != nil {
			return fmt.Errorf("read key check value: %w", err)
		}
		if !old.Matches(stored) {
			return ErrWrongKey
		}
		for _, reseal := range parts {
			n, err := reseal(ctx, q, old, new)
			if err != nil {
				return err
			}
			moved += n
		}
		return q.PutSetting(ctx, checkSetting, new.CheckValue())
	})
	if err != nil {
		return 0, fmt.Errorf("rotate encryption key: %w", err)
	}
	return moved, nil
}
