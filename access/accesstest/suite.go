package accesstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// RunStoreSuite checks that a Store keeps the contract of access.Store. open
// returns an empty, migrated store for one test and closes it with t.Cleanup.
func RunStoreSuite(t *testing.T, open func(t *testing.T) access.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s access.Store)
	}{
		{"FixturesAreValid", testFixturesAreValid},
		{"RoundTrip", testRoundTrip},
		{"NotFound", testNotFound},
		{"PutReplaces", testPutReplaces},
		{"Delete", testDelete},
		{"DeleteUserCascades", testDeleteUserCascades},
		{"DeleteGroupCascades", testDeleteGroupCascades},
		{"DeleteServicePrincipalCascades", testDeleteServicePrincipalCascades},
		{"Paging", testPaging},
		{"IDsInByteOrder", testIDsInByteOrder},
		{"Counts", testCounts},
		{"CountPoliciesBinding", testCountPoliciesBinding},
		{"GroupRelations", testGroupRelations},
		{"UserByPrincipalName", testUserByPrincipalName},
		{"ServicePrincipalLookups", testServicePrincipalLookups},
		{"SigningKeys", testSigningKeys},
		{"Settings", testSettings},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"UpdateRecoversFromPanic", testUpdateRecoversFromPanic},
		{"TxUnusableAfterReturn", testTxUnusableAfterReturn},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentUpdatesSomeFail", testConcurrentUpdatesSomeFail},
		{"View", testView},
		{"RequestRoundTrip", testRequestRoundTrip},
		{"RequestFilters", testRequestFilters},
		{"OpenRequestsReferencing", testOpenRequestsReferencing},
		{"RequestApprovers", testRequestApprovers},
		{"List", testList},
		{"ListRequests", testListRequests},
		{"AssignmentFilters", testAssignmentFilters},
		{"History", testHistory},
		{"WorkClaim", testWorkClaim},
		{"WorkLeaseRescue", testWorkLeaseRescue},
		{"WorkRetry", testWorkRetry},
		{"ShiftLeases", testShiftLeases},
		{"RenewLeases", testRenewLeases},
		{"WorkDelete", testWorkDelete},
		{"WorkDrop", testWorkDrop},
		{"LifecycleWrites", testLifecycleWrites},
		{"NextWorkAt", testNextWorkAt},
		{"CountWorkDue", testCountWorkDue},
		{"WorkStats", testWorkStats},
		{"ConcurrentClaims", testConcurrentClaims},
		{"CalloutAttempts", testCalloutAttempts},
		{"ExtensionCalloutAttempts", testExtensionCalloutAttempts},
		{"Resources", testResources},
		{"ResourceRequests", testResourceRequests},
		{"AppRoleAssignments", testAppRoleAssignments},
		{"InGroup", testInGroup},
		{"PackagesIncompatibleWith", testPackagesIncompatibleWith},
		{"RoleAssignments", testRoleAssignments},
		{"CatalogRoleOf", testCatalogRoleOf},
		{"ResetData", testResetData},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, open(t))
		})
	}
}

// ctx bounds each transaction of the suite, so that a store that leaks a
// transaction fails the test instead of hanging it.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// update runs fn in an Update and fails the test on an error, including
// one that must found.
func update(t *testing.T, s access.Store, fn func(tx access.Tx) error) {
	t.Helper()
	defer failOnMust(t)
	if err := s.Update(ctx(t), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// view runs fn in a View and fails the test on an error, including one that
// must found.
func view(t *testing.T, s access.Store, fn func(tx access.Tx) error) {
	t.Helper()
	defer failOnMust(t)
	if err := s.View(ctx(t), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// mustFailed carries an error from must out of a transaction's fn; the
// store rolls back on the way, as it does for any panic.
type mustFailed struct {
	err   error
	where string
}

func failOnMust(t *testing.T) {
	t.Helper()
	if r := recover(); r != nil {
		f, ok := r.(mustFailed)
		if !ok {
			panic(r)
		}
		t.Fatalf("%s: unexpected error: %v", f.where, f.err)
	}
}

// must unwraps a read inside update and view callbacks, where an error ends the test.
func must[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(mustFailed{err: err, where: fmt.Sprintf("%s:%d", filepath.Base(file), line)})
	}
	return v
}

// read returns what fn reads in a View, failing the test on an error.
func read[T any](t *testing.T, s access.Store, fn func(tx access.Tx) (T, error)) T {
	t.Helper()
	var v T
	view(t, s, func(tx access.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v
}

// wantKind fails the test unless err has the kind.
func wantKind(t *testing.T, what string, err error, kind access.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %s", what, kind)
		return
	}
	if got := access.KindOf(err); got != kind {
		t.Errorf("%s: got %v (%s), want %s", what, err, got, kind)
	}
}

// diff fails the test when got and want differ.
func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// world puts one object of every noun, related to each other, in s.
type world struct {
	catalog   access.Catalog
	pkg       access.AccessPackage
	ext       access.CustomExtension
	policy    access.AssignmentPolicy
	user      access.User
	manager   access.User
	group     access.Group
	sp        access.ServicePrincipal
	signing   access.SigningKey
	settingID string
}

func newWorld(t *testing.T, s access.Store) world {
	t.Helper()
	w := world{
		catalog: NewCatalog("cat-1"),
		manager: NewUser("user-manager"),
		user:    NewUser("user-1"),
		group:   NewGroup("group-1"),
		sp:      NewServicePrincipal("sp-1"),
		signing: access.SigningKey{ID: "kid-1", PrivatePEM: []byte("-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"), CreatedAt: Epoch},
	}
	w.pkg = NewAccessPackage("pkg-1", w.catalog.ID)
	w.ext = NewExtension("ext-1", w.catalog.ID)
	w.user.ManagerID = w.manager.ID
	w.policy = NewFullPolicy("pol-1", w.pkg, w.manager.ID, w.ext.ID)
	update(t, s, func(tx access.Tx) error {
		return errors.Join(
			tx.PutCatalog(w.catalog),
			tx.PutAccessPackage(w.pkg),
			tx.PutCustomExtension(w.ext),
			tx.PutAssignmentPolicy(w.policy),
			tx.PutUser(w.manager),
			tx.PutUser(w.user),
			tx.PutGroup(w.group),
			tx.PutServicePrincipal(w.sp),
			tx.InsertSigningKeyIfAbsent(w.signing),
		)
	})
	return w
}

func testFixturesAreValid(t *testing.T, _ access.Store) {
	c := NewCatalog("c")
	pkg := NewAccessPackage("p", c.ID)
	x := NewExtension("x", c.ID)
	for name, v := range map[string]interface{ Validate() error }{
		"catalog": c, "package": pkg, "extension": x, "user": NewUser("u"), "group": NewGroup("g"),
		"service principal": NewServicePrincipal("s"), "policy": NewPolicy("pol", pkg),
		"full policy": NewFullPolicy("full", pkg, "u", x.ID),
	} {
		if err := v.Validate(); err != nil {
			t.Errorf("%s fixture: %v", name, err)
		}
	}
	full := NewFullPolicy("full", pkg, "u", x.ID)
	if err := full.ValidateBindings(map[string]access.CustomExtension{x.ID: x}); err != nil {
		t.Errorf("full policy fixture bindings: %v", err)
	}
}

func testRoundTrip(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	minimalPolicy := NewPolicy("pol-minimal", w.pkg) // nil slices and nil raw JSON stay nil
	minimalExt := access.CustomExtension{ID: "ext-minimal", CatalogID: w.catalog.ID, Type: access.AssignmentWorkflowExtension}
	spaced := NewPolicy("pol-spaced", w.pkg)
	spaced.ReviewSettings = json.RawMessage("{\n  \"isEnabled\" : true\n}")
	spaced.NotificationSettings = json.RawMessage(`{}`)
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutAssignmentPolicy(minimalPolicy), tx.PutCustomExtension(minimalExt), tx.PutAssignmentPolicy(spaced))
	})

	view(t, s, func(tx access.Tx) error {
		diff(t, "catalog", must(tx.Catalog(w.catalog.ID)), w.catalog)
		diff(t, "access package", must(tx.AccessPackage(w.pkg.ID)), w.pkg)
		diff(t, "custom extension", must(tx.CustomExtension(w.ext.ID)), w.ext)
		diff(t, "minimal custom extension", must(tx.CustomExtension(minimalExt.ID)), minimalExt)
		diff(t, "assignment policy", must(tx.AssignmentPolicy(w.policy.ID)), w.policy)
		diff(t, "minimal assignment policy", must(tx.AssignmentPolicy(minimalPolicy.ID)), minimalPolicy)
		ps := must(tx.AssignmentPolicy(spaced.ID))
		if !bytes.Equal(ps.ReviewSettings, spaced.ReviewSettings) || !bytes.Equal(ps.NotificationSettings, spaced.NotificationSettings) {
			t.Errorf("raw settings came back as %q and %q, want them byte for byte: %q and %q",
				ps.ReviewSettings, ps.NotificationSettings, spaced.ReviewSettings, spaced.NotificationSettings)
		}
		diff(t, "user", must(tx.User(w.user.ID)), w.user)
		diff(t, "group", must(tx.Group(w.group.ID)), w.group)
		diff(t, "service principal", must(tx.ServicePrincipal(w.sp.ID)), w.sp)
		diff(t, "signing keys", must(tx.SigningKeys()), []access.SigningKey{w.signing})
		return nil
	})

	// Lists return the same objects as getters.
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 100}
		diff(t, "Catalogs", must(tx.Catalogs(all)), []access.Catalog{w.catalog})
		diff(t, "AccessPackages", must(tx.AccessPackages(w.catalog.ID, all)), []access.AccessPackage{w.pkg})
		diff(t, "CustomExtensions", must(tx.CustomExtensions(w.catalog.ID, all)), []access.CustomExtension{w.ext, minimalExt})
		diff(t, "AssignmentPolicies", must(tx.AssignmentPolicies(w.pkg.ID, all)),
			[]access.AssignmentPolicy{w.policy, minimalPolicy, spaced})
		diff(t, "Users", must(tx.Users(all)), []access.User{w.user, w.manager})
		diff(t, "Groups", must(tx.Groups(all)), []access.Group{w.group})
		diff(t, "ServicePrincipals", must(tx.ServicePrincipals(all)), []access.ServicePrincipal{w.sp})
		return nil
	})
}

