package access

import (
	"encoding/json"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The callout body (docs/design.md, "The callout, in brief") and the
// token a callout carries. Bodies are compared as decoded JSON, key by key.

var (
	coPackage = AccessPackage{ID: "pkg-1", CatalogID: "cat-1", DisplayName: "Sales tools", Description: "CRM and reporting"}
	coCatalog = Catalog{ID: "cat-1", DisplayName: "Sales", Description: "Sales resources"}
	coPolicy  = AssignmentPolicy{ID: "pol-1", AccessPackageID: "pkg-1", CatalogID: "cat-1", DisplayName: "Employees",
		Questions: []Question{
			{ID: "q-cost", Type: TextInputQuestion, Text: "Cost centre?", Sequence: 1, IsRequired: true},
			{ID: "q-region", Type: MultipleChoiceQuestion, Text: "Region?", Sequence: 2},
		}}
	coExtension = CustomExtension{ID: "ext-1", CatalogID: "cat-1", Type: RequestWorkflowExtension, DisplayName: "SoD check"}
)

// Subjects as the payload shows them.
var (
	coAliceJSON = map[string]any{
		"Id": "user-alice", "ObjectId": "user-alice", "DisplayName": "Alice",
		"PrincipalName": "alice@contoso.test", "Email": "alice@contoso.test",
		"SubjectType": "user", "SubjectLifecycle": "notDefined", "Type": "User",
		"ConnectedOrganization": nil, "ConnectedOrganizationId": nil, "OnPremisesSecurityIdentifier": nil,
	}
	coAppJSON = map[string]any{
		"Id": "sp-admin", "ObjectId": "sp-admin", "DisplayName": "Admin app",
		"PrincipalName": nil, "Email": nil,
		"SubjectType": "servicePrincipal", "SubjectLifecycle": "notDefined", "Type": "ServicePrincipal",
		"ConnectedOrganization": nil, "ConnectedOrganizationId": nil, "OnPremisesSecurityIdentifier": nil,
	}
	coPolicyJSON  = map[string]any{"Id": "pol-1", "DisplayName": "Employees"}
	coPackageJSON = map[string]any{"Id": "pkg-1", "DisplayName": "Sales tools", "Description": "CRM and reporting"}
	coCatalogJSON = map[string]any{"Id": "cat-1", "DisplayName": "Sales", "Description": "Sales resources"}
)

func coAnswersJSON() []any {
	return []any{
		map[string]any{"Value": "0444", "DisplayValue": "Cost centre 0444", "AnsweredQuestion": map[string]any{
			"Id": "q-cost", "IsRequired": true, "Sequence": float64(1),
			"Text": map[string]any{"DefaultText": "Cost centre?", "LocalizedTexts": []any{}}}},
		map[string]any{"Value": "eu", "DisplayValue": "Europe", "AnsweredQuestion": map[string]any{
			"Id": "q-region", "IsRequired": false, "Sequence": float64(2),
			"Text": map[string]any{"DefaultText": "Region?", "LocalizedTexts": []any{}}}},
	}
}

// coRequest is an add request of Alice's, sent by the admin app, with two answers.
func coRequest(typ RequestType, bindings ...StageBinding) *Request {
	return &Request{
		ID: "req-1", Type: typ, State: StateDelivered, Status: StatusDelivered, // where it stands now, not at the stage
		AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1", Target: lcAlice, Requestor: lcApp,
		Answers: []Answer{{QuestionID: "q-cost", Value: "0444", DisplayValue: "Cost centre 0444"},
			{QuestionID: "q-region", Value: "eu", DisplayValue: "Europe"}},
		Policy: PolicySnapshot{DisplayName: "Employees", Bindings: bindings},
	}
}

func coAssignment(state AssignmentState, status string) *Assignment {
	start := lcDay(-1)
	return &Assignment{ID: "asg-1", AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1", Target: lcAlice,
		State: state, Status: status, Schedule: Schedule{StartDateTime: &start, Expiration: lcAfterDuration("P30D")}}
}

func coWork(stage Stage, reqID, asgID string, state RequestState, status string) Work {
	return Work{ID: "work-1", Kind: WorkCallout, RequestID: reqID, AssignmentID: asgID, Stage: stage, InstanceID: "inst-1",
		ExtensionID: "ext-1", DueAt: lcNow, RequestState: state, RequestStatus: status}
}

// coDecode marshals the payload and decodes it as an extension would.
func coDecode(t *testing.T, c CalloutContext) map[string]any {
	t.Helper()
	b, err := c.MarshalPayload()
	if err != nil {
		t.Fatalf("MarshalPayload: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("payload is not a JSON object: %v\n%s", err, b)
	}
	return got
}

// coCompare compares two decoded objects key by key: missing keys, extra
// keys (a key that is present with null is not a missing key), then values.
func coCompare(t *testing.T, want, got map[string]any) {
	t.Helper()
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		w, inWant := want[k]
		g, inGot := got[k]
		switch {
		case !inGot:
			t.Errorf("key %q missing, want %#v", k, w)
		case !inWant:
			t.Errorf("unexpected key %q = %#v", k, g)
		default:
			if diff := cmp.Diff(w, g); diff != "" {
				t.Errorf("%s (-want +got):\n%s", k, diff)
			}
		}
	}
}

func TestCalloutPayloadRequestStages(t *testing.T) {
	noAssignment := map[string]any{
		"Id": nil, "State": nil, "Status": nil, "TargetId": "user-alice", "Target": coAliceJSON,
		"AssignmentPolicy": coPolicyJSON, "AccessPackageAssignmentPolicy": coPolicyJSON, "AccessPackage": nil,
	}
	withAssignment := func(state, status string) map[string]any {
		return map[string]any{
			"Id": "asg-1", "State": state, "Status": status, "TargetId": "user-alice", "Target": coAliceJSON,
			"AssignmentPolicy": coPolicyJSON, "AccessPackageAssignmentPolicy": coPolicyJSON, "AccessPackage": nil,
		}
	}
	top := func(stage Stage, typ RequestType, state, status string, callback any, assignment map[string]any) map[string]any {
		return map[string]any{
			"AccessPackageAssignmentRequestId": "req-1",
			"CallbackUriPath":                  "/identityGovernance/entitlementManagement/assignmentRequests/req-1/resume",
			"CustomExtensionStageInstanceId":   "inst-1",
			"Stage":                            string(stage),
			"RequestType":                      string(typ),
			"State":                            state,
			"Status":                           status,
			"Answers":                          coAnswersJSON(),
			"CallbackConfiguration":            callback,
			"AccessPackage":                    coPackageJSON,
			"AccessPackageCatalog":             coCatalogJSON,
			"Assignment":                       assignment,
			"Requestor":                        coAppJSON,
			"VerifiedCredentialsData":          nil,
		}
	}
	pt1h := map[string]any{"DurationBeforeTimeout": "PT1H"}
	cases := []struct {
		name string
		ctx  CalloutContext
		want map[string]any
	}{
		{
			name: "created, waits, before delivery",
			ctx: CalloutContext{Work: coWork(StageRequestCreated, "req-1", "", StateSubmitted, StatusAccepted),
				Request: coRequest(RequestAdminAdd, lcWait(StageRequestCreated, "PT1H"))},
			want: top(StageRequestCreated, RequestAdminAdd, "submitted", "Accepted", pt1h, noAssignment),
		},
		{
			name: "approved, launch and continue, before delivery",
			ctx: CalloutContext{Work: coWork(StageRequestApproved, "req-1", "", StatePendingApproval, StatusPendingApproval),
				Request: coRequest(RequestUserAdd, lcGo(StageRequestApproved), lcWait(StageRequestCreated, "PT1H"))},
			want: top(StageRequestApproved, RequestUserAdd, "pendingApproval", "PendingApproval", nil, noAssignment),
		},
		{
			name: "created, binding of another stage waits: CallbackConfiguration null",
			ctx: CalloutContext{Work: coWork(StageRequestCreated, "req-1", "", StateSubmitted, StatusAccepted),
				Request: coRequest(RequestAdminAdd, lcGo(StageRequestCreated), lcWait(StageRequestGranted, "P2D"))},
			want: top(StageRequestCreated, RequestAdminAdd, "submitted", "Accepted", nil, noAssignment),
		},
		{
			name: "granted, waits P2D, with the assignment",
			ctx: CalloutContext{Work: coWork(StageRequestGranted, "req-1", "asg-1", StateDelivering, StatusDelivering),
				Request: coRequest(RequestAdminAdd, lcWait(StageRequestGranted, "P2D")), Assignment: coAssignment(AssignmentDelivered, StatusDelivered)},
			want: top(StageRequestGranted, RequestAdminAdd, "delivering", "Delivering", map[string]any{"DurationBeforeTimeout": "P2D"},
				withAssignment("delivered", "Delivered")),
		},
		{
			name: "created of an update, with the assignment it changes",
			ctx: CalloutContext{Work: coWork(StageRequestCreated, "req-1", "asg-1", StateSubmitted, StatusAccepted),
				Request: coRequest(RequestUserUpdate, lcWait(StageRequestCreated, "PT1H")), Assignment: coAssignment(AssignmentDelivered, StatusDelivered)},
			want: top(StageRequestCreated, RequestUserUpdate, "submitted", "Accepted", pt1h, withAssignment("delivered", "Delivered")),
		},
		{
			name: "removed, launch and continue, the assignment expired",
			ctx: CalloutContext{Work: coWork(StageRequestRemoved, "req-1", "asg-1", StateDelivering, StatusDelivering),
				Request: coRequest(RequestAdminRemove, lcGo(StageRequestRemoved)), Assignment: coAssignment(AssignmentExpired, StatusExpired)},
			want: top(StageRequestRemoved, RequestAdminRemove, "delivering", "Delivering", nil, withAssignment("expired", "Expired")),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.ctx.Package, tc.ctx.Catalog, tc.ctx.Policy, tc.ctx.Extension = coPackage, coCatalog, coPolicy, coExtension
			coCompare(t, tc.want, coDecode(t, tc.ctx))
		})
	}

	t.Run("no answers: an empty array, never null", func(t *testing.T) {
		r := coRequest(RequestAdminAdd)
		r.Answers = nil
		got := coDecode(t, CalloutContext{Work: coWork(StageRequestCreated, "req-1", "", StateSubmitted, StatusAccepted), Request: r,
			Package: coPackage, Catalog: coCatalog, Policy: coPolicy, Extension: coExtension})
		if diff := cmp.Diff([]any{}, got["Answers"]); diff != "" {
			t.Errorf("Answers (-want +got):\n%s", diff)
		}
	})
}

