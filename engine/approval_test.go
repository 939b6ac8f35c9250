package engine

import (
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Approval's timers run as engine work under the virtual clock: escalation
// adds approvers after durationBeforeEscalation, and a stage nobody decides
// denies the request (status Expired) at durationBeforeAutomaticDenial,
// stamped at that deadline. Both falling due in one jump run in due order.

func approvalPolicy(h *harness, approver, escalation access.User) access.AssignmentPolicy {
	return h.policy(nil, func(p *access.AssignmentPolicy) {
		p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{{
			DurationBeforeAutomaticDenial: access.MustDuration("P3D"),
			IsEscalationEnabled:           true,
			DurationBeforeEscalation:      access.MustDuration("P1D"),
			PrimaryApprovers:              []access.SubjectSet{{Type: "singleUser", UserID: approver.ID}},
			EscalationApprovers:           []access.SubjectSet{{Type: "singleUser", UserID: escalation.ID}},
		}}}
	})
}

func historyActions(t *testing.T, h *harness, id string) []access.HistoryEntry {
	t.Helper()
	hs, _, err := h.svc.History(h.ctx, admin, id, access.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func TestApprovalEscalatesThenExpiresStep(t *testing.T) {
	h := newHarness(t)
	approver, escalation := h.user(), h.user()
	p := approvalPolicy(h, approver, escalation)
	h.run()
	r := h.submit(p, nil)
	start := r.CreatedDateTime
	if r.State != access.StatePendingApproval || len(r.Approval) != 1 {
		t.Fatalf("submitted request %s with %d stages", r.State, len(r.Approval))
	}

	h.advance("PT23H")
	time.Sleep(settle)
	if got, _ := h.svc.Request(h.ctx, admin, r.ID); len(got.Approval[0].Approvers) != 1 || got.Approval[0].Escalated {
		t.Fatalf("an hour before escalation the stage has %+v", got.Approval[0])
	}
	h.advance("PT2H")
	got := h.waitRequest(r.ID, "escalated", func(r access.Request) bool { return r.Approval[0].Escalated })
	if ids := []string{got.Approval[0].Approvers[0].ID, got.Approval[0].Approvers[len(got.Approval[0].Approvers)-1].ID}; ids[0] != approver.ID || ids[1] != escalation.ID {
		t.Errorf("approvers after escalation %+v, want the primary then the escalation approver", got.Approval[0].Approvers)
	}
	if got.State != access.StatePendingApproval {
		t.Errorf("escalation moved the request to %s", got.State)
	}

	h.advance("P2D")
	got = h.waitRequest(r.ID, "denied", func(r access.Request) bool { return r.State.IsFinal() })
	deadline := start.Add(72 * time.Hour)
	if got.State != access.StateDenied || got.Status != access.StatusExpired || got.CompletedDateTime == nil || !got.CompletedDateTime.Equal(deadline) {
		t.Errorf("request %s/%s completed %v, want denied/Expired at %s", got.State, got.Status, got.CompletedDateTime, deadline)
	}
	if got.Approval[0].Status != access.ApprovalExpired {
		t.Errorf("stage %s, want Expired", got.Approval[0].Status)
	}
	for _, e := range historyActions(t, h, r.ID) {
		switch e.Action {
		case "approvalStageEscalated":
			if !e.At.Equal(start.Add(24 * time.Hour)) {
				t.Errorf("escalated at %s, want %s", e.At, start.Add(24*time.Hour))
			}
		case "approvalStageExpired":
			if !e.At.Equal(deadline) {
				t.Errorf("expired at %s, want %s", e.At, deadline)
			}
		}
	}
}

func TestApprovalTimersOfOneJumpRunInDueOrder(t *testing.T) {
	h := newHarness(t)
	approver, escalation := h.user(), h.user()
	p := approvalPolicy(h, approver, escalation)
	h.run()
	var ids []string
	for range 3 {
		ids = append(ids, h.submit(p, nil).ID)
	}
	h.advance("P10D") // past the escalation (day 1) and the deadline (day 3) at once
	for _, id := range ids {
		got := h.waitRequest(id, "denied", func(r access.Request) bool { return r.State.IsFinal() })
		if got.Status != access.StatusExpired || !got.Approval[0].Escalated {
			t.Errorf("request %s: %s, escalated %t; want Expired after escalating", id, got.Status, got.Approval[0].Escalated)
		}
		var order []string
		for _, e := range historyActions(t, h, id) {
			if e.Action == "approvalStageEscalated" || e.Action == "approvalStageExpired" {
				order = append(order, e.Action)
			}
		}
		if len(order) != 2 || order[0] != "approvalStageEscalated" {
			t.Errorf("request %s: timers ran as %v, want escalation then expiry", id, order)
		}
	}
}

// A decision ends the stage's timers: nothing happens when they would have fallen due.
func TestApprovalDecisionDropsTheStagesTimers(t *testing.T) {
	h := newHarness(t)
	approver, escalation := h.user(), h.user()
	p := approvalPolicy(h, approver, escalation)
	h.run()
	r := h.submit(p, nil)
	by := access.Caller{ObjectID: approver.ID, UPN: approver.UserPrincipalName, Scopes: access.WriteEntitlements}
	if err := h.svc.DecideApproval(h.ctx, by, access.ApprovalDecision{RequestID: r.ID, StageID: r.Approval[0].ID,
		Decision: access.Decision{Approve: true}}); err != nil {
		t.Fatal(err)
	}
	h.advance("P10D")
	time.Sleep(settle)
	got, err := h.svc.Request(h.ctx, admin, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != access.StateDelivered || got.Approval[0].Escalated || got.Approval[0].Status != access.ApprovalCompleted {
		t.Errorf("after the decision and ten days: %s, stage %+v", got.State, got.Approval[0])
	}
	if n, err := h.svc.CountWorkDue(h.ctx); err != nil || n != 0 {
		t.Errorf("work still due: %d, %v", n, err)
	}
}

// A dynamic approval stage: the engine calls the extension at
// assignmentRequestDeterminingApprovalRequirements with a payload that says
// how long accessd waits, and the approvers the extension's resume names
// then decide the stage.
func TestApprovalDeterminedByAnExtensionEndToEnd(t *testing.T) {
	h := newHarness(t)
	approver := h.user()
	x := h.extension("/approvers", waiting("PT10M"))
	p := h.policy(nil, func(p *access.AssignmentPolicy) {
		p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{
			{Type: access.DynamicApprovalStage, CustomExtensionID: x.ID}}}
	})
	h.run()
	r := h.submit(p, nil)
	call := h.waitCalls("/approvers", 1)[0]
	wantMembers(t, "payload", call.Payload, map[string]any{"Stage": "assignmentRequestDeterminingApprovalRequirements",
		"AccessPackageAssignmentRequestId": r.ID, "State": "pendingApproval", "Status": "PendingApproval"})
	wantMembers(t, "CallbackConfiguration", obj(t, call.Payload, "CallbackConfiguration"), map[string]any{"DurationBeforeTimeout": "PT10M"})
	inst, _ := call.Payload["CustomExtensionStageInstanceId"].(string)
	h.waitRequest(r.ID, "waiting for the approvers", instanceIs(access.WaitingForCallback))

	determined := access.ApprovalStage{DurationBeforeAutomaticDenial: access.MustDuration("P2D"),
		PrimaryApprovers: []access.SubjectSet{{Type: "singleUser", UserID: approver.ID}}}
	err := h.svc.Resume(h.ctx, admin, access.ResumeCall{RequestID: r.ID, Callback: access.Callback{HasData: true,
		DataType: access.CallbackDataApprovalStage, InstanceID: inst, ApprovalStage: &determined}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.svc.Request(h.ctx, admin, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != access.StatePendingApproval || got.Status != access.StatusPendingApproval || got.Approval[0].Status != access.ApprovalInProgress ||
		len(got.Approval[0].Approvers) != 1 || got.Approval[0].Approvers[0].ID != approver.ID {
		t.Fatalf("after the extension's callback: %s/%s, stage %+v", got.State, got.Status, got.Approval[0])
	}
	by := access.Caller{ObjectID: approver.ID, UPN: approver.UserPrincipalName, Scopes: access.WriteEntitlements}
	if err := h.svc.DecideApproval(h.ctx, by, access.ApprovalDecision{RequestID: r.ID, StageID: got.Approval[0].ID,
		Decision: access.Decision{Approve: true}}); err != nil {
		t.Fatal(err)
	}
	h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
}
