package graph

import (
	"context"
	"net/http"
	"testing"

	"github.com/accessd/accessd/access"
)

// Tests of catalog resources, resource requests, resource roles and scopes
// and the role scopes packages grant, in both versions, through the real
// server, store and tokens. Delivery and separation of duties are in
// delivery_test.go.

// Fixed ids of the directory the resource tests draw on.
const (
	rsCRMUserRole  = "9e8d7c6b-0000-4000-8000-0000000000f1" // users may hold it
	rsCRMRobotRole = "9e8d7c6b-0000-4000-8000-0000000000f2" // applications only
	rsCRMOffRole   = "9e8d7c6b-0000-4000-8000-0000000000f3" // disabled
)

// rsAPI is the requests test API with a directory to draw resources from:
// a group, an application whose app roles include one users may hold, and
// an application that defines none.
type rsAPI struct {
	*rqAPI
	dirTok     string // Directory.ReadWrite.All
	group      string // "Sales team"
	crm, plain string // service principals "Sales CRM" and "Plain app"
}

func newRSAPI(t *testing.T) *rsAPI {
	t.Helper()
	rs := &rsAPI{rqAPI: newRQAPI(t)}
	ctx := context.Background()
	rs.dirTok = rs.appTokenNamed(t, "directory-app", "Directory.ReadWrite.All")
	g, err := rs.Svc.CreateGroup(ctx, access.Group{DisplayName: "Sales team", Description: "People who sell", MailNickname: "sales",
		SecurityEnabled: true}, nil, nil)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	rs.group = g.ID
	crm, err := rs.Svc.CreateServicePrincipal(ctx, access.ServicePrincipal{DisplayName: "Sales CRM", AppRoles: []access.AppRole{
		{ID: rsCRMUserRole, AllowedMemberTypes: []string{"User"}, DisplayName: "CRM user", Description: "Can use the CRM", IsEnabled: true, Value: "CRM.User"},
		{ID: rsCRMRobotRole, AllowedMemberTypes: []string{"Application"}, DisplayName: "CRM robot", IsEnabled: true, Value: "CRM.Robot"},
		{ID: rsCRMOffRole, AllowedMemberTypes: []string{"User"}, DisplayName: "CRM admin", IsEnabled: false, Value: "CRM.Admin"},
	}})
	if err != nil {
		t.Fatalf("create service principal: %v", err)
	}
	rs.crm = crm.ID
	plain, err := rs.Svc.CreateServicePrincipal(ctx, access.ServicePrincipal{DisplayName: "Plain app"})
	if err != nil {
		t.Fatalf("create service principal: %v", err)
	}
	rs.plain = plain.ID
	return rs
}

// rsAdd is a v1.0 adminAdd resource request body.
func rsAdd(catalog, system, originID string) map[string]any {
	return map[string]any{"requestType": "adminAdd", "catalog": map[string]any{"id": catalog},
		"resource": map[string]any{"originId": originID, "originSystem": system}}
}

// addResource adds a group or application to a catalog and returns the
// resource with its roles and scopes, as the catalog lists it.
func (rs *rsAPI) addResource(t *testing.T, catalog, system, originID string) map[string]any {
	t.Helper()
	rs.mustCall(t, "POST", emV1+"/resourceRequests", rsAdd(catalog, system, originID), http.StatusCreated)
	for _, res := range emValue(t, rs.mustCall(t, "GET", emV1+"/catalogs/"+catalog+"/resources?$expand=roles,scopes", nil, http.StatusOK)) {
		if res["originId"] == originID {
			return res
		}
	}
	t.Fatalf("catalog %s does not list resource %s after adding it", catalog, originID)
	return nil
}

// rsItems reads an array property of an answer as objects.
func rsItems(t *testing.T, obj map[string]any, key string) []map[string]any {
	t.Helper()
	return emValue(t, map[string]any{"value": obj[key]})
}

// rsRoleNamed finds a resource's role by display name.
func rsRoleNamed(t *testing.T, res map[string]any, name string) map[string]any {
	t.Helper()
	for _, role := range rsItems(t, res, "roles") {
		if role["displayName"] == name {
			return role
		}
	}
	t.Fatalf("resource %v has no role %q", res["id"], name)
	return nil
}

// rsRoleScope is a v1.0 role scope body naming the role by id and the scope
// of its resource by id, with the rest Graph's examples copy from a GET.
func rsRoleScope(res, role map[string]any) map[string]any {
	scope := rsFirstScope(res)
	return map[string]any{
		"role": map[string]any{"id": role["id"], "displayName": role["displayName"], "originSystem": role["originSystem"],
			"originId": role["originId"], "resource": map[string]any{"id": res["id"], "originId": res["originId"], "originSystem": res["originSystem"]}},
		"scope": map[string]any{"id": scope["id"], "displayName": scope["displayName"], "description": scope["description"],
			"originId": scope["originId"], "originSystem": scope["originSystem"], "isRootScope": true},
	}
}

func rsFirstScope(res map[string]any) map[string]any {
	scopes, _ := res["scopes"].([]any)
	if len(scopes) == 0 {
		return map[string]any{}
	}
	return scopes[0].(map[string]any)
}

