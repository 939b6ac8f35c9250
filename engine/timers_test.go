package engine

import (
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// What a timer does is stamped with the time it fell due, not the time the
// engine ran it: after the virtual clock jumps past a deadline, the request
// ends at its deadline, so tests that move the clock see exact times.
// (Regression: a one-hour callback timeout once showed completedDateTime an
// hour late after a two-hour jump, and expired assignments the jump's time.)

func TestCallbackTimeoutIsStampedWithItsDeadline(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/wait", waiting("PT5M"))
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	h.waitRequest(r.ID, "waiting for its callback", instanceIs(access.WaitingForCallback))

	h.advance("PT2H")
	got := h.waitRequest(r.ID, "timed out", func(r access.Request) bool { return r.State.IsFinal() })
	deadline := r.CreatedDateTime.Add(5 * time.Minute)
	if got.Status != access.StatusCallbackTimedOut || got.CompletedDateTime == nil || !got.CompletedDateTime.Equal(deadline) {
		t.Errorf("request %s/%s completed at %v, want CallbackTimedOut at the deadline %s", got.State, got.Status, got.CompletedDateTime, deadline)
	}
	history, _, err := h.svc.History(h.ctx, admin, r.ID, access.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range history {
		if e.Action == "stageFailed" || (e.Action == "transition" && e.State == access.StateDeliveryFailed) {
			failed++
			if !e.At.Equal(deadline) {
				t.Errorf("history %s at %s, want the deadline %s", e.Action, e.At, deadline)
			}
		}
	}
	if failed != 2 {
		t.Errorf("%d history entries of the timeout, want stageFailed and the transition", failed)
	}
}

func TestExpiryIsStampedWithTheEnd(t *testing.T) {
	h := newHarness(t)
	p := h.policy(nil, func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D")}
	})
	h.run()
	r := h.submit(p, nil)
	if r.State != access.StateDelivered {
		t.Fatalf("request %s, want delivered", r.State)
	}
	a, err := h.svc.Assignment(h.ctx, admin, r.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	end := *a.End()

	h.advance("P45D")
	a = h.waitAssignment(r.AssignmentID, "expired", func(a access.Assignment) bool { return a.State == access.AssignmentExpired })
	if a.ExpiredDateTime == nil || !a.ExpiredDateTime.Equal(end) {
		t.Errorf("expiredDateTime %v, want the end %s", a.ExpiredDateTime, end)
	}
	rs, _, err := h.svc.Requests(h.ctx, access.RequestFilter{AssignmentID: r.AssignmentID}, access.Page{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range rs {
		if x.Type != access.RequestSystemRemove {
			continue
		}
		found = true
		if !x.CreatedDateTime.Equal(end) || x.CompletedDateTime == nil || !x.CompletedDateTime.Equal(end) {
			t.Errorf("systemRemove created %s, completed %v; want both at the end %s", x.CreatedDateTime, x.CompletedDateTime, end)
		}
	}
	if !found {
		t.Fatal("no systemRemove request")
	}
}

func TestScheduledStartIsStampedWithTheStart(t *testing.T) {
	h := newHarness(t)
	p := h.policy(nil, func(p *access.AssignmentPolicy) { p.RequestorSettings.AllowCustomAssignmentSchedule = true })
	h.run()
	start := h.svc.Now().Add(time.Hour)
	r := h.submit(p, func(in *access.RequestInput) { in.Schedule = &access.Schedule{StartDateTime: &start} })

	h.advance("P3D")
	got := h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
	if got.CompletedDateTime == nil || !got.CompletedDateTime.Equal(start) {
		t.Errorf("completedDateTime %v, want the start %s", got.CompletedDateTime, start)
	}
	a, err := h.svc.Assignment(h.ctx, admin, got.AssignmentID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Schedule.StartDateTime == nil || !a.Schedule.StartDateTime.Equal(start) || !a.CreatedDateTime.Equal(start) {
		t.Errorf("assignment starts %v, created %s; want both at %s", a.Schedule.StartDateTime, a.CreatedDateTime, start)
	}
}

// Timers that fall due in one jump run in the order they fell due: the
// 14-day pre-expiration callout of an assignment goes out before its expiry
// ends it, however the jump lands. Run alone, the expiry could win the race,
// and the callout was then dropped because the assignment had ended.
func TestTimersOfOneJumpRunInDueOrder(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/pre", func(x *access.CustomExtension) { x.Type = access.AssignmentWorkflowExtension })
	p := h.policy(map[access.Stage]string{access.StageFourteenDaysBeforeExpiry: x.ID}, func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P20D")}
	})
	h.run()
	var assignments []string
	for range 5 {
		r := h.submit(p, nil)
		if r.State != access.StateDelivered {
			t.Fatalf("request %s, want delivered", r.State)
		}
		assignments = append(assignments, r.AssignmentID)
	}

	h.advance("P25D") // past the 14-day stage (day 6) and the end (day 20) at once
	calls := h.waitCalls("/pre", len(assignments))
	for _, id := range assignments {
		a := h.waitAssignment(id, "expired", func(a access.Assignment) bool { return a.State == access.AssignmentExpired })
		if len(a.Callouts) != 1 || a.Callouts[0].Stage != access.StageFourteenDaysBeforeExpiry {
			t.Errorf("assignment %s has callouts %+v, want the 14-day instance", id, a.Callouts)
		}
		if a.ExpiredDateTime == nil || !a.ExpiredDateTime.Equal(*a.End()) {
			t.Errorf("assignment %s expired at %v, want %s", id, a.ExpiredDateTime, a.End())
		}
	}
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/pre")); n != len(assignments) {
		t.Errorf("%d pre-expiration callouts (first %v), want one per assignment", n, calls[0].Payload["Stage"])
	}
}
