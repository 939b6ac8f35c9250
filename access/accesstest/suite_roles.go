package accesstest

import (
	"errors"
	"testing"

	"github.com/accessd/accessd/access"
)

// Roles: the role assignments principals hold, and the condition
// access.FieldCatalogRoleOf that shows a principal the items of the
// catalogs it holds a role on, inside every list's query.

func testRoleAssignments(t *testing.T, s access.Store) {
	u, sp := NewUser("u-1"), NewServicePrincipal("sp-1")
	owner := NewRoleAssignment("ra-1", u.ID, access.RoleCatalogOwner, "cat-1")
	reader := NewRoleAssignment("ra-2", u.ID, access.RoleCatalogReader, "cat-2")
	creator := NewRoleAssignment("ra-3", u.ID, access.RoleCatalogCreator, "")
	app := NewRoleAssignment("ra-4", sp.ID, access.RoleAccessPackageAssignmentManager, "cat-1")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutUser(u), tx.PutServicePrincipal(sp),
			tx.AddRoleAssignment(owner), tx.AddRoleAssignment(reader), tx.AddRoleAssignment(creator), tx.AddRoleAssignment(app))
	})
	diff(t, "ra-1", read(t, s, func(tx access.Tx) (access.RoleAssignment, error) { return tx.RoleAssignment("ra-1") }), owner)
	diff(t, "ra-3", read(t, s, func(tx access.Tx) (access.RoleAssignment, error) { return tx.RoleAssignment("ra-3") }), creator)
	held := func(principal string) []access.HeldRole {
		t.Helper()
		return read(t, s, func(tx access.Tx) ([]access.HeldRole, error) { return tx.RolesHeld(principal) })
	}
	diff(t, "held by u-1", held(u.ID), []access.HeldRole{owner.Held(), reader.Held(), creator.Held()})
	diff(t, "held by sp-1", held(sp.ID), []access.HeldRole{app.Held()})
	diff(t, "held by nobody", held("nobody"), []access.HeldRole(nil))

	// The same role on the same scope twice, or an id twice, is a conflict
	// that leaves the transaction usable (PostgreSQL aborts on a failed statement).
	update(t, s, func(tx access.Tx) error {
		again := NewRoleAssignment("ra-9", u.ID, access.RoleCatalogOwner, "cat-1")
		wantKind(t, "the same role again", tx.AddRoleAssignment(again), access.KindConflict)
		wantKind(t, "the same id again", tx.AddRoleAssignment(NewRoleAssignment("ra-1", sp.ID, access.RoleCatalogReader, "cat-9")), access.KindConflict)
		// Another role on the same catalog, and the same role elsewhere, are fine.
		return errors.Join(tx.AddRoleAssignment(NewRoleAssignment("ra-5", u.ID, access.RoleCatalogReader, "cat-1")),
			tx.AddRoleAssignment(NewRoleAssignment("ra-6", u.ID, access.RoleCatalogOwner, "cat-3")))
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "delete an unknown id", tx.DeleteRoleAssignment("ra-missing"), access.KindNotFound)
		return errors.Join(tx.DeleteRoleAssignment("ra-5"), tx.DeleteRoleAssignmentsOn("cat-1"), tx.DeleteRoleAssignmentsOn(""))
	})
	view(t, s, func(tx access.Tx) error {
		_, err := tx.RoleAssignment("ra-5")
		wantKind(t, "a deleted role", err, access.KindNotFound)
		return nil
	})
	// Roles on cat-1 are gone, the tenant-wide one stays ("" deletes nothing).
	diff(t, "held by u-1 after deletes", held(u.ID), []access.HeldRole{reader.Held(), creator.Held(), {RoleID: access.RoleCatalogOwner, CatalogID: "cat-3"}})
	diff(t, "held by sp-1 after deletes", held(sp.ID), []access.HeldRole(nil))

	// A principal deleted takes its roles along.
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.AddRoleAssignment(app), tx.DeleteUser(u.ID), tx.DeleteServicePrincipal(sp.ID))
	})
	diff(t, "held by a deleted user", held(u.ID), []access.HeldRole(nil))
	diff(t, "held by a deleted service principal", held(sp.ID), []access.HeldRole(nil))
}

