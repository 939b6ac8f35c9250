-- SQLite. An open request's extension references move from rows of
-- request_extension_refs into a column of the request, a JSON array of the
-- extension ids its policy snapshot binds ('[]' once it is final). The rows
-- cost a request two statements and three index writes when it opened and
-- again when it ended; the column is written by the statements that write
-- the request anyway. What they served, "may this extension be deleted",
-- is rare and reads the open requests instead.

-- +goose Up
ALTER TABLE requests ADD COLUMN extension_refs TEXT NOT NULL DEFAULT '[]';
UPDATE requests SET extension_refs = (
    SELECT json_group_array(extension_id) FROM (
        SELECT extension_id FROM request_extension_refs r WHERE r.request_id = requests.id ORDER BY extension_id))
WHERE id IN (SELECT request_id FROM request_extension_refs);
DROP TABLE request_extension_refs;

-- +goose Down
CREATE TABLE request_extension_refs (
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    extension_id TEXT NOT NULL,
    PRIMARY KEY (request_id, extension_id)
);
CREATE INDEX request_extension_refs_extension ON request_extension_refs (extension_id);
INSERT INTO request_extension_refs (request_id, extension_id)
SELECT DISTINCT requests.id, refs.value FROM requests, json_each(requests.extension_refs) AS refs;
ALTER TABLE requests DROP COLUMN extension_refs;
