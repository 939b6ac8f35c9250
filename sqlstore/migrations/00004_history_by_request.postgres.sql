-- PostgreSQL: the twin of 00004_history_by_request.sqlite.sql. The history
-- table's key becomes (request_id, id), which serves History (a request's
-- entries in id order) and replaces the history_request index, so an entry
-- is written into one index instead of two.

-- +goose Up
ALTER TABLE history DROP CONSTRAINT history_pkey;
ALTER TABLE history ADD PRIMARY KEY (request_id, id);
DROP INDEX history_request;

-- +goose Down
CREATE INDEX history_request ON history (request_id, id);
ALTER TABLE history DROP CONSTRAINT history_pkey;
ALTER TABLE history ADD PRIMARY KEY (id);
