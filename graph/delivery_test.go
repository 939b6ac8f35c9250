package graph

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Delivery and separation of duties through the API. The engine does not
// run here: runDueWork claims the due work by hand, as the engine would;
// deliveries and revocations are timers that ClaimAndBegin runs inside the
// claim.

// runDueWork claims and runs every piece of due work until none is left,
// and returns the kinds it ran. It fails on a callout: the packages here
// bind no extension.
func (rs *rsAPI) runDueWork(t *testing.T) []access.WorkKind {
	t.Helper()
	var kinds []access.WorkKind
	for range 10 {
		claimed, err := rs.Svc.ClaimAndBegin(context.Background(), "test-engine", time.Minute, 100)
		if err != nil {
			t.Fatalf("claim work: %v", err)
		}
		if len(claimed) == 0 {
			return kinds
		}
		for _, c := range claimed {
			if !c.Done {
				t.Fatalf("claimed work %+v was not run inside the claim", c.Work)
			}
			kinds = append(kinds, c.Work.Kind)
		}
	}
	t.Fatalf("work kept coming after 10 claims: %v", kinds)
	return nil
}

// memberIDs lists the ids of a group's members.
func (rs *rsAPI) memberIDs(t *testing.T, groupID string) []string {
	t.Helper()
	return rqSorted(valueIDs(t, rs.get(t, rs.dirTok, "/v1.0/groups/"+groupID+"/members"))...)
}

// appRoleHolders lists who holds which app role of a service principal, as
// "principalId appRoleId".
func (rs *rsAPI) appRoleHolders(t *testing.T, spID string) []string {
	t.Helper()
	out := []string{}
	for _, a := range emValue(t, rs.get(t, rs.dirTok, "/v1.0/servicePrincipals/"+spID+"/appRoleAssignedTo")) {
		out = append(out, a["principalId"].(string)+" "+a["appRoleId"].(string))
	}
	return out
}

// grantingPackage is a package (with a policy nobody approves) that grants
// the catalog group's Member role and the CRM's user role.
func (rs *rsAPI) grantingPackage(t *testing.T, name string) (pkg, policy string) {
	t.Helper()
	group := rs.addResource(t, rs.catalog, "AadGroup", rs.group)
	crm := rs.addResource(t, rs.catalog, "AadApplication", rs.crm)
	pkg, policy, _ = rs.pkgPolicy(t, name, nil)
	for _, body := range []map[string]any{rsRoleScope(group, rsRoleNamed(t, group, "Member")), rsRoleScope(crm, rsRoleNamed(t, crm, "CRM user"))} {
		rs.mustCall(t, "POST", emV1+"/accessPackages/"+pkg+"/resourceRoleScopes", body, http.StatusCreated)
	}
	return pkg, policy
}

