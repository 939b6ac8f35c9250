package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Fuzz targets of what callers send: every body a write route decodes,
// the resume body, the --seed file and the rewriting of OData key syntax
// in paths. Their seed corpora are in testdata/fuzz; .ci/run runs each
// briefly. Targets that go through the real handler assert that no input
// panics or answers 5xx, and that every refusal is a Graph error.

// fuzzRoute is a write route and who calls it. Paths and bodies name the
// fuzz world's objects by placeholders ($CATALOG, $PACKAGE, …), so that a
// committed corpus means the same in every run, whatever ids it made.
type fuzzRoute struct {
	method, path string
	approver     bool // called with the approver's delegated token
}

// fuzzRoutes are the routes that read a body, in a fixed order: a corpus
// entry picks one by index.
var fuzzRoutes = []fuzzRoute{
	{"POST", "/v1.0" + emRoot + "/catalogs", false},
	{"PATCH", "/v1.0" + emRoot + "/catalogs/$CATALOG", false},
	{"POST", "/v1.0" + emRoot + "/catalogs/$CATALOG/customWorkflowExtensions", false},
	{"PUT", "/v1.0" + emRoot + "/catalogs/$CATALOG/customWorkflowExtensions/$EXTENSION", false},
	{"POST", "/v1.0" + emRoot + "/accessPackages", false},
	{"PATCH", "/v1.0" + emRoot + "/accessPackages/$PACKAGE", false},
	{"POST", "/v1.0" + emRoot + "/assignmentPolicies", false},
	{"PUT", "/v1.0" + emRoot + "/assignmentPolicies/$POLICY", false},
	{"POST", "/v1.0" + emRoot + "/assignmentRequests", false},
	{"POST", "/v1.0" + emRoot + "/assignmentRequests/$REQUEST/resume", false},
	{"POST", "/v1.0" + emRoot + "/assignmentRequests/$REQUEST/cancel", false},
	{"POST", "/v1.0" + emRoot + "/resourceRequests", false},
	{"POST", "/v1.0" + emRoot + "/accessPackages/$PACKAGE/resourceRoleScopes", false},
	{"POST", "/v1.0" + emRoot + "/accessPackages/$PACKAGE/incompatibleAccessPackages/$ref", false},
	{"POST", "/v1.0" + emRoot + "/accessPackages/$PACKAGE/incompatibleGroups/$ref", false},
	{"PATCH", "/v1.0" + emRoot + "/accessPackageAssignmentApprovals/$APPROVAL/stages/$STAGE", true},
	{"POST", "/beta" + emRoot + "/accessPackageCatalogs", false},
	{"PATCH", "/beta" + emRoot + "/accessPackageCatalogs/$CATALOG", false},
	{"POST", "/beta" + emRoot + "/accessPackageCatalogs/$CATALOG/accessPackageCustomWorkflowExtensions", false},
	{"PUT", "/beta" + emRoot + "/accessPackageCatalogs/$CATALOG/accessPackageCustomWorkflowExtensions/$EXTENSION", false},
	{"POST", "/beta" + emRoot + "/accessPackages", false},
	{"PATCH", "/beta" + emRoot + "/accessPackages/$PACKAGE", false},
	{"POST", "/beta" + emRoot + "/accessPackageAssignmentRequests", false},
	{"POST", "/beta" + emRoot + "/accessPackageAssignmentRequests/$REQUEST/resume", false},
	{"POST", "/beta" + emRoot + "/accessPackageResourceRequests", false},
	{"POST", "/beta" + emRoot + "/accessPackages/$PACKAGE/accessPackageResourceRoleScopes", false},
	{"PATCH", "/beta" + emRoot + "/accessPackageAssignmentApprovals/$APPROVAL/steps/$STAGE", true},
	{"POST", "/v1.0/users", false},
	{"PATCH", "/v1.0/users/$USER", false},
	{"PUT", "/v1.0/users/$USER/manager/$ref", false},
	{"POST", "/v1.0/groups", false},
	{"PATCH", "/v1.0/groups/$GROUP", false},
	{"POST", "/v1.0/groups/$GROUP/members/$ref", false},
	{"POST", "/v1.0/groups/$GROUP/owners/$ref", false},
	{"POST", "/v1.0/servicePrincipals", false},
	{"PATCH", "/v1.0/servicePrincipals/$SP", false},
	{"POST", "/v1.0/servicePrincipals/$SP/appRoleAssignedTo", false},
	{"POST", "/_accessd/clock", false},
	{"POST", "/beta" + emRoot + "/accessPackageAssignmentPolicies", false},
	{"PUT", "/beta" + emRoot + "/accessPackageAssignmentPolicies/$POLICY", false},
}

// fuzzWorld is a real server on a real store with one of everything the
// routes name: a catalog with a launch-and-wait extension and a group
// resource, a package with a policy, a request waiting for its callback
// and one pending approval.
type fuzzWorld struct {
	api                 *testAPI
	adminTok, approvTok string
	names               *strings.Replacer
}

