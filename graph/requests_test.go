package graph

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Tests of assignment requests and assignments in both versions, through the
// real server, store and tokens. The engine does not run here, so a request
// stops after its synchronous first transaction: without approval or a
// waiting extension it is delivered inside its POST.

const (
	scopeWrite = "EntitlementManagement.ReadWrite.All"
	scopeSA    = "EntitlementMgmt-SubjectAccess.ReadWrite"
)

// The property names of each shape, without navigation properties.
var (
	rqV1RequestKeys = []string{"@odata.context", "answers", "completedDateTime", "createdDateTime", "customExtensionCalloutInstances",
		"id", "justification", "requestType", "schedule", "state", "status"}
	rqBetaRequestKeys = []string{"@odata.context", "answers", "completedDate", "createdDateTime", "customExtensionCalloutInstances",
		"expirationDateTime", "id", "isValidationOnly", "justification", "requestState", "requestStatus", "requestType", "schedule"}
	rqV1AssignmentKeys   = []string{"@odata.context", "customExtensionCalloutInstances", "expiredDateTime", "id", "schedule", "state", "status"}
	rqBetaAssignmentKeys = []string{"@odata.context", "accessPackageId", "assignmentPolicyId", "assignmentState", "assignmentStatus", "catalogId",
		"customExtensionCalloutInstances", "expiredDateTime", "id", "isExtended", "schedule", "targetId"}
	rqV1SubjectKeys   = []string{"displayName", "email", "id", "objectId", "onPremisesSecurityIdentifier", "principalName", "subjectLifecycle", "subjectType"}
	rqBetaSubjectKeys = []string{"altSecId", "cleanupScheduledDateTime", "connectedOrganizationId", "displayName", "email", "id", "objectId",
		"onPremisesSecurityIdentifier", "principalName", "type"}
	rqHistoryKeys = []string{"action", "actor", "dateTime", "detail", "id", "outcome", "source", "stage", "state", "status", "type"}
)

// rqAPI is the test API with a catalog and a few users: admin (a signed-in
// Identity Governance Administrator), alice, bob, carol and dave.
type rqAPI struct {
	*emAPI
	catalog                        string
	admin, alice, bob, carol, dave string // user ids
	adminTok, aliceTok, bobTok     string // admin: ReadWrite.All; alice, bob: self-service only
	readTok                        string // an application with Read.All only
}

func newRQAPI(t *testing.T) *rqAPI {
	t.Helper()
	a := newEMAPI(t)
	ra := &rqAPI{emAPI: a}
	ra.catalog = a.catalog(t, "Sales")
	ra.admin = a.newUser(t, "admin@contoso.test").ID
	ra.alice = a.newUser(t, "alice@contoso.test").ID
	ra.bob = a.newUser(t, "bob@contoso.test").ID
	ra.carol = a.newUser(t, "carol@contoso.test").ID
	ra.dave = a.newUser(t, "dave@contoso.test").ID
	a.grant(t, ra.admin, access.RoleIdentityGovernanceAdministrator, "")
	ra.adminTok = a.userToken(t, ra.admin, scopeWrite)
	ra.aliceTok = a.userToken(t, ra.alice, scopeSA)
	ra.bobTok = a.userToken(t, ra.bob, scopeSA)
	ra.readTok = a.appTokenNamed(t, "reader-app", "EntitlementManagement.Read.All")
	return ra
}

// pkgPolicy makes a new access package with one policy: emMinimalPolicy
// changed by edit. It returns the package, the policy and the policy as
// POST answered it (with its questions and their ids).
func (ra *rqAPI) pkgPolicy(t *testing.T, name string, edit func(p map[string]any)) (pkg, policy string, created map[string]any) {
	t.Helper()
	pkg = ra.accessPackage(t, ra.catalog, name)
	body := emMinimalPolicy(pkg, name+" policy")
	if edit != nil {
		edit(body)
	}
	created = ra.mustCall(t, "POST", emV1+"/assignmentPolicies", body, http.StatusCreated)
	return pkg, emID(t, created), created
}

func rqSingleUser(id string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": id}
}

// rqApproval requires one approval stage with approver as its approver.
func rqApproval(approver string) func(p map[string]any) {
	return func(p map[string]any) {
		p["requestApprovalSettings"] = map[string]any{
			"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false,
			"stages": []any{map[string]any{"durationBeforeAutomaticDenial": "P2D", "primaryApprovers": []any{rqSingleUser(approver)}}},
		}
	}
}

// rqAdd is an add request of type typ (adminAdd, userAdd …).
func rqAdd(typ, pkg, policy, target string) map[string]any {
	a := map[string]any{"accessPackageId": pkg, "assignmentPolicyId": policy}
	if target != "" {
		a["targetId"] = target
	}
	return map[string]any{"requestType": typ, "assignment": a}
}

// rqQuestions are a required text question and a multiple-choice question.
func rqQuestions(p map[string]any) {
	p["questions"] = []any{
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "text": "Cost center?", "sequence": 1,
			"isRequired": true, "isSingleLineQuestion": true},
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "text": "Region?", "sequence": 2,
			"isRequired": false, "isMultipleSelectionAllowed": false,
			"choices": []any{map[string]any{"actualValue": "emea", "text": "Europe"}, map[string]any{"actualValue": "amer", "text": "Americas"}}},
	}
}

// rqQuestionIDs reads the ids of a created policy's questions, in order.
func rqQuestionIDs(t *testing.T, policy map[string]any) []string {
	t.Helper()
	qs, _ := policy["questions"].([]any)
	var ids []string
	for _, q := range qs {
		ids = append(ids, emID(t, q.(map[string]any)))
	}
	return ids
}

func rqAnswer(question, value string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": value,
		"answeredQuestion": map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": question}}
}

// submit POSTs a v1.0 request with tok, wants 201 with the request as
// accepted (submitted, Accepted, not completed), as Graph answers, and
// returns the request as it stands after the processing the POST's own
// transaction did: what a GET answers right after.
func (ra *rqAPI) submit(t *testing.T, tok string, body map[string]any) map[string]any {
	t.Helper()
	resp, got := ra.do(t, "POST", emV1+"/assignmentRequests", tok, body)
	wantStatus(t, resp, http.StatusCreated)
	if got["state"] != "submitted" || got["status"] != "Accepted" || got["completedDateTime"] != nil {
		t.Errorf("POST answered %v/%v, completed %v; want the request as accepted: submitted/Accepted", got["state"], got["status"], got["completedDateTime"])
	}
	return ra.getRequest(t, emID(t, got), "")
}

// request GETs a v1.0 request, with an optional query.
func (ra *rqAPI) getRequest(t *testing.T, id, query string) map[string]any {
	t.Helper()
	path := emV1 + "/assignmentRequests/" + id
	if query != "" {
		path += "?" + query
	}
	return ra.get(t, ra.tok, path)
}

// assignmentOf is the id of the assignment a delivered request made.
func (ra *rqAPI) assignmentOf(t *testing.T, requestID string) string {
	t.Helper()
	a, ok := ra.getRequest(t, requestID, "$expand=assignment")["assignment"].(map[string]any)
	if !ok {
		t.Fatalf("request %s has no assignment", requestID)
	}
	return emID(t, a)
}

// rqFilter is a $filter query option, escaped.
func rqFilter(expr string) string { return "$filter=" + url.QueryEscape(expr) }