func TestDeliveryGrantsAndRevokesThroughTheAPI(t *testing.T) {
	rs := newRSAPI(t)
	pkg, policy := rs.grantingPackage(t, "Sales tools")

	added := rs.submit(t, rs.tok, rqAdd("adminAdd", pkg, policy, rs.bob))
	if added["state"] != "delivering" || added["status"] != "Delivering" {
		t.Fatalf("an add request whose package grants roles answers %v/%v, want delivering/Delivering", added["state"], added["status"])
	}
	asg := rs.assignmentOf(t, emID(t, added))
	if got := rs.get(t, rs.tok, emV1+"/assignments/"+asg); got["state"] != "delivering" {
		t.Errorf("assignment before its roles are granted: %v", got)
	}
	// Nothing is granted before the work runs.
	emSame(t, "beta resource roles before delivery", []string{"AadApplication " + rsCRMUserRole + " PendingFulfillment",
		"AadGroup Member_" + rs.group + " PendingFulfillment"}, rs.assignmentResourceRoles(t, asg))
	emSame(t, "members before delivery", []string{}, rs.memberIDs(t, rs.group))
	emSame(t, "app roles before delivery", []string{}, rs.appRoleHolders(t, rs.crm))

	emSame(t, "work run for the add", []access.WorkKind{access.WorkDeliver}, rs.runDueWork(t))
	rs.wantRequestState(t, emID(t, added), "delivered", "Delivered")
	if got := rs.get(t, rs.tok, emV1+"/assignments/"+asg); got["state"] != "delivered" || got["status"] != "Delivered" {
		t.Errorf("assignment after delivery: %v", got)
	}
	emSame(t, "beta resource roles after delivery", []string{"AadApplication " + rsCRMUserRole + " Fulfilled",
		"AadGroup Member_" + rs.group + " Fulfilled"}, rs.assignmentResourceRoles(t, asg))
	emSame(t, "members after delivery", []string{rs.bob}, rs.memberIDs(t, rs.group))
	emSame(t, "app roles after delivery", []string{rs.bob + " " + rsCRMUserRole}, rs.appRoleHolders(t, rs.crm))
	holder := emValue(t, rs.get(t, rs.dirTok, "/v1.0/servicePrincipals/"+rs.crm+"/appRoleAssignedTo"))[0]
	if holder["principalType"] != "User" || holder["principalDisplayName"] != "bob" || holder["resourceDisplayName"] != "Sales CRM" {
		t.Errorf("delivered appRoleAssignment %v", holder)
	}

	removed := rs.submit(t, rs.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": asg}})
	if removed["state"] != "delivering" {
		t.Fatalf("a remove request of an assignment with roles answers %v", removed["state"])
	}
	emSame(t, "members until the revocation runs", []string{rs.bob}, rs.memberIDs(t, rs.group))
	emSame(t, "beta resource roles until the revocation runs", []string{"AadApplication " + rsCRMUserRole + " PendingRemoval",
		"AadGroup Member_" + rs.group + " PendingRemoval"}, rs.assignmentResourceRoles(t, asg))
	emSame(t, "work run for the remove", []access.WorkKind{access.WorkRevoke}, rs.runDueWork(t))
	rs.wantRequestState(t, emID(t, removed), "delivered", "Delivered")
	if got := rs.get(t, rs.tok, emV1+"/assignments/"+asg); got["state"] != "expired" {
		t.Errorf("assignment after removal: %v", got)
	}
	emSame(t, "members after removal", []string{}, rs.memberIDs(t, rs.group))
	emSame(t, "app roles after removal", []string{}, rs.appRoleHolders(t, rs.crm))
	emSame(t, "beta resource roles after removal", []string{"AadApplication " + rsCRMUserRole + " Removed",
		"AadGroup Member_" + rs.group + " Removed"}, rs.assignmentResourceRoles(t, asg))
	resp, _ := rs.call(t, "GET", emBeta+"/accessPackageAssignments/nope/accessPackageAssignmentResourceRoles", nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	t.Run("a membership held before the assignment stays after it", func(t *testing.T) {
		rs.noContent(t, "POST", "/v1.0/groups/"+rs.group+"/members/$ref", rs.dirTok,
			map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + rs.carol})
		add := rs.submit(t, rs.tok, rqAdd("adminAdd", pkg, policy, rs.carol))
		rs.runDueWork(t)
		rs.wantRequestState(t, emID(t, add), "delivered", "Delivered")
		emSame(t, "app roles of carol", []string{rs.carol + " " + rsCRMUserRole}, rs.appRoleHolders(t, rs.crm))
		rs.submit(t, rs.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": rs.assignmentOf(t, emID(t, add))}})
		rs.runDueWork(t)
		emSame(t, "carol is still a member", []string{rs.carol}, rs.memberIDs(t, rs.group))
		emSame(t, "the app role accessd granted is gone", []string{}, rs.appRoleHolders(t, rs.crm))
	})
}

// assignmentResourceRoles lists an assignment's beta
// accessPackageAssignmentResourceRoles as "originSystem originId status",
// sorted, after checking that each id is the assignment's own and unique.
func (rs *rsAPI) assignmentResourceRoles(t *testing.T, assignmentID string) []string {
	t.Helper()
	out, seen := []string{}, map[string]bool{}
	for _, r := range emValue(t, rs.get(t, rs.tok, emBeta+"/accessPackageAssignments/"+assignmentID+"/accessPackageAssignmentResourceRoles")) {
		id, _ := r["id"].(string)
		if !strings.HasPrefix(id, assignmentID+"_") || seen[id] {
			t.Errorf("resource role id %q of assignment %s", id, assignmentID)
		}
		seen[id] = true
		out = append(out, r["originSystem"].(string)+" "+r["originId"].(string)+" "+r["status"].(string))
	}
	return rqSorted(out...)
}

// wantRequestState checks a v1.0 request's state and status.
func (rs *rsAPI) wantRequestState(t *testing.T, id, state, status string) {
	t.Helper()
	got := rs.getRequest(t, id, "")
	if got["state"] != state || got["status"] != status {
		t.Errorf("request %s is %v/%v, want %s/%s", id, got["state"], got["status"], state, status)
	}
}

// refuses submits a v1.0 request that must be refused with 409, and
// checks the message names each of parts.
func (rs *rsAPI) refuses(t *testing.T, body map[string]any, parts ...string) {
	t.Helper()
	resp, _ := rs.do(t, "POST", emV1+"/assignmentRequests", rs.tok, body)
	wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), parts...)
}