func TestResourceRequestAddsGroupsAndApplications(t *testing.T) {
	rs := newRSAPI(t)

	created := rs.mustCall(t, "POST", emV1+"/resourceRequests", rsAdd(rs.catalog, "AadGroup", rs.group), http.StatusCreated)
	emSame(t, "created resource request keys", []string{"@odata.context", "createdDateTime", "id", "requestType", "state"}, emKeys(created))
	emTime(t, created, "createdDateTime")
	want := map[string]any{"@odata.context": rs.context("v1.0", "resourceRequests", true), "id": emID(t, created),
		"requestType": "adminAdd", "state": "delivered", "createdDateTime": created["createdDateTime"]}
	emSame(t, "created resource request", want, created)
	emSame(t, "read resource request", want, rs.mustCall(t, "GET", emV1+"/resourceRequests/"+emID(t, created), nil, http.StatusOK))

	list := rs.mustCall(t, "GET", emV1+"/catalogs/"+rs.catalog+"/resources?$expand=roles,scopes", nil, http.StatusOK)
	if list["@odata.context"] != rs.context("v1.0", "catalogs('"+rs.catalog+"')/resources", false) {
		t.Errorf("@odata.context %v", list["@odata.context"])
	}
	items := emValue(t, list)
	if len(items) != 1 {
		t.Fatalf("catalog resources %v", items)
	}
	group := items[0]
	roles, scopes := rsItems(t, group, "roles"), rsItems(t, group, "scopes")
	if len(roles) != 2 || len(scopes) != 1 {
		t.Fatalf("group resource roles %v scopes %v", roles, scopes)
	}
	wantGroup := map[string]any{
		"id": emID(t, group), "displayName": "Sales team", "description": "People who sell", "originId": rs.group, "originSystem": "AadGroup",
		"attributes": []any{}, "createdDateTime": group["createdDateTime"], "modifiedDateTime": group["createdDateTime"],
		"roles": []any{
			map[string]any{"id": emID(t, roles[0]), "displayName": "Member", "description": nil, "originId": "Member_" + rs.group, "originSystem": "AadGroup"},
			map[string]any{"id": emID(t, roles[1]), "displayName": "Owner", "description": nil, "originId": "Owner_" + rs.group, "originSystem": "AadGroup"},
		},
		"scopes": []any{map[string]any{"id": emID(t, scopes[0]), "displayName": "Root", "description": "Root Scope", "originId": rs.group,
			"originSystem": "AadGroup", "isRootScope": true}},
	}
	emTime(t, group, "createdDateTime")
	emSame(t, "group resource", wantGroup, group)

	// The same resource read alone, across catalogs and under its catalog;
	// without $expand it has no roles or scopes.
	bare := emWithout(wantGroup, "roles", "scopes")
	emSame(t, "GET /resources/{id}", with(bare, "@odata.context", rs.context("v1.0", "resources", true)),
		rs.mustCall(t, "GET", emV1+"/resources/"+emID(t, group), nil, http.StatusOK))
	emSame(t, "GET /catalogs/{id}/resources/{id}?$expand=roles,scopes",
		with(wantGroup, "@odata.context", rs.context("v1.0", "catalogs('"+rs.catalog+"')/resources", true)),
		rs.mustCall(t, "GET", emV1+"/catalogs/"+rs.catalog+"/resources/"+emID(t, group)+"?$expand=roles,scopes", nil, http.StatusOK))
	emSame(t, "GET /resources", []map[string]any{bare}, emValue(t, rs.mustCall(t, "GET", emV1+"/resources", nil, http.StatusOK)))
	emSame(t, "GET /resources/{id}/roles", wantGroup["roles"],
		rs.mustCall(t, "GET", emV1+"/resources/"+emID(t, group)+"/roles", nil, http.StatusOK)["value"])
	emSame(t, "GET /resources/{id}/scopes", wantGroup["scopes"],
		rs.mustCall(t, "GET", emV1+"/resources/"+emID(t, group)+"/scopes", nil, http.StatusOK)["value"])
	roleWithResource := rs.mustCall(t, "GET", emV1+"/resources/"+emID(t, group)+"/roles?$expand=resource", nil, http.StatusOK)
	emSame(t, "a role's expanded resource", bare, emValue(t, roleWithResource)[0]["resource"])

	t.Run("an application offers the enabled app roles users may hold", func(t *testing.T) {
		crm := rs.addResource(t, rs.catalog, "AadApplication", rs.crm)
		if crm["displayName"] != "Sales CRM" || crm["originSystem"] != "AadApplication" {
			t.Errorf("application resource %v", crm)
		}
		roles := rsItems(t, crm, "roles")
		emSame(t, "application roles", []map[string]any{{"id": emID(t, roles[0]), "displayName": "CRM user", "description": "Can use the CRM",
			"originId": rsCRMUserRole, "originSystem": "AadApplication"}}, roles)
	})
	t.Run("an application without app roles offers default access", func(t *testing.T) {
		plain := rs.addResource(t, rs.catalog, "AadApplication", rs.plain)
		roles := rsItems(t, plain, "roles")
		emSame(t, "default access", []map[string]any{{"id": emID(t, roles[0]), "displayName": "Default Access", "description": nil,
			"originId": access.DefaultAccessRoleID, "originSystem": "AadApplication"}}, roles)
	})
	t.Run("the requests are listed, with their catalog and resource on request", func(t *testing.T) {
		got := rs.mustCall(t, "GET", emV1+"/resourceRequests?$expand=catalog,resource", nil, http.StatusOK)
		reqs := emValue(t, got)
		if len(reqs) != 3 || reqs[0]["id"] != emID(t, created) {
			t.Fatalf("resource requests %v", reqs)
		}
		cat, _ := reqs[0]["catalog"].(map[string]any)
		if cat["id"] != rs.catalog || cat["displayName"] != "Sales" {
			t.Errorf("expanded catalog %v", reqs[0]["catalog"])
		}
		emSame(t, "expanded resource", bare, reqs[0]["resource"])
	})
}

