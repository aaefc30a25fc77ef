-- A worker claims the oldest due job of one type at a time. With the id in the index too,
-- the claim reads the first due entry in index order instead of sorting every due job of
-- the type, which a queue of thousands of renewals would otherwise cost on every claim.

-- +goose Up
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (status, type, next_attempt_at, id);

-- +goose Down
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (status, type, next_attempt_at);
