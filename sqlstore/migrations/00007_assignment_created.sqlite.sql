-- SQLite: the twin of 00007_assignment_created.postgres.sql.
--
-- Assignments get their creation time as a column (microseconds since the
-- Unix epoch, as requests.created_us), for the lists that order or filter
-- on it, and an index for the one clients ask most: a package's
-- assignments in one state, newest or oldest first.

-- +goose Up
ALTER TABLE assignments ADD COLUMN created_us BIGINT NOT NULL DEFAULT 0;
UPDATE assignments SET created_us = CAST(round(unixepoch(json_extract(doc, '$.CreatedDateTime'), 'subsec') * 1000000) AS INTEGER);
CREATE INDEX assignments_package_state_created ON assignments (access_package_id, state, created_us, id);

-- +goose Down
DROP INDEX assignments_package_state_created;
ALTER TABLE assignments DROP COLUMN created_us;