// listIDs GETs a list, follows every nextLink, and returns the ids sorted.
func (ra *rqAPI) listIDs(t *testing.T, path string) []string {
	t.Helper()
	ids := []string{}
	for path != "" {
		got := ra.get(t, ra.tok, path)
		ids = append(ids, valueIDs(t, got)...)
		path, _ = got["@odata.nextLink"].(string)
	}
	sort.Strings(ids)
	return ids
}

func rqSorted(ids ...string) []string {
	out := append([]string{}, ids...)
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------- the first transaction

func TestRequestFirstTransaction(t *testing.T) {
	ra := newRQAPI(t)

	t.Run("no approval, no extension: delivered within the POST, which answers it as accepted", func(t *testing.T) {
		pkg, pol, _ := ra.pkgPolicy(t, "Open", nil)
		resp, answer := ra.do(t, "POST", emV1+"/assignmentRequests", ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		wantStatus(t, resp, http.StatusCreated)
		emSame(t, "v1.0 request keys", rqV1RequestKeys, emKeys(answer))
		id := emID(t, answer)
		created := emTime(t, answer, "createdDateTime")
		want := map[string]any{
			"@odata.context": ra.context("v1.0", "assignmentRequests", true), "id": id, "requestType": "adminAdd",
			"state": "submitted", "status": "Accepted", "createdDateTime": answer["createdDateTime"], "completedDateTime": nil,
			"justification": nil, "answers": []any{}, "customExtensionCalloutInstances": []any{},
			"schedule": map[string]any{"startDateTime": nil, "recurrence": nil,
				"expiration": map[string]any{"endDateTime": nil, "duration": nil, "type": "notSpecified"}},
		}
		emSame(t, "the POST's answer: the request as accepted", want, answer)
		got := ra.getRequest(t, id, "")
		completed := emTime(t, got, "completedDateTime")
		if completed.Before(created) {
			t.Errorf("completed %s before it was created %s", completed, created)
		}
		want["state"], want["status"], want["completedDateTime"] = "delivered", "Delivered", got["completedDateTime"]
		emSame(t, "GET after the POST: delivered by the POST's own transaction", want, got)

		aid := ra.assignmentOf(t, id)
		a := ra.get(t, ra.tok, emV1+"/assignments/"+aid)
		emSame(t, "v1.0 assignment keys", rqV1AssignmentKeys, emKeys(a))
		if a["state"] != "delivered" || a["status"] != "Delivered" || a["expiredDateTime"] != nil {
			t.Errorf("assignment: %v", a)
		}
		sch, _ := a["schedule"].(map[string]any)
		if start := emTime(t, sch, "startDateTime"); !start.Equal(completed) {
			t.Errorf("assignment starts %s, request completed %s", start, completed)
		}
	})

	t.Run("approval required: pendingApproval, no assignment yet", func(t *testing.T) {
		pkg, pol, _ := ra.pkgPolicy(t, "Approved", rqApproval(ra.carol))
		got := ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		if got["state"] != "pendingApproval" || got["status"] != "PendingApproval" || got["completedDateTime"] != nil {
			t.Errorf("request needing approval: %v", got)
		}
		expanded := ra.getRequest(t, emID(t, got), "$expand=assignment")
		if v, ok := expanded["assignment"]; !ok || v != nil {
			t.Errorf("$expand=assignment before delivery: %v (present %v), want null", v, ok)
		}
		if ids := ra.listIDs(t, emV1+"/assignments?"+rqFilter("accessPackage/id eq '"+pkg+"'")); len(ids) != 0 {
			t.Errorf("assignments before approval: %v", ids)
		}
	})

	t.Run("launch-and-continue extension at the created stage: still delivered, callout queued", func(t *testing.T) {
		body := emRequestExtension("Notify")
		delete(body, "callbackConfiguration")
		ext := ra.extension(t, ra.catalog, body)
		pkg, pol, _ := ra.pkgPolicy(t, "Notified", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext}}}
		})
		got := ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		if got["state"] != "delivered" || got["status"] != "Delivered" {
			t.Errorf("request with a launch-and-continue extension: %v", got)
		}
		n, err := ra.Svc.CountWorkDue(context.Background())
		if err != nil || n < 1 {
			t.Errorf("work due after a bound created stage: %d, %v; want the callout queued", n, err)
		}
		var actions []string
		for _, h := range emValue(t, ra.get(t, ra.tok, emV1+"/assignmentRequests/"+emID(t, got)+"/history")) {
			actions = append(actions, h["action"].(string))
			if h["action"] == "calloutQueued" && h["stage"] != "assignmentRequestCreated" {
				t.Errorf("calloutQueued entry: %v", h)
			}
		}
		if !strings.Contains(strings.Join(actions, ","), "calloutQueued") {
			t.Errorf("history %v lacks calloutQueued", actions)
		}
	})

	t.Run("launch-and-wait extension at the created stage: submitted, waiting", func(t *testing.T) {
		ext := ra.extension(t, ra.catalog, emRequestExtension("SoD"))
		pkg, pol, _ := ra.pkgPolicy(t, "Checked", func(p map[string]any) {
			p["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext}}}
		})
		got := ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		if got["state"] != "submitted" || got["status"] != "WaitingForCallback" || got["completedDateTime"] != nil {
			t.Errorf("request waiting for a callback: %v", got)
		}
	})
}

// ---------------------------------------------------------------- refusals

