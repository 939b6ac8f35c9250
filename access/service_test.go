package access_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/google/go-cmp/cmp"
)

// t0 is when every service test starts; it has whole milliseconds, the
// precision Service.Now keeps.
var t0 = time.Date(2026, time.March, 1, 10, 0, 0, 123_000_000, time.UTC)

// admin is a signed-in Identity Governance Administrator: every rule of
// the service lets it through.
var admin = access.Caller{UPN: "admin@contoso.test", ObjectID: "admin-oid", Scopes: access.WriteEntitlements,
	HeldRoles: []access.HeldRole{{RoleID: access.RoleIdentityGovernanceAdministrator}}}

// seqIDs is a predictable IDSource: id-0001, id-0002, … in order.
type seqIDs struct {
	mu sync.Mutex
	n  int
}

func (s *seqIDs) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return fmt.Sprintf("id-%04d", s.n)
}

type env struct {
	svc   *access.Service
	store *sqlstore.Store
	clock *stepClock
	ids   *seqIDs
	ctx   context.Context
}

// newEnv opens a migrated SQLite store in a temp dir and a Service on it with
// a clock standing at t0 and ids id-0001, id-0002, ….
func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{}) // ACCESSD_TEST_STORE picks the engine
	e := &env{store: st, clock: &stepClock{t: t0}, ids: &seqIDs{}, ctx: ctx}
	e.svc = access.NewService(st, e.clock, e.ids)
	return e
}

func must[T any](t *testing.T) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newCatalog(id string) access.Catalog {
	return access.Catalog{ID: id, DisplayName: "Catalog " + id, Description: "About " + id}
}

func newPackage(id, catalogID string) access.AccessPackage {
	return access.AccessPackage{ID: id, CatalogID: catalogID, DisplayName: "Package " + id}
}

func newExtension(id string, typ access.ExtensionType) access.CustomExtension {
	x := validExtension()
	x.ID, x.CatalogID, x.Type = id, "", typ
	if typ == access.AssignmentWorkflowExtension {
		x.Callback = nil
	}
	return x
}

func newUser(id string) access.User {
	return access.User{ID: id, DisplayName: "User " + id, UserPrincipalName: id + "@contoso.test", AccountEnabled: true}
}

func newGroup(id string) access.Group {
	return access.Group{ID: id, DisplayName: "Group " + id, MailNickname: id, SecurityEnabled: true}
}

// newPolicy returns a valid policy of the package with nothing that refers to the directory.
func newPolicy(id, packageID string) access.AssignmentPolicy {
	return access.AssignmentPolicy{ID: id, AccessPackageID: packageID, DisplayName: "Policy " + id,
		AllowedTargetScope: access.ScopeAllMemberUsers, Expiration: access.Expiration{Type: access.ExpirationNone}}
}

// base creates catalog cat1 with package pkg1 and extensions xreq (request
// workflow) and xasg (assignment workflow), and user approver.
func (e *env) base(t *testing.T) {
	t.Helper()
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
	must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg1", "cat1")))
	must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat1", newExtension("xreq", access.RequestWorkflowExtension)))
	must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat1", newExtension("xasg", access.AssignmentWorkflowExtension)))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("approver")))
}

func TestServiceCatalogs(t *testing.T) {
	e := newEnv(t)
	c, err := e.svc.CreateCatalog(e.ctx, admin, access.Catalog{DisplayName: "Sales", Description: "Sales tools"})
	noErr(t, err)
	want := access.Catalog{ID: "id-0001", DisplayName: "Sales", Description: "Sales tools", CatalogType: access.CatalogUserManaged,
		State: access.CatalogPublished, CreatedBy: admin.UPN, ModifiedBy: admin.UPN, CreatedDateTime: t0, ModifiedDateTime: t0}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Fatalf("CreateCatalog (-want +got):\n%s", diff)
	}
	got := must[access.Catalog](t)(e.svc.Catalog(e.ctx, admin, c.ID))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Catalog (-want +got):\n%s", diff)
	}

	_, err = e.svc.CreateCatalog(e.ctx, admin, access.Catalog{ID: c.ID, DisplayName: "Again"})
	wantKind(t, err, access.KindConflict, c.ID)
	_, err = e.svc.CreateCatalog(e.ctx, admin, access.Catalog{DisplayName: " "})
	wantInvalid(t, err, "displayName")

	e.clock.Advance(time.Minute)
	editor := access.Caller{DisplayName: "Editor app", IsApp: true, Roles: access.WriteEntitlements}
	upd, err := e.svc.UpdateCatalog(e.ctx, editor, c.ID, func(c *access.Catalog) error {
		c.Description = "changed"
		c.State = access.CatalogUnpublished
		return nil
	})
	noErr(t, err)
	want.Description, want.State, want.ModifiedBy, want.ModifiedDateTime = "changed", access.CatalogUnpublished, "Editor app", t0.Add(time.Minute)
	if diff := cmp.Diff(want, upd); diff != "" {
		t.Fatalf("UpdateCatalog (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, must[access.Catalog](t)(e.svc.Catalog(e.ctx, admin, c.ID))); diff != "" {
		t.Fatalf("stored after UpdateCatalog (-want +got):\n%s", diff)
	}

	// An apply that fails part way leaves the catalog as it was.
	_, err = e.svc.UpdateCatalog(e.ctx, admin, c.ID, func(c *access.Catalog) error {
		c.DisplayName = "After"
		return access.Invalidf("property 'catalogType': bogus")
	})
	wantInvalid(t, err, "catalogType")
	if diff := cmp.Diff(want, must[access.Catalog](t)(e.svc.Catalog(e.ctx, admin, c.ID))); diff != "" {
		t.Fatalf("stored after a failed apply (-want +got):\n%s", diff)
	}
	_, err = e.svc.UpdateCatalog(e.ctx, admin, c.ID, func(c *access.Catalog) error { c.DisplayName = ""; return nil })
	wantInvalid(t, err, "displayName")
	_, err = e.svc.UpdateCatalog(e.ctx, admin, c.ID, func(c *access.Catalog) error { c.ID = "other"; return nil })
	noErr(t, err) // the id in the URL wins
	if _, err := e.svc.Catalog(e.ctx, admin, "other"); !access.IsNotFound(err) {
		t.Errorf("UpdateCatalog that changed the id stored a catalog under the new id: %v", err)
	}
	if got := must[access.Catalog](t)(e.svc.Catalog(e.ctx, admin, c.ID)); got.DisplayName != "Sales" {
		t.Errorf("failed UpdateCatalog changed the stored catalog: %+v", got)
	}
	_, err = e.svc.UpdateCatalog(e.ctx, admin, "missing", func(*access.Catalog) error { return nil })
	wantKind(t, err, access.KindNotFound)

	noErr(t, e.svc.DeleteCatalog(e.ctx, admin, c.ID))
	_, err = e.svc.Catalog(e.ctx, admin, c.ID)
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.DeleteCatalog(e.ctx, admin, c.ID), access.KindNotFound)
}

