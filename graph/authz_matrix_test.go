package graph

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// The permission matrix: every route of both versions, called by every kind
// of caller, with the exact status each must get. The expected statuses are
// written here by hand from Entra's role table (docs/permissions.md) and
// never read from the route table, so the two can disagree and the test can
// fail; TestAuthzMatrixCoversEveryRoute fails when a route of the table is
// missing from the matrix.
//
// Writes are made so that a caller who is let through meets a rule of the
// object instead of changing the world (deleting a catalog that still has
// packages is 409), or are undone after they succeed (restore), so that
// every cell sees the same world.

// The callers, in the order of the columns of every expectation.
var mxCallers = []string{
	"none",      // no token
	"appR",      // an application with EntitlementManagement.Read.All
	"appW",      // an application with EntitlementManagement.ReadWrite.All
	"norole",    // a user with ReadWrite.All and no role
	"reader",    // ReadWrite.All, Catalog reader of A
	"owner",     // ReadWrite.All, Catalog owner of A
	"pkgMgr",    // ReadWrite.All, Access package manager of A
	"asgMgr",    // ReadWrite.All, Access package assignment manager of A
	"creator",   // ReadWrite.All, Catalog creator (tenant-wide)
	"iga",       // ReadWrite.All, Identity Governance Administrator
	"requestor", // self-service scope only; requested pA for themselves (pending)
	"target",    // self-service scope only; holds pA (delivered)
	"approver",  // ReadWrite.All, no role; approves the pending request in A
	"dirApp",    // an application with Directory.ReadWrite.All only
}

// Expectations, one status per caller in mxCallers' order. Catalog A is
// the one the roles are on; B is another catalog.
const (
	mxList    = "401 200 200 200 200 200 200 200 200 200 403 403 200 403" // a list: what it holds is for the BOLA tests
	mxReadA   = "401 200 200 404 200 200 200 200 404 200 403 403 404 403" // one object of A
	mxReadB   = "401 200 200 404 404 404 404 404 404 200 403 403 404 403" // one object of B
	mxReqOwnA = "401 200 200 404 200 200 200 200 404 200 200 404 404 403" // the requestor's request in A
	mxTargetA = "401 200 200 404 200 200 200 200 404 200 404 200 404 403" // the target's request or assignment in A
	mxReqB    = "401 200 200 404 404 404 404 404 404 200 404 404 404 403" // a request or assignment in B
	mxSubject = "401 403 403 200 200 200 200 200 200 200 200 200 200 403" // the signed-in user's own functions
	mxDefs    = "401 200 200 200 200 200 200 200 200 200 403 403 200 403" // role definitions: the permission alone
	mxTenant  = "401 403 %s 403 403 403 403 403 403 %s 403 403 403 403"   // tenant-wide administrators only
	mxCreate  = "401 403 201 403 403 403 403 403 201 201 403 403 403 403" // create a catalog
	mxDir     = "401 403 403 403 403 403 403 403 403 403 403 403 403 %s"  // the directory's permissions only
)

// Writes that succeed with status s (or meet a rule of the object) for
// those the rule lets through, on A and on B.
func mxOwnerA(s int) string  { return mxf("401 403 %s 404 403 %s 403 403 404 %s 403 403 404 403", s) }
func mxPkgMgrA(s int) string { return mxf("401 403 %s 404 403 %s %s 403 404 %s 403 403 404 403", s) }
func mxAsgMgrA(s int) string { return mxf("401 403 %s 404 403 %s %s %s 404 %s 403 403 404 403", s) }
func mxWriteB(s int) string  { return mxf("401 403 %s 404 404 404 404 404 404 %s 403 403 404 403", s) }

// The same, where the object is named in the body: one the caller does
// not see is a wrong reference (400), not a missing address.
func mxRefOwnerA(s int) string  { return mxf("401 403 %s 400 403 %s 403 403 400 %s 403 403 400 403", s) }
func mxRefPkgMgrA(s int) string { return mxf("401 403 %s 400 403 %s %s 403 400 %s 403 403 400 403", s) }
func mxRefB(s int) string       { return mxf("401 403 %s 400 400 400 400 400 400 %s 403 403 400 403", s) }

func mxf(pattern string, s int) string {
	return strings.ReplaceAll(pattern, "%s", strconv.Itoa(s))
}

// mxRow is one route called with one address and body.
type mxRow struct {
	method, path string // {name} is replaced by the world's ids
	body         any
	want         string
	count        bool               // a list: its /$count gets the same statuses
	restore      func(t *testing.T) // undoes a call that succeeded
}

// mxWorld is two catalogs with an object of every kind, the callers' tokens,
// and the ids rows name.
type mxWorld struct {
	*rqAPI
	ids    map[string]string
	tokens map[string]string
}

func (w *mxWorld) path(p string) string {
	for k, v := range w.ids {
		p = strings.ReplaceAll(p, "{"+k+"}", v)
	}
	return p
}

