package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/google/go-cmp/cmp"
)

// actions lists the actions of a history, in order.
func actions(h []access.HistoryEntry) []string {
	var out []string
	for _, e := range h {
		out = append(out, e.Action)
	}
	return out
}

func TestRequestsAndAssignments(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	f := newFixture(t, c, nil)
	alice := newUser(t, c, "alice@contoso.test")
	bob := newUser(t, c, "bob@contoso.test")
	app, err := w.Svc.EnsureServicePrincipal(ctx, "client-test")
	ok(t, err, "the token's service principal")

	submitted, err := c.SubmitRequest(ctx, f.addFor(alice.ID))
	ok(t, err, "SubmitRequest")
	if submitted.ID == "" || submitted.Type != access.RequestAdminAdd || submitted.State != access.StateSubmitted ||
		submitted.Status != access.StatusAccepted || submitted.CompletedDateTime != nil || submitted.Justification != "needed for work" {
		t.Errorf("SubmitRequest = %+v; want an adminAdd as accepted: submitted, Accepted", submitted)
	}
	if submitted.AccessPackageID != f.pkg || submitted.PolicyID != f.policy || submitted.Target.ID != alice.ID {
		t.Errorf("SubmitRequest names package %q, policy %q, target %q; want the ones sent", submitted.AccessPackageID,
			submitted.PolicyID, submitted.Target.ID)
	}
	recent(t, "createdDateTime", submitted.CreatedDateTime)

	got, err := c.GetRequest(ctx, submitted.ID)
	ok(t, err, "GetRequest")
	if got.AssignmentID == "" {
		t.Fatalf("GetRequest = %+v; a delivered request names its assignment", got)
	}
	if got.State != access.StateDelivered || got.Status != access.StatusDelivered || got.CompletedDateTime == nil {
		t.Errorf("GetRequest = %+v; want it delivered at once (no extension, no approval)", got)
	}
	want := submitted
	want.State, want.Status, want.CompletedDateTime = got.State, got.Status, got.CompletedDateTime
	want.AssignmentID, want.CatalogID = got.AssignmentID, f.catalog
	want.Target = access.Subject{ID: alice.ID, Kind: access.SubjectUser, DisplayName: alice.DisplayName, PrincipalName: alice.UserPrincipalName}
	want.Requestor = access.Subject{ID: app.ID, Kind: access.SubjectServicePrincipal, DisplayName: "client-test", PrincipalName: app.AppID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetRequest (-want +got):\n%s", diff)
	}

	second, err := c.SubmitRequest(ctx, f.addFor(bob.ID))
	ok(t, err, "SubmitRequest")
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"", []string{submitted.ID, second.ID}},
		{"target/objectId eq '" + bob.ID + "'", []string{second.ID}},
		{"state eq 'denied'", nil},
	} {
		list, err := c.ListRequests(ctx, tc.filter)
		ok(t, err, "ListRequests "+tc.filter)
		var ids []string
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		if diff := cmp.Diff(tc.want, ids); diff != "" {
			t.Errorf("ListRequests(%q) (-want +got):\n%s", tc.filter, diff)
		}
		if len(list) > 0 && list[0].ID == got.ID {
			if diff := cmp.Diff(got, list[0]); diff != "" {
				t.Errorf("ListRequests reads a request unlike GetRequest (-get +list):\n%s", diff)
			}
		}
	}
	_, err = c.ListRequests(ctx, "displayName eq 'x'")
	wantError(t, err, 400, "invalidRequest", access.KindInvalid)

	history, err := c.RequestHistory(ctx, submitted.ID)
	ok(t, err, "RequestHistory")
	if len(history) < 2 || history[0].Action != "submitted" || history[len(history)-1].State != access.StateDelivered {
		t.Fatalf("history %v: want submitted first and delivered last", actions(history))
	}
	for _, h := range history {
		if h.ID == "" || h.RequestID != submitted.ID || h.At.IsZero() {
			t.Errorf("history entry %+v lacks an id, the request or a time", h)
		}
	}
	if h := history[0]; h.ActorID != app.ID || h.ActorName != "client-test" {
		t.Errorf("submitted by %q (%q), want the token's application", h.ActorID, h.ActorName)
	}

	asg, err := c.GetAssignment(ctx, got.AssignmentID)
	ok(t, err, "GetAssignment")
	if asg.Schedule.StartDateTime == nil {
		t.Fatalf("GetAssignment = %+v, without a start", asg)
	}
	end := asg.Schedule.StartDateTime.AddDate(0, 0, 30)
	wantAsg := access.Assignment{ID: got.AssignmentID, AccessPackageID: f.pkg, PolicyID: f.policy, CatalogID: f.catalog,
		Target: want.Target, State: access.AssignmentDelivered, Status: "Delivered",
		Schedule: access.Schedule{StartDateTime: asg.Schedule.StartDateTime,
			Expiration: access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D"), EndDateTime: &end}}}
	if diff := cmp.Diff(wantAsg, asg); diff != "" {
		t.Errorf("GetAssignment (-want +got):\n%s", diff)
	}
	recent(t, "the assignment's start", *asg.Schedule.StartDateTime)
	mine, err := c.ListAssignments(ctx, "target/objectId eq '"+alice.ID+"'")
	ok(t, err, "ListAssignments")
	if diff := cmp.Diff([]access.Assignment{asg}, mine); diff != "" {
		t.Errorf("ListAssignments (-want +got):\n%s", diff)
	}

	removed, err := c.SubmitRequest(ctx, access.RequestInput{Type: access.RequestAdminRemove, AssignmentID: asg.ID})
	ok(t, err, "SubmitRequest adminRemove")
	if removed.Type != access.RequestAdminRemove || removed.AssignmentID != asg.ID || removed.State != access.StateSubmitted {
		t.Errorf("the remove request = %+v", removed)
	}
	if removed, err = c.GetRequest(ctx, removed.ID); err != nil || removed.State != access.StateDelivered {
		t.Errorf("the remove request reads %+v, %v; want it delivered at once", removed, err)
	}
	delivered, err := c.ListAssignments(ctx, "state eq 'delivered'")
	ok(t, err, "ListAssignments")
	if len(delivered) != 1 || delivered[0].Target.ID != bob.ID {
		t.Errorf("delivered assignments after removing alice's: %+v, want only bob's", delivered)
	}

	_, err = c.SubmitRequest(ctx, access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: f.pkg, PolicyID: f.policy})
	e := wantError(t, err, 400, "invalidRequest", access.KindInvalid)
	if e.Message == "" {
		t.Error("a 400 without a message")
	}
	_, err = c.GetRequest(ctx, "no-such-request")
	wantError(t, err, 404, "itemNotFound", access.KindNotFound)
}