func TestServiceAccessPackages(t *testing.T) {
	e := newEnv(t)
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat2")))

	p, err := e.svc.CreateAccessPackage(e.ctx, admin, access.AccessPackage{CatalogID: "cat1", DisplayName: "Sales tools", IsHidden: true})
	noErr(t, err)
	// id-0001 and id-0002 went to the roles that make admin the owner of each catalog.
	want := access.AccessPackage{ID: "id-0003", CatalogID: "cat1", DisplayName: "Sales tools", IsHidden: true,
		CreatedBy: admin.UPN, ModifiedBy: admin.UPN, CreatedDateTime: t0, ModifiedDateTime: t0}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("CreateAccessPackage (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, must[access.AccessPackage](t)(e.svc.AccessPackage(e.ctx, admin, p.ID))); diff != "" {
		t.Fatalf("AccessPackage (-want +got):\n%s", diff)
	}
	_, err = e.svc.CreateAccessPackage(e.ctx, admin, newPackage(p.ID, "cat1"))
	wantKind(t, err, access.KindConflict)
	_, err = e.svc.CreateAccessPackage(e.ctx, admin, newPackage("", "nope"))
	wantInvalid(t, err, "nope")
	_, err = e.svc.CreateAccessPackage(e.ctx, admin, newPackage("", ""))
	wantInvalid(t, err, "catalog")
	must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg-b", "cat2")))

	items, more, err := e.svc.AccessPackages(e.ctx, "cat1", access.Page{Limit: 10})
	noErr(t, err)
	if len(items) != 1 || items[0].ID != p.ID || more {
		t.Errorf("AccessPackages(cat1) = %v, %v", items, more)
	}
	items, _, err = e.svc.AccessPackages(e.ctx, "", access.Page{Limit: 10})
	noErr(t, err)
	if len(items) != 2 {
		t.Errorf("AccessPackages(all) = %d items, want 2", len(items))
	}
	_, _, err = e.svc.AccessPackages(e.ctx, "nope", access.Page{Limit: 10})
	wantKind(t, err, access.KindNotFound)

	e.clock.Advance(time.Second)
	upd, err := e.svc.UpdateAccessPackage(e.ctx, admin, p.ID, func(p *access.AccessPackage) error { p.Description = "d"; p.IsHidden = false; return nil })
	noErr(t, err)
	want.Description, want.IsHidden, want.ModifiedDateTime = "d", false, t0.Add(time.Second)
	if diff := cmp.Diff(want, upd); diff != "" {
		t.Fatalf("UpdateAccessPackage (-want +got):\n%s", diff)
	}
	_, err = e.svc.UpdateAccessPackage(e.ctx, admin, p.ID, func(p *access.AccessPackage) error { p.CatalogID = "cat2"; return nil })
	wantInvalid(t, err, "catalog")
	if got := must[access.AccessPackage](t)(e.svc.AccessPackage(e.ctx, admin, p.ID)); got.CatalogID != "cat1" {
		t.Errorf("refused move changed the catalog to %q", got.CatalogID)
	}
	_, err = e.svc.UpdateAccessPackage(e.ctx, admin, p.ID, func(p *access.AccessPackage) error { p.DisplayName = ""; return nil })
	wantInvalid(t, err, "displayName")

	noErr(t, e.svc.DeleteAccessPackage(e.ctx, admin, p.ID))
	_, err = e.svc.AccessPackage(e.ctx, admin, p.ID)
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.DeleteAccessPackage(e.ctx, admin, p.ID), access.KindNotFound)
}