func testNotFound(t *testing.T, s access.Store) {
	const id = "missing-id"
	quoted := strconv.Quote(id)
	view(t, s, func(tx access.Tx) error {
		for name, err := range map[string]error{
			"Catalog":                     second(tx.Catalog(id)),
			"AccessPackage":               second(tx.AccessPackage(id)),
			"AssignmentPolicy":            second(tx.AssignmentPolicy(id)),
			"CustomExtension":             second(tx.CustomExtension(id)),
			"User":                        second(tx.User(id)),
			"UserByPrincipalName":         second(tx.UserByPrincipalName(id + "@" + Domain)),
			"Group":                       second(tx.Group(id)),
			"ServicePrincipal":            second(tx.ServicePrincipal(id)),
			"ServicePrincipalByAppID":     second(tx.ServicePrincipalByAppID(id)),
			"ServicePrincipalByName":      second(tx.ServicePrincipalByName(id)),
			`ServicePrincipalByAppID("")`: second(tx.ServicePrincipalByAppID("")),
			"Request":                     second(tx.Request(id)),
			"Assignment":                  second(tx.Assignment(id)),
			"Resource":                    second(tx.Resource(id)),
			"ResourceByOrigin":            second(tx.ResourceByOrigin("cat-1", access.OriginGroup, id)),
			"ResourceRequest":             second(tx.ResourceRequest(id)),
		} {
			wantKind(t, name, err, access.KindNotFound)
			if err != nil && !strings.Contains(err.Error(), id) && name != `ServicePrincipalByAppID("")` {
				t.Errorf("%s: %q does not name the id", name, err)
			}
		}
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		for name, err := range map[string]error{
			"DeleteCatalog":           tx.DeleteCatalog(id),
			"DeleteAccessPackage":     tx.DeleteAccessPackage(id),
			"DeleteAssignmentPolicy":  tx.DeleteAssignmentPolicy(id),
			"DeleteCustomExtension":   tx.DeleteCustomExtension(id),
			"DeleteUser":              tx.DeleteUser(id),
			"DeleteGroup":             tx.DeleteGroup(id),
			"DeleteServicePrincipal":  tx.DeleteServicePrincipal(id),
			"DeleteRequest":           tx.DeleteRequest(id),
			"DeleteResource":          tx.DeleteResource(id),
			"DeleteAppRoleAssignment": tx.DeleteAppRoleAssignment(id),
			"RetryWork":               tx.RetryWork(id, Epoch, 1),
		} {
			wantKind(t, name, err, access.KindNotFound)
			if err != nil && !strings.Contains(err.Error(), quoted) {
				t.Errorf("%s: %q does not name the id in quotes", name, err)
			}
		}
		return nil
	})
	// The getters name the noun, e.g. `no catalog with id "missing-id"`.
	err := s.View(ctx(t), func(tx access.Tx) error { return second(tx.Catalog(id)) })
	if err == nil || !strings.Contains(err.Error(), "catalog") || !strings.Contains(err.Error(), quoted) {
		t.Errorf("Catalog: %v does not name the noun and the quoted id", err)
	}
	value, ok, err := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting("missing") })
	if value != "" || ok || err != nil {
		t.Errorf("Setting(missing) = %q, %v, %v; want \"\", false, nil", value, ok, err)
	}
}

func second[T any](_ T, err error) error { return err }

func read2[A, B any](t *testing.T, s access.Store, fn func(tx access.Tx) (A, B, error)) (A, B, error) {
	t.Helper()
	var a A
	var b B
	err := s.View(ctx(t), func(tx access.Tx) error {
		var err error
		a, b, err = fn(tx)
		return err
	})
	return a, b, err
}

