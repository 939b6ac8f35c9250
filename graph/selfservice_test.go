package graph

import (
	"context"
	"net/http"
	"testing"

	"github.com/accessd/accessd/access"
)

// Self-service through the real server: users with only
// EntitlementMgmt-SubjectAccess.ReadWrite request, extend and remove access
// for themselves, or for others, exactly where a policy's target scope and
// requestor settings let them; they find what they may request and read
// their own requests and assignments, and nobody else's.

type ssAPI struct {
	*rqAPI
	carolTok, daveTok string // self-service tokens too
	group             string // alice and carol are its members
}

func newSSAPI(t *testing.T) *ssAPI {
	t.Helper()
	ra := newRQAPI(t)
	g, err := ra.Svc.CreateGroup(context.Background(), access.Group{DisplayName: "Sales team", MailNickname: "sales", SecurityEnabled: true},
		[]string{ra.alice, ra.carol}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &ssAPI{rqAPI: ra, group: g.ID,
		carolTok: ra.userToken(t, ra.carol, scopeSA), daveTok: ra.userToken(t, ra.dave, scopeSA)}
}

// post sends a v1.0 request as tok and returns the answer.
func (ss *ssAPI) post(t *testing.T, tok string, body map[string]any) (*http.Response, map[string]any) {
	t.Helper()
	return ss.do(t, "POST", emV1+"/assignmentRequests", tok, body)
}

func groupTargets(groupID string) func(p map[string]any) {
	return func(p map[string]any) {
		p["allowedTargetScope"] = "specificDirectoryUsers"
		p["specificAllowedTargets"] = []any{map[string]any{"@odata.type": "#microsoft.graph.groupMembers", "groupId": groupID}}
	}
}

func requestorSettings(settings map[string]any) func(p map[string]any) {
	return func(p map[string]any) { p["requestorSettings"] = settings }
}

func edits(fs ...func(map[string]any)) func(map[string]any) {
	return func(p map[string]any) {
		for _, f := range fs {
			f(p)
		}
	}
}

func TestSelfServiceWithinThePolicysTargets(t *testing.T) {
	ss := newSSAPI(t)
	pkg, pol, _ := ss.pkgPolicy(t, "Team tools", edits(groupTargets(ss.group), rqQuestions,
		requestorSettings(map[string]any{"enableTargetsToSelfAddAccess": true, "enableTargetsToSelfRemoveAccess": true})))
	closed, closedPol, _ := ss.pkgPolicy(t, "Admins only", nil) // no self-service at all

	// What alice (a member) and bob (not one) may request.
	for _, tc := range []struct {
		name, tok string
		want      []string
	}{{"alice", ss.aliceTok, []string{pkg}}, {"bob", ss.bobTok, []string{}}} {
		for _, base := range []string{emV1, emBeta} {
			got := ss.get(t, tc.tok, base+"/accessPackages/filterByCurrentUser(on='allowedRequestor')")
			emSame(t, tc.name+"'s requestable packages", tc.want, valueIDs(t, got))
		}
	}
	if status, _, body := ss.getText(t, emV1+"/accessPackages/filterByCurrentUser(on='allowedRequestor')/$count", ss.aliceTok); status != http.StatusOK || body != "1" {
		t.Errorf("alice's count: %d %q", status, body)
	}

	// getApplicablePolicyRequirements: the policy, its questions and schedule.
	resp, reqs := ss.do(t, "POST", emV1+"/accessPackages/"+pkg+"/getApplicablePolicyRequirements", ss.aliceTok, nil)
	wantStatus(t, resp, http.StatusOK)
	items := emValue(t, reqs)
	if len(items) != 1 || items[0]["policyId"] != pol || items[0]["isApprovalRequiredForAdd"] != false {
		t.Fatalf("alice's requirements: %v", reqs)
	}
	if qs, _ := items[0]["questions"].([]any); len(qs) != 2 {
		t.Errorf("requirements' questions: %v", items[0]["questions"])
	}
	if _, ok := items[0]["schedule"].(map[string]any)["expiration"]; !ok {
		t.Errorf("requirements' schedule: %v", items[0]["schedule"])
	}
	resp, betaReqs := ss.do(t, "POST", emBeta+"/accessPackages/"+pkg+"/getApplicablePolicyRequirements", ss.aliceTok, map[string]any{})
	wantStatus(t, resp, http.StatusOK)
	if b := emValue(t, betaReqs); len(b) != 1 || b[0]["isApprovalRequired"] != false || b[0]["policyId"] != pol {
		t.Errorf("alice's beta requirements: %v", betaReqs)
	}
	resp, _ = ss.do(t, "POST", emV1+"/accessPackages/"+pkg+"/getApplicablePolicyRequirements", ss.bobTok, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound") // bob may neither see nor request it
	resp, _ = ss.do(t, "POST", emV1+"/accessPackages/"+pkg+"/getApplicablePolicyRequirements", ss.tok, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied") // delegated only
	// An administrator who sees the package gets an empty list: it is not for them.
	resp, mine := ss.do(t, "POST", emV1+"/accessPackages/"+closed+"/getApplicablePolicyRequirements", ss.adminTok, nil)
	wantStatus(t, resp, http.StatusOK)
	emSame(t, "the administrator's requirements", []map[string]any{}, emValue(t, mine))

	// Requests: alice may, bob is outside the targets, nobody self-requests the closed package.
	answers := []any{rqAnswer(rqQuestionIDs(t, ss.get(t, ss.tok, emV1+"/assignmentPolicies/"+pol+"?$expand=questions"))[0], "4711")}
	resp, aliceReq := ss.post(t, ss.aliceTok, with(rqAdd("userAdd", pkg, pol, ""), "answers", answers))
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = ss.post(t, ss.bobTok, with(rqAdd("userAdd", pkg, pol, ""), "answers", answers))
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "specificAllowedTargets")
	resp, _ = ss.post(t, ss.carolTok, rqAdd("userAdd", closed, closedPol, ""))
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "for themselves")
	resp, _ = ss.post(t, ss.carolTok, rqAdd("userAdd", pkg, pol, ss.alice))
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "for others")

	// Alice reads her own request and assignment by id; bob reads neither.
	reqID := emID(t, aliceReq)
	asgID := ss.assignmentOf(t, reqID)
	for _, path := range []string{emV1 + "/assignmentRequests/" + reqID, emBeta + "/accessPackageAssignmentRequests/" + reqID,
		emV1 + "/assignmentRequests/" + reqID + "/history", emV1 + "/assignments/" + asgID, emBeta + "/accessPackageAssignments/" + asgID} {
		wantStatus(t, func() *http.Response { r, _ := ss.do(t, "GET", path, ss.aliceTok, nil); return r }(), http.StatusOK)
		resp, _ := ss.do(t, "GET", path, ss.bobTok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	// Her own, expanded, shows its package, though she holds no role.
	if got := ss.get(t, ss.aliceTok, emV1+"/assignmentRequests/"+reqID+"?$expand=accessPackage"); got["accessPackage"].(map[string]any)["id"] != pkg {
		t.Errorf("alice's request with its package: %v", got)
	}
	for _, base := range []string{emV1 + "/assignmentRequests", emBeta + "/accessPackageAssignmentRequests"} {
		emSame(t, "alice's requests as target", []string{reqID}, valueIDs(t, ss.get(t, ss.aliceTok, base+"/filterByCurrentUser(on='target')")))
		emSame(t, "alice's requests as requestor", []string{reqID}, valueIDs(t, ss.get(t, ss.aliceTok, base+"/filterByCurrentUser(on='createdBy')")))
		emSame(t, "bob's requests", []string{}, valueIDs(t, ss.get(t, ss.bobTok, base+"/filterByCurrentUser(on='target')")))
	}
	emSame(t, "alice's assignments", []string{asgID}, valueIDs(t, ss.get(t, ss.aliceTok, emV1+"/assignments/filterByCurrentUser(on='target')")))
	emSame(t, "alice's assignments as requestor", []string{asgID}, valueIDs(t, ss.get(t, ss.aliceTok, emBeta+"/accessPackageAssignments/filterByCurrentUser(on='createdBy')")))
	resp, _ = ss.do(t, "GET", emV1+"/assignments/filterByCurrentUser(on='target')", ss.tok, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	// The lists for administrators are not hers.
	resp, _ = ss.do(t, "GET", emV1+"/assignmentRequests", ss.aliceTok, nil)
	wantError(t, resp, http.StatusForbidden, "accessDenied")

	// bob cannot remove alice's access; alice can, and cannot extend it.
	remove := map[string]any{"requestType": "userRemove", "assignment": map[string]any{"id": asgID}}
	resp, _ = ss.post(t, ss.bobTok, remove)
	wantError(t, resp, http.StatusBadRequest, "invalidRequest") // an assignment bob does not see
	resp, _ = ss.post(t, ss.aliceTok, map[string]any{"requestType": "userUpdate", "assignment": map[string]any{"id": asgID},
		"schedule": map[string]any{"expiration": map[string]any{"type": "afterDuration", "duration": "P30D"}}})
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "extend")
	resp, removed := ss.post(t, ss.aliceTok, remove)
	wantStatus(t, resp, http.StatusCreated)
	if removed["requestType"] != "userRemove" {
		t.Errorf("alice's removal: %v", removed)
	}
}

func TestSelfServiceOnBehalfOfOthers(t *testing.T) {
	ss := newSSAPI(t)
	// carol requests for others as a member of the group; the target's
	// manager does too; anyone else does not.
	manager := ss.newUser(t, "mona@contoso.test")
	if err := ss.Svc.SetManager(context.Background(), ss.dave, manager.ID); err != nil {
		t.Fatal(err)
	}
	managerTok := ss.userToken(t, manager.ID, scopeSA)
	pkg, pol, _ := ss.pkgPolicy(t, "Delegated", requestorSettings(map[string]any{
		"enableOnBehalfRequestorsToAddAccess": true, "enableOnBehalfRequestorsToRemoveAccess": true,
		"onBehalfRequestors": []any{
			map[string]any{"@odata.type": "#microsoft.graph.groupMembers", "groupId": ss.group},
			map[string]any{"@odata.type": "#microsoft.graph.targetManager", "managerLevel": 1},
		}}))

	emSame(t, "carol may request it", []string{pkg}, valueIDs(t, ss.get(t, ss.carolTok, emV1+"/accessPackages/filterByCurrentUser(on='allowedRequestor')")))
	emSame(t, "bob may not", []string{}, valueIDs(t, ss.get(t, ss.bobTok, emV1+"/accessPackages/filterByCurrentUser(on='allowedRequestor')")))

	resp, forBob := ss.post(t, ss.carolTok, rqAdd("userAdd", pkg, pol, ss.bob))
	wantStatus(t, resp, http.StatusCreated)
	resp, _ = ss.post(t, ss.carolTok, rqAdd("userAdd", pkg, pol, "")) // not for herself
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "for themselves")
	resp, _ = ss.post(t, ss.bobTok, rqAdd("userAdd", pkg, pol, ss.dave))
	wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "onBehalfRequestors")
	resp, _ = ss.post(t, managerTok, rqAdd("userAdd", pkg, pol, ss.dave))
	wantStatus(t, resp, http.StatusCreated)

	// carol sees the request she made, as its requestor, and removes the access.
	id := emID(t, forBob)
	emSame(t, "carol's requests", []string{id}, valueIDs(t, ss.get(t, ss.carolTok, emV1+"/assignmentRequests/filterByCurrentUser(on='createdBy')")))
	emSame(t, "bob's as target", []string{id}, valueIDs(t, ss.get(t, ss.bobTok, emV1+"/assignmentRequests/filterByCurrentUser(on='target')")))
	asg := ss.assignmentOf(t, id)
	emSame(t, "assignments carol asked for", []string{asg}, valueIDs(t, ss.get(t, ss.carolTok, emV1+"/assignments/filterByCurrentUser(on='createdBy')")))
	resp, _ = ss.post(t, ss.carolTok, map[string]any{"requestType": "userRemove", "assignment": map[string]any{"id": asg}})
	wantStatus(t, resp, http.StatusCreated)
}

// What a requestor may request shows its catalog, but not the packages it is
// incompatible with, which may be in catalogs the requestor does not see.
func TestSelfServiceRequestablePackagesExpand(t *testing.T) {
	ss := newSSAPI(t)
	pkg, _, _ := ss.pkgPolicy(t, "Open to all", requestorSettings(map[string]any{"enableTargetsToSelfAddAccess": true}))
	got := emValue(t, ss.get(t, ss.aliceTok, emV1+"/accessPackages/filterByCurrentUser(on='allowedRequestor')?$expand=catalog"))
	if len(got) != 1 || got[0]["id"] != pkg || got[0]["catalog"].(map[string]any)["id"] != ss.catalog {
		t.Errorf("requestable packages with their catalog: %v", got)
	}
	resp, _ := ss.do(t, "GET", emV1+"/accessPackages/filterByCurrentUser(on='allowedRequestor')?$expand=incompatibleAccessPackages", ss.aliceTok, nil)
	wantError(t, resp, http.StatusBadRequest, "invalidRequest")
	resp, _ = ss.do(t, "GET", emV1+"/accessPackages/filterByCurrentUser(on='target')", ss.aliceTok, nil)
	wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "allowedRequestor")
}
