package graph

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Object-level authorization: a caller with roles on catalog A reads, counts,
// pages and expands A's objects only; the ids of B's objects are not found,
// and nothing of B shows through a list, a count or a navigation property.

func TestBOLAListsCountsAndPagesHoldOnlyTheCallersCatalogs(t *testing.T) {
	w := newMXWorldOn(t)
	owner, norole := w.tokens["owner"], w.tokens["norole"]
	for _, tc := range []struct {
		path         string
		a, b         []string // the ids of A's and B's items among the list's
		ownerSeesAll bool
	}{
		{emV1 + "/catalogs", []string{w.ids["catA"]}, []string{w.ids["catB"]}, false},
		{emV1 + "/accessPackages", []string{w.ids["pA"]}, []string{w.ids["pB"]}, false},
		{emBeta + "/accessPackages", []string{w.ids["pA"]}, []string{w.ids["pB"]}, false},
		{emV1 + "/assignmentPolicies", []string{w.ids["polA"], w.ids["polAopen"], w.ids["polAspare"], w.ids["polAbound"]},
			[]string{w.ids["polB"], w.ids["polBopen"], w.ids["polBspare"], w.ids["polBbound"]}, false},
		{emV1 + "/assignmentRequests", []string{w.ids["pendA"], w.ids["delivA"]}, []string{w.ids["pendB"], w.ids["delivB"]}, false},
		{emBeta + "/accessPackageAssignmentRequests", []string{w.ids["pendA"], w.ids["delivA"]}, []string{w.ids["pendB"], w.ids["delivB"]}, false},
		{emV1 + "/assignments", []string{w.ids["asgA"]}, []string{w.ids["asgB"]}, false},
		{emV1 + "/resources", []string{w.ids["resA"]}, []string{w.ids["resB"]}, false},
		{emV1 + "/resourceRequests", []string{w.ids["rrA"]}, []string{w.ids["rrB"]}, false},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			all := w.listAll(t, w.tok, tc.path)
			for _, id := range append(append([]string{}, tc.a...), tc.b...) {
				if !all[id] {
					t.Fatalf("the administrator's list lacks %s", id)
				}
			}
			// Page by page, one item a page: only A's, and the count says so.
			mine := w.listAll(t, owner, tc.path+"?$top=1")
			for _, id := range tc.a {
				if !mine[id] {
					t.Errorf("the owner of A does not see %s", id)
				}
			}
			for _, id := range tc.b {
				if mine[id] {
					t.Errorf("the owner of A sees %s of B", id)
				}
			}
			counted := w.get(t, owner, tc.path+"?$count=true&$top=1")
			if counted["@odata.count"] != float64(len(mine)) {
				t.Errorf("$count=true: %v for %d items", counted["@odata.count"], len(mine))
			}
			if status, _, body := w.getText(t, tc.path+"/$count", owner); status != http.StatusOK || body != strconv.Itoa(len(mine)) {
				t.Errorf("/$count: %d %q for %d items", status, body, len(mine))
			}
			// A filter naming B's ids finds nothing.
			if got := valueIDs(t, w.get(t, owner, tc.path+"?"+rqFilter("id eq '"+tc.b[0]+"'"))); len(got) != 0 {
				t.Errorf("filtered on B's id: %v", got)
			}
			// Without a role, nothing of either catalog.
			none := w.listAll(t, norole, tc.path)
			for _, id := range append(append([]string{}, tc.a...), tc.b...) {
				if none[id] {
					t.Errorf("a user without a role sees %s", id)
				}
			}
		})
	}
}

// listAll follows a list's nextLinks and returns the ids it holds.
func (w *mxWorld) listAll(t *testing.T, tok, path string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for path != "" {
		got := w.get(t, tok, path)
		for _, id := range valueIDs(t, got) {
			ids[id] = true
		}
		path, _ = got["@odata.nextLink"].(string)
	}
	return ids
}

func TestBOLANavigationsAcrossCatalogs(t *testing.T) {
	w := newMXWorldOn(t)
	owner := w.tokens["owner"]
	// pA is incompatible with pB, in a catalog the owner of A does not see.
	w.noContent(t, "POST", emV1+"/accessPackages/"+w.ids["pA"]+"/incompatibleAccessPackages/$ref", w.tok,
		map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/" + w.ids["pB"]})
	emSame(t, "the administrator's incompatible packages", []string{w.ids["pB"]},
		valueIDs(t, w.get(t, w.tok, emV1+"/accessPackages/"+w.ids["pA"]+"/incompatibleAccessPackages")))
	emSame(t, "the owner's incompatible packages", []string{},
		valueIDs(t, w.get(t, owner, emV1+"/accessPackages/"+w.ids["pA"]+"/incompatibleAccessPackages")))
	expanded := w.get(t, owner, emV1+"/accessPackages/"+w.ids["pA"]+"?$expand=incompatibleAccessPackages")
	if got, _ := expanded["incompatibleAccessPackages"].([]any); len(got) != 0 {
		t.Errorf("the owner's expanded incompatible packages: %v", got)
	}
	// B's package does not even exist for the owner, whichever way it is named.
	for _, path := range []string{
		emV1 + "/assignments/additionalAccess(accessPackageId='" + w.ids["pA"] + "',incompatibleAccessPackageId='" + w.ids["pB"] + "')",
		emV1 + "/accessPackages/" + w.ids["pB"] + "/accessPackagesIncompatibleWith",
		emV1 + "/assignmentPolicies/" + w.ids["polB"] + "?$expand=accessPackage",
		emV1 + "/assignmentRequests/" + w.ids["delivB"] + "?$expand=accessPackage,assignment",
		emV1 + "/assignments/" + w.ids["asgB"] + "?$expand=target",
		emV1 + "/catalogs/" + w.ids["catB"] + "/resources/" + w.ids["resB"],
		emV1 + "/catalogs/" + w.ids["catA"] + "/resources/" + w.ids["resB"],
		emV1 + "/catalogs/" + w.ids["catB"] + "/customWorkflowExtensions/" + w.ids["xB"],
		emV1 + "/catalogs/" + w.ids["catA"] + "/customWorkflowExtensions/" + w.ids["xB"],
	} {
		resp, _ := w.do(t, "GET", path, owner, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	// Nor can the owner act on B's objects: resume, cancel, reprocess.
	for _, action := range []string{"resume", "cancel", "reprocess"} {
		resp, _ := w.do(t, "POST", emV1+"/assignmentRequests/"+w.ids["delivB"]+"/"+action, owner, map[string]any{})
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	// A list of A's requests expanded shows A's packages and assignments.
	for _, item := range emValue(t, w.get(t, owner, emV1+"/assignmentRequests?$expand=accessPackage,assignment")) {
		if pkg, _ := item["accessPackage"].(map[string]any); pkg["id"] != w.ids["pA"] {
			t.Errorf("an expanded request of the owner: %v", item)
		}
	}
	// Role assignments: those on A, and the owner's own; none of B's.
	for _, x := range emValue(t, w.get(t, owner, rmEM+"/roleAssignments")) {
		if x["appScopeId"] != "/AccessPackageCatalog/"+w.ids["catA"] {
			t.Errorf("the owner of A sees a role elsewhere: %v", x)
		}
	}
	// A resume with no permission at all is refused before the request is looked up.
	resp, _ := w.do(t, "POST", emV1+"/assignmentRequests/no-such-request/resume", w.tokens["dirApp"], map[string]any{})
	wantError(t, resp, http.StatusForbidden, "accessDenied")
}