// waitingWorld is a world whose fixture binds a launch-and-wait extension
// at assignmentRequestCreated, served by x.
type waitingWorld struct {
	*world
	c   *client.Client
	rec *recorder
	x   *extension
	ext access.CustomExtension
	f   fixture
}

func newWaitingWorld(t *testing.T) *waitingWorld {
	t.Helper()
	w := &waitingWorld{world: newWorld(t), rec: &recorder{}, x: newExtension(t)}
	w.c = w.client(t, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: w.rec} })
	w.f = newFixture(t, w.c, func(catalogID string) (access.Stage, string) {
		var err error
		w.ext, err = w.c.CreateCustomExtension(context.Background(), catalogID, waitingExtension(w.x))
		ok(t, err, "CreateCustomExtension")
		return access.StageRequestCreated, w.ext.ID
	})
	return w
}

// waiting submits a request for a new user and waits for its callout.
func (w *waitingWorld) waiting(t *testing.T, upn string) (access.Request, access.CalloutPayload) {
	t.Helper()
	r, err := w.c.SubmitRequest(context.Background(), w.f.addFor(newUser(t, w.c, upn).ID))
	ok(t, err, "SubmitRequest")
	r, err = w.c.GetRequest(context.Background(), r.ID)
	ok(t, err, "GetRequest")
	if r.State != access.StateSubmitted || r.Status != access.StatusWaitingForCallback {
		t.Fatalf("the request is %s/%s, want submitted/WaitingForCallback", r.State, r.Status)
	}
	p := w.x.next(t)
	if p.AccessPackageAssignmentRequestID != r.ID || p.Stage != access.StageRequestCreated || p.CallbackURIPath == nil {
		t.Fatalf("callout %+v is not the created-stage callout of %s", p, r.ID)
	}
	return r, p
}

// sentJSON is the body of the latest call, decoded.
func (w *waitingWorld) sentJSON(t *testing.T) map[string]any {
	t.Helper()
	_, body := w.rec.last(t)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("the body sent is not a JSON object: %v\n%s", err, body)
	}
	return m
}