func TestResourceRequestRemovesResources(t *testing.T) {
	rs := newRSAPI(t)
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	crm := rs.addResource(t, rs.catalog, "AadApplication", rs.crm)

	byID := rs.mustCall(t, "POST", emV1+"/resourceRequests", map[string]any{"requestType": "adminRemove",
		"catalog": map[string]any{"id": rs.catalog}, "resource": map[string]any{"id": group["id"]}}, http.StatusCreated)
	if byID["requestType"] != "adminRemove" || byID["state"] != "delivered" {
		t.Errorf("remove request %v", byID)
	}
	resp, _ := rs.call(t, "GET", emV1+"/resources/"+emID(t, group), nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	// The request that removed it shows no resource any more.
	got := rs.mustCall(t, "GET", emV1+"/resourceRequests/"+emID(t, byID)+"?$expand=resource", nil, http.StatusOK)
	if v, ok := got["resource"]; !ok || v != nil {
		t.Errorf("expanded resource of a removed resource: %v", got)
	}

	rs.mustCall(t, "POST", emV1+"/resourceRequests", map[string]any{"requestType": "adminRemove",
		"catalog": map[string]any{"id": rs.catalog}, "resource": map[string]any{"originId": rs.crm, "originSystem": "AadApplication"}}, http.StatusCreated)
	if left := emValue(t, rs.mustCall(t, "GET", emV1+"/catalogs/"+rs.catalog+"/resources", nil, http.StatusOK)); len(left) != 0 {
		t.Errorf("resources left after removing both: %v (the CRM was %v)", left, crm["id"])
	}
	// Removed, the group can be added again.
	rs.addResource(t, rs.catalog, "AadGroup", rs.group)
}

func TestResourceRequestRefusals(t *testing.T) {
	rs := newRSAPI(t)
	cat := rs.catalog
	group := rs.addResource(t, cat, "AadGroup", rs.group)
	pkg := rs.accessPackage(t, cat, "Granting")
	rs.mustCall(t, "POST", emV1+"/accessPackages/"+pkg+"/resourceRoleScopes", rsRoleScope(group, rsRoleNamed(t, group, "Member")), http.StatusCreated)
	otherCatalog := rs.emAPI.catalog(t, "Marketing")
	const nobody = "00000000-0000-4000-8000-00000000dead"

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		parts  []string
	}{
		{"no requestType", emWithout(rsAdd(cat, "AadGroup", rs.group), "requestType"), 400, []string{"requestType"}},
		{"an update", with(rsAdd(cat, "AadGroup", rs.group), "requestType", "adminUpdate"), 400, []string{"requestType", "adminUpdate"}},
		{"no catalog", emWithout(rsAdd(cat, "AadGroup", rs.group), "catalog"), 400, []string{"catalog.id"}},
		{"unknown catalog", rsAdd(nobody, "AadGroup", rs.group), 400, []string{"catalog.id", nobody}},
		{"both catalog names", with(rsAdd(cat, "AadGroup", rs.group), "catalogId", cat), 400, []string{"catalog", "catalogId"}},
		{"no originId", with(rsAdd(cat, "AadGroup", ""), "resource", map[string]any{"originSystem": "AadGroup"}), 400, []string{"resource.originId"}},
		{"unknown group", rsAdd(cat, "AadGroup", nobody), 400, []string{"resource.originId", nobody}},
		{"a user is no application", rsAdd(cat, "AadApplication", rs.bob), 400, []string{"resource.originId"}},
		{"SharePoint", rsAdd(cat, "SharePointOnline", "https://contoso.sharepoint.com/sites/sales"), 400, []string{"resource.originSystem", "SharePointOnline"}},
		{"unknown property", with(rsAdd(cat, "AadGroup", rs.group), "priority", 1), 400, []string{"priority"}},
		{"the group twice", rsAdd(cat, "AadGroup", rs.group), 409, []string{emID(t, group)}},
		{"removing an unknown resource", map[string]any{"requestType": "adminRemove", "catalog": map[string]any{"id": cat},
			"resource": map[string]any{"id": nobody}}, 400, []string{"resource", nobody}},
		{"removing another catalog's resource", map[string]any{"requestType": "adminRemove", "catalog": map[string]any{"id": otherCatalog},
			"resource": map[string]any{"id": group["id"]}}, 400, []string{"resource"}},
		{"removing a resource a package grants", map[string]any{"requestType": "adminRemove", "catalog": map[string]any{"id": cat},
			"resource": map[string]any{"id": group["id"]}}, 409, []string{pkg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := rs.call(t, "POST", emV1+"/resourceRequests", tc.body)
			code := map[int]string{400: "invalidRequest", 409: "conflict"}[tc.status]
			wantMessage(t, wantError(t, resp, tc.status, code), tc.parts...)
		})
	}
	// Nothing refused was stored: only the one request that added the group.
	if reqs := emValue(t, rs.mustCall(t, "GET", emV1+"/resourceRequests", nil, http.StatusOK)); len(reqs) != 1 {
		t.Errorf("resource requests after refusals: %v", reqs)
	}
	if res := emValue(t, rs.mustCall(t, "GET", emV1+"/resources", nil, http.StatusOK)); len(res) != 1 {
		t.Errorf("resources after refusals: %v", res)
	}
	for _, path := range []string{"/resourceRequests/" + nobody, "/resources/" + nobody, "/resources/" + nobody + "/roles",
		"/catalogs/" + nobody + "/resources", "/catalogs/" + otherCatalog + "/resources/" + emID(t, group), "/catalogs/" + nobody + "/resourceRoles",
		"/catalogs/" + nobody + "/resourceScopes"} {
		resp, _ := rs.call(t, "GET", emV1+path, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	t.Run("writing needs ReadWrite.All", func(t *testing.T) {
		resp, _ := rs.do(t, "POST", emV1+"/resourceRequests", rs.readTok, rsAdd(cat, "AadApplication", rs.crm))
		wantError(t, resp, http.StatusForbidden, "accessDenied")
		rs.get(t, rs.readTok, emV1+"/resourceRequests")
	})
}

func TestBetaResourceRequests(t *testing.T) {
	rs := newRSAPI(t)
	body := map[string]any{"catalogId": rs.catalog, "requestType": "AdminAdd", "justification": "The sales team",
		"accessPackageResource": map[string]any{"originId": rs.group, "originSystem": "AadGroup", "resourceType": "Security Group"}}

	t.Run("validation only: answered, nothing stored", func(t *testing.T) {
		got := rs.mustCall(t, "POST", emBeta+"/accessPackageResourceRequests", with(body, "isValidationOnly", true), http.StatusCreated)
		if got["isValidationOnly"] != true || got["requestState"] != "Delivered" {
			t.Errorf("validation-only answer %v", got)
		}
		if reqs := emValue(t, rs.mustCall(t, "GET", emBeta+"/accessPackageResourceRequests", nil, http.StatusOK)); len(reqs) != 0 {
			t.Errorf("a validation-only request was stored: %v", reqs)
		}
		if res := emValue(t, rs.mustCall(t, "GET", emBeta+"/accessPackageResources", nil, http.StatusOK)); len(res) != 0 {
			t.Errorf("a validation-only request added a resource: %v", res)
		}
		resp, _ := rs.call(t, "GET", emBeta+"/accessPackageResourceRequests/"+emID(t, got), nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})

	created := rs.mustCall(t, "POST", emBeta+"/accessPackageResourceRequests", body, http.StatusCreated)
	want := map[string]any{"@odata.context": rs.context("beta", "accessPackageResourceRequests", true), "id": emID(t, created),
		"catalogId": rs.catalog, "requestType": "AdminAdd", "requestState": "Delivered", "requestStatus": "Fulfilled",
		"justification": "The sales team", "isValidationOnly": false, "executeImmediately": true, "expirationDateTime": nil}
	emSame(t, "created beta resource request", want, created)
	got := rs.mustCall(t, "GET", emBeta+"/accessPackageResourceRequests/"+emID(t, created)+"?$expand=accessPackageResource,requestor", nil, http.StatusOK)
	res, _ := got["accessPackageResource"].(map[string]any)
	emSame(t, "beta resource keys", []string{"addedBy", "addedOn", "attributes", "description", "displayName", "id", "isPendingOnboarding",
		"originId", "originSystem", "resourceType", "url"}, emKeys(res))
	if res["originId"] != rs.group || res["resourceType"] != "Security Group" || res["isPendingOnboarding"] != false {
		t.Errorf("expanded beta resource %v", res)
	}
	emTime(t, res, "addedOn")
	if req, _ := got["requestor"].(map[string]any); req["displayName"] != "test-app" || req["type"] != "ServicePrincipal" {
		t.Errorf("expanded requestor %v", got["requestor"])
	}

	catalogResources := emBeta + "/accessPackageCatalogs/" + rs.catalog + "/accessPackageResources"
	listed := emValue(t, rs.mustCall(t, "GET", catalogResources+"?$expand=accessPackageResourceRoles,accessPackageResourceScopes", nil, http.StatusOK))
	if len(listed) != 1 {
		t.Fatalf("beta catalog resources %v", listed)
	}
	roles := rsItems(t, listed[0], "accessPackageResourceRoles")
	scopes := rsItems(t, listed[0], "accessPackageResourceScopes")
	if len(roles) != 2 || roles[0]["originId"] != "Member_"+rs.group {
		t.Errorf("beta roles %v", roles)
	}
	emSame(t, "beta scope", []map[string]any{{"id": emID(t, scopes[0]), "displayName": "Root", "description": "Root Scope", "originId": rs.group,
		"originSystem": "AadGroup", "isRootScope": true, "roleOriginId": nil, "url": nil}}, scopes)

	t.Run("refusals name beta's properties", func(t *testing.T) {
		rs.refused(t, "POST", emBeta+"/accessPackageResourceRequests", emWithout(body, "catalogId"), "catalogId")
		rs.refused(t, "POST", emBeta+"/accessPackageResourceRequests",
			with(body, "accessPackageResource", map[string]any{"originId": rs.bob, "originSystem": "AadGroup"}), "'accessPackageResource.originId'")
		rs.refused(t, "POST", emBeta+"/accessPackageResourceRequests", with(body, "resource", map[string]any{"originId": rs.group}),
			"resource", "accessPackageResource")
		resp, _ := rs.call(t, "POST", emBeta+"/accessPackageResourceRequests", body)
		wantError(t, resp, http.StatusConflict, "conflict")
	})
	t.Run("AdminRemove by id", func(t *testing.T) {
		rs.mustCall(t, "POST", emBeta+"/accessPackageResourceRequests", map[string]any{"catalogId": rs.catalog, "requestType": "AdminRemove",
			"accessPackageResource": map[string]any{"id": listed[0]["id"]}}, http.StatusCreated)
		if left := emValue(t, rs.mustCall(t, "GET", catalogResources, nil, http.StatusOK)); len(left) != 0 {
			t.Errorf("beta resources after AdminRemove: %v", left)
		}
	})
}

func TestCatalogResourceRolesAndScopes(t *testing.T) {
	rs := newRSAPI(t)
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	crm := rs.addResource(t, rs.catalog, "AadApplication", rs.crm)
	plain := rs.addResource(t, rs.catalog, "AadApplication", rs.plain)
	// Another catalog's resource is never listed.
	rs.addResource(t, rs.emAPI.catalog(t, "Marketing"), "AadGroup", rs.group)
	roleIDs := func(resources ...map[string]any) []string {
		var ids []string
		for _, res := range resources {
			ids = append(ids, emIDs(rsItems(t, res, "roles"))...)
		}
		return rqSorted(ids...)
	}
	roles := emV1 + "/catalogs/" + rs.catalog + "/resourceRoles"
	filter := func(expr string) string { return roles + "?" + rqFilter(expr) }

	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"no filter", roles, roleIDs(group, crm, plain)},
		{"the groups", filter("originSystem eq 'AadGroup'"), roleIDs(group)},
		{"origin system in another case", filter("originSystem eq 'aadapplication'"), roleIDs(crm, plain)},
		{"one resource", filter("resource/id eq '" + emID(t, crm) + "'"), roleIDs(crm)},
		{"as the documentation writes it", filter("(originSystem eq 'AadGroup' and resource/id eq '" + emID(t, group) + "')"), roleIDs(group)},
		{"a resource of another origin", filter("originSystem eq 'AadGroup' and resource/id eq '" + emID(t, crm) + "'"), []string{}},
		{"paged", roles + "?$top=2", roleIDs(group, crm, plain)},
		{"another operator", filter("originSystem ne 'AadGroup'"), roleIDs(crm, plain)},
		{"or", filter("originSystem eq 'AadGroup' or resource/id eq '" + emID(t, plain) + "'"), roleIDs(group, plain)},
		{"a function", filter("startswith(originSystem,'aadgr')"), roleIDs(group)},
		{"one property twice", filter("originSystem eq 'AadGroup' and originSystem eq 'AadApplication'"), []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) { emSame(t, "role ids", tc.want, rs.listIDs(t, tc.path)) })
	}

	t.Run("a page of two", func(t *testing.T) {
		got := rs.mustCall(t, "GET", roles+"?$top=2", nil, http.StatusOK)
		if len(emValue(t, got)) != 2 || got["@odata.nextLink"] == nil {
			t.Errorf("first page of two: %v", got)
		}
	})
	t.Run("$expand=resource", func(t *testing.T) {
		got := rs.mustCall(t, "GET", filter("resource/id eq '"+emID(t, group)+"'")+"&$expand=resource", nil, http.StatusOK)
		if got["@odata.context"] != rs.context("v1.0", "catalogs('"+rs.catalog+"')/resourceRoles", false) {
			t.Errorf("@odata.context %v", got["@odata.context"])
		}
		items := emValue(t, got)
		want := emWithout(group, "roles", "scopes")
		for _, role := range items {
			emSame(t, "expanded resource of "+role["displayName"].(string), want, role["resource"])
		}
		if len(items) != 2 {
			t.Errorf("roles %v", items)
		}
	})
	t.Run("scopes", func(t *testing.T) {
		got := emValue(t, rs.mustCall(t, "GET", emV1+"/catalogs/"+rs.catalog+"/resourceScopes?$expand=resource", nil, http.StatusOK))
		if len(got) != 3 {
			t.Fatalf("scopes %v", got)
		}
		for _, s := range got {
			res, _ := s["resource"].(map[string]any)
			if s["originId"] != res["originId"] || s["isRootScope"] != true {
				t.Errorf("scope %v", s)
			}
		}
	})
	t.Run("beta names", func(t *testing.T) {
		beta := emBeta + "/accessPackageCatalogs/" + rs.catalog + "/accessPackageResourceRoles?" +
			rqFilter("originSystem eq 'AadApplication' and accessPackageResource/id eq '"+emID(t, crm)+"'") + "&$expand=accessPackageResource"
		got := emValue(t, rs.mustCall(t, "GET", beta, nil, http.StatusOK))
		if len(got) != 1 || got[0]["originId"] != rsCRMUserRole {
			t.Fatalf("beta roles %v", got)
		}
		res, _ := got[0]["accessPackageResource"].(map[string]any)
		if res["id"] != crm["id"] || res["resourceType"] != "Application" {
			t.Errorf("beta expanded resource %v", res)
		}
	})
	for _, tc := range []struct{ name, query, part string }{
		{"another property", "displayName eq 'Member'", "displayName"},
		{"beta's name in v1.0", "accessPackageResource/id eq 'x'", "accessPackageResource/id"},
		{"a lambda", "resource/roles/any(r: r/id eq 'x')", "any"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			rs.refused(t, "GET", roles+"?"+rqFilter(tc.query), nil, "$filter", tc.part)
		})
	}
	rs.refused(t, "GET", roles+"?$expand=scopes", nil, "$expand", "scopes")
	rs.refused(t, "GET", roles+"?$orderby=displayName", nil, "$orderby", "not supported")
}

