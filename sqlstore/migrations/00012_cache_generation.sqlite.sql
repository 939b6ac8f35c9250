-- SQLite: nothing. The twin of 00012_cache_generation.postgres.sql, so that
-- both engines record the same versions. One server holds an SQLite file,
-- and it counts the cache's generations itself (sqlstore/nouncache.go).

-- +goose Up
SELECT 1;

-- +goose Down
SELECT 1;
