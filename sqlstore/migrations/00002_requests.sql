-- Requests, assignments, the history of requests, the work queue and the
-- callout attempts that --dev mode lists. Same conventions as 00001: TEXT,
-- BIGINT and INTEGER columns only; the object as JSON in doc plus copies of
-- the fields that SQL filters and orders by; times that SQL compares as
-- BIGINT microseconds since the Unix epoch, UTC. An id a row may lack is ''
-- (NOT NULL), as users.manager_id is.

-- +goose Up

-- is_open is 1 while the request's state is not final
-- (access.RequestState.IsFinal), written by the store with every put.
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    request_type      TEXT NOT NULL,
    state             TEXT NOT NULL,
    target_id         TEXT NOT NULL,
    access_package_id TEXT NOT NULL,
    policy_id         TEXT NOT NULL,
    assignment_id     TEXT NOT NULL,
    is_open           INTEGER NOT NULL,
    created_us        BIGINT NOT NULL,
    doc               TEXT NOT NULL
);
CREATE INDEX requests_target ON requests (target_id, access_package_id, id);
CREATE INDEX requests_package ON requests (access_package_id, id);
CREATE INDEX requests_policy ON requests (policy_id, is_open);
CREATE INDEX requests_assignment ON requests (assignment_id, id);

-- The extensions an open request's policy snapshot binds, one row each,
-- rewritten with the request and present only while it is open, so that
-- "may this extension be deleted" is an indexed count.
CREATE TABLE request_extension_refs (
    request_id   TEXT NOT NULL REFERENCES requests (id) ON DELETE CASCADE,
    extension_id TEXT NOT NULL,
    PRIMARY KEY (request_id, extension_id)
);
CREATE INDEX request_extension_refs_extension ON request_extension_refs (extension_id);

CREATE TABLE assignments (
    id                TEXT PRIMARY KEY,
    target_id         TEXT NOT NULL,
    access_package_id TEXT NOT NULL,
    policy_id         TEXT NOT NULL,
    state             TEXT NOT NULL,
    doc               TEXT NOT NULL
);
CREATE INDEX assignments_target ON assignments (target_id, access_package_id, id);
CREATE INDEX assignments_package ON assignments (access_package_id, id);
CREATE INDEX assignments_policy ON assignments (policy_id, state);

-- Entries of a request's audit trail. Their ids are time-ordered (UUIDv7),
-- so id order is the order they happened in. No foreign key: a transition
-- may write its history before the request it belongs to.
CREATE TABLE history (
    id         TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    doc        TEXT NOT NULL
);
CREATE INDEX history_request ON history (request_id, id);

-- The work queue. A row is claimable at time t when due_us <= t and it has
-- no live lease: lease_until_us IS NULL or lease_until_us <= t. due_us and
-- attempt are the truth (RetryWork changes them in SQL); doc holds the rest
-- of the access.Work. No foreign keys: work may belong to a request, an
-- assignment or both, and the Service removes it with DropWork.
CREATE TABLE work (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    assignment_id  TEXT NOT NULL,
    due_us         BIGINT NOT NULL,
    lease_owner    TEXT,
    lease_until_us BIGINT,
    attempt        INTEGER NOT NULL,
    doc            TEXT NOT NULL
);
CREATE INDEX work_due ON work (due_us, id);
CREATE INDEX work_request ON work (request_id);
CREATE INDEX work_assignment ON work (assignment_id);

-- One row per HTTP call of a callout, for --dev mode's inspection. Ids are
-- time-ordered; lists show the newest first.
CREATE TABLE callout_attempts (
    id      TEXT PRIMARY KEY,
    sent_us BIGINT NOT NULL,
    doc     TEXT NOT NULL
);

-- +goose Down
DROP TABLE callout_attempts;
DROP TABLE work;
DROP TABLE history;
DROP TABLE assignments;
DROP TABLE request_extension_refs;
DROP TABLE requests;