func TestRequestSubmissionRefusals(t *testing.T) {
	ra := newRQAPI(t)
	pkg, pol, _ := ra.pkgPolicy(t, "Open", nil)
	otherPkg, otherPol, _ := ra.pkgPolicy(t, "Other", nil)
	spPkg, spPol, _ := ra.pkgPolicy(t, "Apps only", func(p map[string]any) { p["allowedTargetScope"] = "allDirectoryServicePrincipals" })
	bobPkg, bobPol, _ := ra.pkgPolicy(t, "Bob only", func(p map[string]any) {
		p["allowedTargetScope"] = "specificDirectoryUsers"
		p["specificAllowedTargets"] = []any{rqSingleUser(ra.bob)}
	})
	jPkg, jPol, _ := ra.pkgPolicy(t, "Justified", func(p map[string]any) {
		p["requestApprovalSettings"] = map[string]any{"isApprovalRequiredForAdd": false, "isRequestorJustificationRequired": true, "stages": []any{}}
	})
	qPkg, qPol, qCreated := ra.pkgPolicy(t, "Asked", rqQuestions)
	q := rqQuestionIDs(t, qCreated)
	selfPkg, selfPol, _ := ra.pkgPolicy(t, "Self", func(p map[string]any) {
		p["requestorSettings"] = map[string]any{"enableTargetsToSelfAddAccess": true}
	})
	future := time.Now().UTC().Add(72 * time.Hour).Format(time.RFC3339)

	with := func(body map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			body[kv[i].(string)] = kv[i+1]
		}
		return body
	}
	for _, tc := range []struct {
		name   string
		path   string // default: v1.0 assignmentRequests
		tok    string // default: the writer app
		body   any
		status int
		names  []string
	}{
		{name: "unknown package", body: rqAdd("adminAdd", "no-such-package", pol, ra.alice), status: 400, names: []string{"assignment.accessPackageId", "no-such-package"}},
		{name: "unknown policy", body: rqAdd("adminAdd", pkg, "no-such-policy", ra.alice), status: 400, names: []string{"assignment.assignmentPolicyId", "no-such-policy"}},
		{name: "unknown target", body: rqAdd("adminAdd", pkg, pol, "no-such-user"), status: 400, names: []string{"assignment.targetId", "no-such-user"}},
		{name: "policy of another package", body: rqAdd("adminAdd", pkg, otherPol, ra.alice), status: 400, names: []string{otherPol, "another access package"}},
		{name: "user target under allDirectoryServicePrincipals", body: rqAdd("adminAdd", spPkg, spPol, ra.alice), status: 400, names: []string{ra.alice, "allowedTargetScope", "allDirectoryServicePrincipals"}},
		{name: "user outside specificDirectoryUsers", body: rqAdd("adminAdd", bobPkg, bobPol, ra.alice), status: 400, names: []string{ra.alice, "specificAllowedTargets"}},
		{name: "missing justification", body: rqAdd("adminAdd", jPkg, jPol, ra.alice), status: 400, names: []string{"justification", "required"}},
		{name: "blank justification", body: with(rqAdd("adminAdd", jPkg, jPol, ra.alice), "justification", "   "), status: 400, names: []string{"justification"}},
		{name: "required question unanswered", body: rqAdd("adminAdd", qPkg, qPol, ra.alice), status: 400, names: []string{q[0], "Cost center?", "required"}},
		{name: "answer to an unknown question", body: with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{rqAnswer("no-such-question", "x")}),
			status: 400, names: []string{"answers[0].answeredQuestion", "no-such-question"}},
		{name: "choice not offered", body: with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{rqAnswer(q[0], "4711"), rqAnswer(q[1], "apac")}),
			status: 400, names: []string{"answers[1].value", "apac", "choices"}},
		{name: "answer of another type", body: with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{
			map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerChoice", "value": "x", "answeredQuestion": map[string]any{"id": q[0]}}}),
			status: 400, names: []string{"answers[0].@odata.type", "accessPackageAnswerString"}},
		{name: "answer without @odata.type", body: with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{
			map[string]any{"value": "x", "answeredQuestion": map[string]any{"id": q[0]}}}),
			status: 400, names: []string{"answers[0].@odata.type"}},
		{name: "answer without question", body: with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{
			map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "x"}}),
			status: 400, names: []string{"answers[0].answeredQuestion.id"}},
		{name: "custom schedule not allowed", body: with(rqAdd("adminAdd", pkg, pol, ra.alice), "schedule", map[string]any{"startDateTime": future}),
			status: 400, names: []string{"allowCustomAssignmentSchedule"}},
		{name: "schedule with a malformed date", body: with(rqAdd("adminAdd", pkg, pol, ra.alice), "schedule", map[string]any{"startDateTime": "tomorrow"}),
			status: 400, names: []string{"schedule.startDateTime", "tomorrow"}},
		{name: "schedule with recurrence", body: with(rqAdd("adminAdd", pkg, pol, ra.alice), "schedule", map[string]any{"recurrence": map[string]any{}}),
			status: 400, names: []string{"schedule.recurrence"}},
		{name: "schedule with an unknown expiration type", body: with(rqAdd("adminAdd", pkg, pol, ra.alice), "schedule", map[string]any{"expiration": map[string]any{"type": "never"}}),
			status: 400, names: []string{"schedule.expiration.type", "never"}},
		{name: "systemAdd from a client", body: rqAdd("systemAdd", pkg, pol, ra.alice), status: 400, names: []string{"systemAdd"}},
		{name: "systemRemove from a client", body: map[string]any{"requestType": "SystemRemove", "assignment": map[string]any{"id": "x"}}, status: 400, names: []string{"systemRemove"}},
		{name: "target given only by email", body: map[string]any{"requestType": "adminAdd", "assignment": map[string]any{
			"accessPackageId": pkg, "assignmentPolicyId": pol, "target": map[string]any{"email": "guest@fabrikam.test"}}}, status: 400, names: []string{"email", "targetId"}},
		{name: "targetId and target.objectId disagree", body: map[string]any{"requestType": "adminAdd", "assignment": map[string]any{
			"accessPackageId": pkg, "assignmentPolicyId": pol, "targetId": ra.alice, "target": map[string]any{"objectId": ra.bob}}}, status: 400, names: []string{"assignment.targetId", "assignment.target.objectId"}},
		{name: "accessPackageId and accessPackage.id disagree", body: map[string]any{"requestType": "adminAdd", "assignment": map[string]any{
			"accessPackageId": pkg, "accessPackage": map[string]any{"id": otherPkg}, "assignmentPolicyId": pol, "targetId": ra.alice}},
			status: 400, names: []string{"assignment.accessPackageId", "assignment.accessPackage.id"}},
		{name: "assignmentPolicyId and assignmentPolicy.id disagree", body: map[string]any{"requestType": "adminAdd", "assignment": map[string]any{
			"accessPackageId": pkg, "assignmentPolicyId": pol, "assignmentPolicy": map[string]any{"id": otherPol}, "targetId": ra.alice}},
			status: 400, names: []string{"assignment.assignmentPolicyId", "assignment.assignmentPolicy.id"}},
		{name: "unknown requestType", body: rqAdd("adminGrant", pkg, pol, ra.alice), status: 400, names: []string{"requestType", "adminGrant"}},
		{name: "no requestType", body: map[string]any{"assignment": map[string]any{"accessPackageId": pkg, "assignmentPolicyId": pol, "targetId": ra.alice}}, status: 400, names: []string{"requestType", "required"}},
		{name: "requestType of the wrong JSON type", body: map[string]any{"requestType": 1}, status: 400, names: []string{"requestType"}},
		{name: "unknown property", body: with(rqAdd("adminAdd", pkg, pol, ra.alice), "priority", "high"), status: 400, names: []string{"priority"}},
		{name: "beta name on v1.0", body: map[string]any{"requestType": "adminAdd", "accessPackageAssignment": map[string]any{"accessPackageId": pkg}}, status: 400, names: []string{"accessPackageAssignment"}},
		{name: "remove without an assignment id", body: map[string]any{"requestType": "adminRemove", "assignment": map[string]any{}}, status: 400, names: []string{"assignment.id"}},
		{name: "userAdd by an application", body: rqAdd("userAdd", selfPkg, selfPol, ""), status: 403, names: []string{"userAdd", "signed-in user"}},
		{name: "adminAdd with only the self-service scope", tok: ra.aliceTok, body: rqAdd("adminAdd", pkg, pol, ra.alice), status: 403, names: []string{"adminAdd", scopeWrite}},
		{name: "POST with only Read.All", tok: ra.readTok, body: rqAdd("adminAdd", pkg, pol, ra.alice), status: 403, names: []string{scopeWrite}},
		{name: "beta isValidationOnly", path: emBeta + "/accessPackageAssignmentRequests", body: map[string]any{"requestType": "AdminAdd", "isValidationOnly": true,
			"accessPackageAssignment": map[string]any{"accessPackageId": pkg, "assignmentPolicyId": pol, "targetId": ra.alice}}, status: 400, names: []string{"isValidationOnly", "not supported"}},
		{name: "beta names its own properties", path: emBeta + "/assignmentRequests", body: map[string]any{"requestType": "AdminAdd",
			"accessPackageAssignment": map[string]any{"accessPackageId": "no-such-package", "assignmentPolicyId": pol, "targetId": ra.alice}}, status: 400, names: []string{"accessPackageAssignment.accessPackageId"}},
		{name: "v1.0 name on beta", path: emBeta + "/accessPackageAssignmentRequests", body: rqAdd("AdminAdd", pkg, pol, ra.alice), status: 400, names: []string{"'assignment'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, tok := tc.path, tc.tok
			if path == "" {
				path = emV1 + "/assignmentRequests"
			}
			if tok == "" {
				tok = ra.tok
			}
			resp, _ := ra.do(t, "POST", path, tok, tc.body)
			code := map[int]string{400: "invalidRequest", 403: "accessDenied", 409: "conflict"}[tc.status]
			wantMessage(t, wantError(t, resp, tc.status, code), tc.names...)
		})
	}
	if ids := ra.listIDs(t, emV1+"/assignmentRequests"); len(ids) != 0 {
		t.Errorf("refused requests were stored: %v", ids)
	}

	t.Run("the refused bodies work once corrected", func(t *testing.T) {
		ra.submit(t, ra.tok, rqAdd("adminAdd", otherPkg, otherPol, ra.alice))
		ra.submit(t, ra.tok, rqAdd("adminAdd", bobPkg, bobPol, ra.bob))
		ra.submit(t, ra.tok, with(rqAdd("adminAdd", jPkg, jPol, ra.alice), "justification", "Quarter close"))
		ra.submit(t, ra.tok, with(rqAdd("adminAdd", qPkg, qPol, ra.alice), "answers", []any{rqAnswer(q[0], "4711"), rqAnswer(q[1], "emea")}))
		got := ra.submit(t, ra.aliceTok, rqAdd("userAdd", selfPkg, selfPol, ""))
		if got["requestType"] != "userAdd" || got["state"] != "delivered" {
			t.Errorf("self-service request: %v", got)
		}
		// The Graph SDKs' typed models name the package and policy by
		// navigation property rather than by id.
		nav := ra.submit(t, ra.tok, map[string]any{"requestType": "adminAdd", "assignment": map[string]any{
			"accessPackage": map[string]any{"id": pkg}, "assignmentPolicy": map[string]any{"id": pol}, "target": map[string]any{"objectId": ra.alice}}})
		resp, beta := ra.do(t, "POST", emBeta+"/accessPackageAssignmentRequests", ra.tok, map[string]any{"requestType": "AdminAdd", "accessPackageAssignment": map[string]any{
			"accessPackage": map[string]any{"id": pkg}, "accessPackageAssignmentPolicy": map[string]any{"id": pol}, "targetId": ra.bob}})
		wantStatus(t, resp, http.StatusCreated)
		for _, id := range []string{emID(t, nav), emID(t, beta)} {
			if ap, _ := ra.get(t, ra.tok, emBeta+"/accessPackageAssignmentRequests/"+id+"?$expand=accessPackageAssignment")["accessPackageAssignment"].(map[string]any); ap == nil ||
				ap["accessPackageId"] != pkg || ap["assignmentPolicyId"] != pol {
				t.Errorf("request %s named by navigation properties made assignment %v, want package %s under policy %s", id, ap, pkg, pol)
			}
		}
	})

	t.Run("409: a second request while one is open", func(t *testing.T) {
		pkg, pol, _ := ra.pkgPolicy(t, "Slow", rqApproval(ra.carol))
		ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		resp, _ := ra.do(t, "POST", emV1+"/assignmentRequests", ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), ra.alice, "open request")
	})
	t.Run("409: a target with an active assignment", func(t *testing.T) {
		ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.dave))
		resp, _ := ra.do(t, "POST", emV1+"/assignmentRequests", ra.tok, rqAdd("adminAdd", pkg, pol, ra.dave))
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), ra.dave, "active assignment")
	})
}

