-- PostgreSQL: the twin of 00008_role_assignments.sqlite.sql, with every TEXT
-- column COLLATE "C" (byte order, as SQLite compares; see 00003).

-- +goose Up
CREATE TABLE role_assignments (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    principal_id       TEXT COLLATE "C" NOT NULL,
    role_definition_id TEXT COLLATE "C" NOT NULL,
    catalog_id         TEXT COLLATE "C" NOT NULL,
    doc                TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX role_assignments_held ON role_assignments (principal_id, role_definition_id, catalog_id);
CREATE INDEX role_assignments_catalog ON role_assignments (catalog_id, id);

ALTER TABLE requests ADD COLUMN catalog_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE requests SET catalog_id = COALESCE(doc::jsonb ->> 'CatalogID', '');
CREATE INDEX requests_catalog ON requests (catalog_id, id);

ALTER TABLE assignments ADD COLUMN catalog_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE assignments SET catalog_id = COALESCE(doc::jsonb ->> 'CatalogID', '');
CREATE INDEX assignments_catalog ON assignments (catalog_id, id);

ALTER TABLE resource_requests ADD COLUMN catalog_id TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE resource_requests SET catalog_id = COALESCE(doc::jsonb ->> 'CatalogID', '');
CREATE INDEX resource_requests_catalog ON resource_requests (catalog_id, id);

-- +goose Down
DROP INDEX resource_requests_catalog;
ALTER TABLE resource_requests DROP COLUMN catalog_id;
DROP INDEX assignments_catalog;
ALTER TABLE assignments DROP COLUMN catalog_id;
DROP INDEX requests_catalog;
ALTER TABLE requests DROP COLUMN catalog_id;
DROP TABLE role_assignments;
