package postgres

import (
	"context"
	"fmt"
)

// GetSetting implements store.SettingQueries.
func (q queries) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.db.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("get setting %s: %w", name, translate(err))
	}
	return v, nil
}

// PutSettingIfAbsent implements store.SettingQueries.
func (q queries) PutSettingIfAbsent(ctx context.Context, name, value string) (string, error) {
	// A racing insert waits for the first one to commit and then does nothing; the read
	// that follows is a new statement, so under read committed it sees the winner's value.
	_, err := q.db.Exec(ctx,
		`INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
		name, value)
	if err != nil {
		return "", fmt.Errorf("put setting %s: %w", name, translate(err))
	}
	return q.GetSetting(ctx, name)
}

// PutSetting implements store.SettingQueries.
func (q queries) PutSetting(ctx context.Context, name, value string) error {
	_, err := q.db.Exec(ctx,
		`INSERT INTO settings (name, value) VALUES ($1, $2)
		 ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		name, value)
	if err != nil {
		return fmt.Errorf("put setting %s: %w", name, translate(err))
	}
	return nil
}