func TestCalloutPayloadPreExpiration(t *testing.T) {
	for _, stage := range []Stage{StageFourteenDaysBeforeExpiry, StageOneDayBeforeExpiry} {
		t.Run(string(stage), func(t *testing.T) {
			ctx := CalloutContext{Work: coWork(stage, "", "asg-1", "", ""), Assignment: coAssignment(AssignmentDelivered, StatusDelivered),
				Package: coPackage, Catalog: coCatalog, Policy: coPolicy, Extension: coExtension}
			want := map[string]any{
				"AccessPackageAssignmentRequestId": "",
				"CustomExtensionStageInstanceId":   "inst-1",
				"Stage":                            string(stage),
				"AccessPackage":                    coPackageJSON,
				"AccessPackageCatalog":             coCatalogJSON,
				"Assignment": map[string]any{
					"Id": "asg-1", "State": "delivered", "Status": "Delivered", "TargetId": "user-alice", "Target": coAliceJSON,
					"AssignmentPolicy": coPolicyJSON, "AccessPackageAssignmentPolicy": coPolicyJSON, "AccessPackage": nil,
				},
				"Requestor":               coAliceJSON,
				"VerifiedCredentialsData": nil,
			}
			got := coDecode(t, ctx)
			absent := []string{"CallbackUriPath", "Answers", "RequestType", "CallbackConfiguration"}
			t.Run("every other key", func(t *testing.T) {
				g := map[string]any{}
				for k, v := range got {
					g[k] = v
				}
				for _, k := range absent {
					delete(g, k)
				}
				coCompare(t, want, g)
			})
			for _, k := range absent {
				t.Run("no "+k+" key", func(t *testing.T) {
					if v, ok := got[k]; ok {
						t.Errorf("pre-expiration payload has key %q = %#v; it must be absent", k, v)
					}
				})
			}
		})
	}
}

