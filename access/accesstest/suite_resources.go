package accesstest

import (
	"errors"
	"testing"

	"github.com/accessd/accessd/access"
)

// The catalog's resources, the requests that add them, the app roles the
// directory's principals hold, group membership lookups, and the reverse
// index of package incompatibilities.

func testResources(t *testing.T, s access.Store) {
	c1, c2 := NewCatalog("cat-1"), NewCatalog("cat-2")
	group := NewResource("res-1", c1.ID, "origin-a")
	other := NewResource("res-2", c1.ID, "origin-b")
	app := NewResource("res-3", c1.ID, "origin-a") // the same origin id in another origin system
	app.OriginSystem, app.Roles = access.OriginApplication, []access.ResourceRole{{ID: "res-3-default", OriginID: access.DefaultAccessRoleID, DisplayName: "Default Access"}}
	elsewhere := NewResource("res-4", c2.ID, "origin-a")                                                              // the same group in another catalog
	minimal := access.Resource{ID: "res-5", CatalogID: c2.ID, OriginID: "origin-m", OriginSystem: access.OriginGroup} // nil slices stay nil
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(c1), tx.PutCatalog(c2), tx.PutResource(other), tx.PutResource(app),
			tx.PutResource(group), tx.PutResource(elsewhere), tx.PutResource(minimal))
	})

	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 100}
		for _, r := range []access.Resource{group, other, app, elsewhere, minimal} {
			diff(t, "resource "+r.ID, must(tx.Resource(r.ID)), r)
		}
		diff(t, "Resources of cat-1", must(tx.Resources(c1.ID, all)), []access.Resource{group, other, app})
		diff(t, "Resources of cat-2", must(tx.Resources(c2.ID, all)), []access.Resource{elsewhere, minimal})
		diff(t, "Resources of all", ids(must(tx.Resources("", all))), []string{group.ID, other.ID, app.ID, elsewhere.ID, minimal.ID})
		diff(t, "Resources of a missing catalog", must(tx.Resources("cat-missing", all)), []access.Resource(nil))
		diff(t, "the group in cat-1", must(tx.ResourceByOrigin(c1.ID, access.OriginGroup, "origin-a")), group)
		diff(t, "the application in cat-1", must(tx.ResourceByOrigin(c1.ID, access.OriginApplication, "origin-a")), app)
		diff(t, "the group in cat-2", must(tx.ResourceByOrigin(c2.ID, access.OriginGroup, "origin-a")), elsewhere)
		wantKind(t, "an origin only another catalog has", second(tx.ResourceByOrigin(c2.ID, access.OriginGroup, "origin-b")), access.KindNotFound)
		wantKind(t, "an origin system the origin is not in", second(tx.ResourceByOrigin(c1.ID, access.OriginApplication, "origin-b")), access.KindNotFound)
		return nil
	})
	diff(t, "Resources of cat-1 a page at a time", pageThrough(t, s, "Resources", 1, func(tx access.Tx, p access.Page) ([]access.Resource, error) {
		return tx.Resources(c1.ID, p)
	}), []string{group.ID, other.ID, app.ID})

	// A second resource for the same origin in one catalog is a conflict,
	// whether it is new or an existing one moved onto it; nothing is written.
	duplicate := NewResource("res-6", c1.ID, "origin-a")
	moved := other
	moved.OriginID = "origin-a"
	for name, r := range map[string]access.Resource{"a new resource": duplicate, "a resource moved onto the origin": moved} {
		err := s.Update(ctx(t), func(tx access.Tx) error { return tx.PutResource(r) })
		wantKind(t, name+" for an origin the catalog has", err, access.KindConflict)
	}
	view(t, s, func(tx access.Tx) error {
		wantKind(t, "the refused resource", second(tx.Resource(duplicate.ID)), access.KindNotFound)
		diff(t, "the resource refused a move", must(tx.Resource(other.ID)), other)
		return nil
	})

	// A put replaces the whole resource, and the lookup columns follow.
	renamed := other
	renamed.OriginID, renamed.DisplayName, renamed.Roles, renamed.Scopes = "origin-c", "Renamed", renamed.Roles[:1], nil
	update(t, s, func(tx access.Tx) error { return tx.PutResource(renamed) })
	view(t, s, func(tx access.Tx) error {
		diff(t, "replaced resource", must(tx.Resource(renamed.ID)), renamed)
		diff(t, "the replaced resource by its new origin", must(tx.ResourceByOrigin(c1.ID, access.OriginGroup, "origin-c")), renamed)
		wantKind(t, "the replaced resource by its old origin", second(tx.ResourceByOrigin(c1.ID, access.OriginGroup, "origin-b")), access.KindNotFound)
		return nil
	})

	// A deleted resource is gone and frees its origin in its catalog.
	update(t, s, func(tx access.Tx) error { return tx.DeleteResource(group.ID) })
	view(t, s, func(tx access.Tx) error {
		wantKind(t, "deleted resource", second(tx.Resource(group.ID)), access.KindNotFound)
		wantKind(t, "deleted resource by origin", second(tx.ResourceByOrigin(c1.ID, access.OriginGroup, "origin-a")), access.KindNotFound)
		diff(t, "Resources of cat-1 after the delete", ids(must(tx.Resources(c1.ID, access.Page{Limit: 10}))), []string{renamed.ID, app.ID})
		diff(t, "the same group in cat-2", must(tx.Resource(elsewhere.ID)), elsewhere)
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "deleting a resource twice", tx.DeleteResource(group.ID), access.KindNotFound)
		return tx.PutResource(duplicate)
	})
	diff(t, "a new resource for the freed origin", read(t, s, func(tx access.Tx) (access.Resource, error) {
		return tx.ResourceByOrigin(c1.ID, access.OriginGroup, "origin-a")
	}), duplicate)
}