func TestRoleScopes(t *testing.T) {
	rs := newRSAPI(t)
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	crm := rs.addResource(t, rs.catalog, "AadApplication", rs.crm)
	member, crmUser := rsRoleNamed(t, group, "Member"), rsRoleNamed(t, crm, "CRM user")
	pkg := rs.accessPackage(t, rs.catalog, "Sales tools")
	scopes := emV1 + "/accessPackages/" + pkg + "/resourceRoleScopes"

	// Graph's example of adding group membership, as sent with ids from a GET.
	first := rs.mustCall(t, "POST", scopes, rsRoleScope(group, member), http.StatusCreated)
	emSame(t, "created role scope", map[string]any{"@odata.context": rs.context("v1.0", "accessPackages('"+pkg+"')/resourceRoleScopes", true),
		"id": emID(t, first), "createdDateTime": first["createdDateTime"]}, first)
	emTime(t, first, "createdDateTime")
	// By origin ids only, as clients that never read the role's id send it;
	// with $expand the answer shows what was chosen.
	second := rs.mustCall(t, "POST", scopes+"?$expand=role,scope", map[string]any{
		"role":  map[string]any{"originId": rsCRMUserRole, "originSystem": "AadApplication", "resource": map[string]any{"originId": rs.crm}},
		"scope": map[string]any{"originId": rs.crm, "originSystem": "AadApplication"},
	}, http.StatusCreated)
	emSame(t, "role of the second role scope", crmUser, second["role"])
	emSame(t, "scope of the second role scope", rsFirstScope(crm), second["scope"])

	wantFirst := map[string]any{"id": emID(t, first), "createdDateTime": first["createdDateTime"],
		"role": with(member, "resource", emWithout(group, "roles", "scopes")), "scope": rsFirstScope(group)}
	wantSecond := map[string]any{"id": emID(t, second), "createdDateTime": second["createdDateTime"], "role": crmUser, "scope": rsFirstScope(crm)}
	got := rs.mustCall(t, "GET", emV1+"/accessPackages/"+pkg+"?$expand=resourceRoleScopes($expand=role($expand=resource),scope)", nil, http.StatusOK)
	emSame(t, "expanded role scopes", []any{wantFirst, with(wantSecond, "role", with(crmUser, "resource", emWithout(crm, "roles", "scopes")))},
		got["resourceRoleScopes"])
	listed := emValue(t, rs.mustCall(t, "GET", emV1+"/accessPackages?$expand=resourceRoleScopes", nil, http.StatusOK))
	emSame(t, "role scopes on a list, without role and scope",
		[]any{map[string]any{"id": emID(t, first), "createdDateTime": first["createdDateTime"]},
			map[string]any{"id": emID(t, second), "createdDateTime": second["createdDateTime"]}}, listed[0]["resourceRoleScopes"])
	emSame(t, "GET …/resourceRoleScopes?$expand=scope", []map[string]any{emWithout(wantFirst, "role"), emWithout(wantSecond, "role")},
		emValue(t, rs.mustCall(t, "GET", scopes+"?$expand=scope", nil, http.StatusOK)))
	if _, ok := rs.mustCall(t, "GET", emV1+"/accessPackages/"+pkg, nil, http.StatusOK)["resourceRoleScopes"]; ok {
		t.Errorf("a package shows its role scopes without $expand")
	}

	const nobody = "00000000-0000-4000-8000-00000000dead"
	for _, tc := range []struct {
		name   string
		path   string
		body   map[string]any
		status int
		parts  []string
	}{
		{"the same role twice", scopes, rsRoleScope(group, member), 409, []string{"Member", pkg}},
		{"no role", scopes, map[string]any{"scope": map[string]any{"originId": rs.group}}, 400, []string{"'role'"}},
		{"an unknown role id", scopes, map[string]any{"role": map[string]any{"id": nobody}}, 400, []string{"role.id", nobody}},
		{"an unknown role origin id", scopes, map[string]any{"role": map[string]any{"originId": "Janitor_" + rs.group,
			"resource": map[string]any{"id": group["id"]}}}, 400, []string{"'role'", "Janitor_"}},
		{"an unknown resource", scopes, map[string]any{"role": map[string]any{"originId": "Member_" + rs.group,
			"resource": map[string]any{"id": nobody}}}, 400, []string{"role.resource.id", nobody}},
		{"a scope of another resource", scopes, map[string]any{"role": map[string]any{"id": rsRoleNamed(t, group, "Owner")["id"]},
			"scope": map[string]any{"id": rsFirstScope(crm)["id"]}}, 400, []string{"'scope'"}},
		{"both role names", scopes, map[string]any{"role": map[string]any{"id": member["id"]}, "accessPackageResourceRole": map[string]any{"id": member["id"]}},
			400, []string{"role", "accessPackageResourceRole"}},
		{"an unknown property", scopes, with(rsRoleScope(group, member), "priority", 1), 400, []string{"priority"}},
		{"an unknown package", emV1 + "/accessPackages/" + nobody + "/resourceRoleScopes", rsRoleScope(group, member), 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := rs.call(t, "POST", tc.path, tc.body)
			code := map[int]string{400: "invalidRequest", 404: "itemNotFound", 409: "conflict"}[tc.status]
			wantMessage(t, wantError(t, resp, tc.status, code), tc.parts...)
		})
	}
	t.Run("a resource of another catalog", func(t *testing.T) {
		other := rs.emAPI.catalog(t, "Marketing")
		theirs := rs.addResource(t, other, "AadGroup", rs.group)
		rs.refused(t, "POST", scopes, rsRoleScope(theirs, rsRoleNamed(t, theirs, "Owner")), "role.resource.id")
	})

	rs.mustCall(t, "DELETE", scopes+"/"+emID(t, first), nil, http.StatusNoContent)
	resp, _ := rs.call(t, "DELETE", scopes+"/"+emID(t, first), nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	emSame(t, "role scopes after a delete", []string{emID(t, second)}, rs.listIDs(t, scopes))
	// Deleted, the same role may be granted again.
	rs.mustCall(t, "POST", scopes, rsRoleScope(group, member), http.StatusCreated)
}