func TestCalloutTokenFor(t *testing.T) {
	const issuer = "https://accessd.test/"
	logicApp := func(sub, rg, name string) Endpoint {
		return Endpoint{Type: LogicAppEndpoint, SubscriptionID: sub, ResourceGroupName: rg, LogicAppWorkflowName: name,
			URL: "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=secret"}
	}
	httpEP := func(u string) Endpoint { return Endpoint{Type: HTTPRequestEndpoint, TargetURL: u} }
	ext := func(ep Endpoint, auth Authentication) CustomExtension {
		x := coExtension
		x.Endpoint, x.Authentication = ep, auth
		return x
	}
	pop := Authentication{Type: PopTokenAuthentication}
	bearer := func(resource string) Authentication {
		return Authentication{Type: BearerTokenAuthentication, ResourceID: resource}
	}
	base := func(more map[string]any) map[string]any {
		m := map[string]any{"iss": issuer, "appid": EntitlementManagementAppID, "azp": EntitlementManagementAppID}
		for k, v := range more {
			m[k] = v
		}
		return m
	}
	cases := []struct {
		name   string
		x      CustomExtension
		scheme string
		claims map[string]any
		bug    string
	}{
		{name: "bearer, Logic App", x: ext(logicApp("sub-1", "rg-1", "wf-1"), bearer("api://sod-checker")), scheme: "Bearer",
			claims: base(map[string]any{"aud": "api://sod-checker"})},
		{name: "bearer, http endpoint", x: ext(httpEP("https://hooks.example.test/api/sod"), bearer("https://hooks.example.test")), scheme: "Bearer",
			claims: base(map[string]any{"aud": "https://hooks.example.test"})},
		{name: "PoP, Logic App", x: ext(logicApp("0000-sub", "rg-governance", "sod-check"), pop), scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "management.azure.com",
				"p":   "/subscriptions/0000-sub/resourceGroups/rg-governance/providers/Microsoft.Logic/workflows/sod-check",
				"aud": "https://management.azure.com"})},
		{name: "PoP, http endpoint", x: ext(httpEP("https://hooks.example.test/api/sod?code=abc#frag"), pop), scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "hooks.example.test", "p": "/api/sod", "aud": "https://hooks.example.test"})},
		{name: "PoP, http endpoint with a port", x: ext(httpEP("http://localhost:7071/api/hook"), pop), scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "localhost:7071", "p": "/api/hook", "aud": "http://localhost:7071"})},
		{name: "PoP, http endpoint without a path", x: ext(httpEP("https://hooks.example.test"), pop), scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "hooks.example.test", "p": "/", "aud": "https://hooks.example.test"})},
		{name: "PoP, http endpoint with an escaped path", x: ext(httpEP("https://hooks.example.test/a%20b/c"), pop), scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "hooks.example.test", "p": "/a%20b/c", "aud": "https://hooks.example.test"})},
		{name: "PoP, http endpoint with an upper-case host: the origin is lower case", x: ext(httpEP("https://Hooks.Example.TEST/api"), pop),
			scheme: "PoP",
			claims: base(map[string]any{"m": "POST", "u": "hooks.example.test", "p": "/api", "aud": "https://hooks.example.test"})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lcSkipBug(t, tc.bug)
			got := CalloutTokenFor(tc.x, issuer, EntitlementManagementAppID)
			if got.Scheme != tc.scheme {
				t.Errorf("scheme = %q, want %q", got.Scheme, tc.scheme)
			}
			if diff := cmp.Diff(tc.claims, got.Claims); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if got.CacheKey == "" {
				t.Errorf("no cache key")
			}
		})
	}

	t.Run("issuer and application id come from the caller", func(t *testing.T) {
		got := CalloutTokenFor(ext(logicApp("s", "r", "w"), pop), "https://other.test/issuer", "11111111-2222-3333-4444-555555555555")
		want := map[string]any{"iss": "https://other.test/issuer", "appid": "11111111-2222-3333-4444-555555555555",
			"azp": "11111111-2222-3333-4444-555555555555"}
		for k, v := range want {
			if got.Claims[k] != v {
				t.Errorf("%s = %v, want %v", k, got.Claims[k], v)
			}
		}
	})

	// A cached token is reused for another callout only when the callouts
	// would carry the same claims: equal keys exactly when the claims are equal.
	pairs := []struct {
		name string
		a, b CustomExtension
		same bool
		bug  string
	}{
		{name: "same Logic App, PoP, two extensions", a: ext(logicApp("s", "r", "w"), pop),
			b: func() CustomExtension {
				x := ext(logicApp("s", "r", "w"), pop)
				x.ID, x.DisplayName = "ext-2", "Another"
				return x
			}(), same: true},
		{name: "same http endpoint, PoP, other query string", a: ext(httpEP("https://h.test/api?code=1"), pop),
			b: ext(httpEP("https://h.test/api?code=2"), pop), same: true},
		{name: "same resource, bearer", a: ext(logicApp("s", "r", "w"), bearer("api://x")), b: ext(logicApp("s", "r", "w"), bearer("api://x")), same: true},
		{name: "same resource, bearer, different endpoints: the same token fits both",
			a: ext(logicApp("s", "r", "w"), bearer("api://x")), b: ext(httpEP("https://h.test/api"), bearer("api://x")), same: true},
		{name: "Logic Apps of different workflows", a: ext(logicApp("s", "r", "w1"), pop), b: ext(logicApp("s", "r", "w2"), pop)},
		{name: "Logic Apps of different resource groups", a: ext(logicApp("s", "r1", "w"), pop), b: ext(logicApp("s", "r2", "w"), pop)},
		{name: "Logic Apps of different subscriptions", a: ext(logicApp("s1", "r", "w"), pop), b: ext(logicApp("s2", "r", "w"), pop)},
		{name: "http endpoints with different paths", a: ext(httpEP("https://h.test/a"), pop), b: ext(httpEP("https://h.test/b"), pop)},
		{name: "http endpoints with different hosts", a: ext(httpEP("https://h1.test/a"), pop), b: ext(httpEP("https://h2.test/a"), pop)},
		{name: "http endpoints with different ports", a: ext(httpEP("https://h.test:8443/a"), pop), b: ext(httpEP("https://h.test/a"), pop)},
		{name: "http and https of the same host and path", a: ext(httpEP("http://h.test/a"), pop), b: ext(httpEP("https://h.test/a"), pop)},
		{name: "bearer resources differ", a: ext(logicApp("s", "r", "w"), bearer("api://x")), b: ext(logicApp("s", "r", "w"), bearer("api://y"))},
		{name: "bearer and PoP of the same endpoint", a: ext(logicApp("s", "r", "w"), bearer("api://x")), b: ext(logicApp("s", "r", "w"), pop)},
	}
	for _, tc := range pairs {
		t.Run("cache key/"+tc.name, func(t *testing.T) {
			lcSkipBug(t, tc.bug)
			a := CalloutTokenFor(tc.a, issuer, EntitlementManagementAppID)
			b := CalloutTokenFor(tc.b, issuer, EntitlementManagementAppID)
			if sameClaims := cmp.Equal(a.Claims, b.Claims) && a.Scheme == b.Scheme; sameClaims != tc.same {
				t.Errorf("the row is wrong: same claims = %v, row says %v", sameClaims, tc.same)
			}
			if got := a.CacheKey == b.CacheKey; got != tc.same {
				t.Errorf("keys %q and %q: equal = %v, want %v", a.CacheKey, b.CacheKey, got, tc.same)
			}
		})
	}
}
