-- SQLite: the twin of 00008_role_assignments.postgres.sql.
--
-- The entitlement-management and directory roles principals hold, one row
-- each: tenant-wide (catalog_id '') or on one catalog. And a catalog_id
-- column on requests, assignments and resource requests (from their
-- documents), so that "the items of the catalogs the caller holds a role
-- on" is an indexed condition inside every list's query.

-- +goose Up
CREATE TABLE role_assignments (
    id                 TEXT PRIMARY KEY,
    principal_id       TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    catalog_id         TEXT NOT NULL,
    doc                TEXT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_held ON role_assignments (principal_id, role_definition_id, catalog_id);
CREATE INDEX role_assignments_catalog ON role_assignments (catalog_id, id);

ALTER TABLE requests ADD COLUMN catalog_id TEXT NOT NULL DEFAULT '';
UPDATE requests SET catalog_id = COALESCE(json_extract(doc, '$.CatalogID'), '');
CREATE INDEX requests_catalog ON requests (catalog_id, id);

ALTER TABLE assignments ADD COLUMN catalog_id TEXT NOT NULL DEFAULT '';
UPDATE assignments SET catalog_id = COALESCE(json_extract(doc, '$.CatalogID'), '');
CREATE INDEX assignments_catalog ON assignments (catalog_id, id);

ALTER TABLE resource_requests ADD COLUMN catalog_id TEXT NOT NULL DEFAULT '';
UPDATE resource_requests SET catalog_id = COALESCE(json_extract(doc, '$.CatalogID'), '');
CREATE INDEX resource_requests_catalog ON resource_requests (catalog_id, id);

-- +goose Down
DROP INDEX resource_requests_catalog;
ALTER TABLE resource_requests DROP COLUMN catalog_id;
DROP INDEX assignments_catalog;
ALTER TABLE assignments DROP COLUMN catalog_id;
DROP INDEX requests_catalog;
ALTER TABLE requests DROP COLUMN catalog_id;
DROP TABLE role_assignments;