func TestResumeDeniesARequest(t *testing.T) {
	w := newWaitingWorld(t)
	ctx := context.Background()
	r, p := w.waiting(t, "carol@contractor.test")

	cb := access.Callback{Source: "client-test-extension", Type: "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
		HasData: true, DataType: access.CallbackDataRequest, Stage: string(p.Stage), InstanceID: p.CustomExtensionStageInstanceID,
		Detail: "contractors may not have it", State: "denied"}
	ok(t, w.c.Resume(ctx, r.ID, cb), "Resume")
	wantBody := map[string]any{"source": "client-test-extension", "type": cb.Type, "data": map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCallbackData", "stage": "assignmentRequestCreated",
		"customExtensionStageInstanceId": p.CustomExtensionStageInstanceID, "customExtensionStageInstanceDetail": "contractors may not have it",
		"state": "denied"}}
	if diff := cmp.Diff(wantBody, w.sentJSON(t)); diff != "" {
		t.Errorf("resume body (-want +sent):\n%s", diff)
	}

	got, err := w.c.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDenied || got.Status != access.StatusDenied || got.CompletedDateTime == nil || got.AssignmentID != "" {
		t.Errorf("after a denying callback: %s/%s, completed %v, assignment %q", got.State, got.Status, got.CompletedDateTime, got.AssignmentID)
	}
	wantCallouts := []access.CalloutInstance{{ID: p.CustomExtensionStageInstanceID, CustomExtensionID: w.ext.ID,
		Status: access.CallbackReceived, Detail: "contractors may not have it"}}
	if diff := cmp.Diff(wantCallouts, got.Callouts); diff != "" {
		t.Errorf("callout instances (-want +got):\n%s", diff)
	}

	history, err := w.c.RequestHistory(ctx, r.ID)
	ok(t, err, "RequestHistory")
	var callback *access.HistoryEntry
	for i := range history {
		if history[i].Action == "callbackReceived" {
			callback = &history[i]
		}
	}
	if callback == nil {
		t.Fatalf("no callbackReceived in the history %v", actions(history))
	}
	if callback.Source != cb.Source || callback.Type != cb.Type || callback.Detail != cb.Detail || callback.Outcome != "denied" ||
		callback.Stage != access.StageRequestCreated {
		t.Errorf("the callback's history entry %+v", *callback)
	}

	err = w.c.Resume(ctx, r.ID, access.Callback{HasData: true, InstanceID: p.CustomExtensionStageInstanceID})
	e := wantError(t, err, 409, "conflict", access.KindConflict)
	if e.Message == "" {
		t.Error("a 409 without a message")
	}
}

func TestResumeAtTheCallbackPath(t *testing.T) {
	w := newWaitingWorld(t)
	ctx := context.Background()
	r, p := w.waiting(t, "dan@contoso.test")

	// No data: accessd continues the callout the request waits for.
	ok(t, w.c.ResumeAt(ctx, *p.CallbackURIPath, access.Callback{Source: "client-test-extension"}), "ResumeAt")
	if diff := cmp.Diff(map[string]any{"source": "client-test-extension"}, w.sentJSON(t)); diff != "" {
		t.Errorf("resume body without data (-want +sent):\n%s", diff)
	}
	got, err := w.c.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDelivered || got.AssignmentID == "" || got.Target.PrincipalName != "dan@contoso.test" {
		t.Errorf("after a continuing callback: %+v", got)
	}

	r2, p2 := w.waiting(t, "eve@contoso.test")
	// Data with nothing in it is still data: it is sent as {}.
	ok(t, w.c.Resume(ctx, r2.ID, access.Callback{HasData: true}), "Resume with empty data")
	if diff := cmp.Diff(map[string]any{"data": map[string]any{}}, w.sentJSON(t)); diff != "" {
		t.Errorf("resume body with empty data (-want +sent):\n%s", diff)
	}
	if got, _ := w.c.GetRequest(ctx, r2.ID); got.State != access.StateDelivered || got.Callouts[0].ID != p2.CustomExtensionStageInstanceID {
		t.Errorf("after an empty callback: %+v", got)
	}

	if err := w.c.ResumeAt(ctx, "identityGovernance/x", access.Callback{}); err == nil {
		t.Error("ResumeAt took a path without a leading /")
	}
}

