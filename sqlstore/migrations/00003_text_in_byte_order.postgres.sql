-- PostgreSQL only (the SQLite twin of this file does nothing).
--
-- SQLite compares and sorts TEXT byte by byte; PostgreSQL by the collation
-- of the database, which is often a language's (en-US puts "a" before "B"
-- and ignores "-" at first). Lists page by id (WHERE id > ? ORDER BY id), and
-- ids come from clients, so both engines must order them the same way: here
-- every TEXT column of 00001 and 00002 becomes COLLATE "C", which compares
-- bytes as SQLite does, and the indexes on them follow. Equality is the same
-- under every collation PostgreSQL offers by default, so only order changes.
--
-- A later migration that adds a TEXT column makes it COLLATE "C" the same
-- way, in a file of its own named *.postgres.sql beside a *.sqlite.sql twin
-- of the same version; sqlstore's tests check that no TEXT column of the
-- PostgreSQL schema is left out.

-- +goose Up
ALTER TABLE catalogs
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE access_packages
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE assignment_policies
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "C",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN review_settings TYPE TEXT COLLATE "C",
    ALTER COLUMN notification_settings TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE policy_extension_bindings
    ALTER COLUMN policy_id TYPE TEXT COLLATE "C",
    ALTER COLUMN stage TYPE TEXT COLLATE "C",
    ALTER COLUMN extension_id TYPE TEXT COLLATE "C";
ALTER TABLE custom_extensions
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE users
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN user_principal_name TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN manager_id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE groups
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE group_relations
    ALTER COLUMN group_id TYPE TEXT COLLATE "C",
    ALTER COLUMN relation TYPE TEXT COLLATE "C",
    ALTER COLUMN object_id TYPE TEXT COLLATE "C",
    ALTER COLUMN object_kind TYPE TEXT COLLATE "C";
ALTER TABLE service_principals
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN app_id TYPE TEXT COLLATE "C",
    ALTER COLUMN display_name TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE signing_keys
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN slot TYPE TEXT COLLATE "C",
    ALTER COLUMN private_pem TYPE TEXT COLLATE "C";
ALTER TABLE settings
    ALTER COLUMN name TYPE TEXT COLLATE "C",
    ALTER COLUMN value TYPE TEXT COLLATE "C";
ALTER TABLE requests
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN request_type TYPE TEXT COLLATE "C",
    ALTER COLUMN state TYPE TEXT COLLATE "C",
    ALTER COLUMN target_id TYPE TEXT COLLATE "C",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "C",
    ALTER COLUMN policy_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignment_id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE request_extension_refs
    ALTER COLUMN request_id TYPE TEXT COLLATE "C",
    ALTER COLUMN extension_id TYPE TEXT COLLATE "C";
ALTER TABLE assignments
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN target_id TYPE TEXT COLLATE "C",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "C",
    ALTER COLUMN policy_id TYPE TEXT COLLATE "C",
    ALTER COLUMN state TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE history
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN request_id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE work
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN kind TYPE TEXT COLLATE "C",
    ALTER COLUMN request_id TYPE TEXT COLLATE "C",
    ALTER COLUMN assignment_id TYPE TEXT COLLATE "C",
    ALTER COLUMN lease_owner TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";
ALTER TABLE callout_attempts
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN doc TYPE TEXT COLLATE "C";

-- +goose Down
ALTER TABLE catalogs
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE access_packages
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE assignment_policies
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "default",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN review_settings TYPE TEXT COLLATE "default",
    ALTER COLUMN notification_settings TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE policy_extension_bindings
    ALTER COLUMN policy_id TYPE TEXT COLLATE "default",
    ALTER COLUMN stage TYPE TEXT COLLATE "default",
    ALTER COLUMN extension_id TYPE TEXT COLLATE "default";
ALTER TABLE custom_extensions
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN catalog_id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE users
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN user_principal_name TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN manager_id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE groups
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE group_relations
    ALTER COLUMN group_id TYPE TEXT COLLATE "default",
    ALTER COLUMN relation TYPE TEXT COLLATE "default",
    ALTER COLUMN object_id TYPE TEXT COLLATE "default",
    ALTER COLUMN object_kind TYPE TEXT COLLATE "default";
ALTER TABLE service_principals
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN app_id TYPE TEXT COLLATE "default",
    ALTER COLUMN display_name TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE signing_keys
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN slot TYPE TEXT COLLATE "default",
    ALTER COLUMN private_pem TYPE TEXT COLLATE "default";
ALTER TABLE settings
    ALTER COLUMN name TYPE TEXT COLLATE "default",
    ALTER COLUMN value TYPE TEXT COLLATE "default";
ALTER TABLE requests
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN request_type TYPE TEXT COLLATE "default",
    ALTER COLUMN state TYPE TEXT COLLATE "default",
    ALTER COLUMN target_id TYPE TEXT COLLATE "default",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "default",
    ALTER COLUMN policy_id TYPE TEXT COLLATE "default",
    ALTER COLUMN assignment_id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE request_extension_refs
    ALTER COLUMN request_id TYPE TEXT COLLATE "default",
    ALTER COLUMN extension_id TYPE TEXT COLLATE "default";
ALTER TABLE assignments
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN target_id TYPE TEXT COLLATE "default",
    ALTER COLUMN access_package_id TYPE TEXT COLLATE "default",
    ALTER COLUMN policy_id TYPE TEXT COLLATE "default",
    ALTER COLUMN state TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE history
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN request_id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE work
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN kind TYPE TEXT COLLATE "default",
    ALTER COLUMN request_id TYPE TEXT COLLATE "default",
    ALTER COLUMN assignment_id TYPE TEXT COLLATE "default",
    ALTER COLUMN lease_owner TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
ALTER TABLE callout_attempts
    ALTER COLUMN id TYPE TEXT COLLATE "default",
    ALTER COLUMN doc TYPE TEXT COLLATE "default";