func testResourceRequests(t *testing.T, s access.Store) {
	res := NewResource("res-1", "cat-1", "origin-a")
	add := NewResourceRequest("rr-2", res)
	remove := NewResourceRequest("rr-1", res)
	remove.Type, remove.Justification = access.ResourceRequestRemove, "No longer needed"
	minimal := access.ResourceRequest{ID: "rr-3"}
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.AddResourceRequest(add), tx.AddResourceRequest(remove), tx.AddResourceRequest(minimal))
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "adminAdd request", must(tx.ResourceRequest(add.ID)), add)
		diff(t, "adminRemove request", must(tx.ResourceRequest(remove.ID)), remove)
		diff(t, "minimal request", must(tx.ResourceRequest(minimal.ID)), minimal)
		diff(t, "ResourceRequests", must(tx.ResourceRequests(access.Page{Limit: 10})), []access.ResourceRequest{remove, add, minimal})
		return nil
	})
	diff(t, "ResourceRequests a page at a time", pageThrough(t, s, "ResourceRequests", 2, func(tx access.Tx, p access.Page) ([]access.ResourceRequest, error) {
		return tx.ResourceRequests(p)
	}), []string{remove.ID, add.ID, minimal.ID})

	// Requests are a record: adding one with an id already taken is a conflict and changes nothing.
	again := add
	again.Justification = "Changed"
	err := s.Update(ctx(t), func(tx access.Tx) error { return tx.AddResourceRequest(again) })
	wantKind(t, "adding a resource request with a taken id", err, access.KindConflict)
	diff(t, "the request after the refused add", read(t, s, func(tx access.Tx) (access.ResourceRequest, error) {
		return tx.ResourceRequest(add.ID)
	}), add)
}

