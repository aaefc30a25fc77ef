-- Teams, owners, API keys, the audit trail and the per-area change counters.

-- +goose Up
CREATE TABLE changes (
    area    TEXT PRIMARY KEY,
    version BIGINT NOT NULL DEFAULT 0
);
INSERT INTO changes (area) VALUES ('teams'), ('owners'), ('audit'), ('api_keys');

-- +goose StatementBegin
CREATE FUNCTION bump_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE changes SET version = version + 1 WHERE area = TG_ARGV[0];
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END
$$;
-- +goose StatementEnd

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX teams_name ON teams (lower(name));

CREATE TABLE owners (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL,
    team_id    TEXT REFERENCES teams (id) ON DELETE RESTRICT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX owners_email ON owners (lower(email));
CREATE INDEX owners_name ON owners (lower(name), id);
CREATE INDEX owners_team ON owners (team_id, lower(name), id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    hash         BYTEA NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
CREATE UNIQUE INDEX api_keys_active_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_events (
    id            TEXT PRIMARY KEY,
    occurred_at   TIMESTAMPTZ NOT NULL,
    actor         TEXT NOT NULL,
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    request_id    TEXT NOT NULL DEFAULT '',
    details       JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_time ON audit_events (occurred_at, id);
CREATE INDEX audit_actor ON audit_events (actor, occurred_at, id);
CREATE INDEX audit_action ON audit_events (action, occurred_at, id);
CREATE INDEX audit_resource ON audit_events (resource_type, resource_id, occurred_at, id);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

CREATE TRIGGER teams_changed AFTER INSERT OR UPDATE OR DELETE ON teams
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('teams');
CREATE TRIGGER owners_changed AFTER INSERT OR UPDATE OR DELETE ON owners
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('owners');
CREATE TRIGGER api_keys_changed AFTER INSERT OR DELETE OR UPDATE OF name, role, revoked_at
    ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION bump_change('api_keys');
CREATE TRIGGER audit_events_changed AFTER INSERT ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('audit');

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP TABLE owners;
DROP TABLE teams;
DROP TABLE changes;
DROP FUNCTION refuse_audit_change();
DROP FUNCTION bump_change();
