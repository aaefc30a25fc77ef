-- Substring search over certificate names, common names and SANs (a trigram index on a
-- generated lower-case search column), and indexes for sorting.

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
ALTER TABLE certificates ADD COLUMN search TEXT
    GENERATED ALWAYS AS (lower(name || ' ' || common_name || ' ' || sans::text)) STORED;
CREATE INDEX certificates_search ON certificates USING gin (search public.gin_trgm_ops);

-- Sorting by name and by expiry, with certificates not issued yet last.
CREATE INDEX certificates_name_id ON certificates (lower(name), id);
CREATE INDEX certificates_expiry
    ON certificates ((coalesce(not_after, 'infinity'::timestamptz)), id);

-- +goose Down
DROP INDEX certificates_expiry;
DROP INDEX certificates_name_id;
DROP INDEX certificates_search;
ALTER TABLE certificates DROP COLUMN search;