func testPutReplaces(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	otherCatalog := NewCatalog("cat-2")

	c := w.catalog
	c.DisplayName, c.Description, c.IsExternallyVisible, c.State = "Renamed", "", false, access.CatalogUnpublished
	pkg := w.pkg
	pkg.CatalogID, pkg.DisplayName, pkg.IsHidden = otherCatalog.ID, "Moved", false
	x := w.ext
	x.CatalogID, x.Client, x.Callback, x.Endpoint = otherCatalog.ID, nil, nil,
		access.Endpoint{Type: access.LogicAppEndpoint, URL: "https://logic.example.test/trigger", SubscriptionID: "sub", ResourceGroupName: "rg", LogicAppWorkflowName: "wf"}
	pol := NewPolicy(w.policy.ID, pkg) // drops every nested list and the raw settings
	u := w.user
	u.UserPrincipalName, u.ManagerID, u.AccountEnabled = "Renamed@"+Domain, "", false
	g := w.group
	g.DisplayName, g.SecurityEnabled, g.MailEnabled = "Renamed", false, true
	sp := w.sp
	sp.AppID, sp.DisplayName, sp.AppRoles = "app-renamed", "Renamed", nil

	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(otherCatalog), tx.PutCatalog(c), tx.PutAccessPackage(pkg), tx.PutCustomExtension(x),
			tx.PutAssignmentPolicy(pol), tx.PutUser(u), tx.PutGroup(g), tx.PutServicePrincipal(sp))
	})
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 100}
		diff(t, "catalog", must(tx.Catalog(c.ID)), c)
		diff(t, "access package", must(tx.AccessPackage(pkg.ID)), pkg)
		diff(t, "custom extension", must(tx.CustomExtension(x.ID)), x)
		diff(t, "assignment policy", must(tx.AssignmentPolicy(pol.ID)), pol)
		diff(t, "user", must(tx.User(u.ID)), u)
		diff(t, "group", must(tx.Group(g.ID)), g)
		diff(t, "service principal", must(tx.ServicePrincipal(sp.ID)), sp)

		// The columns behind lookups and filters follow the new values.
		diff(t, "catalogs", ids(must(tx.Catalogs(all))), []string{c.ID, otherCatalog.ID})
		diff(t, "packages of the old catalog", ids(must(tx.AccessPackages(w.catalog.ID, all))), []string(nil))
		diff(t, "packages of the new catalog", ids(must(tx.AccessPackages(otherCatalog.ID, all))), []string{pkg.ID})
		diff(t, "extensions of the old catalog", ids(must(tx.CustomExtensions(w.catalog.ID, all))), []string(nil))
		diff(t, "extensions of the new catalog", ids(must(tx.CustomExtensions(otherCatalog.ID, all))), []string{x.ID})
		diff(t, "policies binding the extension", must(tx.CountPoliciesBinding(w.ext.ID)), 0)
		wantKind(t, "old userPrincipalName", second(tx.UserByPrincipalName(w.user.UserPrincipalName)), access.KindNotFound)
		diff(t, "user by new userPrincipalName", must(tx.UserByPrincipalName(u.UserPrincipalName)), u)
		wantKind(t, "old appId", second(tx.ServicePrincipalByAppID(w.sp.AppID)), access.KindNotFound)
		diff(t, "service principal by new appId", must(tx.ServicePrincipalByAppID(sp.AppID)), sp)
		diff(t, "service principal by new name", must(tx.ServicePrincipalByName(sp.DisplayName)), sp)
		wantKind(t, "old name", second(tx.ServicePrincipalByName(w.sp.DisplayName)), access.KindNotFound)
		return nil
	})
}

// ids lists the ids of objects in order.
func ids[T any](items []T) []string {
	var out []string
	for _, it := range items {
		out = append(out, idOf(it))
	}
	return out
}

func idOf(v any) string {
	switch v := v.(type) {
	case access.Catalog:
		return v.ID
	case access.AccessPackage:
		return v.ID
	case access.AssignmentPolicy:
		return v.ID
	case access.CustomExtension:
		return v.ID
	case access.User:
		return v.ID
	case access.Group:
		return v.ID
	case access.ServicePrincipal:
		return v.ID
	case access.DirectoryObject:
		return v.ID
	case access.SigningKey:
		return v.ID
	case access.Request:
		return v.ID
	case access.Assignment:
		return v.ID
	case access.HistoryEntry:
		return v.ID
	case access.Work:
		return v.ID
	case access.CalloutAttempt:
		return v.ID
	case access.Resource:
		return v.ID
	case access.ResourceRequest:
		return v.ID
	case access.AppRoleAssignment:
		return v.ID
	}
	panic(fmt.Sprintf("accesstest: no id for %T", v))
}

func testDelete(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.DeleteAssignmentPolicy(w.policy.ID), tx.DeleteCustomExtension(w.ext.ID),
			tx.DeleteAccessPackage(w.pkg.ID), tx.DeleteCatalog(w.catalog.ID), tx.DeleteUser(w.user.ID),
			tx.DeleteGroup(w.group.ID), tx.DeleteServicePrincipal(w.sp.ID))
	})
	view(t, s, func(tx access.Tx) error {
		wantKind(t, "deleted catalog", second(tx.Catalog(w.catalog.ID)), access.KindNotFound)
		wantKind(t, "deleted package", second(tx.AccessPackage(w.pkg.ID)), access.KindNotFound)
		wantKind(t, "deleted policy", second(tx.AssignmentPolicy(w.policy.ID)), access.KindNotFound)
		wantKind(t, "deleted extension", second(tx.CustomExtension(w.ext.ID)), access.KindNotFound)
		wantKind(t, "deleted user", second(tx.User(w.user.ID)), access.KindNotFound)
		wantKind(t, "deleted user by UPN", second(tx.UserByPrincipalName(w.user.UserPrincipalName)), access.KindNotFound)
		wantKind(t, "deleted group", second(tx.Group(w.group.ID)), access.KindNotFound)
		wantKind(t, "deleted service principal", second(tx.ServicePrincipal(w.sp.ID)), access.KindNotFound)
		wantKind(t, "deleted service principal by appId", second(tx.ServicePrincipalByAppID(w.sp.AppID)), access.KindNotFound)
		diff(t, "policies binding the extension", must(tx.CountPoliciesBinding(w.ext.ID)), 0)
		diff(t, "users left", ids(must(tx.Users(access.Page{Limit: 10}))), []string{w.manager.ID})
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "second DeleteCatalog", tx.DeleteCatalog(w.catalog.ID), access.KindNotFound)
		wantKind(t, "second DeleteAssignmentPolicy", tx.DeleteAssignmentPolicy(w.policy.ID), access.KindNotFound)
		return nil
	})
	// A deleted id can be used again.
	update(t, s, func(tx access.Tx) error { return tx.PutUser(w.user) })
	diff(t, "user put again", read(t, s, func(tx access.Tx) (access.User, error) { return tx.User(w.user.ID) }), w.user)
}

