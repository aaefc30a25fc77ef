package sqlite

import (
	"context"
	"fmt"
)

// GetSetting implements store.SettingQueries.
func (q queries) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := q.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if err != nil {
		return "", fmt.Errorf("get setting %s: %w", name, translate(err))
	}
	return v, nil
}

// PutSettingIfAbsent implements store.SettingQueries.
func (q queries) PutSettingIfAbsent(ctx context.Context, name, value string) (string, error) {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
		name, value)
	if err != nil {
		return "", fmt.Errorf("put setting %s: %w", name, translate(err))
	}
	// Read back on the writer, which sees its own write; when callers race, the first
	// insert wins and every caller reads that value.
	var stored string
	err = q.w.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).
		Scan(&stored)
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, translate(err))
	}
	return stored, nil
}

// PutSetting implements store.SettingQueries.
func (q queries) PutSetting(ctx context.Context, name, value string) error {
	_, err := q.w.ExecContext(ctx,
		`INSERT INTO settings (name, value) VALUES (?, ?)
		 ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		name, value)
	if err != nil {
		return fmt.Errorf("put setting %s: %w", name, translate(err))
	}
	return nil
}
