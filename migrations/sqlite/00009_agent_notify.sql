-- PostgreSQL announces changes to agents from this version on, for servers to cache agent
-- identities. A server on SQLite reads them every time; this file keeps the dialects in
-- step.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
