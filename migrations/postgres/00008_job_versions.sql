-- Every write to a job increases its version, and an update names the version it read:
-- a job changed by someone else in between (the timeout loop requeued it, an agent
-- reported on it, an operator cancelled it) is not overwritten with what the late writer
-- read before.

-- +goose Up
ALTER TABLE jobs ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE jobs DROP COLUMN version;
