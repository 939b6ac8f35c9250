package storetest_test

import (
	"context"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/access/accesstest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

func TestBackend(t *testing.T) {
	for env, want := range map[string]string{"": "sqlite", "sqlite": "sqlite", "postgres": "postgres", " PostgreSQL ": "postgres"} {
		t.Setenv(storetest.EnvStore, env)
		if got := storetest.Backend(); got != want {
			t.Errorf("%s=%q: Backend() = %q, want %q", storetest.EnvStore, env, got, want)
		}
	}
	t.Setenv(storetest.EnvStore, "mysql")
	defer func() {
		if recover() == nil {
			t.Errorf("Backend() accepted %q", "mysql")
		}
	}()
	storetest.Backend()
}

// Every open gives a store of its own, empty and migrated, on the engine
// its subtest is named after.
func TestEachOpensFreshStores(t *testing.T) {
	var ran []string
	storetest.Each(t, func(t *testing.T, open func(t *testing.T) access.Store) {
		ran = append(ran, t.Name())
		ctx := context.Background()
		a, b := open(t), open(t)
		if err := a.Update(ctx, func(tx access.Tx) error { return tx.PutCatalog(accesstest.NewCatalog("cat-1")) }); err != nil {
			t.Fatal(err)
		}
		err := b.View(ctx, func(tx access.Tx) error { _, err := tx.Catalog("cat-1"); return err })
		if !access.IsNotFound(err) {
			t.Errorf("a second store sees the first one's catalog: %v", err)
		}
		want := map[string]string{"TestEachOpensFreshStores/sqlite": "sqlite", "TestEachOpensFreshStores/postgres": "postgres"}[t.Name()]
		if got := a.(*sqlstore.Store).Engine(); got != want {
			t.Errorf("subtest %s opened a store on %s", t.Name(), got)
		}
	})
	if len(ran) == 0 {
		t.Errorf("Each ran nothing")
	}
}