func testAppRoleAssignments(t *testing.T, s access.Store) {
	app, other := NewServicePrincipal("sp-1"), NewServicePrincipal("sp-2")
	u1, u2 := NewUser("u-1"), NewUser("u-2")
	g := NewGroup("g-1")
	reader, writer := app.AppRoles[0].ID, app.AppRoles[1].ID
	u1Reads := NewAppRoleAssignment("ara-1", app, reader, u1.ID)
	u1Writes := NewAppRoleAssignment("ara-2", app, writer, u1.ID)
	u2Reads := NewAppRoleAssignment("ara-3", app, reader, u2.ID)
	u1ReadsOther := NewAppRoleAssignment("ara-4", other, other.AppRoles[0].ID, u1.ID)
	groupReads := NewAppRoleAssignment("ara-5", app, reader, g.ID)
	groupReads.PrincipalType, groupReads.PrincipalDisplayName = "Group", g.DisplayName
	otherReads := NewAppRoleAssignment("ara-6", app, reader, other.ID) // a service principal holding another's role
	otherReads.PrincipalType, otherReads.PrincipalDisplayName = "ServicePrincipal", other.DisplayName
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutServicePrincipal(app), tx.PutServicePrincipal(other), tx.PutUser(u1), tx.PutUser(u2), tx.PutGroup(g),
			tx.AddAppRoleAssignment(otherReads), tx.AddAppRoleAssignment(u2Reads), tx.AddAppRoleAssignment(u1Reads),
			tx.AddAppRoleAssignment(u1Writes), tx.AddAppRoleAssignment(u1ReadsOther), tx.AddAppRoleAssignment(groupReads))
	})
	list := func(resourceID, principalID string) []access.AppRoleAssignment {
		t.Helper()
		return read(t, s, func(tx access.Tx) ([]access.AppRoleAssignment, error) {
			return tx.AppRoleAssignments(resourceID, principalID, access.Page{Limit: 100})
		})
	}
	for _, tc := range []struct {
		name                    string
		resourceID, principalID string
		want                    []access.AppRoleAssignment
	}{
		{"the roles of sp-1", app.ID, "", []access.AppRoleAssignment{u1Reads, u1Writes, u2Reads, groupReads, otherReads}},
		{"the roles of sp-2", other.ID, "", []access.AppRoleAssignment{u1ReadsOther}},
		{"held by u-1", "", u1.ID, []access.AppRoleAssignment{u1Reads, u1Writes, u1ReadsOther}},
		{"held by sp-2", "", other.ID, []access.AppRoleAssignment{otherReads}},
		{"the roles of sp-1 held by u-1", app.ID, u1.ID, []access.AppRoleAssignment{u1Reads, u1Writes}},
		{"the roles of sp-2 held by u-2", other.ID, u2.ID, nil},
		{"the roles of a missing service principal", "sp-missing", "", nil},
	} {
		diff(t, tc.name, list(tc.resourceID, tc.principalID), tc.want)
	}
	diff(t, "the roles of sp-1 a page at a time", pageThrough(t, s, "AppRoleAssignments", 2, func(tx access.Tx, p access.Page) ([]access.AppRoleAssignment, error) {
		return tx.AppRoleAssignments(app.ID, "", p)
	}), []string{u1Reads.ID, u1Writes.ID, u2Reads.ID, groupReads.ID, otherReads.ID})

	// A principal holds a role once: a second assignment of it, or one with
	// an id taken, is a conflict that leaves the transaction usable (the
	// provisioner reads on after it).
	u2Writes := NewAppRoleAssignment("ara-7", app, writer, u2.ID)
	update(t, s, func(tx access.Tx) error {
		sameRole := NewAppRoleAssignment("ara-8", app, reader, u1.ID)
		sameID := NewAppRoleAssignment(u1Reads.ID, app, writer, u2.ID)
		wantKind(t, "the same role for the same principal", tx.AddAppRoleAssignment(sameRole), access.KindConflict)
		wantKind(t, "an assignment with a taken id", tx.AddAppRoleAssignment(sameID), access.KindConflict)
		return tx.AddAppRoleAssignment(u2Writes)
	})
	diff(t, "held by u-2 after the conflicts", list("", u2.ID), []access.AppRoleAssignment{u2Reads, u2Writes})
	diff(t, "held by u-1 after the conflicts", list("", u1.ID), []access.AppRoleAssignment{u1Reads, u1Writes, u1ReadsOther})

	update(t, s, func(tx access.Tx) error { return tx.DeleteAppRoleAssignment(u1Writes.ID) })
	diff(t, "held by u-1 after a delete", list("", u1.ID), []access.AppRoleAssignment{u1Reads, u1ReadsOther})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "deleting twice", tx.DeleteAppRoleAssignment(u1Writes.ID), access.KindNotFound)
		return nil
	})

	// Deleting a principal deletes the roles it holds; deleting a service
	// principal also deletes the roles others hold of it.
	update(t, s, func(tx access.Tx) error { return tx.DeleteUser(u1.ID) })
	diff(t, "held by the deleted user", list("", u1.ID), []access.AppRoleAssignment(nil))
	diff(t, "the roles of sp-1 after deleting u-1", list(app.ID, ""), []access.AppRoleAssignment{u2Reads, groupReads, otherReads, u2Writes})
	diff(t, "the roles of sp-2 after deleting u-1", list(other.ID, ""), []access.AppRoleAssignment(nil))

	update(t, s, func(tx access.Tx) error { return tx.DeleteGroup(g.ID) })
	diff(t, "the roles of sp-1 after deleting the group", list(app.ID, ""), []access.AppRoleAssignment{u2Reads, otherReads, u2Writes})

	update(t, s, func(tx access.Tx) error { return tx.DeleteServicePrincipal(other.ID) })
	diff(t, "the roles of sp-1 after deleting sp-2, which held one", list(app.ID, ""), []access.AppRoleAssignment{u2Reads, u2Writes})

	update(t, s, func(tx access.Tx) error { return tx.DeleteServicePrincipal(app.ID) })
	diff(t, "held by u-2 after deleting the service principal whose roles they were", list("", u2.ID), []access.AppRoleAssignment(nil))
	diff(t, "the roles of the deleted service principal", list(app.ID, ""), []access.AppRoleAssignment(nil))
}

