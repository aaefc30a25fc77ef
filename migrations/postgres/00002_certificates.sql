-- Issuers and the local CA, profiles, renewal policies, certificates, versions and jobs.

-- +goose Up
INSERT INTO changes (area) VALUES ('issuers'), ('profiles'), ('certificates'), ('jobs');

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE issuers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    type       TEXT NOT NULL,
    config     JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX issuers_name ON issuers (lower(name));

CREATE TABLE ca_certs (
    id         TEXT PRIMARY KEY,
    issuer_id  TEXT NOT NULL REFERENCES issuers (id) ON DELETE RESTRICT,
    kind       TEXT NOT NULL CHECK (kind IN ('root', 'intermediate', 'ocsp')),
    cert_pem   TEXT NOT NULL,
    key_sealed BYTEA NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    not_after  TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ca_certs_issuer ON ca_certs (issuer_id, kind, created_at);

CREATE TABLE profiles (
    id                   TEXT PRIMARY KEY,
    name                 TEXT NOT NULL,
    description          TEXT NOT NULL DEFAULT '',
    key_types            JSONB NOT NULL,
    max_lifetime_seconds BIGINT NOT NULL,
    ext_key_usages       JSONB NOT NULL,
    san_patterns         JSONB NOT NULL DEFAULT '[]',
    allow_ip             BOOLEAN NOT NULL DEFAULT FALSE,
    allow_email          BOOLEAN NOT NULL DEFAULT FALSE,
    allow_uri            BOOLEAN NOT NULL DEFAULT FALSE,
    must_staple          BOOLEAN NOT NULL DEFAULT FALSE,
    approval             TEXT NOT NULL DEFAULT 'none'
                         CHECK (approval IN ('none', 'issuance', 'always')),
    created_at           TIMESTAMPTZ NOT NULL,
    updated_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX profiles_name ON profiles (lower(name));

CREATE TABLE renewal_policies (
    id                    TEXT PRIMARY KEY,
    name                  TEXT NOT NULL,
    renew_fraction        DOUBLE PRECISION NOT NULL DEFAULT 0,
    renew_before_seconds  BIGINT NOT NULL DEFAULT 0,
    max_attempts          INTEGER NOT NULL,
    retry_backoff_seconds BIGINT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX renewal_policies_name ON renewal_policies (lower(name));

CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    common_name        TEXT NOT NULL,
    sans               JSONB NOT NULL DEFAULT '[]',
    environment        TEXT NOT NULL DEFAULT '',
    owner_id           TEXT REFERENCES owners (id) ON DELETE RESTRICT,
    team_id            TEXT REFERENCES teams (id) ON DELETE RESTRICT,
    tags               JSONB NOT NULL DEFAULT '[]',
    issuer_id          TEXT REFERENCES issuers (id) ON DELETE RESTRICT,
    profile_id         TEXT REFERENCES profiles (id) ON DELETE RESTRICT,
    renewal_policy_id  TEXT REFERENCES renewal_policies (id) ON DELETE RESTRICT,
    key_mode           TEXT NOT NULL CHECK (key_mode IN ('agent', 'server')),
    status             TEXT NOT NULL,
    current_version_id TEXT,
    not_after          TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX certificates_name ON certificates (lower(name));
CREATE INDEX certificates_status ON certificates (status, lower(name), id);
CREATE INDEX certificates_issuer ON certificates (issuer_id, lower(name), id);
CREATE INDEX certificates_owner ON certificates (owner_id);
CREATE INDEX certificates_team ON certificates (team_id);
CREATE INDEX certificates_not_after ON certificates (not_after);

CREATE TABLE certificate_versions (
    id             TEXT PRIMARY KEY,
    certificate_id TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    issuer_id      TEXT NOT NULL DEFAULT '',
    serial         TEXT NOT NULL,
    cert_pem       TEXT NOT NULL,
    chain_pem      TEXT NOT NULL DEFAULT '',
    fingerprint    TEXT NOT NULL,
    not_before     TIMESTAMPTZ NOT NULL,
    not_after      TIMESTAMPTZ NOT NULL,
    key_algorithm  TEXT NOT NULL,
    key_bits       INTEGER NOT NULL,
    key_location   TEXT NOT NULL CHECK (key_location IN ('agent', 'server', 'none')),
    key_sealed     BYTEA,
    created_at     TIMESTAMPTZ NOT NULL,
    revoked_at     TIMESTAMPTZ,
    revoke_reason  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificate_versions_cert ON certificate_versions (certificate_id, created_at);
CREATE UNIQUE INDEX certificate_versions_serial ON certificate_versions (issuer_id, serial);
CREATE INDEX certificate_versions_revoked ON certificate_versions (issuer_id, revoked_at)
    WHERE revoked_at IS NOT NULL;

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    type            TEXT NOT NULL CHECK (type IN ('Issuance', 'Renewal', 'Deployment')),
    certificate_id  TEXT NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    requested_by    TEXT NOT NULL,
    approved_by     TEXT NOT NULL DEFAULT '',
    csr_pem         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX jobs_due ON jobs (status, type, next_attempt_at);
CREATE INDEX jobs_certificate ON jobs (certificate_id, created_at);
CREATE INDEX jobs_created ON jobs (created_at, id);

-- A new version becomes the certificate's current one in the same statement, so no caller
-- can store one without the other.
-- +goose StatementBegin
CREATE FUNCTION set_current_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE certificates SET current_version_id = NEW.id, not_after = NEW.not_after,
        updated_at = NEW.created_at
    WHERE id = NEW.certificate_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER certificate_versions_current AFTER INSERT ON certificate_versions
    FOR EACH ROW EXECUTE FUNCTION set_current_version();

CREATE TRIGGER issuers_changed AFTER INSERT OR UPDATE OR DELETE ON issuers
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('issuers');
CREATE TRIGGER ca_certs_changed AFTER INSERT OR UPDATE OR DELETE ON ca_certs
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('issuers');
CREATE TRIGGER profiles_changed AFTER INSERT OR UPDATE OR DELETE ON profiles
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('profiles');
CREATE TRIGGER renewal_policies_changed AFTER INSERT OR UPDATE OR DELETE ON renewal_policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('profiles');
CREATE TRIGGER certificates_changed AFTER INSERT OR UPDATE OR DELETE ON certificates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('certificates');
CREATE TRIGGER certificate_versions_changed
    AFTER INSERT OR UPDATE OR DELETE ON certificate_versions
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('certificates');
CREATE TRIGGER jobs_changed AFTER INSERT OR UPDATE OR DELETE ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change('jobs');

-- +goose Down
DROP TABLE jobs;
DROP TABLE certificate_versions;
DROP TABLE certificates;
DROP TABLE renewal_policies;
DROP TABLE profiles;
DROP TABLE ca_certs;
DROP TABLE issuers;
DROP TABLE settings;
DROP FUNCTION set_current_version();
DELETE FROM changes WHERE area IN ('issuers', 'profiles', 'certificates', 'jobs');
