package graph

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Tests of the v1.0 entitlement-management API: catalogs, access packages,
// custom workflow extensions and assignment policies, through the real
// server, store and tokens. The helpers prefixed em are shared with
// entitlement_beta_test.go and conventions_test.go.

const (
	emV1   = "/v1.0/identityGovernance/entitlementManagement"
	emBeta = "/beta/identityGovernance/entitlementManagement"
)

// emAPI is the test API with an application token that may write
// entitlement management, the usual caller of these tests.
type emAPI struct {
	*testAPI
	tok string
}

func newEMAPI(t *testing.T) *emAPI {
	t.Helper()
	a := newTestAPI(t)
	return &emAPI{testAPI: a, tok: a.appToken(t, "EntitlementManagement.ReadWrite.All")}
}

// call is do with the writer token.
func (a *emAPI) call(t *testing.T, method, path string, body any) (*http.Response, map[string]any) {
	t.Helper()
	return a.do(t, method, path, a.tok, body)
}

// mustCall sends a request and fails unless the answer has the status.
func (a *emAPI) mustCall(t *testing.T, method, path string, body any, status int) map[string]any {
	t.Helper()
	resp, got := a.call(t, method, path, body)
	wantStatus(t, resp, status)
	return got
}

// refused sends a request that must be refused with 400 invalidRequest and a
// message naming every one of parts.
func (a *emAPI) refused(t *testing.T, method, path string, body any, parts ...string) {
	t.Helper()
	resp, _ := a.call(t, method, path, body)
	msg := wantError(t, resp, http.StatusBadRequest, "invalidRequest")
	wantMessage(t, msg, parts...)
}

func (a *emAPI) catalog(t *testing.T, name string) string {
	t.Helper()
	return emID(t, a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{"displayName": name}, http.StatusCreated))
}

func (a *emAPI) accessPackage(t *testing.T, catalogID, name string) string {
	t.Helper()
	return emID(t, a.mustCall(t, "POST", emV1+"/accessPackages",
		map[string]any{"displayName": name, "catalog": map[string]any{"id": catalogID}}, http.StatusCreated))
}

func (a *emAPI) extension(t *testing.T, catalogID string, body map[string]any) string {
	t.Helper()
	return emID(t, a.mustCall(t, "POST", emV1+"/catalogs/"+catalogID+"/customWorkflowExtensions", body, http.StatusCreated))
}

func (a *emAPI) policy(t *testing.T, body map[string]any) string {
	t.Helper()
	return emID(t, a.mustCall(t, "POST", emV1+"/assignmentPolicies", body, http.StatusCreated))
}

// emWorld is a catalog with a package, a request-workflow extension (launch
// and wait) and an assignment-workflow extension, for the policy tests.
type emWorld struct {
	catalog, pkg        string
	requestExtension    string
	assignmentExtension string
}

func (a *emAPI) world(t *testing.T) emWorld {
	t.Helper()
	var w emWorld
	w.catalog = a.catalog(t, "Sales")
	w.pkg = a.accessPackage(t, w.catalog, "Sales tools")
	w.requestExtension = a.extension(t, w.catalog, emRequestExtension("SoD check"))
	w.assignmentExtension = a.extension(t, w.catalog, emAssignmentExtension("Expiry notice"))
	return w
}

// emRequestExtension is a launch-and-wait request-workflow extension on a
// Logic App, as the Graph documentation's example sends it (without the
// "value" wrapper the documentation shows by mistake).
func emRequestExtension(name string) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName": name,
		"description": "Checks separation of duties",
		"endpointConfiguration": map[string]any{
			"@odata.type":          "#microsoft.graph.logicAppTriggerEndpointConfiguration",
			"subscriptionId":       "38ab2ccc-3747-4567-b36b-9478f5602f0d",
			"resourceGroupName":    "EMResourceGroup",
			"logicAppWorkflowName": "SodCheck",
			"url":                  "https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=secret",
		},
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication",
		},
		"clientConfiguration": map[string]any{
			"@odata.type":           "#microsoft.graph.customExtensionClientConfiguration",
			"timeoutInMilliseconds": 1000,
			"maximumRetries":        1,
		},
		"callbackConfiguration": map[string]any{
			"@odata.type":           "microsoft.graph.customExtensionCallbackConfiguration",
			"durationBeforeTimeout": "PT1H",
		},
	}
}

// emAssignmentExtension is a pre-expiration extension on a plain HTTP endpoint.
func emAssignmentExtension(name string) map[string]any {
	return map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentWorkflowExtension",
		"displayName": name,
		"endpointConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.httpRequestEndpoint",
			"targetUrl":   "https://hooks.contoso.test/expiry",
		},
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.azureAdTokenAuthentication",
			"resourceId":  "3c6a6a5e-2c55-4d8a-b5a5-8f2b1b4a3c21",
		},
	}
}

// emMinimalPolicy is the smallest policy accessd accepts for pkg.
func emMinimalPolicy(pkg, name string) map[string]any {
	return map[string]any{
		"displayName":        name,
		"accessPackage":      map[string]any{"id": pkg},
		"allowedTargetScope": "allMemberUsers",
	}
}

// emID reads the id of an answer.
func emID(t *testing.T, body map[string]any) string {
	t.Helper()
	id, _ := body["id"].(string)
	if id == "" {
		t.Fatalf("answer has no id: %v", body)
	}
	return id
}

// emTime checks that body[key] is a UTC ISO 8601 time close to now.
func emTime(t *testing.T, body map[string]any, key string) time.Time {
	t.Helper()
	s, _ := body[key].(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("%s %q is not a UTC ISO 8601 time: %v", key, s, err)
	}
	if d := time.Since(ts); d < -time.Minute || d > time.Minute {
		t.Errorf("%s %s is not close to now", key, s)
	}
	return ts
}

// emCopy sets want[key] to got[key] after checking it is a non-empty string,
// for values the server makes up (ids, times, creators).
func emCopy(t *testing.T, want, got map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		s, _ := got[k].(string)
		if s == "" {
			t.Errorf("%s is missing or empty in %v", k, got)
		}
		want[k] = got[k]
	}
}

// emJSON turns a Go value into what the JSON answer decodes to, so that
// expected shapes can be written with ints and nested maps.
func emJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// emSame fails the test when got differs from want.
func emSame(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", what, d)
	}
}

func emKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// emValue returns the "value" array of a collection answer.
func emValue(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, ok := body["value"].([]any)
	if !ok {
		t.Fatalf("answer has no value array: %v", body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		if out[i], ok = v.(map[string]any); !ok {
			t.Fatalf("value[%d] is not an object: %v", i, v)
		}
	}
	return out
}

func emIDs(items []map[string]any) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i], _ = it["id"].(string)
	}
	return ids
}