func testInGroup(t *testing.T, s access.Store) {
	member, owner, nested := NewUser("u-member"), NewUser("u-owner"), NewUser("u-nested")
	sp := NewServicePrincipal("sp-1")
	g, sub := NewGroup("g-1"), NewGroup("g-sub")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutUser(member), tx.PutUser(owner), tx.PutUser(nested), tx.PutServicePrincipal(sp),
			tx.PutGroup(g), tx.PutGroup(sub),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, member.ID),
			tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectUser, owner.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectServicePrincipal, sp.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectGroup, sub.ID),
			tx.AddToGroup(sub.ID, access.GroupMembers, access.ObjectUser, nested.ID))
	})
	in := func(groupID string, rel access.GroupRelation, objectID string) bool {
		t.Helper()
		return read(t, s, func(tx access.Tx) (bool, error) { return tx.InGroup(groupID, rel, objectID) })
	}
	for _, tc := range []struct {
		name     string
		groupID  string
		rel      access.GroupRelation
		objectID string
		want     bool
	}{
		{"a member user", g.ID, access.GroupMembers, member.ID, true},
		{"a member user among the owners", g.ID, access.GroupOwners, member.ID, false},
		{"an owner", g.ID, access.GroupOwners, owner.ID, true},
		{"an owner among the members", g.ID, access.GroupMembers, owner.ID, false},
		{"a member service principal", g.ID, access.GroupMembers, sp.ID, true},
		{"a member group", g.ID, access.GroupMembers, sub.ID, true},
		{"a member of a member group (only direct members count)", g.ID, access.GroupMembers, nested.ID, false},
		{"someone unknown", g.ID, access.GroupMembers, "u-missing", false},
		{"a missing group", "g-missing", access.GroupMembers, member.ID, false},
	} {
		if got := in(tc.groupID, tc.rel, tc.objectID); got != tc.want {
			t.Errorf("InGroup, %s: %v, want %v", tc.name, got, tc.want)
		}
	}
	update(t, s, func(tx access.Tx) error { return tx.RemoveFromGroup(g.ID, access.GroupMembers, member.ID) })
	if in(g.ID, access.GroupMembers, member.ID) {
		t.Errorf("InGroup: a removed member is still in the group")
	}
	update(t, s, func(tx access.Tx) error { return tx.DeleteUser(owner.ID) })
	if in(g.ID, access.GroupOwners, owner.ID) {
		t.Errorf("InGroup: a deleted owner is still in the group")
	}
}