func testDeleteUserCascades(t *testing.T, s access.Store) {
	boss, report, other := NewUser("u-boss"), NewUser("u-report"), NewUser("u-other")
	report.ManagerID = boss.ID
	other.ManagerID = report.ID
	g1, g2 := NewGroup("g-1"), NewGroup("g-2")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutUser(boss), tx.PutUser(report), tx.PutUser(other), tx.PutGroup(g1), tx.PutGroup(g2),
			tx.AddToGroup(g1.ID, access.GroupMembers, access.ObjectUser, boss.ID),
			tx.AddToGroup(g1.ID, access.GroupOwners, access.ObjectUser, boss.ID),
			tx.AddToGroup(g2.ID, access.GroupMembers, access.ObjectUser, boss.ID),
			tx.AddToGroup(g2.ID, access.GroupMembers, access.ObjectUser, report.ID))
	})
	update(t, s, func(tx access.Tx) error { return tx.DeleteUser(boss.ID) })
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 10}
		diff(t, "members of g-1", ids(must(tx.GroupRelation(g1.ID, access.GroupMembers, all))), []string(nil))
		diff(t, "owners of g-1", ids(must(tx.GroupRelation(g1.ID, access.GroupOwners, all))), []string(nil))
		diff(t, "members of g-2", ids(must(tx.GroupRelation(g2.ID, access.GroupMembers, all))), []string{report.ID})
		wantReport := report
		wantReport.ManagerID = ""
		diff(t, "the report, whose manager is gone", must(tx.User(report.ID)), wantReport)
		diff(t, "a user with another manager", must(tx.User(other.ID)), other)
		return nil
	})
	// The cleared manager is gone from the lookup behind the cascade too:
	// deleting the report now touches only "other".
	update(t, s, func(tx access.Tx) error { return tx.DeleteUser(report.ID) })
	wantOther := other
	wantOther.ManagerID = ""
	diff(t, "other", read(t, s, func(tx access.Tx) (access.User, error) { return tx.User(other.ID) }), wantOther)
}

func testDeleteGroupCascades(t *testing.T, s access.Store) {
	u := NewUser("u-1")
	parent, g, child := NewGroup("g-parent"), NewGroup("g-middle"), NewGroup("g-child")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutUser(u), tx.PutGroup(parent), tx.PutGroup(g), tx.PutGroup(child),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, u.ID),
			tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectUser, u.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectGroup, child.ID),
			tx.AddToGroup(parent.ID, access.GroupMembers, access.ObjectGroup, g.ID),
			tx.AddToGroup(parent.ID, access.GroupMembers, access.ObjectUser, u.ID))
	})
	update(t, s, func(tx access.Tx) error { return tx.DeleteGroup(g.ID) })
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 10}
		diff(t, "members of the deleted group", ids(must(tx.GroupRelation(g.ID, access.GroupMembers, all))), []string(nil))
		diff(t, "owners of the deleted group", ids(must(tx.GroupRelation(g.ID, access.GroupOwners, all))), []string(nil))
		diff(t, "members of the parent", ids(must(tx.GroupRelation(parent.ID, access.GroupMembers, all))), []string{u.ID})
		diff(t, "the child group", must(tx.Group(child.ID)), child)
		diff(t, "the member user", must(tx.User(u.ID)), u)
		return nil
	})
	// The group's id can be used again, without its old members.
	update(t, s, func(tx access.Tx) error { return tx.PutGroup(g) })
	got := read(t, s, func(tx access.Tx) ([]access.DirectoryObject, error) {
		return tx.GroupRelation(g.ID, access.GroupMembers, access.Page{Limit: 10})
	})
	diff(t, "members of the group put again", ids(got), []string(nil))
}

func testDeleteServicePrincipalCascades(t *testing.T, s access.Store) {
	sp, keep := NewServicePrincipal("sp-1"), NewServicePrincipal("sp-2")
	g := NewGroup("g-1")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutServicePrincipal(sp), tx.PutServicePrincipal(keep), tx.PutGroup(g),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectServicePrincipal, sp.ID),
			tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectServicePrincipal, sp.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectServicePrincipal, keep.ID))
	})
	update(t, s, func(tx access.Tx) error { return tx.DeleteServicePrincipal(sp.ID) })
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 10}
		diff(t, "members", ids(must(tx.GroupRelation(g.ID, access.GroupMembers, all))), []string{keep.ID})
		diff(t, "owners", ids(must(tx.GroupRelation(g.ID, access.GroupOwners, all))), []string(nil))
		return nil
	})
}

// pageThrough reads every page of a list with the given limit and returns
// the ids in the order the pages gave them, checking each page's size.
func pageThrough[T any](t *testing.T, s access.Store, what string, limit int, fetch func(tx access.Tx, p access.Page) ([]T, error)) []string {
	t.Helper()
	var all []string
	p := access.Page{Limit: limit}
	for range 1000 {
		page := read(t, s, func(tx access.Tx) ([]T, error) { return fetch(tx, p) })
		if len(page) > limit {
			t.Fatalf("%s: a page with limit %d has %d items", what, limit, len(page))
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, ids(page)...)
		p.After = all[len(all)-1]
	}
	t.Fatalf("%s: paging does not end", what)
	return nil
}

