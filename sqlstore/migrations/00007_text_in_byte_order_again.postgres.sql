-- PostgreSQL only (the SQLite twin of this file does nothing).
--
-- 00005 and 00006 added TEXT columns without COLLATE "C", so on a database
-- whose collation is a language's, resources, app role assignments and the
-- other new tables paged in another order than on SQLite (see
-- 00003_text_in_byte_order.postgres.sql). Here they compare bytes too.

-- +goose Up
ALTER TABLE request_approvers
    ALTER COLUMN request_id TYPE TEXT COLLATE "C",
    ALTER COLUMN approver_id TYPE TEXT COLLATE "C";
ALTER TABLE resources
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "C",
    ALTER COLUMN origin_system TYPE TEXT COLLATE "C",
    ALTER COLUMN origin_id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE resource_requests
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE app_role_assignments
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN resource_id TYPE TEXT COLLATE "C",
    ALTER COLUMN principal_id TYPE TEXT COLLATE "C",
    ALTER COLUMN app_role_id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE package_incompatibilities
    ALTER COLUMN package_id TYPE TEXT COLLATE "C",
    ALTER COLUMN other_id TYPE TEXT COLLATE "C";

-- +goose Down
ALTER TABLE package_incompatibilities
    ALTER COLUMN package_id TYPE TEXT COLLATE "default",
    ALTER COLUMN other_id TYPE TEXT COLLATE "default";
ALTER TABLE app_role_assignments
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN resource_id TYPE TEXT COLLATE "default",
    ALTER COLUMN principal_id TYPE TEXT COLLATE "default",
    ALTER COLUMN app_role_id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE resource_requests
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE resources
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "default",
    ALTER COLUMN origin_system TYPE TEXT COLLATE "default",
    ALTER COLUMN origin_id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE request_approvers
    ALTER COLUMN request_id TYPE TEXT COLLATE "default",
    ALTER COLUMN approver_id TYPE TEXT COLLATE "default";
