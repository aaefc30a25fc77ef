package postgres

import (
	"context"
	"fmt"
)

// ChangeVersion implements store.ChangeQueries.
func (q queries) ChangeVersion(ctx context.Context, area string) (int64, error) {
	var v int64
	err := q.db.QueryRow(ctx, `SELECT version FROM changes WHERE area = $1`, area).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("read change counter %s: %w", area, translate(err))
	}
	return v, nil
}