func testPaging(t *testing.T, s access.Store) {
	// Ids are put in a shuffled order; lists return them sorted.
	const n = 23
	var catalogIDs []string
	for i := range n {
		catalogIDs = append(catalogIDs, fmt.Sprintf("cat-%02d", i))
	}
	shuffled := slices.Clone(catalogIDs)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })

	g := NewGroup("g-0")
	var memberIDs []string
	update(t, s, func(tx access.Tx) error {
		var errs []error
		errs = append(errs, tx.PutGroup(g))
		for i, id := range shuffled {
			// Two catalogs share the packages, policies and extensions, every other one each.
			cat := catalogIDs[i%2]
			pkgID, polID := "pkg-"+id, "pol-"+id
			pkgOf := catalogIDs[0]
			if i%2 == 1 {
				pkgOf = catalogIDs[1]
			}
			errs = append(errs,
				tx.PutCatalog(NewCatalog(id)),
				tx.PutAccessPackage(NewAccessPackage(pkgID, cat)),
				tx.PutAssignmentPolicy(NewPolicy(polID, NewAccessPackage("pkg-shared-"+pkgOf, pkgOf))),
				tx.PutCustomExtension(NewExtension("ext-"+id, cat)),
				tx.PutUser(NewUser("user-"+id)),
				tx.PutGroup(NewGroup("group-"+id)),
				tx.PutServicePrincipal(NewServicePrincipal("sp-"+id)),
			)
			// Members of three kinds, ordered by id whatever their kind.
			switch i % 3 {
			case 0:
				errs = append(errs, tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, "user-"+id))
				memberIDs = append(memberIDs, "user-"+id)
			case 1:
				errs = append(errs, tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectGroup, "group-"+id))
				memberIDs = append(memberIDs, "group-"+id)
			case 2:
				errs = append(errs, tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectServicePrincipal, "sp-"+id))
				memberIDs = append(memberIDs, "sp-"+id)
			}
		}
		return errors.Join(errs...)
	})
	slices.Sort(memberIDs)

	prefixed := func(prefix string) []string {
		var out []string
		for _, id := range catalogIDs {
			out = append(out, prefix+id)
		}
		return out
	}
	sortedWhere := func(prefix string, keep func(i int) bool) []string {
		var out []string
		for i, id := range shuffled {
			if keep(i) {
				out = append(out, prefix+id)
			}
		}
		slices.Sort(out)
		return out
	}
	even := func(i int) bool { return i%2 == 0 }
	odd := func(i int) bool { return i%2 == 1 }

	for _, limit := range []int{1, 5, 7, n, 100} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			diff(t, "Catalogs", pageThrough(t, s, "Catalogs", limit, func(tx access.Tx, p access.Page) ([]access.Catalog, error) {
				return tx.Catalogs(p)
			}), catalogIDs)
			diff(t, "AccessPackages of all", pageThrough(t, s, "AccessPackages", limit, func(tx access.Tx, p access.Page) ([]access.AccessPackage, error) {
				return tx.AccessPackages("", p)
			}), prefixed("pkg-"))
			diff(t, "AccessPackages of one catalog", pageThrough(t, s, "AccessPackages", limit, func(tx access.Tx, p access.Page) ([]access.AccessPackage, error) {
				return tx.AccessPackages(catalogIDs[1], p)
			}), sortedWhere("pkg-", odd))
			diff(t, "AssignmentPolicies of all", pageThrough(t, s, "AssignmentPolicies", limit, func(tx access.Tx, p access.Page) ([]access.AssignmentPolicy, error) {
				return tx.AssignmentPolicies("", p)
			}), prefixed("pol-"))
			diff(t, "AssignmentPolicies of one package", pageThrough(t, s, "AssignmentPolicies", limit, func(tx access.Tx, p access.Page) ([]access.AssignmentPolicy, error) {
				return tx.AssignmentPolicies("pkg-shared-"+catalogIDs[0], p)
			}), sortedWhere("pol-", even))
			diff(t, "CustomExtensions", pageThrough(t, s, "CustomExtensions", limit, func(tx access.Tx, p access.Page) ([]access.CustomExtension, error) {
				return tx.CustomExtensions(catalogIDs[0], p)
			}), sortedWhere("ext-", even))
			diff(t, "Users", pageThrough(t, s, "Users", limit, func(tx access.Tx, p access.Page) ([]access.User, error) {
				return tx.Users(p)
			}), prefixed("user-"))
			diff(t, "Groups", pageThrough(t, s, "Groups", limit, func(tx access.Tx, p access.Page) ([]access.Group, error) {
				return tx.Groups(p)
			}), append([]string{g.ID}, prefixed("group-")...))
			diff(t, "ServicePrincipals", pageThrough(t, s, "ServicePrincipals", limit, func(tx access.Tx, p access.Page) ([]access.ServicePrincipal, error) {
				return tx.ServicePrincipals(p)
			}), prefixed("sp-"))
			diff(t, "GroupRelation", pageThrough(t, s, "GroupRelation", limit, func(tx access.Tx, p access.Page) ([]access.DirectoryObject, error) {
				return tx.GroupRelation(g.ID, access.GroupMembers, p)
			}), memberIDs)
		})
	}

	// After need not be an id that exists: the page starts after it.
	got := read(t, s, func(tx access.Tx) ([]access.Catalog, error) {
		return tx.Catalogs(access.Page{After: "cat-10x", Limit: 3})
	})
	diff(t, "page after an absent id", ids(got), []string{"cat-11", "cat-12", "cat-13"})
}

// byteOrderIDs are ids whose order differs between byte order and the
// order of a language (where "a" comes before "B", "-" is ignored at first,
// "ä" is next to "a"), in no order. Lists order ids byte by byte, as Go's <
// does, on every engine, so that a page's last id is where the next begins.
var byteOrderIDs = []string{"b", "B", "a", "A", "_z", "-y", "ab", "a-c", "a b", "Z", "ä", "z", "~", "0", "é", "e", "a-", "aB"}

func testIDsInByteOrder(t *testing.T, s access.Store) {
	sorted := slices.Sorted(slices.Values(byteOrderIDs))
	container := NewGroup("container")
	app, holder := NewServicePrincipal("app"), NewUser("holder")
	update(t, s, func(tx access.Tx) error {
		errs := []error{tx.PutGroup(container), tx.PutServicePrincipal(app), tx.PutUser(holder)}
		for i, id := range byteOrderIDs {
			res := NewResource(id, byteOrderIDs[0], "group-"+id) // all in one of the catalogs
			errs = append(errs,
				tx.PutResource(res),
				tx.AddResourceRequest(NewResourceRequest(id, res)),
				tx.AddAppRoleAssignment(NewAppRoleAssignment(id, app, "role-"+id, holder.ID)),
				tx.PutCatalog(NewCatalog(id)),
				tx.PutGroup(NewGroup(id)),
				tx.AddToGroup(container.ID, access.GroupMembers, access.ObjectGroup, id),
				tx.AddHistory(access.HistoryEntry{ID: id, RequestID: "req-1", At: Epoch, Action: "transition"}),
				tx.AddWork(NewWork(id, access.WorkCallout, fmt.Sprintf("req-%d", i), "", Epoch)),
				tx.AddCalloutAttempts([]access.CalloutAttempt{{ID: id, RequestID: "req-1", SentAt: Epoch}}),
			)
		}
		return errors.Join(errs...)
	})
	for _, limit := range []int{1, 4, 100} {
		diff(t, fmt.Sprintf("Catalogs, limit %d", limit), pageThrough(t, s, "Catalogs", limit, func(tx access.Tx, p access.Page) ([]access.Catalog, error) {
			return tx.Catalogs(p)
		}), sorted)
		diff(t, fmt.Sprintf("GroupRelation, limit %d", limit), pageThrough(t, s, "GroupRelation", limit, func(tx access.Tx, p access.Page) ([]access.DirectoryObject, error) {
			return tx.GroupRelation(container.ID, access.GroupMembers, p)
		}), sorted)
		diff(t, fmt.Sprintf("Resources, limit %d", limit), pageThrough(t, s, "Resources", limit, func(tx access.Tx, p access.Page) ([]access.Resource, error) {
			return tx.Resources(byteOrderIDs[0], p)
		}), sorted)
		diff(t, fmt.Sprintf("ResourceRequests, limit %d", limit), pageThrough(t, s, "ResourceRequests", limit, func(tx access.Tx, p access.Page) ([]access.ResourceRequest, error) {
			return tx.ResourceRequests(p)
		}), sorted)
		diff(t, fmt.Sprintf("AppRoleAssignments, limit %d", limit), pageThrough(t, s, "AppRoleAssignments", limit, func(tx access.Tx, p access.Page) ([]access.AppRoleAssignment, error) {
			return tx.AppRoleAssignments(app.ID, holder.ID, p)
		}), sorted)
		diff(t, fmt.Sprintf("History, limit %d", limit), pageThrough(t, s, "History", limit, func(tx access.Tx, p access.Page) ([]access.HistoryEntry, error) {
			return tx.History("req-1", p)
		}), sorted)
		newestFirst := slices.Clone(sorted)
		slices.Reverse(newestFirst)
		diff(t, fmt.Sprintf("CalloutAttempts, limit %d", limit), pageThrough(t, s, "CalloutAttempts", limit, func(tx access.Tx, p access.Page) ([]access.CalloutAttempt, error) {
			return tx.CalloutAttempts(p)
		}), newestFirst)
	}
	// Work due at the same instant is claimed in id order.
	diff(t, "claimed work", ids(claim(t, s, Epoch, "worker", 100)), sorted)
}

