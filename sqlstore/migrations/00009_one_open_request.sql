-- Both engines. At most one open request per target and access package,
-- held by the database itself: on PostgreSQL Update transactions run READ
-- COMMITTED (sqlstore/locks.go), and two submissions that each counted no
-- open request would otherwise both insert one. The Service checks the rule
-- first and says so in its own words; this index is what holds it when two
-- replicas check at the same moment, and what holds it against a reprocessed
-- request that opens again beside a newer one. Requests accessd opens
-- itself (an expiry's systemRemove) are outside the rule: an assignment
-- may expire while a request of its target is pending.
--
-- A database written before this migration may hold requests that break
-- the rule: an add request reprocessed after another had been submitted for
-- the same target and package. They stay open as they were, but the newer
-- ones are marked is_open = 2 (every query of the store counts 1 and 2 as
-- open alike) and stand outside the index until they end; a request that
-- opens again later is held by the rule like any other.

-- +goose Up
UPDATE requests SET is_open = 2
WHERE is_open = 1 AND request_type NOT IN ('systemAdd', 'systemRemove')
  AND EXISTS (SELECT 1 FROM requests older
              WHERE older.is_open = 1 AND older.request_type NOT IN ('systemAdd', 'systemRemove')
                AND older.target_id = requests.target_id AND older.access_package_id = requests.access_package_id
                AND (older.created_us < requests.created_us
                     OR (older.created_us = requests.created_us AND older.id < requests.id)));
CREATE UNIQUE INDEX requests_open_per_target ON requests (target_id, access_package_id)
    WHERE is_open = 1 AND request_type NOT IN ('systemAdd', 'systemRemove');

-- +goose Down
DROP INDEX requests_open_per_target;
UPDATE requests SET is_open = 1 WHERE is_open = 2;
