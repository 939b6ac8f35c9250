package sqlstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// storeAtVersion opens a new database on backend with the schema an older
// accessd left: migrated up to version and no further.
func storeAtVersion(t *testing.T, backend string, version int64) *sqlstore.Store {
	t.Helper()
	storetest.RequireBackend(t, backend)
	s := storetest.OpenUnmigrated(t, storetest.DSN(t, backend), sqlstore.Options{})
	if err := sqlstore.MigrateTo(context.Background(), s, version); err != nil {
		t.Fatal(err)
	}
	return s
}

// insertOldRequest writes a request's row as the builds before migration
// 00013 did: no extension_refs column (its reference rows are the
// caller's to write).
func insertOldRequest(tx access.Tx, r access.Request) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	isOpen := 1
	if r.State.IsFinal() {
		isOpen = 0
	}
	return sqlstore.Exec(tx, `INSERT INTO requests (id, request_type, state, target_id, access_package_id, policy_id,
assignment_id, catalog_id, is_open, created_us, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, string(r.Type), string(r.State), r.Target.ID, r.AccessPackageID, r.PolicyID, r.AssignmentID, r.CatalogID,
		isOpen, r.CreatedDateTime.UnixMicro(), string(doc))
}

// Migration 00009 on a database that accessd before it wrote, with the one
// kind of data that breaks the new rule: two open add requests of one
// target and package (a request reprocessed after another was submitted).
// The newer is marked is_open = 2: still open to every count, outside the
// index; the rule holds for every request opened from then on.
func TestMigration00009OnAnOlderDatabase(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := storeAtVersion(t, backend, 8)
			pol := accesstest.NewPolicy("pol-1", accesstest.NewAccessPackage("pkg-1", "cat-1"))
			older := accesstest.NewRequest("req-older", pol, "u-1")
			newer := accesstest.NewRequest("req-newer", pol, "u-1")
			newer.CreatedDateTime = older.CreatedDateTime.Add(time.Minute)
			expiry := accesstest.NewRequest("req-expiry", pol, "u-1")
			expiry.Type = access.RequestSystemRemove
			other := accesstest.NewRequest("req-other", pol, "u-2")
			done := accesstest.NewRequest("req-done", pol, "u-1")
			done.State = access.StateDelivered
			if err := s.Update(ctx, func(tx access.Tx) error {
				for _, r := range []access.Request{older, newer, expiry, other, done} {
					if err := insertOldRequest(tx, r); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}

			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("migrating a database with two open requests of one target and package: %v", err)
			}
			marks, err := sqlstore.Strings(s, "SELECT id || '=' || CAST(is_open AS TEXT) FROM requests ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"req-done=0", "req-expiry=1", "req-newer=2", "req-older=1", "req-other=1"}
			if !slices.Equal(marks, want) {
				t.Errorf("is_open after the migration %v, want %v", marks, want)
			}
			count := func(target string) int {
				var n int
				if err := s.View(ctx, func(tx access.Tx) error {
					var err error
					n, err = tx.CountOpenRequests(access.RequestFilter{TargetID: target, AccessPackageID: pol.AccessPackageID})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count("u-1"); n != 3 {
				t.Errorf("u-1 has %d open requests after the migration, want the 3 it had", n)
			}
			put := func(r access.Request) error {
				return s.Update(ctx, func(tx access.Tx) error {
					if _, err := tx.Request(r.ID); err != nil && !access.IsNotFound(err) {
						return err
					}
					return tx.PutRequest(r)
				})
			}
			// The marked request goes on and ends as any other.
			newer.Status = access.StatusDelivering
			if err := put(newer); err != nil {
				t.Errorf("writing the marked request while it stays open: %v", err)
			}
			newer.State = access.StateDelivered
			if err := put(newer); err != nil {
				t.Errorf("ending the marked request: %v", err)
			}
			if n := count("u-1"); n != 2 {
				t.Errorf("u-1 has %d open requests once the marked one ended, want 2", n)
			}
			// From now on the rule holds: a second open add request is refused,
			// the reopened request included.
			newer.State = access.StateDelivering
			if err := put(newer); access.KindOf(err) != access.KindConflict {
				t.Errorf("reopening beside an open request: %v, want a conflict", err)
			}
			if err := put(accesstest.NewRequest("req-second", pol, "u-2")); access.KindOf(err) != access.KindConflict {
				t.Errorf("a second open request of u-2: %v, want a conflict", err)
			}
		})
	}
}