func testCatalogRoleOf(t *testing.T, s access.Store) {
	cats := []access.Catalog{NewCatalog("cat-1"), NewCatalog("cat-2"), NewCatalog("cat-3")}
	var pkgs []access.AccessPackage
	var policies []access.AssignmentPolicy
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, c := range cats {
			p := NewAccessPackage(c.ID+"-pkg", c.ID)
			pol := NewPolicy(c.ID+"-pol", p)
			pol.CatalogID = c.ID
			res := NewResource(c.ID+"-res", c.ID, c.ID+"-group")
			pkgs, policies = append(pkgs, p), append(policies, pol)
			errs = append(errs, tx.PutCatalog(c), tx.PutAccessPackage(p), tx.PutAssignmentPolicy(pol),
				tx.PutCustomExtension(NewExtension(c.ID+"-ext", c.ID)), tx.PutResource(res),
				tx.AddResourceRequest(NewResourceRequest(c.ID+"-rr", res)),
				tx.PutRequest(NewRequest(c.ID+"-req", pol, "target-"+c.ID)),
				tx.PutAssignment(NewAssignment(c.ID+"-asg", pol, "target-"+c.ID)))
		}
		// p-1 reads cat-1 and owns cat-3; a tenant-wide role shows nothing.
		errs = append(errs,
			tx.AddRoleAssignment(NewRoleAssignment("ra-1", "p-1", access.RoleCatalogReader, "cat-1")),
			tx.AddRoleAssignment(NewRoleAssignment("ra-2", "p-1", access.RoleCatalogOwner, "cat-3")),
			tx.AddRoleAssignment(NewRoleAssignment("ra-3", "p-1", access.RoleAccessPackageManager, "cat-3")),
			tx.AddRoleAssignment(NewRoleAssignment("ra-4", "p-2", access.RoleCatalogCreator, "")),
			tx.AddRoleAssignment(NewRoleAssignment("ra-5", "p-3", access.RoleAccessPackageAssignmentManager, "cat-2")))
		return errors.Join(errs...)
	})
	roleOf := func(principal string) *access.Cond {
		return leaf(access.OpEq, access.FieldCatalogRoleOf, str(principal))
	}
	for _, noun := range []struct {
		noun   access.Noun
		suffix string
	}{
		{access.NounCatalogs, ""}, {access.NounAccessPackages, "-pkg"}, {access.NounPolicies, "-pol"},
		{access.NounCustomExtensions, "-ext"}, {access.NounResources, "-res"}, {access.NounResourceRequests, "-rr"},
		{access.NounRequests, "-req"}, {access.NounAssignments, "-asg"},
	} {
		for _, tc := range []struct {
			principal string
			want      []string
		}{{"p-1", []string{"cat-1", "cat-3"}}, {"p-2", nil}, {"p-3", []string{"cat-2"}}, {"nobody", nil}} {
			var want []string
			for _, c := range tc.want {
				want = append(want, c+noun.suffix)
			}
			// Counted and paged inside the query: a page of one, and the count of all.
			ids, _, count, err := listIDs(t, s, noun.noun, access.Query{Scope: roleOf(tc.principal), Top: 1, Count: true})
			if err != nil {
				t.Fatalf("%s for %s: %v", noun.noun, tc.principal, err)
			}
			diff(t, string(noun.noun)+" count for "+tc.principal, count, len(want))
			if len(want) > 0 {
				diff(t, string(noun.noun)+" first page for "+tc.principal, ids, want[:1])
			} else {
				diff(t, string(noun.noun)+" first page for "+tc.principal, ids, []string(nil))
			}
			all, _, _, err := listIDs(t, s, noun.noun, access.Query{Scope: roleOf(tc.principal), Top: 10})
			if err != nil {
				t.Fatal(err)
			}
			diff(t, string(noun.noun)+" for "+tc.principal, all, want)
		}
	}
	// Combined with a filter and with other conditions, as Caller.Visible does.
	ids, _, _, err := listIDs(t, s, access.NounRequests, access.Query{Top: 10, Scope: join(access.OpOr, roleOf("p-3"),
		leaf(access.OpEq, "Target.ID", str("target-cat-1")))})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "requests of p-3's catalogs or targeting target-cat-1", ids, []string{"cat-1-req", "cat-2-req"})
	ids, _, _, err = listIDs(t, s, access.NounRoleAssignments, access.Query{Top: 10, Scope: join(access.OpOr, roleOf("p-3"),
		leaf(access.OpEq, "PrincipalID", str("p-2")))})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "role assignments on p-3's catalogs, and p-2's own", ids, []string{"ra-4", "ra-5"})
	ids, _, _, err = listIDs(t, s, access.NounRoleAssignments, access.Query{Top: 10, Filter: leaf(access.OpEq, "AppScopeID", str("/AccessPackageCatalog/cat-3"))})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "role assignments filtered on appScopeId", ids, []string{"ra-2", "ra-3"})
	// Only eq with an id.
	_, _, _, err = listIDs(t, s, access.NounCatalogs, access.Query{Top: 1, Scope: leaf(access.OpNe, access.FieldCatalogRoleOf, str("p-1"))})
	wantKind(t, "ne on the catalog role", err, access.KindInvalid)
}
