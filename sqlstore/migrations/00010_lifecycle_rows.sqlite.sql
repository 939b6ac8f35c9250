-- SQLite: the twin of 00010_lifecycle_rows.postgres.sql.
--
-- What a request lifecycle writes, made smaller (docs/benchmarks.md, issue 17):
--
-- History: one row per transition instead of one per entry. A transition
-- appends several entries at once (submitted, calloutQueued, transition,
-- calloutSent …); the row's doc is the JSON array of them, keyed by the
-- first entry's id, and last_id is the last entry's id, for paging. An
-- existing row becomes a row of one entry: the history the API shows stays
-- the same, entry for entry.
--
-- Work: the fields of a queued piece of work are flat strings, so they
-- move out of the JSON doc into columns of their own and the doc goes:
-- queueing work no longer encodes a document, nor claiming it decodes one.

-- +goose Up
CREATE TABLE history_rows (
    request_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    last_id    TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (request_id, id)
) WITHOUT ROWID;
INSERT INTO history_rows (request_id, id, last_id, doc) SELECT request_id, id, id, '[' || doc || ']' FROM history;
DROP TABLE history;
ALTER TABLE history_rows RENAME TO history;

ALTER TABLE work ADD COLUMN stage TEXT NOT NULL DEFAULT '';
ALTER TABLE work ADD COLUMN instance_id TEXT NOT NULL DEFAULT '';
ALTER TABLE work ADD COLUMN approval_step_id TEXT NOT NULL DEFAULT '';
ALTER TABLE work ADD COLUMN extension_id TEXT NOT NULL DEFAULT '';
ALTER TABLE work ADD COLUMN request_state TEXT NOT NULL DEFAULT '';
ALTER TABLE work ADD COLUMN request_status TEXT NOT NULL DEFAULT '';
UPDATE work SET
    stage = COALESCE(json_extract(doc, '$.Stage'), ''),
    instance_id = COALESCE(json_extract(doc, '$.InstanceID'), ''),
    approval_step_id = COALESCE(json_extract(doc, '$.ApprovalStepID'), ''),
    extension_id = COALESCE(json_extract(doc, '$.ExtensionID'), ''),
    request_state = COALESCE(json_extract(doc, '$.RequestState'), ''),
    request_status = COALESCE(json_extract(doc, '$.RequestStatus'), '');
ALTER TABLE work DROP COLUMN doc;

-- +goose Down
ALTER TABLE work ADD COLUMN doc TEXT NOT NULL DEFAULT '';
UPDATE work SET doc = json_object('ID', id, 'Kind', kind, 'RequestID', request_id, 'AssignmentID', assignment_id,
    'Stage', stage, 'InstanceID', instance_id, 'ApprovalStepID', approval_step_id, 'ExtensionID', extension_id,
    'DueAt', '0001-01-01T00:00:00Z', 'Attempt', 0, 'RequestState', request_state, 'RequestStatus', request_status);
ALTER TABLE work DROP COLUMN stage;
ALTER TABLE work DROP COLUMN instance_id;
ALTER TABLE work DROP COLUMN approval_step_id;
ALTER TABLE work DROP COLUMN extension_id;
ALTER TABLE work DROP COLUMN request_state;
ALTER TABLE work DROP COLUMN request_status;

CREATE TABLE history_entries (
    request_id TEXT NOT NULL,
    id         TEXT NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (request_id, id)
) WITHOUT ROWID;
INSERT INTO history_entries (request_id, id, doc)
    SELECT h.request_id, json_extract(e.value, '$.ID'), e.value FROM history h, json_each(h.doc) e;
DROP TABLE history;
ALTER TABLE history_entries RENAME TO history;