func testCounts(t *testing.T, s access.Store) {
	c1, c2 := NewCatalog("cat-1"), NewCatalog("cat-2")
	p1, p2, p3 := NewAccessPackage("pkg-1", c1.ID), NewAccessPackage("pkg-2", c1.ID), NewAccessPackage("pkg-3", c2.ID)
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(c1), tx.PutCatalog(c2), tx.PutAccessPackage(p1), tx.PutAccessPackage(p2), tx.PutAccessPackage(p3),
			tx.PutAssignmentPolicy(NewPolicy("pol-1", p1)), tx.PutAssignmentPolicy(NewPolicy("pol-2", p1)),
			tx.PutAssignmentPolicy(NewPolicy("pol-3", p1)), tx.PutAssignmentPolicy(NewPolicy("pol-4", p3)))
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "packages of cat-1", must(tx.CountAccessPackages(c1.ID)), 2)
		diff(t, "packages of cat-2", must(tx.CountAccessPackages(c2.ID)), 1)
		diff(t, "packages of all", must(tx.CountAccessPackages("")), 3)
		diff(t, "packages of a missing catalog", must(tx.CountAccessPackages("missing")), 0)
		diff(t, "policies of pkg-1", must(tx.CountAssignmentPolicies(p1.ID)), 3)
		diff(t, "policies of pkg-2", must(tx.CountAssignmentPolicies(p2.ID)), 0)
		diff(t, "policies of pkg-3", must(tx.CountAssignmentPolicies(p3.ID)), 1)
		diff(t, "policies of all", must(tx.CountAssignmentPolicies("")), 4)
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.DeleteAccessPackage(p2.ID), tx.DeleteAssignmentPolicy("pol-2"))
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "packages of cat-1 after a delete", must(tx.CountAccessPackages(c1.ID)), 1)
		diff(t, "policies of pkg-1 after a delete", must(tx.CountAssignmentPolicies(p1.ID)), 2)
		return nil
	})
}

func testCountPoliciesBinding(t *testing.T, s access.Store) {
	c := NewCatalog("cat-1")
	pkg := NewAccessPackage("pkg-1", c.ID)
	xa, xb := NewExtension("ext-a", c.ID), NewExtension("ext-b", c.ID)
	p1 := NewFullPolicy("pol-1", pkg, "u", xa.ID) // binds ext-a at two stages: counts once
	p2 := NewPolicy("pol-2", pkg)
	p2.ExtensionBindings = []access.ExtensionBinding{
		{ID: "b1", Stage: access.StageRequestApproved, CustomExtensionID: xa.ID},
		{ID: "b2", Stage: access.StageRequestRemoved, CustomExtensionID: xb.ID},
	}
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutCatalog(c), tx.PutAccessPackage(pkg), tx.PutCustomExtension(xa), tx.PutCustomExtension(xb),
			tx.PutAssignmentPolicy(p1), tx.PutAssignmentPolicy(p2))
	})
	count := func(id string) int {
		return read(t, s, func(tx access.Tx) (int, error) { return tx.CountPoliciesBinding(id) })
	}
	diff(t, "policies binding ext-a", count(xa.ID), 2)
	diff(t, "policies binding ext-b", count(xb.ID), 1)
	diff(t, "policies binding nothing", count("ext-missing"), 0)

	// A PUT that drops ext-a from pol-2 and binds ext-b elsewhere.
	p2.ExtensionBindings = []access.ExtensionBinding{{ID: "b3", Stage: access.StageRequestCreated, CustomExtensionID: xb.ID}}
	update(t, s, func(tx access.Tx) error { return tx.PutAssignmentPolicy(p2) })
	diff(t, "policies binding ext-a after the PUT", count(xa.ID), 1)
	diff(t, "policies binding ext-b after the PUT", count(xb.ID), 1)

	p1.ExtensionBindings = nil
	update(t, s, func(tx access.Tx) error { return tx.PutAssignmentPolicy(p1) })
	diff(t, "policies binding ext-a after removing every binding", count(xa.ID), 0)

	update(t, s, func(tx access.Tx) error { return tx.DeleteAssignmentPolicy(p2.ID) })
	diff(t, "policies binding ext-b after the delete", count(xb.ID), 0)
}

func testGroupRelations(t *testing.T, s access.Store) {
	u1, u2 := NewUser("u-1"), NewUser("u-2")
	sub := NewGroup("g-sub")
	sp := NewServicePrincipal("sp-1")
	g := NewGroup("g-main")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutUser(u1), tx.PutUser(u2), tx.PutGroup(sub), tx.PutServicePrincipal(sp), tx.PutGroup(g),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, u2.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectGroup, sub.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectServicePrincipal, sp.ID),
			tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, u1.ID),
			tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectUser, u1.ID))
	})

	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 10}
		diff(t, "members", must(tx.GroupRelation(g.ID, access.GroupMembers, all)), []access.DirectoryObject{
			{Kind: access.ObjectGroup, ID: sub.ID, Group: &sub},
			{Kind: access.ObjectServicePrincipal, ID: sp.ID, ServicePrincipal: &sp},
			{Kind: access.ObjectUser, ID: u1.ID, User: &u1},
			{Kind: access.ObjectUser, ID: u2.ID, User: &u2},
		})
		diff(t, "owners", must(tx.GroupRelation(g.ID, access.GroupOwners, all)), []access.DirectoryObject{
			{Kind: access.ObjectUser, ID: u1.ID, User: &u1},
		})
		diff(t, "members of a group without any", must(tx.GroupRelation(sub.ID, access.GroupMembers, all)), []access.DirectoryObject(nil))
		return nil
	})

	// The listed objects are the current ones.
	u1.DisplayName = "Renamed"
	update(t, s, func(tx access.Tx) error { return tx.PutUser(u1) })
	owners := read(t, s, func(tx access.Tx) ([]access.DirectoryObject, error) {
		return tx.GroupRelation(g.ID, access.GroupOwners, access.Page{Limit: 10})
	})
	diff(t, "owners after renaming", owners, []access.DirectoryObject{{Kind: access.ObjectUser, ID: u1.ID, User: &u1}})

	// Adding twice is a conflict, and the failed add leaves the transaction usable.
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "adding a member twice", tx.AddToGroup(g.ID, access.GroupMembers, access.ObjectUser, u1.ID), access.KindConflict)
		wantKind(t, "adding an owner twice", tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectUser, u1.ID), access.KindConflict)
		return tx.AddToGroup(g.ID, access.GroupOwners, access.ObjectUser, u2.ID)
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "removing an absent member", tx.RemoveFromGroup(g.ID, access.GroupMembers, "u-absent"), access.KindNotFound)
		wantKind(t, "removing an owner who is only a member", tx.RemoveFromGroup(g.ID, access.GroupOwners, sp.ID), access.KindNotFound)
		wantKind(t, "removing from a missing group", tx.RemoveFromGroup("g-missing", access.GroupMembers, u1.ID), access.KindNotFound)
		return errors.Join(tx.RemoveFromGroup(g.ID, access.GroupMembers, u1.ID), tx.RemoveFromGroup(g.ID, access.GroupMembers, sp.ID))
	})
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 10}
		diff(t, "members after removals", ids(must(tx.GroupRelation(g.ID, access.GroupMembers, all))), []string{sub.ID, u2.ID})
		diff(t, "owners after removals", ids(must(tx.GroupRelation(g.ID, access.GroupOwners, all))), []string{u1.ID, u2.ID})
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "removing twice", tx.RemoveFromGroup(g.ID, access.GroupMembers, u1.ID), access.KindNotFound)
		return nil
	})
}

