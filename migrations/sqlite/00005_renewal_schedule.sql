-- When each certificate is due for renewal, as its renewal policy decides for its current
-- version; set by the server whenever a version is added or the policy changes.

-- +goose Up
ALTER TABLE certificates ADD COLUMN renew_at TEXT;
CREATE INDEX certificates_renew_at ON certificates (renew_at) WHERE renew_at IS NOT NULL;
-- At most one issuance or renewal of a certificate is under way at a time, also when two
-- replicas decide to renew it at the same moment.
CREATE UNIQUE INDEX jobs_open ON jobs (certificate_id)
    WHERE type IN ('Issuance', 'Renewal')
      AND status IN ('Pending', 'AwaitingCSR', 'AwaitingApproval', 'Running');
CREATE INDEX jobs_idle ON jobs (status, updated_at);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- +goose Down
DROP INDEX jobs_finished;
DROP INDEX jobs_idle;
DROP INDEX jobs_open;
DROP INDEX certificates_renew_at;
ALTER TABLE certificates DROP COLUMN renew_at;