func TestBetaRoleScopes(t *testing.T) {
	rs := newRSAPI(t)
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	pkg := rs.accessPackage(t, rs.catalog, "Sales tools")
	scopes := emBeta + "/accessPackages/" + pkg + "/accessPackageResourceRoleScopes"

	// Graph's beta example: the role by origin id with its resource, the scope by origin id.
	created := rs.mustCall(t, "POST", scopes, map[string]any{
		"accessPackageResourceRole": map[string]any{"originId": "Member_" + rs.group, "displayName": "Member", "originSystem": "AadGroup",
			"accessPackageResource": map[string]any{"id": group["id"], "resourceType": "O365 Group", "originId": rs.group, "originSystem": "AadGroup"}},
		"accessPackageResourceScope": map[string]any{"originId": rs.group, "originSystem": "AadGroup"},
	}, http.StatusCreated)
	want := map[string]any{"@odata.context": rs.context("beta", "accessPackages('"+pkg+"')/accessPackageResourceRoleScopes", true),
		"id": emID(t, created), "createdBy": nil, "createdDateTime": created["createdDateTime"], "modifiedBy": nil,
		"modifiedDateTime": created["createdDateTime"]}
	emSame(t, "created beta role scope", want, created)

	got := rs.mustCall(t, "GET", emBeta+"/accessPackages/"+pkg+
		"?$expand=accessPackageResourceRoleScopes($expand=accessPackageResourceRole,accessPackageResourceScope)", nil, http.StatusOK)
	items := rsItems(t, got, "accessPackageResourceRoleScopes")
	if len(items) != 1 {
		t.Fatalf("beta role scopes %v", got)
	}
	role, _ := items[0]["accessPackageResourceRole"].(map[string]any)
	scope, _ := items[0]["accessPackageResourceScope"].(map[string]any)
	if role["originId"] != "Member_"+rs.group || scope["originId"] != rs.group || scope["isRootScope"] != true {
		t.Errorf("beta role scope %v", items[0])
	}
	t.Run("refusals name beta's properties", func(t *testing.T) {
		rs.refused(t, "POST", scopes, map[string]any{"accessPackageResourceRole": map[string]any{"originId": "Member_" + rs.group,
			"accessPackageResource": map[string]any{"id": "nope"}}}, "'accessPackageResourceRole.accessPackageResource.id'")
		rs.refused(t, "POST", scopes, map[string]any{"accessPackageResourceRole": map[string]any{"id": role["id"]},
			"accessPackageResourceScope": map[string]any{"id": "nope"}}, "'accessPackageResourceScope'")
		resp, _ := rs.call(t, "POST", scopes, map[string]any{"accessPackageResourceRole": map[string]any{"id": role["id"]}})
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "Member")
	})
	rs.mustCall(t, "DELETE", scopes+"/"+emID(t, created), nil, http.StatusNoContent)
	if left := emValue(t, rs.mustCall(t, "GET", scopes, nil, http.StatusOK)); len(left) != 0 {
		t.Errorf("beta role scopes after a delete: %v", left)
	}
}

