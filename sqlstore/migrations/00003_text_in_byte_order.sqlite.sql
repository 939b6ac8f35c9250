-- SQLite only: the twin of 00003_text_in_byte_order.postgres.sql, which
-- makes PostgreSQL order TEXT byte by byte. SQLite does so already (its
-- BINARY collation, the default), so there is nothing to do; the migration
-- exists so that both engines record the same versions.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
