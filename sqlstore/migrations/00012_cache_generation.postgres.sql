-- PostgreSQL: the generation of the row cache (sqlstore/nouncache.go).
-- Replicas cache catalogs, access packages, policies, custom extensions and
-- the rows that join them; any change to those tables, from any replica,
-- adds one to cache_generation.n in the same transaction, and a replica
-- uses what it cached only while the number it reads is the one the rows
-- were read with. Row triggers (not statement triggers), so that a DELETE
-- or UPDATE that matched nothing leaves the caches alone; TRUNCATE, which
-- fires no row trigger, has a statement trigger of its own.

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

-- +goose StatementBegin
DO $$
DECLARE
    t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['catalogs', 'access_packages', 'assignment_policies', 'custom_extensions',
                             'package_incompatibilities', 'policy_extension_bindings'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I
                        FOR EACH ROW EXECUTE FUNCTION accessd_cache_generation_bump()', t || '_cache_generation', t);
        EXECUTE format('CREATE TRIGGER %I AFTER TRUNCATE ON %I
                        FOR EACH STATEMENT EXECUTE FUNCTION accessd_cache_generation_bump()', t || '_cache_generation_truncate', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- Dropping the function drops the triggers that call it.
DROP FUNCTION accessd_cache_generation_bump() CASCADE;
DROP TABLE cache_generation;