func TestParseRequestTypeSpellings(t *testing.T) {
	for in, want := range map[string]access.RequestType{
		"adminAdd": access.RequestAdminAdd, "AdminAdd": access.RequestAdminAdd, "ADMINREMOVE": access.RequestAdminRemove,
		"UserExtend": access.RequestUserUpdate, "userextend": access.RequestUserUpdate, "UserUpdate": access.RequestUserUpdate,
	} {
		if got, ok := parseRequestType(in); !ok || got != want {
			t.Errorf("parseRequestType(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := parseRequestType("onBehalfAdd"); ok {
		t.Error("onBehalfAdd accepted")
	}
}

// ---------------------------------------------------------------- update and remove

func TestRequestUpdateAndRemove(t *testing.T) {
	ra := newRQAPI(t)
	pkg, pol, _ := ra.pkgPolicy(t, "Open", nil)
	add := ra.submit(t, ra.tok, rqAdd("adminAdd", pkg, pol, ra.alice))
	aid := ra.assignmentOf(t, emID(t, add))

	end := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	upd := ra.submit(t, ra.tok, map[string]any{"requestType": "adminUpdate", "assignment": map[string]any{"id": aid},
		"schedule": map[string]any{"expiration": map[string]any{"type": "afterDateTime", "endDateTime": end}}})
	if upd["requestType"] != "adminUpdate" || upd["state"] != "delivered" {
		t.Errorf("update request: %v", upd)
	}
	a := ra.get(t, ra.tok, emV1+"/assignments/"+aid)
	exp, _ := a["schedule"].(map[string]any)["expiration"].(map[string]any)
	emSame(t, "expiration after adminUpdate", map[string]any{"type": "afterDateTime", "endDateTime": end, "duration": nil}, exp)
	if a["state"] != "delivered" {
		t.Errorf("assignment after update: %v", a)
	}

	rm := ra.submit(t, ra.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": aid}})
	if rm["requestType"] != "adminRemove" || rm["state"] != "delivered" || rm["status"] != "Delivered" {
		t.Errorf("remove request: %v", rm)
	}
	a = ra.get(t, ra.tok, emV1+"/assignments/"+aid)
	if a["state"] != "expired" || a["status"] != "Expired" {
		t.Errorf("assignment after adminRemove: %v", a)
	}
	emTime(t, a, "expiredDateTime")
	if got := ra.getRequest(t, emID(t, rm), "$expand=assignment")["assignment"].(map[string]any)["id"]; got != aid {
		t.Errorf("remove request's assignment %v, want %s", got, aid)
	}

	t.Run("a removed assignment cannot be removed again", func(t *testing.T) {
		resp, _ := ra.do(t, "POST", emV1+"/assignmentRequests", ra.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": aid}})
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), aid)
	})
	t.Run("a finished remove request can be deleted", func(t *testing.T) {
		ra.noContent(t, "DELETE", emV1+"/assignmentRequests/"+emID(t, rm), ra.tok, nil)
	})
}

// ---------------------------------------------------------------- cancel

func TestRequestCancel(t *testing.T) {
	ra := newRQAPI(t)
	// The approver is none of the targets: nobody approves their own request.
	pkg, pol, _ := ra.pkgPolicy(t, "Approved", rqApproval(ra.newUser(t, "erin@contoso.test").ID))
	pending := func(t *testing.T, target string) string {
		t.Helper()
		got := ra.submit(t, ra.adminTok, rqAdd("adminAdd", pkg, pol, target))
		if got["state"] != "pendingApproval" {
			t.Fatalf("request not pending: %v", got)
		}
		return emID(t, got)
	}
	cancelPath := func(id string) string { return emV1 + "/assignmentRequests/" + id + "/cancel" }

	id := pending(t, ra.alice)
	t.Run("an application cannot cancel", func(t *testing.T) {
		resp, _ := ra.do(t, "POST", cancelPath(id), ra.tok, nil)
		wantMessage(t, wantError(t, resp, http.StatusForbidden, "accessDenied"), "signed-in user")
	})
	t.Run("a signed-in administrator cancels: 204", func(t *testing.T) {
		ra.noContent(t, "POST", cancelPath(id), ra.adminTok, nil)
		got := ra.getRequest(t, id, "")
		if got["state"] != "canceled" || got["status"] != "Canceled" {
			t.Errorf("canceled request: %v", got)
		}
		emTime(t, got, "completedDateTime")
	})
	t.Run("cancel twice: 409", func(t *testing.T) {
		resp, _ := ra.do(t, "POST", cancelPath(id), ra.adminTok, nil)
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "canceled")
	})
	t.Run("cancel of a delivered request: 409", func(t *testing.T) {
		open, openPol, _ := ra.pkgPolicy(t, "Open", nil)
		done := ra.submit(t, ra.tok, rqAdd("adminAdd", open, openPol, ra.alice))
		resp, _ := ra.do(t, "POST", cancelPath(emID(t, done)), ra.adminTok, nil)
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "delivered")
	})
	t.Run("cancel of an unknown request: 404", func(t *testing.T) {
		resp, _ := ra.do(t, "POST", cancelPath("no-such-request"), ra.adminTok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
	for _, tc := range []struct{ name, target, path, body string }{
		{"beta Cancel", ra.bob, emBeta + "/accessPackageAssignmentRequests/%s/Cancel", ""},
		{"v1.0 microsoft.graph.cancel with {}", ra.carol, emV1 + "/assignmentRequests/%s/microsoft.graph.cancel", "{}"},
		{"beta assignmentRequests microsoft.graph.CANCEL", ra.dave, emBeta + "/assignmentRequests/%s/microsoft.graph.CANCEL", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := pending(t, tc.target)
			var body any
			if tc.body != "" {
				body = tc.body
			}
			ra.noContent(t, "POST", strings.Replace(tc.path, "%s", id, 1), ra.adminTok, body)
			if got := ra.getRequest(t, id, ""); got["state"] != "canceled" {
				t.Errorf("after %s: %v", tc.name, got)
			}
		})
	}
	t.Run("a body with properties is refused", func(t *testing.T) {
		resp, _ := ra.do(t, "POST", cancelPath(id), ra.adminTok, map[string]any{"reason": "x"})
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "reason")
	})
	t.Run("unknown actions: 404", func(t *testing.T) {
		for _, action := range []string{"frobnicate", "microsoft.graph.approve"} {
			resp, _ := ra.do(t, "POST", emV1+"/assignmentRequests/"+id+"/"+action, ra.adminTok, nil)
			wantMessage(t, wantError(t, resp, http.StatusNotFound, "itemNotFound"), action)
		}
		// resume and reprocess exist; on a request that is neither waiting nor failed they are 409.
		for _, action := range []string{"resume", "reprocess", "Reprocess"} {
			resp, _ := ra.do(t, "POST", emBeta+"/accessPackageAssignmentRequests/"+id+"/"+action, ra.adminTok, nil)
			wantError(t, resp, http.StatusConflict, "conflict")
		}
	})

	t.Run("self-service: users cancel their own requests only", func(t *testing.T) {
		self, selfPol, _ := ra.pkgPolicy(t, "Self", func(p map[string]any) {
			rqApproval(ra.carol)(p)
			p["requestorSettings"] = map[string]any{"enableTargetsToSelfAddAccess": true}
		})
		got := ra.submit(t, ra.aliceTok, rqAdd("userAdd", self, selfPol, ""))
		if got["state"] != "pendingApproval" {
			t.Fatalf("self-service request: %v", got)
		}
		own := emID(t, got)
		// Another self-service user does not even see it.
		resp, _ := ra.do(t, "POST", cancelPath(own), ra.bobTok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		ra.noContent(t, "POST", cancelPath(own), ra.aliceTok, nil)
		if got := ra.getRequest(t, own, ""); got["state"] != "canceled" {
			t.Errorf("after the user's own cancel: %v", got)
		}
	})
}

// ---------------------------------------------------------------- delete

func TestRequestDelete(t *testing.T) {
	ra := newRQAPI(t)
	open, openPol, _ := ra.pkgPolicy(t, "Open", nil)
	slow, slowPol, _ := ra.pkgPolicy(t, "Approved", rqApproval(ra.carol))

	delivered := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", open, openPol, ra.alice)))
	t.Run("a delivered add request with its assignment: 409", func(t *testing.T) {
		resp, _ := ra.do(t, "DELETE", emV1+"/assignmentRequests/"+delivered, ra.tok, nil)
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "assignment")
	})
	pending := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", slow, slowPol, ra.alice)))
	t.Run("a pending request: 409", func(t *testing.T) {
		resp, _ := ra.do(t, "DELETE", emV1+"/assignmentRequests/"+pending, ra.tok, nil)
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "pendingApproval")
	})
	t.Run("DELETE needs ReadWrite.All", func(t *testing.T) {
		resp, _ := ra.do(t, "DELETE", emV1+"/assignmentRequests/"+pending, ra.aliceTok, nil)
		wantError(t, resp, http.StatusForbidden, "accessDenied")
	})
	t.Run("a canceled request: 204, then 404", func(t *testing.T) {
		ra.noContent(t, "POST", emV1+"/assignmentRequests/"+pending+"/cancel", ra.adminTok, nil)
		ra.noContent(t, "DELETE", emBeta+"/accessPackageAssignmentRequests/"+pending, ra.tok, nil)
		for _, path := range []string{emV1 + "/assignmentRequests/" + pending, emBeta + "/assignmentRequests/" + pending, emV1 + "/assignmentRequests/" + pending + "/history"} {
			resp, _ := ra.do(t, "GET", path, ra.tok, nil)
			wantError(t, resp, http.StatusNotFound, "itemNotFound")
		}
		resp, _ := ra.do(t, "DELETE", emV1+"/assignmentRequests/"+pending, ra.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}

// ---------------------------------------------------------------- shapes

func TestRequestShapesInBothVersions(t *testing.T) {
	ra := newRQAPI(t)
	pkg, pol, created := ra.pkgPolicy(t, "Asked", func(p map[string]any) {
		rqQuestions(p)
		p["requestorSettings"] = map[string]any{"allowCustomAssignmentSchedule": true}
	})
	q := rqQuestionIDs(t, created)
	body := rqAdd("adminAdd", pkg, pol, ra.alice)
	body["justification"] = "Quarter close"
	choice := rqAnswer(q[1], "emea")
	choice["displayValue"] = "Europe"
	body["answers"] = []any{rqAnswer(q[0], "4711"), choice}
	body["schedule"] = map[string]any{"@odata.type": "#microsoft.graph.entitlementManagementSchedule",
		"expiration": map[string]any{"type": "afterDuration", "duration": "P7D"}, "recurrence": nil}
	v1 := ra.submit(t, ra.tok, body)
	id := emID(t, v1)

	// Each answer carries its question as asked, type and text, as Graph's do.
	wantAnswers := []any{
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "4711", "displayValue": nil,
			"answeredQuestion": map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": q[0], "text": "Cost center?"}},
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "emea", "displayValue": "Europe",
			"answeredQuestion": map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "id": q[1], "text": "Region?"}},
	}
	emSame(t, "answers", wantAnswers, v1["answers"])
	// beta's question text is an accessPackageLocalizedContent.
	wantBetaAnswers := []any{
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "4711", "displayValue": nil,
			"answeredQuestion": map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "id": q[0],
				"text": map[string]any{"defaultText": "Cost center?", "localizedTexts": []any{}}}},
		map[string]any{"@odata.type": "#microsoft.graph.accessPackageAnswerString", "value": "emea", "displayValue": "Europe",
			"answeredQuestion": map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "id": q[1],
				"text": map[string]any{"defaultText": "Region?", "localizedTexts": []any{}}}},
	}
	emSame(t, "justification", "Quarter close", v1["justification"])
	emSame(t, "requested schedule", map[string]any{"startDateTime": nil, "recurrence": nil,
		"expiration": map[string]any{"type": "afterDuration", "duration": "P7D", "endDateTime": nil}}, v1["schedule"])

	wantBeta := map[string]any{
		"@odata.context": ra.context("beta", "accessPackageAssignmentRequests", true),
		"id":             id, "requestType": "AdminAdd", "requestState": "Delivered", "requestStatus": "Delivered",
		"createdDateTime": v1["createdDateTime"], "completedDate": v1["completedDateTime"], "expirationDateTime": nil,
		"isValidationOnly": false, "justification": v1["justification"], "answers": wantBetaAnswers, "schedule": v1["schedule"],
		"customExtensionCalloutInstances": v1["customExtensionCalloutInstances"],
	}
	beta := ra.get(t, ra.tok, emBeta+"/accessPackageAssignmentRequests/"+id)
	emSame(t, "beta keys", rqBetaRequestKeys, emKeys(beta))
	if d := cmp.Diff(wantBeta, beta); d != "" {
		t.Errorf("beta request differs from v1.0's (-want +got):\n%s", d)
	}
	newer := ra.get(t, ra.tok, emBeta+"/assignmentRequests('"+id+"')")
	wantBeta["@odata.context"] = ra.context("beta", "assignmentRequests", true)
	emSame(t, "beta assignmentRequests", wantBeta, newer)
	emSame(t, "v1.0 GET", v1, ra.getRequest(t, id, ""))

	aid := ra.assignmentOf(t, id)
	a1 := ra.get(t, ra.tok, emV1+"/assignments/"+aid)
	aBeta := ra.get(t, ra.tok, emBeta+"/accessPackageAssignments/"+aid)
	emSame(t, "beta assignment keys", rqBetaAssignmentKeys, emKeys(aBeta))
	emSame(t, "beta assignment", map[string]any{
		"@odata.context": ra.context("beta", "accessPackageAssignments", true), "id": aid,
		"accessPackageId": pkg, "assignmentPolicyId": pol, "catalogId": ra.catalog, "targetId": ra.alice,
		"assignmentState": "Delivered", "assignmentStatus": "Delivered", "isExtended": false, "expiredDateTime": nil,
		"schedule": a1["schedule"], "customExtensionCalloutInstances": []any{},
	}, aBeta)
	sch := a1["schedule"].(map[string]any)
	start := emTime(t, sch, "startDateTime")
	exp := sch["expiration"].(map[string]any)
	emSame(t, "assignment expiration", map[string]any{"type": "afterDuration", "duration": "P7D",
		"endDateTime": start.AddDate(0, 0, 7).Format(time.RFC3339Nano)}, exp)

	t.Run("beta POST answers the beta shape", func(t *testing.T) {
		other, otherPol, _ := ra.pkgPolicy(t, "Open", nil)
		resp, got := ra.do(t, "POST", emBeta+"/accessPackageAssignmentRequests", ra.tok, map[string]any{
			"requestType": "AdminAdd", "isValidationOnly": false, "justification": "beta",
			"accessPackageAssignment": map[string]any{"accessPackageId": other, "assignmentPolicyId": otherPol, "target": map[string]any{"objectId": ra.bob}},
		})
		wantStatus(t, resp, http.StatusCreated)
		emSame(t, "beta POST keys", rqBetaRequestKeys, emKeys(got))
		if got["requestType"] != "AdminAdd" || got["requestState"] != "Submitted" || got["requestStatus"] != "Accepted" || got["completedDate"] != nil {
			t.Errorf("beta POST: %v, want the request as accepted: Submitted/Accepted", got)
		}
		emSame(t, "beta POST context", ra.context("beta", "accessPackageAssignmentRequests", true), got["@odata.context"])
		if now := ra.get(t, ra.tok, emBeta+"/accessPackageAssignmentRequests/"+emID(t, got)); now["requestState"] != "Delivered" || now["requestStatus"] != "Delivered" {
			t.Errorf("beta GET after the POST: %v/%v, want Delivered: the POST's own transaction delivers a package with no approval", now["requestState"], now["requestStatus"])
		}
		v1 := ra.getRequest(t, emID(t, got), "$expand=assignment($expand=target)")
		target := v1["assignment"].(map[string]any)["target"].(map[string]any)
		emSame(t, "target named by target.objectId", ra.bob, target["objectId"])
	})
}

