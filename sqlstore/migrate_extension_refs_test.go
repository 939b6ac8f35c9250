package sqlstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// Migration 00013 moves open requests' extension references from rows of
// request_extension_refs into the requests' extension_refs column. A
// database written before it counts the same references afterwards, and
// a request that ends afterwards stops counting.
func TestMigration00013MovesExtensionReferences(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := storeAtVersion(t, backend, 12)

			// What the build before 00013 wrote: the requests' rows, and a
			// reference row per extension an open request's policy binds.
			pol := accesstest.NewPolicy("pol-1", accesstest.NewAccessPackage("pkg-1", "cat-1"))
			open := map[string][]string{"req-a": {"ext-1", "ext-2"}, "req-b": {"ext-2"}, "req-c": nil}
			err := s.Update(ctx, func(tx access.Tx) error {
				for _, id := range []string{"req-a", "req-b", "req-c", "req-done"} {
					r := accesstest.NewRequest(id, pol, "u-"+id)
					if id == "req-done" {
						r.State = access.StateDelivered
					}
					if err := insertOldRequest(tx, r); err != nil {
						return err
					}
					for _, ext := range open[id] {
						if err := sqlstore.Exec(tx, "INSERT INTO request_extension_refs (request_id, extension_id) VALUES (?, ?)", id, ext); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			columns, err := sqlstore.Strings(s, "SELECT id || '=' || extension_refs FROM requests ORDER BY id")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range columns {
				var refs []string
				id, text, _ := strings.Cut(c, "=")
				if err := json.Unmarshal([]byte(text), &refs); err != nil {
					t.Fatalf("%s: extension_refs %q is not a JSON array: %v", id, text, err)
				}
				got = append(got, id+"="+strings.Join(refs, ","))
			}
			want := []string{"req-a=ext-1,ext-2", "req-b=ext-2", "req-c=", "req-done="}
			if !slices.Equal(got, want) {
				t.Errorf("extension_refs after the migration %v, want %v", got, want)
			}
			tables, err := sqlstore.Tables(s)
			if err != nil {
				t.Fatal(err)
			}
			if slices.Contains(tables, "request_extension_refs") {
				t.Errorf("request_extension_refs is still there: %v", tables)
			}

			count := func(ext string) int {
				var n int
				if err := s.View(ctx, func(tx access.Tx) error {
					var err error
					n, err = tx.CountOpenRequestsReferencing(ext)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if a, b, c := count("ext-1"), count("ext-2"), count("ext-3"); a != 1 || b != 2 || c != 0 {
				t.Errorf("open requests referencing ext-1, ext-2, ext-3: %d, %d, %d; want 1, 2, 0", a, b, c)
			}
			// A request read and ended by today's code drops its references.
			if err := s.Update(ctx, func(tx access.Tx) error {
				r, err := tx.Request("req-b")
				if err != nil {
					return err
				}
				r.State = access.StateDelivered
				return tx.PutRequest(r)
			}); err != nil {
				t.Fatal(err)
			}
			if n := count("ext-2"); n != 1 {
				t.Errorf("after req-b ended, %d open requests reference ext-2, want 1", n)
			}
		})
	}
}

// This round's migrations roll back and apply again on a database in use:
// an open request's extension references go back into rows and return to
// the column, and the cache's generation row and triggers come back.
func TestMigrations00012And00013RollBackAndApplyAgain(t *testing.T) {
	for _, backend := range storetest.Backends {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.OpenStore(t, backend, sqlstore.Options{})
			pol := accesstest.NewFullPolicy("pol-1", accesstest.NewAccessPackage("pkg-1", "cat-1"), "approver", "ext-1")
			open := accesstest.NewRequest("req-open", pol, "u-1")
			if err := s.Update(ctx, func(tx access.Tx) error { return tx.AddRequest(open) }); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.MigrateDownTo(ctx, s, 11); err != nil {
				t.Fatalf("rolling back to 11: %v", err)
			}
			rows, err := sqlstore.Strings(s, "SELECT request_id || ' ' || extension_id FROM request_extension_refs")
			if err != nil || !slices.Equal(rows, []string{"req-open ext-1"}) {
				t.Errorf("reference rows after rolling back: %v (%v), want [req-open ext-1]", rows, err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("applying again: %v", err)
			}
			var n int
			if err := s.View(ctx, func(tx access.Tx) error {
				var err error
				n, err = tx.CountOpenRequestsReferencing("ext-1")
				return err
			}); err != nil || n != 1 {
				t.Errorf("open requests referencing ext-1 after applying again: %d (%v), want 1", n, err)
			}
		})
	}
}
