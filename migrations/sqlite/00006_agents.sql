-- Agents and their one-time enrollment tokens, deployment targets and the certificates mapped
-- to them, discovered certificates, discovery scans and network scan targets; jobs learn
-- which target and agent they belong to, the agent's report and when a deployment started.
--
-- An agent's work_version grows, by trigger, whenever one of its jobs or targets or a
-- certificate mapping of its targets is written, so the agent's work can be tagged with it.
-- Network discoveries and scans have agent_id '' (no reference), so that the uniqueness of
-- a discovery covers them too. An enrollment token that never expires has expires_at NULL.

-- +goose Up
INSERT INTO changes (area) VALUES ('agents'), ('targets'), ('discovered');

CREATE TABLE agents (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    hostname          TEXT NOT NULL DEFAULT '',
    os                TEXT NOT NULL DEFAULT '',
    architecture      TEXT NOT NULL DEFAULT '',
    version           TEXT NOT NULL DEFAULT '',
    addresses         TEXT NOT NULL DEFAULT '[]',
    allowed_paths     TEXT NOT NULL DEFAULT '[]',
    status            TEXT NOT NULL CHECK (status IN ('Online', 'Offline', 'Retired')),
    credential_hash   BLOB,
    credential_prefix TEXT NOT NULL DEFAULT '',
    work_version      INTEGER NOT NULL DEFAULT 0,
    last_heartbeat_at TEXT,
    retired_at        TEXT,
    retired_reason    TEXT NOT NULL DEFAULT '',
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE UNIQUE INDEX agents_active_name ON agents (lower(name)) WHERE status <> 'Retired';
CREATE UNIQUE INDEX agents_credential ON agents (credential_hash)
    WHERE credential_hash IS NOT NULL;
CREATE INDEX agents_name ON agents (lower(name), id);
CREATE INDEX agents_status ON agents (status, lower(name), id);

-- agent_id has no reference: a token may be spent before the agent it enrols is stored.
CREATE TABLE enrollment_tokens (
    id         TEXT PRIMARY KEY,
    hash       BLOB NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    name       TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    used_at    TEXT,
    agent_id   TEXT
);
CREATE INDEX enrollment_tokens_created ON enrollment_tokens (created_at, id);

CREATE TABLE targets (
    id             TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL REFERENCES agents (id) ON DELETE RESTRICT,
    name           TEXT NOT NULL,
    type           TEXT NOT NULL,
    config         TEXT NOT NULL DEFAULT '{}',
    secrets_sealed BLOB,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX targets_agent_name ON targets (agent_id, lower(name));
CREATE INDEX targets_name ON targets (lower(name), id);

CREATE TABLE certificate_targets (
    certificate_id TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    target_id      TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    PRIMARY KEY (certificate_id, target_id)
);
CREATE INDEX certificate_targets_target ON certificate_targets (target_id, certificate_id);

CREATE TABLE discovered_certificates (
    id             TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL DEFAULT '',
    location       TEXT NOT NULL,
    format         TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    subject        TEXT NOT NULL DEFAULT '',
    common_name    TEXT NOT NULL DEFAULT '',
    sans           TEXT NOT NULL DEFAULT '[]',
    issuer         TEXT NOT NULL DEFAULT '',
    serial         TEXT NOT NULL DEFAULT '',
    not_before     TEXT NOT NULL,
    not_after      TEXT NOT NULL,
    key_algorithm  TEXT NOT NULL DEFAULT '',
    key_bits       INTEGER NOT NULL DEFAULT 0,
    is_ca          INTEGER NOT NULL DEFAULT 0,
    key_found      INTEGER NOT NULL DEFAULT 0,
    cert_pem       TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL CHECK (status IN ('Unmanaged', 'Managed', 'Dismissed')),
    certificate_id TEXT REFERENCES certificates (id) ON DELETE SET NULL,
    first_seen_at  TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX discovered_place
    ON discovered_certificates (fingerprint, agent_id, location);
CREATE INDEX discovered_seen ON discovered_certificates (last_seen_at, id);
CREATE INDEX discovered_agent ON discovered_certificates (agent_id, last_seen_at, id);
CREATE INDEX discovered_status ON discovered_certificates (status, last_seen_at, id);
CREATE INDEX discovered_certificate ON discovered_certificates (certificate_id)
    WHERE certificate_id IS NOT NULL;

CREATE TABLE discovery_scans (
    id          TEXT PRIMARY KEY,
    agent_id    TEXT NOT NULL DEFAULT '',
    targets     TEXT NOT NULL DEFAULT '[]',
    found_count INTEGER NOT NULL DEFAULT 0,
    new_count   INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL
);
CREATE INDEX discovery_scans_started ON discovery_scans (started_at, id);
CREATE INDEX discovery_scans_agent ON discovery_scans (agent_id, started_at, id);

CREATE TABLE network_scan_targets (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hosts        TEXT NOT NULL DEFAULT '[]',
    ports        TEXT NOT NULL DEFAULT '[]',
    enabled      INTEGER NOT NULL DEFAULT 1,
    last_scan_at TEXT,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE UNIQUE INDEX network_scan_targets_name ON network_scan_targets (lower(name));

-- A deployment job goes with its target: deploying to a target that is gone means nothing.
ALTER TABLE jobs ADD COLUMN target_id TEXT REFERENCES targets (id) ON DELETE CASCADE;
ALTER TABLE jobs ADD COLUMN agent_id TEXT REFERENCES agents (id) ON DELETE RESTRICT;
ALTER TABLE jobs ADD COLUMN result TEXT;
ALTER TABLE jobs ADD COLUMN started_at TEXT;
CREATE INDEX jobs_agent ON jobs (agent_id, status, created_at) WHERE agent_id IS NOT NULL;
CREATE INDEX jobs_target ON jobs (target_id, certificate_id) WHERE target_id IS NOT NULL;
CREATE INDEX jobs_retry ON jobs (type, next_attempt_at)
    WHERE status = 'Failed' AND attempts < max_attempts;

-- +goose StatementBegin
CREATE TRIGGER agents_ins AFTER INSERT ON agents
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER agents_upd AFTER UPDATE ON agents
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER agents_del AFTER DELETE ON agents
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER enrollment_tokens_ins AFTER INSERT ON enrollment_tokens
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER enrollment_tokens_upd AFTER UPDATE ON enrollment_tokens
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER enrollment_tokens_del AFTER DELETE ON enrollment_tokens
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'agents'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_ins AFTER INSERT ON targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_upd AFTER UPDATE ON targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_del AFTER DELETE ON targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_ins AFTER INSERT ON certificate_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_upd AFTER UPDATE ON certificate_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_del AFTER DELETE ON certificate_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'targets'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovered_certificates_ins AFTER INSERT ON discovered_certificates
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovered_certificates_upd AFTER UPDATE ON discovered_certificates
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovered_certificates_del AFTER DELETE ON discovered_certificates
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovery_scans_ins AFTER INSERT ON discovery_scans
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovery_scans_upd AFTER UPDATE ON discovery_scans
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER discovery_scans_del AFTER DELETE ON discovery_scans
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER network_scan_targets_ins AFTER INSERT ON network_scan_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER network_scan_targets_upd AFTER UPDATE ON network_scan_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER network_scan_targets_del AFTER DELETE ON network_scan_targets
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'discovered'; END;
-- +goose StatementEnd

-- The agent's work: its jobs (both agents when a job moves), its targets, and the mapping
-- of certificates to its targets. A mapping removed with its target finds no target any
-- more; the target's own removal has bumped the agent already.
-- +goose StatementBegin
CREATE TRIGGER jobs_work_ins AFTER INSERT ON jobs WHEN NEW.agent_id IS NOT NULL
BEGIN UPDATE agents SET work_version = work_version + 1 WHERE id = NEW.agent_id; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER jobs_work_upd AFTER UPDATE ON jobs
WHEN OLD.agent_id IS NOT NULL OR NEW.agent_id IS NOT NULL
BEGIN
    UPDATE agents SET work_version = work_version + 1
    WHERE id IN (OLD.agent_id, NEW.agent_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER jobs_work_del AFTER DELETE ON jobs WHEN OLD.agent_id IS NOT NULL
BEGIN UPDATE agents SET work_version = work_version + 1 WHERE id = OLD.agent_id; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_work_ins AFTER INSERT ON targets
BEGIN UPDATE agents SET work_version = work_version + 1 WHERE id = NEW.agent_id; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_work_upd AFTER UPDATE ON targets
BEGIN
    UPDATE agents SET work_version = work_version + 1
    WHERE id IN (OLD.agent_id, NEW.agent_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER targets_work_del AFTER DELETE ON targets
BEGIN UPDATE agents SET work_version = work_version + 1 WHERE id = OLD.agent_id; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_work_ins AFTER INSERT ON certificate_targets
BEGIN
    UPDATE agents SET work_version = work_version + 1
    WHERE id = (SELECT agent_id FROM targets WHERE id = NEW.target_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_work_upd AFTER UPDATE ON certificate_targets
BEGIN
    UPDATE agents SET work_version = work_version + 1
    WHERE id IN (SELECT agent_id FROM targets WHERE id IN (OLD.target_id, NEW.target_id));
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificate_targets_work_del AFTER DELETE ON certificate_targets
BEGIN
    UPDATE agents SET work_version = work_version + 1
    WHERE id = (SELECT agent_id FROM targets WHERE id = OLD.target_id);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER jobs_work_del;
DROP TRIGGER jobs_work_upd;
DROP TRIGGER jobs_work_ins;
DROP INDEX jobs_retry;
DROP INDEX jobs_target;
DROP INDEX jobs_agent;
ALTER TABLE jobs DROP COLUMN started_at;
ALTER TABLE jobs DROP COLUMN result;
ALTER TABLE jobs DROP COLUMN agent_id;
ALTER TABLE jobs DROP COLUMN target_id;
DROP TABLE network_scan_targets;
DROP TABLE discovery_scans;
DROP TABLE discovered_certificates;
DROP TABLE certificate_targets;
DROP TABLE targets;
DROP TABLE enrollment_tokens;
DROP TABLE agents;
DELETE FROM changes WHERE area IN ('agents', 'targets', 'discovered');
