package graph

import (
	"net/http"
	"testing"

	"github.com/accessd/accessd/access"
)

// Tests of the beta entitlement-management API: the same catalogs, packages
// and extensions as v1.0, under beta's names and shapes. Helpers are in
// entitlement_v1_test.go.

// betaAdmin is a signed-in Identity Governance Administrator, so that
// createdBy shows a userPrincipalName.
func betaAdmin(t *testing.T, a *emAPI) string {
	t.Helper()
	u := a.newUser(t, "admin@contoso.test")
	a.grant(t, u.ID, access.RoleIdentityGovernanceAdministrator, "")
	return a.userToken(t, "admin@contoso.test", "EntitlementManagement.ReadWrite.All")
}

func TestBetaCatalogLifecycle(t *testing.T) {
	a := newEMAPI(t)
	admin := betaAdmin(t, a)

	resp, created := a.do(t, "POST", emBeta+"/accessPackageCatalogs", admin, map[string]any{
		"displayName":         "Sales",
		"description":         "Resources of the sales team",
		"catalogType":         "UserManaged",
		"catalogStatus":       "Published",
		"isExternallyVisible": true,
	})
	wantStatus(t, resp, http.StatusCreated)
	want := map[string]any{
		"@odata.context":      a.URL + "/beta/$metadata#identityGovernance/entitlementManagement/accessPackageCatalogs/$entity",
		"displayName":         "Sales",
		"description":         "Resources of the sales team",
		"catalogType":         "UserManaged",
		"catalogStatus":       "Published",
		"isExternallyVisible": true,
		"createdBy":           "admin@contoso.test",
		"modifiedBy":          "admin@contoso.test",
	}
	emCopy(t, want, created, "id", "createdDateTime", "modifiedDateTime")
	emTime(t, created, "createdDateTime")
	emSame(t, "created beta catalog", want, created)
	id := emID(t, created)

	emSame(t, "read beta catalog", want, a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+id, nil, http.StatusOK))
	emSame(t, "read beta catalog by key syntax", want, a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs('"+id+"')", nil, http.StatusOK))

	list := a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs", nil, http.StatusOK)
	if list["@odata.context"] != a.URL+"/beta/$metadata#identityGovernance/entitlementManagement/accessPackageCatalogs" {
		t.Errorf("beta list @odata.context %v", list["@odata.context"])
	}
	emSame(t, "listed beta catalogs", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))

	// PATCH by the application: modifiedBy changes, createdBy stays.
	resp, body := a.call(t, "PATCH", emBeta+"/accessPackageCatalogs/"+id, map[string]any{"catalogStatus": "unpublished", "displayName": "Sales EMEA"})
	wantStatus(t, resp, http.StatusNoContent)
	if body != nil {
		t.Errorf("PATCH answered a body: %v", body)
	}
	got := a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+id, nil, http.StatusOK)
	if got["catalogStatus"] != "Unpublished" || got["displayName"] != "Sales EMEA" || got["createdBy"] != "admin@contoso.test" {
		t.Errorf("after PATCH: %v", got)
	}
	if got["modifiedBy"] == "admin@contoso.test" || got["modifiedBy"] == nil {
		t.Errorf("modifiedBy after a PATCH by another caller: %v", got["modifiedBy"])
	}

	a.mustCall(t, "DELETE", emBeta+"/accessPackageCatalogs/"+id, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", emBeta+"/accessPackageCatalogs/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestBetaCatalogRefusals(t *testing.T) {
	a := newEMAPI(t)
	for _, tc := range []struct {
		name  string
		body  any
		parts []string
	}{
		{"bogus catalogStatus", map[string]any{"displayName": "x", "catalogStatus": "Live"}, []string{"catalogStatus", "Live"}},
		{"bogus catalogType", map[string]any{"displayName": "x", "catalogType": "TeamManaged"}, []string{"catalogType", "TeamManaged"}},
		{"no displayName", map[string]any{"catalogType": "UserManaged"}, []string{"displayName"}},
		{"unknown property", map[string]any{"displayName": "x", "uniqueName": "x"}, []string{"uniqueName"}},
	} {
		t.Run(tc.name, func(t *testing.T) { a.refused(t, "POST", emBeta+"/accessPackageCatalogs", tc.body, tc.parts...) })
	}
	t.Run("delete with a package", func(t *testing.T) {
		cat := a.catalog(t, "Sales")
		a.accessPackage(t, cat, "Tools")
		resp, _ := a.call(t, "DELETE", emBeta+"/accessPackageCatalogs/"+cat, nil)
		wantError(t, resp, http.StatusConflict, "conflict")
	})
}

func TestBetaAccessPackages(t *testing.T) {
	a := newEMAPI(t)
	admin := betaAdmin(t, a)
	cat := a.catalog(t, "Sales")

	resp, created := a.do(t, "POST", emBeta+"/accessPackages", admin, map[string]any{
		"catalogId":   cat,
		"displayName": "Sales tools",
		"description": "CRM",
		"isHidden":    false,
	})
	wantStatus(t, resp, http.StatusCreated)
	want := map[string]any{
		"@odata.context":      a.URL + "/beta/$metadata#identityGovernance/entitlementManagement/accessPackages/$entity",
		"catalogId":           cat,
		"displayName":         "Sales tools",
		"description":         "CRM",
		"isHidden":            false,
		"isRoleScopesVisible": false,
		"createdBy":           "admin@contoso.test",
		"modifiedBy":          "admin@contoso.test",
	}
	emCopy(t, want, created, "id", "createdDateTime", "modifiedDateTime")
	emSame(t, "created beta package", want, created)
	id := emID(t, created)

	got := a.mustCall(t, "GET", emBeta+"/accessPackages/"+id, nil, http.StatusOK)
	emSame(t, "beta package without $expand", want, got)
	if _, ok := got["accessPackageCatalog"]; ok {
		t.Errorf("accessPackageCatalog appears without $expand")
	}

	catalog := emWithout(a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+cat, nil, http.StatusOK), "@odata.context")
	got = a.mustCall(t, "GET", emBeta+"/accessPackages/"+id+"?$expand=accessPackageCatalog", nil, http.StatusOK)
	expanded := emWithout(want)
	expanded["accessPackageCatalog"] = catalog
	emSame(t, "beta package with $expand=accessPackageCatalog", expanded, got)

	// v1.0's navigation name is not beta's.
	a.refused(t, "GET", emBeta+"/accessPackages/"+id+"?$expand=catalog", nil, "catalog")

	list := a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+cat+"/accessPackages", nil, http.StatusOK)
	if list["@odata.context"] != a.URL+"/beta/$metadata#identityGovernance/entitlementManagement/accessPackageCatalogs('"+cat+"')/accessPackages" {
		t.Errorf("beta catalog packages @odata.context %v", list["@odata.context"])
	}
	emSame(t, "packages of the beta catalog", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))
	list = a.mustCall(t, "GET", emBeta+"/accessPackages?$expand=accessPackageCatalog", nil, http.StatusOK)
	emSame(t, "beta packages with catalog", []map[string]any{emWithout(expanded, "@odata.context")}, emValue(t, list))

	a.mustCall(t, "PATCH", emBeta+"/accessPackages/"+id, map[string]any{"displayName": "Sales apps"}, http.StatusNoContent)
	if got := a.mustCall(t, "GET", emBeta+"/accessPackages/"+id, nil, http.StatusOK); got["displayName"] != "Sales apps" || got["catalogId"] != cat {
		t.Errorf("after PATCH: %v", got)
	}

	t.Run("unknown catalogId", func(t *testing.T) {
		a.refused(t, "POST", emBeta+"/accessPackages", map[string]any{"catalogId": "no-such-catalog", "displayName": "x"}, "no-such-catalog")
	})
	t.Run("accessPackageCatalog navigation names the catalog", func(t *testing.T) {
		got := a.mustCall(t, "POST", emBeta+"/accessPackages", map[string]any{
			"displayName":          "By navigation",
			"accessPackageCatalog": map[string]any{"id": cat},
		}, http.StatusCreated)
		if got["catalogId"] != cat {
			t.Errorf("catalogId %v, want %s", got["catalogId"], cat)
		}
	})

	a.mustCall(t, "DELETE", emBeta+"/accessPackages/"+id, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", emBeta+"/accessPackages/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestBetaCustomWorkflowExtensions(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	other := a.catalog(t, "Marketing")
	base := emBeta + "/accessPackageCatalogs/" + cat + "/accessPackageCustomWorkflowExtensions"
	context := a.URL + "/beta/$metadata#identityGovernance/entitlementManagement/accessPackageCatalogs('" + cat + "')/accessPackageCustomWorkflowExtensions"

	created := a.mustCall(t, "POST", base, emRequestExtension("SoD check"), http.StatusCreated)
	want := emExtensionWant(a, cat, "SoD check")
	want["@odata.context"] = context + "/$entity"
	emCopy(t, want, created, "id", "createdBy", "createdDateTime", "lastModifiedBy", "lastModifiedDateTime")
	emSame(t, "created beta extension", want, created)
	id := emID(t, created)

	emSame(t, "read beta extension", want, a.mustCall(t, "GET", base+"/"+id, nil, http.StatusOK))
	list := a.mustCall(t, "GET", base, nil, http.StatusOK)
	if list["@odata.context"] != context {
		t.Errorf("beta extension list @odata.context %v", list["@odata.context"])
	}
	emSame(t, "listed beta extensions", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))

	put := emClone(t, created)
	put["displayName"] = "SoD check v2"
	put["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "P1D"}
	got := a.mustCall(t, "PUT", base+"/"+id, put, http.StatusOK)
	want["displayName"] = "SoD check v2"
	want["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "P1D"}
	emCopy(t, want, got, "lastModifiedDateTime")
	emSame(t, "beta PUT answer", want, got)

	a.refused(t, "POST", base, map[string]any{"value": emRequestExtension("Wrapped")}, "'value'")
	a.refused(t, "PUT", base+"/"+id, emAssignmentExtension("Other type"), "@odata.type")

	resp, _ := a.call(t, "GET", emBeta+"/accessPackageCatalogs/"+other+"/accessPackageCustomWorkflowExtensions/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	a.mustCall(t, "DELETE", base+"/"+id, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", base+"/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

// One stored object, read through both versions, shows each version's names.
func TestSameObjectsThroughV1AndBeta(t *testing.T) {
	a := newEMAPI(t)
	admin := betaAdmin(t, a)
	resp, created := a.do(t, "POST", emV1+"/catalogs", admin, map[string]any{"displayName": "Sales", "state": "unpublished", "catalogType": "serviceManaged"})
	wantStatus(t, resp, http.StatusCreated)
	cat := emID(t, created)
	pkg := a.accessPackage(t, cat, "Sales tools")
	ext := a.extension(t, cat, emRequestExtension("SoD check"))

	v1 := a.mustCall(t, "GET", emV1+"/catalogs/"+cat, nil, http.StatusOK)
	beta := a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+cat, nil, http.StatusOK)
	emSame(t, "v1.0 catalog keys", []string{"@odata.context", "catalogType", "createdDateTime", "description", "displayName",
		"id", "isExternallyVisible", "modifiedDateTime", "state"}, emKeys(v1))
	emSame(t, "beta catalog keys", []string{"@odata.context", "catalogStatus", "catalogType", "createdBy", "createdDateTime", "description",
		"displayName", "id", "isExternallyVisible", "modifiedBy", "modifiedDateTime"}, emKeys(beta))
	if v1["state"] != "unpublished" || v1["catalogType"] != "serviceManaged" {
		t.Errorf("v1.0 enums: %v", v1)
	}
	if beta["catalogStatus"] != "Unpublished" || beta["catalogType"] != "ServiceManaged" || beta["createdBy"] != "admin@contoso.test" {
		t.Errorf("beta strings: %v", beta)
	}
	for _, k := range []string{"id", "displayName", "createdDateTime", "modifiedDateTime", "isExternallyVisible"} {
		if v1[k] != beta[k] {
			t.Errorf("%s differs: v1.0 %v, beta %v", k, v1[k], beta[k])
		}
	}

	v1 = a.mustCall(t, "GET", emV1+"/accessPackages/"+pkg, nil, http.StatusOK)
	beta = a.mustCall(t, "GET", emBeta+"/accessPackages/"+pkg, nil, http.StatusOK)
	emSame(t, "v1.0 package keys", []string{"@odata.context", "createdDateTime", "description", "displayName", "id", "isHidden", "modifiedDateTime"}, emKeys(v1))
	emSame(t, "beta package keys", []string{"@odata.context", "catalogId", "createdBy", "createdDateTime", "description", "displayName", "id",
		"isHidden", "isRoleScopesVisible", "modifiedBy", "modifiedDateTime"}, emKeys(beta))
	if beta["catalogId"] != cat {
		t.Errorf("beta catalogId %v, want %s", beta["catalogId"], cat)
	}
	if v1["@odata.context"] != a.context("v1.0", "accessPackages", true) || beta["@odata.context"] != a.context("beta", "accessPackages", true) {
		t.Errorf("contexts: v1.0 %v, beta %v", v1["@odata.context"], beta["@odata.context"])
	}

	v1 = a.mustCall(t, "GET", emV1+"/catalogs/"+cat+"/customWorkflowExtensions/"+ext, nil, http.StatusOK)
	beta = a.mustCall(t, "GET", emBeta+"/accessPackageCatalogs/"+cat+"/accessPackageCustomWorkflowExtensions/"+ext, nil, http.StatusOK)
	emSame(t, "extension in both versions", emWithout(v1, "@odata.context"), emWithout(beta, "@odata.context"))
	if beta["@odata.context"] != a.context("beta", "accessPackageCatalogs('"+cat+"')/accessPackageCustomWorkflowExtensions", true) {
		t.Errorf("beta extension @odata.context %v", beta["@odata.context"])
	}

	// A change through one version shows through the other.
	a.mustCall(t, "PATCH", emBeta+"/accessPackageCatalogs/"+cat, map[string]any{"catalogStatus": "Published"}, http.StatusNoContent)
	if got := a.mustCall(t, "GET", emV1+"/catalogs/"+cat, nil, http.StatusOK); got["state"] != "published" {
		t.Errorf("v1.0 state after beta PATCH: %v", got["state"])
	}
}

// Each version serves its own set names only.
func TestVersionSetNamesAreNotShared(t *testing.T) {
	a := newEMAPI(t)
	for _, path := range []string{
		emV1 + "/accessPackageCatalogs",
		emBeta + "/catalogs",
		emV1 + "/accessPackageAssignmentPolicies",
	} {
		resp, _ := a.call(t, "GET", path, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	cat := a.catalog(t, "Sales")
	resp, _ := a.call(t, "GET", emBeta+"/accessPackageCatalogs/"+cat+"/customWorkflowExtensions", nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.call(t, "GET", emV1+"/catalogs/"+cat+"/accessPackageCustomWorkflowExtensions", nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

// A body that names two different catalogs for one package, or two different
// states for one catalog (one by its v1.0 name, one by its beta name), is
// refused rather than resolved by chance.
func TestConflictingVersionNamesAreRefused(t *testing.T) {
	a := newEMAPI(t)
	first, second := a.catalog(t, "First"), a.catalog(t, "Second")
	created := map[string]int{}
	for range 20 {
		resp, got := a.call(t, "POST", emBeta+"/accessPackages", map[string]any{
			"displayName":          "Ambiguous",
			"catalog":              map[string]any{"id": first},
			"accessPackageCatalog": map[string]any{"id": second},
		})
		if resp.StatusCode == http.StatusCreated {
			created[got["catalogId"].(string)]++
		}
	}
	states := map[string]int{}
	for range 20 {
		resp, got := a.call(t, "POST", emBeta+"/accessPackageCatalogs", map[string]any{
			"displayName": "Ambiguous", "state": "published", "catalogStatus": "Unpublished",
		})
		if resp.StatusCode == http.StatusCreated {
			states[got["catalogStatus"].(string)]++
		}
	}
	if len(created) > 0 || len(states) > 0 {
		t.Errorf("ambiguous bodies were accepted: packages created in catalogs %v, catalogs created with catalogStatus %v", created, states)
	}
}