func TestIncompatibilities(t *testing.T) {
	rs := newRSAPI(t)
	sales := rs.accessPackage(t, rs.catalog, "Sales tools")
	audit := rs.accessPackage(t, rs.catalog, "Audit tools")
	finance := rs.accessPackage(t, rs.catalog, "Finance tools")
	pkgRef := func(id string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/" + id}
	}
	groupRef := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/" + rs.group}
	base := emV1 + "/accessPackages/" + sales

	rs.mustCall(t, "POST", base+"/incompatibleAccessPackages/$ref", pkgRef(audit), http.StatusNoContent)
	rs.mustCall(t, "POST", base+"/incompatibleAccessPackages/$ref", map[string]any{"@odata.id": emV1 + "/accessPackages('" + finance + "')"}, http.StatusNoContent)
	rs.mustCall(t, "POST", base+"/incompatibleGroups/$ref", groupRef, http.StatusNoContent)

	emSame(t, "incompatibleAccessPackages", rqSorted(audit, finance), rs.listIDs(t, base+"/incompatibleAccessPackages"))
	emSame(t, "paged", rqSorted(audit, finance), rs.listIDs(t, base+"/incompatibleAccessPackages?$top=1"))
	emSame(t, "accessPackagesIncompatibleWith the other side", []string{sales}, rs.listIDs(t, emV1+"/accessPackages/"+audit+"/accessPackagesIncompatibleWith"))
	emSame(t, "accessPackagesIncompatibleWith the side that names them", []string{}, rs.listIDs(t, base+"/accessPackagesIncompatibleWith"))
	groups := rs.mustCall(t, "GET", base+"/incompatibleGroups", nil, http.StatusOK)
	if items := emValue(t, groups); len(items) != 1 || items[0]["id"] != rs.group || items[0]["displayName"] != "Sales team" {
		t.Errorf("incompatibleGroups %v", groups)
	}
	listed := rs.mustCall(t, "GET", base+"/incompatibleAccessPackages", nil, http.StatusOK)
	if listed["@odata.context"] != rs.context("v1.0", "accessPackages('"+sales+"')/incompatibleAccessPackages", false) {
		t.Errorf("@odata.context %v", listed["@odata.context"])
	}
	names := map[any]bool{}
	for _, p := range emValue(t, listed) {
		names[p["displayName"]] = true
	}
	emSame(t, "names of the incompatible packages", map[any]bool{"Audit tools": true, "Finance tools": true}, names)
	firstPage := rs.mustCall(t, "GET", base+"/incompatibleAccessPackages?$top=1", nil, http.StatusOK)
	if len(emValue(t, firstPage)) != 1 || firstPage["@odata.nextLink"] == nil {
		t.Errorf("first page of one: %v", firstPage)
	}
	expanded := rs.mustCall(t, "GET", base+"?$expand=incompatibleAccessPackages,incompatibleGroups,accessPackagesIncompatibleWith", nil, http.StatusOK)
	emSame(t, "expanded incompatibleAccessPackages", rqSorted(audit, finance), emIDs(rsItems(t, expanded, "incompatibleAccessPackages")))
	emSame(t, "expanded incompatibleGroups", []string{rs.group}, emIDs(rsItems(t, expanded, "incompatibleGroups")))
	emSame(t, "expanded accessPackagesIncompatibleWith", []string{}, emIDs(rsItems(t, expanded, "accessPackagesIncompatibleWith")))

	const nobody = "00000000-0000-4000-8000-00000000dead"
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		parts              []string
	}{
		{"the same package twice", "POST", base + "/incompatibleAccessPackages/$ref", pkgRef(audit), 409, []string{audit}},
		{"the same group twice", "POST", base + "/incompatibleGroups/$ref", groupRef, 409, []string{rs.group}},
		{"itself", "POST", base + "/incompatibleAccessPackages/$ref", pkgRef(sales), 400, []string{"itself"}},
		{"a $ref to nothing", "POST", base + "/incompatibleAccessPackages/$ref", pkgRef(nobody), 404, nil},
		{"a group $ref to nothing", "POST", base + "/incompatibleGroups/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/" + nobody}, 404, nil},
		{"a $ref without @odata.id", "POST", base + "/incompatibleAccessPackages/$ref", map[string]any{"id": audit}, 400, []string{"id"}},
		{"a $ref to no object", "POST", base + "/incompatibleGroups/$ref", map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/"}, 400,
			[]string{"@odata.id", "/groups/{id}"}},
		{"an unknown package", "POST", emV1 + "/accessPackages/" + nobody + "/incompatibleAccessPackages/$ref", pkgRef(audit), 404, nil},
		{"listing an unknown package's", "GET", emV1 + "/accessPackages/" + nobody + "/incompatibleGroups", nil, 404, nil},
		{"removing what is not there", "DELETE", emV1 + "/accessPackages/" + audit + "/incompatibleAccessPackages/" + sales + "/$ref", nil, 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _ := rs.call(t, tc.method, tc.path, tc.body)
			code := map[int]string{400: "invalidRequest", 404: "itemNotFound", 409: "conflict"}[tc.status]
			wantMessage(t, wantError(t, resp, tc.status, code), tc.parts...)
		})
	}

	rs.mustCall(t, "DELETE", base+"/incompatibleAccessPackages/"+audit+"/$ref", nil, http.StatusNoContent)
	rs.mustCall(t, "DELETE", base+"/incompatibleGroups/"+rs.group+"/$ref", nil, http.StatusNoContent)
	emSame(t, "after removing one", []string{finance}, rs.listIDs(t, base+"/incompatibleAccessPackages"))
	emSame(t, "the reverse after removing one", []string{}, rs.listIDs(t, emV1+"/accessPackages/"+audit+"/accessPackagesIncompatibleWith"))
	emSame(t, "groups after removing", []string{}, rs.listIDs(t, base+"/incompatibleGroups"))

	t.Run("beta", func(t *testing.T) {
		betaBase := emBeta + "/accessPackages/" + audit
		rs.mustCall(t, "POST", betaBase+"/incompatibleAccessPackages/$ref", pkgRef(sales), http.StatusNoContent)
		got := rs.mustCall(t, "GET", betaBase+"/incompatibleAccessPackages", nil, http.StatusOK)
		items := emValue(t, got)
		if len(items) != 1 || items[0]["id"] != sales || items[0]["catalogId"] != rs.catalog {
			t.Errorf("beta incompatibleAccessPackages %v", got)
		}
		emSame(t, "beta accessPackagesIncompatibleWith", []string{audit}, rs.listIDs(t, emBeta+"/accessPackages/"+sales+"/accessPackagesIncompatibleWith"))
		rs.mustCall(t, "DELETE", betaBase+"/incompatibleAccessPackages/"+sales+"/$ref", nil, http.StatusNoContent)
	})
}

