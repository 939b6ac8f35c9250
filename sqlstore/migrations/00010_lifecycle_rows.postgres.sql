-- PostgreSQL: the twin of 00010_lifecycle_rows.sqlite.sql, which says why.

-- +goose Up
ALTER TABLE history ADD COLUMN last_id TEXT COLLATE "C";
UPDATE history SET last_id = id, doc = '[' || doc || ']';
ALTER TABLE history ALTER COLUMN last_id SET NOT NULL;

ALTER TABLE work
    ADD COLUMN stage TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN instance_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN approval_step_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN extension_id TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN request_state TEXT COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN request_status TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE work SET
    stage = COALESCE(doc::jsonb ->> 'Stage', ''),
    instance_id = COALESCE(doc::jsonb ->> 'InstanceID', ''),
    approval_step_id = COALESCE(doc::jsonb ->> 'ApprovalStepID', ''),
    extension_id = COALESCE(doc::jsonb ->> 'ExtensionID', ''),
    request_state = COALESCE(doc::jsonb ->> 'RequestState', ''),
    request_status = COALESCE(doc::jsonb ->> 'RequestStatus', '');
ALTER TABLE work DROP COLUMN doc;

-- +goose Down
ALTER TABLE work ADD COLUMN doc TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE work SET doc = json_build_object('ID', id, 'Kind', kind, 'RequestID', request_id, 'AssignmentID', assignment_id,
    'Stage', stage, 'InstanceID', instance_id, 'ApprovalStepID', approval_step_id, 'ExtensionID', extension_id,
    'DueAt', '0001-01-01T00:00:00Z', 'Attempt', 0, 'RequestState', request_state, 'RequestStatus', request_status)::text;
ALTER TABLE work
    DROP COLUMN stage,
    DROP COLUMN instance_id,
    DROP COLUMN approval_step_id,
    DROP COLUMN extension_id,
    DROP COLUMN request_state,
    DROP COLUMN request_status;

CREATE TEMPORARY TABLE history_entries ON COMMIT DROP AS
    SELECT h.request_id, e.value ->> 'ID' AS id, e.value::text AS doc
    FROM history h, jsonb_array_elements(h.doc::jsonb) e;
DELETE FROM history;
ALTER TABLE history DROP COLUMN last_id;
INSERT INTO history (request_id, id, doc) SELECT request_id, id, doc FROM history_entries;