func newMXWorldOn(t *testing.T, edit ...func(*Config)) *mxWorld {
	t.Helper()
	api := newTestAPI(t, edit...)
	a := &emAPI{testAPI: api, tok: api.appToken(t, "EntitlementManagement.ReadWrite.All")}
	ra := &rqAPI{emAPI: a}
	w := &mxWorld{rqAPI: ra, ids: map[string]string{}, tokens: map[string]string{}}
	ctx := context.Background()
	user := func(name string) string { return a.newUser(t, name+"@contoso.test").ID }
	for _, name := range []string{"norole", "reader", "owner", "pkgMgr", "asgMgr", "creator", "iga", "approver"} {
		w.ids[name] = user(strings.ToLower(name))
		w.tokens[name] = a.userToken(t, w.ids[name], scopeWrite)
	}
	for _, name := range []string{"requestor", "target", "other", "other2", "spare"} {
		w.ids[name] = user(name)
		w.tokens[name] = a.userToken(t, w.ids[name], scopeSA)
	}
	w.tokens["appR"] = a.appTokenNamed(t, "reader-app", "EntitlementManagement.Read.All")
	w.tokens["appW"] = a.tok
	w.tokens["dirApp"] = a.appTokenNamed(t, "directory-app", "Directory.ReadWrite.All")
	g, err := a.Svc.CreateGroup(ctx, access.Group{DisplayName: "Group A", MailNickname: "ga", SecurityEnabled: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.ids["gA"] = g.ID
	sp, err := a.Svc.EnsureServicePrincipal(ctx, "reader-app")
	if err != nil {
		t.Fatal(err)
	}
	w.ids["sp"] = sp.ID

	for _, c := range []string{"A", "B"} {
		cat := a.catalog(t, "Catalog "+c)
		pkg := a.accessPackage(t, cat, "Package "+c)
		w.ids["cat"+c], w.ids["p"+c] = cat, pkg
		w.ids["x"+c] = a.extension(t, cat, emRequestExtension("Extension "+c))
		approval := emMinimalPolicy(pkg, "Approved "+c)
		approval["requestorSettings"] = map[string]any{"enableTargetsToSelfAddAccess": true}
		approval["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{map[string]any{
			"durationBeforeAutomaticDenial": "P2D", "isApproverJustificationRequired": true, "primaryApprovers": []any{rqSingleUser(w.ids["approver"])}}}}
		w.ids["pol"+c] = a.policy(t, approval)
		w.ids["pol"+c+"open"] = a.policy(t, emMinimalPolicy(pkg, "Open "+c))
		w.ids["pol"+c+"spare"] = a.policy(t, emMinimalPolicy(pkg, "Spare "+c))
		bound := emMinimalPolicy(pkg, "Bound "+c)
		bound["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": w.ids["x"+c]}}}
		w.ids["pol"+c+"bound"] = a.policy(t, bound)
		group, err := a.Svc.CreateGroup(ctx, access.Group{DisplayName: "Resource " + c, MailNickname: "r" + c, SecurityEnabled: true}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.ids["g"+c+"res"] = group.ID
		w.ids["rr"+c] = emID(t, a.mustCall(t, "POST", emV1+"/resourceRequests", rsAdd(cat, "AadGroup", group.ID), http.StatusCreated))
		resources := emValue(t, a.mustCall(t, "GET", emV1+"/catalogs/"+cat+"/resources", nil, http.StatusOK))
		w.ids["res"+c] = emID(t, resources[0])
	}
	// Requests: the requestor's pending one in A, another user's in B; the
	// target's delivered one in A, another's in B.
	w.ids["pendA"] = emID(t, ra.submit(t, w.tokens["requestor"], rqAdd("userAdd", w.ids["pA"], w.ids["polA"], "")))
	w.ids["pendB"] = emID(t, ra.submit(t, w.tokens["other"], rqAdd("userAdd", w.ids["pB"], w.ids["polB"], "")))
	w.ids["delivA"] = emID(t, ra.submit(t, a.tok, rqAdd("adminAdd", w.ids["pA"], w.ids["polAopen"], w.ids["target"])))
	w.ids["delivB"] = emID(t, ra.submit(t, a.tok, rqAdd("adminAdd", w.ids["pB"], w.ids["polBopen"], w.ids["other2"])))
	w.ids["asgA"], w.ids["asgB"] = ra.assignmentOf(t, w.ids["delivA"]), ra.assignmentOf(t, w.ids["delivB"])
	stages := emValue(t, a.get(t, a.userToken(t, w.ids["approver"], scopeWrite), emV1+"/accessPackageAssignmentApprovals/"+w.ids["pendA"]+"/stages"))
	w.ids["stageA"] = emID(t, stages[0])

	// Roles.
	a.grant(t, w.ids["reader"], access.RoleCatalogReader, w.ids["catA"])
	a.grant(t, w.ids["owner"], access.RoleCatalogOwner, w.ids["catA"])
	a.grant(t, w.ids["pkgMgr"], access.RoleAccessPackageManager, w.ids["catA"])
	a.grant(t, w.ids["asgMgr"], access.RoleAccessPackageAssignmentManager, w.ids["catA"])
	a.grant(t, w.ids["creator"], access.RoleCatalogCreator, "")
	a.grant(t, w.ids["iga"], access.RoleIdentityGovernanceAdministrator, "")
	a.grant(t, w.ids["other"], access.RoleCatalogReader, w.ids["catB"])
	w.ids["raA"] = w.roleID(t, w.ids["reader"], access.RoleCatalogReader, "")
	w.ids["raB"] = w.roleID(t, w.ids["other"], access.RoleCatalogReader, "")
	w.ids["raIGA"] = w.roleID(t, w.ids["iga"], access.RoleIdentityGovernanceAdministrator, "")
	w.spareRole(t, "raSpareA", access.RoleCatalogReader, w.ids["catA"])
	w.spareRole(t, "raSpareB", access.RoleCatalogReader, w.ids["catB"])
	w.spareRole(t, "raSpareIGA", access.RoleIdentityGovernanceAdministrator, "")
	return w
}

// roleID finds the id of the role a principal holds (on the catalog, or
// tenant-wide when catalog is "").
func (w *mxWorld) roleID(t *testing.T, principal, role, catalog string) string {
	t.Helper()
	base := rmEM
	if role == access.RoleIdentityGovernanceAdministrator {
		base = rmDir
	}
	for _, x := range emValue(t, w.get(t, w.tok, base+"/roleAssignments?$filter="+url.QueryEscape("principalId eq '"+principal+"'"))) {
		if x["roleDefinitionId"] == role && (catalog == "" || x["appScopeId"] == "/AccessPackageCatalog/"+catalog) {
			return emID(t, x)
		}
	}
	t.Fatalf("%s holds no role %s", principal, role)
	return ""
}

// spareRole gives the spare user a role, under a name rows delete it by.
func (w *mxWorld) spareRole(t *testing.T, name, role, catalog string) {
	t.Helper()
	w.grant(t, w.ids["spare"], role, catalog)
	w.ids[name] = w.roleID(t, w.ids["spare"], role, catalog)
}