// emWithout copies m without the given keys.
func emWithout(m map[string]any, keys ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// emClone deep-copies a JSON-like value.
func emClone(t *testing.T, m map[string]any) map[string]any { return emJSON(t, m) }

func (a *emAPI) context(version, set string, entity bool) string {
	return contextURL(a.URL, version, "identityGovernance/entitlementManagement/"+set, entity)
}

// ---------------------------------------------------------------- catalogs

func TestV1CatalogCreateReadListUpdateDelete(t *testing.T) {
	a := newEMAPI(t)

	created := a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{
		"displayName":         "Sales",
		"description":         "Resources of the sales team",
		"catalogType":         "UserManaged", // enum members are case-insensitive on input
		"state":               "Published",
		"isExternallyVisible": true,
	}, http.StatusCreated)
	want := map[string]any{
		"@odata.context":      a.URL + "/v1.0/$metadata#identityGovernance/entitlementManagement/catalogs/$entity",
		"displayName":         "Sales",
		"description":         "Resources of the sales team",
		"catalogType":         "userManaged",
		"state":               "published",
		"isExternallyVisible": true,
	}
	emCopy(t, want, created, "id", "createdDateTime", "modifiedDateTime")
	emTime(t, created, "createdDateTime")
	emSame(t, "created catalog", want, created)
	id := emID(t, created)

	got := a.mustCall(t, "GET", emV1+"/catalogs/"+id, nil, http.StatusOK)
	emSame(t, "read catalog", want, got)

	// OData key syntax names the same catalog.
	got = a.mustCall(t, "GET", emV1+"/catalogs('"+id+"')", nil, http.StatusOK)
	emSame(t, "read catalog by key syntax", want, got)

	list := a.mustCall(t, "GET", emV1+"/catalogs", nil, http.StatusOK)
	if list["@odata.context"] != a.URL+"/v1.0/$metadata#identityGovernance/entitlementManagement/catalogs" {
		t.Errorf("list @odata.context %v", list["@odata.context"])
	}
	if _, ok := list["@odata.nextLink"]; ok {
		t.Errorf("a list of one has an @odata.nextLink: %v", list)
	}
	items := emValue(t, list)
	if len(items) != 1 {
		t.Fatalf("list has %d catalogs, want 1: %v", len(items), list)
	}
	emSame(t, "listed catalog", emWithout(want, "@odata.context"), items[0])

	resp, body := a.call(t, "PATCH", emV1+"/catalogs/"+id, map[string]any{
		"displayName": "Sales EMEA",
		"state":       "UNPUBLISHED",
	})
	wantStatus(t, resp, http.StatusNoContent)
	if body != nil {
		t.Errorf("PATCH answered a body: %v", body)
	}
	got = a.mustCall(t, "GET", emV1+"/catalogs/"+id, nil, http.StatusOK)
	want["displayName"], want["state"] = "Sales EMEA", "unpublished"
	modified := emTime(t, got, "modifiedDateTime")
	if created := emTime(t, got, "createdDateTime"); modified.Before(created) {
		t.Errorf("modifiedDateTime %v is before createdDateTime %v", modified, created)
	}
	want["modifiedDateTime"] = got["modifiedDateTime"]
	emSame(t, "patched catalog", want, got)

	// A PATCH changes only what it names; a GET body sent back is accepted.
	sentBack := emClone(t, got)
	sentBack["description"] = "Changed"
	a.mustCall(t, "PATCH", emV1+"/catalogs/"+id, sentBack, http.StatusNoContent)
	got = a.mustCall(t, "GET", emV1+"/catalogs/"+id, nil, http.StatusOK)
	if got["description"] != "Changed" || got["displayName"] != "Sales EMEA" || got["isExternallyVisible"] != true {
		t.Errorf("after PATCH with a GET body: %v", got)
	}

	resp, body = a.call(t, "DELETE", emV1+"/catalogs/"+id, nil)
	wantStatus(t, resp, http.StatusNoContent)
	if body != nil {
		t.Errorf("DELETE answered a body: %v", body)
	}
	resp, _ = a.call(t, "GET", emV1+"/catalogs/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.call(t, "DELETE", emV1+"/catalogs/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestV1CatalogDefaults(t *testing.T) {
	a := newEMAPI(t)
	got := a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{"displayName": "Minimal"}, http.StatusCreated)
	want := map[string]any{
		"@odata.context":      a.context("v1.0", "catalogs", true),
		"displayName":         "Minimal",
		"description":         nil,
		"catalogType":         "userManaged",
		"state":               "published",
		"isExternallyVisible": false,
	}
	emCopy(t, want, got, "id", "createdDateTime", "modifiedDateTime")
	emSame(t, "catalog with defaults", want, got)
}

func TestV1CatalogRefusals(t *testing.T) {
	a := newEMAPI(t)
	for _, tc := range []struct {
		name  string
		body  any
		parts []string
	}{
		{"missing displayName", map[string]any{"description": "x"}, []string{"displayName"}},
		{"blank displayName", map[string]any{"displayName": "   "}, []string{"displayName"}},
		{"null displayName", map[string]any{"displayName": nil}, []string{"displayName"}},
		{"bogus catalogType", map[string]any{"displayName": "x", "catalogType": "bogus"}, []string{"catalogType", "bogus"}},
		{"bogus state", map[string]any{"displayName": "x", "state": "open"}, []string{"state", "open"}},
		{"displayName a number", map[string]any{"displayName": 5}, []string{"displayName"}},
		{"isExternallyVisible a string", map[string]any{"displayName": "x", "isExternallyVisible": "yes"}, []string{"isExternallyVisible"}},
		{"unknown property", map[string]any{"displayName": "x", "owner": "me"}, []string{"owner"}},
	} {
		t.Run(tc.name, func(t *testing.T) { a.refused(t, "POST", emV1+"/catalogs", tc.body, tc.parts...) })
	}

	id := a.catalog(t, "Sales")
	t.Run("PATCH bogus catalogType", func(t *testing.T) {
		a.refused(t, "PATCH", emV1+"/catalogs/"+id, map[string]any{"catalogType": "bogus"}, "catalogType")
	})
	t.Run("PATCH empty displayName", func(t *testing.T) {
		a.refused(t, "PATCH", emV1+"/catalogs/"+id, map[string]any{"displayName": ""}, "displayName")
	})
	t.Run("PATCH unknown catalog", func(t *testing.T) {
		resp, _ := a.call(t, "PATCH", emV1+"/catalogs/no-such-catalog", map[string]any{"displayName": "x"})
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	t.Run("refused PATCH changed nothing", func(t *testing.T) {
		got := a.mustCall(t, "GET", emV1+"/catalogs/"+id, nil, http.StatusOK)
		if got["displayName"] != "Sales" || got["catalogType"] != "userManaged" {
			t.Errorf("catalog changed by refused PATCHes: %v", got)
		}
	})
	t.Run("GET unknown", func(t *testing.T) {
		resp, _ := a.call(t, "GET", emV1+"/catalogs/no-such-catalog", nil)
		msg := wantError(t, resp, http.StatusNotFound, "itemNotFound")
		wantMessage(t, msg, "no-such-catalog")
	})
}

func TestV1CatalogDeleteWithPackageIsConflict(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	pkg := a.accessPackage(t, cat, "Sales tools")

	resp, _ := a.call(t, "DELETE", emV1+"/catalogs/"+cat, nil)
	wantError(t, resp, http.StatusConflict, "conflict")
	a.mustCall(t, "GET", emV1+"/catalogs/"+cat, nil, http.StatusOK)

	a.mustCall(t, "DELETE", emV1+"/accessPackages/"+pkg, nil, http.StatusNoContent)
	a.mustCall(t, "DELETE", emV1+"/catalogs/"+cat, nil, http.StatusNoContent)
}

// ---------------------------------------------------------- access packages

func TestV1AccessPackageLifecycle(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	other := a.catalog(t, "Marketing")

	created := a.mustCall(t, "POST", emV1+"/accessPackages", map[string]any{
		"displayName": "Sales tools",
		"description": "CRM and forecasting",
		"isHidden":    true,
		"catalog":     map[string]any{"id": cat},
	}, http.StatusCreated)
	want := map[string]any{
		"@odata.context": a.context("v1.0", "accessPackages", true),
		"displayName":    "Sales tools",
		"description":    "CRM and forecasting",
		"isHidden":       true,
	}
	emCopy(t, want, created, "id", "createdDateTime", "modifiedDateTime")
	emSame(t, "created package", want, created)
	id := emID(t, created)

	got := a.mustCall(t, "GET", emV1+"/accessPackages/"+id, nil, http.StatusOK)
	emSame(t, "package without $expand", want, got)
	if _, ok := got["catalog"]; ok {
		t.Errorf("catalog appears without $expand: %v", got)
	}

	catalog := a.mustCall(t, "GET", emV1+"/catalogs/"+cat, nil, http.StatusOK)
	got = a.mustCall(t, "GET", emV1+"/accessPackages/"+id+"?$expand=catalog", nil, http.StatusOK)
	withCatalog := emWithout(want)
	withCatalog["catalog"] = emWithout(catalog, "@odata.context")
	emSame(t, "package with $expand=catalog", withCatalog, got)

	got = a.mustCall(t, "GET", emV1+"/accessPackages('"+id+"')?$expand=catalog", nil, http.StatusOK)
	emSame(t, "package by key syntax", withCatalog, got)

	list := a.mustCall(t, "GET", emV1+"/catalogs/"+cat+"/accessPackages", nil, http.StatusOK)
	if list["@odata.context"] != a.context("v1.0", "catalogs('"+cat+"')/accessPackages", false) {
		t.Errorf("catalog packages @odata.context %v", list["@odata.context"])
	}
	emSame(t, "packages of the catalog", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))
	list = a.mustCall(t, "GET", emV1+"/catalogs/"+other+"/accessPackages", nil, http.StatusOK)
	if items := emValue(t, list); len(items) != 0 {
		t.Errorf("another catalog lists the package: %v", items)
	}
	list = a.mustCall(t, "GET", emV1+"/accessPackages?$expand=catalog", nil, http.StatusOK)
	emSame(t, "all packages with $expand=catalog", []map[string]any{emWithout(withCatalog, "@odata.context")}, emValue(t, list))

	resp, body := a.call(t, "PATCH", emV1+"/accessPackages/"+id, map[string]any{"displayName": "Sales apps", "isHidden": false})
	wantStatus(t, resp, http.StatusNoContent)
	if body != nil {
		t.Errorf("PATCH answered a body: %v", body)
	}
	got = a.mustCall(t, "GET", emV1+"/accessPackages/"+id, nil, http.StatusOK)
	if got["displayName"] != "Sales apps" || got["isHidden"] != false || got["description"] != "CRM and forecasting" {
		t.Errorf("after PATCH: %v", got)
	}
	// A PATCH naming the package's own catalog is no move and is accepted.
	a.mustCall(t, "PATCH", emV1+"/accessPackages/"+id, map[string]any{"catalog": map[string]any{"id": cat}}, http.StatusNoContent)
	// Moving is moveToCatalog's job, not PATCH's.
	a.refused(t, "PATCH", emV1+"/accessPackages/"+id, map[string]any{"catalog": map[string]any{"id": other}}, "catalog")

	a.mustCall(t, "DELETE", emV1+"/accessPackages/"+id, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", emV1+"/accessPackages/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

func TestV1AccessPackageRefusals(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	for _, tc := range []struct {
		name  string
		body  any
		parts []string
	}{
		{"unknown catalog id", map[string]any{"displayName": "x", "catalog": map[string]any{"id": "no-such-catalog"}}, []string{"catalog", "no-such-catalog"}},
		{"no catalog", map[string]any{"displayName": "x"}, []string{"catalog"}},
		{"catalog without id", map[string]any{"displayName": "x", "catalog": map[string]any{}}, []string{"catalog"}},
		{"catalog id a number", map[string]any{"displayName": "x", "catalog": map[string]any{"id": 7}}, []string{"catalog"}},
		{"catalog a string", map[string]any{"displayName": "x", "catalog": cat}, []string{"catalog"}},
		{"no displayName", map[string]any{"catalog": map[string]any{"id": cat}}, []string{"displayName"}},
		{"unknown property", map[string]any{"displayName": "x", "catalog": map[string]any{"id": cat}, "resources": []any{}}, []string{"resources"}},
	} {
		t.Run(tc.name, func(t *testing.T) { a.refused(t, "POST", emV1+"/accessPackages", tc.body, tc.parts...) })
	}

	pkg := a.accessPackage(t, cat, "Sales tools")
	t.Run("$expand=bogus", func(t *testing.T) {
		a.refused(t, "GET", emV1+"/accessPackages/"+pkg+"?$expand=bogus", nil, "bogus")
		a.refused(t, "GET", emV1+"/accessPackages?$expand=bogus", nil, "bogus")
	})
	t.Run("packages of an unknown catalog", func(t *testing.T) {
		resp, _ := a.call(t, "GET", emV1+"/catalogs/no-such-catalog/accessPackages", nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	t.Run("PATCH unknown package", func(t *testing.T) {
		resp, _ := a.call(t, "PATCH", emV1+"/accessPackages/no-such-package", map[string]any{"displayName": "x"})
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	t.Run("DELETE unknown package", func(t *testing.T) {
		resp, _ := a.call(t, "DELETE", emV1+"/accessPackages/no-such-package", nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}

func TestV1AccessPackageDeleteWithPolicyIsConflict(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	pkg := a.accessPackage(t, cat, "Sales tools")
	pol := a.policy(t, emMinimalPolicy(pkg, "Employees"))

	resp, _ := a.call(t, "DELETE", emV1+"/accessPackages/"+pkg, nil)
	wantError(t, resp, http.StatusConflict, "conflict")
	a.mustCall(t, "GET", emV1+"/accessPackages/"+pkg, nil, http.StatusOK)

	a.mustCall(t, "DELETE", emV1+"/assignmentPolicies/"+pol, nil, http.StatusNoContent)
	a.mustCall(t, "DELETE", emV1+"/accessPackages/"+pkg, nil, http.StatusNoContent)
}

// ------------------------------------------------ custom workflow extensions

// emExtensionWant is the answer for emRequestExtension.
func emExtensionWant(a *emAPI, catalogID, name string) map[string]any {
	return map[string]any{
		"@odata.context": a.context("v1.0", "catalogs('"+catalogID+"')/customWorkflowExtensions", true),
		"@odata.type":    "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName":    name,
		"description":    "Checks separation of duties",
		"endpointConfiguration": map[string]any{
			"@odata.type":          "#microsoft.graph.logicAppTriggerEndpointConfiguration",
			"subscriptionId":       "38ab2ccc-3747-4567-b36b-9478f5602f0d",
			"resourceGroupName":    "EMResourceGroup",
			"logicAppWorkflowName": "SodCheck",
			"url":                  "https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=secret",
		},
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication",
		},
		"clientConfiguration": map[string]any{
			"@odata.type":           "#microsoft.graph.customExtensionClientConfiguration",
			"timeoutInMilliseconds": float64(1000),
			"maximumRetries":        float64(1),
		},
		"callbackConfiguration": map[string]any{
			"@odata.type":     "#microsoft.graph.customExtensionCallbackConfiguration",
			"timeoutDuration": "PT1H",
		},
	}
}

func TestV1ExtensionRequestWorkflowShape(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	base := emV1 + "/catalogs/" + cat + "/customWorkflowExtensions"

	created := a.mustCall(t, "POST", base, emRequestExtension("SoD check"), http.StatusCreated)
	want := emExtensionWant(a, cat, "SoD check")
	emCopy(t, want, created, "id", "createdBy", "createdDateTime", "lastModifiedBy", "lastModifiedDateTime")
	emTime(t, created, "createdDateTime")
	emSame(t, "created extension", want, created)
	id := emID(t, created)

	got := a.mustCall(t, "GET", base+"/"+id, nil, http.StatusOK)
	emSame(t, "read extension", want, got)
	cb, _ := got["callbackConfiguration"].(map[string]any)
	if cb["timeoutDuration"] != "PT1H" {
		t.Errorf("callbackConfiguration.timeoutDuration %v, want PT1H", cb["timeoutDuration"])
	}
	if _, ok := cb["durationBeforeTimeout"]; ok {
		t.Errorf("callbackConfiguration emits the input-only name durationBeforeTimeout: %v", cb)
	}

	got = a.mustCall(t, "GET", emV1+"/catalogs('"+cat+"')/customWorkflowExtensions('"+id+"')", nil, http.StatusOK)
	emSame(t, "read extension by key syntax", want, got)

	list := a.mustCall(t, "GET", base, nil, http.StatusOK)
	if list["@odata.context"] != a.context("v1.0", "catalogs('"+cat+"')/customWorkflowExtensions", false) {
		t.Errorf("list @odata.context %v", list["@odata.context"])
	}
	emSame(t, "listed extensions", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))
}

func TestV1ExtensionHTTPEndpointWithBearerToken(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	base := emV1 + "/catalogs/" + cat + "/customWorkflowExtensions"

	body := map[string]any{
		"@odata.type": "accessPackageAssignmentRequestWorkflowExtension", // no # and no namespace
		"displayName": "Ticketing",
		"endpointConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.httpRequestEndpoint",
			"targetUrl":   "http://127.0.0.1:9/hook",
		},
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.azureAdTokenAuthentication",
			"resourceId":  "api://ticketing",
		},
	}
	created := a.mustCall(t, "POST", base, body, http.StatusCreated)
	want := map[string]any{
		"@odata.context": a.context("v1.0", "catalogs('"+cat+"')/customWorkflowExtensions", true),
		"@odata.type":    "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName":    "Ticketing",
		"description":    nil,
		"endpointConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.httpRequestEndpoint",
			"targetUrl":   "http://127.0.0.1:9/hook",
		},
		"authenticationConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.azureAdTokenAuthentication",
			"resourceId":  "api://ticketing",
		},
		"clientConfiguration":   nil,
		"callbackConfiguration": nil, // launch and continue
	}
	emCopy(t, want, created, "id", "createdBy", "createdDateTime", "lastModifiedBy", "lastModifiedDateTime")
	emSame(t, "http endpoint extension", want, created)
	emSame(t, "read http endpoint extension", want, a.mustCall(t, "GET", base+"/"+emID(t, created), nil, http.StatusOK))

	noResource := emClone(t, body)
	delete(noResource["authenticationConfiguration"].(map[string]any), "resourceId")
	a.refused(t, "POST", base, noResource, "resourceId")
}

func TestV1ExtensionRefusals(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	base := emV1 + "/catalogs/" + cat + "/customWorkflowExtensions"

	type mutate func(m map[string]any)
	sub := func(m map[string]any, key string) map[string]any { return m[key].(map[string]any) }
	for _, tc := range []struct {
		name   string
		start  func(string) map[string]any
		change mutate
		parts  []string
	}{
		{"missing @odata.type", emRequestExtension, func(m map[string]any) { delete(m, "@odata.type") }, []string{"@odata.type"}},
		{"unknown @odata.type", emRequestExtension, func(m map[string]any) { m["@odata.type"] = "#microsoft.graph.customCalloutExtension" }, []string{"@odata.type", "customCalloutExtension"}},
		{"logic app without url", emRequestExtension, func(m map[string]any) { delete(sub(m, "endpointConfiguration"), "url") }, []string{"endpointConfiguration.url"}},
		{"logic app with targetUrl", emRequestExtension, func(m map[string]any) { sub(m, "endpointConfiguration")["targetUrl"] = "https://x.test" }, []string{"targetUrl"}},
		{"http endpoint without targetUrl", emAssignmentExtension, func(m map[string]any) { delete(sub(m, "endpointConfiguration"), "targetUrl") }, []string{"endpointConfiguration.targetUrl"}},
		{"endpoint without @odata.type", emRequestExtension, func(m map[string]any) { delete(sub(m, "endpointConfiguration"), "@odata.type") }, []string{"endpointConfiguration.@odata.type"}},
		{"unknown endpoint type", emRequestExtension, func(m map[string]any) {
			sub(m, "endpointConfiguration")["@odata.type"] = "#microsoft.graph.ftpEndpoint"
		}, []string{"endpointConfiguration", "ftpEndpoint"}},
		{"no endpointConfiguration", emRequestExtension, func(m map[string]any) { delete(m, "endpointConfiguration") }, []string{"endpointConfiguration"}},
		{"no authenticationConfiguration", emRequestExtension, func(m map[string]any) { delete(m, "authenticationConfiguration") }, []string{"authenticationConfiguration"}},
		{"authentication without @odata.type", emRequestExtension, func(m map[string]any) { m["authenticationConfiguration"] = map[string]any{} }, []string{"authenticationConfiguration.@odata.type"}},
		{"unknown authentication type", emRequestExtension, func(m map[string]any) {
			m["authenticationConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.basicAuthentication"}
		}, []string{"authenticationConfiguration", "basicAuthentication"}},
		{"pop token with resourceId", emRequestExtension, func(m map[string]any) { sub(m, "authenticationConfiguration")["resourceId"] = "x" }, []string{"resourceId"}},
		{"bearer token without resourceId", emAssignmentExtension, func(m map[string]any) { delete(sub(m, "authenticationConfiguration"), "resourceId") }, []string{"authenticationConfiguration.resourceId"}},
		{"no displayName", emRequestExtension, func(m map[string]any) { delete(m, "displayName") }, []string{"displayName"}},
		{"timeoutInMilliseconds 199", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["timeoutInMilliseconds"] = 199 }, []string{"timeoutInMilliseconds", "199"}},
		{"timeoutInMilliseconds 2001", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["timeoutInMilliseconds"] = 2001 }, []string{"timeoutInMilliseconds", "2001"}},
		{"timeoutInMilliseconds fractional", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["timeoutInMilliseconds"] = 500.5 }, []string{"timeoutInMilliseconds"}},
		{"maximumRetries 2", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["maximumRetries"] = 2 }, []string{"maximumRetries", "2"}},
		{"maximumRetries -1", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["maximumRetries"] = -1 }, []string{"maximumRetries", "-1"}},
		{"timeoutDuration PT4M", emRequestExtension, func(m map[string]any) {
			m["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT4M"}
		}, []string{"callbackConfiguration.timeoutDuration", "PT4M"}},
		{"timeoutDuration P15D", emRequestExtension, func(m map[string]any) { sub(m, "callbackConfiguration")["durationBeforeTimeout"] = "P15D" }, []string{"callbackConfiguration.timeoutDuration", "P15D"}},
		{"callback without a duration", emRequestExtension, func(m map[string]any) {
			m["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration"}
		}, []string{"callbackConfiguration.timeoutDuration"}},
		{"callback names that disagree", emRequestExtension, func(m map[string]any) { sub(m, "callbackConfiguration")["timeoutDuration"] = "PT2H" }, []string{"timeoutDuration", "durationBeforeTimeout"}},
		{"unknown callback type", emRequestExtension, func(m map[string]any) {
			sub(m, "callbackConfiguration")["@odata.type"] = "#microsoft.graph.identityGovernance.customTaskExtensionCallbackConfiguration"
		}, []string{"callbackConfiguration.@odata.type"}},
		{"callback on an assignment-workflow extension", emAssignmentExtension, func(m map[string]any) {
			m["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"}
		}, []string{"callbackConfiguration", "accessPackageAssignmentWorkflowExtension"}},
		{"ftp url", emRequestExtension, func(m map[string]any) { sub(m, "endpointConfiguration")["url"] = "ftp://files.contoso.test/hook" }, []string{"endpointConfiguration.url", "ftp://"}},
		{"relative url", emRequestExtension, func(m map[string]any) { sub(m, "endpointConfiguration")["url"] = "/hook" }, []string{"endpointConfiguration.url"}},
		{"ftp targetUrl", emAssignmentExtension, func(m map[string]any) { sub(m, "endpointConfiguration")["targetUrl"] = "ftp://files.contoso.test/hook" }, []string{"endpointConfiguration.targetUrl"}},
		{"duration \"1 hour\"", emRequestExtension, func(m map[string]any) { sub(m, "callbackConfiguration")["durationBeforeTimeout"] = "1 hour" }, []string{"callbackConfiguration", "1 hour"}},
		{"unknown property", emRequestExtension, func(m map[string]any) { m["isEnabled"] = true }, []string{"isEnabled"}},
		{"unknown nested property", emRequestExtension, func(m map[string]any) { sub(m, "clientConfiguration")["retryDelay"] = 5 }, []string{"retryDelay"}},
		{"clientConfiguration a string", emRequestExtension, func(m map[string]any) { m["clientConfiguration"] = "fast" }, []string{"clientConfiguration"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.start("Ext")
			tc.change(body)
			a.refused(t, "POST", base, body, tc.parts...)
		})
	}
	if items := emValue(t, a.mustCall(t, "GET", base, nil, http.StatusOK)); len(items) != 0 {
		t.Errorf("refused extensions were stored: %v", items)
	}
}

// The documentation's create example wraps the extension in "value"; the real
// service refuses it, and so does accessd.
func TestV1ExtensionDocumentationValueWrapperIsRefused(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	a.refused(t, "POST", emV1+"/catalogs/"+cat+"/customWorkflowExtensions",
		map[string]any{"value": emRequestExtension("Wrapped")}, "'value'", "not known")
}

func TestV1ExtensionLimitsAccepted(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	base := emV1 + "/catalogs/" + cat + "/customWorkflowExtensions"
	for _, tc := range []struct {
		name                  string
		timeout, retries      int
		duration, wantEmitted string
	}{
		{"lowest", 200, 0, "PT5M", "PT5M"},
		{"highest", 2000, 1, "P14D", "P14D"},
		{"two weeks", 1000, 1, "P2W", "P14D"},
		{"minutes", 1000, 0, "PT90M", "PT1H30M"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := emRequestExtension(tc.name)
			body["clientConfiguration"] = map[string]any{"timeoutInMilliseconds": tc.timeout, "maximumRetries": tc.retries}
			body["callbackConfiguration"] = map[string]any{
				"@odata.type":     "#microsoft.graph.customExtensionCallbackConfiguration",
				"timeoutDuration": tc.duration,
			}
			got := a.mustCall(t, "POST", base, body, http.StatusCreated)
			want := map[string]any{
				"@odata.type":           "#microsoft.graph.customExtensionClientConfiguration",
				"timeoutInMilliseconds": float64(tc.timeout),
				"maximumRetries":        float64(tc.retries),
			}
			emSame(t, "clientConfiguration", want, got["clientConfiguration"])
			emSame(t, "callbackConfiguration", map[string]any{
				"@odata.type":     "#microsoft.graph.customExtensionCallbackConfiguration",
				"timeoutDuration": tc.wantEmitted,
			}, got["callbackConfiguration"])
		})
	}
	t.Run("approval stage callback configuration", func(t *testing.T) {
		body := emRequestExtension("approval")
		body["callbackConfiguration"] = map[string]any{
			"@odata.type":     "#microsoft.graph.accessPackageRequestApprovalStageCallbackConfiguration",
			"timeoutDuration": "PT10M",
		}
		got := a.mustCall(t, "POST", base, body, http.StatusCreated)
		emSame(t, "callbackConfiguration", map[string]any{
			"@odata.type":     "#microsoft.graph.accessPackageRequestApprovalStageCallbackConfiguration",
			"timeoutDuration": "PT10M",
		}, got["callbackConfiguration"])
	})
}