func TestSeparationOfDutiesThroughTheAPI(t *testing.T) {
	rs := newRSAPI(t)
	sales, salesPolicy, _ := rs.pkgPolicy(t, "Sales tools", nil)
	audit, auditPolicy, _ := rs.pkgPolicy(t, "Audit tools", nil)
	// Audit is requested with approval, so a request for it stays open.
	_, auditApproved, _ := rs.pkgPolicyOf(t, audit, "Audit, approved", rqApproval(rs.alice))
	// Frank holds both before anyone says they are incompatible.
	frank := rs.newUser(t, "frank@contoso.test").ID
	grace := rs.newUser(t, "grace@contoso.test").ID
	for _, who := range []string{frank, grace} {
		rs.submit(t, rs.tok, rqAdd("adminAdd", sales, salesPolicy, who))
		rs.submit(t, rs.tok, rqAdd("adminAdd", audit, auditPolicy, who))
	}

	// Sales names Audit and the group as incompatible.
	rs.noContent(t, "POST", emV1+"/accessPackages/"+sales+"/incompatibleAccessPackages/$ref", rs.tok,
		map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/" + audit})
	rs.noContent(t, "POST", emV1+"/accessPackages/"+sales+"/incompatibleGroups/$ref", rs.tok,
		map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/groups/" + rs.group})

	t.Run("holding the package Sales names", func(t *testing.T) {
		rs.submit(t, rs.tok, rqAdd("adminAdd", audit, auditPolicy, rs.bob))
		rs.refuses(t, rqAdd("adminAdd", sales, salesPolicy, rs.bob), "Audit tools", audit)
	})
	t.Run("holding the package that names Audit", func(t *testing.T) {
		rs.submit(t, rs.tok, rqAdd("adminAdd", sales, salesPolicy, rs.carol))
		rs.refuses(t, rqAdd("adminAdd", audit, auditPolicy, rs.carol), "Sales tools", sales)
	})
	t.Run("an open request for the incompatible package", func(t *testing.T) {
		open := rs.submit(t, rs.tok, rqAdd("adminAdd", audit, auditApproved, rs.dave))
		if open["state"] != "pendingApproval" {
			t.Fatalf("setup: request %v", open)
		}
		rs.refuses(t, rqAdd("adminAdd", sales, salesPolicy, rs.dave), "Audit tools", audit)
	})
	t.Run("a member of the incompatible group", func(t *testing.T) {
		rs.noContent(t, "POST", "/v1.0/groups/"+rs.group+"/members/$ref", rs.dirTok,
			map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/users/" + rs.alice})
		rs.refuses(t, rqAdd("adminAdd", sales, salesPolicy, rs.alice), "Sales team", rs.group)
	})
	t.Run("beta names the conflict too", func(t *testing.T) {
		resp, _ := rs.do(t, "POST", emBeta+"/accessPackageAssignmentRequests", rs.tok, map[string]any{"requestType": "AdminAdd",
			"accessPackageAssignment": map[string]any{"targetId": rs.bob, "accessPackageId": sales, "assignmentPolicyId": salesPolicy}})
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "Audit tools")
	})
	t.Run("nothing incompatible: granted", func(t *testing.T) {
		erin := rs.newUser(t, "erin@contoso.test").ID
		if got := rs.submit(t, rs.tok, rqAdd("adminAdd", sales, salesPolicy, erin)); got["state"] != "delivered" {
			t.Errorf("a request with no conflict: %v", got)
		}
	})

	t.Run("additionalAccess lists who holds both", func(t *testing.T) {
		assignmentsOf := func(pkg string) []string {
			var ids []string
			for _, who := range []string{frank, grace} {
				ids = append(ids, valueIDs(t, rs.get(t, rs.tok, emV1+"/assignments?"+rqFilter("accessPackage/id eq '"+pkg+"' and target/objectId eq '"+who+"'")))...)
			}
			return ids
		}
		want := assignmentsOf(sales)
		fn := "additionalAccess(accessPackageId='" + sales + "',incompatibleAccessPackageId='" + audit + "')"
		emSame(t, "additionalAccess", rqSorted(want...), rs.listIDs(t, emV1+"/assignments/"+fn))
		emSame(t, "with the namespace", rqSorted(want...), rs.listIDs(t, emV1+"/assignments/microsoft.graph."+fn))
		emSame(t, "in pages of one", rqSorted(want...), rs.listIDs(t, emV1+"/assignments/"+fn+"?$top=1"))
		page := rs.get(t, rs.tok, emV1+"/assignments/"+fn+"?$top=1&$expand=target")
		items := emValue(t, page)
		if len(items) != 1 || page["@odata.nextLink"] == nil {
			t.Fatalf("first page of one: %v", page)
		}
		if page["@odata.context"] != rs.URL+"/v1.0/$metadata#Collection(microsoft.graph.accessPackageAssignment)" {
			t.Errorf("@odata.context %v", page["@odata.context"])
		}
		if target, _ := items[0]["target"].(map[string]any); target["objectId"] != frank && target["objectId"] != grace {
			t.Errorf("expanded target %v", items[0]["target"])
		}
		// The other way round: their Audit assignments.
		emSame(t, "additionalAccess the other way", rqSorted(assignmentsOf(audit)...),
			rs.listIDs(t, emV1+"/assignments/additionalAccess(accessPackageId='"+audit+"',incompatibleAccessPackageId='"+sales+"')"))
		beta := rs.get(t, rs.tok, emBeta+"/accessPackageAssignments/"+fn)
		for _, a := range emValue(t, beta) {
			if a["accessPackageId"] != sales {
				t.Errorf("beta additionalAccess item %v", a)
			}
		}
		if len(emValue(t, beta)) != 2 {
			t.Errorf("beta additionalAccess %v", beta)
		}
	})
	t.Run("additionalAccess refusals", func(t *testing.T) {
		const nobody = "00000000-0000-4000-8000-00000000dead"
		for _, fn := range []string{"additionalAccess(accessPackageId='" + sales + "')",
			"additionalAccess(accessPackageId='" + sales + "',incompatibleAccessPackageId='" + audit + "',x='y')",
			"additionalAccess(accessPackageId=" + sales + ")"} {
			rs.refused(t, "GET", emV1+"/assignments/"+url.PathEscape(fn), nil, "additionalAccess")
		}
		resp, _ := rs.call(t, "GET", emV1+"/assignments/additionalAccess(accessPackageId='"+nobody+"',incompatibleAccessPackageId='"+audit+"')", nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}

// pkgPolicyOf adds a policy, emMinimalPolicy changed by edit, to an existing package.
func (ra *rqAPI) pkgPolicyOf(t *testing.T, pkg, name string, edit func(p map[string]any)) (string, string, map[string]any) {
	t.Helper()
	body := emMinimalPolicy(pkg, name)
	if edit != nil {
		edit(body)
	}
	created := ra.mustCall(t, "POST", emV1+"/assignmentPolicies", body, http.StatusCreated)
	return pkg, emID(t, created), created
}
