-- SQLite: the twin of 00005_request_approvers.postgres.sql.

-- Who approves a request: one row per approver of a stage that has started,
-- pending = 1 for the approvers of the stage waiting for a decision now
-- (access.Request.Approvers). Rewritten with the request when the set
-- changes, so that an approver's approvals are an indexed lookup.

-- +goose Up
CREATE TABLE request_approvers (
    request_id  TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    approver_id TEXT NOT NULL,
    pending     INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);
CREATE INDEX request_approvers_approver ON request_approvers (approver_id, pending, request_id);

-- +goose Down
DROP TABLE request_approvers;
