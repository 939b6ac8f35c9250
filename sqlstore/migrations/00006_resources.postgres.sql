-- PostgreSQL: the twin of 00006_resources.sqlite.sql, with every TEXT column
-- COLLATE "C" (byte order, as SQLite compares; see 00003).

-- Catalog resources (groups and applications), the requests that add and
-- remove them, the app roles the directory's principals hold, and the
-- packages each package is incompatible with (the reverse of what a
-- package's doc lists, for the separation-of-duties check).

-- +goose Up
CREATE TABLE resources (
    id            TEXT COLLATE "C" PRIMARY KEY,
    catalog_id    TEXT COLLATE "C" NOT NULL,
    origin_system TEXT COLLATE "C" NOT NULL,
    origin_id     TEXT COLLATE "C" NOT NULL,
    doc           TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX resources_origin ON resources (catalog_id, origin_system, origin_id);

CREATE TABLE resource_requests (
    id         TEXT COLLATE "C" PRIMARY KEY,
    created_us BIGINT NOT NULL,
    doc        TEXT COLLATE "C" NOT NULL
);

CREATE TABLE app_role_assignments (
    id           TEXT COLLATE "C" PRIMARY KEY,
    resource_id  TEXT COLLATE "C" NOT NULL,
    principal_id TEXT COLLATE "C" NOT NULL,
    app_role_id  TEXT COLLATE "C" NOT NULL,
    doc          TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX app_role_assignments_held ON app_role_assignments (resource_id, principal_id, app_role_id);
CREATE INDEX app_role_assignments_principal ON app_role_assignments (principal_id, id);

CREATE TABLE package_incompatibilities (
    package_id TEXT COLLATE "C" NOT NULL REFERENCES access_packages (id) ON DELETE CASCADE,
    other_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (package_id, other_id)
);
CREATE INDEX package_incompatibilities_other ON package_incompatibilities (other_id, package_id);

-- +goose Down
DROP TABLE package_incompatibilities;
DROP TABLE app_role_assignments;
DROP TABLE resource_requests;
DROP TABLE resources;