func TestServiceCustomExtensions(t *testing.T) {
	e := newEnv(t)
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat2")))

	in := newExtension("", access.RequestWorkflowExtension)
	in.CatalogID = "cat2" // the catalog of the URL wins
	x, err := e.svc.CreateCustomExtension(e.ctx, admin, "cat1", in)
	noErr(t, err)
	want := in
	want.ID, want.CatalogID = "id-0003", "cat1" // after the catalogs' owner roles
	want.CreatedBy, want.LastModifiedBy, want.CreatedDateTime, want.LastModifiedDateTime = admin.UPN, admin.UPN, t0, t0
	if diff := cmp.Diff(want, x); diff != "" {
		t.Fatalf("CreateCustomExtension (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, must[access.CustomExtension](t)(e.svc.CustomExtension(e.ctx, admin, "cat1", x.ID))); diff != "" {
		t.Fatalf("CustomExtension (-want +got):\n%s", diff)
	}
	_, err = e.svc.CreateCustomExtension(e.ctx, admin, "cat2", newExtension(x.ID, access.RequestWorkflowExtension))
	wantKind(t, err, access.KindConflict)
	_, err = e.svc.CreateCustomExtension(e.ctx, admin, "nope", newExtension("", access.RequestWorkflowExtension))
	wantKind(t, err, access.KindNotFound)
	bad := newExtension("", access.RequestWorkflowExtension)
	bad.Endpoint.TargetURL = "ftp://x"
	_, err = e.svc.CreateCustomExtension(e.ctx, admin, "cat1", bad)
	wantInvalid(t, err, "targetUrl")

	// An extension of another catalog is not found through this one.
	_, err = e.svc.CustomExtension(e.ctx, admin, "cat2", x.ID)
	wantKind(t, err, access.KindNotFound)
	_, err = e.svc.CustomExtension(e.ctx, admin, "nope", x.ID)
	wantKind(t, err, access.KindNotFound)
	_, err = e.svc.ReplaceCustomExtension(e.ctx, admin, "cat2", x.ID, newExtension("", access.RequestWorkflowExtension))
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat2", x.ID), access.KindNotFound)

	items, more, err := e.svc.CustomExtensions(e.ctx, "cat1", access.Page{Limit: 5})
	noErr(t, err)
	if len(items) != 1 || more {
		t.Errorf("CustomExtensions(cat1) = %d items, more %v", len(items), more)
	}
	items, _, err = e.svc.CustomExtensions(e.ctx, "cat2", access.Page{Limit: 5})
	noErr(t, err)
	if len(items) != 0 {
		t.Errorf("CustomExtensions(cat2) = %v", items)
	}
	_, _, err = e.svc.CustomExtensions(e.ctx, "nope", access.Page{Limit: 5})
	wantKind(t, err, access.KindNotFound)

	e.clock.Advance(time.Hour)
	repl := newExtension("ignored", access.RequestWorkflowExtension)
	repl.DisplayName, repl.Callback = "Replaced", nil
	editor := access.Caller{UPN: "editor@contoso.test", Scopes: access.WriteEntitlements,
		HeldRoles: []access.HeldRole{{RoleID: access.RoleCatalogOwner, CatalogID: "cat1"}}, Rule: access.RuleCatalogOwner}
	got, err := e.svc.ReplaceCustomExtension(e.ctx, editor, "cat1", x.ID, repl)
	noErr(t, err)
	wantRepl := repl
	wantRepl.ID, wantRepl.CatalogID = x.ID, "cat1"
	wantRepl.CreatedBy, wantRepl.CreatedDateTime = admin.UPN, t0
	wantRepl.LastModifiedBy, wantRepl.LastModifiedDateTime = editor.UPN, t0.Add(time.Hour)
	if diff := cmp.Diff(wantRepl, got); diff != "" {
		t.Fatalf("ReplaceCustomExtension (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantRepl, must[access.CustomExtension](t)(e.svc.CustomExtension(e.ctx, admin, "cat1", x.ID))); diff != "" {
		t.Fatalf("stored after replace (-want +got):\n%s", diff)
	}

	_, err = e.svc.ReplaceCustomExtension(e.ctx, admin, "cat1", x.ID, newExtension("", access.AssignmentWorkflowExtension))
	wantInvalid(t, err, "@odata.type", string(access.RequestWorkflowExtension), string(access.AssignmentWorkflowExtension))
	invalid := newExtension("", access.RequestWorkflowExtension)
	invalid.DisplayName = ""
	_, err = e.svc.ReplaceCustomExtension(e.ctx, admin, "cat1", x.ID, invalid)
	wantInvalid(t, err, "displayName")
	if diff := cmp.Diff(wantRepl, must[access.CustomExtension](t)(e.svc.CustomExtension(e.ctx, admin, "cat1", x.ID))); diff != "" {
		t.Fatalf("refused replaces changed the extension (-want +got):\n%s", diff)
	}
	_, err = e.svc.ReplaceCustomExtension(e.ctx, admin, "cat1", "missing", newExtension("", access.RequestWorkflowExtension))
	wantKind(t, err, access.KindNotFound)

	noErr(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", x.ID))
	_, err = e.svc.CustomExtension(e.ctx, admin, "cat1", x.ID)
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", x.ID), access.KindNotFound)
}

func TestServiceAssignmentPolicies(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg2", "cat1")))
	first := e.ids.n

	in := newPolicy("", "pkg1")
	in.CatalogID = "somewhere" // derived from the package, whatever the client says
	in.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true,
		Stages: []access.ApprovalStage{{PrimaryApprovers: []access.SubjectSet{user("approver")}}}}
	in.ExtensionBindings = []access.ExtensionBinding{
		{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"},
		{Stage: access.StageOneDayBeforeExpiry, CustomExtensionID: "xasg"},
	}
	in.Questions = []access.Question{{Text: "Why?"}, {ID: "given-q", Text: "Where?", Type: access.MultipleChoiceQuestion,
		Choices: []access.AnswerChoice{{ActualValue: "eu"}}}}
	p, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, in)
	noErr(t, err)
	id := func(n int) string { return fmt.Sprintf("id-%04d", first+n) }
	want := newPolicy(id(1), "pkg1")
	want.DisplayName, want.CatalogID = "Policy ", "cat1"
	want.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true,
		Stages: []access.ApprovalStage{{PrimaryApprovers: []access.SubjectSet{user("approver")},
			DurationBeforeAutomaticDenial: access.MustDuration("P14D"), ApproverInformationVisibility: "default"}}}
	want.ExtensionBindings = []access.ExtensionBinding{
		{ID: id(2), Stage: access.StageRequestCreated, CustomExtensionID: "xreq"},
		{ID: id(3), Stage: access.StageOneDayBeforeExpiry, CustomExtensionID: "xasg"},
	}
	want.Questions = []access.Question{{ID: id(4), Type: access.TextInputQuestion, Text: "Why?"},
		{ID: "given-q", Text: "Where?", Type: access.MultipleChoiceQuestion, Choices: []access.AnswerChoice{{ActualValue: "eu"}}}}
	want.CreatedDateTime, want.ModifiedDateTime = t0, t0
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("CreateAssignmentPolicy (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, must[access.AssignmentPolicy](t)(e.svc.AssignmentPolicy(e.ctx, admin, p.ID))); diff != "" {
		t.Fatalf("AssignmentPolicy (-want +got):\n%s", diff)
	}
	_, err = e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy(p.ID, "pkg1"))
	wantKind(t, err, access.KindConflict)
	_, err = e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy("", "nope"))
	wantInvalid(t, err, "nope")

	items, more, err := e.svc.AssignmentPolicies(e.ctx, "pkg1", access.Page{Limit: 5})
	noErr(t, err)
	if len(items) != 1 || more {
		t.Errorf("AssignmentPolicies(pkg1) = %d, %v", len(items), more)
	}
	items, _, err = e.svc.AssignmentPolicies(e.ctx, "pkg2", access.Page{Limit: 5})
	noErr(t, err)
	if len(items) != 0 {
		t.Errorf("AssignmentPolicies(pkg2) = %v", items)
	}
	_, _, err = e.svc.AssignmentPolicies(e.ctx, "nope", access.Page{Limit: 5})
	wantKind(t, err, access.KindNotFound)

	t.Run("replace keeps CreatedDateTime", func(t *testing.T) {
		e.clock.Advance(24 * time.Hour)
		repl := newPolicy("ignored", "")
		repl.DisplayName = "Replaced"
		repl.CreatedDateTime = t0.Add(-999 * time.Hour) // read-only: ignored
		got, err := e.svc.ReplaceAssignmentPolicy(e.ctx, admin, p.ID, repl)
		noErr(t, err)
		wantRepl := newPolicy(p.ID, "pkg1")
		wantRepl.DisplayName, wantRepl.CatalogID = "Replaced", "cat1"
		wantRepl.CreatedDateTime, wantRepl.ModifiedDateTime = t0, t0.Add(24*time.Hour)
		if diff := cmp.Diff(wantRepl, got); diff != "" {
			t.Fatalf("ReplaceAssignmentPolicy (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantRepl, must[access.AssignmentPolicy](t)(e.svc.AssignmentPolicy(e.ctx, admin, p.ID))); diff != "" {
			t.Fatalf("stored (-want +got):\n%s", diff)
		}
	})
	t.Run("replace refuses another package", func(t *testing.T) {
		before := must[access.AssignmentPolicy](t)(e.svc.AssignmentPolicy(e.ctx, admin, p.ID))
		_, err := e.svc.ReplaceAssignmentPolicy(e.ctx, admin, p.ID, newPolicy("", "pkg2"))
		wantInvalid(t, err, "accessPackage")
		if diff := cmp.Diff(before, must[access.AssignmentPolicy](t)(e.svc.AssignmentPolicy(e.ctx, admin, p.ID))); diff != "" {
			t.Fatalf("refused replace changed the policy (-before +after):\n%s", diff)
		}
	})
	t.Run("replace of a missing policy", func(t *testing.T) {
		_, err := e.svc.ReplaceAssignmentPolicy(e.ctx, admin, "missing", newPolicy("", "pkg1"))
		wantKind(t, err, access.KindNotFound)
	})
	t.Run("delete", func(t *testing.T) {
		noErr(t, e.svc.DeleteAssignmentPolicy(e.ctx, admin, p.ID))
		_, err := e.svc.AssignmentPolicy(e.ctx, admin, p.ID)
		wantKind(t, err, access.KindNotFound)
		wantKind(t, e.svc.DeleteAssignmentPolicy(e.ctx, admin, p.ID), access.KindNotFound)
	})
}

