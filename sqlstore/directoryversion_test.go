package sqlstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// TestDirectoryVersion checks which transactions move the directory
// version on (those that changed a user or a service principal, committed
// or not) and which leave it (reads, other writes), and that only SQLite,
// where this process is the only writer, offers it for caching.
func TestDirectoryVersion(t *testing.T) {
	ctx := context.Background()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			storetest.RequireBackend(t, backend)
			st := storetest.OpenStore(t, backend, sqlstore.Options{})
			if _, ok := st.DirectoryVersion(); ok != (backend == "sqlite") {
				t.Fatalf("DirectoryVersion ok = %v on %s", ok, backend)
			}
			update := func(fn func(tx access.Tx) error) func() {
				return func() { _ = st.Update(ctx, fn) }
			}
			failed := errors.New("rolled back")
			steps := []struct {
				name  string
				run   func()
				moves bool
			}{
				{"user created", update(func(tx access.Tx) error {
					return tx.PutUser(access.User{ID: "u1", DisplayName: "One", UserPrincipalName: "one@contoso.test"})
				}), true},
				{"read", func() { _ = st.View(ctx, func(tx access.Tx) error { _, err := tx.User("u1"); return err }) }, false},
				{"catalog written", update(func(tx access.Tx) error {
					return tx.PutCatalog(access.Catalog{ID: "c1", DisplayName: "C"})
				}), false},
				{"service principal created", update(func(tx access.Tx) error {
					return tx.PutServicePrincipal(access.ServicePrincipal{ID: "sp1", AppID: "a1", DisplayName: "Bot"})
				}), true},
				{"user changed, then rolled back", update(func(tx access.Tx) error {
					if err := tx.PutUser(access.User{ID: "u1", DisplayName: "Uno", UserPrincipalName: "one@contoso.test"}); err != nil {
						return err
					}
					return failed
				}), true},
				{"service principal deleted", update(func(tx access.Tx) error { return tx.DeleteServicePrincipal("sp1") }), true},
				{"user deleted", update(func(tx access.Tx) error { return tx.DeleteUser("u1") }), true},
			}
			for _, step := range steps {
				before, _ := st.DirectoryVersion()
				step.run()
				after, _ := st.DirectoryVersion()
				if moved := after != before; moved != step.moves {
					t.Errorf("%s: version %d -> %d, want moved = %v", step.name, before, after, step.moves)
				}
			}
		})
	}
}
