-- SQLite: the twin of 00006_resources.postgres.sql.

-- Catalog resources (groups and applications), the requests that add and
-- remove them, the app roles the directory's principals hold, and the
-- packages each package is incompatible with (the reverse of what a
-- package's doc lists, for the separation-of-duties check).

-- +goose Up
CREATE TABLE resources (
    id            TEXT PRIMARY KEY,
    catalog_id    TEXT NOT NULL,
    origin_system TEXT NOT NULL,
    origin_id     TEXT NOT NULL,
    doc           TEXT NOT NULL
);
CREATE UNIQUE INDEX resources_origin ON resources (catalog_id, origin_system, origin_id);

CREATE TABLE resource_requests (
    id         TEXT PRIMARY KEY,
    created_us BIGINT NOT NULL,
    doc        TEXT NOT NULL
);

CREATE TABLE app_role_assignments (
    id           TEXT PRIMARY KEY,
    resource_id  TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    app_role_id  TEXT NOT NULL,
    doc          TEXT NOT NULL
);
CREATE UNIQUE INDEX app_role_assignments_held ON app_role_assignments (resource_id, principal_id, app_role_id);
CREATE INDEX app_role_assignments_principal ON app_role_assignments (principal_id, id);

CREATE TABLE package_incompatibilities (
    package_id TEXT NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    other_id   TEXT NOT NULL,
    PRIMARY KEY (package_id, other_id)
);
CREATE INDEX package_incompatibilities_other ON package_incompatibilities (other_id, package_id);

-- +goose Down
DROP TABLE package_incompatibilities;
DROP TABLE app_role_assignments;
DROP TABLE resource_requests;
DROP TABLE resources;