func newFuzzWorld(f *testing.F) *fuzzWorld {
	f.Helper()
	ctx := context.Background()
	a := newTestAPI(f, func(c *Config) { c.Dev = true }) // for the clock's body; its reset is no route here
	w := &fuzzWorld{api: a, adminTok: a.appToken(f, "EntitlementManagement.ReadWrite.All", "Directory.ReadWrite.All")}
	approver := a.newUser(f, "approver@contoso.test").ID
	target := a.newUser(f, "target@contoso.test").ID
	other := a.newUser(f, "other@contoso.test").ID
	w.approvTok = a.userToken(f, approver, "EntitlementManagement.ReadWrite.All")
	group, err := a.Svc.CreateGroup(ctx, access.Group{DisplayName: "Fuzzers", MailNickname: "fuzzers", SecurityEnabled: true}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	sp, err := a.Svc.EnsureServicePrincipal(ctx, "fuzz-app")
	if err != nil {
		f.Fatal(err)
	}
	em := "/v1.0" + emRoot
	_, catalog := a.create(f, w.adminTok, em+"/catalogs", map[string]any{"displayName": "Fuzz"})
	ext := emRequestExtension("Waits")
	ext["callbackConfiguration"] = map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT5M"}
	_, extension := a.create(f, w.adminTok, em+"/catalogs/"+catalog+"/customWorkflowExtensions", ext)
	_, pkg := a.create(f, w.adminTok, em+"/accessPackages", map[string]any{"displayName": "Fuzz", "catalog": map[string]any{"id": catalog}})
	policy := emMinimalPolicy(pkg, "Waits")
	policy["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": extension}}}
	_, waits := a.create(f, w.adminTok, em+"/assignmentPolicies", policy)
	policy = emMinimalPolicy(pkg, "Approved")
	policy["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
		"stages": []any{map[string]any{"durationBeforeAutomaticDenial": "P2D",
			"primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": approver}}}}}
	_, approved := a.create(f, w.adminTok, em+"/assignmentPolicies", policy)
	request := func(policy, target string) string {
		_, id := a.create(f, w.adminTok, em+"/assignmentRequests", map[string]any{"requestType": "adminAdd",
			"assignment": map[string]any{"accessPackageId": pkg, "assignmentPolicyId": policy, "targetId": target}})
		return id
	}
	waiting, pending := request(waits, target), request(approved, other)
	// No engine runs: the callout is begun here, as the engine's claim
	// would, so that the request has an instance waiting for its callback.
	if _, err := a.Svc.ClaimAndBegin(ctx, "fuzz", time.Hour, 100); err != nil {
		f.Fatal(err)
	}
	instances, _ := a.get(f, w.adminTok, em+"/assignmentRequests/"+waiting)["customExtensionCalloutInstances"].([]any)
	instance := ""
	if len(instances) == 1 {
		instance, _ = instances[0].(map[string]any)["id"].(string)
	}
	stages, _ := a.get(f, w.approvTok, em+"/accessPackageAssignmentApprovals/"+pending+"/stages")["value"].([]any)
	stage := ""
	if len(stages) == 1 {
		stage, _ = stages[0].(map[string]any)["id"].(string)
	}
	if instance == "" || stage == "" {
		f.Fatalf("the fuzz world has no callout instance (%q) or approval stage (%q)", instance, stage)
	}
	a.create(f, w.adminTok, em+"/resourceRequests", map[string]any{"requestType": "adminAdd", "catalog": map[string]any{"id": catalog},
		"resource": map[string]any{"originId": group.ID, "originSystem": "AadGroup"}})
	var resource, role, scope string
	for _, res := range emValueTB(f, a.get(f, w.adminTok, em+"/catalogs/"+catalog+"/resources?$expand=roles,scopes")) {
		resource, _ = res["id"].(string)
		if roles, _ := res["roles"].([]any); len(roles) > 0 {
			role, _ = roles[0].(map[string]any)["id"].(string)
		}
		if scopes, _ := res["scopes"].([]any); len(scopes) > 0 {
			scope, _ = scopes[0].(map[string]any)["id"].(string)
		}
	}
	w.names = strings.NewReplacer("$CATALOG", catalog, "$EXTENSION", extension, "$PACKAGE", pkg, "$POLICY", waits,
		"$APPROVALPOLICY", approved, "$REQUEST", waiting, "$INSTANCE", instance, "$APPROVAL", pending, "$STAGE", stage,
		"$USER", target, "$OTHER", other, "$APPROVER", approver, "$GROUP", group.ID, "$SP", sp.ID,
		"$RESOURCE", resource, "$ROLE", role, "$SCOPE", scope)
	return w
}

