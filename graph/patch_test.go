package graph

import (
	"net/http"
	"testing"
)

// A PATCH is all or nothing: a body that changes one property and breaks a
// rule with another answers 400 and leaves the object byte for byte as it
// was, for every noun PATCH serves. (Regression: a catalog PATCH with a
// good displayName and a bogus catalogType once answered 400 and saved the
// displayName, because the error was checked after the commit.)
func TestPatchIsAllOrNothing(t *testing.T) {
	a := newEMAPI(t)
	dir := a.appTokenNamed(t, "directory-admin", "Directory.ReadWrite.All")
	catalog := a.catalog(t, "Sales")
	pkg := a.accessPackage(t, catalog, "Tools")
	user := a.newUser(t, "patched@contoso.test").ID
	_, group := a.create(t, dir, "/v1.0/groups", map[string]any{"displayName": "Sales team", "mailNickname": "sales",
		"securityEnabled": true, "mailEnabled": false})
	_, sp := a.create(t, dir, "/v1.0/servicePrincipals", map[string]any{"displayName": "CRM", "appId": "b1f0c0de-0000-4000-8000-000000000001"})

	for _, tc := range []struct {
		name, token, path string
		body              map[string]any
		names             []string // what the 400's message must name
	}{
		{"v1.0 catalog: bad catalogType", a.tok, emV1 + "/catalogs/" + catalog,
			map[string]any{"displayName": "After", "catalogType": "bogus"}, []string{"catalogType", "bogus"}},
		{"v1.0 catalog: state and catalogStatus both", a.tok, emV1 + "/catalogs/" + catalog,
			map[string]any{"description": "After", "state": "published", "catalogStatus": "Published"}, []string{"state", "catalogStatus"}},
		{"v1.0 catalog: empty displayName", a.tok, emV1 + "/catalogs/" + catalog,
			map[string]any{"description": "After", "displayName": " "}, []string{"displayName"}},
		{"beta catalog: bad catalogStatus", a.tok, emBeta + "/accessPackageCatalogs/" + catalog,
			map[string]any{"displayName": "After", "catalogStatus": "bogus"}, []string{"catalogStatus", "bogus"}},
		{"v1.0 access package: wrong @odata.type", a.tok, emV1 + "/accessPackages/" + pkg,
			map[string]any{"displayName": "After", "@odata.type": "#microsoft.graph.group"}, []string{"@odata.type"}},
		{"v1.0 access package: another catalog", a.tok, emV1 + "/accessPackages/" + pkg,
			map[string]any{"displayName": "After", "catalog": map[string]any{"id": "elsewhere"}}, []string{"catalog"}},
		{"beta access package: catalog named twice", a.tok, emBeta + "/accessPackages/" + pkg,
			map[string]any{"description": "After", "catalogId": catalog, "accessPackageCatalog": map[string]any{"id": catalog}}, []string{"catalogId"}},
		{"user: null userPrincipalName", dir, "/v1.0/users/" + user,
			map[string]any{"displayName": "After", "userPrincipalName": nil}, []string{"userPrincipalName"}},
		{"user: empty displayName", dir, "/v1.0/users/" + user,
			map[string]any{"mail": "after@contoso.test", "displayName": ""}, []string{"displayName"}},
		{"group: wrong @odata.type", dir, "/v1.0/groups/" + group,
			map[string]any{"displayName": "After", "@odata.type": "#microsoft.graph.user"}, []string{"@odata.type"}},
		{"group: empty displayName", dir, "/v1.0/groups/" + group,
			map[string]any{"description": "After", "displayName": ""}, []string{"displayName"}},
		{"service principal: appId changes", dir, "/v1.0/servicePrincipals/" + sp,
			map[string]any{"displayName": "After", "appId": "b1f0c0de-0000-4000-8000-000000000002"}, []string{"appId"}},
		{"service principal: appRole without @odata.type of its own", dir, "/v1.0/servicePrincipals/" + sp,
			map[string]any{"displayName": "After", "appRoles": []any{map[string]any{"@odata.type": "#microsoft.graph.group", "id": "r"}}},
			[]string{"appRoles[0].@odata.type"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.rawGet(t, tc.token, tc.path)
			resp, _ := a.do(t, http.MethodPatch, tc.path, tc.token, tc.body)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), tc.names...)
			if after := a.rawGet(t, tc.token, tc.path); after != before {
				t.Errorf("a refused PATCH changed the object:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// rawGet is the exact body of a 200 GET.
func (a *testAPI) rawGet(t *testing.T, token, path string) string {
	t.Helper()
	resp, _ := a.do(t, http.MethodGet, path, token, nil)
	wantStatus(t, resp, http.StatusOK)
	return bodyOf(resp)
}