// ---------------------------------------------------------------- $expand

func TestRequestAndAssignmentExpand(t *testing.T) {
	ra := newRQAPI(t)
	pkg, pol, _ := ra.pkgPolicy(t, "Open", nil)
	id := emID(t, ra.submit(t, ra.adminTok, rqAdd("adminAdd", pkg, pol, ra.alice)))
	aid := ra.assignmentOf(t, id)
	withoutContext := func(m map[string]any) map[string]any { return emWithout(m, "@odata.context") }

	t.Run("v1.0 request", func(t *testing.T) {
		got := ra.getRequest(t, id, "$expand=accessPackage,assignment,requestor")
		emSame(t, "keys", rqSorted(append(rqV1RequestKeys, "accessPackage", "assignment", "requestor")...), emKeys(got))
		emSame(t, "accessPackage", withoutContext(ra.get(t, ra.tok, emV1+"/accessPackages/"+pkg)), got["accessPackage"])
		emSame(t, "assignment", withoutContext(ra.get(t, ra.tok, emV1+"/assignments/"+aid)), got["assignment"])
		emSame(t, "requestor", map[string]any{"id": ra.admin, "objectId": ra.admin, "displayName": "admin", "principalName": "admin@contoso.test",
			"email": nil, "subjectType": "user", "subjectLifecycle": "notDefined", "onPremisesSecurityIdentifier": nil}, got["requestor"])
	})
	t.Run("v1.0 nested $expand", func(t *testing.T) {
		got := ra.getRequest(t, id, "$expand=accessPackage($expand=catalog),assignment($expand=target,assignmentPolicy)")
		if c := got["accessPackage"].(map[string]any)["catalog"].(map[string]any); c["id"] != ra.catalog {
			t.Errorf("accessPackage.catalog: %v", c)
		}
		a := got["assignment"].(map[string]any)
		target := a["target"].(map[string]any)
		emSame(t, "target keys", rqV1SubjectKeys, emKeys(target))
		if target["objectId"] != ra.alice || target["subjectType"] != "user" || target["principalName"] != "alice@contoso.test" {
			t.Errorf("assignment.target: %v", target)
		}
		if p := a["assignmentPolicy"].(map[string]any); p["id"] != pol {
			t.Errorf("assignment.assignmentPolicy: %v", p)
		}
	})
	t.Run("an application requestor", func(t *testing.T) {
		other, otherPol, _ := ra.pkgPolicy(t, "Other", nil)
		got := ra.submit(t, ra.tok, rqAdd("adminAdd", other, otherPol, ra.alice))
		req := ra.getRequest(t, emID(t, got), "$expand=requestor")["requestor"].(map[string]any)
		if req["subjectType"] != "servicePrincipal" || req["displayName"] != "test-app" {
			t.Errorf("app requestor: %v", req)
		}
		beta := ra.get(t, ra.tok, emBeta+"/assignmentRequests/"+emID(t, got)+"?$expand=requestor")["requestor"].(map[string]any)
		if beta["type"] != "ServicePrincipal" {
			t.Errorf("beta app requestor: %v", beta)
		}
	})
	t.Run("beta request", func(t *testing.T) {
		got := ra.get(t, ra.tok, emBeta+"/accessPackageAssignmentRequests/"+id+"?$expand=accessPackage,accessPackageAssignment,requestor")
		emSame(t, "keys", rqSorted(append(rqBetaRequestKeys, "accessPackage", "accessPackageAssignment", "requestor")...), emKeys(got))
		emSame(t, "accessPackage", withoutContext(ra.get(t, ra.tok, emBeta+"/accessPackages/"+pkg)), got["accessPackage"])
		emSame(t, "accessPackageAssignment", withoutContext(ra.get(t, ra.tok, emBeta+"/accessPackageAssignments/"+aid)), got["accessPackageAssignment"])
		requestor := got["requestor"].(map[string]any)
		emSame(t, "beta requestor keys", rqBetaSubjectKeys, emKeys(requestor))
		emSame(t, "beta requestor", map[string]any{"id": ra.admin, "objectId": ra.admin, "displayName": "admin", "principalName": "admin@contoso.test",
			"email": nil, "type": "User", "altSecId": nil, "connectedOrganizationId": nil, "cleanupScheduledDateTime": nil,
			"onPremisesSecurityIdentifier": nil}, requestor)
	})
	t.Run("v1.0 assignment", func(t *testing.T) {
		got := ra.get(t, ra.tok, emV1+"/assignments/"+aid+"?$expand=target,accessPackage,assignmentPolicy")
		emSame(t, "keys", rqSorted(append(rqV1AssignmentKeys, "target", "accessPackage", "assignmentPolicy")...), emKeys(got))
		emSame(t, "accessPackage", withoutContext(ra.get(t, ra.tok, emV1+"/accessPackages/"+pkg)), got["accessPackage"])
		emSame(t, "assignmentPolicy", withoutContext(ra.get(t, ra.tok, emV1+"/assignmentPolicies/"+pol)), got["assignmentPolicy"])
		target := got["target"].(map[string]any)
		if target["objectId"] != ra.alice || target["displayName"] != "alice" {
			t.Errorf("target: %v", target)
		}
		list := ra.get(t, ra.tok, emV1+"/assignments?$expand=target,accessPackage,assignmentPolicy")
		emSame(t, "list item with $expand", withoutContext(got), emValue(t, list)[0])
	})
	t.Run("beta assignment", func(t *testing.T) {
		got := ra.get(t, ra.tok, emBeta+"/accessPackageAssignments/"+aid+"?$expand=accessPackage,accessPackageAssignmentPolicy,target")
		emSame(t, "keys", rqSorted(append(rqBetaAssignmentKeys, "target", "accessPackage", "accessPackageAssignmentPolicy")...), emKeys(got))
		emSame(t, "accessPackage", withoutContext(ra.get(t, ra.tok, emBeta+"/accessPackages/"+pkg)), got["accessPackage"])
		if p := got["accessPackageAssignmentPolicy"].(map[string]any); p["id"] != pol {
			t.Errorf("accessPackageAssignmentPolicy: %v", p)
		}
		target := got["target"].(map[string]any)
		emSame(t, "beta target keys", rqBetaSubjectKeys, emKeys(target))
		if target["objectId"] != ra.alice || target["type"] != "User" {
			t.Errorf("beta target: %v", target)
		}
	})
	t.Run("$select keeps expanded navigation properties", func(t *testing.T) {
		got := ra.getRequest(t, id, "$select=state&$expand=accessPackage")
		emSame(t, "keys", []string{"@odata.context", "accessPackage", "id", "state"}, emKeys(got))
	})
	t.Run("unknown $expand names: 400", func(t *testing.T) {
		for _, path := range []string{
			emV1 + "/assignmentRequests/" + id + "?$expand=accessPackageAssignment",
			emV1 + "/assignmentRequests?$expand=target",
			emBeta + "/accessPackageAssignmentRequests/" + id + "?$expand=assignment",
			emV1 + "/assignments/" + aid + "?$expand=accessPackageAssignmentPolicy",
			emBeta + "/accessPackageAssignments?$expand=assignmentPolicy",
		} {
			resp, _ := ra.do(t, "GET", path, ra.tok, nil)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "$expand")
		}
	})
	t.Run("reads need a read permission", func(t *testing.T) {
		ra.get(t, ra.readTok, emV1+"/assignmentRequests/"+id)
		ra.get(t, ra.readTok, emBeta+"/accessPackageAssignments")
		resp, _ := ra.do(t, "GET", emV1+"/assignmentRequests", ra.aliceTok, nil)
		wantError(t, resp, http.StatusForbidden, "accessDenied")
	})
}