// A policy the service accepts must be readable afterwards; one stored with a
// duration the store cannot decode breaks every list that contains it.
func TestServicePolicyWithLongExpirationStaysReadable(t *testing.T) {
	for _, d := range []string{"P100000D", "P14285W", "PT99999H"} {
		t.Run(d, func(t *testing.T) {
			e := newEnv(t)
			e.base(t)
			p := newPolicy("pol1", "pkg1")
			p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration(d)}
			created, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, p)
			if err != nil {
				wantInvalid(t, err, "expiration")
				return
			}
			got, err := e.svc.AssignmentPolicy(e.ctx, admin, "pol1")
			_, _, listErr := e.svc.AssignmentPolicies(e.ctx, "", access.Page{Limit: 10})
			if err != nil || listErr != nil {
				t.Skipf("BUG: CreateAssignmentPolicy stores expiration.duration %s (String %s) that the store cannot read back: get: %v; list: %v",
					d, created.Expiration.Duration, err, listErr)
			}
			if got.Expiration.Duration != created.Expiration.Duration {
				t.Errorf("duration read back as %#v, want %#v", got.Expiration.Duration, created.Expiration.Duration)
			}
		})
	}
}

// Regression: afterDuration P9000Y was accepted and its assignments ended in 11026.
func TestServiceRefusesEndsAfterTheYear9999(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	p := newPolicy("pol1", "pkg1")
	p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P9000Y")}
	_, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, p)
	wantInvalid(t, err, "expiration.duration", "9999")
	if _, err := e.svc.AssignmentPolicy(e.ctx, admin, "pol1"); !access.IsNotFound(err) {
		t.Fatalf("the refused policy was stored: %v", err)
	}
	p.Expiration.Duration = access.MustDuration("P30D")
	p.RequestorSettings.AllowCustomAssignmentSchedule = true
	must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, p))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("target")))
	_, err = e.svc.SubmitRequest(e.ctx, access.Caller{ObjectID: "app", IsApp: true, Roles: access.WriteEntitlements}, access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: "pkg1", PolicyID: "pol1", TargetID: "target",
		Schedule: &access.Schedule{Expiration: access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P9000Y")}}})
	wantInvalid(t, err, "schedule.expiration.duration", "9999")
}

// A database written before the clock kept an anchor stored an offset in
// nanoseconds; a --dev server upgraded in place keeps its clock.
func TestServiceLoadsAnOldClockOffset(t *testing.T) {
	e := newEnv(t)
	noErr(t, e.store.Update(e.ctx, func(tx access.Tx) error {
		return tx.PutSetting("clock_offset_ns", fmt.Sprint(int64(48*time.Hour)))
	}))
	clock := &access.VirtualClock{Base: e.clock}
	svc := access.NewService(e.store, clock, e.ids)
	noErr(t, svc.LoadClock(e.ctx))
	if got := clock.Now(); !got.Equal(t0.Add(48 * time.Hour)) {
		t.Errorf("clock reads %s, want %s", got, t0.Add(48*time.Hour))
	}
}

func TestServiceDeleteRules(t *testing.T) {
	e := newEnv(t)
	e.base(t)

	t.Run("catalog with a package", func(t *testing.T) {
		wantKind(t, e.svc.DeleteCatalog(e.ctx, admin, "cat1"), access.KindConflict, "cat1")
		must[access.Catalog](t)(e.svc.Catalog(e.ctx, admin, "cat1"))
		must[access.CustomExtension](t)(e.svc.CustomExtension(e.ctx, admin, "cat1", "xreq")) // refused delete kept the extensions
	})

	pol := newPolicy("pol1", "pkg1")
	pol.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestGranted, CustomExtensionID: "xreq"},
		{Stage: access.StageRequestRemoved, CustomExtensionID: "xreq"}}
	pol = must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, pol))

	t.Run("package with a policy", func(t *testing.T) {
		wantKind(t, e.svc.DeleteAccessPackage(e.ctx, admin, "pkg1"), access.KindConflict, "pkg1")
		must[access.AccessPackage](t)(e.svc.AccessPackage(e.ctx, admin, "pkg1"))
	})
	t.Run("extension bound to a policy", func(t *testing.T) {
		wantKind(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", "xreq"), access.KindConflict, "xreq")
		must[access.CustomExtension](t)(e.svc.CustomExtension(e.ctx, admin, "cat1", "xreq"))
	})
	t.Run("unbound extension", func(t *testing.T) {
		noErr(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", "xasg"))
	})
	t.Run("extension deletable once the policy no longer binds it", func(t *testing.T) {
		repl := pol
		repl.ExtensionBindings = nil
		must[access.AssignmentPolicy](t)(e.svc.ReplaceAssignmentPolicy(e.ctx, admin, pol.ID, repl))
		noErr(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", "xreq"))
	})
	t.Run("extension deletable once its policy is deleted", func(t *testing.T) {
		x := must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat1", newExtension("x3", access.RequestWorkflowExtension)))
		repl := pol
		repl.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: x.ID}}
		must[access.AssignmentPolicy](t)(e.svc.ReplaceAssignmentPolicy(e.ctx, admin, pol.ID, repl))
		wantKind(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", x.ID), access.KindConflict)
		noErr(t, e.svc.DeleteAssignmentPolicy(e.ctx, admin, pol.ID))
		noErr(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", x.ID))
	})
	t.Run("catalog deletion deletes its extensions", func(t *testing.T) {
		for _, id := range []string{"x4", "x5"} {
			must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat1", newExtension(id, access.RequestWorkflowExtension)))
		}
		noErr(t, e.svc.DeleteAccessPackage(e.ctx, admin, "pkg1"))
		noErr(t, e.svc.DeleteCatalog(e.ctx, admin, "cat1"))
		// A new catalog under the same id starts without extensions, and the
		// extension ids are free again.
		must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
		items, _, err := e.svc.CustomExtensions(e.ctx, "cat1", access.Page{Limit: 10})
		noErr(t, err)
		if len(items) != 0 {
			t.Errorf("extensions survived their catalog: %v", items)
		}
		must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat9")))
		must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat9", newExtension("x4", access.RequestWorkflowExtension)))
	})
	t.Run("catalog with more extensions than one page", func(t *testing.T) {
		must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("big")))
		for i := range 205 {
			must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "big", newExtension(fmt.Sprintf("big-%03d", i), access.RequestWorkflowExtension)))
		}
		noErr(t, e.svc.DeleteCatalog(e.ctx, admin, "big"))
		must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("big")))
		items, _, err := e.svc.CustomExtensions(e.ctx, "big", access.Page{Limit: 10})
		noErr(t, err)
		if len(items) != 0 {
			t.Errorf("%d extensions survived their catalog", len(items))
		}
	})
}