func TestAppRoleAssignedTo(t *testing.T) {
	rs := newRSAPI(t)
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			path := "/" + version + "/servicePrincipals/" + rs.crm + "/appRoleAssignedTo"
			principal := rs.bob
			if version == "beta" {
				principal = rs.group // groups may hold app roles too
			}
			resp, created := rs.do(t, "POST", path, rs.dirTok, map[string]any{"principalId": principal, "resourceId": rs.crm, "appRoleId": rsCRMUserRole})
			wantStatus(t, resp, http.StatusCreated)
			wantType, wantName := "User", "bob"
			if version == "beta" {
				wantType, wantName = "Group", "Sales team"
			}
			want := map[string]any{"@odata.context": rs.URL + "/" + version + "/$metadata#servicePrincipals('" + rs.crm + "')/appRoleAssignedTo/$entity",
				"id": emID(t, created), "appRoleId": rsCRMUserRole, "principalId": principal, "principalType": wantType, "principalDisplayName": wantName,
				"resourceId": rs.crm, "resourceDisplayName": "Sales CRM", "createdDateTime": created["createdDateTime"]}
			emSame(t, "created appRoleAssignment", want, created)
			emTime(t, created, "createdDateTime")
			list := rs.get(t, rs.dirTok, path)
			emSame(t, "listed", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))

			for _, tc := range []struct {
				name   string
				body   map[string]any
				status int
				parts  []string
			}{
				{"the same role again", map[string]any{"principalId": principal, "appRoleId": rsCRMUserRole}, 409, nil},
				{"no principal", map[string]any{"appRoleId": rsCRMUserRole}, 400, []string{"principalId"}},
				{"an unknown principal", map[string]any{"principalId": "nope", "appRoleId": rsCRMUserRole}, 400, []string{"principalId"}},
				{"no app role", map[string]any{"principalId": rs.alice}, 400, []string{"appRoleId"}},
				{"an unknown app role", map[string]any{"principalId": rs.alice, "appRoleId": "nope"}, 400, []string{"appRoleId", "nope"}},
				{"another resource", map[string]any{"principalId": rs.alice, "appRoleId": rsCRMUserRole, "resourceId": rs.plain}, 400, []string{"resourceId"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					resp, _ := rs.do(t, "POST", path, rs.dirTok, tc.body)
					code := map[int]string{400: "invalidRequest", 409: "conflict"}[tc.status]
					wantMessage(t, wantError(t, resp, tc.status, code), tc.parts...)
				})
			}
			resp, _ = rs.do(t, "GET", "/"+version+"/servicePrincipals/nope/appRoleAssignedTo", rs.dirTok, nil)
			wantError(t, resp, http.StatusNotFound, "itemNotFound")
			resp, _ = rs.do(t, "GET", path, rs.tok, nil)
			wantError(t, resp, http.StatusForbidden, "accessDenied")

			rs.noContent(t, "DELETE", path+"/"+emID(t, created), rs.dirTok, nil)
			resp, _ = rs.do(t, "DELETE", path+"/"+emID(t, created), rs.dirTok, nil)
			wantError(t, resp, http.StatusNotFound, "itemNotFound")
			emSame(t, "after the delete", []string{}, valueIDs(t, rs.get(t, rs.dirTok, path)))
		})
	}
}

