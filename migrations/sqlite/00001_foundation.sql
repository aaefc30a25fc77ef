-- Teams, owners, API keys, the audit trail and the per-area change counters.
-- Times are TEXT 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC, so that text order is time order.

-- +goose Up
CREATE TABLE changes (
    area    TEXT PRIMARY KEY,
    version INTEGER NOT NULL DEFAULT 0
);
INSERT INTO changes (area) VALUES ('teams'), ('owners'), ('audit'), ('api_keys');

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (lower(name));

CREATE TABLE owners (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    team_id    TEXT REFERENCES teams (id) ON DELETE RESTRICT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX owners_email ON owners (lower(email));
CREATE INDEX owners_name ON owners (lower(name), id);
CREATE INDEX owners_team ON owners (team_id, lower(name), id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash         BLOB NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_events (
    id            TEXT PRIMARY KEY,
    occurred_at   TEXT NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    details       TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_time ON audit_events (occurred_at, id);
CREATE INDEX audit_actor ON audit_events (actor, occurred_at, id);
CREATE INDEX audit_action ON audit_events (action, occurred_at, id);
CREATE INDEX audit_resource ON audit_events (resource_type, resource_id, occurred_at, id);

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER teams_ins AFTER INSERT ON teams
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'teams'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER teams_upd AFTER UPDATE ON teams
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'teams'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER teams_del AFTER DELETE ON teams
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'teams'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER owners_ins AFTER INSERT ON owners
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'owners'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER owners_upd AFTER UPDATE ON owners
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'owners'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER owners_del AFTER DELETE ON owners
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'owners'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_ins AFTER INSERT ON api_keys
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'api_keys'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_keys_upd AFTER UPDATE OF name, role, revoked_at ON api_keys
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'api_keys'; END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_ins AFTER INSERT ON audit_events
BEGIN UPDATE changes SET version = version + 1 WHERE area = 'audit'; END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE owners;
DROP TABLE teams;
DROP TABLE changes;