// A use case that fails stores nothing of what it had started to write.
func TestServiceFailuresWriteNothing(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat2")))
	must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat2", newExtension("xfar", access.RequestWorkflowExtension)))

	badBindings := []struct {
		name string
		b    []access.ExtensionBinding
		want []string
	}{
		{"unknown extension", []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "nope"}}, []string{"nope"}},
		{"extension of another catalog", []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "xfar"}}, []string{"another catalog"}},
		{"assignment workflow extension at a request stage", []access.ExtensionBinding{{Stage: access.StageRequestApproved, CustomExtensionID: "xasg"}}, []string{"pre-expiration"}},
		{"request workflow extension before expiry", []access.ExtensionBinding{
			{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"},
			{Stage: access.StageFourteenDaysBeforeExpiry, CustomExtensionID: "xreq"}}, []string{"customExtensionStageSettings[1]"}},
		{"same stage twice", []access.ExtensionBinding{
			{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"},
			{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"}}, []string{"twice"}},
	}
	for _, tc := range badBindings {
		t.Run("create with "+tc.name, func(t *testing.T) {
			p := newPolicy("bad", "pkg1")
			p.ExtensionBindings = tc.b
			_, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, p)
			wantInvalid(t, err, tc.want...)
			if _, err := e.svc.AssignmentPolicy(e.ctx, admin, "bad"); !access.IsNotFound(err) {
				t.Errorf("refused policy was stored: %v", err)
			}
			// No binding row was left either: the extensions are still deletable.
			noErr(t, e.store.View(e.ctx, func(tx access.Tx) error {
				for _, x := range []string{"xreq", "xasg", "xfar", "nope"} {
					if n, err := tx.CountPoliciesBinding(x); err != nil || n != 0 {
						return fmt.Errorf("CountPoliciesBinding(%s) = %d, %v", x, n, err)
					}
				}
				return nil
			}))
		})
	}

	good := newPolicy("pol1", "pkg1")
	good.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"}}
	good = must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, good))
	for _, tc := range badBindings {
		t.Run("replace with "+tc.name, func(t *testing.T) {
			p := newPolicy("", "pkg1")
			p.DisplayName = "should not be stored"
			p.ExtensionBindings = tc.b
			_, err := e.svc.ReplaceAssignmentPolicy(e.ctx, admin, good.ID, p)
			wantInvalid(t, err, tc.want...)
			if diff := cmp.Diff(good, must[access.AssignmentPolicy](t)(e.svc.AssignmentPolicy(e.ctx, admin, good.ID))); diff != "" {
				t.Errorf("refused replace changed the policy (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("create group with a bad member", func(t *testing.T) {
		_, err := e.svc.CreateGroup(e.ctx, newGroup("g-bad"), []string{"approver", "nobody"}, nil)
		wantInvalid(t, err, "nobody")
		if _, err := e.svc.Group(e.ctx, "g-bad"); !access.IsNotFound(err) {
			t.Errorf("group of a refused CreateGroup was stored: %v", err)
		}
	})
	t.Run("create group owned by a group", func(t *testing.T) {
		must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g-owner"), nil, nil))
		_, err := e.svc.CreateGroup(e.ctx, newGroup("g-bad2"), []string{"approver"}, []string{"g-owner"})
		wantInvalid(t, err, "own")
		if _, err := e.svc.Group(e.ctx, "g-bad2"); !access.IsNotFound(err) {
			t.Errorf("group of a refused CreateGroup was stored: %v", err)
		}
	})
}

func TestServicePolicyDirectoryReferences(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g1"), nil, nil))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp1", DisplayName: "App"}))

	approval := func(sets ...access.SubjectSet) func(p *access.AssignmentPolicy) {
		return func(p *access.AssignmentPolicy) {
			p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true,
				Stages: []access.ApprovalStage{{PrimaryApprovers: sets}}}
		}
	}
	tests := []struct {
		name   string
		change func(p *access.AssignmentPolicy)
		want   []string
	}{
		{"known user approver", approval(user("approver")), nil},
		{"unknown user approver", approval(user("ghost")), []string{"ghost"}},
		{"unknown user among approvers", approval(user("approver"), user("ghost2")), []string{"ghost2"}},
		{"known group approver", approval(access.SubjectSet{Type: "groupMembers", GroupID: "g1"}), nil},
		{"unknown group approver", approval(access.SubjectSet{Type: "groupMembers", GroupID: "g-ghost"}), []string{"g-ghost"}},
		{"unknown fallback approver", func(p *access.AssignmentPolicy) {
			approval(user("approver"))(p)
			p.RequestApprovalSettings.Stages[0].FallbackPrimaryApprovers = []access.SubjectSet{user("fb-ghost")}
		}, []string{"fb-ghost"}},
		{"unknown escalation approver", func(p *access.AssignmentPolicy) {
			approval(user("approver"))(p)
			st := &p.RequestApprovalSettings.Stages[0]
			st.IsEscalationEnabled, st.DurationBeforeEscalation = true, access.MustDuration("P1D")
			st.EscalationApprovers = []access.SubjectSet{user("esc-ghost")}
		}, []string{"esc-ghost"}},
		{"known service principal target", func(p *access.AssignmentPolicy) {
			p.AllowedTargetScope = access.ScopeSpecificDirectoryServicePrincipals
			p.SpecificAllowedTargets = []access.SubjectSet{{Type: "singleServicePrincipal", ServicePrincipalID: "sp1"}}
		}, nil},
		{"unknown service principal target", func(p *access.AssignmentPolicy) {
			p.AllowedTargetScope = access.ScopeSpecificDirectoryServicePrincipals
			p.SpecificAllowedTargets = []access.SubjectSet{{Type: "singleServicePrincipal", ServicePrincipalID: "sp-ghost"}}
		}, []string{"sp-ghost"}},
		{"unknown on-behalf requestor", func(p *access.AssignmentPolicy) {
			p.RequestorSettings.OnBehalfRequestors = []access.SubjectSet{user("obo-ghost")}
		}, []string{"obo-ghost"}},
		{"manager approver needs no directory object", approval(access.SubjectSet{Type: "requestorManager", ManagerLevel: 1}), nil},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPolicy(fmt.Sprintf("pol-%d", i), "pkg1")
			tc.change(&p)
			_, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, p)
			wantInvalid(t, err, tc.want...)
			_, err = e.svc.AssignmentPolicy(e.ctx, admin, p.ID)
			if stored := err == nil; stored != (tc.want == nil) {
				t.Errorf("stored = %v, want %v", stored, tc.want == nil)
			}
		})
	}
}