func testPackagesIncompatibleWith(t *testing.T, s access.Store) {
	c := NewCatalog("cat-1")
	pkg := func(id string, incompatible ...string) access.AccessPackage {
		p := NewAccessPackage(id, c.ID)
		p.IncompatiblePackages = incompatible
		return p
	}
	a := pkg("pkg-a", "pkg-c", "pkg-b")
	a.IncompatibleGroups = []string{"g-1"}
	a.RoleScopes = []access.RoleScope{{ID: "rs-1", ResourceID: "res-1", RoleID: "res-1-member", ScopeID: "res-1-root", CreatedDateTime: Epoch}}
	b := pkg("pkg-b", "pkg-c")
	d := pkg("pkg-d")
	e := pkg("pkg-e", "pkg-a", "pkg-a") // named twice
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(c), tx.PutAccessPackage(e), tx.PutAccessPackage(b), tx.PutAccessPackage(a), tx.PutAccessPackage(d))
	})
	incompatibleWith := func(id string) []string {
		t.Helper()
		return read(t, s, func(tx access.Tx) ([]string, error) { return tx.PackagesIncompatibleWith(id) })
	}
	check := func(when string, want map[string][]string) {
		t.Helper()
		for id, ids := range want {
			diff(t, "packages incompatible with "+id+" "+when, incompatibleWith(id), ids)
		}
	}
	diff(t, "a package with role scopes and incompatibilities", read(t, s, func(tx access.Tx) (access.AccessPackage, error) {
		return tx.AccessPackage(a.ID)
	}), a)
	check("at first", map[string][]string{
		"pkg-c": {"pkg-a", "pkg-b"}, "pkg-b": {"pkg-a"}, "pkg-a": {"pkg-e"}, "pkg-d": nil, "pkg-e": nil, "pkg-missing": nil,
		"g-1": nil, // groups are not in the index of packages
	})

	// A put rewrites the package's rows; one that rolls back leaves them.
	a.IncompatiblePackages = []string{"pkg-d"}
	update(t, s, func(tx access.Tx) error { return tx.PutAccessPackage(a) })
	err := s.Update(ctx(t), func(tx access.Tx) error {
		if err := tx.PutAccessPackage(pkg("pkg-f", "pkg-d")); err != nil {
			return err
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatalf("Update: %v", err)
	}
	check("after a put", map[string][]string{"pkg-c": {"pkg-b"}, "pkg-b": nil, "pkg-d": {"pkg-a"}})

	// A deleted package names nothing any more; the packages that name it
	// keep their lists, and so their rows.
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.DeleteAccessPackage(b.ID), tx.DeleteAccessPackage(d.ID))
	})
	check("after deleting pkg-b and pkg-d", map[string][]string{"pkg-c": nil, "pkg-d": {"pkg-a"}})
	diff(t, "pkg-a after deleting a package it names", read(t, s, func(tx access.Tx) (access.AccessPackage, error) {
		return tx.AccessPackage(a.ID)
	}), a)

	// A deleted id may be used again, with none of its old rows.
	update(t, s, func(tx access.Tx) error { return tx.PutAccessPackage(pkg(b.ID)) })
	check("after putting pkg-b again", map[string][]string{"pkg-c": nil})
}
