package sqlstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
)

// The catalog rows SQLite caches must read as the database holds them:
// after a write that commits, after one that rolls back, after a raw
// statement, and within a group of transactions committed together. The
// same test runs on PostgreSQL.
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

// On PostgreSQL each replica caches the catalog rows too, and must see what
// another replica changed from its next transaction on. A transaction whose
// rows are all cached costs one statement: the generation.
func TestPostgresCachedRowsFollowOtherReplicas(t *testing.T) {
	stores := replicas(t, 2)
	a, b := stores[0], stores[1]
	ctx := testCtx(t)
	cat := accesstest.NewCatalog("cat-1")
	pkg := accesstest.NewAccessPackage("pkg-1", cat.ID)
	other := accesstest.NewAccessPackage("pkg-2", cat.ID)
	policy := accesstest.NewPolicy("pol-1", pkg)
	ext := accesstest.NewExtension("ext-1", cat.ID)
	mustUpdate(t, b, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(cat), tx.PutAccessPackage(pkg), tx.PutAccessPackage(other),
			tx.PutAssignmentPolicy(policy), tx.PutCustomExtension(ext))
	})
	type names struct{ catalog, pkg, policy, ext, incompatible string }
	read := func() (got names) {
		t.Helper()
		err := a.View(ctx, func(tx access.Tx) error {
			c, err1 := tx.Catalog(cat.ID)
			p, err2 := tx.AccessPackage(pkg.ID)
			pol, err3 := tx.AssignmentPolicy(policy.ID)
			x, err4 := tx.CustomExtension(ext.ID)
			inc, err5 := tx.PackagesIncompatibleWith(other.ID)
			got = names{c.DisplayName, p.DisplayName, pol.DisplayName, x.DisplayName, strings.Join(inc, ",")}
			return errors.Join(err1, err2, err3, err4, err5)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := read()
	before := a.Counts().Statements
	if again := read(); again != first {
		t.Errorf("read again: %+v, first %+v", again, first)
	}
	if n := a.Counts().Statements - before; n != 1 {
		t.Errorf("a transaction of cached rows ran %d statements, want 1 (the generation)", n)
	}

	cat.DisplayName, pkg.DisplayName, policy.DisplayName, ext.DisplayName = "cat'", "pkg'", "pol'", "ext'"
	pkg.IncompatiblePackages = []string{other.ID}
	for _, write := range []func(access.Tx) error{
		func(tx access.Tx) error { return tx.PutCatalog(cat) },
		func(tx access.Tx) error { return tx.PutAccessPackage(pkg) },
		func(tx access.Tx) error { return tx.PutAssignmentPolicy(policy) },
		func(tx access.Tx) error { return tx.PutCustomExtension(ext) },
	} {
		mustUpdate(t, b, write)
		read()
	}
	want := names{"cat'", "pkg'", "pol'", "ext'", pkg.ID}
	if got := read(); got != want {
		t.Errorf("after the other replica's writes: %+v, want %+v", got, want)
	}

	mustUpdate(t, b, func(tx access.Tx) error {
		return sqlstore.Exec(tx, "DELETE FROM custom_extensions WHERE id = ?", ext.ID)
	})
	err := a.Update(ctx, func(tx access.Tx) error { _, err := tx.CustomExtension(ext.ID); return err })
	if !access.IsNotFound(err) {
		t.Errorf("after the other replica deleted the extension: %v, want not found", err)
	}
}
