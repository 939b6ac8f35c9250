package access_test

import (
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Catalog resources and the roles packages grant from them, through the
// service and a real store.

// rsWorld is a directory with resources to offer: catalogs cat1 and cat2,
// the group g-sales, the application sp-crm with app roles of every kind,
// and sp-bare and sp-daemon, which offer users none of their own.
type rsWorld struct{ *env }

func newRsWorld(t *testing.T) *rsWorld {
	t.Helper()
	e := newEnv(t)
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat2")))
	must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup("g-sales"), nil, nil))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-crm", DisplayName: "CRM",
		AppRoles: []access.AppRole{
			{ID: "crm-reader", AllowedMemberTypes: []string{"User"}, DisplayName: "Reader", Description: "Reads", IsEnabled: true},
			{ID: "crm-daemon", AllowedMemberTypes: []string{"Application"}, DisplayName: "Daemon", IsEnabled: true},
			{ID: "crm-retired", AllowedMemberTypes: []string{"User"}, DisplayName: "Retired", IsEnabled: false},
			{ID: "crm-admin", AllowedMemberTypes: []string{"User", "Application"}, DisplayName: "Admin", IsEnabled: true},
			{ID: "crm-anyone", DisplayName: "Anyone", IsEnabled: true},
		}}))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-bare", DisplayName: "Bare"}))
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-daemon", DisplayName: "Daemon only",
		AppRoles: []access.AppRole{{ID: "daemon-run", AllowedMemberTypes: []string{"Application"}, DisplayName: "Run", IsEnabled: true}}}))
	return &rsWorld{env: e}
}

func addGroupResource(catalogID, groupID string) access.ResourceRequestInput {
	return access.ResourceRequestInput{Type: "adminAdd", CatalogID: catalogID, OriginID: groupID, OriginSystem: access.OriginGroup}
}

func addAppResource(catalogID, spID string) access.ResourceRequestInput {
	return access.ResourceRequestInput{Type: "adminAdd", CatalogID: catalogID, OriginID: spID, OriginSystem: access.OriginApplication}
}

// add adds a resource to a catalog and returns it as stored.
func (w *rsWorld) add(t *testing.T, in access.ResourceRequestInput) access.Resource {
	t.Helper()
	req := must[access.ResourceRequest](t)(w.svc.SubmitResourceRequest(w.ctx, admin, in))
	return must[access.Resource](t)(w.svc.Resource(w.ctx, admin, in.CatalogID, req.ResourceID))
}

// roleView is what a test compares of a resource role: ids are generated.
type roleView struct{ OriginID, DisplayName string }

func rolesOf(r access.Resource) []roleView {
	var out []roleView
	for _, role := range r.Roles {
		out = append(out, roleView{role.OriginID, role.DisplayName})
	}
	return out
}