func testUserByPrincipalName(t *testing.T, s access.Store) {
	u := NewUser("u-1")
	u.UserPrincipalName = "Ada.Lovelace@Contoso.Test"
	other := NewUser("u-2")
	update(t, s, func(tx access.Tx) error { return errors.Join(tx.PutUser(u), tx.PutUser(other)) })
	view(t, s, func(tx access.Tx) error {
		for _, upn := range []string{"Ada.Lovelace@Contoso.Test", "ada.lovelace@contoso.test", "ADA.LOVELACE@CONTOSO.TEST"} {
			diff(t, "user by "+upn, must(tx.UserByPrincipalName(upn)), u)
		}
		wantKind(t, "a prefix of the UPN", second(tx.UserByPrincipalName("ada.lovelace@contoso")), access.KindNotFound)
		wantKind(t, "an empty UPN", second(tx.UserByPrincipalName("")), access.KindNotFound)
		return nil
	})
}

func testServicePrincipalLookups(t *testing.T, s access.Store) {
	a, b, c := NewServicePrincipal("sp-b"), NewServicePrincipal("sp-a"), NewServicePrincipal("sp-c")
	a.DisplayName, b.DisplayName, c.DisplayName = "Shared", "Shared", "Other"
	noApp := NewServicePrincipal("sp-noapp")
	noApp.AppID = ""
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutServicePrincipal(a), tx.PutServicePrincipal(b), tx.PutServicePrincipal(c), tx.PutServicePrincipal(noApp))
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "by shared name: the lowest id", must(tx.ServicePrincipalByName("Shared")), b)
		diff(t, "by name", must(tx.ServicePrincipalByName("Other")), c)
		diff(t, "by appId", must(tx.ServicePrincipalByAppID(a.AppID)), a)
		wantKind(t, "by an empty appId", second(tx.ServicePrincipalByAppID("")), access.KindNotFound)
		return nil
	})
}

func testSigningKeys(t *testing.T, s access.Store) {
	if keys := read(t, s, func(tx access.Tx) ([]access.SigningKey, error) { return tx.SigningKeys() }); len(keys) != 0 {
		t.Fatalf("a new store has signing keys: %v", ids(keys))
	}
	first := access.SigningKey{ID: "kid-1", PrivatePEM: []byte("first PEM"), CreatedAt: Epoch}
	second := access.SigningKey{ID: "kid-2", PrivatePEM: []byte("second PEM"), CreatedAt: Epoch.Add(-time.Hour)}
	update(t, s, func(tx access.Tx) error { return tx.InsertSigningKeyIfAbsent(first) })
	update(t, s, func(tx access.Tx) error { return tx.InsertSigningKeyIfAbsent(second) })
	keys := read(t, s, func(tx access.Tx) ([]access.SigningKey, error) { return tx.SigningKeys() })
	diff(t, "signing keys", keys, []access.SigningKey{first})

	// Several racing first starts agree on one key.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			k := access.SigningKey{ID: fmt.Sprintf("race-%d", i), PrivatePEM: []byte("racer"), CreatedAt: Epoch}
			if err := s.Update(ctx(t), func(tx access.Tx) error { return tx.InsertSigningKeyIfAbsent(k) }); err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	keys = read(t, s, func(tx access.Tx) ([]access.SigningKey, error) { return tx.SigningKeys() })
	diff(t, "signing keys after the race", keys, []access.SigningKey{first})
}

func testSettings(t *testing.T, s access.Store) {
	setting := func(name string) (string, bool) {
		t.Helper()
		v, ok, err := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting(name) })
		if err != nil {
			t.Fatalf("Setting(%q): %v", name, err)
		}
		return v, ok
	}
	if v, ok := setting("clock.offset"); ok {
		t.Fatalf("a new store has setting clock.offset = %q", v)
	}
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutSetting("clock.offset", "PT1H"), tx.PutSetting("empty", ""))
	})
	if v, ok := setting("clock.offset"); !ok || v != "PT1H" {
		t.Errorf("after a put: %q, %v", v, ok)
	}
	if v, ok := setting("empty"); !ok || v != "" {
		t.Errorf("an empty value: %q, %v; want \"\", true", v, ok)
	}
	update(t, s, func(tx access.Tx) error { return tx.PutSetting("clock.offset", "P14D") })
	if v, _ := setting("clock.offset"); v != "P14D" {
		t.Errorf("after a second put: %q, want P14D", v)
	}

	var stored string
	update(t, s, func(tx access.Tx) error {
		var err error
		stored, err = tx.InsertSettingIfAbsent("instance", "first")
		return err
	})
	diff(t, "InsertSettingIfAbsent on an absent setting", stored, "first")
	update(t, s, func(tx access.Tx) error {
		var err error
		stored, err = tx.InsertSettingIfAbsent("instance", "second")
		return err
	})
	diff(t, "InsertSettingIfAbsent on a present setting", stored, "first")
	if v, _ := setting("instance"); v != "first" {
		t.Errorf("InsertSettingIfAbsent overwrote the setting with %q", v)
	}
}

func testUpdateRollsBack(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	sentinel := access.Conflictf("the state does not allow it")
	err := s.Update(ctx(t), func(tx access.Tx) error {
		renamed := w.catalog
		renamed.DisplayName = "Renamed"
		if err := errors.Join(
			tx.PutCatalog(NewCatalog("cat-new")),
			tx.PutCatalog(renamed),
			tx.PutSetting("rolled", "back"),
			tx.PutUser(NewUser("u-new")),
			tx.DeleteAccessPackage(w.pkg.ID),
			tx.AddToGroup(w.group.ID, access.GroupMembers, access.ObjectUser, w.user.ID),
			tx.InsertSigningKeyIfAbsent(access.SigningKey{ID: "kid-new", PrivatePEM: []byte("x"), CreatedAt: Epoch}),
		); err != nil {
			return err
		}
		// The transaction sees its own writes before it fails.
		if _, err := tx.Catalog("cat-new"); err != nil {
			return err
		}
		return sentinel
	})
	if err != sentinel {
		t.Fatalf("Update returned %v (%T), want the error fn returned, unchanged", err, err)
	}
	view(t, s, func(tx access.Tx) error {
		wantKind(t, "catalog put in the failed update", second(tx.Catalog("cat-new")), access.KindNotFound)
		diff(t, "catalog changed in the failed update", must(tx.Catalog(w.catalog.ID)), w.catalog)
		diff(t, "package deleted in the failed update", must(tx.AccessPackage(w.pkg.ID)), w.pkg)
		wantKind(t, "user put in the failed update", second(tx.User("u-new")), access.KindNotFound)
		diff(t, "members added in the failed update", ids(must(tx.GroupRelation(w.group.ID, access.GroupMembers, access.Page{Limit: 10}))), []string(nil))
		diff(t, "signing keys", ids(must(tx.SigningKeys())), []string{w.signing.ID})
		_, ok, err := tx.Setting("rolled")
		if ok {
			t.Errorf("setting put in the failed update is there")
		}
		return err
	})

	// Any error comes back unchanged, not only *access.Error.
	plain := errors.New("plain")
	if err := s.Update(ctx(t), func(tx access.Tx) error { return plain }); err != plain {
		t.Errorf("Update returned %v, want the plain error unchanged", err)
	}
}