// mxRows is the matrix. Paths of both versions are written out.
func (w *mxWorld) mxRows(t *testing.T) []mxRow {
	v1, beta := emV1, emBeta
	ownerB, refB := mxWriteB, mxRefB
	catalog := map[string]any{"description": "changed"}
	ext := emRequestExtension("Another")
	pkgIn := func(c string) map[string]any {
		return map[string]any{"displayName": "New", "catalog": map[string]any{"id": "{cat" + c + "}"}}
	}
	policyFor := func(c string) map[string]any { return emMinimalPolicy("{p"+c+"}", "New policy") }
	badRoleScope := func(c string) map[string]any {
		return map[string]any{"role": map[string]any{"id": "no-such-role", "resource": map[string]any{"id": "{res" + c + "}"}},
			"scope": map[string]any{"id": "no-such-scope"}}
	}
	selfRef := func(c string) map[string]any {
		return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{p" + c + "}"}
	}
	groupRef := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/{gA}"}
	dropGroup := func(t *testing.T) {
		w.noContent(t, "DELETE", w.path(v1+"/accessPackages/{pA}/incompatibleGroups/{gA}/$ref"), w.tok, nil)
	}
	again := func(name, role, catalog string) func(*testing.T) {
		return func(t *testing.T) { w.spareRole(t, name, role, catalog) }
	}
	adminAdd := func(c, policy, target string) map[string]any {
		return rqAdd("adminAdd", "{p"+c+"}", "{"+policy+"}", "{"+target+"}")
	}
	resume := map[string]any{}
	decision := map[string]any{"reviewResult": "Approve"} // without the justification the stage requires
	roleOn := func(principal, role, c string) map[string]any {
		return rmAssign("{"+principal+"}", role, "{cat"+c+"}")
	}
	tenantRole := func(principal, role string) map[string]any { return rmAssign("{"+principal+"}", role, "") }

	rows := []mxRow{
		// Catalogs.
		{method: "GET", path: v1 + "/catalogs", want: mxList, count: true},
		{method: "POST", path: v1 + "/catalogs", body: map[string]any{"displayName": "New"}, want: mxCreate},
		{method: "GET", path: v1 + "/catalogs/{catA}", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs('{catB}')", want: mxReadB},
		{method: "PATCH", path: v1 + "/catalogs/{catA}", body: catalog, want: mxOwnerA(204)},
		{method: "PATCH", path: v1 + "/catalogs/{catB}", body: catalog, want: ownerB(204)},
		{method: "DELETE", path: v1 + "/catalogs/{catA}", want: mxOwnerA(409)}, // it has packages
		{method: "DELETE", path: v1 + "/catalogs/{catB}", want: ownerB(409)},
		{method: "GET", path: v1 + "/catalogs/{catA}/accessPackages", want: mxReadA, count: true},
		{method: "GET", path: v1 + "/catalogs/{catB}/accessPackages", want: mxReadB, count: true},
		{method: "GET", path: v1 + "/catalogs/{catA}/customWorkflowExtensions", want: mxReadA, count: true},
		{method: "GET", path: v1 + "/catalogs/{catB}/customWorkflowExtensions", want: mxReadB, count: true},
		{method: "POST", path: v1 + "/catalogs/{catA}/customWorkflowExtensions", body: ext, want: mxOwnerA(201)},
		{method: "POST", path: v1 + "/catalogs/{catB}/customWorkflowExtensions", body: ext, want: ownerB(201)},
		{method: "GET", path: v1 + "/catalogs/{catA}/customWorkflowExtensions/{xA}", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs/{catB}/customWorkflowExtensions/{xB}", want: mxReadB},
		{method: "PUT", path: v1 + "/catalogs/{catA}/customWorkflowExtensions/{xA}", body: emRequestExtension("Extension A"), want: mxOwnerA(200)},
		{method: "PUT", path: v1 + "/catalogs/{catB}/customWorkflowExtensions/{xB}", body: emRequestExtension("Extension B"), want: ownerB(200)},
		{method: "DELETE", path: v1 + "/catalogs/{catA}/customWorkflowExtensions/{xA}", want: mxOwnerA(409)}, // bound to a policy
		{method: "DELETE", path: v1 + "/catalogs/{catB}/customWorkflowExtensions/{xB}", want: ownerB(409)},
		{method: "GET", path: beta + "/accessPackageCatalogs", want: mxList, count: true},
		{method: "POST", path: beta + "/accessPackageCatalogs", body: map[string]any{"displayName": "New"}, want: mxCreate},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}", want: mxReadB},
		{method: "PATCH", path: beta + "/accessPackageCatalogs/{catA}", body: catalog, want: mxOwnerA(204)},
		{method: "PATCH", path: beta + "/accessPackageCatalogs/{catB}", body: catalog, want: ownerB(204)},
		{method: "DELETE", path: beta + "/accessPackageCatalogs/{catA}", want: mxOwnerA(409)},
		{method: "DELETE", path: beta + "/accessPackageCatalogs/{catB}", want: ownerB(409)},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}/accessPackages", want: mxReadA, count: true},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}/accessPackages", want: mxReadB, count: true},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}/accessPackageCustomWorkflowExtensions", want: mxReadA, count: true},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}/accessPackageCustomWorkflowExtensions", want: mxReadB, count: true},
		{method: "POST", path: beta + "/accessPackageCatalogs/{catA}/accessPackageCustomWorkflowExtensions", body: ext, want: mxOwnerA(201)},
		{method: "POST", path: beta + "/accessPackageCatalogs/{catB}/accessPackageCustomWorkflowExtensions", body: ext, want: ownerB(201)},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}/accessPackageCustomWorkflowExtensions/{xA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}/accessPackageCustomWorkflowExtensions/{xB}", want: mxReadB},
		{method: "PUT", path: beta + "/accessPackageCatalogs/{catA}/accessPackageCustomWorkflowExtensions/{xA}", body: emRequestExtension("Extension A"), want: mxOwnerA(200)},
		{method: "PUT", path: beta + "/accessPackageCatalogs/{catB}/accessPackageCustomWorkflowExtensions/{xB}", body: emRequestExtension("Extension B"), want: ownerB(200)},
		{method: "DELETE", path: beta + "/accessPackageCatalogs/{catA}/accessPackageCustomWorkflowExtensions/{xA}", want: mxOwnerA(409)},
		{method: "DELETE", path: beta + "/accessPackageCatalogs/{catB}/accessPackageCustomWorkflowExtensions/{xB}", want: ownerB(409)},

		// Access packages.
		{method: "GET", path: v1 + "/accessPackages", want: mxList, count: true},
		{method: "POST", path: v1 + "/accessPackages", body: pkgIn("A"), want: mxRefPkgMgrA(201)},
		{method: "POST", path: v1 + "/accessPackages", body: pkgIn("B"), want: refB(201)},
		{method: "GET", path: v1 + "/accessPackages/{pA}", want: mxReadA},
		{method: "GET", path: v1 + "/accessPackages/{pB}", want: mxReadB},
		{method: "PATCH", path: v1 + "/accessPackages/{pA}", body: catalog, want: mxPkgMgrA(204)},
		{method: "PATCH", path: v1 + "/accessPackages/{pB}", body: catalog, want: ownerB(204)},
		{method: "DELETE", path: v1 + "/accessPackages/{pA}", want: mxPkgMgrA(409)}, // it has policies
		{method: "DELETE", path: v1 + "/accessPackages/{pB}", want: ownerB(409)},
		{method: "GET", path: v1 + "/accessPackages/{pA}/assignmentPolicies", want: mxReadA, count: true},
		{method: "GET", path: v1 + "/accessPackages/{pB}/assignmentPolicies", want: mxReadB, count: true},
		{method: "GET", path: v1 + "/accessPackages/filterByCurrentUser(on='allowedRequestor')", want: mxSubject, count: true},
		{method: "POST", path: v1 + "/accessPackages/{pA}/getApplicablePolicyRequirements", want: mxSubject},
		{method: "POST", path: v1 + "/accessPackages/{pB}/getApplicablePolicyRequirements", want: mxSubject},
		{method: "GET", path: beta + "/accessPackages", want: mxList, count: true},
		{method: "POST", path: beta + "/accessPackages", body: pkgIn("A"), want: mxRefPkgMgrA(201)},
		{method: "POST", path: beta + "/accessPackages", body: pkgIn("B"), want: refB(201)},
		{method: "GET", path: beta + "/accessPackages/{pA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackages/{pB}", want: mxReadB},
		{method: "PATCH", path: beta + "/accessPackages/{pA}", body: catalog, want: mxPkgMgrA(204)},
		{method: "PATCH", path: beta + "/accessPackages/{pB}", body: catalog, want: ownerB(204)},
		{method: "DELETE", path: beta + "/accessPackages/{pA}", want: mxPkgMgrA(409)},
		{method: "DELETE", path: beta + "/accessPackages/{pB}", want: ownerB(409)},
		{method: "GET", path: beta + "/accessPackages/microsoft.graph.filterByCurrentUser(on='allowedRequestor')", want: mxSubject, count: true},
		{method: "POST", path: beta + "/accessPackages/{pA}/getApplicablePolicyRequirements", want: mxSubject},

		// Policies.
		{method: "GET", path: v1 + "/assignmentPolicies", want: mxList, count: true},
		{method: "POST", path: v1 + "/assignmentPolicies", body: policyFor("A"), want: mxRefPkgMgrA(201)},
		{method: "POST", path: v1 + "/assignmentPolicies", body: policyFor("B"), want: refB(201)},
		{method: "GET", path: v1 + "/assignmentPolicies/{polA}", want: mxReadA},
		{method: "GET", path: v1 + "/assignmentPolicies/{polB}", want: mxReadB},
		{method: "PUT", path: v1 + "/assignmentPolicies/{polAspare}", body: emMinimalPolicy("{pA}", "Spare A"), want: mxPkgMgrA(200)},
		{method: "PUT", path: v1 + "/assignmentPolicies/{polBspare}", body: emMinimalPolicy("{pB}", "Spare B"), want: ownerB(200)},
		{method: "DELETE", path: v1 + "/assignmentPolicies/{polA}", want: mxPkgMgrA(409)}, // it has an open request
		{method: "DELETE", path: v1 + "/assignmentPolicies/{polB}", want: ownerB(409)},
		// Beta's policies: the same objects and rules, in beta's shape.
		{method: "GET", path: beta + "/accessPackages/{pA}/accessPackageAssignmentPolicies", want: mxReadA, count: true},
		{method: "GET", path: beta + "/accessPackages/{pB}/accessPackageAssignmentPolicies", want: mxReadB, count: true},
		{method: "GET", path: beta + "/accessPackageAssignmentPolicies", want: mxList, count: true},
		{method: "POST", path: beta + "/accessPackageAssignmentPolicies", body: betaPolicyFor("{pA}", "New policy"), want: mxRefPkgMgrA(201)},
		{method: "POST", path: beta + "/accessPackageAssignmentPolicies", body: betaPolicyFor("{pB}", "New policy"), want: refB(201)},
		{method: "GET", path: beta + "/accessPackageAssignmentPolicies/{polA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageAssignmentPolicies/{polB}", want: mxReadB},
		{method: "PUT", path: beta + "/accessPackageAssignmentPolicies/{polAspare}", body: betaPolicyFor("{pA}", "Spare A"), want: mxPkgMgrA(200)},
		{method: "PUT", path: beta + "/accessPackageAssignmentPolicies/{polBspare}", body: betaPolicyFor("{pB}", "Spare B"), want: ownerB(200)},
		{method: "DELETE", path: beta + "/accessPackageAssignmentPolicies/{polA}", want: mxPkgMgrA(409)},
		{method: "DELETE", path: beta + "/accessPackageAssignmentPolicies/{polB}", want: ownerB(409)},

		// Requests.
		{method: "GET", path: v1 + "/assignmentRequests", want: mxList, count: true},
		{method: "POST", path: v1 + "/assignmentRequests", body: adminAdd("A", "polAopen", "target"), want: "401 403 409 400 403 409 409 409 400 409 403 403 400 403"},
		{method: "POST", path: v1 + "/assignmentRequests", body: adminAdd("B", "polBopen", "other2"), want: refB(409)},
		{method: "POST", path: v1 + "/assignmentRequests", body: rqAdd("userAdd", "{pA}", "{polA}", ""), want: "401 403 403 201 201 201 201 201 201 201 409 409 201 403"},
		{method: "GET", path: v1 + "/assignmentRequests/filterByCurrentUser(on='target')", want: mxSubject, count: true},
		{method: "GET", path: v1 + "/assignmentRequests/{pendA}", want: mxReqOwnA},
		{method: "GET", path: v1 + "/assignmentRequests/{delivA}", want: mxTargetA},
		{method: "GET", path: v1 + "/assignmentRequests/{pendB}", want: mxReqB},
		{method: "DELETE", path: v1 + "/assignmentRequests/{delivA}", want: mxAsgMgrA(409)}, // its assignment is active
		{method: "DELETE", path: v1 + "/assignmentRequests/{delivB}", want: ownerB(409)},
		{method: "GET", path: v1 + "/assignmentRequests/{pendA}/history", want: mxReqOwnA},
		{method: "GET", path: v1 + "/assignmentRequests/{delivB}/history", want: mxReqB},
		{method: "POST", path: v1 + "/assignmentRequests/{delivA}/cancel", want: "401 403 403 404 403 409 409 409 404 409 404 409 404 403"},
		{method: "POST", path: v1 + "/assignmentRequests/{delivB}/cancel", want: "401 403 403 404 404 404 404 404 404 409 404 404 404 403"},
		{method: "POST", path: v1 + "/assignmentRequests/{delivA}/resume", body: resume, want: mxAsgMgrA(409)},
		{method: "POST", path: v1 + "/assignmentRequests/{delivB}/resume", body: resume, want: ownerB(409)},
		{method: "POST", path: v1 + "/assignmentRequests/{delivA}/reprocess", want: mxAsgMgrA(409)},
		{method: "POST", path: v1 + "/assignmentRequests/{delivB}/reprocess", want: ownerB(409)},
		{method: "POST", path: v1 + "/accessPackageAssignmentRequests/{delivA}/cancel", want: "401 403 403 404 403 409 409 409 404 409 404 409 404 403"},
		{method: "POST", path: v1 + "/accessPackageAssignmentRequests/{delivA}/resume", body: resume, want: mxAsgMgrA(409)},
		{method: "POST", path: v1 + "/accessPackageAssignmentRequests/{delivB}/microsoft.graph.resume", body: resume, want: ownerB(409)},
		{method: "POST", path: v1 + "/accessPackageAssignmentRequests/{delivA}/reprocess", want: mxAsgMgrA(409)},
		{method: "GET", path: beta + "/accessPackageAssignmentRequests", want: mxList, count: true},
		{method: "POST", path: beta + "/accessPackageAssignmentRequests", body: map[string]any{"requestType": "AdminAdd",
			"accessPackageAssignment": map[string]any{"accessPackageId": "{pA}", "assignmentPolicyId": "{polAopen}", "targetId": "{target}"}},
			want: "401 403 409 400 403 409 409 409 400 409 403 403 400 403"},
		{method: "GET", path: beta + "/accessPackageAssignmentRequests/filterByCurrentUser(on='createdBy')", want: mxSubject, count: true},
		{method: "GET", path: beta + "/accessPackageAssignmentRequests/{pendA}", want: mxReqOwnA},
		{method: "GET", path: beta + "/accessPackageAssignmentRequests/{pendB}", want: mxReqB},
		{method: "DELETE", path: beta + "/accessPackageAssignmentRequests/{delivA}", want: mxAsgMgrA(409)},
		{method: "GET", path: beta + "/accessPackageAssignmentRequests/{delivA}/history", want: mxTargetA},
		{method: "POST", path: beta + "/accessPackageAssignmentRequests/{delivA}/Cancel", want: "401 403 403 404 403 409 409 409 404 409 404 409 404 403"},
		{method: "POST", path: beta + "/accessPackageAssignmentRequests/{delivB}/resume", body: resume, want: ownerB(409)},
		{method: "POST", path: beta + "/accessPackageAssignmentRequests/{delivA}/reprocess", want: mxAsgMgrA(409)},
		{method: "GET", path: beta + "/assignmentRequests", want: mxList, count: true},
		{method: "POST", path: beta + "/assignmentRequests", body: map[string]any{"requestType": "AdminAdd",
			"accessPackageAssignment": map[string]any{"accessPackageId": "{pB}", "assignmentPolicyId": "{polBopen}", "targetId": "{other2}"}},
			want: refB(409)},
		{method: "GET", path: beta + "/assignmentRequests/filterByCurrentUser(on='approver')", want: mxSubject, count: true},
		{method: "GET", path: beta + "/assignmentRequests/{delivA}", want: mxTargetA},
		{method: "DELETE", path: beta + "/assignmentRequests/{delivB}", want: ownerB(409)},
		{method: "GET", path: beta + "/assignmentRequests/{pendB}/history", want: mxReqB},
		{method: "POST", path: beta + "/assignmentRequests/{delivB}/cancel", want: "401 403 403 404 404 404 404 404 404 409 404 404 404 403"},
		{method: "POST", path: beta + "/assignmentRequests/{delivA}/resume", body: resume, want: mxAsgMgrA(409)},
		{method: "POST", path: beta + "/assignmentRequests/{delivB}/reprocess", want: ownerB(409)},
		// Beta's requests under their assignment: the assignment is looked
		// up first, as the caller sees it.
		{method: "GET", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentRequests", want: mxReadA, count: true},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgB}/accessPackageAssignmentRequests", want: mxReadB, count: true},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentRequests/{delivA}", want: mxTargetA},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgB}/accessPackageAssignmentRequests/{delivB}", want: mxReqB},
		{method: "POST", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentRequests/{delivA}/cancel", want: "401 403 403 404 403 409 409 409 404 409 404 409 404 403"},
		{method: "POST", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentRequests/{delivA}/reprocess", want: mxAsgMgrA(409)},
		{method: "POST", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentRequests/{delivA}/resume", body: resume, want: mxAsgMgrA(409)},
		{method: "POST", path: beta + "/accessPackageAssignments/{asgB}/accessPackageAssignmentRequests/{delivB}/resume", body: resume, want: ownerB(409)},

		// Assignments.
		{method: "GET", path: v1 + "/assignments", want: mxList, count: true},
		{method: "GET", path: v1 + "/assignments/filterByCurrentUser(on='target')", want: mxSubject, count: true},
		{method: "GET", path: v1 + "/assignments/additionalAccess(accessPackageId='{pA}',incompatibleAccessPackageId='{pA}')", want: mxReadA},
		{method: "GET", path: v1 + "/assignments/additionalAccess(accessPackageId='{pB}',incompatibleAccessPackageId='{pB}')", want: mxReadB},
		{method: "GET", path: v1 + "/assignments/{asgA}", want: mxTargetA},
		{method: "GET", path: v1 + "/assignments/{asgB}", want: mxReqB},
		{method: "GET", path: beta + "/accessPackageAssignments", want: mxList, count: true},
		{method: "GET", path: beta + "/accessPackageAssignments/filterByCurrentUser(on='createdBy')", want: mxSubject, count: true},
		{method: "GET", path: beta + "/accessPackageAssignments/additionalAccess(accessPackageId='{pA}',incompatibleAccessPackageId='{pA}')", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgA}", want: mxTargetA},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgB}", want: mxReqB},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgA}/accessPackageAssignmentResourceRoles", want: mxTargetA},
		{method: "GET", path: beta + "/accessPackageAssignments/{asgB}/accessPackageAssignmentResourceRoles", want: mxReqB},

		// Approvals: the approver's, with the delegated scope and no role.
		{method: "GET", path: v1 + "/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')", want: "401 403 403 200 200 200 200 200 200 200 403 403 200 403", count: true},
		{method: "GET", path: v1 + "/accessPackageAssignmentApprovals/{pendA}", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "GET", path: v1 + "/accessPackageAssignmentApprovals/{pendA}/stages", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "GET", path: v1 + "/accessPackageAssignmentApprovals/{pendA}/stages/{stageA}", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "PATCH", path: v1 + "/accessPackageAssignmentApprovals/{pendA}/stages/{stageA}", body: decision, want: "401 403 403 403 403 403 403 403 403 403 403 403 400 403"},
		{method: "GET", path: beta + "/accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')", want: "401 403 403 200 200 200 200 200 200 200 403 403 200 403", count: true},
		{method: "GET", path: beta + "/accessPackageAssignmentApprovals/{pendA}", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "GET", path: beta + "/accessPackageAssignmentApprovals/{pendA}/steps", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "GET", path: beta + "/accessPackageAssignmentApprovals/{pendA}/steps/{stageA}", want: "401 403 403 404 404 404 404 404 404 404 403 403 200 403"},
		{method: "PATCH", path: beta + "/accessPackageAssignmentApprovals/{pendA}/steps/{stageA}", body: decision, want: "401 403 403 403 403 403 403 403 403 403 403 403 400 403"},

		// Resources, resource requests, role scopes and incompatibilities (v1.0).
		{method: "GET", path: v1 + "/resourceRequests", want: mxList, count: true},
		{method: "POST", path: v1 + "/resourceRequests", body: rsAdd("{catA}", "AadGroup", "{gAres}"), want: mxRefOwnerA(409)}, // it is there already
		{method: "POST", path: v1 + "/resourceRequests", body: rsAdd("{catB}", "AadGroup", "{gBres}"), want: refB(409)},
		{method: "GET", path: v1 + "/resourceRequests/{rrA}", want: mxReadA},
		{method: "GET", path: v1 + "/resourceRequests/{rrB}", want: mxReadB},
		{method: "GET", path: v1 + "/resources", want: mxList, count: true},
		{method: "GET", path: v1 + "/resources/{resA}", want: mxReadA},
		{method: "GET", path: v1 + "/resources/{resB}", want: mxReadB},
		{method: "GET", path: v1 + "/resources/{resA}/roles", want: mxReadA},
		{method: "GET", path: v1 + "/resources/{resB}/scopes", want: mxReadB},
		{method: "GET", path: v1 + "/resources/{resA}/scopes", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs/{catA}/resources", want: mxReadA, count: true},
		{method: "GET", path: v1 + "/catalogs/{catB}/resources", want: mxReadB, count: true},
		{method: "GET", path: v1 + "/catalogs/{catA}/resources/{resA}", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs/{catB}/resources/{resB}", want: mxReadB},
		{method: "GET", path: v1 + "/catalogs/{catA}/resourceRoles", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs/{catB}/resourceRoles", want: mxReadB},
		{method: "GET", path: v1 + "/catalogs/{catA}/resourceScopes", want: mxReadA},
		{method: "GET", path: v1 + "/catalogs/{catB}/resourceScopes", want: mxReadB},
		{method: "GET", path: v1 + "/accessPackages/{pA}/resourceRoleScopes", want: mxReadA},
		{method: "GET", path: v1 + "/accessPackages/{pB}/resourceRoleScopes", want: mxReadB},
		{method: "POST", path: v1 + "/accessPackages/{pA}/resourceRoleScopes", body: badRoleScope("A"), want: mxPkgMgrA(400)},
		{method: "POST", path: v1 + "/accessPackages/{pB}/resourceRoleScopes", body: badRoleScope("B"), want: ownerB(400)},
		{method: "DELETE", path: v1 + "/accessPackages/{pA}/resourceRoleScopes/no-such-role-scope", want: mxPkgMgrA(404)},
		{method: "DELETE", path: v1 + "/accessPackages/{pB}/resourceRoleScopes/no-such-role-scope", want: ownerB(404)},
		{method: "GET", path: v1 + "/accessPackages/{pA}/incompatibleAccessPackages", want: mxReadA},
		{method: "GET", path: v1 + "/accessPackages/{pB}/incompatibleAccessPackages", want: mxReadB},
		{method: "GET", path: v1 + "/accessPackages/{pA}/accessPackagesIncompatibleWith", want: mxReadA},
		{method: "GET", path: v1 + "/accessPackages/{pB}/accessPackagesIncompatibleWith", want: mxReadB},
		{method: "POST", path: v1 + "/accessPackages/{pA}/incompatibleAccessPackages/$ref", body: selfRef("A"), want: mxPkgMgrA(400)}, // not with itself
		{method: "POST", path: v1 + "/accessPackages/{pB}/incompatibleAccessPackages/$ref", body: selfRef("B"), want: ownerB(400)},
		{method: "DELETE", path: v1 + "/accessPackages/{pA}/incompatibleAccessPackages/{pB}/$ref", want: mxPkgMgrA(404)}, // not among them
		{method: "DELETE", path: v1 + "/accessPackages/{pB}/incompatibleAccessPackages/{pA}/$ref", want: ownerB(404)},
		{method: "GET", path: v1 + "/accessPackages/{pA}/incompatibleGroups", want: mxReadA},
		{method: "GET", path: v1 + "/accessPackages/{pB}/incompatibleGroups", want: mxReadB},
		{method: "POST", path: v1 + "/accessPackages/{pA}/incompatibleGroups/$ref", body: groupRef, want: mxPkgMgrA(204), restore: dropGroup},
		{method: "DELETE", path: v1 + "/accessPackages/{pA}/incompatibleGroups/{gA}/$ref", want: mxPkgMgrA(404)},
		{method: "DELETE", path: v1 + "/accessPackages/{pB}/incompatibleGroups/{gA}/$ref", want: ownerB(404)},

		// The same in beta.
		{method: "GET", path: beta + "/accessPackageResourceRequests", want: mxList, count: true},
		{method: "POST", path: beta + "/accessPackageResourceRequests", body: map[string]any{"requestType": "AdminAdd", "catalogId": "{catA}",
			"accessPackageResource": map[string]any{"originId": "{gAres}", "originSystem": "AadGroup"}}, want: mxRefOwnerA(409)},
		{method: "GET", path: beta + "/accessPackageResourceRequests/{rrA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageResources", want: mxList, count: true},
		{method: "GET", path: beta + "/accessPackageResources/{resA}", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageResources/{resB}/accessPackageResourceRoles", want: mxReadB},
		{method: "GET", path: beta + "/accessPackageResources/{resA}/accessPackageResourceScopes", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}/accessPackageResources", want: mxReadA, count: true},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}/accessPackageResources/{resB}", want: mxReadB},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catA}/accessPackageResourceRoles", want: mxReadA},
		{method: "GET", path: beta + "/accessPackageCatalogs/{catB}/accessPackageResourceScopes", want: mxReadB},
		{method: "GET", path: beta + "/accessPackages/{pA}/accessPackageResourceRoleScopes", want: mxReadA},
		{method: "POST", path: beta + "/accessPackages/{pB}/accessPackageResourceRoleScopes", body: map[string]any{
			"accessPackageResourceRole":  map[string]any{"id": "no-such-role", "accessPackageResource": map[string]any{"id": "{resB}"}},
			"accessPackageResourceScope": map[string]any{"id": "no-such-scope"}}, want: ownerB(400)},
		{method: "DELETE", path: beta + "/accessPackages/{pA}/accessPackageResourceRoleScopes/no-such-role-scope", want: mxPkgMgrA(404)},
		{method: "GET", path: beta + "/accessPackages/{pB}/incompatibleAccessPackages", want: mxReadB},
		{method: "GET", path: beta + "/accessPackages/{pA}/accessPackagesIncompatibleWith", want: mxReadA},
		{method: "POST", path: beta + "/accessPackages/{pA}/incompatibleAccessPackages/$ref", body: selfRef("A"), want: mxPkgMgrA(400)},
		{method: "DELETE", path: beta + "/accessPackages/{pB}/incompatibleAccessPackages/{pA}/$ref", want: ownerB(404)},
		{method: "GET", path: beta + "/accessPackages/{pA}/incompatibleGroups", want: mxReadA},
		{method: "POST", path: beta + "/accessPackages/{pA}/incompatibleGroups/$ref", body: groupRef, want: mxPkgMgrA(204), restore: dropGroup},
		{method: "DELETE", path: beta + "/accessPackages/{pA}/incompatibleGroups/{gA}/$ref", want: mxPkgMgrA(404)},
	}
	// Roles, in both versions.
	for _, v := range []string{"/v1.0", "/beta"} {
		em, dir := v+"/roleManagement/entitlementManagement", v+"/roleManagement/directory"
		rows = append(rows, []mxRow{
			{method: "GET", path: em + "/roleDefinitions", want: mxDefs},
			{method: "GET", path: em + "/roleDefinitions/" + access.RoleCatalogOwner, want: mxDefs},
			{method: "GET", path: em + "/roleAssignments", want: mxList, count: true},
			{method: "POST", path: em + "/roleAssignments", body: roleOn("reader", access.RoleCatalogReader, "A"), want: mxRefOwnerA(409)}, // held already
			{method: "POST", path: em + "/roleAssignments", body: roleOn("other", access.RoleCatalogReader, "B"), want: refB(409)},
			{method: "POST", path: em + "/roleAssignments", body: tenantRole("creator", access.RoleCatalogCreator), want: mxf(mxTenant, 409)},
			{method: "GET", path: em + "/roleAssignments/{raA}", want: mxReadA},
			{method: "GET", path: em + "/roleAssignments/{raB}", want: mxReadB},
			{method: "DELETE", path: em + "/roleAssignments/{raSpareA}", want: mxOwnerA(204), restore: again("raSpareA", access.RoleCatalogReader, w.ids["catA"])},
			{method: "DELETE", path: em + "/roleAssignments/{raSpareB}", want: ownerB(204), restore: again("raSpareB", access.RoleCatalogReader, w.ids["catB"])},
			{method: "GET", path: dir + "/roleAssignments", want: mxList, count: true},
			{method: "POST", path: dir + "/roleAssignments", body: tenantRole("iga", access.RoleIdentityGovernanceAdministrator), want: mxf(mxTenant, 409)},
			{method: "GET", path: dir + "/roleAssignments/{raIGA}", want: "401 200 200 404 404 404 404 404 404 200 403 403 404 403"},
			{method: "DELETE", path: dir + "/roleAssignments/{raSpareIGA}", want: mxf(mxTenant, 204),
				restore: again("raSpareIGA", access.RoleIdentityGovernanceAdministrator, "")},
		}...)
	}
	// --dev mode.
	rows = append(rows,
		mxRow{method: "POST", path: "/_accessd/clock", body: map[string]any{"advance": "soon"}, want: mxf(mxTenant, 400)},
		mxRow{method: "GET", path: "/_accessd/callouts", want: mxf(mxTenant, 200)},
		mxRow{method: "POST", path: "/_accessd/reset", body: map[string]any{"keepUsers": true}, want: mxf(mxTenant, 400)},
		// Recorded callout attempts (--dev, --record-callouts): those who read the extension.
		mxRow{method: "GET", path: "/_accessd/catalogs/{catA}/customWorkflowExtensions/{xA}/calloutAttempts", want: mxReadA},
		mxRow{method: "GET", path: "/_accessd/catalogs/{catB}/customWorkflowExtensions/{xB}/calloutAttempts", want: mxReadB},
	)
	// The directory: Graph's own permissions, which only dirApp holds.
	missingRef := map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/no-such-object"}
	for _, v := range []string{"/v1.0", "/beta"} {
		rows = append(rows, []mxRow{
			{method: "GET", path: v + "/users", want: mxf(mxDir, 200), count: true},
			{method: "POST", path: v + "/users", body: map[string]any{}, want: mxf(mxDir, 400)},
			{method: "GET", path: v + "/users/{norole}", want: mxf(mxDir, 200)},
			{method: "PATCH", path: v + "/users/no-such-user", body: map[string]any{"displayName": "x"}, want: mxf(mxDir, 404)},
			{method: "DELETE", path: v + "/users/no-such-user", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/users/{norole}/manager", want: mxf(mxDir, 404)},
			{method: "PUT", path: v + "/users/{norole}/manager/$ref", body: missingRef, want: mxf(mxDir, 404)}, // a $ref to nothing
			{method: "DELETE", path: v + "/users/{norole}/manager/$ref", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/groups", want: mxf(mxDir, 200), count: true},
			{method: "POST", path: v + "/groups", body: map[string]any{}, want: mxf(mxDir, 400)},
			{method: "GET", path: v + "/groups/{gA}", want: mxf(mxDir, 200)},
			{method: "PATCH", path: v + "/groups/no-such-group", body: map[string]any{"description": "x"}, want: mxf(mxDir, 404)},
			{method: "DELETE", path: v + "/groups/no-such-group", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/groups/{gA}/members", want: mxf(mxDir, 200)},
			{method: "POST", path: v + "/groups/{gA}/members/$ref", body: missingRef, want: mxf(mxDir, 404)}, // a $ref to nothing
			{method: "DELETE", path: v + "/groups/{gA}/members/no-such-object/$ref", want: mxf(mxDir, 404)},
			{method: "DELETE", path: v + "/groups/{gA}/members/$ref?$id=https://graph.microsoft.com/v1.0/directoryObjects/no-such-object", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/groups/{gA}/owners", want: mxf(mxDir, 200)},
			{method: "POST", path: v + "/groups/{gA}/owners/$ref", body: missingRef, want: mxf(mxDir, 404)}, // a $ref to nothing
			{method: "DELETE", path: v + "/groups/{gA}/owners/no-such-object/$ref", want: mxf(mxDir, 404)},
			{method: "DELETE", path: v + "/groups/{gA}/owners/$ref?$id=https://graph.microsoft.com/v1.0/directoryObjects/no-such-object", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/servicePrincipals", want: mxf(mxDir, 200), count: true},
			{method: "POST", path: v + "/servicePrincipals", body: map[string]any{}, want: mxf(mxDir, 400)},
			{method: "GET", path: v + "/servicePrincipals/{sp}", want: mxf(mxDir, 200)},
			{method: "PATCH", path: v + "/servicePrincipals/no-such-sp", body: map[string]any{"displayName": "x"}, want: mxf(mxDir, 404)},
			{method: "DELETE", path: v + "/servicePrincipals/no-such-sp", want: mxf(mxDir, 404)},
			{method: "GET", path: v + "/servicePrincipals/{sp}/appRoleAssignedTo", want: mxf(mxDir, 200)},
			{method: "POST", path: v + "/servicePrincipals/{sp}/appRoleAssignedTo", body: map[string]any{}, want: mxf(mxDir, 400)},
			{method: "DELETE", path: v + "/servicePrincipals/{sp}/appRoleAssignedTo/no-such-assignment", want: mxf(mxDir, 404)},
		}...)
	}
	return rows
}

// parseStatuses reads one expectation.
func parseStatuses(t *testing.T, s string) []int {
	t.Helper()
	fields := strings.Fields(s)
	if len(fields) != len(mxCallers) {
		t.Fatalf("expectation %q has %d statuses for %d callers", s, len(fields), len(mxCallers))
	}
	out := make([]int, len(fields))
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("expectation %q: %v", s, err)
		}
		out[i] = n
	}
	return out
}

func TestAuthzMatrix(t *testing.T) {
	w := newMXWorldDev(t)
	var failures []string
	for _, row := range w.mxRows(t) {
		want := parseStatuses(t, row.want)
		paths := []string{row.path}
		if row.count {
			paths = append(paths, row.path+"/$count")
		}
		for _, path := range paths {
			var got []string
			bad := false
			for i, caller := range mxCallers {
				resp, err := w.client.Do(w.request(t, row.method, w.path(path), w.tokens[caller], bodyFor(w, row.body)))
				if err != nil {
					t.Fatalf("%s %s: %v", row.method, path, err)
				}
				resp.Body.Close()
				got = append(got, strconv.Itoa(resp.StatusCode))
				if resp.StatusCode != want[i] {
					bad = true
				}
				if resp.StatusCode < 300 && row.restore != nil {
					row.restore(t)
				}
			}
			if bad {
				failures = append(failures, fmt.Sprintf("%s %s\n     want %s\n     got  %s", row.method, row.path, strings.Join(strings.Fields(row.want), " "), strings.Join(got, " ")))
			}
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d rows of the matrix differ (callers: %s):\n%s", len(failures), strings.Join(mxCallers, " "), strings.Join(failures, "\n"))
	}
}

// bodyFor puts the world's ids into a row's body.
func bodyFor(w *mxWorld, body any) any {
	if body == nil {
		return nil
	}
	raw := emJSONString(body)
	return w.path(raw)
}

func emJSONString(v any) string {
	b, err := marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// newMXWorldDev is the world on a server with --dev mode's routes.
func newMXWorldDev(t *testing.T) *mxWorld {
	t.Helper()
	return newMXWorldOn(t, func(c *Config) { c.Dev = true; c.Service.RecordCallouts(true) })
}

// TestAuthzMatrixCoversEveryRoute fails when a route of the table, or the
// /$count of a list, has no row in the matrix.
func TestAuthzMatrixCoversEveryRoute(t *testing.T) {
	w := newMXWorldDev(t)
	covered := map[string]bool{}
	for _, row := range w.mxRows(t) {
		paths := []string{w.path(row.path)}
		if row.count {
			paths = append(paths, w.path(row.path)+"/$count")
		}
		for _, p := range paths {
			r, err := http.NewRequest(row.method, "http://accessd.test"+p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if rewritten := rewriteKeys(r.URL.Path); rewritten != r.URL.Path {
				r.URL.Path = rewritten
			}
			r = w.Server.canonicalOperation(r)
			_, pattern := w.Server.mux.Handler(r)
			covered[pattern] = true
		}
	}
	var missing []string
	for _, rt := range w.Server.routes() {
		for _, p := range []string{rt.path, rt.path + "/$count"} {
			if p != rt.path && !rt.list {
				continue
			}
			if !covered[rt.method+" "+p] {
				missing = append(missing, rt.method+" "+p)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%d routes have no row in the permission matrix:\n%s", len(missing), strings.Join(missing, "\n"))
	}
}

// betaPolicyFor is the smallest beta policy of a package: members of the
// directory may request it.
func betaPolicyFor(pkg, name string) map[string]any {
	return map[string]any{"accessPackageId": pkg, "displayName": name,
		"requestorSettings": map[string]any{"scopeType": "AllExistingDirectoryMemberUsers", "acceptRequests": true}}
}
