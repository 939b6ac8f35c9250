package engine

import (
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// An assignment's life with resource roles and callouts at its end, under
// the virtual clock: the engine grants the roles, calls out 14 days and
// 1 day before the end, and at the end takes the roles away through a
// systemRemove request, which calls out at its removed stage.

// grantMembership adds a new group to the harness's catalog as a resource
// and lets the policy's package grant its Member role; it returns the group.
func (h *harness) grantMembership(p access.AssignmentPolicy) access.Group {
	h.t.Helper()
	g, err := h.svc.CreateGroup(h.ctx, access.Group{DisplayName: "Sales team", MailNickname: "sales", SecurityEnabled: true}, nil, nil)
	if err != nil {
		h.t.Fatalf("create group: %v", err)
	}
	if _, err := h.svc.SubmitResourceRequest(h.ctx, admin, access.ResourceRequestInput{Type: access.ResourceRequestAdd,
		CatalogID: h.catalog.ID, OriginID: g.ID, OriginSystem: access.OriginGroup}); err != nil {
		h.t.Fatalf("add the group to the catalog: %v", err)
	}
	if _, err := h.svc.AddRoleScope(h.ctx, admin, p.AccessPackageID, access.RoleScopeInput{RoleOriginID: "Member_" + g.ID,
		ResourceOriginID: g.ID, OriginSystem: access.OriginGroup}); err != nil {
		h.t.Fatalf("add the Member role to the package: %v", err)
	}
	return g
}

// isMember reports whether the object is a direct member of the group.
func (h *harness) isMember(groupID, objectID string) bool {
	h.t.Helper()
	var in bool
	if err := h.store.View(h.ctx, func(tx access.Tx) error {
		var err error
		in, err = tx.InGroup(groupID, access.GroupMembers, objectID)
		return err
	}); err != nil {
		h.t.Fatalf("InGroup: %v", err)
	}
	return in
}

// wantCallsSoFar fails the test unless path has had exactly n calls, after
// the engine has had time to send any others.
func (h *harness) wantCallsSoFar(path string, n int, when string) {
	h.t.Helper()
	time.Sleep(settle)
	if got := len(h.ext.callsTo(path)); got != n {
		h.t.Errorf("%s: %d call(s) to %s, want %d", when, got, path, n)
	}
}

// preExpirationPolicy binds an assignment-workflow extension at both
// pre-expiration stages and a launch-and-continue request extension at the
// removed stage, to a package whose assignments last 30 days.
func (h *harness) preExpirationPolicy() access.AssignmentPolicy {
	h.t.Helper()
	pre := h.extension("/pre", func(x *access.CustomExtension) { x.Type = access.AssignmentWorkflowExtension })
	removed := h.extension("/removed", nil)
	return h.policy(map[access.Stage]string{
		access.StageFourteenDaysBeforeExpiry: pre.ID,
		access.StageOneDayBeforeExpiry:       pre.ID,
		access.StageRequestRemoved:           removed.ID,
	}, func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D")}
	})
}

