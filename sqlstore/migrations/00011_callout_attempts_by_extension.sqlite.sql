-- SQLite: the twin of 00011_callout_attempts_by_extension.postgres.sql.
--
-- Callout attempts are recorded outside --dev too (serve --record-callouts)
-- and read per custom extension (its recent attempts, for the portal's
-- admin view); only the last few hundred of each extension are kept. An
-- extension_id column, from the documents, makes both one index range.

-- +goose Up
ALTER TABLE callout_attempts ADD COLUMN extension_id TEXT NOT NULL DEFAULT '';
UPDATE callout_attempts SET extension_id = COALESCE(json_extract(doc, '$.ExtensionID'), '');
CREATE INDEX callout_attempts_extension ON callout_attempts (extension_id, id);

-- +goose Down
DROP INDEX callout_attempts_extension;
ALTER TABLE callout_attempts DROP COLUMN extension_id;
