-- Substring search over certificate names, common names and SANs (an FTS5 trigram index,
-- kept by triggers), and indexes for sorting. Search rows are matched back by id; edits of
-- names are rare, so removing an old entry by id (which scans the index) is cheap enough.

-- +goose Up
CREATE VIRTUAL TABLE certificates_search USING fts5(id UNINDEXED, text, tokenize = 'trigram');
INSERT INTO certificates_search (id, text)
    SELECT id, name || ' ' || common_name || ' ' || sans FROM certificates;

-- +goose StatementBegin
CREATE TRIGGER certificates_search_ins AFTER INSERT ON certificates
BEGIN
    INSERT INTO certificates_search (id, text)
    VALUES (NEW.id, NEW.name || ' ' || NEW.common_name || ' ' || NEW.sans);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificates_search_upd AFTER UPDATE OF name, common_name, sans ON certificates
BEGIN
    DELETE FROM certificates_search WHERE id = OLD.id;
    INSERT INTO certificates_search (id, text)
    VALUES (NEW.id, NEW.name || ' ' || NEW.common_name || ' ' || NEW.sans);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER certificates_search_del AFTER DELETE ON certificates
BEGIN
    DELETE FROM certificates_search WHERE id = OLD.id;
END;
-- +goose StatementEnd

-- Sorting by name and by expiry, with certificates not issued yet last.
CREATE INDEX certificates_name_id ON certificates (lower(name), id);
CREATE INDEX certificates_expiry
    ON certificates (coalesce(not_after, '9999-12-31 23:59:59.999999'), id);

-- +goose Down
DROP INDEX certificates_expiry;
DROP INDEX certificates_name_id;
DROP TRIGGER certificates_search_del;
DROP TRIGGER certificates_search_upd;
DROP TRIGGER certificates_search_ins;
DROP TABLE certificates_search;