func TestExpiryCallsOutAndTakesAccessAway(t *testing.T) {
	h := newHarness(t)
	p := h.preExpirationPolicy()
	g := h.grantMembership(p)
	h.run()
	r := h.submit(p, nil)
	// The running engine may grant the role before the request is read back.
	if r.State != access.StateDelivering && r.State != access.StateDelivered {
		t.Fatalf("request %s, want delivering while its role is granted (or delivered)", r.State)
	}
	r = h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
	if !h.isMember(g.ID, r.Target.ID) {
		t.Fatal("the target is not a member of the group after delivery")
	}

	h.advance("P15D") // a day before the 14-day stage
	h.wantCallsSoFar("/pre", 0, "a day before the 14-day stage")

	h.advance("P1DT1H")
	c := h.waitCalls("/pre", 1)[0]
	wantMembers(t, "14-day payload", c.Payload, map[string]any{
		"Stage":                            string(access.StageFourteenDaysBeforeExpiry),
		"AccessPackageAssignmentRequestId": r.ID, // the request that delivered the assignment
	})
	wantMembers(t, "14-day payload's assignment", obj(t, c.Payload, "Assignment"), map[string]any{
		"Id": r.AssignmentID, "State": "delivered", "Status": "NearExpiry14DaysNotificationTriggered"})
	h.wantCallsSoFar("/pre", 1, "after the 14-day stage")

	h.advance("P12D") // a day before the 1-day stage
	h.wantCallsSoFar("/pre", 1, "a day before the 1-day stage")
	h.advance("P1D")
	c = h.waitCalls("/pre", 2)[1]
	wantMembers(t, "1-day payload", c.Payload, map[string]any{
		"Stage":                            string(access.StageOneDayBeforeExpiry),
		"AccessPackageAssignmentRequestId": r.ID,
	})
	a := h.waitAssignment(r.AssignmentID, "near its end", func(a access.Assignment) bool {
		return a.Status == "NearExpiry1DayNotificationTriggered"
	})
	if len(a.Callouts) != 2 || a.Callouts[0].Stage != access.StageFourteenDaysBeforeExpiry || a.Callouts[1].Stage != access.StageOneDayBeforeExpiry {
		t.Errorf("the assignment's callouts %+v, want the 14-day and the 1-day instance", a.Callouts)
	}
	h.wantCallsSoFar("/removed", 0, "a day before the end")
	if !h.isMember(g.ID, r.Target.ID) {
		t.Error("the target left the group before the end")
	}

	h.advance("P1D")
	c = h.waitCalls("/removed", 1)[0]
	removal, ok := c.Payload["AccessPackageAssignmentRequestId"].(string)
	if !ok || removal == r.ID {
		t.Fatalf("the removed-stage callout names request %v, want the systemRemove request", c.Payload["AccessPackageAssignmentRequestId"])
	}
	wantMembers(t, "removed-stage payload", c.Payload, map[string]any{
		"Stage": string(access.StageRequestRemoved), "RequestType": string(access.RequestSystemRemove)})
	h.waitRequest(removal, "delivered", func(x access.Request) bool { return x.State == access.StateDelivered })
	a = h.waitAssignment(r.AssignmentID, "expired", func(a access.Assignment) bool { return a.State == access.AssignmentExpired })
	if a.Status != access.StatusExpiredNotified || a.ExpiredDateTime == nil || !a.ExpiredDateTime.Equal(*a.End()) {
		t.Errorf("assignment %s expired at %v, want %s at the end %s", a.Status, a.ExpiredDateTime, access.StatusExpiredNotified, a.End())
	}
	if h.isMember(g.ID, r.Target.ID) {
		t.Error("the target is still a member of the group after the expiry")
	}
	h.wantCallsSoFar("/pre", 2, "after the end")
	h.wantCallsSoFar("/removed", 1, "after the end")
}

// An update that extends the assignment moves both pre-expiration callouts:
// none at the old stages, both at the new ones, naming the update.
func TestUpdateMovesThePreExpirationCallouts(t *testing.T) {
	h := newHarness(t)
	p := h.preExpirationPolicy()
	h.run()
	r := h.submit(p, nil)
	if r.State != access.StateDelivered {
		t.Fatalf("request %s, want delivered", r.State)
	}
	a, err := h.svc.Assignment(h.ctx, admin, r.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	newEnd := a.End().AddDate(0, 0, 30)

	h.advance("P1D")
	update, err := h.svc.SubmitRequest(h.ctx, admin, access.RequestInput{Type: access.RequestAdminUpdate, AssignmentID: r.AssignmentID,
		Schedule: &access.Schedule{Expiration: access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: &newEnd}}})
	if err != nil {
		t.Fatalf("submit the update: %v", err)
	}
	h.waitRequest(update.ID, "delivered", func(x access.Request) bool { return x.State == access.StateDelivered })

	h.advance("P15DT1H") // day 16: the old 14-day stage
	h.wantCallsSoFar("/pre", 0, "the old 14-day stage")
	h.advance("P13D") // day 29: the old 1-day stage
	h.wantCallsSoFar("/pre", 0, "the old 1-day stage")
	h.advance("P1D") // day 30: the old end
	h.wantCallsSoFar("/pre", 0, "the old end")
	h.wantCallsSoFar("/removed", 0, "the old end")
	if a, err := h.svc.Assignment(h.ctx, admin, r.AssignmentID); err != nil || a.State != access.AssignmentDelivered || a.Status != access.StatusDelivered {
		t.Errorf("at the old end the assignment is %s/%s (%v), want delivered, untouched", a.State, a.Status, err)
	}

	for i, step := range []struct {
		advance string
		stage   access.Stage
		due     time.Time
	}{
		{"P16D", access.StageFourteenDaysBeforeExpiry, newEnd.AddDate(0, 0, -14)}, // day 46
		{"P13D", access.StageOneDayBeforeExpiry, newEnd.AddDate(0, 0, -1)},        // day 59
	} {
		h.advance(step.advance)
		c := h.waitCalls("/pre", i+1)[i]
		wantMembers(t, string(step.stage)+" payload", c.Payload, map[string]any{
			"Stage":                            string(step.stage),
			"AccessPackageAssignmentRequestId": update.ID, // the request that extended the assignment
		})
		if c.At.Before(step.due) {
			t.Errorf("the %s callout arrived at %s, before its stage %s", step.stage, c.At, step.due)
		}
		h.wantCallsSoFar("/pre", i+1, "after the new "+string(step.stage))
	}
}
