package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
)

// The catalog rows SQLite caches must read as the database holds them:
// after a write that commits, after one that rolls back, after a raw
// statement, and within a group of transactions committed together. The
// same test runs on PostgreSQL, which has no cache.
func TestCachedRowsFollowWrites(t *testing.T) {
	eachEngine(t, func(t *testing.T, s *sqlstore.Store) {
		ctx := context.Background()
		pkg := accesstest.NewAccessPackage("pkg-1", "cat-1")
		pkg.DisplayName = "first"
		mustUpdate(t, s, func(tx access.Tx) error {
			return errors.Join(tx.PutCatalog(accesstest.NewCatalog("cat-1")), tx.PutAccessPackage(pkg))
		})
		name := func(what, want string) {
			t.Helper()
			for _, run := range []func(context.Context, func(access.Tx) error) error{s.View, s.Update} {
				var got string
				err := run(ctx, func(tx access.Tx) error {
					p, err := tx.AccessPackage(pkg.ID)
					got = p.DisplayName
					return err
				})
				if err != nil || got != want {
					t.Errorf("%s: package name %q (%v), want %q", what, got, err, want)
				}
			}
		}
		name("at first", "first")
		name("read again, from the cache on SQLite", "first")

		pkg.DisplayName = "second"
		mustUpdate(t, s, func(tx access.Tx) error { return tx.PutAccessPackage(pkg) })
		name("after a write", "second")

		failed := errors.New("rolled back")
		err := s.Update(ctx, func(tx access.Tx) error {
			p := pkg
			p.DisplayName = "never"
			if err := tx.PutAccessPackage(p); err != nil {
				return err
			}
			if got, err := tx.AccessPackage(pkg.ID); err != nil || got.DisplayName != "never" {
				t.Errorf("the writer reads its own write as %q (%v)", got.DisplayName, err)
			}
			return failed
		})
		if !errors.Is(err, failed) {
			t.Fatalf("Update = %v, want the failure", err)
		}
		name("after a write that rolled back", "second")

		mustUpdate(t, s, func(tx access.Tx) error {
			return sqlstore.Exec(tx, "DELETE FROM access_packages WHERE id = ?", pkg.ID)
		})
		err = s.View(ctx, func(tx access.Tx) error { _, err := tx.AccessPackage(pkg.ID); return err })
		if !access.IsNotFound(err) {
			t.Errorf("after a raw delete: %v, want not found", err)
		}

		// Transactions that run together (group commit on SQLite): each
		// one that reads after another wrote sees the write.
		mustUpdate(t, s, func(tx access.Tx) error { return tx.PutAccessPackage(pkg) })
		var wg sync.WaitGroup
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := string(rune('a' + i))
				err := s.Update(ctx, func(tx access.Tx) error {
					p := pkg
					p.DisplayName = want
					if err := tx.PutAccessPackage(p); err != nil {
						return err
					}
					got, err := tx.AccessPackage(pkg.ID)
					if err == nil && got.DisplayName != want {
						t.Errorf("transaction %d reads %q after writing %q", i, got.DisplayName, want)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		var last string
		if err := s.Update(ctx, func(tx access.Tx) error {
			p, err := tx.AccessPackage(pkg.ID)
			last = p.DisplayName
			return err
		}); err != nil {
			t.Fatal(err)
		}
		name("after the group", last)
	})
}

func mustUpdate(t *testing.T, s *sqlstore.Store, fn func(access.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}