func TestCancelAndReprocess(t *testing.T) {
	w := newWaitingWorld(t)
	ctx := context.Background()

	canceled, _ := w.waiting(t, "fay@contoso.test")
	err := w.c.CancelRequest(ctx, canceled.ID)
	wantError(t, err, 403, "accessDenied", access.KindForbidden) // only a signed-in user cancels
	admin := newUser(t, w.c, "admin@contoso.test")
	w.makeGovernanceAdmin(t, admin.ID)
	asAdmin := w.client(t, func(cfg *client.Config) { cfg.Token = w.userToken(t, admin, "EntitlementManagement.ReadWrite.All") })
	ok(t, asAdmin.CancelRequest(ctx, canceled.ID), "CancelRequest")
	got, err := w.c.GetRequest(ctx, canceled.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateCanceled || got.Status != access.StatusCanceled {
		t.Errorf("after cancel: %s/%s", got.State, got.Status)
	}

	r, first := w.waiting(t, "gus@slow.test")
	err = w.c.Reprocess(ctx, r.ID)
	wantError(t, err, 409, "conflict", access.KindConflict)

	// Nobody answers; past the PT1H callback timeout the request fails.
	before := time.Now()
	clock, err := w.c.AdvanceClock(ctx, access.MustDuration("PT2H"))
	ok(t, err, "AdvanceClock")
	if clock.Pending != 0 || clock.Now.Before(before.Add(2*time.Hour)) {
		t.Errorf("AdvanceClock = %+v, want now two hours ahead and nothing pending", clock)
	}
	got, err = w.c.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDeliveryFailed || got.Status != access.StatusCallbackTimedOut ||
		len(got.Callouts) != 1 || got.Callouts[0].Status != access.CallbackTimedOut {
		t.Fatalf("after the timeout: %s/%s, callouts %+v", got.State, got.Status, got.Callouts)
	}

	ok(t, w.c.Reprocess(ctx, r.ID), "Reprocess")
	again := w.x.next(t)
	if again.AccessPackageAssignmentRequestID != r.ID || again.CustomExtensionStageInstanceID == first.CustomExtensionStageInstanceID {
		t.Fatalf("after reprocess the extension got %+v, want a new instance for %s", again, r.ID)
	}
	ok(t, w.c.Resume(ctx, r.ID, access.Callback{HasData: true, DataType: access.CallbackDataRequest,
		InstanceID: again.CustomExtensionStageInstanceID, Detail: "checked by hand"}), "Resume")
	got, err = w.c.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	var statuses []access.CalloutStatus
	for _, c := range got.Callouts {
		statuses = append(statuses, c.Status)
	}
	if got.State != access.StateDelivered ||
		!cmp.Equal([]access.CalloutStatus{access.CallbackTimedOut, access.CallbackReceived}, statuses) {
		t.Errorf("after reprocess and resume: %s, callouts %v", got.State, statuses)
	}
}

func TestRequestWithAnswersAndSchedule(t *testing.T) {
	w := newWorld(t)
	c := w.client(t, nil)
	ctx := context.Background()
	f := newFixture(t, c, nil)
	policy, err := c.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName":        "Asks why, starts later",
		"accessPackage":      map[string]any{"id": f.pkg},
		"allowedTargetScope": "allMemberUsers",
		"requestorSettings":  map[string]any{"allowCustomAssignmentSchedule": true},
		"questions": []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
			"text": "Which tool?", "isRequired": true, "sequence": 1}},
	})
	ok(t, err, "CreateAssignmentPolicy")
	// The client does not read questions (see GetAssignmentPolicy); Do does.
	var withQuestions struct {
		Questions []struct {
			ID string `json:"id"`
		} `json:"questions"`
	}
	ok(t, c.Do(ctx, http.MethodGet, "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies/"+policy.ID+"?$expand=questions",
		nil, &withQuestions), "GET the policy's questions")
	if len(withQuestions.Questions) != 1 {
		t.Fatalf("questions %+v", withQuestions.Questions)
	}

	start := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	in := access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: f.pkg, PolicyID: policy.ID,
		TargetID: newUser(t, c, "ida@contoso.test").ID,
		Answers:  []access.Answer{{QuestionID: withQuestions.Questions[0].ID, Value: "crm", DisplayValue: "The CRM"}},
		Schedule: &access.Schedule{StartDateTime: &start,
			Expiration: access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P7D")}}}
	submitted, err := c.SubmitRequest(ctx, in)
	ok(t, err, "SubmitRequest")
	got, err := c.GetRequest(ctx, submitted.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateScheduled {
		t.Errorf("a request starting in an hour is %s, want scheduled", got.State)
	}
	for _, r := range []access.Request{submitted, got} {
		if diff := cmp.Diff(in.Answers, r.Answers); diff != "" {
			t.Errorf("answers (-sent +read):\n%s", diff)
		}
		if diff := cmp.Diff(*in.Schedule, r.Schedule); diff != "" {
			t.Errorf("schedule (-sent +read):\n%s", diff)
		}
	}

	_, err = c.AdvanceClock(ctx, access.MustDuration("PT2H"))
	ok(t, err, "AdvanceClock")
	got, err = c.GetRequest(ctx, submitted.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDelivered || got.AssignmentID == "" {
		t.Errorf("two hours later the request is %s (assignment %q), want delivered", got.State, got.AssignmentID)
	}
}
