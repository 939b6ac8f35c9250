-- PostgreSQL: the generation of the row cache (sqlstore/nouncache.go).
-- Replicas cache catalogs, access packages, policies, custom extensions and
-- the rows that join them; any change to those tables, from any replica,
-- adds one to cache_generation.n in the same transaction, and a replica
-- uses what it cached only while the number it reads is the one the rows
-- were read with. Row triggers (not statement triggers), so that a DELETE
-- or UPDATE that matched nothing leaves the caches alone.

-- +goose Up
CREATE TABLE cache_generation (
    one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
    n   BIGINT NOT NULL
);
INSERT INTO cache_generation (n) VALUES (1);

-- +goose StatementBegin
CREATE FUNCTION accessd_cache_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_generation SET n = n + 1;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER catalogs_cache_generation AFTER INSERT OR UPDATE OR DELETE ON catalogs
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER catalogs_cache_generation_truncate AFTER TRUNCATE ON catalogs
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER access_packages_cache_generation AFTER INSERT OR UPDATE OR DELETE ON access_packages
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER access_packages_cache_generation_truncate AFTER TRUNCATE ON access_packages
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER assignment_policies_cache_generation AFTER INSERT OR UPDATE OR DELETE ON assignment_policies
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER assignment_policies_cache_generation_truncate AFTER TRUNCATE ON assignment_policies
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER custom_extensions_cache_generation AFTER INSERT OR UPDATE OR DELETE ON custom_extensions
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER custom_extensions_cache_generation_truncate AFTER TRUNCATE ON custom_extensions
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER package_incompatibilities_cache_generation AFTER INSERT OR UPDATE OR DELETE ON package_incompatibilities
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER package_incompatibilities_cache_generation_truncate AFTER TRUNCATE ON package_incompatibilities
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER policy_extension_bindings_cache_generation AFTER INSERT OR UPDATE OR DELETE ON policy_extension_bindings
    FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump();
CREATE TRIGGER policy_extension_bindings_cache_generation_truncate AFTER TRUNCATE ON policy_extension_bindings
    FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump();

-- +goose Down
DROP TRIGGER catalogs_cache_generation ON catalogs;
DROP TRIGGER catalogs_cache_generation_truncate ON catalogs;
DROP TRIGGER access_packages_cache_generation ON access_packages;
DROP TRIGGER access_packages_cache_generation_truncate ON access_packages;
DROP TRIGGER assignment_policies_cache_generation ON assignment_policies;
DROP TRIGGER assignment_policies_cache_generation_truncate ON assignment_policies;
DROP TRIGGER custom_extensions_cache_generation ON custom_extensions;
DROP TRIGGER custom_extensions_cache_generation_truncate ON custom_extensions;
DROP TRIGGER package_incompatibilities_cache_generation ON package_incompatibilities;
DROP TRIGGER package_incompatibilities_cache_generation_truncate ON package_incompatibilities;
DROP TRIGGER policy_extension_bindings_cache_generation ON policy_extension_bindings;
DROP TRIGGER policy_extension_bindings_cache_generation_truncate ON policy_extension_bindings;
DROP FUNCTION accessd_cache_generation_bump();
DROP TABLE cache_generation;