func TestServiceUsers(t *testing.T) {
	e := newEnv(t)
	u, err := e.svc.CreateUser(e.ctx, access.User{DisplayName: "Alice", UserPrincipalName: "Alice@Contoso.test", AccountEnabled: true})
	noErr(t, err)
	if u.ID != "id-0001" {
		t.Errorf("generated id %q", u.ID)
	}
	for _, key := range []string{u.ID, "alice@contoso.test", "ALICE@CONTOSO.TEST"} {
		got, err := e.svc.User(e.ctx, key)
		noErr(t, err)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("User(%q) (-want +got):\n%s", key, diff)
		}
	}
	_, err = e.svc.CreateUser(e.ctx, access.User{DisplayName: "Other Alice", UserPrincipalName: "ALICE@contoso.TEST"})
	wantKind(t, err, access.KindConflict, "userPrincipalName")
	_, err = e.svc.CreateUser(e.ctx, access.User{ID: u.ID, DisplayName: "Same id", UserPrincipalName: "x@contoso.test"})
	wantKind(t, err, access.KindConflict)
	_, err = e.svc.CreateUser(e.ctx, access.User{DisplayName: "No at", UserPrincipalName: "bob"})
	wantInvalid(t, err, "userPrincipalName")

	bob := must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("bob")))
	_, err = e.svc.UpdateUser(e.ctx, bob.ID, func(u *access.User) error { u.UserPrincipalName = "aLiCe@contoso.test"; return nil })
	wantKind(t, err, access.KindConflict, "userPrincipalName")
	if got := must[access.User](t)(e.svc.User(e.ctx, bob.ID)); got.UserPrincipalName != bob.UserPrincipalName {
		t.Errorf("refused update changed the UPN to %q", got.UserPrincipalName)
	}
	// A user may change the case of their own UPN.
	upd, err := e.svc.UpdateUser(e.ctx, "alice@contoso.test", func(u *access.User) error {
		u.UserPrincipalName = "alice@contoso.test"
		u.DisplayName = "Alice A."
		return nil
	})
	noErr(t, err)
	if upd.ID != u.ID || upd.DisplayName != "Alice A." {
		t.Errorf("UpdateUser = %+v", upd)
	}

	noErr(t, e.svc.DeleteUser(e.ctx, "alice@contoso.test"))
	_, err = e.svc.User(e.ctx, u.ID)
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.DeleteUser(e.ctx, u.ID), access.KindNotFound)
	// The UPN is free again.
	must[access.User](t)(e.svc.CreateUser(e.ctx, access.User{DisplayName: "New Alice", UserPrincipalName: "alice@contoso.test"}))
}

func TestServiceManagers(t *testing.T) {
	e := newEnv(t)
	for _, id := range []string{"a", "b", "c", "d"} {
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(id)))
	}
	_, err := e.svc.Manager(e.ctx, "a")
	wantKind(t, err, access.KindNotFound)
	wantKind(t, e.svc.SetManager(e.ctx, "a", ""), access.KindNotFound) // nothing to remove

	// a reports to b, b to c.
	noErr(t, e.svc.SetManager(e.ctx, "a", "b"))
	noErr(t, e.svc.SetManager(e.ctx, "b@contoso.test", "c"))
	if m := must[access.User](t)(e.svc.Manager(e.ctx, "a@contoso.test")); m.ID != "b" {
		t.Errorf("Manager(a) = %s", m.ID)
	}
	if m := must[access.User](t)(e.svc.Manager(e.ctx, "b")); m.ID != "c" {
		t.Errorf("Manager(b) = %s", m.ID)
	}

	tests := []struct {
		name, user, manager string
		kind                access.Kind
		want                []string
	}{
		{"self", "a", "a", access.KindInvalid, []string{"own manager"}},
		{"direct cycle", "b", "a", access.KindInvalid, []string{"own manager"}},
		{"longer cycle", "c", "a", access.KindInvalid, []string{"own manager"}},
		// A $ref naming a user that does not exist is 404, as in Graph (docs/decisions.md).
		{"unknown manager", "d", "ghost", access.KindNotFound, []string{"ghost"}},
		{"unknown user", "ghost", "a", access.KindNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.svc.User(e.ctx, tc.user)
			wantKind(t, e.svc.SetManager(e.ctx, tc.user, tc.manager), tc.kind, tc.want...)
			if after, _ := e.svc.User(e.ctx, tc.user); after != before {
				t.Errorf("refused SetManager changed the user: %+v -> %+v", before, after)
			}
		})
	}

	// PATCH does not change the manager; creating a user with one checks it.
	upd := must[access.User](t)(e.svc.UpdateUser(e.ctx, "a", func(u *access.User) error { u.ManagerID = "d"; return nil }))
	if upd.ManagerID != "b" {
		t.Errorf("UpdateUser changed the manager to %q", upd.ManagerID)
	}
	_, err = e.svc.CreateUser(e.ctx, access.User{ID: "e", DisplayName: "E", UserPrincipalName: "e@contoso.test", ManagerID: "ghost"})
	wantInvalid(t, err, "ghost")
	_, err = e.svc.CreateUser(e.ctx, access.User{ID: "f", DisplayName: "F", UserPrincipalName: "f@contoso.test", ManagerID: "f"})
	wantInvalid(t, err, "own manager")
	must[access.User](t)(e.svc.CreateUser(e.ctx, access.User{ID: "g", DisplayName: "G", UserPrincipalName: "g@contoso.test", ManagerID: "a"}))
	if m := must[access.User](t)(e.svc.Manager(e.ctx, "g")); m.ID != "a" {
		t.Errorf("Manager(g) = %s", m.ID)
	}

	// Remove, then the manager is gone.
	noErr(t, e.svc.SetManager(e.ctx, "a", ""))
	_, err = e.svc.Manager(e.ctx, "a")
	wantKind(t, err, access.KindNotFound)
	// With a gone, c may now report to a.
	noErr(t, e.svc.SetManager(e.ctx, "c", "a"))

	// Deleting a manager leaves their reports without one.
	noErr(t, e.svc.DeleteUser(e.ctx, "c"))
	_, err = e.svc.Manager(e.ctx, "b")
	wantKind(t, err, access.KindNotFound)
}