// A duration far beyond P14D must not pass the PT5M–P14D check because its
// length overflows time.Duration.
func TestV1ExtensionHugeTimeoutDurationIsRefused(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	body := emRequestExtension("Forever")
	body["callbackConfiguration"] = map[string]any{
		"@odata.type":     "#microsoft.graph.customExtensionCallbackConfiguration",
		"timeoutDuration": "P584Y345D",
	}
	a.refused(t, "POST", emV1+"/catalogs/"+cat+"/customWorkflowExtensions", body, "callbackConfiguration.timeoutDuration")
}

func TestV1ExtensionReplace(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	other := a.catalog(t, "Marketing")
	base := emV1 + "/catalogs/" + cat + "/customWorkflowExtensions"
	created := a.mustCall(t, "POST", base, emRequestExtension("SoD check"), http.StatusCreated)
	id := emID(t, created)

	// PUT replaces: a body without clientConfiguration and callbackConfiguration
	// leaves none, and answers 200 with the object.
	put := map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName": "SoD check v2",
		"endpointConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.httpRequestEndpoint",
			"targetUrl":   "https://sod.contoso.test/check",
		},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
	}
	got := a.mustCall(t, "PUT", base+"/"+id, put, http.StatusOK)
	want := map[string]any{
		"@odata.context": a.context("v1.0", "catalogs('"+cat+"')/customWorkflowExtensions", true),
		"@odata.type":    "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"id":             id,
		"displayName":    "SoD check v2",
		"description":    nil,
		"endpointConfiguration": map[string]any{
			"@odata.type": "#microsoft.graph.httpRequestEndpoint",
			"targetUrl":   "https://sod.contoso.test/check",
		},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		"clientConfiguration":         nil,
		"callbackConfiguration":       nil,
		"createdBy":                   created["createdBy"],
		"createdDateTime":             created["createdDateTime"],
	}
	emCopy(t, want, got, "lastModifiedBy", "lastModifiedDateTime")
	emSame(t, "PUT answer", want, got)
	emSame(t, "GET after PUT", want, a.mustCall(t, "GET", base+"/"+id, nil, http.StatusOK))

	// GET-modify-PUT: the whole GET body, annotations and read-only properties included.
	back := a.mustCall(t, "GET", base+"/"+id, nil, http.StatusOK)
	back["displayName"] = "SoD check v3"
	got = a.mustCall(t, "PUT", base+"/"+id, back, http.StatusOK)
	if got["displayName"] != "SoD check v3" || got["id"] != id || got["createdDateTime"] != created["createdDateTime"] {
		t.Errorf("GET-modify-PUT answer: %v", got)
	}

	t.Run("changing @odata.type", func(t *testing.T) {
		b := emAssignmentExtension("Now an assignment extension")
		a.refused(t, "PUT", base+"/"+id, b, "@odata.type")
		if got := a.mustCall(t, "GET", base+"/"+id, nil, http.StatusOK); got["@odata.type"] != "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension" {
			t.Errorf("type changed: %v", got)
		}
	})
	t.Run("PUT without @odata.type", func(t *testing.T) {
		b := emClone(t, put)
		delete(b, "@odata.type")
		a.refused(t, "PUT", base+"/"+id, b, "@odata.type")
	})
	t.Run("through another catalog", func(t *testing.T) {
		otherPath := emV1 + "/catalogs/" + other + "/customWorkflowExtensions/" + id
		resp, _ := a.call(t, "GET", otherPath, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = a.call(t, "PUT", otherPath, put)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = a.call(t, "DELETE", otherPath, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = a.call(t, "GET", emV1+"/catalogs/no-such-catalog/customWorkflowExtensions/"+id, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		if items := emValue(t, a.mustCall(t, "GET", emV1+"/catalogs/"+other+"/customWorkflowExtensions", nil, http.StatusOK)); len(items) != 0 {
			t.Errorf("another catalog lists the extension: %v", items)
		}
	})
	t.Run("unknown extension", func(t *testing.T) {
		resp, _ := a.call(t, "PUT", base+"/no-such-extension", put)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = a.call(t, "GET", base+"/no-such-extension", nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	t.Run("PATCH is not the update verb", func(t *testing.T) {
		resp, _ := a.call(t, "PATCH", base+"/"+id, map[string]any{"displayName": "x"})
		wantError(t, resp, http.StatusMethodNotAllowed, "methodNotAllowed")
	})
}

func TestV1ExtensionDeleteWhileBoundIsConflict(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	body := emMinimalPolicy(w.pkg, "Employees")
	body["customExtensionStageSettings"] = []any{
		map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": w.requestExtension}},
		map[string]any{"stage": "assignmentRequestGranted", "customExtension": map[string]any{"id": w.requestExtension}},
	}
	pol := a.policy(t, body)
	extPath := emV1 + "/catalogs/" + w.catalog + "/customWorkflowExtensions/" + w.requestExtension

	resp, _ := a.call(t, "DELETE", extPath, nil)
	msg := wantError(t, resp, http.StatusConflict, "conflict")
	wantMessage(t, msg, w.requestExtension)
	a.mustCall(t, "GET", extPath, nil, http.StatusOK)

	body["customExtensionStageSettings"] = []any{}
	got := a.mustCall(t, "PUT", emV1+"/assignmentPolicies/"+pol, body, http.StatusOK)
	emSame(t, "stage settings after PUT with []", []any{}, got["customExtensionStageSettings"])

	a.mustCall(t, "DELETE", extPath, nil, http.StatusNoContent)
	resp, _ = a.call(t, "GET", extPath, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = a.call(t, "DELETE", extPath, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

// Deleting a catalog takes its (unbound) extensions with it.
func TestV1CatalogDeleteRemovesItsExtensions(t *testing.T) {
	a := newEMAPI(t)
	cat := a.catalog(t, "Sales")
	id := a.extension(t, cat, emRequestExtension("SoD check"))
	a.mustCall(t, "DELETE", emV1+"/catalogs/"+cat, nil, http.StatusNoContent)
	resp, _ := a.call(t, "GET", emV1+"/catalogs/"+cat+"/customWorkflowExtensions/"+id, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
}

// --------------------------------------------------------- assignment policies

// emFullPolicy is a policy with every part the v1.0 API describes.
func emFullPolicy(w emWorld, alice, bob, carol string) map[string]any {
	return map[string]any{
		"displayName":        "Sales employees",
		"description":        "Requests by sales staff",
		"accessPackage":      map[string]any{"id": w.pkg},
		"allowedTargetScope": "specificDirectoryUsers",
		"specificAllowedTargets": []any{
			map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": alice, "description": "Alice"},
			map[string]any{"@odata.type": "microsoft.graph.singleUser", "userId": bob},
		},
		"expiration": map[string]any{"type": "afterDuration", "duration": "P30D"},
		"requestorSettings": map[string]any{
			"enableTargetsToSelfAddAccess":           true,
			"enableTargetsToSelfUpdateAccess":        false,
			"enableTargetsToSelfRemoveAccess":        true,
			"allowCustomAssignmentSchedule":          true,
			"enableOnBehalfRequestorsToAddAccess":    false,
			"enableOnBehalfRequestorsToUpdateAccess": false,
			"enableOnBehalfRequestorsToRemoveAccess": false,
			"onBehalfRequestors":                     []any{},
		},
		"requestApprovalSettings": map[string]any{
			"isApprovalRequiredForAdd":         true,
			"isApprovalRequiredForUpdate":      false,
			"isRequestorJustificationRequired": true,
			"stages": []any{
				map[string]any{
					"durationBeforeAutomaticDenial":   "P2D",
					"isApproverJustificationRequired": true,
					"isEscalationEnabled":             false,
					"primaryApprovers": []any{
						map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol},
					},
				},
				map[string]any{
					"durationBeforeAutomaticDenial":   "P7D",
					"isApproverJustificationRequired": false,
					"isEscalationEnabled":             true,
					"durationBeforeEscalation":        "PT8H",
					"primaryApprovers": []any{
						map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 2},
					},
					"escalationApprovers": []any{
						map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol},
					},
					"approverInformationVisibility": "Visible",
				},
			},
		},
		"notificationSettings": map[string]any{"isAssignmentNotificationDisabled": true},
		"questions": []any{
			map[string]any{
				"@odata.type":          "#microsoft.graph.accessPackageTextInputQuestion",
				"text":                 "Cost center?",
				"sequence":             1,
				"isRequired":           true,
				"isSingleLineQuestion": true,
				"regexPattern":         "^[0-9]{4}$",
				"localizations":        []any{map[string]any{"languageCode": "de", "text": "Kostenstelle?"}},
			},
			map[string]any{
				"@odata.type":                "#microsoft.graph.accessPackageMultipleChoiceQuestion",
				"text":                       "Region?",
				"sequence":                   2,
				"isMultipleSelectionAllowed": false,
				"choices": []any{
					map[string]any{"actualValue": "emea", "text": "Europe"},
					map[string]any{"actualValue": "amer", "text": "Americas"},
				},
			},
		},
		"customExtensionStageSettings": []any{
			map[string]any{
				"stage":           "assignmentRequestCreated",
				"customExtension": map[string]any{"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": w.requestExtension},
			},
			map[string]any{
				"stage":           "AssignmentOneDayBeforeExpiration", // enum case-insensitive
				"customExtension": map[string]any{"id": w.assignmentExtension},
			},
		},
	}
}

// emFullPolicyWant is what a GET without $expand answers for emFullPolicy.
func emFullPolicyWant(a *emAPI, w emWorld, alice, bob, carol string) map[string]any {
	none := []any{}
	return map[string]any{
		"@odata.context":     a.context("v1.0", "assignmentPolicies", true),
		"displayName":        "Sales employees",
		"description":        "Requests by sales staff",
		"allowedTargetScope": "specificDirectoryUsers",
		"specificAllowedTargets": []any{
			map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": alice, "description": "Alice"},
			map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": bob},
		},
		"expiration": map[string]any{"type": "afterDuration", "duration": "P30D", "endDateTime": nil},
		"requestorSettings": map[string]any{
			"enableTargetsToSelfAddAccess":           true,
			"enableTargetsToSelfUpdateAccess":        false,
			"enableTargetsToSelfRemoveAccess":        true,
			"allowCustomAssignmentSchedule":          true,
			"enableOnBehalfRequestorsToAddAccess":    false,
			"enableOnBehalfRequestorsToUpdateAccess": false,
			"enableOnBehalfRequestorsToRemoveAccess": false,
			"onBehalfRequestors":                     none,
		},
		"requestApprovalSettings": map[string]any{
			"isApprovalRequiredForAdd":         true,
			"isApprovalRequiredForUpdate":      false,
			"isRequestorJustificationRequired": true,
			"stages": []any{
				map[string]any{
					"durationBeforeAutomaticDenial":   "P2D",
					"isApproverJustificationRequired": true,
					"isEscalationEnabled":             false,
					"durationBeforeEscalation":        nil,
					"primaryApprovers":                []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol}},
					"fallbackPrimaryApprovers":        none,
					"escalationApprovers":             none,
					"fallbackEscalationApprovers":     none,
					"approverInformationVisibility":   "default",
				},
				map[string]any{
					"durationBeforeAutomaticDenial":   "P7D",
					"isApproverJustificationRequired": false,
					"isEscalationEnabled":             true,
					"durationBeforeEscalation":        "PT8H",
					"primaryApprovers":                []any{map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": float64(2)}},
					"fallbackPrimaryApprovers":        none,
					"escalationApprovers":             []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol}},
					"fallbackEscalationApprovers":     none,
					"approverInformationVisibility":   "visible",
				},
			},
		},
		"reviewSettings":       nil,
		"notificationSettings": map[string]any{"isAssignmentNotificationDisabled": true},
	}
}

// emPolicyUsers makes the three users a full policy names.
func emPolicyUsers(t *testing.T, a *emAPI) (alice, bob, carol string) {
	return a.newUser(t, "alice@contoso.test").ID, a.newUser(t, "bob@contoso.test").ID, a.newUser(t, "carol@contoso.test").ID
}

func TestV1PolicyCreateAndExpand(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	alice, bob, carol := emPolicyUsers(t, a)

	created := a.mustCall(t, "POST", emV1+"/assignmentPolicies", emFullPolicy(w, alice, bob, carol), http.StatusCreated)
	id := emID(t, created)
	want := emFullPolicyWant(a, w, alice, bob, carol)
	emCopy(t, want, created, "id", "createdDateTime", "modifiedDateTime")
	emTime(t, created, "createdDateTime")

	// POST answers with what it stored, bindings and questions included.
	settings, _ := created["customExtensionStageSettings"].([]any)
	questions, _ := created["questions"].([]any)
	if len(settings) != 2 || len(questions) != 2 {
		t.Fatalf("POST answer has %d stage settings and %d questions, want 2 and 2: %v", len(settings), len(questions), created)
	}
	emSame(t, "POST answer without navigation properties", want, emWithout(created, "customExtensionStageSettings", "questions"))

	got := a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id, nil, http.StatusOK)
	emSame(t, "GET without $expand", want, got)
	for _, k := range []string{"customExtensionStageSettings", "questions", "accessPackage", "catalog"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s appears without $expand", k)
		}
	}

	got = a.mustCall(t, "GET", emV1+"/assignmentPolicies('"+id+"')", nil, http.StatusOK)
	emSame(t, "GET by key syntax", want, got)

	extPath := emV1 + "/catalogs/" + w.catalog + "/customWorkflowExtensions/"
	reqExt := emWithout(a.mustCall(t, "GET", extPath+w.requestExtension, nil, http.StatusOK), "@odata.context")
	asgExt := emWithout(a.mustCall(t, "GET", extPath+w.assignmentExtension, nil, http.StatusOK), "@odata.context")

	got = a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id+"?$expand=customExtensionStageSettings($expand=customExtension),questions", nil, http.StatusOK)
	gotSettings, _ := got["customExtensionStageSettings"].([]any)
	gotQuestions, _ := got["questions"].([]any)
	if len(gotSettings) != 2 || len(gotQuestions) != 2 {
		t.Fatalf("expanded GET has %d stage settings and %d questions, want 2 and 2: %v", len(gotSettings), len(gotQuestions), got)
	}
	wantSettings := []any{
		map[string]any{"stage": "assignmentRequestCreated", "customExtension": reqExt},
		map[string]any{"stage": "assignmentOneDayBeforeExpiration", "customExtension": asgExt},
	}
	for i := range wantSettings {
		emCopy(t, wantSettings[i].(map[string]any), gotSettings[i].(map[string]any), "id")
	}
	wantQuestions := []any{
		map[string]any{
			"@odata.type":          "#microsoft.graph.accessPackageTextInputQuestion",
			"text":                 "Cost center?",
			"sequence":             float64(1),
			"isRequired":           true,
			"isAnswerEditable":     false,
			"isSingleLineQuestion": true,
			"regexPattern":         "^[0-9]{4}$",
			"localizations":        []any{map[string]any{"languageCode": "de", "text": "Kostenstelle?"}},
		},
		map[string]any{
			"@odata.type":                "#microsoft.graph.accessPackageMultipleChoiceQuestion",
			"text":                       "Region?",
			"sequence":                   float64(2),
			"isRequired":                 false,
			"isAnswerEditable":           false,
			"isMultipleSelectionAllowed": false,
			"localizations":              []any{},
			"choices": []any{
				map[string]any{"actualValue": "emea", "text": "Europe", "localizations": []any{}},
				map[string]any{"actualValue": "amer", "text": "Americas", "localizations": []any{}},
			},
		},
	}
	for i := range wantQuestions {
		emCopy(t, wantQuestions[i].(map[string]any), gotQuestions[i].(map[string]any), "id")
	}
	wantExpanded := emWithout(want)
	wantExpanded["customExtensionStageSettings"] = wantSettings
	wantExpanded["questions"] = wantQuestions
	emSame(t, "GET with $expand of both", wantExpanded, got)
	emSame(t, "POST answer", wantExpanded, created)

	got = a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id+"?$expand=customExtensionStageSettings", nil, http.StatusOK)
	settingsOnly := emWithout(want)
	settingsOnly["customExtensionStageSettings"] = []any{
		emWithout(wantSettings[0].(map[string]any), "customExtension"),
		emWithout(wantSettings[1].(map[string]any), "customExtension"),
	}
	emSame(t, "GET with $expand=customExtensionStageSettings", settingsOnly, got)

	got = a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id+"?$expand=accessPackage,catalog", nil, http.StatusOK)
	pkg := emWithout(a.mustCall(t, "GET", emV1+"/accessPackages/"+w.pkg, nil, http.StatusOK), "@odata.context")
	cat := emWithout(a.mustCall(t, "GET", emV1+"/catalogs/"+w.catalog, nil, http.StatusOK), "@odata.context")
	emSame(t, "expanded accessPackage", pkg, got["accessPackage"])
	emSame(t, "expanded catalog", cat, got["catalog"])

	// The package's own policy list holds the policy too.
	list := a.mustCall(t, "GET", emV1+"/accessPackages/"+w.pkg+"/assignmentPolicies", nil, http.StatusOK)
	if list["@odata.context"] != a.context("v1.0", "accessPackages('"+w.pkg+"')/assignmentPolicies", false) {
		t.Errorf("package policies @odata.context %v", list["@odata.context"])
	}
	emSame(t, "policies of the package", []map[string]any{emWithout(want, "@odata.context")}, emValue(t, list))

	a.refused(t, "GET", emV1+"/assignmentPolicies/"+id+"?$expand=bogus", nil, "bogus")
}

