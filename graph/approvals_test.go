package graph

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Tests of approvals (accessPackageAssignmentApprovals: v1.0 stages, beta
// steps) and filterByCurrentUser(on='approver'), through the real server,
// store and tokens, with each person calling with their own delegated
// token. The engine does not run here: a decision's follow-up is stored by
// the PATCH itself, so a request approved at its last stage is delivered
// when the PATCH answers.

const scopeRead = "EntitlementManagement.Read.All"

// apAPI is the requests test API with a token for each part a person plays
// in an approval. admin submits adminAdd requests (the requestor) for alice
// (the target); carol and dave approve; bob has no part in any request.
type apAPI struct {
	*rqAPI
	requestorTok, targetTok, carolTok, daveTok, bobTok string // all with EntitlementManagement.ReadWrite.All
	carolReadTok                                       string // carol with EntitlementManagement.Read.All only
}

func newAPAPI(t *testing.T) *apAPI {
	t.Helper()
	ra := newRQAPI(t)
	return &apAPI{rqAPI: ra,
		requestorTok: ra.adminTok,
		targetTok:    ra.userToken(t, ra.alice, scopeWrite),
		carolTok:     ra.userToken(t, ra.carol, scopeWrite),
		daveTok:      ra.userToken(t, ra.dave, scopeWrite),
		bobTok:       ra.userToken(t, ra.bob, scopeWrite),
		carolReadTok: ra.userToken(t, ra.carol, scopeRead),
	}
}

// apStage is an approval stage whose primary approvers are the given users.
func apStage(approvers ...string) map[string]any {
	sets := []any{}
	for _, id := range approvers {
		sets = append(sets, rqSingleUser(id))
	}
	return map[string]any{"durationBeforeAutomaticDenial": "P2D", "primaryApprovers": sets}
}

// apStages requires approval for add requests, in the given stages.
func apStages(stages ...map[string]any) func(p map[string]any) {
	return func(p map[string]any) {
		list := []any{}
		for _, st := range stages {
			list = append(list, st)
		}
		p["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "stages": list}
	}
}

// pending makes a package whose policy has the given stages, and submits an
// adminAdd request for alice by admin. It returns the request as POST
// answered it.
func (ap *apAPI) pending(t *testing.T, name string, stages ...map[string]any) map[string]any {
	t.Helper()
	pkg, pol, _ := ap.pkgPolicy(t, name, apStages(stages...))
	return ap.submit(t, ap.requestorTok, rqAdd("adminAdd", pkg, pol, ap.alice))
}

func apApproval(version, id string) string {
	if version == "beta" {
		return emBeta + "/accessPackageAssignmentApprovals/" + id
	}
	return emV1 + "/accessPackageAssignmentApprovals/" + id
}

// stages GETs an approval's v1.0 stages as tok sees them.
func (ap *apAPI) stages(t *testing.T, tok, id string) []map[string]any {
	t.Helper()
	return emValue(t, ap.get(t, tok, apApproval("v1.0", id)+"/stages"))
}

// decide PATCHes a v1.0 stage with tok.
func (ap *apAPI) decide(t *testing.T, tok, id, stageID string, body any) *http.Response {
	t.Helper()
	resp, _ := ap.do(t, "PATCH", apApproval("v1.0", id)+"/stages/"+stageID, tok, body)
	return resp
}

// callAs sends a call with tok, for answers that only wantError reads.
func (ap *apAPI) callAs(t *testing.T, method, path, tok string, body any) *http.Response {
	t.Helper()
	resp, _ := ap.do(t, method, path, tok, body)
	return resp
}

func apDecision(result, justification string) map[string]any {
	return map[string]any{"reviewResult": result, "justification": justification}
}

// toDecide lists, with tok, the ids a filterByCurrentUser(on='approver')
// path answers, following every nextLink.
func (ap *apAPI) toDecide(t *testing.T, tok, path string) []string {
	t.Helper()
	ids := []string{}
	for path != "" {
		got := ap.get(t, tok, path)
		ids = append(ids, valueIDs(t, got)...)
		path, _ = got["@odata.nextLink"].(string)
	}
	return rqSorted(ids...)
}

const apOnApprover = "/filterByCurrentUser(on='approver')"

// historyActions lists the actions of a request's history, in order.
func (ap *apAPI) historyActions(t *testing.T, id string) ([]string, []map[string]any) {
	t.Helper()
	entries := emValue(t, ap.get(t, ap.tok, emV1+"/assignmentRequests/"+id+"/history"))
	var actions []string
	for _, h := range entries {
		actions = append(actions, h["action"].(string))
	}
	return actions, entries
}

// ---------------------------------------------------------------- one stage

func TestApprovalSingleStageApproved(t *testing.T) {
	ap := newAPAPI(t)
	req := ap.pending(t, "One stage", apStage(ap.carol))
	id := emID(t, req)
	if req["state"] != "pendingApproval" || req["status"] != "PendingApproval" {
		t.Fatalf("request needing approval: %v", req)
	}

	got := ap.get(t, ap.carolTok, apApproval("v1.0", id))
	emSame(t, "approval without $expand", map[string]any{
		"@odata.context": ap.context("v1.0", "accessPackageAssignmentApprovals", true), "id": id}, got)

	got = ap.get(t, ap.carolTok, apApproval("v1.0", id)+"?$expand=stages")
	stages, _ := got["stages"].([]any)
	if len(stages) != 1 {
		t.Fatalf("$expand=stages: %v", got)
	}
	stage := stages[0].(map[string]any)
	stageID := emID(t, stage)
	before := map[string]any{"id": stageID, "displayName": "Stage 1", "status": "InProgress", "assignedToMe": true,
		"reviewResult": "NotReviewed", "reviewedBy": nil, "reviewedDateTime": nil, "justification": nil}
	emSame(t, "stage before the decision", before, stage)
	list := ap.get(t, ap.carolTok, apApproval("v1.0", id)+"/stages")
	emSame(t, "stages list", map[string]any{
		"@odata.context": ap.context("v1.0", "accessPackageAssignmentApprovals('"+id+"')/stages", false),
		"value":          []any{before}}, list)
	emSame(t, "one stage", with(before, "@odata.context", ap.context("v1.0", "accessPackageAssignmentApprovals('"+id+"')/stages", true)),
		ap.get(t, ap.carolTok, apApproval("v1.0", id)+"/stages/"+stageID))
	emSame(t, "carol's approvals to decide", []string{id}, ap.toDecide(t, ap.carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))

	wantStatus(t, ap.decide(t, ap.carolTok, id, stageID, apDecision("Approve", "Fine by me")), http.StatusNoContent)

	after := ap.getRequest(t, id, "$expand=assignment")
	if after["state"] != "delivered" || after["status"] != "Delivered" {
		t.Errorf("request after the last stage was approved: %v/%v, want delivered/Delivered", after["state"], after["status"])
	}
	if a, ok := after["assignment"].(map[string]any); !ok || a["state"] != "delivered" {
		t.Errorf("assignment after approval: %v", after["assignment"])
	}
	stage = ap.stages(t, ap.carolTok, id)[0]
	reviewed := emTime(t, stage, "reviewedDateTime")
	emSame(t, "stage after approval", with(before, "status", "Completed", "assignedToMe", false, "reviewResult", "Approved",
		"reviewedBy", map[string]any{"id": ap.carol, "displayName": "carol"}, "reviewedDateTime", stage["reviewedDateTime"],
		"justification", "Fine by me"), stage)
	if completed := emTime(t, after, "completedDateTime"); completed.Before(reviewed) {
		t.Errorf("request completed %s, before its stage was reviewed %s", completed, reviewed)
	}
	emSame(t, "carol's approvals to decide once decided", []string{}, ap.toDecide(t, ap.carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
	actions, _ := ap.historyActions(t, id)
	emSame(t, "history", []string{"submitted", "transition", "approvalStageStarted", "approvalStageApproved", "transition", "transition"}, actions)
}

func TestApprovalDenied(t *testing.T) {
	ap := newAPAPI(t)
	id := emID(t, ap.pending(t, "Denied", apStage(ap.carol)))
	stageID := emID(t, ap.stages(t, ap.carolTok, id)[0])

	wantStatus(t, ap.decide(t, ap.carolTok, id, stageID, apDecision("deny", "Not for contractors")), http.StatusNoContent)

	got := ap.getRequest(t, id, "$expand=assignment")
	if got["state"] != "denied" || got["status"] != "Denied" || got["assignment"] != nil {
		t.Errorf("denied request: %v/%v, assignment %v; want denied/Denied and none", got["state"], got["status"], got["assignment"])
	}
	emTime(t, got, "completedDateTime")
	stage := ap.stages(t, ap.carolTok, id)[0]
	if stage["status"] != "Completed" || stage["reviewResult"] != "Denied" || stage["justification"] != "Not for contractors" ||
		stage["assignedToMe"] != false {
		t.Errorf("denied stage: %v", stage)
	}
	if by, _ := stage["reviewedBy"].(map[string]any); by["id"] != ap.carol {
		t.Errorf("reviewedBy %v, want carol", stage["reviewedBy"])
	}
	// Denied once, decided for good.
	msg := wantError(t, ap.decide(t, ap.carolTok, id, stageID, apDecision("Approve", "")), http.StatusConflict, "conflict")
	wantMessage(t, msg, "already decided")
}

// ---------------------------------------------------------------- two stages in series

func TestApprovalTwoStagesInSeries(t *testing.T) {
	ap := newAPAPI(t)
	id := emID(t, ap.pending(t, "Two stages", apStage(ap.carol), apStage(ap.dave)))
	stages := ap.stages(t, ap.carolTok, id)
	if len(stages) != 2 {
		t.Fatalf("stages: %v", stages)
	}
	first, second := emID(t, stages[0]), emID(t, stages[1])
	if stages[0]["status"] != "InProgress" || stages[0]["assignedToMe"] != true ||
		stages[1]["status"] != "Initializing" || stages[1]["assignedToMe"] != false || stages[1]["displayName"] != "Stage 2" {
		t.Fatalf("stages before any decision: %v", stages)
	}

	// Stage 2 has not started: dave, who will approve it, neither sees the
	// approval nor may decide yet; carol is no approver of stage 2.
	wantError(t, ap.callAs(t, "GET", apApproval("v1.0", id), ap.daveTok, nil), http.StatusNotFound, "itemNotFound")
	msg := wantError(t, ap.decide(t, ap.daveTok, id, second, apDecision("Approve", "")), http.StatusConflict, "conflict")
	wantMessage(t, msg, "has not started yet")
	wantError(t, ap.decide(t, ap.carolTok, id, second, apDecision("Approve", "")), http.StatusForbidden, "accessDenied")
	emSame(t, "dave's approvals before stage 2", []string{}, ap.toDecide(t, ap.daveTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))

	wantStatus(t, ap.decide(t, ap.carolTok, id, first, apDecision("Approve", "Stage one ok")), http.StatusNoContent)
	if got := ap.getRequest(t, id, ""); got["state"] != "pendingApproval" || got["status"] != "PendingApproval" {
		t.Errorf("request between the stages: %v/%v, want pendingApproval/PendingApproval", got["state"], got["status"])
	}
	for _, tc := range []struct {
		who                 string
		tok                 string
		assignedFirst, next bool
	}{{"carol", ap.carolTok, false, false}, {"dave", ap.daveTok, false, true}} {
		stages := ap.stages(t, tc.tok, id)
		if stages[0]["status"] != "Completed" || stages[0]["reviewResult"] != "Approved" || stages[0]["assignedToMe"] != tc.assignedFirst ||
			stages[1]["status"] != "InProgress" || stages[1]["reviewResult"] != "NotReviewed" || stages[1]["assignedToMe"] != tc.next {
			t.Errorf("stages as %s sees them after stage 1: %v", tc.who, stages)
		}
	}
	emSame(t, "carol's approvals after her stage", []string{}, ap.toDecide(t, ap.carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
	emSame(t, "dave's approvals once stage 2 started", []string{id}, ap.toDecide(t, ap.daveTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
	msg = wantError(t, ap.decide(t, ap.carolTok, id, first, apDecision("Deny", "changed my mind")), http.StatusConflict, "conflict")
	wantMessage(t, msg, "already decided")

	wantStatus(t, ap.decide(t, ap.daveTok, id, second, apDecision("APPROVE", "")), http.StatusNoContent)
	if got := ap.getRequest(t, id, ""); got["state"] != "delivered" {
		t.Errorf("request after both stages: %v", got["state"])
	}
	stages = ap.stages(t, ap.carolTok, id)
	if stages[0]["justification"] != "Stage one ok" || stages[1]["reviewResult"] != "Approved" || stages[1]["justification"] != nil {
		t.Errorf("stages at the end: %v", stages)
	}
	if by, _ := stages[1]["reviewedBy"].(map[string]any); by["id"] != ap.dave || by["displayName"] != "dave" {
		t.Errorf("stage 2 reviewedBy %v, want dave", stages[1]["reviewedBy"])
	}
	msg = wantError(t, ap.decide(t, ap.daveTok, id, second, apDecision("Approve", "")), http.StatusConflict, "conflict")
	wantMessage(t, msg, "already decided")
}

// ---------------------------------------------------------------- who sees, who decides

func TestApprovalVisibilityAndPermissions(t *testing.T) {
	ap := newAPAPI(t)
	id := emID(t, ap.pending(t, "Guarded", apStage(ap.carol)))
	stageID := emID(t, ap.stages(t, ap.carolTok, id)[0])
	unknown := "0190a0a0-0000-7000-8000-000000000000"

	for _, tc := range []struct {
		name, method, path, tok string
		body                    any
		status                  int
		code                    string
		says                    string
	}{
		{"the target does not see it", "GET", apApproval("v1.0", id), ap.targetTok, nil, 404, "itemNotFound", ""},
		{"the requestor does not see it", "GET", apApproval("v1.0", id) + "/stages", ap.requestorTok, nil, 404, "itemNotFound", ""},
		{"an unrelated user does not see it", "GET", apApproval("v1.0", id) + "/stages/" + stageID, ap.bobTok, nil, 404, "itemNotFound", ""},
		// Approvals are delegated only, as in Graph: no application reads them.
		{"an admin application is refused", "GET", apApproval("beta", id) + "?$expand=steps", ap.tok, nil, 403, "accessDenied", "signed-in user"},
		{"an unknown approval", "GET", apApproval("v1.0", unknown), ap.carolTok, nil, 404, "itemNotFound", ""},
		{"an unknown stage", "GET", apApproval("v1.0", id) + "/stages/" + unknown, ap.carolTok, nil, 404, "itemNotFound", unknown},
		{"no entitlement-management permission", "GET", apApproval("v1.0", id), ap.aliceTok, nil, 403, "accessDenied", "EntitlementManagement.Read.All"},
		{"$expand of something else", "GET", apApproval("v1.0", id) + "?$expand=steps", ap.carolTok, nil, 400, "invalidRequest", "stages"},

		{"PATCH by an unrelated user", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.bobTok, apDecision("Approve", ""), 403, "accessDenied", "not an approver"},
		{"PATCH by the target", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.targetTok, apDecision("Approve", ""), 403, "accessDenied", "not an approver"},
		{"PATCH with Read.All only", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolReadTok, apDecision("Approve", ""), 403, "accessDenied", "ReadWrite.All"},
		{"PATCH of an unknown approval", "PATCH", apApproval("v1.0", unknown) + "/stages/" + stageID, ap.carolTok, apDecision("Approve", ""), 404, "itemNotFound", ""},
		{"PATCH of an unknown stage", "PATCH", apApproval("v1.0", id) + "/stages/" + unknown, ap.carolTok, apDecision("Approve", ""), 404, "itemNotFound", unknown},
		{"PATCH of an unknown stage with a bad body: 404 first", "PATCH", apApproval("v1.0", id) + "/stages/" + unknown, ap.carolTok, `{"reviewResult": 1`, 404, "itemNotFound", ""},
		{"PATCH of an unknown approval with a bad body: 404 first", "PATCH", apApproval("v1.0", unknown) + "/stages/" + stageID, ap.carolTok, map[string]any{"reviewResult": "Maybe"}, 404, "itemNotFound", ""},
		{"reviewResult neither Approve nor Deny", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, apDecision("Approved", ""), 400, "invalidRequest", "reviewResult"},
		{"reviewResult missing", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, map[string]any{"justification": "ok"}, 400, "invalidRequest", "reviewResult"},
		{"reviewResult of the wrong type", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, map[string]any{"reviewResult": true}, 400, "invalidRequest", "reviewResult"},
		{"an unknown property", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, map[string]any{"reviewResult": "Approve", "comment": "x"}, 400, "invalidRequest", "comment"},
		{"another @odata.type", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, map[string]any{"@odata.type": "#microsoft.graph.approval", "reviewResult": "Approve"}, 400, "invalidRequest", "approvalStage"},
		{"no body", "PATCH", apApproval("v1.0", id) + "/stages/" + stageID, ap.carolTok, nil, 400, "invalidRequest", "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantError(t, ap.callAs(t, tc.method, tc.path, tc.tok, tc.body), tc.status, tc.code)
			wantMessage(t, msg, tc.says)
		})
	}
	// None of the refusals decided anything.
	if stage := ap.stages(t, ap.carolTok, id)[0]; stage["status"] != "InProgress" || stage["reviewResult"] != "NotReviewed" {
		t.Errorf("stage after refused PATCHes: %v", stage)
	}

	// With Read.All the approver reads, and a GET's answer sent back with a
	// decision in it is a valid PATCH body: read-only properties are ignored.
	stage := ap.get(t, ap.carolReadTok, apApproval("v1.0", id)+"/stages/"+stageID)
	wantStatus(t, ap.decide(t, ap.carolTok, id, stageID, with(stage, "reviewResult", "Approve", "justification", "Read it back")), http.StatusNoContent)
	if got := ap.stages(t, ap.carolTok, id)[0]; got["reviewResult"] != "Approved" || got["justification"] != "Read it back" {
		t.Errorf("stage after a PATCH with read-only properties: %v", got)
	}
}

func TestApprovalJustificationRequired(t *testing.T) {
	ap := newAPAPI(t)
	st := apStage(ap.carol)
	st["isApproverJustificationRequired"] = true
	id := emID(t, ap.pending(t, "Justified", st))
	stageID := emID(t, ap.stages(t, ap.carolTok, id)[0])

	for _, body := range []map[string]any{{"reviewResult": "Approve"}, apDecision("Approve", "   "), apDecision("Deny", "")} {
		msg := wantError(t, ap.decide(t, ap.carolTok, id, stageID, body), http.StatusBadRequest, "invalidRequest")
		wantMessage(t, msg, "justification is required")
	}
	if got := ap.getRequest(t, id, ""); got["state"] != "pendingApproval" {
		t.Fatalf("request after refused decisions: %v", got["state"])
	}
	wantStatus(t, ap.decide(t, ap.carolTok, id, stageID, apDecision("Approve", "Manager asked for it")), http.StatusNoContent)
	if got := ap.getRequest(t, id, ""); got["state"] != "delivered" {
		t.Errorf("request after a justified approval: %v", got["state"])
	}
}

// ---------------------------------------------------------------- the requestor and the target never approve

func TestApprovalLeavesOutRequestorAndTarget(t *testing.T) {
	ap := newAPAPI(t)

	t.Run("only the target approves: denied at once", func(t *testing.T) {
		got := ap.pending(t, "Self approval", apStage(ap.alice))
		id := emID(t, got)
		if got["state"] != "denied" || got["status"] != "Denied" {
			t.Errorf("request whose only approver is its target: %v/%v, want denied/Denied", got["state"], got["status"])
		}
		actions, entries := ap.historyActions(t, id)
		emSame(t, "history", []string{"submitted", "transition", "approvalStageWithoutApprovers", "transition"}, actions)
		wantMessage(t, entries[2]["detail"].(string), "no approver other than the requestor and the target")
		// Nobody approves it, so nobody sees its approval, the target neither.
		wantError(t, ap.callAs(t, "GET", apApproval("v1.0", id), ap.targetTok, nil), http.StatusNotFound, "itemNotFound")
	})

	t.Run("only the requestor approves: denied at once", func(t *testing.T) {
		got := ap.pending(t, "Own approval", apStage(ap.admin))
		if got["state"] != "denied" {
			t.Errorf("request whose only approver is its requestor: %v", got["state"])
		}
	})

	t.Run("the requestor among others: the others approve", func(t *testing.T) {
		id := emID(t, ap.pending(t, "Shared approval", apStage(ap.admin, ap.carol)))
		stageID := emID(t, ap.stages(t, ap.carolTok, id)[0])
		wantError(t, ap.callAs(t, "GET", apApproval("v1.0", id), ap.requestorTok, nil), http.StatusNotFound, "itemNotFound")
		wantError(t, ap.decide(t, ap.requestorTok, id, stageID, apDecision("Approve", "")), http.StatusForbidden, "accessDenied")
		emSame(t, "the requestor's approvals", []string{}, ap.toDecide(t, ap.requestorTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
		wantStatus(t, ap.decide(t, ap.carolTok, id, stageID, apDecision("Approve", "")), http.StatusNoContent)
	})
}

// ---------------------------------------------------------------- filterByCurrentUser(on='approver')

func TestApprovalFilterByCurrentUser(t *testing.T) {
	ap := newAPAPI(t)
	carolFirst := emID(t, ap.pending(t, "Carol one", apStage(ap.carol)))
	carolSecond := emID(t, ap.pending(t, "Carol two", apStage(ap.carol, ap.dave)))
	daveOnly := emID(t, ap.pending(t, "Dave only", apStage(ap.dave)))
	decided := emID(t, ap.pending(t, "Decided", apStage(ap.carol)))
	wantStatus(t, ap.decide(t, ap.carolTok, decided, emID(t, ap.stages(t, ap.carolTok, decided)[0]), apDecision("Deny", "")), http.StatusNoContent)
	carols := rqSorted(carolFirst, carolSecond)

	paths := []struct{ name, path string }{
		{"v1.0 approvals", emV1 + "/accessPackageAssignmentApprovals" + apOnApprover},
		{"beta approvals", emBeta + "/accessPackageAssignmentApprovals" + apOnApprover},
		{"v1.0 assignmentRequests", emV1 + "/assignmentRequests" + apOnApprover},
		{"beta accessPackageAssignmentRequests", emBeta + "/accessPackageAssignmentRequests" + apOnApprover},
		{"beta assignmentRequests", emBeta + "/assignmentRequests" + apOnApprover},
		{"with the namespace", emV1 + "/accessPackageAssignmentApprovals/microsoft.graph.filterByCurrentUser(on='approver')"},
		{"quotes escaped", emV1 + "/assignmentRequests/filterByCurrentUser(on=%27approver%27)"},
		{"in pages of one", emV1 + "/assignmentRequests" + apOnApprover + "?$top=1"},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			emSame(t, "carol's", carols, ap.toDecide(t, ap.carolTok, p.path))
			emSame(t, "dave's", rqSorted(carolSecond, daveOnly), ap.toDecide(t, ap.daveTok, p.path))
			emSame(t, "bob's", []string{}, ap.toDecide(t, ap.bobTok, p.path))
			// filterByCurrentUser is delegated only: an application has no current user.
			wantError(t, ap.callAs(t, "GET", p.path, ap.tok, nil), http.StatusForbidden, "accessDenied")
		})
	}

	t.Run("the shapes of each version", func(t *testing.T) {
		first := ap.get(t, ap.carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover+"?$top=1")
		next, _ := first["@odata.nextLink"].(string)
		if !strings.Contains(next, "skiptoken=") {
			t.Errorf("first page of one has nextLink %q", next)
		}
		emSame(t, "v1.0 approvals page", map[string]any{"@odata.context": ap.URL + "/v1.0/$metadata#Collection(microsoft.graph.approval)",
			"@odata.nextLink": next, "value": []any{map[string]any{"id": carolFirst}}}, first)

		expanded := emValue(t, ap.get(t, ap.carolTok, emBeta+"/accessPackageAssignmentApprovals"+apOnApprover+"?$expand=steps"))
		if steps, _ := expanded[0]["steps"].([]any); len(steps) != 1 || steps[0].(map[string]any)["assignedToMe"] != true {
			t.Errorf("beta approval with $expand=steps: %v", expanded[0])
		}

		v1 := ap.get(t, ap.carolTok, emV1+"/assignmentRequests"+apOnApprover)
		if v1["@odata.context"] != ap.URL+"/v1.0/$metadata#Collection(microsoft.graph.accessPackageAssignmentRequest)" {
			t.Errorf("v1.0 requests @odata.context %v", v1["@odata.context"])
		}
		item := emValue(t, v1)[0]
		emSame(t, "v1.0 request keys", emWithout(stringSet(rqV1RequestKeys), "@odata.context"), stringSet(emKeys(item)))
		if item["state"] != "pendingApproval" {
			t.Errorf("v1.0 request to decide: %v", item)
		}
		beta := emValue(t, ap.get(t, ap.carolTok, emBeta+"/accessPackageAssignmentRequests"+apOnApprover+"?$expand=requestor"))[0]
		if beta["requestState"] != "PendingApproval" || beta["requestStatus"] != "PendingApproval" {
			t.Errorf("beta request to decide: %v", beta)
		}
		if who, _ := beta["requestor"].(map[string]any); who["id"] != ap.admin {
			t.Errorf("beta request's expanded requestor: %v, want admin", beta["requestor"])
		}
	})

	t.Run("$filter, $count and /$count within the caller's", func(t *testing.T) {
		requests := emV1 + "/assignmentRequests" + apOnApprover
		emSame(t, "denied and waiting for carol", []string{}, ap.toDecide(t, ap.carolTok, requests+"?"+rqFilter("state eq 'denied'")))
		emSame(t, "one of carol's by id", []string{carolSecond}, ap.toDecide(t, ap.carolTok, requests+"?"+rqFilter("id eq '"+carolSecond+"'")))
		emSame(t, "one of dave's by id", []string{daveOnly},
			ap.toDecide(t, ap.daveTok, emBeta+"/accessPackageAssignmentApprovals"+apOnApprover+"?"+rqFilter("id ne '"+carolSecond+"'")))
		counted := ap.get(t, ap.daveTok, requests+"?$count=true&$top=1")
		if counted["@odata.count"] != float64(2) || len(emValue(t, counted)) != 1 {
			t.Errorf("dave's requests with $count=true&$top=1: %v", counted)
		}
		for _, path := range []string{requests + "/$count", emBeta + "/accessPackageAssignmentApprovals" + apOnApprover + "/$count"} {
			if status, contentType, body := ap.getText(t, path, ap.carolTok); status != http.StatusOK || body != "2" || !strings.HasPrefix(contentType, "text/plain") {
				t.Errorf("%s: %d %q (%s), want 2 as text", path, status, body, contentType)
			}
		}
	})

	t.Run("once decided, no longer listed", func(t *testing.T) {
		wantStatus(t, ap.decide(t, ap.daveTok, carolSecond, emID(t, ap.stages(t, ap.daveTok, carolSecond)[0]), apDecision("Approve", "")), http.StatusNoContent)
		emSame(t, "carol's approvals", []string{carolFirst}, ap.toDecide(t, ap.carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
		emSame(t, "carol's requests", []string{carolFirst}, ap.toDecide(t, ap.carolTok, emBeta+"/assignmentRequests"+apOnApprover))
		emSame(t, "dave's approvals", []string{daveOnly}, ap.toDecide(t, ap.daveTok, emBeta+"/accessPackageAssignmentApprovals"+apOnApprover))
	})

	for _, tc := range []struct {
		name, path string
		status     int
		says       string
	}{
		{"another on value, approvals", emV1 + "/accessPackageAssignmentApprovals/filterByCurrentUser(on='target')", 400, "on='approver'"},
		{"an on value accessd does not answer, requests", emBeta + "/assignmentRequests/filterByCurrentUser(on='targetManager')", 400, "on='approver'"},
		{"no parameter", emV1 + "/assignmentRequests/filterByCurrentUser()", 400, "on='approver'"},
		{"no parentheses", emV1 + "/accessPackageAssignmentApprovals/filterByCurrentUser", 400, "on='approver'"},
		{"an unquoted value", emV1 + "/assignmentRequests/filterByCurrentUser(on=approver)", 400, "on='approver'"},
		{"a property approvals do not have", emV1 + "/accessPackageAssignmentApprovals" + apOnApprover + "?$filter=" + url.QueryEscape("state eq 'denied'"), 400, "'state'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := wantError(t, ap.callAs(t, "GET", tc.path, ap.carolTok, nil), tc.status, "invalidRequest")
			wantMessage(t, msg, tc.says)
		})
	}
	wantError(t, ap.callAs(t, "GET", emV1+"/accessPackageAssignmentApprovals"+apOnApprover, ap.aliceTok, nil), http.StatusForbidden, "accessDenied")
}

func stringSet(keys []string) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// ---------------------------------------------------------------- beta steps

func TestApprovalBetaStepsShowTheSameValues(t *testing.T) {
	ap := newAPAPI(t)
	id := emID(t, ap.pending(t, "Beta", apStage(ap.carol), apStage(ap.dave)))
	first := emID(t, ap.stages(t, ap.carolTok, id)[0])
	wantStatus(t, ap.decide(t, ap.carolTok, id, first, apDecision("Approve", "First")), http.StatusNoContent)

	for _, tok := range []string{ap.carolTok, ap.daveTok} {
		v1 := ap.stages(t, tok, id)
		steps := emValue(t, ap.get(t, tok, apApproval("beta", id)+"/steps"))
		emSame(t, "beta steps and v1.0 stages", v1, steps)
		expanded := ap.get(t, tok, apApproval("beta", id)+"?$expand=steps")
		emSame(t, "beta approval with $expand=steps", map[string]any{
			"@odata.context": ap.context("beta", "accessPackageAssignmentApprovals", true), "id": id,
			"steps": []any{emJSON(t, v1[0]), emJSON(t, v1[1])}}, expanded)
		one := ap.get(t, tok, apApproval("beta", id)+"/steps/"+emID(t, v1[1]))
		emSame(t, "one beta step", with(v1[1], "@odata.context", ap.context("beta", "accessPackageAssignmentApprovals('"+id+"')/steps", true)), one)
	}

	second := emID(t, ap.stages(t, ap.daveTok, id)[1])
	resp, _ := ap.do(t, "PATCH", apApproval("beta", id)+"/steps/"+second, ap.daveTok,
		map[string]any{"@odata.type": "#microsoft.graph.approvalStep", "reviewResult": "Deny", "justification": "Second"})
	wantStatus(t, resp, http.StatusNoContent)
	if got := ap.get(t, ap.tok, emBeta+"/assignmentRequests/"+id); got["requestState"] != "Denied" {
		t.Errorf("beta request after its step was denied: %v", got["requestState"])
	}
	step := ap.get(t, ap.daveTok, apApproval("beta", id)+"/steps/"+second)
	if step["reviewResult"] != "Denied" || step["justification"] != "Second" || step["status"] != "Completed" {
		t.Errorf("denied beta step: %v", step)
	}
	// v1.0's stage path is not beta's.
	wantError(t, ap.callAs(t, "GET", apApproval("beta", id)+"/stages", ap.daveTok, nil), http.StatusNotFound, "itemNotFound")
}
