-- PostgreSQL: the twin of 00007_assignment_created.sqlite.sql.

-- +goose Up
ALTER TABLE assignments ADD COLUMN created_us BIGINT NOT NULL DEFAULT 0;
UPDATE assignments SET created_us = (round(extract(epoch from (doc::jsonb ->> 'CreatedDateTime')::timestamptz) * 1000000))::bigint;
CREATE INDEX assignments_package_state_created ON assignments (access_package_id, state, created_us, id);

-- +goose Down
DROP INDEX assignments_package_state_created;
ALTER TABLE assignments DROP COLUMN created_us;