// ---------------------------------------------------------------- $filter and paging

func TestRequestAndAssignmentFilter(t *testing.T) {
	ra := newRQAPI(t)
	pkgA, polA, _ := ra.pkgPolicy(t, "A", nil)
	pkgB, polB, _ := ra.pkgPolicy(t, "B", nil)
	slow, slowPol, _ := ra.pkgPolicy(t, "Slow", rqApproval(ra.carol))
	reqAliceA := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", pkgA, polA, ra.alice)))
	reqBobA := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", pkgA, polA, ra.bob)))
	reqAliceB := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", pkgB, polB, ra.alice)))
	reqPending := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", slow, slowPol, ra.bob)))
	aliceA, bobA, aliceB := ra.assignmentOf(t, reqAliceA), ra.assignmentOf(t, reqBobA), ra.assignmentOf(t, reqAliceB)
	reqRemove := emID(t, ra.submit(t, ra.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": bobA}}))

	for _, tc := range []struct {
		path, filter string
		want         []string
	}{
		{emV1 + "/assignments", "", []string{aliceA, bobA, aliceB}},
		{emV1 + "/assignments", "target/objectId eq '" + ra.alice + "'", []string{aliceA, aliceB}},
		{emV1 + "/assignments", "accessPackage/id eq '" + pkgA + "'", []string{aliceA, bobA}},
		{emV1 + "/assignments", "state eq 'Delivered'", []string{aliceA, aliceB}},
		{emV1 + "/assignments", "state eq 'expired'", []string{bobA}},
		{emV1 + "/assignments", "accessPackage/id eq '" + pkgA + "' and state eq 'delivered'", []string{aliceA}},
		{emV1 + "/assignments", "target/objectId eq '" + ra.alice + "' AND accessPackage/id eq '" + pkgB + "'", []string{aliceB}},
		{emV1 + "/assignments", "assignmentPolicy/id eq '" + polB + "'", []string{aliceB}},
		{emV1 + "/assignments", "target/objectId eq '" + ra.carol + "'", nil},
		{emBeta + "/accessPackageAssignments", "targetId eq '" + ra.bob + "'", []string{bobA}},
		{emBeta + "/accessPackageAssignments", "accessPackageId eq '" + pkgB + "'", []string{aliceB}},
		{emBeta + "/accessPackageAssignments", "assignmentState eq 'Expired'", []string{bobA}},
		{emBeta + "/accessPackageAssignments", "assignmentState eq 'Delivered' and targetId eq '" + ra.alice + "' and accessPackageId eq '" + pkgA + "'", []string{aliceA}},
		{emBeta + "/accessPackageAssignments", "target/objectId eq '" + ra.alice + "' and accessPackage/id eq '" + pkgA + "'", []string{aliceA}},
		{emV1 + "/assignments", "state eq 'Delivered' or state eq 'Expired'", []string{aliceA, bobA, aliceB}},
		{emV1 + "/assignments", "state ne 'Delivered'", []string{bobA}},
		{emV1 + "/assignmentRequests", "state eq 'delivered' and accessPackage/id eq '" + pkgA + "'", []string{reqAliceA, reqBobA, reqRemove}},
		{emV1 + "/assignmentRequests", "state eq 'pendingApproval'", []string{reqPending}},
		{emV1 + "/assignmentRequests", "target/objectId eq '" + ra.bob + "'", []string{reqBobA, reqPending, reqRemove}},
		{emV1 + "/assignmentRequests", "assignment/id eq '" + bobA + "'", []string{reqBobA, reqRemove}},
		{emBeta + "/accessPackageAssignmentRequests", "requestState eq 'PendingApproval'", []string{reqPending}},
		{emBeta + "/assignmentRequests", "accessPackageAssignment/targetId eq '" + ra.alice + "'", []string{reqAliceA, reqAliceB}},
	} {
		t.Run(tc.path+" "+tc.filter, func(t *testing.T) {
			path := tc.path
			if tc.filter != "" {
				path += "?" + rqFilter(tc.filter)
			}
			emSame(t, "ids", rqSorted(tc.want...), ra.listIDs(t, path))
			// One item per page: the nextLink carries the filter along.
			paged := path + "?$top=1"
			if tc.filter != "" {
				paged = path + "&$top=1"
			}
			emSame(t, "ids one per page", rqSorted(tc.want...), ra.listIDs(t, paged))
		})
	}

	for _, tc := range []struct {
		path, filter string
		names        []string
	}{
		{emV1 + "/assignments", "displayName eq 'x'", []string{"displayName", "cannot be filtered", "target/objectId"}},
		{emV1 + "/assignments", "targetId eq '" + ra.alice + "'", []string{"targetId"}},
		{emV1 + "/assignments", "startswith(state,'D')", []string{"startswith", "state", "enumeration"}},
		{emV1 + "/assignments", "state eq 'Gone'", []string{"Gone", "state"}},
		{emV1 + "/assignmentRequests", "createdDateTime eq '2026-01-01T00:00:00Z'", []string{"createdDateTime"}},
		{emBeta + "/accessPackageAssignmentRequests", "requestState eq 'Nope'", []string{"Nope", "requestState"}},
	} {
		t.Run("refused "+tc.filter, func(t *testing.T) {
			resp, _ := ra.do(t, "GET", tc.path+"?"+rqFilter(tc.filter), ra.tok, nil)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), append([]string{"$filter"}, tc.names...)...)
		})
	}
	t.Run("$filter stays refused where it is not read", func(t *testing.T) {
		for _, path := range []string{emV1 + "/assignments/" + aliceA, emV1 + "/assignmentRequests/" + reqAliceA + "/history"} {
			resp, _ := ra.do(t, "GET", path+"?"+rqFilter("state eq 'delivered'"), ra.tok, nil)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "$filter", "not supported")
		}
	})
	t.Run("lists are paged", func(t *testing.T) {
		got := ra.get(t, ra.tok, emV1+"/assignmentRequests?$top=2")
		if len(emValue(t, got)) != 2 || got["@odata.nextLink"] == nil {
			t.Errorf("first page of requests: %v", got)
		}
		emSame(t, "context", ra.context("v1.0", "assignmentRequests", false), got["@odata.context"])
		emSame(t, "all pages", rqSorted(reqAliceA, reqBobA, reqAliceB, reqPending, reqRemove), ra.listIDs(t, emV1+"/assignmentRequests?$top=2"))
	})
}