func TestServiceResourceRequestAdds(t *testing.T) {
	defaultAccess := []roleView{{access.DefaultAccessRoleID, "Default Access"}}
	for _, tc := range []struct {
		name       string
		in         access.ResourceRequestInput
		wantSystem string
		wantRoles  []roleView
	}{
		{"a group offers Member and Owner", addGroupResource("cat1", "g-sales"), access.OriginGroup,
			[]roleView{{"Member_g-sales", "Member"}, {"Owner_g-sales", "Owner"}}},
		{"the origin system in any case", access.ResourceRequestInput{Type: "AdminAdd", CatalogID: "cat1", OriginID: "g-sales", OriginSystem: "aadgroup"},
			access.OriginGroup, []roleView{{"Member_g-sales", "Member"}, {"Owner_g-sales", "Owner"}}},
		{"an application offers its enabled app roles that users may hold", addAppResource("cat1", "sp-crm"), access.OriginApplication,
			[]roleView{{"crm-reader", "Reader"}, {"crm-admin", "Admin"}, {"crm-anyone", "Anyone"}}},
		{"an application without app roles offers default access", addAppResource("cat1", "sp-bare"), access.OriginApplication, defaultAccess},
		{"an application whose roles are for applications only offers default access", addAppResource("cat1", "sp-daemon"), access.OriginApplication, defaultAccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRsWorld(t)
			w.clock.Advance(time.Minute) // the request and the resource are dated by the service's clock
			req, err := w.svc.SubmitResourceRequest(w.ctx, admin, tc.in)
			noErr(t, err)
			now := w.svc.Now()
			wantReq := access.ResourceRequest{ID: req.ID, Type: access.ResourceRequestAdd, State: access.ResourceRequestDone,
				Status: access.StatusFulfilled, CatalogID: tc.in.CatalogID, ResourceID: req.ResourceID, OriginID: tc.in.OriginID,
				OriginSystem: tc.wantSystem, Requestor: access.Subject{ID: admin.ObjectID, Kind: access.SubjectUser,
					DisplayName: admin.UPN, PrincipalName: admin.UPN}, CreatedDateTime: now}
			if diff := cmp.Diff(wantReq, req); diff != "" {
				t.Errorf("resource request (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(req, must[access.ResourceRequest](t)(w.svc.ResourceRequest(w.ctx, admin, req.ID))); diff != "" {
				t.Errorf("stored resource request (-returned +stored):\n%s", diff)
			}
			res := must[access.Resource](t)(w.svc.Resource(w.ctx, admin, tc.in.CatalogID, req.ResourceID))
			if res.CatalogID != tc.in.CatalogID || res.OriginID != tc.in.OriginID || res.OriginSystem != tc.wantSystem ||
				!res.CreatedDateTime.Equal(now) {
				t.Errorf("resource %+v, want %s %s in %s, created %s", res, tc.wantSystem, tc.in.OriginID, tc.in.CatalogID, now)
			}
			if diff := cmp.Diff(tc.wantRoles, rolesOf(res)); diff != "" {
				t.Errorf("roles (-want +got):\n%s", diff)
			}
			if len(res.Scopes) != 1 || !res.Scopes[0].IsRootScope || res.Scopes[0].OriginID != tc.in.OriginID {
				t.Errorf("scopes %+v, want the one root scope of %s", res.Scopes, tc.in.OriginID)
			}
			if _, err := w.svc.Resource(w.ctx, admin, "cat2", res.ID); !access.IsNotFound(err) {
				t.Errorf("the resource read through another catalog: %v, want not found", err)
			}
		})
	}
}

func TestServiceResourceRequestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        access.ResourceRequestInput
		wantKind  access.Kind
		fragments []string
	}{
		{"an unknown group", addGroupResource("cat1", "g-missing"), access.KindInvalid, []string{"resource.originId", "g-missing"}},
		{"an unknown application", addAppResource("cat1", "sp-missing"), access.KindInvalid, []string{"resource.originId", "sp-missing"}},
		{"a group named as an application", addAppResource("cat1", "g-sales"), access.KindInvalid, []string{"resource.originId"}},
		{"an origin system accessd cannot provision",
			access.ResourceRequestInput{Type: "adminAdd", CatalogID: "cat1", OriginID: "https://contoso.sharepoint.com/sites/sales", OriginSystem: "SharePointOnline"},
			access.KindInvalid, []string{"SharePointOnline", access.OriginGroup, access.OriginApplication}},
		{"no origin id", access.ResourceRequestInput{Type: "adminAdd", CatalogID: "cat1", OriginSystem: access.OriginGroup}, access.KindInvalid, []string{"originId"}},
		{"an unknown catalog", addGroupResource("cat-missing", "g-sales"), access.KindInvalid, []string{"catalog.id", "cat-missing"}},
		{"no catalog", addGroupResource("", "g-sales"), access.KindInvalid, []string{"catalog.id"}},
		{"no request type", access.ResourceRequestInput{CatalogID: "cat1", OriginID: "g-sales", OriginSystem: access.OriginGroup}, access.KindInvalid, []string{"requestType"}},
		{"a request type for access packages", access.ResourceRequestInput{Type: "adminUpdate", CatalogID: "cat1", OriginID: "g-sales", OriginSystem: access.OriginGroup},
			access.KindInvalid, []string{"adminUpdate"}},
		{"a resource the catalog has", addGroupResource("cat1", "g-sales"), access.KindConflict, []string{"cat1", access.OriginGroup}},
		{"checking a resource the catalog has", func() access.ResourceRequestInput {
			in := addGroupResource("cat1", "g-sales")
			in.ValidationOnly = true
			return in
		}(), access.KindConflict, []string{"cat1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newRsWorld(t)
			existing := w.add(t, addGroupResource("cat1", "g-sales"))
			before := must[[]access.ResourceRequest](t)(firstPage(w.svc.ResourceRequests(w.ctx, access.Page{Limit: 10})))
			_, err := w.svc.SubmitResourceRequest(w.ctx, admin, tc.in)
			wantKind(t, err, tc.wantKind, tc.fragments...)
			// A refused request writes nothing, not even itself.
			after := must[[]access.ResourceRequest](t)(firstPage(w.svc.ResourceRequests(w.ctx, access.Page{Limit: 10})))
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("resource requests after a refusal (-before +after):\n%s", diff)
			}
			for _, catalogID := range []string{"cat1", "cat2"} {
				got := must[[]access.Resource](t)(firstPage(w.svc.Resources(w.ctx, catalogID, access.Page{Limit: 10})))
				want := []access.Resource(nil)
				if catalogID == "cat1" {
					want = []access.Resource{existing}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("resources of %s after a refusal (-want +got):\n%s", catalogID, diff)
				}
			}
		})
	}
}

// firstPage drops the "more" of a list, for must.
func firstPage[T any](items []T, _ bool, err error) ([]T, error) { return items, err }

func TestServiceResourceRequestValidationOnly(t *testing.T) {
	w := newRsWorld(t)
	for _, in := range []access.ResourceRequestInput{addGroupResource("cat1", "g-sales"), addAppResource("cat2", "sp-crm")} {
		in.ValidationOnly = true
		req, err := w.svc.SubmitResourceRequest(w.ctx, admin, in)
		noErr(t, err)
		if req.State != access.ResourceRequestDone || req.OriginID != in.OriginID {
			t.Errorf("validation-only request %+v, want it answered as it would be carried out", req)
		}
		if _, err := w.svc.ResourceRequest(w.ctx, admin, req.ID); !access.IsNotFound(err) {
			t.Errorf("validation-only request %s was stored: %v", req.ID, err)
		}
		if _, err := w.svc.Resource(w.ctx, admin, "", req.ResourceID); !access.IsNotFound(err) {
			t.Errorf("validation-only request added resource %s: %v", req.ResourceID, err)
		}
	}
	for _, catalogID := range []string{"cat1", "cat2"} {
		if got := must[[]access.Resource](t)(firstPage(w.svc.Resources(w.ctx, catalogID, access.Page{Limit: 10}))); len(got) != 0 {
			t.Errorf("resources of %s after validation-only requests: %+v", catalogID, got)
		}
	}
	if got := must[[]access.ResourceRequest](t)(firstPage(w.svc.ResourceRequests(w.ctx, access.Page{Limit: 10}))); len(got) != 0 {
		t.Errorf("resource requests after validation-only requests: %+v", got)
	}
	// What was only checked can be added for real.
	w.add(t, addGroupResource("cat1", "g-sales"))
}

