-- The first schema of accessd. It is written in the SQL that SQLite and
-- PostgreSQL share: TEXT, BIGINT and INTEGER columns only, no AUTOINCREMENT,
-- no engine-specific functions, and ON CONFLICT upserts.
--
-- Every noun table keeps the whole domain object as JSON in doc, plus copies
-- of the few fields that lookups, filters and ordering need. Lists page by id.
-- Times that SQL compares are BIGINT microseconds since the Unix epoch, UTC.

-- +goose Up
CREATE TABLE catalogs (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    doc          TEXT NOT NULL
);

CREATE TABLE access_packages (
    id           TEXT PRIMARY KEY,
    catalog_id   TEXT NOT NULL,
    display_name TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX access_packages_catalog ON access_packages (catalog_id, id);

-- review_settings and notification_settings are client JSON stored byte for
-- byte outside doc, so that they come back exactly as given (NULL when absent).
CREATE TABLE assignment_policies (
    id                    TEXT PRIMARY KEY,
    access_package_id     TEXT NOT NULL,
    catalog_id            TEXT NOT NULL,
    display_name          TEXT NOT NULL,
    review_settings       TEXT,
    notification_settings TEXT,
    doc                   TEXT NOT NULL
);
CREATE INDEX assignment_policies_package ON assignment_policies (access_package_id, id);

-- One row per customExtensionStageSetting, rewritten with its policy, so that
-- "which policies bind this extension" is an indexed count.
CREATE TABLE policy_extension_bindings (
    policy_id    TEXT NOT NULL REFERENCES assignment_policies (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL,
    extension_id TEXT NOT NULL,
    PRIMARY KEY (policy_id, stage)
);
CREATE INDEX policy_extension_bindings_extension ON policy_extension_bindings (extension_id);

CREATE TABLE custom_extensions (
    id           TEXT PRIMARY KEY,
    catalog_id   TEXT NOT NULL,
    display_name TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE INDEX custom_extensions_catalog ON custom_extensions (catalog_id, id);

-- user_principal_name holds the lower-cased UPN: lookups ignore case, and two
-- users may not share a UPN that differs only in case.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    user_principal_name TEXT NOT NULL,
    display_name        TEXT NOT NULL,
    manager_id          TEXT NOT NULL,
    doc                 TEXT NOT NULL
);
CREATE UNIQUE INDEX users_upn ON users (user_principal_name);
CREATE INDEX users_manager ON users (manager_id);

CREATE TABLE groups (
    id           TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    doc          TEXT NOT NULL
);

-- A group's members and owners. object_kind says which table object_id is in
-- (user, group or servicePrincipal), so no foreign key can name it; the store
-- deletes relations with the objects they name.
CREATE TABLE group_relations (
    group_id    TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    relation    TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    PRIMARY KEY (group_id, relation, object_id)
);
CREATE INDEX group_relations_object ON group_relations (object_kind, object_id);

CREATE TABLE service_principals (
    id           TEXT PRIMARY KEY,
    app_id       TEXT NOT NULL,
    display_name TEXT NOT NULL,
    doc          TEXT NOT NULL
);
-- Any number of service principals may have no appId. Queries repeat the
-- index's condition, so that the planner knows it may use it.
CREATE UNIQUE INDEX service_principals_app ON service_principals (app_id) WHERE app_id <> '';
CREATE INDEX service_principals_name ON service_principals (display_name, id);

-- slot is 'current' for the one key accessd signs with; its uniqueness lets
-- replicas that start together race to insert a key and agree on the winner.
CREATE TABLE signing_keys (
    id          TEXT PRIMARY KEY,
    slot        TEXT UNIQUE,
    private_pem TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE settings;
DROP TABLE signing_keys;
DROP TABLE service_principals;
DROP TABLE group_relations;
DROP TABLE groups;
DROP TABLE users;
DROP TABLE custom_extensions;
DROP TABLE policy_extension_bindings;
DROP TABLE assignment_policies;
DROP TABLE access_packages;
DROP TABLE catalogs;
