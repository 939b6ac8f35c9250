-- PostgreSQL: the twin of 00013_extension_refs_column.sqlite.sql, with the
-- new column COLLATE "C" (byte order, as SQLite compares; see 00003).

-- +goose Up
ALTER TABLE requests ADD COLUMN extension_refs TEXT COLLATE "C" NOT NULL DEFAULT '[]';
UPDATE requests SET extension_refs = (
    SELECT json_agg(extension_id ORDER BY extension_id)::text
    FROM request_extension_refs r WHERE r.request_id = requests.id)
WHERE id IN (SELECT request_id FROM request_extension_refs);
DROP TABLE request_extension_refs;

-- +goose Down
CREATE TABLE request_extension_refs (
    request_id   TEXT COLLATE "C" NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    extension_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (request_id, extension_id)
);
CREATE INDEX request_extension_refs_extension ON request_extension_refs (extension_id);
INSERT INTO request_extension_refs (request_id, extension_id)
SELECT DISTINCT id, json_array_elements_text(extension_refs::json) FROM requests;
ALTER TABLE requests DROP COLUMN extension_refs;