func TestServiceResourceRequestRemoves(t *testing.T) {
	w := newRsWorld(t)
	sales := w.add(t, addGroupResource("cat1", "g-sales"))
	crm := w.add(t, addAppResource("cat1", "sp-crm"))
	inCat2 := w.add(t, addGroupResource("cat2", "g-sales"))
	must[access.AccessPackage](t)(w.svc.CreateAccessPackage(w.ctx, admin, newPackage("pkg-sales", "cat1")))
	rs := must[access.RoleScope](t)(w.svc.AddRoleScope(w.ctx, admin, "pkg-sales", access.RoleScopeInput{RoleOriginID: "Member_g-sales",
		ResourceOriginID: "g-sales", OriginSystem: access.OriginGroup}))

	removeByID := access.ResourceRequestInput{Type: "adminRemove", CatalogID: "cat1", ResourceID: sales.ID}
	removeByOrigin := access.ResourceRequestInput{Type: "adminRemove", CatalogID: "cat1", OriginID: "g-sales", OriginSystem: access.OriginGroup}
	checkOnly := removeByID
	checkOnly.ValidationOnly = true
	for _, tc := range []struct {
		name string
		in   access.ResourceRequestInput
	}{{"by id", removeByID}, {"by origin", removeByOrigin}, {"validation only", checkOnly}} {
		t.Run("a resource a package grants, "+tc.name, func(t *testing.T) {
			_, err := w.svc.SubmitResourceRequest(w.ctx, admin, tc.in)
			wantKind(t, err, access.KindConflict, "pkg-sales") // names the package that still grants it
		})
	}
	must[access.Resource](t)(w.svc.Resource(w.ctx, admin, "cat1", sales.ID))

	// Once no package grants it, it goes; a validation-only remove leaves it.
	noErr(t, w.svc.RemoveRoleScope(w.ctx, admin, "pkg-sales", rs.ID))
	must[access.ResourceRequest](t)(w.svc.SubmitResourceRequest(w.ctx, admin, checkOnly))
	must[access.Resource](t)(w.svc.Resource(w.ctx, admin, "cat1", sales.ID))
	req := must[access.ResourceRequest](t)(w.svc.SubmitResourceRequest(w.ctx, admin, removeByOrigin))
	if req.Type != access.ResourceRequestRemove || req.ResourceID != sales.ID || req.State != access.ResourceRequestDone {
		t.Errorf("remove request %+v, want a delivered adminRemove of %s", req, sales.ID)
	}
	if _, err := w.svc.Resource(w.ctx, admin, "cat1", sales.ID); !access.IsNotFound(err) {
		t.Errorf("removed resource: %v, want not found", err)
	}
	must[access.ResourceRequest](t)(w.svc.ResourceRequest(w.ctx, admin, req.ID))
	// The same group in another catalog, and the catalog's other resources, stay.
	must[access.Resource](t)(w.svc.Resource(w.ctx, admin, "cat2", inCat2.ID))
	must[access.Resource](t)(w.svc.Resource(w.ctx, admin, "cat1", crm.ID))

	for name, in := range map[string]access.ResourceRequestInput{
		"removing it again":                         removeByID,
		"removing another catalog's resource by id": {Type: "adminRemove", CatalogID: "cat1", ResourceID: inCat2.ID},
		"removing without naming the resource":      {Type: "adminRemove", CatalogID: "cat1"},
	} {
		_, err := w.svc.SubmitResourceRequest(w.ctx, admin, in)
		if access.KindOf(err) != access.KindInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	must[access.Resource](t)(w.svc.Resource(w.ctx, admin, "cat2", inCat2.ID))
}

func TestServiceRoleScopes(t *testing.T) {
	w := newRsWorld(t)
	sales := w.add(t, addGroupResource("cat1", "g-sales"))
	crm := w.add(t, addAppResource("cat1", "sp-crm"))
	elsewhere := w.add(t, addGroupResource("cat2", "g-sales"))
	must[access.AccessPackage](t)(w.svc.CreateAccessPackage(w.ctx, admin, newPackage("pkg1", "cat1")))
	must[access.Catalog](t)(w.svc.CreateCatalog(w.ctx, admin, newCatalog("cat3")))
	must[access.AccessPackage](t)(w.svc.CreateAccessPackage(w.ctx, admin, newPackage("pkg3", "cat3")))
	member, _ := sales.Role("", "Member_g-sales")
	owner, _ := sales.Role("", "Owner_g-sales")
	reader, _ := crm.Role("", "crm-reader")
	root, _ := sales.Scope("", "")

	// The ways of naming a role, each adding one role scope.
	added := []access.RoleScope{}
	for _, tc := range []struct {
		name     string
		in       access.RoleScopeInput
		resource access.Resource
		role     access.ResourceRole
	}{
		{"by the ids of the role, its scope and its resource", access.RoleScopeInput{RoleID: member.ID, ScopeID: root.ID, ResourceID: sales.ID}, sales, member},
		{"by origin ids, with the resource's origin", access.RoleScopeInput{RoleOriginID: "Owner_g-sales", ScopeOriginID: "g-sales",
			ResourceOriginID: "g-sales", OriginSystem: access.OriginGroup}, sales, owner},
		{"an app role by origin ids, the scope left to the root", access.RoleScopeInput{RoleOriginID: "crm-reader",
			ResourceOriginID: "sp-crm", OriginSystem: "aadapplication"}, crm, reader},
	} {
		w.clock.Advance(time.Minute)
		rs, err := w.svc.AddRoleScope(w.ctx, admin, "pkg1", tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		scope, _ := tc.resource.Scope("", "")
		want := access.RoleScope{ID: rs.ID, ResourceID: tc.resource.ID, RoleID: tc.role.ID, ScopeID: scope.ID, CreatedDateTime: w.svc.Now()}
		if diff := cmp.Diff(want, rs); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
		added = append(added, rs)
	}
	if diff := cmp.Diff(added, must[access.AccessPackage](t)(w.svc.AccessPackage(w.ctx, admin, "pkg1")).RoleScopes); diff != "" {
		t.Errorf("the package's role scopes (-want +got):\n%s", diff)
	}
	views := must[[]access.RoleScopeView](t)(w.svc.RoleScopes(w.ctx, admin, "pkg1"))
	var viewed []string
	for _, v := range views {
		viewed = append(viewed, v.Resource.OriginID+" "+v.Role.DisplayName+" "+v.Scope.DisplayName)
	}
	if diff := cmp.Diff([]string{"g-sales Member Root", "g-sales Owner Root", "sp-crm Reader Root"}, viewed); diff != "" {
		t.Errorf("RoleScopes (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name      string
		pkg       string
		in        access.RoleScopeInput
		wantKind  access.Kind
		fragments []string
	}{
		{"a role the package grants already", "pkg1", access.RoleScopeInput{RoleOriginID: "Member_g-sales", ResourceOriginID: "g-sales",
			OriginSystem: access.OriginGroup}, access.KindConflict, []string{"pkg1", "Member"}},
		{"the same role by id", "pkg1", access.RoleScopeInput{RoleID: member.ID}, access.KindConflict, []string{"pkg1"}},
		{"a resource of another catalog", "pkg1", access.RoleScopeInput{RoleOriginID: "Member_g-sales", ResourceID: elsewhere.ID},
			access.KindInvalid, []string{"role.resource.id", elsewhere.ID}},
		{"a group the package's catalog does not offer", "pkg3", access.RoleScopeInput{RoleOriginID: "Member_g-sales", ResourceOriginID: "g-sales",
			OriginSystem: access.OriginGroup}, access.KindInvalid, []string{"role.resource.originId"}},
		{"a role the resource does not offer", "pkg1", access.RoleScopeInput{RoleOriginID: "crm-daemon", ResourceID: crm.ID},
			access.KindInvalid, []string{"role", "crm-daemon"}},
		{"a role id no resource of the catalog offers", "pkg1", access.RoleScopeInput{RoleID: "role-missing"}, access.KindInvalid, []string{"role-missing"}},
		{"a scope the resource does not have", "pkg1", access.RoleScopeInput{RoleOriginID: "crm-admin", ResourceID: crm.ID, ScopeID: "scope-missing"},
			access.KindInvalid, []string{"scope"}},
		{"no role", "pkg1", access.RoleScopeInput{ResourceID: crm.ID}, access.KindInvalid, []string{"role"}},
		{"an unknown package", "pkg-missing", access.RoleScopeInput{RoleID: member.ID}, access.KindNotFound, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.svc.AddRoleScope(w.ctx, admin, tc.pkg, tc.in)
			wantKind(t, err, tc.wantKind, tc.fragments...)
			if diff := cmp.Diff(added, must[access.AccessPackage](t)(w.svc.AccessPackage(w.ctx, admin, "pkg1")).RoleScopes); diff != "" {
				t.Errorf("the package's role scopes after a refusal (-want +got):\n%s", diff)
			}
		})
	}

	noErr(t, w.svc.RemoveRoleScope(w.ctx, admin, "pkg1", added[1].ID))
	if diff := cmp.Diff([]access.RoleScope{added[0], added[2]}, must[access.AccessPackage](t)(w.svc.AccessPackage(w.ctx, admin, "pkg1")).RoleScopes); diff != "" {
		t.Errorf("the package's role scopes after a removal (-want +got):\n%s", diff)
	}
	wantKind(t, w.svc.RemoveRoleScope(w.ctx, admin, "pkg1", added[1].ID), access.KindNotFound, added[1].ID)
	wantKind(t, w.svc.RemoveRoleScope(w.ctx, admin, "pkg-missing", added[0].ID), access.KindNotFound)
	// The removed role can be added again.
	must[access.RoleScope](t)(w.svc.AddRoleScope(w.ctx, admin, "pkg1", access.RoleScopeInput{RoleID: owner.ID}))
}

// A deleted catalog takes its resources along: they were left behind, and
// a new catalog with the same id offered them again. (Regression.)
func TestServiceDeleteCatalogDeletesItsResources(t *testing.T) {
	w := newRsWorld(t)
	sales := w.add(t, addGroupResource("cat1", "g-sales"))
	crm := w.add(t, addAppResource("cat1", "sp-crm"))
	kept := w.add(t, addGroupResource("cat2", "g-sales"))
	requests := must[[]access.ResourceRequest](t)(firstPage(w.svc.ResourceRequests(w.ctx, access.Page{Limit: 10})))

	noErr(t, w.svc.DeleteCatalog(w.ctx, admin, "cat1"))
	for _, r := range []access.Resource{sales, crm} {
		if _, err := w.svc.Resource(w.ctx, admin, "", r.ID); !access.IsNotFound(err) {
			t.Errorf("resource %s of the deleted catalog: %v, want not found", r.OriginID, err)
		}
	}
	all := must[[]access.Resource](t)(firstPage(w.svc.Resources(w.ctx, "", access.Page{Limit: 10})))
	if diff := cmp.Diff([]access.Resource{kept}, all); diff != "" {
		t.Errorf("resources after deleting cat1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(requests, must[[]access.ResourceRequest](t)(firstPage(w.svc.ResourceRequests(w.ctx, access.Page{Limit: 10})))); diff != "" {
		t.Errorf("resource requests after deleting cat1 (-before +after):\n%s", diff)
	}

	// A new catalog of the same id starts empty and may add the group again.
	must[access.Catalog](t)(w.svc.CreateCatalog(w.ctx, admin, newCatalog("cat1")))
	if got := must[[]access.Resource](t)(firstPage(w.svc.Resources(w.ctx, "cat1", access.Page{Limit: 10}))); len(got) != 0 {
		t.Errorf("a new catalog with the deleted one's id has resources %+v", got)
	}
	w.add(t, addGroupResource("cat1", "g-sales"))
}