// Unknown navigation properties inside a nested $expand must be refused like
// top-level ones, not silently ignored.
func TestV1PolicyNestedExpandOfUnknownPropertyIsRefused(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	id := a.policy(t, emMinimalPolicy(w.pkg, "Employees"))
	a.refused(t, "GET", emV1+"/assignmentPolicies/"+id+"?$expand=customExtensionStageSettings($expand=bogus)", nil, "bogus")
}

func TestV1PolicyReplace(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	alice, bob, carol := emPolicyUsers(t, a)
	full := emFullPolicy(w, alice, bob, carol)
	id := a.policy(t, full)
	path := emV1 + "/assignmentPolicies/" + id
	expand := "?$expand=customExtensionStageSettings($expand=customExtension),questions"

	t.Run("GET-modify-PUT of an expanded GET keeps everything", func(t *testing.T) {
		before := a.mustCall(t, "GET", path+expand, nil, http.StatusOK)
		back := emClone(t, before)
		back["displayName"] = "Renamed"
		got := a.mustCall(t, "PUT", path, back, http.StatusOK)
		want := emClone(t, before)
		want["displayName"] = "Renamed"
		want["modifiedDateTime"] = got["modifiedDateTime"]
		emSame(t, "PUT answer", want, got)
		emSame(t, "GET after PUT", want, a.mustCall(t, "GET", path+expand, nil, http.StatusOK))
	})

	t.Run("PUT is a full replace", func(t *testing.T) {
		body := emClone(t, full)
		delete(body, "questions")
		delete(body, "notificationSettings")
		body["customExtensionStageSettings"] = []any{body["customExtensionStageSettings"].([]any)[1]}
		got := a.mustCall(t, "PUT", path, body, http.StatusOK)
		if q, _ := got["questions"].([]any); q == nil || len(q) != 0 {
			t.Errorf("questions after a PUT without them: %v", got["questions"])
		}
		if s, _ := got["customExtensionStageSettings"].([]any); len(s) != 1 || s[0].(map[string]any)["stage"] != "assignmentOneDayBeforeExpiration" {
			t.Errorf("stage settings after PUT: %v", got["customExtensionStageSettings"])
		}
		got = a.mustCall(t, "GET", path+expand, nil, http.StatusOK)
		emSame(t, "questions after PUT", []any{}, got["questions"])
		if got["notificationSettings"] != nil {
			t.Errorf("notificationSettings survived a PUT without it: %v", got["notificationSettings"])
		}
	})

	t.Run("GET-modify-PUT of a plain GET", func(t *testing.T) {
		back := a.mustCall(t, "GET", path, nil, http.StatusOK)
		for _, k := range []string{"@odata.context", "id", "createdDateTime", "modifiedDateTime"} {
			if _, ok := back[k]; !ok {
				t.Fatalf("GET body lacks %s", k)
			}
		}
		back["displayName"] = "Renamed again"
		created := back["createdDateTime"]
		got := a.mustCall(t, "PUT", path, back, http.StatusOK)
		if got["displayName"] != "Renamed again" || got["id"] != id || got["createdDateTime"] != created {
			t.Errorf("PUT answer: %v", got)
		}
		if got["@odata.context"] != a.context("v1.0", "assignmentPolicies", true) {
			t.Errorf("PUT answer @odata.context %v", got["@odata.context"])
		}
		emSame(t, "allowed targets after round trip", emFullPolicyWant(a, w, alice, bob, carol)["specificAllowedTargets"], got["specificAllowedTargets"])
		emSame(t, "approval settings after round trip", emFullPolicyWant(a, w, alice, bob, carol)["requestApprovalSettings"], got["requestApprovalSettings"])
	})

	t.Run("PUT without accessPackage keeps the package", func(t *testing.T) {
		body := emMinimalPolicy("", "No package named")
		delete(body, "accessPackage")
		got := a.mustCall(t, "PUT", path+"?$expand=accessPackage", body, http.StatusOK)
		if got["displayName"] != "No package named" {
			t.Errorf("PUT answer: %v", got)
		}
		list := a.mustCall(t, "GET", emV1+"/accessPackages/"+w.pkg+"/assignmentPolicies", nil, http.StatusOK)
		if ids := emIDs(emValue(t, list)); len(ids) != 1 || ids[0] != id {
			t.Errorf("policies of the package after PUT: %v", ids)
		}
	})

	t.Run("PUT moving to another package", func(t *testing.T) {
		other := a.accessPackage(t, w.catalog, "Other")
		a.refused(t, "PUT", path, emMinimalPolicy(other, "Moved"), "accessPackage")
	})
	t.Run("PUT of an unknown policy", func(t *testing.T) {
		resp, _ := a.call(t, "PUT", emV1+"/assignmentPolicies/no-such-policy", emMinimalPolicy(w.pkg, "x"))
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	t.Run("refused PUT changes nothing", func(t *testing.T) {
		before := a.mustCall(t, "GET", path, nil, http.StatusOK)
		body := emMinimalPolicy(w.pkg, "Broken")
		body["allowedTargetScope"] = "everyone"
		a.refused(t, "PUT", path, body, "allowedTargetScope")
		emSame(t, "policy after refused PUT", before, a.mustCall(t, "GET", path, nil, http.StatusOK))
	})
	t.Run("PATCH is not the update verb", func(t *testing.T) {
		resp, _ := a.call(t, "PATCH", path, map[string]any{"displayName": "x"})
		wantError(t, resp, http.StatusMethodNotAllowed, "methodNotAllowed")
	})
	t.Run("DELETE", func(t *testing.T) {
		a.mustCall(t, "DELETE", emV1+"/assignmentPolicies('"+id+"')", nil, http.StatusNoContent)
		resp, _ := a.call(t, "GET", path, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = a.call(t, "DELETE", path, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}

func TestV1PolicyRefusals(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	otherCatalog := a.catalog(t, "Marketing")
	foreignExtension := a.extension(t, otherCatalog, emRequestExtension("Marketing check"))
	alice := a.newUser(t, "alice@contoso.test").ID

	stage := func(approvers ...any) map[string]any {
		if len(approvers) == 0 {
			approvers = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": alice}}
		}
		return map[string]any{"durationBeforeAutomaticDenial": "P2D", "primaryApprovers": approvers}
	}
	binding := func(stage, ext string) map[string]any {
		return map[string]any{"stage": stage, "customExtension": map[string]any{"id": ext}}
	}
	approval := func(required bool, stages ...any) map[string]any {
		if stages == nil {
			stages = []any{}
		}
		return map[string]any{"isApprovalRequiredForAdd": required, "stages": stages}
	}
	allStages := []string{"assignmentRequestCreated", "assignmentRequestApproved", "assignmentRequestGranted",
		"assignmentRequestRemoved", "assignmentFourteenDaysBeforeExpiration", "assignmentOneDayBeforeExpiration"}

	for _, tc := range []struct {
		name   string
		change func(p map[string]any)
		parts  []string
	}{
		{"automaticRequestSettings", func(p map[string]any) {
			p["automaticRequestSettings"] = map[string]any{"requestAccessForAllowedTargets": true}
		}, []string{"automaticRequestSettings"}},
		{"empty automaticRequestSettings", func(p map[string]any) { p["automaticRequestSettings"] = map[string]any{} }, []string{"automaticRequestSettings"}},
		{"stages while approval is not required", func(p map[string]any) { p["requestApprovalSettings"] = approval(false, stage()) }, []string{"requestApprovalSettings.stages"}},
		{"four stages", func(p map[string]any) {
			p["requestApprovalSettings"] = approval(true, stage(), stage(), stage(), stage())
		}, []string{"requestApprovalSettings.stages", "4"}},
		{"approval required without stages", func(p map[string]any) { p["requestApprovalSettings"] = approval(true) }, []string{"requestApprovalSettings.stages"}},
		{"stage without approvers", func(p map[string]any) {
			p["requestApprovalSettings"] = approval(true, map[string]any{"durationBeforeAutomaticDenial": "P2D", "primaryApprovers": []any{}})
		}, []string{"requestApprovalSettings.stages[0].primaryApprovers"}},
		{"stage timeout P15D", func(p map[string]any) {
			s := stage()
			s["durationBeforeAutomaticDenial"] = "P15D"
			p["requestApprovalSettings"] = approval(true, s)
		}, []string{"requestApprovalSettings.stages[0].durationBeforeAutomaticDenial"}},
		{"escalation without escalation approvers", func(p map[string]any) {
			s := stage()
			s["isEscalationEnabled"], s["durationBeforeEscalation"] = true, "PT8H"
			p["requestApprovalSettings"] = approval(true, s)
		}, []string{"requestApprovalSettings.stages[0].escalationApprovers"}},
		{"six bindings", func(p map[string]any) {
			var bs []any
			for _, s := range allStages {
				bs = append(bs, binding(s, w.requestExtension))
			}
			p["customExtensionStageSettings"] = bs
		}, []string{"customExtensionStageSettings", "5"}},
		{"two bindings for one stage", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentRequestCreated", w.requestExtension), binding("AssignmentRequestCreated", w.requestExtension)}
		}, []string{"customExtensionStageSettings[1]", "assignmentRequestCreated"}},
		{"assignment-workflow extension at a request stage", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentRequestCreated", w.assignmentExtension)}
		}, []string{"customExtensionStageSettings[0]", "assignmentRequestCreated"}},
		{"request-workflow extension at a pre-expiration stage", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentOneDayBeforeExpiration", w.requestExtension)}
		}, []string{"customExtensionStageSettings[0]", "assignmentOneDayBeforeExpiration"}},
		{"extension of another catalog", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentRequestCreated", foreignExtension)}
		}, []string{"customExtensionStageSettings[0].customExtension", foreignExtension}},
		{"unknown extension", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentRequestCreated", "no-such-extension")}
		}, []string{"customExtensionStageSettings[0].customExtension", "no-such-extension"}},
		{"binding without extension", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated"}}
		}, []string{"customExtensionStageSettings[0].customExtension"}},
		{"unknown stage", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{binding("assignmentRequestDeterminingApprovalRequirements", w.requestExtension)}
		}, []string{"customExtensionStageSettings[0].stage", "assignmentRequestDeterminingApprovalRequirements"}},
		{"subject set without @odata.type", func(p map[string]any) {
			p["allowedTargetScope"] = "specificDirectoryUsers"
			p["specificAllowedTargets"] = []any{map[string]any{"userId": alice}}
		}, []string{"specificAllowedTargets[0].@odata.type"}},
		{"unknown subject set", func(p map[string]any) {
			p["allowedTargetScope"] = "specificDirectoryUsers"
			p["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.everyone"}}
		}, []string{"specificAllowedTargets[0].@odata.type", "everyone"}},
		{"singleUser with a groupId", func(p map[string]any) {
			p["allowedTargetScope"] = "specificDirectoryUsers"
			p["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "groupId": alice}}
		}, []string{"specificAllowedTargets[0].groupId"}},
		{"singleUser without userId", func(p map[string]any) {
			p["allowedTargetScope"] = "specificDirectoryUsers"
			p["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser"}}
		}, []string{"specificAllowedTargets[0].userId"}},
		{"singleUser naming an unknown user", func(p map[string]any) {
			p["allowedTargetScope"] = "specificDirectoryUsers"
			p["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": "no-such-user"}}
		}, []string{"no-such-user"}},
		{"approver naming an unknown user", func(p map[string]any) {
			p["requestApprovalSettings"] = approval(true, stage(map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": "no-such-approver"}))
		}, []string{"no-such-approver"}},
		{"specific scope without targets", func(p map[string]any) { p["allowedTargetScope"] = "specificDirectoryUsers" }, []string{"specificAllowedTargets"}},
		{"managerLevel 3", func(p map[string]any) {
			p["requestApprovalSettings"] = approval(true, stage(map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 3}))
		}, []string{"managerLevel"}},
		{"bad allowedTargetScope", func(p map[string]any) { p["allowedTargetScope"] = "everyone" }, []string{"allowedTargetScope", "everyone"}},
		{"bad expiration type", func(p map[string]any) { p["expiration"] = map[string]any{"type": "never"} }, []string{"expiration.type", "never"}},
		{"bad duration", func(p map[string]any) {
			p["expiration"] = map[string]any{"type": "afterDuration", "duration": "30 days"}
		}, []string{"expiration.duration", "30 days"}},
		{"afterDuration without duration", func(p map[string]any) { p["expiration"] = map[string]any{"type": "afterDuration"} }, []string{"expiration.duration"}},
		{"afterDateTime without endDateTime", func(p map[string]any) { p["expiration"] = map[string]any{"type": "afterDateTime"} }, []string{"expiration.endDateTime"}},
		{"bad endDateTime", func(p map[string]any) {
			p["expiration"] = map[string]any{"type": "afterDateTime", "endDateTime": "next friday"}
		}, []string{"expiration.endDateTime"}},
		{"displayName a number", func(p map[string]any) { p["displayName"] = 5 }, []string{"displayName"}},
		{"no displayName", func(p map[string]any) { delete(p, "displayName") }, []string{"displayName"}},
		{"nested wrong type", func(p map[string]any) {
			p["requestorSettings"] = map[string]any{"enableTargetsToSelfAddAccess": "yes"}
		}, []string{"requestorSettings.enableTargetsToSelfAddAccess"}},
		{"reviewSettings not an object", func(p map[string]any) { p["reviewSettings"] = 5 }, []string{"reviewSettings"}},
		{"accessPackage unknown id", func(p map[string]any) { p["accessPackage"] = map[string]any{"id": "no-such-package"} }, []string{"no-such-package"}},
		{"no accessPackage", func(p map[string]any) { delete(p, "accessPackage") }, []string{"accessPackage"}},
		{"question without @odata.type", func(p map[string]any) { p["questions"] = []any{map[string]any{"text": "Why?"}} }, []string{"questions[0].@odata.type"}},
		{"question without text", func(p map[string]any) {
			p["questions"] = []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion"}}
		}, []string{"questions[0].text"}},
		{"multiple choice without choices", func(p map[string]any) {
			p["questions"] = []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "Which?"}}
		}, []string{"questions[0].choices"}},
		{"bad regexPattern", func(p map[string]any) {
			p["questions"] = []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Code?", "regexPattern": "([a-z"}}
		}, []string{"questions[0].regexPattern"}},
		{"unknown property", func(p map[string]any) { p["durationInDays"] = 30 }, []string{"durationInDays"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := emMinimalPolicy(w.pkg, "Employees")
			tc.change(body)
			a.refused(t, "POST", emV1+"/assignmentPolicies", body, tc.parts...)
		})
	}
	if items := emValue(t, a.mustCall(t, "GET", emV1+"/assignmentPolicies", nil, http.StatusOK)); len(items) != 0 {
		t.Errorf("refused policies were stored: %v", emIDs(items))
	}
}