// emValueTB is emValue for a fuzz target's setup.
func emValueTB(tb testing.TB, list map[string]any) []map[string]any {
	tb.Helper()
	items, _ := list["value"].([]any)
	var out []map[string]any
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// call sends one request through the real handler and checks its answer:
// never 5xx, and every 4xx a Graph error envelope.
func (w *fuzzWorld) call(t *testing.T, method, path string, header http.Header, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://accessd.test/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery = path, ""
	if q := strings.IndexByte(path, '?'); q >= 0 {
		req.URL.Path, req.URL.RawQuery = path[:q], path[q+1:]
	}
	req.RequestURI = ""
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	w.api.Server.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %q with body %q: %d %s", method, path, body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var envelope struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &envelope); err != nil || envelope.Error.Code == "" || envelope.Error.Message == "" {
			t.Fatalf("%s %q with body %q: %d without a Graph error: %s", method, path, body, rec.Code, rec.Body)
		}
	}
	return rec
}

// FuzzWriteBodies sends a body to one of the write routes, as the admin
// application (or, on approval stages, as the approver).
func FuzzWriteBodies(f *testing.F) {
	f.Add(uint8(0), []byte(`{"displayName":"Sales","description":"x","isExternallyVisible":true}`))
	f.Add(uint8(len(fuzzRoutes)-1), []byte(`{"displayName":"Beta","durationInDays":3,"requestorSettings":{"scopeType":"AllExistingDirectoryMemberUsers","acceptRequests":true},`+
		`"requestApprovalSettings":{"isApprovalRequired":false,"approvalMode":"NoApproval","approvalStages":[]},"questions":[]}`))
	w := newFuzzWorld(f)
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		tok := w.adminTok
		if rt.approver {
			tok = w.approvTok
		}
		header := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + tok}}
		w.call(t, rt.method, w.names.Replace(rt.path), header, []byte(w.names.Replace(string(body))))
	})
}

// FuzzResumeBody: a resume body is read into a callback or refused with an
// invalid-request error, and a callback read is either valid or refused
// the same way by Validate.
func FuzzResumeBody(f *testing.F) {
	f.Add([]byte(`{"data":{"@odata.type":"#microsoft.graph.accessPackageAssignmentRequestCallbackData","stage":"assignmentRequestCreated","customExtensionStageInstanceId":"i","state":"denied"},"source":"s","type":"microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := parseCallback(body)
		if err != nil {
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("parseCallback(%q): %v, want an invalid-request error", body, err)
			}
			return
		}
		if err := cb.Validate(); err != nil && access.KindOf(err) != access.KindInvalid {
			t.Fatalf("Validate of %q: %v, want nil or an invalid-request error", body, err)
		}
		if cb.Outcome() == "" {
			t.Fatalf("callback %q has no outcome", body)
		}
	})
}

// FuzzSeedFile: a seed file is refused with an invalid-request error, or
// read and applied to a real store, which refuses it only for what is in
// it (a bad reference, a clash), never with an internal error; applying it
// again changes nothing.
func FuzzSeedFile(f *testing.F) {
	f.Add([]byte(`{"users":[{"id":"u-1","displayName":"Alice","userPrincipalName":"alice@contoso.test","accountEnabled":true}]}`))
	svc := fuzzStore(f)
	f.Fuzz(func(t *testing.T, file []byte) {
		seed, err := DecodeSeed(bytes.NewReader(file))
		if err != nil {
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("DecodeSeed(%q): %v, want an invalid-request error", file, err)
			}
			return
		}
		ctx := context.Background()
		if _, err := svc.ApplySeed(ctx, seed); err != nil {
			if access.KindOf(err) == access.KindInternal {
				t.Fatalf("ApplySeed of %q: %v", file, err)
			}
			return
		}
		again, err := svc.ApplySeed(ctx, seed)
		if err != nil {
			t.Fatalf("applying %q a second time: %v", file, err)
		}
		if again.Created != 0 || again.Updated != 0 {
			t.Fatalf("applying %q a second time created %d and updated %d", file, again.Created, again.Updated)
		}
	})
}

// FuzzRewriteKeys: rewriting OData key syntax keeps a path without key
// syntax as it is and every segment of one with it, and a GET of any path through the
// real handler answers without a 5xx.
func FuzzRewriteKeys(f *testing.F) {
	f.Add("/v1.0" + emRoot + "/accessPackages('$PACKAGE')/assignmentPolicies")
	w := newFuzzWorld(f)
	f.Fuzz(func(t *testing.T, path string) {
		once := rewriteKeys(path)
		if !strings.Contains(path, "('") && once != path {
			t.Fatalf("rewriteKeys(%q) = %q, but it holds no key syntax", path, once)
		}
		if strings.Count(once, "/") < strings.Count(path, "/") {
			t.Fatalf("rewriteKeys(%q) = %q lost a segment", path, once)
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
			return // not a path the server receives as such
		}
		header := http.Header{"Authorization": {"Bearer " + w.adminTok}}
		w.call(t, "GET", w.names.Replace(path), header, nil)
	})
}
