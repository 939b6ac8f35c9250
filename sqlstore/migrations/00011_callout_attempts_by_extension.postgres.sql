-- PostgreSQL: the twin of 00011_callout_attempts_by_extension.sqlite.sql,
-- with the new column COLLATE "C" (byte order, as SQLite compares; see 00003).

-- +goose Up
ALTER TABLE callout_attempts ADD COLUMN extension_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE callout_attempts SET extension_id = COALESCE(doc::jsonb ->> 'ExtensionID', '');
CREATE INDEX callout_attempts_extension ON callout_attempts (extension_id, id);

-- +goose Down
DROP INDEX callout_attempts_extension;
ALTER TABLE callout_attempts DROP COLUMN extension_id;