// A refusal names the property at fault, also when it names an object that
// does not exist.
func TestV1PolicyUnknownReferenceNamesTheProperty(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	body := emMinimalPolicy(w.pkg, "Employees")
	body["allowedTargetScope"] = "specificDirectoryUsers"
	body["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": "no-such-user"}}
	a.refused(t, "POST", emV1+"/assignmentPolicies", body, "specificAllowedTargets[0]")
	a.refused(t, "POST", emV1+"/assignmentPolicies", emMinimalPolicy("no-such-package", "x"), "accessPackage")
}

func TestV1PolicyListPaging(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	var ids []string
	for i := range 4 {
		ids = append(ids, a.policy(t, emMinimalPolicy(w.pkg, fmt.Sprintf("Policy %d", i))))
	}

	var seen []string
	next := emV1 + "/assignmentPolicies?$top=1&$expand=questions"
	for pages := 0; next != ""; pages++ {
		if pages > len(ids) {
			t.Fatalf("more than %d pages: %v", len(ids), seen)
		}
		body := a.mustCall(t, "GET", next, nil, http.StatusOK)
		if body["@odata.context"] != a.context("v1.0", "assignmentPolicies", false) {
			t.Errorf("page @odata.context %v", body["@odata.context"])
		}
		items := emValue(t, body)
		if len(items) != 1 {
			t.Fatalf("page has %d items, want 1", len(items))
		}
		if _, ok := items[0]["questions"]; !ok {
			t.Errorf("page lost the $expand of the first call: %v", items[0])
		}
		seen = append(seen, emIDs(items)...)
		next, _ = body["@odata.nextLink"].(string)
		if next != "" {
			u, err := url.Parse(next)
			if err != nil || !strings.HasPrefix(next, a.URL+"/v1.0/") || u.Query().Get("$skiptoken") == "" || u.Query().Get("$top") != "1" {
				t.Fatalf("@odata.nextLink %q is not an absolute link with $skiptoken and $top", next)
			}
		}
	}
	emSame(t, "ids over all pages", ids, seen)

	all := a.mustCall(t, "GET", emV1+"/assignmentPolicies", nil, http.StatusOK)
	emSame(t, "ids on one page", ids, emIDs(emValue(t, all)))
	if _, ok := all["@odata.nextLink"]; ok {
		t.Errorf("a complete page has an @odata.nextLink")
	}

	page := a.mustCall(t, "GET", emV1+"/assignmentPolicies?$top=3", nil, http.StatusOK)
	emSame(t, "first page of 3", ids[:3], emIDs(emValue(t, page)))
	rest := a.mustCall(t, "GET", page["@odata.nextLink"].(string), nil, http.StatusOK)
	emSame(t, "second page of 3", ids[3:], emIDs(emValue(t, rest)))
	if _, ok := rest["@odata.nextLink"]; ok {
		t.Errorf("last page has an @odata.nextLink")
	}
}