// ---------------------------------------------------------------- history

func TestRequestHistory(t *testing.T) {
	ra := newRQAPI(t)
	pkg, pol, _ := ra.pkgPolicy(t, "Open", nil)
	slow, slowPol, _ := ra.pkgPolicy(t, "Approved", rqApproval(ra.carol))
	id := emID(t, ra.submit(t, ra.adminTok, rqAdd("adminAdd", pkg, pol, ra.alice)))

	got := ra.get(t, ra.tok, emV1+"/assignmentRequests/"+id+"/history")
	emSame(t, "context", ra.context("v1.0", "assignmentRequests('"+id+"')/history", false), got["@odata.context"])
	entries := emValue(t, got)
	if len(entries) < 2 {
		t.Fatalf("history: %v", got)
	}
	first, last := entries[0], entries[len(entries)-1]
	for _, e := range entries {
		emSame(t, "entry keys", rqHistoryKeys, emKeys(e))
		emTime(t, e, "dateTime")
		if e["action"] != "submitted" && e["action"] != "transition" {
			t.Errorf("entry of a request without extensions: %v", e)
		}
	}
	emSame(t, "first entry", map[string]any{"id": first["id"], "dateTime": first["dateTime"], "action": "submitted", "stage": nil,
		"actor": map[string]any{"id": ra.admin, "displayName": "admin@contoso.test"}, "source": nil, "type": nil, "detail": nil, "outcome": nil,
		"state": "submitted", "status": "Accepted"}, first)
	if last["action"] != "transition" || last["state"] != "delivered" || last["status"] != "Delivered" {
		t.Errorf("last entry: %v", last)
	}

	t.Run("beta spells states in PascalCase", func(t *testing.T) {
		got := ra.get(t, ra.tok, emBeta+"/accessPackageAssignmentRequests/"+id+"/history")
		emSame(t, "context", ra.context("beta", "accessPackageAssignmentRequests('"+id+"')/history", false), got["@odata.context"])
		beta := emValue(t, got)
		emSame(t, "ids", emIDs(entries), emIDs(beta))
		if beta[0]["state"] != "Submitted" || beta[len(beta)-1]["state"] != "Delivered" {
			t.Errorf("beta history: %v", beta)
		}
	})
	t.Run("a cancel is recorded with its actor", func(t *testing.T) {
		pending := emID(t, ra.submit(t, ra.tok, rqAdd("adminAdd", slow, slowPol, ra.bob)))
		ra.noContent(t, "POST", emV1+"/assignmentRequests/"+pending+"/cancel", ra.adminTok, nil)
		var actions []string
		for _, e := range emValue(t, ra.get(t, ra.tok, emV1+"/assignmentRequests/"+pending+"/history")) {
			actions = append(actions, e["action"].(string))
			if e["action"] == "canceled" {
				emSame(t, "canceled by", map[string]any{"id": ra.admin, "displayName": "admin@contoso.test"}, e["actor"])
			}
		}
		emSame(t, "actions", []string{"submitted", "transition", "approvalStageStarted", "canceled", "transition"}, actions)
	})
	t.Run("paged", func(t *testing.T) {
		var ids []string
		for path := emV1 + "/assignmentRequests/" + id + "/history?$top=1"; path != ""; {
			got := ra.get(t, ra.tok, path)
			ids = append(ids, valueIDs(t, got)...)
			path, _ = got["@odata.nextLink"].(string)
		}
		emSame(t, "ids one per page", emIDs(entries), ids)
	})
	t.Run("unknown request: 404", func(t *testing.T) {
		resp, _ := ra.do(t, "GET", emV1+"/assignmentRequests/no-such-request/history", ra.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}
