-- SQLite only: the twin of 00007_text_in_byte_order_again.postgres.sql.
-- SQLite orders TEXT byte by byte already; the migration exists so that
-- both engines record the same versions.

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