// What the API stored is what the domain reads: the policy is tied to the
// package's catalog, with its bindings and questions.
func TestV1PolicyStoredThroughService(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	id := a.policy(t, emFullPolicy(w, a.newUser(t, "alice@contoso.test").ID, a.newUser(t, "bob@contoso.test").ID, a.newUser(t, "carol@contoso.test").ID))
	p, err := a.Svc.AssignmentPolicy(context.Background(), svcAdmin, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.CatalogID != w.catalog || p.AccessPackageID != w.pkg || len(p.ExtensionBindings) != 2 || len(p.Questions) != 2 {
		t.Errorf("stored policy: %+v", p)
	}
}

// $select and $expand are independent: what $expand names is returned
// besides the selected properties, as in Graph.
func TestV1SelectKeepsExpandedNavigation(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	id := a.policy(t, emMinimalPolicy(w.pkg, "Employees"))
	got := a.mustCall(t, "GET", emV1+"/accessPackages/"+w.pkg+"?$select=displayName&$expand=catalog", nil, http.StatusOK)
	pol := a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id+"?$select=displayName&$expand=questions", nil, http.StatusOK)
	if _, ok := got["catalog"]; !ok {
		t.Errorf("expanded catalog dropped by $select: %v", got)
	}
	if _, ok := pol["questions"]; !ok {
		t.Errorf("expanded questions dropped by $select: %v", pol)
	}
}