func TestServiceGroups(t *testing.T) {
	e := newEnv(t)
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("u1")))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("u2")))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp1", DisplayName: "App"}))
	must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("inner"), nil, nil))
	g := must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g1"), []string{"u1", "inner"}, []string{"u2", "sp1"}))
	_, err := e.svc.CreateGroup(e.ctx, newGroup("g1"), nil, nil)
	wantKind(t, err, access.KindConflict)
	_, err = e.svc.CreateGroup(e.ctx, access.Group{DisplayName: "no nickname"}, nil, nil)
	wantInvalid(t, err, "mailNickname")

	ids := func(rel access.GroupRelation) []string {
		t.Helper()
		objs, _, err := e.svc.GroupRelation(e.ctx, g.ID, rel, access.Page{Limit: 100})
		noErr(t, err)
		var out []string
		for _, o := range objs {
			out = append(out, string(o.Kind)+":"+o.ID)
		}
		return out
	}
	if diff := cmp.Diff([]string{"group:inner", "user:u1"}, ids(access.GroupMembers)); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"servicePrincipal:sp1", "user:u2"}, ids(access.GroupOwners)); diff != "" {
		t.Errorf("owners (-want +got):\n%s", diff)
	}

	tests := []struct {
		name     string
		group    string
		rel      access.GroupRelation
		object   string
		kind     access.Kind
		fragment []string
	}{
		{"member twice", "g1", access.GroupMembers, "u1", access.KindConflict, nil},
		{"owner twice", "g1", access.GroupOwners, "u2", access.KindConflict, nil},
		{"group as its own member", "g1", access.GroupMembers, "g1", access.KindInvalid, []string{"itself"}},
		{"group owning a group", "g1", access.GroupOwners, "inner", access.KindInvalid, []string{"own"}},
		// A $ref naming a directory object that does not exist is 404 (docs/decisions.md).
		{"unknown object", "g1", access.GroupMembers, "ghost", access.KindNotFound, []string{"ghost"}},
		{"unknown group", "nope", access.GroupMembers, "u1", access.KindNotFound, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantKind(t, e.svc.AddToGroup(e.ctx, tc.group, tc.rel, tc.object), tc.kind, tc.fragment...)
		})
	}

	noErr(t, e.svc.AddToGroup(e.ctx, "g1", access.GroupMembers, "sp1"))
	noErr(t, e.svc.AddToGroup(e.ctx, "g1", access.GroupMembers, "u2")) // an owner may also be a member
	noErr(t, e.svc.RemoveFromGroup(e.ctx, "g1", access.GroupMembers, "u1"))
	wantKind(t, e.svc.RemoveFromGroup(e.ctx, "g1", access.GroupMembers, "u1"), access.KindNotFound)
	wantKind(t, e.svc.RemoveFromGroup(e.ctx, "nope", access.GroupMembers, "u1"), access.KindNotFound)
	if diff := cmp.Diff([]string{"group:inner", "servicePrincipal:sp1", "user:u2"}, ids(access.GroupMembers)); diff != "" {
		t.Errorf("members after changes (-want +got):\n%s", diff)
	}
	_, _, err = e.svc.GroupRelation(e.ctx, "nope", access.GroupMembers, access.Page{Limit: 10})
	wantKind(t, err, access.KindNotFound)

	upd := must[access.Group](t)(e.svc.UpdateGroup(e.ctx, "g1", func(g *access.Group) error { g.Description = "new"; g.ID = "x"; return nil }))
	if upd.ID != "g1" || upd.Description != "new" {
		t.Errorf("UpdateGroup = %+v", upd)
	}
	noErr(t, e.svc.DeleteUser(e.ctx, "u2"))
	if diff := cmp.Diff([]string{"group:inner", "servicePrincipal:sp1"}, ids(access.GroupMembers)); diff != "" {
		t.Errorf("members after deleting u2 (-want +got):\n%s", diff)
	}
	noErr(t, e.svc.DeleteGroup(e.ctx, "g1"))
	_, err = e.svc.Group(e.ctx, "g1")
	wantKind(t, err, access.KindNotFound)
}

func TestServiceServicePrincipals(t *testing.T) {
	e := newEnv(t)
	sp := must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{DisplayName: "Payroll"}))
	if sp.ID != "id-0001" || sp.AppID != "id-0002" {
		t.Errorf("generated ids: %+v", sp)
	}
	_, err := e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{DisplayName: "Dup", AppID: sp.AppID})
	wantKind(t, err, access.KindConflict, "appId")
	_, err = e.svc.UpdateServicePrincipal(e.ctx, sp.ID, func(s *access.ServicePrincipal) error { s.AppID = "changed"; return nil })
	wantInvalid(t, err, "appId")

	t.Run("EnsureServicePrincipal is idempotent", func(t *testing.T) {
		a := must[access.ServicePrincipal](t)(e.svc.EnsureServicePrincipal(e.ctx, "Token tool"))
		b := must[access.ServicePrincipal](t)(e.svc.EnsureServicePrincipal(e.ctx, "Token tool"))
		if diff := cmp.Diff(a, b); diff != "" {
			t.Errorf("second Ensure differs (-first +second):\n%s", diff)
		}
		if a.DisplayName != "Token tool" || a.ID == "" || a.AppID == "" {
			t.Errorf("Ensure = %+v", a)
		}
		c := must[access.ServicePrincipal](t)(e.svc.EnsureServicePrincipal(e.ctx, "Payroll"))
		if c.ID != sp.ID {
			t.Errorf("Ensure(Payroll) = %s, want the existing %s", c.ID, sp.ID)
		}
		all, _, err := e.svc.ServicePrincipals(e.ctx, access.Page{Limit: 100})
		noErr(t, err)
		if len(all) != 2 {
			t.Errorf("%d service principals after three Ensure calls, want 2", len(all))
		}
	})
}

// lister creates items of one collection and lists them a page at a time.
type lister struct {
	name   string
	setup  func(t *testing.T, e *env) // creates what the collection lives in, nothing in it
	create func(t *testing.T, e *env, id string)
	list   func(e *env, p access.Page) (ids []string, more bool, err error)
}

func idsOf[T any](items []T, more bool, err error, id func(T) string) ([]string, bool, error) {
	var out []string
	for _, it := range items {
		out = append(out, id(it))
	}
	return out, more, err
}

func withCatalog(t *testing.T, e *env) {
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
}

func withPackage(t *testing.T, e *env) {
	withCatalog(t, e)
	must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg1", "cat1")))
}

func listers() []lister {
	nothing := func(*testing.T, *env) {}
	return []lister{
		{"catalogs", nothing,
			func(t *testing.T, e *env, id string) {
				must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog(id)))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.Catalogs(e.ctx, p)
				return idsOf(items, more, err, func(c access.Catalog) string { return c.ID })
			}},
		{"access packages of a catalog", withCatalog,
			func(t *testing.T, e *env, id string) {
				must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage(id, "cat1")))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.AccessPackages(e.ctx, "cat1", p)
				return idsOf(items, more, err, func(c access.AccessPackage) string { return c.ID })
			}},
		{"all access packages", withCatalog,
			func(t *testing.T, e *env, id string) {
				must[access.AccessPackage](t)(e.svc.CreateAccessPackage(e.ctx, admin, newPackage(id, "cat1")))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.AccessPackages(e.ctx, "", p)
				return idsOf(items, more, err, func(c access.AccessPackage) string { return c.ID })
			}},
		{"custom extensions", withCatalog,
			func(t *testing.T, e *env, id string) {
				must[access.CustomExtension](t)(e.svc.CreateCustomExtension(e.ctx, admin, "cat1", newExtension(id, access.RequestWorkflowExtension)))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.CustomExtensions(e.ctx, "cat1", p)
				return idsOf(items, more, err, func(c access.CustomExtension) string { return c.ID })
			}},
		{"assignment policies of a package", withPackage,
			func(t *testing.T, e *env, id string) {
				must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy(id, "pkg1")))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.AssignmentPolicies(e.ctx, "pkg1", p)
				return idsOf(items, more, err, func(c access.AssignmentPolicy) string { return c.ID })
			}},
		{"all assignment policies", withPackage,
			func(t *testing.T, e *env, id string) {
				must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy(id, "pkg1")))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.AssignmentPolicies(e.ctx, "", p)
				return idsOf(items, more, err, func(c access.AssignmentPolicy) string { return c.ID })
			}},
		{"users", nothing,
			func(t *testing.T, e *env, id string) { must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(id))) },
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.Users(e.ctx, p)
				return idsOf(items, more, err, func(c access.User) string { return c.ID })
			}},
		{"groups", nothing,
			func(t *testing.T, e *env, id string) {
				must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup(id), nil, nil))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.Groups(e.ctx, p)
				return idsOf(items, more, err, func(c access.Group) string { return c.ID })
			}},
		{"service principals", nothing,
			func(t *testing.T, e *env, id string) {
				must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: id, AppID: "app-" + id, DisplayName: id}))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.ServicePrincipals(e.ctx, p)
				return idsOf(items, more, err, func(c access.ServicePrincipal) string { return c.ID })
			}},
		{"group members",
			func(t *testing.T, e *env) {
				must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("holder"), nil, nil))
			},
			func(t *testing.T, e *env, id string) {
				must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(id)))
				noErr(t, e.svc.AddToGroup(e.ctx, "holder", access.GroupMembers, id))
			},
			func(e *env, p access.Page) ([]string, bool, error) {
				items, more, err := e.svc.GroupRelation(e.ctx, "holder", access.GroupMembers, p)
				return idsOf(items, more, err, func(c access.DirectoryObject) string { return c.ID })
			}},
	}
}

