package client_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/google/go-cmp/cmp"
)

// approvalPolicy is a policy of pkg whose one stage is the given stage body.
func approvalPolicy(pkg string, stage map[string]any) map[string]any {
	return map[string]any{
		"displayName":        "Approved",
		"accessPackage":      map[string]any{"id": pkg},
		"allowedTargetScope": "allMemberUsers",
		"requestApprovalSettings": map[string]any{"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false,
			"stages": []any{stage}},
	}
}

// asUser is a client calling with a delegated token of u.
func (w *world) asUser(t *testing.T, u access.User, scopes ...string) *client.Client {
	t.Helper()
	tok := w.userToken(t, u, scopes...)
	return w.client(t, func(cfg *client.Config) { cfg.Token = tok })
}

func TestApprovals(t *testing.T) {
	w := newWorld(t)
	admin := w.client(t, nil)
	ctx := context.Background()
	f := newFixture(t, admin, nil)
	alice := newUser(t, admin, "alice@contoso.test")
	carol := newUser(t, admin, "carol@contoso.test")
	bob := newUser(t, admin, "bob@contoso.test")
	pol, err := admin.CreateAssignmentPolicy(ctx, approvalPolicy(f.pkg, map[string]any{"durationBeforeAutomaticDenial": "P2D",
		"primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol.ID}}}))
	ok(t, err, "CreateAssignmentPolicy")
	r, err := admin.SubmitRequest(ctx, access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: f.pkg, PolicyID: pol.ID, TargetID: alice.ID})
	ok(t, err, "SubmitRequest")
	r, err = admin.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if r.State != access.StatePendingApproval {
		t.Fatalf("request needing approval is %s", r.State)
	}
	approver := w.asUser(t, carol, "EntitlementManagement.ReadWrite.All")
	stranger := w.asUser(t, bob, "EntitlementManagement.ReadWrite.All")

	toDecide, err := approver.ListApprovalsToDecide(ctx)
	ok(t, err, "ListApprovalsToDecide")
	if len(toDecide) != 1 || len(toDecide[0].Stages) != 1 {
		t.Fatalf("ListApprovalsToDecide = %+v, want one approval with one stage", toDecide)
	}
	stageID := toDecide[0].Stages[0].ID
	want := client.Approval{ID: r.ID, Stages: []client.ApprovalStage{{DisplayName: "Stage 1", AssignedToMe: true,
		ApprovalStep: access.ApprovalStep{ID: stageID, Status: access.ApprovalInProgress, ReviewResult: access.ReviewNotReviewed}}}}
	if diff := cmp.Diff([]client.Approval{want}, toDecide); diff != "" {
		t.Errorf("ListApprovalsToDecide (-want +got):\n%s", diff)
	}

	_, err = stranger.GetApproval(ctx, r.ID)
	wantError(t, err, http.StatusNotFound, "itemNotFound", access.KindNotFound)
	err = stranger.DecideApprovalStage(ctx, r.ID, stageID, access.Decision{Approve: true})
	wantError(t, err, http.StatusForbidden, "accessDenied", access.KindForbidden)

	ok(t, approver.DecideApprovalStage(ctx, r.ID, stageID, access.Decision{Approve: true, Justification: "Fine by me"}), "DecideApprovalStage")
	got, err := admin.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDelivered || got.AssignmentID == "" {
		t.Errorf("request after approval is %s, assignment %q; want delivered with one", got.State, got.AssignmentID)
	}
	approval, err := approver.GetApproval(ctx, r.ID)
	ok(t, err, "GetApproval")
	if len(approval.Stages) != 1 || approval.Stages[0].ReviewedDateTime == nil {
		t.Fatalf("GetApproval after the decision = %+v, want one stage with its reviewedDateTime", approval)
	}
	recent(t, "reviewedDateTime", *approval.Stages[0].ReviewedDateTime)
	want.Stages[0].ReviewedDateTime = approval.Stages[0].ReviewedDateTime
	want.Stages[0].AssignedToMe, want.Stages[0].Status, want.Stages[0].ReviewResult = false, access.ApprovalCompleted, access.ReviewApproved
	want.Stages[0].ReviewedBy = access.Subject{ID: carol.ID, DisplayName: carol.DisplayName}
	want.Stages[0].Justification = "Fine by me"
	if diff := cmp.Diff(want, approval); diff != "" {
		t.Errorf("GetApproval after the decision (-want +got):\n%s", diff)
	}
	toDecide, err = approver.ListApprovalsToDecide(ctx)
	ok(t, err, "ListApprovalsToDecide")
	if len(toDecide) != 0 {
		t.Errorf("ListApprovalsToDecide once decided = %+v, want none", toDecide)
	}
	err = approver.DecideApprovalStage(ctx, r.ID, stageID, access.Decision{})
	wantError(t, err, http.StatusConflict, "conflict", access.KindConflict)
}

// TestDynamicApprovalThroughResume runs a dynamic approval stage end to
// end with the engine: the extension gets the callout, answers with the
// stage's approver through Resume, and that approver decides.
func TestDynamicApprovalThroughResume(t *testing.T) {
	w := newWorld(t)
	rec := &recorder{}
	admin := w.client(t, func(cfg *client.Config) { cfg.HTTPClient = &http.Client{Transport: rec} })
	ctx := context.Background()
	x := newExtension(t)
	f := newFixture(t, admin, nil)
	ext, err := admin.CreateCustomExtension(ctx, f.catalog, waitingExtension(x))
	ok(t, err, "CreateCustomExtension")
	alice := newUser(t, admin, "alice@contoso.test")
	carol := newUser(t, admin, "carol@contoso.test")
	pol, err := admin.CreateAssignmentPolicy(ctx, approvalPolicy(f.pkg, map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageDynamicApprovalStage", "customExtension": map[string]any{"id": ext.ID}}))
	ok(t, err, "CreateAssignmentPolicy")
	r, err := admin.SubmitRequest(ctx, access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: f.pkg, PolicyID: pol.ID, TargetID: alice.ID})
	ok(t, err, "SubmitRequest")
	r, err = admin.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if r.State != access.StatePendingApproval || r.Status != access.StatusWaitingForCallback {
		t.Fatalf("request at a dynamic stage is %s/%s, want pendingApproval/WaitingForCallback", r.State, r.Status)
	}
	p := x.next(t)
	if p.AccessPackageAssignmentRequestID != r.ID || p.Stage != access.StageDeterminingApproval {
		t.Fatalf("callout %+v is not the determining stage's callout of %s", p, r.ID)
	}

	determined := access.ApprovalStage{DurationBeforeAutomaticDenial: access.MustDuration("P3D"), IsApproverJustificationRequired: true,
		PrimaryApprovers: []access.SubjectSet{{Type: "singleUser", UserID: carol.ID}}}
	ok(t, admin.Resume(ctx, r.ID, access.Callback{HasData: true, DataType: access.CallbackDataApprovalStage, Stage: string(p.Stage),
		InstanceID: p.CustomExtensionStageInstanceID, ApprovalStage: &determined}), "Resume")
	_, sent := rec.last(t)
	wantSent := `{"data":{"@odata.type":"#microsoft.graph.assignmentRequestApprovalStageCallbackData",` +
		`"stage":"assignmentRequestDeterminingApprovalRequirements","customExtensionStageInstanceId":"` + p.CustomExtensionStageInstanceID + `",` +
		`"approvalStage":{"durationBeforeAutomaticDenial":"P3D","isApproverJustificationRequired":true,"isEscalationEnabled":false,` +
		`"primaryApprovers":[{"@odata.type":"#microsoft.graph.singleUser","userId":"` + carol.ID + `"}]}}}`
	if string(sent) != wantSent {
		t.Errorf("resume body\n sent %s\n want %s", sent, wantSent)
	}

	approver := w.asUser(t, carol, "EntitlementManagement.ReadWrite.All")
	toDecide, err := approver.ListApprovalsToDecide(ctx)
	ok(t, err, "ListApprovalsToDecide")
	if len(toDecide) != 1 || toDecide[0].ID != r.ID || !toDecide[0].Stages[0].AssignedToMe {
		t.Fatalf("carol's approvals after the callback: %+v", toDecide)
	}
	stageID := toDecide[0].Stages[0].ID
	err = approver.DecideApprovalStage(ctx, r.ID, stageID, access.Decision{Approve: true})
	wantError(t, err, http.StatusBadRequest, "invalidRequest", access.KindInvalid) // the extension asked for a justification
	ok(t, approver.DecideApprovalStage(ctx, r.ID, stageID, access.Decision{Approve: true, Justification: "as determined"}), "DecideApprovalStage")
	got, err := admin.GetRequest(ctx, r.ID)
	ok(t, err, "GetRequest")
	if got.State != access.StateDelivered {
		t.Errorf("request after the determined stage was approved is %s", got.State)
	}
}
