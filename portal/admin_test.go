package portal_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

const emPath = "/v1.0/identityGovernance/entitlementManagement"

// requestAndDecide has Alice request the package through the portal and
// Bob decide through his Approvals page; it returns the request's id.
func requestAndDecide(t *testing.T, w *world, decision, justification string) string {
	t.Helper()
	alice := newBrowser(t, w.url)
	csrf := alice.signIn(w.alice)
	status, loc, body := alice.post("/portal/request/"+w.pkgID, url.Values{"csrf": {csrf}, "policy": {w.policyID},
		"justification": {"nightly builds"}, "q-" + w.policyID + "-" + w.questionI: {"Apollo"}})
	if status != http.StatusSeeOther || loc != "/portal/" {
		t.Fatalf("submit: %d %s %s", status, loc, body)
	}
	bob := newBrowser(t, w.url)
	bob.signIn(w.bob)
	_, page, _ := bob.get("/portal/approvals")
	action := regexp.MustCompile(`action="(/portal/approvals/([^/"]+)/stages/[^"]+)"`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no decision form:\n%s", page)
	}
	if status, _, _ := bob.post(action[1], url.Values{"csrf": {csrfOf(t, page)}, "decision": {decision}, "justification": {justification}}); status != http.StatusSeeOther {
		t.Fatalf("decide: %d", status)
	}
	return action[2]
}

// The Approvals page lists the approver's own past decisions, from the
// API's filterByCurrentUser(on='approverHistory') and the stages' reviewedBy.
func TestApprovalsListTheApproversPastDecisions(t *testing.T) {
	w := start(t, nil)
	id := requestAndDecide(t, w, "Approve", "fine for the quarter")
	bob := newBrowser(t, w.url)
	bob.signIn(w.bob)
	_, page, _ := bob.get("/portal/approvals")
	i := strings.Index(page, `id="decisions"`)
	if i < 0 {
		t.Fatalf("Bob's approvals list no past decisions:\n%s", page)
	}
	history := page[i:]
	for _, want := range []string{"Approved", "fine for the quarter", "Build servers", "Alice Requestor", id} {
		if !strings.Contains(history, want) {
			t.Errorf("Bob's past decisions do not show %q:\n%s", want, history)
		}
	}
	if !strings.Contains(page, "Nothing is waiting for your decision") {
		t.Error("the decided request is still offered for a decision")
	}
	// Alice approved nothing: her history is empty.
	alice := newBrowser(t, w.url)
	alice.signIn(w.alice)
	if _, page, _ := alice.get("/portal/approvals"); strings.Contains(page, `id="decisions"`) || !strings.Contains(page, "You have decided no approvals yet") {
		t.Errorf("Alice's approvals show decisions:\n%s", page)
	}
}

