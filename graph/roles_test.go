package graph

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/accessd/accessd/access"
)

// Tests of /roleManagement: the built-in role definitions, and role
// assignments of entitlement management (per catalog or tenant-wide) and
// of the directory (Identity Governance Administrator), through the real
// server: who may give and take roles, what each list shows, and that a
// role given through the API lets its holder in.

const (
	rmEM  = "/v1.0/roleManagement/entitlementManagement"
	rmDir = "/v1.0/roleManagement/directory"
)

func rmAssign(principal, role, catalog string) map[string]any {
	body := map[string]any{"principalId": principal, "roleDefinitionId": role}
	if catalog == "" {
		body["directoryScopeId"] = "/"
	} else {
		body["appScopeId"] = "/AccessPackageCatalog/" + catalog
	}
	return body
}

func TestRoleDefinitions(t *testing.T) {
	a := newEMAPI(t)
	for _, base := range []string{rmEM, "/beta/roleManagement/entitlementManagement"} {
		list := a.mustCall(t, "GET", base+"/roleDefinitions", nil, http.StatusOK)
		names := map[string]string{}
		for _, d := range emValue(t, list) {
			names[emID(t, d)] = d["displayName"].(string)
			if d["isBuiltIn"] != true || d["templateId"] != d["id"] {
				t.Errorf("role definition %v", d)
			}
		}
		emSame(t, "entitlement-management roles", map[string]string{
			"ba92d953-d8e0-4e39-a797-0cbedb0a89e8": "Catalog creator",
			"ae79f266-94d4-4dab-b730-feca7e132178": "Catalog owner",
			"44272f93-9762-48e8-af59-1b5351b1d6b3": "Catalog reader",
			"7f480852-ebdc-47d4-87de-0d8498384a83": "Access package manager",
			"e2182095-804a-4656-ae11-64734e9b7ae5": "Access package assignment manager",
		}, names)
		one := a.mustCall(t, "GET", base+"/roleDefinitions/"+access.RoleCatalogReader, nil, http.StatusOK)
		if one["displayName"] != "Catalog reader" {
			t.Errorf("one role definition: %v", one)
		}
	}
	// The directory role is not among entitlement management's.
	resp, _ := a.call(t, "GET", rmEM+"/roleDefinitions/"+access.RoleIdentityGovernanceAdministrator, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestRoleAssignmentsLifecycle(t *testing.T) {
	a := newEMAPI(t)
	cat, other := a.catalog(t, "Sales"), a.catalog(t, "Finance")
	ann, ben := a.newUser(t, "ann@contoso.test"), a.newUser(t, "ben@contoso.test")

	created := a.mustCall(t, "POST", rmEM+"/roleAssignments", rmAssign(ann.ID, access.RoleCatalogOwner, cat), http.StatusCreated)
	id := emID(t, created)
	emSame(t, "created", map[string]any{
		"@odata.context": a.URL + "/v1.0/$metadata#roleManagement/entitlementManagement/roleAssignments/$entity",
		"id":             id, "principalId": ann.ID, "roleDefinitionId": access.RoleCatalogOwner,
		"appScopeId": "/AccessPackageCatalog/" + cat, "directoryScopeId": nil, "condition": nil,
	}, created)
	creator := emID(t, a.mustCall(t, "POST", rmEM+"/roleAssignments", rmAssign(ben.ID, access.RoleCatalogCreator, ""), http.StatusCreated))
	reader := emID(t, a.mustCall(t, "POST", "/beta/roleManagement/entitlementManagement/roleAssignments",
		rmAssign(ben.ID, access.RoleCatalogReader, other), http.StatusCreated))

	got := a.mustCall(t, "GET", rmEM+"/roleAssignments/"+id+"?$expand=principal", nil, http.StatusOK)
	if p, _ := got["principal"].(map[string]any); p["userPrincipalName"] != "ann@contoso.test" || p["@odata.type"] != "#microsoft.graph.user" {
		t.Errorf("expanded principal: %v", got["principal"])
	}
	list := func(query string) []string {
		t.Helper()
		ids := []string{}
		for _, x := range emValue(t, a.mustCall(t, "GET", rmEM+"/roleAssignments?"+query, nil, http.StatusOK)) {
			if x["roleDefinitionId"] != access.RoleCatalogOwner || x["principalId"] != a.appPrincipal(t) {
				ids = append(ids, emID(t, x)) // the test application owns the catalogs it made
			}
		}
		return ids
	}
	emSame(t, "ben's", rqSorted(creator, reader), list("$filter="+url.QueryEscape("principalId eq '"+ben.ID+"'")))
	emSame(t, "on the catalog", []string{id}, list("$filter="+url.QueryEscape("appScopeId eq '/AccessPackageCatalog/"+cat+"'")))
	emSame(t, "readers", []string{reader}, list("$filter="+url.QueryEscape("roleDefinitionId eq '"+access.RoleCatalogReader+"'")))
	withPrincipal := emValue(t, a.mustCall(t, "GET", rmEM+"/roleAssignments?$expand=principal&$filter="+url.QueryEscape("principalId eq '"+ben.ID+"'"), nil, http.StatusOK))
	for _, x := range withPrincipal {
		if p, _ := x["principal"].(map[string]any); p["id"] != ben.ID {
			t.Errorf("listed with $expand=principal: %v", x)
		}
	}

	for _, tc := range []struct {
		name string
		body map[string]any
		says string
	}{
		{"no principal", map[string]any{"roleDefinitionId": access.RoleCatalogOwner, "appScopeId": "/AccessPackageCatalog/" + cat}, "principalId"},
		{"an unknown principal", rmAssign("nobody", access.RoleCatalogOwner, cat), "principalId"},
		{"an unknown role", rmAssign(ann.ID, "00000000-0000-0000-0000-000000000000", cat), "roleDefinitionId"},
		{"the directory role here", rmAssign(ann.ID, access.RoleIdentityGovernanceAdministrator, ""), "roleDefinitionId"},
		{"a catalog role tenant-wide", rmAssign(ann.ID, access.RoleCatalogReader, ""), "appScopeId"},
		{"a tenant-wide role on a catalog", rmAssign(ann.ID, access.RoleCatalogCreator, cat), "directoryScopeId"},
		{"an unknown catalog", rmAssign(ann.ID, access.RoleCatalogReader, "no-such-catalog"), "appScopeId"},
		{"a scope that names no catalog", map[string]any{"principalId": ann.ID, "roleDefinitionId": access.RoleCatalogReader, "appScopeId": "/Groups/x"}, "appScopeId"},
		{"both scopes", map[string]any{"principalId": ann.ID, "roleDefinitionId": access.RoleCatalogReader, "appScopeId": "/AccessPackageCatalog/" + cat, "directoryScopeId": "/"}, "both"},
		{"an unknown property", map[string]any{"principalId": ann.ID, "roleDefinitionId": access.RoleCatalogReader, "appScopeId": "/AccessPackageCatalog/" + cat, "scope": "x"}, "scope"},
	} {
		t.Run(tc.name, func(t *testing.T) { a.refused(t, "POST", rmEM+"/roleAssignments", tc.body, tc.says) })
	}
	resp, _ := a.call(t, "POST", rmEM+"/roleAssignments", rmAssign(ann.ID, access.RoleCatalogOwner, cat))
	wantError(t, resp, http.StatusConflict, "conflict")

	a.noContent(t, "DELETE", rmEM+"/roleAssignments/"+id, a.tok, nil)
	resp, _ = a.call(t, "GET", rmEM+"/roleAssignments/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.call(t, "DELETE", rmEM+"/roleAssignments/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Deleting a catalog takes its roles along.
	a.mustCall(t, "DELETE", emV1+"/catalogs/"+other, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", rmEM+"/roleAssignments/"+reader, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

// appPrincipal is the service principal of the test application's token.
func (a *emAPI) appPrincipal(t *testing.T) string {
	t.Helper()
	sp, err := a.Svc.EnsureServicePrincipal(t.Context(), "test-app")
	if err != nil {
		t.Fatal(err)
	}
	return sp.ID
}

func TestRoleAssignmentsWhoMayGive(t *testing.T) {
	a := newEMAPI(t)
	cat, other := a.catalog(t, "Sales"), a.catalog(t, "Finance")
	owner, manager, target, admin := a.newUser(t, "owner@contoso.test"), a.newUser(t, "manager@contoso.test"),
		a.newUser(t, "target@contoso.test"), a.newUser(t, "admin@contoso.test")
	a.grant(t, owner.ID, access.RoleCatalogOwner, cat)
	a.grant(t, manager.ID, access.RoleAccessPackageManager, cat)
	ownerTok := a.userToken(t, owner.ID, scopeWrite)
	ownerReadTok := a.userToken(t, owner.ID, "EntitlementManagement.Read.All")
	managerTok := a.userToken(t, manager.ID, scopeWrite)
	adminTok := a.userToken(t, admin.ID, scopeWrite)
	readerApp := a.appTokenNamed(t, "reader-app", "EntitlementManagement.Read.All")

	post := func(tok, base string, body map[string]any) *http.Response {
		t.Helper()
		resp, _ := a.do(t, "POST", base+"/roleAssignments", tok, body)
		return resp
	}
	// A catalog's owner gives roles on it, and only on it.
	wantStatus(t, post(ownerTok, rmEM, rmAssign(target.ID, access.RoleCatalogReader, cat)), http.StatusCreated)
	wantError(t, post(ownerTok, rmEM, rmAssign(target.ID, access.RoleCatalogReader, other)), http.StatusBadRequest, "invalidRequest") // a catalog it does not see
	wantError(t, post(ownerTok, rmEM, rmAssign(target.ID, access.RoleCatalogCreator, "")), http.StatusForbidden, "accessDenied")
	wantError(t, post(ownerReadTok, rmEM, rmAssign(target.ID, access.RoleAccessPackageManager, cat)), http.StatusForbidden, "accessDenied")
	// An access package manager does not.
	wantError(t, post(managerTok, rmEM, rmAssign(target.ID, access.RoleAccessPackageManager, cat)), http.StatusForbidden, "accessDenied")
	// Nor does a user without a role, nor an application that only reads.
	wantError(t, post(adminTok, rmEM, rmAssign(target.ID, access.RoleCatalogCreator, "")), http.StatusForbidden, "accessDenied")
	wantError(t, post(readerApp, rmEM, rmAssign(target.ID, access.RoleCatalogCreator, "")), http.StatusForbidden, "accessDenied")
	wantError(t, post(adminTok, rmDir, rmAssign(admin.ID, access.RoleIdentityGovernanceAdministrator, "")), http.StatusForbidden, "accessDenied")

	// An application with ReadWrite.All makes an Identity Governance
	// Administrator, who may then give any role.
	iga := emID(t, a.mustCall(t, "POST", rmDir+"/roleAssignments", rmAssign(admin.ID, access.RoleIdentityGovernanceAdministrator, ""), http.StatusCreated))
	got := a.get(t, adminTok, rmDir+"/roleAssignments/"+iga)
	if got["directoryScopeId"] != "/" || got["appScopeId"] != nil || got["roleDefinitionId"] != access.RoleIdentityGovernanceAdministrator {
		t.Errorf("directory role assignment: %v", got)
	}
	a.refused(t, "POST", rmDir+"/roleAssignments", rmAssign(admin.ID, access.RoleCatalogOwner, cat), "roleDefinitionId")
	wantStatus(t, post(adminTok, rmEM, rmAssign(target.ID, access.RoleCatalogCreator, "")), http.StatusCreated)
	wantStatus(t, post(adminTok, rmEM, rmAssign(target.ID, access.RoleAccessPackageManager, other)), http.StatusCreated)
	// The directory's list holds the directory role only, and the
	// entitlement-management list never holds it.
	emSame(t, "directory roles", []string{iga}, valueIDs(t, a.get(t, adminTok, rmDir+"/roleAssignments")))
	for _, x := range emValue(t, a.get(t, adminTok, rmEM+"/roleAssignments")) {
		if x["roleDefinitionId"] == access.RoleIdentityGovernanceAdministrator {
			t.Errorf("the directory role among entitlement management's: %v", x)
		}
	}
	resp, _ := a.do(t, "GET", rmEM+"/roleAssignments/"+iga, adminTok, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Who sees which role assignments: those on the catalogs one holds a
	// role on, and one's own tenant-wide ones.
	ownerSees := []string{}
	for _, x := range emValue(t, a.get(t, ownerTok, rmEM+"/roleAssignments")) {
		ownerSees = append(ownerSees, x["appScopeId"].(string)+" "+x["principalId"].(string))
	}
	emSame(t, "the owner's view", rqSorted("/AccessPackageCatalog/"+cat+" "+a.appPrincipal(t), "/AccessPackageCatalog/"+cat+" "+owner.ID,
		"/AccessPackageCatalog/"+cat+" "+manager.ID, "/AccessPackageCatalog/"+cat+" "+target.ID), rqSorted(ownerSees...))
	targetTok := a.userToken(t, target.ID, "EntitlementManagement.Read.All")
	count := a.get(t, targetTok, rmEM+"/roleAssignments?$count=true")
	// The target reads Sales (four roles there, its own among them) and
	// manages Finance (the test application's and its own), and is a
	// Catalog creator.
	if count["@odata.count"] != float64(7) {
		t.Errorf("the target's role assignments: %v", count)
	}
	emSame(t, "the target's directory roles", []string{}, valueIDs(t, a.get(t, targetTok, rmDir+"/roleAssignments")))

	// The owner takes away the role it gave; the manager cannot.
	readerID := ""
	for _, x := range emValue(t, a.get(t, ownerTok, rmEM+"/roleAssignments?$filter="+url.QueryEscape("principalId eq '"+target.ID+"'"))) {
		readerID = emID(t, x)
	}
	resp, _ = a.do(t, "DELETE", rmEM+"/roleAssignments/"+readerID, managerTok, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	a.noContent(t, "DELETE", rmEM+"/roleAssignments/"+readerID, ownerTok, nil)
}

// A role given through the API lets its holder in at once; Catalog
// creators become owners of what they create and see nothing else; an
// application holding only a role acts through it without any permission.
func TestRolesTakeEffect(t *testing.T) {
	a := newEMAPI(t)
	sales := a.catalog(t, "Sales")
	u := a.newUser(t, "cara@contoso.test")
	tok := a.userToken(t, u.ID, scopeWrite)
	resp, _ := a.do(t, "POST", emV1+"/catalogs", tok, map[string]any{"displayName": "Mine"})
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	a.mustCall(t, "POST", rmEM+"/roleAssignments", rmAssign(u.ID, access.RoleCatalogCreator, ""), http.StatusCreated)
	_, mine := a.create(t, tok, emV1+"/catalogs", map[string]any{"displayName": "Mine"})
	emSame(t, "the creator's catalogs", []string{mine}, valueIDs(t, a.get(t, tok, emV1+"/catalogs")))
	resp, _ = a.do(t, "GET", emV1+"/catalogs/"+sales, tok, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	a.create(t, tok, emV1+"/accessPackages", map[string]any{"displayName": "Tools", "catalog": map[string]any{"id": mine}})
	owners := emValue(t, a.get(t, tok, rmEM+"/roleAssignments?$filter="+url.QueryEscape("appScopeId eq '/AccessPackageCatalog/"+mine+"'")))
	if len(owners) != 1 || owners[0]["principalId"] != u.ID || owners[0]["roleDefinitionId"] != access.RoleCatalogOwner {
		t.Errorf("the owners of the creator's catalog: %v", owners)
	}

	// `accessd token --app NAME` without --roles: a token with no permission.
	bot := a.appTokenNamed(t, "bot")
	resp, _ = a.do(t, "GET", emV1+"/accessPackages", bot, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	sp, err := a.Svc.EnsureServicePrincipal(t.Context(), "bot")
	if err != nil {
		t.Fatal(err)
	}
	a.mustCall(t, "POST", rmEM+"/roleAssignments", rmAssign(sp.ID, access.RoleAccessPackageManager, sales), http.StatusCreated)
	_, pkg := a.create(t, bot, emV1+"/accessPackages", map[string]any{"displayName": "Bot's", "catalog": map[string]any{"id": sales}})
	emSame(t, "the bot's packages", []string{pkg}, valueIDs(t, a.get(t, bot, emV1+"/accessPackages")))
	resp, _ = a.do(t, "PATCH", emV1+"/catalogs/"+sales, bot, map[string]any{"description": "x"})
	wantError(t, resp, http.StatusForbidden, "accessDenied") // a manager, not an owner
}
