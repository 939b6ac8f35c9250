-- SQLite: the history table keyed by (request_id, id), WITHOUT ROWID. A
-- request gains about nine entries in its life; keyed by id, each entry went
-- into three b-trees (the rows by rowid, the id key and history_request),
-- and each of those pages is written again at every commit. Now it goes
-- into one, which serves History (a request's entries in id order) too.
-- Entry ids stay unique: they are UUIDv7, and adding one twice to the same
-- request is still refused by the key.

-- +goose Up
CREATE TABLE history_by_request (
    request_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (request_id, id)
) WITHOUT ROWID;
INSERT INTO history_by_request (request_id, id, doc) SELECT request_id, id, doc FROM history;
DROP TABLE history;
ALTER TABLE history_by_request RENAME TO history;

-- +goose Down
CREATE TABLE history_by_id (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    doc        TEXT NOT NULL
);
INSERT INTO history_by_id (id, request_id, doc) SELECT id, request_id, doc FROM history;
DROP TABLE history;
ALTER TABLE history_by_id RENAME TO history;
CREATE INDEX history_request ON history (request_id, id);
