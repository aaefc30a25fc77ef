-- Expiry alert thresholds of renewal policies, as JSON lists of seconds before expiry.

-- +goose Up
ALTER TABLE renewal_policies ADD COLUMN alert_before_seconds TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE renewal_policies DROP COLUMN alert_before_seconds;