// Extending asks the policy's questions again and sends the answers; a
// required one left blank is the API's refusal, shown with the question.
func TestExtendSendsThePolicysAnswers(t *testing.T) {
	w := start(t, nil)
	requestAndDecide(t, w, "Approve", "ok")
	alice := newBrowser(t, w.url)
	csrf := alice.signIn(w.alice)
	_, page, _ := alice.get("/portal/")
	m := regexp.MustCompile(`action="/portal/assignments/([^/"]+)/extend"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("My Access offers no extension:\n%s", page)
	}
	asg := m[1]
	field := "x-" + asg + "-" + w.questionI
	if !strings.Contains(page, `<label for="`+field+`">Which project? (required)</label>`) {
		t.Fatalf("the extend form does not ask the policy's question:\n%s", page)
	}
	end := time.Now().AddDate(0, 2, 0).Format("2006-01-02")

	// Without the answer the API refuses, and the page says which question.
	status, loc, _ := alice.post("/portal/assignments/"+asg+"/extend", url.Values{"csrf": {csrf}, "end": {end}})
	if status != http.StatusSeeOther {
		t.Fatalf("extend: %d", status)
	}
	if _, page, _ := alice.get(loc); !strings.Contains(page, "Not done:") || !strings.Contains(page, "Which project?") {
		t.Errorf("the refusal of an unanswered extension is not shown:\n%s", page)
	}

	status, loc, body := alice.post("/portal/assignments/"+asg+"/extend", url.Values{"csrf": {csrf}, "end": {end},
		"justification": {"another quarter"}, field: {"Gemini"}})
	if status != http.StatusSeeOther || loc != "/portal/" {
		t.Fatalf("extend: %d %s %s", status, loc, body)
	}
	reqs, err := w.admin.ListRequests(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var update *access.Request
	for i := range reqs {
		if reqs[i].Type == access.RequestUserUpdate {
			update = &reqs[i]
		}
	}
	if update == nil {
		t.Fatalf("no userUpdate request among %+v", reqs)
	}
	if len(update.Answers) != 1 || update.Answers[0].QuestionID != w.questionI || update.Answers[0].Value != "Gemini" || update.Justification != "another quarter" {
		t.Errorf("the extension request carries answers %+v and justification %q, want Gemini to the policy's question", update.Answers, update.Justification)
	}
}

// A Catalog owner edits a catalog, a package and a policy through the API;
// a user without a role is refused, and the page says so; a form without
// the CSRF token changes nothing.
func TestAdminSimpleEdits(t *testing.T) {
	w := start(t, nil)
	ctx := context.Background()
	carol := newBrowser(t, w.url)
	csrf := carol.signIn(w.carol)
	_, page, _ := carol.get("/portal/admin")
	for _, link := range []string{"/portal/admin/catalogs/" + w.catalogID + "/edit", "/portal/admin/packages/" + w.pkgID + "/edit", "/portal/admin/policies/" + w.policyID + "/edit"} {
		if !strings.Contains(page, `href="`+link+`"`) {
			t.Errorf("the admin page has no link to %s", link)
		}
		status, form, _ := carol.get(link)
		if status != http.StatusOK || !strings.Contains(form, `<label for="displayName">`) || !strings.Contains(form, `<label for="description">`) {
			t.Errorf("GET %s: %d\n%s", link, status, form)
		}
	}
	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/portal/admin/catalogs/" + w.catalogID, url.Values{"displayName": {"Engineering tools"}, "description": {"Build and test"}, "state": {"unpublished"}}, "Saved the catalog Engineering tools."},
		{"/portal/admin/packages/" + w.pkgID, url.Values{"displayName": {"Build farm"}, "description": {"CI machines"}, "isHidden": {"on"}}, "Saved the access package Build farm."},
		{"/portal/admin/policies/" + w.policyID, url.Values{"displayName": {"Engineers only"}, "description": {"Needs Bob"}}, "Saved the policy Engineers only."},
	} {
		tc.form.Set("csrf", csrf)
		status, loc, body := carol.post(tc.path, tc.form)
		if status != http.StatusSeeOther || loc != "/portal/admin" {
			t.Fatalf("POST %s: %d %s %s", tc.path, status, loc, body)
		}
		if _, page, _ := carol.get(loc); !strings.Contains(page, tc.want) {
			t.Errorf("after POST %s the page does not say %q:\n%s", tc.path, tc.want, page)
		}
	}
	var cat struct{ DisplayName, Description, State string }
	var pkg struct {
		DisplayName, Description string
		IsHidden                 bool
	}
	var pol struct {
		DisplayName, Description string
		Questions                []struct{ ID, Text string }
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.admin.Do(ctx, http.MethodGet, emPath+"/catalogs/"+w.catalogID, nil, &cat))
	must(w.admin.Do(ctx, http.MethodGet, emPath+"/accessPackages/"+w.pkgID, nil, &pkg))
	must(w.admin.Do(ctx, http.MethodGet, emPath+"/assignmentPolicies/"+w.policyID+"?$expand=questions", nil, &pol))
	if cat.DisplayName != "Engineering tools" || cat.Description != "Build and test" || cat.State != "unpublished" {
		t.Errorf("catalog after the edit: %+v", cat)
	}
	if pkg.DisplayName != "Build farm" || pkg.Description != "CI machines" || !pkg.IsHidden {
		t.Errorf("package after the edit: %+v", pkg)
	}
	if pol.DisplayName != "Engineers only" || pol.Description != "Needs Bob" || len(pol.Questions) != 1 || pol.Questions[0].ID != w.questionI {
		t.Errorf("policy after the edit: %+v (its question must be kept)", pol)
	}

	// Alice has no role: the API refuses, the page says so, nothing changes.
	alice := newBrowser(t, w.url)
	aliceCSRF := alice.signIn(w.alice)
	status, loc, _ := alice.post("/portal/admin/packages/"+w.pkgID, url.Values{"csrf": {aliceCSRF}, "displayName": {"Mine now"}})
	if status != http.StatusSeeOther {
		t.Fatalf("Alice's edit: %d", status)
	}
	if _, page, _ := alice.get(loc); !strings.Contains(page, "Not done:") {
		t.Errorf("the refusal of Alice's edit is not shown:\n%s", page)
	}
	// A blank name is refused before the API is asked; no token, no change.
	if status, loc, _ := carol.post("/portal/admin/catalogs/"+w.catalogID, url.Values{"csrf": {csrf}, "displayName": {" "}, "state": {"published"}}); status == http.StatusSeeOther {
		if _, page, _ := carol.get(loc); !strings.Contains(page, "Give a display name.") {
			t.Errorf("a blank name is not refused:\n%s", page)
		}
	}
	if status, _, _ := carol.post("/portal/admin/packages/"+w.pkgID, url.Values{"displayName": {"No token"}}); status != http.StatusForbidden {
		t.Errorf("an edit without the CSRF token: %d, want 403", status)
	}
	must(w.admin.Do(ctx, http.MethodGet, emPath+"/accessPackages/"+w.pkgID, nil, &pkg))
	if pkg.DisplayName != "Build farm" {
		t.Errorf("a refused edit changed the package: %+v", pkg)
	}
}

// waitingWorld adds a package whose policy calls a launch-and-wait
// extension when a request is made, has Alice request it and does the
// engine's part by hand: the callout is sent and answered 202 after one
// failed attempt. It returns the extension's id and the request's.
func waitingWorld(t *testing.T, w *world) (extID, requestID string) {
	t.Helper()
	ctx := context.Background()
	var x struct{ ID string }
	err := w.admin.Do(ctx, http.MethodPost, emPath+"/catalogs/"+w.catalogID+"/customWorkflowExtensions", map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "displayName": "Ticketing",
		"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "https://hooks.example.test/ticket"},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdTokenAuthentication", "resourceId": "ticketing-app"},
		"callbackConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"},
	}, &x)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := w.admin.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Ticketed", CatalogID: w.catalogID})
	if err != nil {
		t.Fatal(err)
	}
	var policy struct{ ID string }
	err = w.admin.Do(ctx, http.MethodPost, emPath+"/assignmentPolicies", map[string]any{
		"displayName": "Ticketed", "accessPackage": map[string]any{"id": pkg.ID}, "allowedTargetScope": "allMemberUsers",
		"requestorSettings":            map[string]any{"enableTargetsToSelfAddAccess": true},
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": x.ID}}},
	}, &policy)
	if err != nil {
		t.Fatal(err)
	}
	alice := newBrowser(t, w.url)
	csrf := alice.signIn(w.alice)
	if status, _, body := alice.post("/portal/request/"+pkg.ID, url.Values{"csrf": {csrf}, "policy": {policy.ID}}); status != http.StatusSeeOther {
		t.Fatalf("request: %d %s", status, body)
	}
	works, err := w.svc.ClaimWork(ctx, "test", time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, wk := range works {
		if wk.Kind != access.WorkCallout {
			continue
		}
		plan, err := w.svc.BeginCallout(ctx, wk)
		if err != nil {
			t.Fatal(err)
		}
		requestID = wk.RequestID
		sent := time.Now().UTC()
		attempt := func(n, status int, body, problem string) access.CalloutAttempt {
			return access.CalloutAttempt{ID: fmt.Sprintf("%s-attempt-%d", wk.InstanceID, n), ExtensionID: plan.Extension.ID, RequestID: wk.RequestID,
				InstanceID: wk.InstanceID, Stage: wk.Stage, URL: "https://hooks.example.test/ticket", Attempt: n,
				SentAt: sent.Add(time.Duration(n) * time.Second), DurationMillis: int64(40 + n), ResponseStatus: status, ResponseBody: body, Error: problem}
		}
		res := access.CalloutResult{OK: true, Attempts: []access.CalloutAttempt{attempt(1, 0, "", "connection reset by peer"), attempt(2, 202, `{"ticket":"T-42"}`, "")}}
		if err := w.svc.FinishCallout(ctx, wk, res); err != nil {
			t.Fatal(err)
		}
	}
	if requestID == "" {
		t.Fatal("the request queued no callout")
	}
	return x.ID, requestID
}

// Alice, with no role, sees what her request waits for by the extension's
// name; Carol sees the extension's recent callouts with each attempt's
// latency and answer where attempts are recorded, and is told how to
// record them where they are not.
func TestExtensionPageShowsCalloutAttempts(t *testing.T) {
	for _, record := range []bool{true, false} {
		t.Run(fmt.Sprintf("recording %t", record), func(t *testing.T) {
			w := startRecording(t, nil, record)
			extID, requestID := waitingWorld(t, w)
			alice := newBrowser(t, w.url)
			alice.signIn(w.alice)
			if _, page, _ := alice.get("/portal/"); !strings.Contains(page, "waiting for Ticketing") {
				t.Errorf("Alice's request does not name the extension it waits for:\n%s", page)
			}
			carol := newBrowser(t, w.url)
			carol.signIn(w.carol)
			_, admin, _ := carol.get("/portal/admin")
			link := "/portal/admin/catalogs/" + w.catalogID + "/extensions/" + extID
			if !strings.Contains(admin, `href="`+link+`"`) {
				t.Fatalf("the admin page does not link the extension:\n%s", admin)
			}
			status, page, _ := carol.get(link)
			if status != http.StatusOK || !strings.Contains(page, "/portal/admin/requests/"+requestID) || !strings.Contains(page, "Waiting for callback") {
				t.Fatalf("the extension's page: %d, want its callout for request %s:\n%s", status, requestID, page)
			}
			attempts := []string{"connection reset by peer in 41 ms", "HTTP 202 in 42 ms", "{&#34;ticket&#34;:&#34;T-42&#34;}"}
			for _, want := range attempts {
				if got := strings.Contains(page, want); got != record {
					t.Errorf("the extension's page shows %q: %t, want %t", want, got, record)
				}
			}
			if got := strings.Contains(page, "--record-callouts"); got == record {
				t.Errorf("the page says how to record attempts: %t, want %t", got, !record)
			}
			_, reqPage, _ := carol.get("/portal/admin/requests/" + requestID)
			if got := strings.Contains(reqPage, "connection reset by peer"); got != record {
				t.Errorf("the request's page shows its attempts: %t, want %t\n%s", got, record, reqPage)
			}
			if !strings.Contains(reqPage, "<td>Ticketing</td>") {
				t.Errorf("the request's page does not name the extension:\n%s", reqPage)
			}
		})
	}
}