func TestFunctionCall(t *testing.T) {
	for _, tc := range []struct {
		segment string
		called  bool
		params  map[string]string
		bad     bool
	}{
		{"0190a1b2-0000-7000-8000-000000000001", false, nil, false},
		{"additionalAccess(accessPackageId='a',incompatibleAccessPackageId='b')", true, map[string]string{"accessPackageId": "a", "incompatibleAccessPackageId": "b"}, false},
		{"microsoft.graph.additionalAccess( accessPackageId = 'a' , incompatibleAccessPackageId='b')", true,
			map[string]string{"accessPackageId": "a", "incompatibleAccessPackageId": "b"}, false},
		{"AdditionalAccess(accessPackageId='o''brien')", true, map[string]string{"accessPackageId": "o'brien"}, false},
		{"additionalAccess(accessPackageId='a,b')", true, map[string]string{"accessPackageId": "a,b"}, false},
		{"additionalAccess()", true, map[string]string{}, false},
		{"additionalAccess(accessPackageId=a)", true, nil, true},
		{"additionalAccess(accessPackageId='a'", true, nil, true},
		{"additionalAccess(accessPackageId='a)", true, nil, true},
		{"additionalAccess(accessPackageId='a',)", true, nil, true},
		{"additionalAccess(accessPackageId='a' incompatibleAccessPackageId='b')", true, nil, true},
		{"additionalAccess(accessPackageId='a',accessPackageId='b')", true, nil, true},
		{"filterByCurrentUser(on='target')", false, nil, false},
	} {
		t.Run(tc.segment, func(t *testing.T) {
			params, called, err := functionCall(tc.segment, "additionalAccess")
			if called != tc.called || (err != nil) != tc.bad {
				t.Fatalf("called %v err %v, want called %v bad %v", called, err, tc.called, tc.bad)
			}
			if access.KindOf(err) != access.KindInvalid && err != nil {
				t.Errorf("error kind %v", access.KindOf(err))
			}
			if !tc.bad {
				emSame(t, "params", tc.params, params)
			}
		})
	}
}