func testUpdateRecoversFromPanic(t *testing.T, s access.Store) {
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("the panic in fn did not reach the caller of Update")
			}
		}()
		s.Update(ctx(t), func(tx access.Tx) error {
			if err := tx.PutSetting("panicked", "yes"); err != nil {
				return err
			}
			panic("fn fails badly")
		})
	}()
	// The store is still usable and the panicking transaction left nothing.
	if err := s.Update(ctx(t), func(tx access.Tx) error { return tx.PutSetting("after", "panic") }); err != nil {
		t.Fatalf("Update after a panic: %v", err)
	}
	_, ok, err := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting("panicked") })
	if ok || err != nil {
		t.Errorf("setting written by the panicking transaction: present %v, err %v", ok, err)
	}
}

// testConcurrentUpdatesSomeFail runs many Updates at once, some of which
// write and then fail or panic: a store that commits waiting transactions
// together (SQLite's group commit) must still undo exactly the failed ones.
func testConcurrentUpdatesSomeFail(t *testing.T, s access.Store) {
	const rounds, writers = 5, 48
	errFails := errors.New("fn fails after writing")
	kept := map[string]bool{}
	for round := range rounds {
		var wg sync.WaitGroup
		results := make([]error, writers)
		panics := make([]bool, writers)
		for w := range writers {
			key := fmt.Sprintf("k-%d-%d", round, w)
			wg.Go(func() {
				defer func() { panics[w] = recover() != nil }()
				results[w] = s.Update(ctx(t), func(tx access.Tx) error {
					if err := tx.PutSetting(key, "written"); err != nil {
						return err
					}
					switch w % 4 {
					case 1:
						return errFails
					case 2:
						panic("fn fails badly")
					}
					return nil
				})
			})
		}
		wg.Wait()
		for w := range writers {
			key := fmt.Sprintf("k-%d-%d", round, w)
			switch w % 4 {
			case 1:
				if !errors.Is(results[w], errFails) {
					t.Errorf("%s: Update returned %v, want fn's own error", key, results[w])
				}
			case 2:
				if !panics[w] {
					t.Errorf("%s: the panic in fn did not reach the caller", key)
				}
			default:
				if results[w] != nil || panics[w] {
					t.Errorf("%s: Update returned %v (panicked %v), want success", key, results[w], panics[w])
				}
				kept[key] = true
			}
		}
	}
	for round := range rounds {
		for w := range writers {
			key := fmt.Sprintf("k-%d-%d", round, w)
			_, ok, err := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting(key) })
			if err != nil {
				t.Fatal(err)
			}
			if ok != kept[key] {
				t.Errorf("%s: stored %v, want %v", key, ok, kept[key])
			}
		}
	}
}

func testTxUnusableAfterReturn(t *testing.T, s access.Store) {
	cat := NewCatalog("cat-leaked")
	update(t, s, func(tx access.Tx) error { return tx.PutCatalog(cat) })
	var leaked access.Tx
	update(t, s, func(tx access.Tx) error {
		leaked = tx
		_, err := tx.Catalog(cat.ID) // a row a store may keep in memory
		return err
	})
	if err := leaked.PutSetting("leaked", "write"); err == nil {
		t.Errorf("a write through a Tx after its Update returned succeeded")
	}
	if _, err := leaked.Catalogs(access.Page{Limit: 1}); err == nil {
		t.Errorf("a read through a Tx after its Update returned succeeded")
	}
	if _, err := leaked.Catalog(cat.ID); err == nil {
		t.Errorf("a read of a row the Tx had read, after its Update returned, succeeded")
	}
	var leakedView access.Tx
	if err := s.View(context.Background(), func(tx access.Tx) error {
		leakedView = tx
		_, err := tx.Catalog(cat.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := leakedView.Catalog(cat.ID); err == nil {
		t.Errorf("a read through a Tx after its View returned succeeded")
	}
	_, ok, _ := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting("leaked") })
	if ok {
		t.Errorf("the write through a finished Tx was stored")
	}
}

func testConcurrentUpdates(t *testing.T, s access.Store) {
	const workers, increments = 20, 20
	update(t, s, func(tx access.Tx) error { return tx.PutSetting("counter", "0") })

	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Readers run alongside and must only ever see the counter grow.
	for r := range 4 {
		wg.Go(func() {
			last := -1
			for {
				select {
				case <-stop:
					return
				default:
				}
				var n int
				err := s.View(ctx(t), func(tx access.Tx) error {
					v, _, err := tx.Setting("counter")
					if err != nil {
						return err
					}
					n, err = strconv.Atoi(v)
					return err
				})
				if err != nil {
					t.Errorf("reader %d: %v", r, err)
					return
				}
				if n < last {
					t.Errorf("reader %d saw the counter go back from %d to %d", r, last, n)
					return
				}
				last = n
			}
		})
	}
	var writers sync.WaitGroup
	for w := range workers {
		writers.Go(func() {
			for range increments {
				err := s.Update(ctx(t), func(tx access.Tx) error {
					// Read, change, write back: under the setting's lock, as
					// Store.Update asks of a transaction that rewrites what it read.
					if err := tx.Lock(access.SettingLock("counter")); err != nil {
						return err
					}
					v, _, err := tx.Setting("counter")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(v)
					if err != nil {
						return err
					}
					return tx.PutSetting("counter", strconv.Itoa(n+1))
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	v, _, err := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting("counter") })
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "counter", v, strconv.Itoa(workers*increments))
}

func testView(t *testing.T, s access.Store) {
	// A View started after an Update returned sees what it committed.
	c := NewCatalog("cat-1")
	update(t, s, func(tx access.Tx) error { return tx.PutCatalog(c) })
	diff(t, "committed catalog", read(t, s, func(tx access.Tx) (access.Catalog, error) { return tx.Catalog(c.ID) }), c)

	// A View is read-only: a write fails and is not stored.
	err := s.View(ctx(t), func(tx access.Tx) error { return tx.PutSetting("written", "in a view") })
	if err == nil {
		t.Errorf("a write inside View succeeded")
	}
	_, ok, _ := read2(t, s, func(tx access.Tx) (string, bool, error) { return tx.Setting("written") })
	if ok {
		t.Errorf("a write inside View was stored")
	}

	// A View keeps one snapshot: an Update that commits while it runs is
	// invisible to it until it ends.
	inView, committed := make(chan struct{}), make(chan struct{})
	go func() {
		<-inView
		defer close(committed)
		if err := s.Update(ctx(t), func(tx access.Tx) error { return tx.PutCatalog(NewCatalog("cat-2")) }); err != nil {
			t.Errorf("Update during a View: %v", err)
		}
	}()
	view(t, s, func(tx access.Tx) error {
		before := ids(must(tx.Catalogs(access.Page{Limit: 10})))
		close(inView)
		<-committed
		diff(t, "catalogs within one View", ids(must(tx.Catalogs(access.Page{Limit: 10}))), before)
		return nil
	})
	got := read(t, s, func(tx access.Tx) ([]access.Catalog, error) { return tx.Catalogs(access.Page{Limit: 10}) })
	diff(t, "catalogs after the View", ids(got), []string{"cat-1", "cat-2"})
}