// The more flag is exact: true only when another item follows, also when the
// items fill the last page to the limit.
func TestServicePaging(t *testing.T) {
	const limit = 3
	for _, l := range listers() {
		for _, n := range []int{0, 1, limit - 1, limit, limit + 1, 2 * limit, 2*limit + 1} {
			t.Run(fmt.Sprintf("%s/%d items", l.name, n), func(t *testing.T) {
				e := newEnv(t)
				l.setup(t, e)
				var want []string
				for i := range n {
					id := fmt.Sprintf("item-%02d", n-i) // created in descending order; listed by id
					l.create(t, e, id)
					want = append([]string{id}, want...)
				}
				var got []string
				after := ""
				for page := 0; ; page++ {
					ids, more, err := l.list(e, access.Page{After: after, Limit: limit})
					noErr(t, err)
					if len(ids) > limit {
						t.Fatalf("page %d has %d items, limit %d", page, len(ids), limit)
					}
					got = append(got, ids...)
					remaining := len(want) - len(got)
					if more != (remaining > 0) {
						t.Fatalf("page %d after %q: more = %v with %d items left", page, after, more, remaining)
					}
					if !more {
						break
					}
					if len(ids) != limit {
						t.Fatalf("page %d with more=true has %d items, want %d", page, len(ids), limit)
					}
					after = ids[len(ids)-1]
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("paged ids (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestServiceSubjects checks the page-at-once lookup that $expand=target
// uses: users and service principals alike, each id once, unknown ids left
// out, and more ids than one statement takes.
func TestServiceSubjects(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 130 {
		id := fmt.Sprintf("u%03d", i)
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(id)))
		ids = append(ids, id)
	}
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-bot", AppID: "bot-app", DisplayName: "Bot"}))
	ask := append(append([]string{}, ids...), "sp-bot", "nobody", "", "u007", "sp-bot")

	got, err := e.svc.Subjects(e.ctx, ask)
	noErr(t, err)
	if len(got) != 131 {
		t.Fatalf("%d subjects, want 131 (130 users and one service principal)", len(got))
	}
	if want := (access.Subject{ID: "u042", Kind: access.SubjectUser, DisplayName: "User u042", PrincipalName: "u042@contoso.test"}); got["u042"] != want {
		t.Errorf("u042: %+v, want %+v", got["u042"], want)
	}
	if want := (access.Subject{ID: "sp-bot", Kind: access.SubjectServicePrincipal, DisplayName: "Bot", PrincipalName: "bot-app"}); got["sp-bot"] != want {
		t.Errorf("sp-bot: %+v, want %+v", got["sp-bot"], want)
	}
	if _, ok := got["nobody"]; ok {
		t.Errorf("an unknown id was described: %+v", got["nobody"])
	}
	for _, id := range ids {
		if one, err := e.svc.Subject(e.ctx, id); err != nil || got[id] != one {
			t.Errorf("%s: Subjects says %+v, Subject says %+v (%v)", id, got[id], one, err)
		}
	}
	if none, err := e.svc.Subjects(e.ctx, nil); err != nil || len(none) != 0 {
		t.Errorf("no ids: %v, %v", none, err)
	}
}

// TestServiceSubjectsSeeChanges checks that Subjects, which caches what it
// found where the store allows, never answers with a subject as it was
// before a change: renamed, deleted and created users and service
// principals show as they are now, on every store.
func TestServiceSubjectsSeeChanges(t *testing.T) {
	e := newEnv(t)
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("u1")))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("u2")))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp1", AppID: "app1", DisplayName: "Bot"}))
	ask := []string{"u1", "u2", "sp1", "u3"}
	names := func() map[string]string {
		t.Helper()
		got, err := e.svc.Subjects(e.ctx, ask)
		noErr(t, err)
		out := map[string]string{}
		for id, sub := range got {
			out[id] = sub.DisplayName
		}
		return out
	}
	steps := []struct {
		name   string
		change func()
		want   map[string]string
	}{
		{"first read", func() {}, map[string]string{"u1": "User u1", "u2": "User u2", "sp1": "Bot"}},
		{"read again", func() {}, map[string]string{"u1": "User u1", "u2": "User u2", "sp1": "Bot"}},
		{"user renamed", func() {
			must[access.User](t)(e.svc.UpdateUser(e.ctx, "u1", func(u *access.User) error { u.DisplayName = "Renamed"; return nil }))
		}, map[string]string{"u1": "Renamed", "u2": "User u2", "sp1": "Bot"}},
		{"user deleted", func() { noErr(t, e.svc.DeleteUser(e.ctx, "u2")) }, map[string]string{"u1": "Renamed", "sp1": "Bot"}},
		{"user created", func() { must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("u3"))) },
			map[string]string{"u1": "Renamed", "sp1": "Bot", "u3": "User u3"}},
		{"service principal deleted", func() { noErr(t, e.svc.DeleteServicePrincipal(e.ctx, "sp1")) },
			map[string]string{"u1": "Renamed", "u3": "User u3"}},
	}
	for _, step := range steps {
		step.change()
		if diff := cmp.Diff(step.want, names()); diff != "" {
			t.Errorf("%s: display names (-want +got):\n%s", step.name, diff)
		}
	}
}

// An extension that an open request's policy snapshot binds cannot be
// deleted, even once no policy binds it any more; once the request has
// ended, it can.
func TestServiceExtensionReferencedByOpenRequest(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	pol := newPolicy("pol1", "pkg1")
	pol.ExtensionBindings = []access.ExtensionBinding{{Stage: access.StageRequestCreated, CustomExtensionID: "xreq"}}
	pol = must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, pol))
	must[access.User](t)(e.svc.CreateUser(e.ctx, newUser("bob")))
	r := must[access.Request](t)(e.svc.SubmitRequest(e.ctx, admin, access.RequestInput{
		Type: access.RequestAdminAdd, AccessPackageID: "pkg1", PolicyID: "pol1", TargetID: "bob"}))
	unbound := pol
	unbound.ExtensionBindings = nil
	must[access.AssignmentPolicy](t)(e.svc.ReplaceAssignmentPolicy(e.ctx, admin, pol.ID, unbound))

	wantKind(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", "xreq"), access.KindConflict, "1 open request")
	noErr(t, e.svc.CancelRequest(e.ctx, admin, r.ID, nil))
	noErr(t, e.svc.DeleteCustomExtension(e.ctx, admin, "cat1", "xreq"))
}
