package accesstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Every request state, final or not, so that tests cover both kinds.
var allRequestStates = []access.RequestState{access.StateSubmitted, access.StatePendingApproval, access.StateScheduled,
	access.StateDelivering, access.StateDelivered, access.StatePartiallyDelivered, access.StateDeliveryFailed,
	access.StateDenied, access.StateCanceled}

var allAssignmentStates = []access.AssignmentState{access.AssignmentDelivering, access.AssignmentDelivered,
	access.AssignmentPartiallyDelivered, access.AssignmentDeliveryFailed, access.AssignmentExpired}

func testRequestRoundTrip(t *testing.T, s access.Store) {
	w := newWorld(t, s)
	open := NewRequest("req-1", w.policy, w.user.ID)
	done := NewRequest("req-2", w.policy, w.user.ID)
	completed := Epoch.Add(2 * time.Hour)
	done.State, done.Status, done.CompletedDateTime, done.Step =
		access.StatePartiallyDelivered, access.StatusCallbackTimedOut, &completed, access.StepDone
	minimal := access.Request{ID: "req-3", Type: access.RequestAdminRemove, State: access.StateSubmitted} // nil slices stay nil
	asg := NewAssignment("asg-1", w.policy, w.user.ID)
	expired := NewAssignment("asg-2", w.policy, w.manager.ID)
	expiredAt := Epoch.AddDate(0, 0, 90)
	expired.State, expired.Status, expired.ExpiredDateTime = access.AssignmentExpired, access.StatusExpired, &expiredAt
	minimalAsg := access.Assignment{ID: "asg-3"}
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutRequest(open), tx.PutRequest(done), tx.PutRequest(minimal),
			tx.PutAssignment(asg), tx.PutAssignment(expired), tx.PutAssignment(minimalAsg))
	})
	view(t, s, func(tx access.Tx) error {
		diff(t, "open request", must(tx.Request(open.ID)), open)
		diff(t, "completed request", must(tx.Request(done.ID)), done)
		diff(t, "minimal request", must(tx.Request(minimal.ID)), minimal)
		diff(t, "assignment", must(tx.Assignment(asg.ID)), asg)
		diff(t, "expired assignment", must(tx.Assignment(expired.ID)), expired)
		diff(t, "minimal assignment", must(tx.Assignment(minimalAsg.ID)), minimalAsg)
		all := access.Page{Limit: 100}
		diff(t, "Requests", must(tx.Requests(access.RequestFilter{}, all)), []access.Request{open, done, minimal})
		diff(t, "Assignments", must(tx.Assignments(access.AssignmentFilter{}, all)), []access.Assignment{asg, expired, minimalAsg})
		return nil
	})

	// A put replaces the whole object, and the lookup columns follow.
	moved := open
	moved.Answers, moved.Callouts, moved.Schedule = nil, open.Callouts[:1], access.Schedule{}
	moved.Target, moved.AccessPackageID, moved.PolicyID, moved.AssignmentID = NewSubject(w.manager.ID), "pkg-2", "pol-2", ""
	asgMoved := asg
	asgMoved.Target, asgMoved.State, asgMoved.Callouts = NewSubject(w.manager.ID), access.AssignmentDeliveryFailed, nil
	update(t, s, func(tx access.Tx) error { return errors.Join(tx.PutRequest(moved), tx.PutAssignment(asgMoved)) })
	view(t, s, func(tx access.Tx) error {
		all := access.Page{Limit: 100}
		diff(t, "replaced request", must(tx.Request(open.ID)), moved)
		diff(t, "replaced assignment", must(tx.Assignment(asg.ID)), asgMoved)
		diff(t, "requests of the old target", ids(must(tx.Requests(access.RequestFilter{TargetID: w.user.ID}, all))), []string{done.ID})
		diff(t, "requests of the new target", ids(must(tx.Requests(access.RequestFilter{TargetID: w.manager.ID}, all))), []string{open.ID})
		diff(t, "requests of the new package", ids(must(tx.Requests(access.RequestFilter{AccessPackageID: "pkg-2"}, all))), []string{open.ID})
		diff(t, "requests of the new policy", ids(must(tx.Requests(access.RequestFilter{PolicyID: "pol-2"}, all))), []string{open.ID})
		diff(t, "requests of the old assignment", ids(must(tx.Requests(access.RequestFilter{AssignmentID: open.AssignmentID}, all))), []string(nil))
		diff(t, "assignments of the old target", ids(must(tx.Assignments(access.AssignmentFilter{TargetID: w.user.ID}, all))), []string(nil))
		diff(t, "active assignments", ids(must(tx.Assignments(access.AssignmentFilter{Active: true}, all))), []string(nil))
		return nil
	})

	// A deleted request is gone from lists and counts; its id can be used again.
	update(t, s, func(tx access.Tx) error { return tx.DeleteRequest(open.ID) })
	view(t, s, func(tx access.Tx) error {
		wantKind(t, "deleted request", second(tx.Request(open.ID)), access.KindNotFound)
		diff(t, "requests after the delete", ids(must(tx.Requests(access.RequestFilter{}, access.Page{Limit: 10}))),
			[]string{done.ID, minimal.ID})
		diff(t, "open requests after the delete", must(tx.CountOpenRequests(access.RequestFilter{})), 1)
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		wantKind(t, "second DeleteRequest", tx.DeleteRequest(open.ID), access.KindNotFound)
		return tx.PutRequest(open)
	})
	diff(t, "request put again", read(t, s, func(tx access.Tx) (access.Request, error) { return tx.Request(open.ID) }), open)
}

// requestMatches is RequestFilter's contract, in Go.
func requestMatches(r access.Request, f access.RequestFilter) bool {
	return (f.TargetID == "" || r.Target.ID == f.TargetID) &&
		(f.AccessPackageID == "" || r.AccessPackageID == f.AccessPackageID) &&
		(f.PolicyID == "" || r.PolicyID == f.PolicyID) &&
		(f.AssignmentID == "" || r.AssignmentID == f.AssignmentID) &&
		(f.State == "" || r.State == f.State)
}

func testRequestFilters(t *testing.T, s access.Store) {
	pkg1, pkg2 := NewAccessPackage("pkg-1", "cat-1"), NewAccessPackage("pkg-2", "cat-1")
	policies := []access.AssignmentPolicy{NewPolicy("pol-a", pkg1), NewPolicy("pol-b", pkg1), NewPolicy("pol-c", pkg2)}
	targets := []string{"u-1", "u-2"}
	var requests []access.Request
	for i := range 30 {
		r := NewRequest(fmt.Sprintf("req-%02d", i), policies[i%3], targets[i%2])
		r.State = allRequestStates[i%len(allRequestStates)]
		if !r.State.IsFinal() {
			// Open requests of one target and package: only accessd's own
			// may be several (requests_open_per_target).
			r.Type = access.RequestSystemRemove
		}
		r.AssignmentID = []string{"asg-0", "asg-1", "asg-2", ""}[i%4]
		requests = append(requests, r)
	}
	shuffled := slices.Clone(requests)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, r := range shuffled {
			errs = append(errs, tx.PutRequest(r))
		}
		return errors.Join(errs...)
	})

	for _, f := range []access.RequestFilter{
		{},
		{TargetID: "u-1"},
		{AccessPackageID: pkg1.ID},
		{PolicyID: "pol-c"},
		{AssignmentID: "asg-1"},
		{State: access.StateDelivering},
		{State: access.StateDenied},
		{TargetID: "u-2", AccessPackageID: pkg1.ID},
		{TargetID: "u-1", AccessPackageID: pkg2.ID, State: access.StateSubmitted},
		{PolicyID: "pol-a", AssignmentID: "asg-0"},
		{TargetID: "u-1", AccessPackageID: pkg1.ID, PolicyID: "pol-b", AssignmentID: "asg-2", State: access.StatePendingApproval},
		{TargetID: "u-missing"},
		{State: "noSuchState"},
	} {
		var want []string
		open := 0
		for _, r := range requests {
			if requestMatches(r, f) {
				want = append(want, r.ID)
				if !r.State.IsFinal() {
					open++
				}
			}
		}
		for _, limit := range []int{1, 4, 100} {
			got := pageThrough(t, s, "Requests", limit, func(tx access.Tx, p access.Page) ([]access.Request, error) {
				return tx.Requests(f, p)
			})
			diff(t, fmt.Sprintf("Requests(%+v), limit %d", f, limit), got, want)
		}
		diff(t, fmt.Sprintf("CountOpenRequests(%+v)", f),
			read(t, s, func(tx access.Tx) (int, error) { return tx.CountOpenRequests(f) }), open)
	}
	got := read(t, s, func(tx access.Tx) ([]access.Request, error) {
		return tx.Requests(access.RequestFilter{}, access.Page{After: "req-09x", Limit: 2})
	})
	diff(t, "page after an absent id", ids(got), []string{"req-10", "req-11"})
}

// testRequestApprovers checks the approver filter: a request is found by the
// approvers of its stage waiting for a decision now, and with
// AnyApprovalStage by the approvers of any stage that started, kept in step
// with every put, in one transaction or several.
func testRequestApprovers(t *testing.T, s access.Store) {
	pkg := NewAccessPackage("pkg-1", "cat-1")
	approver := func(id string) access.Subject {
		return access.Subject{ID: id, Kind: access.SubjectUser, DisplayName: id}
	}
	r1 := NewRequest("req-1", NewPolicy("pol-1", pkg), "u-1")
	r1.State, r1.Status = access.StatePendingApproval, access.StatusPendingApproval
	r1.Approval = []access.ApprovalStep{
		{ID: "st-1", Status: access.ApprovalCompleted, ReviewResult: access.ReviewApproved, Approvers: []access.Subject{approver("ann")}},
		{ID: "st-2", Status: access.ApprovalInProgress, ReviewResult: access.ReviewNotReviewed, Approvers: []access.Subject{approver("ben"), approver("cat")}},
	}
	r2 := NewRequest("req-2", NewPolicy("pol-1", pkg), "u-2")
	r2.State, r2.Status = access.StatePendingApproval, access.StatusPendingApproval
	r2.Approval = []access.ApprovalStep{{ID: "st-3", Status: access.ApprovalInProgress, Approvers: []access.Subject{approver("ben")}}}
	plain := NewRequest("req-3", NewPolicy("pol-1", pkg), "u-3")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutRequest(r1), tx.PutRequest(r2), tx.PutRequest(plain))
	})
	approves := func(what, who string, any bool, want []string) {
		t.Helper()
		f := access.RequestFilter{ApproverID: who, AnyApprovalStage: any}
		diff(t, what+": "+who+" approves", ids(read(t, s, func(tx access.Tx) ([]access.Request, error) {
			return tx.Requests(f, access.Page{Limit: 10})
		})), want)
		open := 0
		for _, id := range want {
			if id != "req-1" || what == "at first" { // req-1 is denied after the first checks
				open++
			}
		}
		diff(t, what+": "+who+" counts open", read(t, s, func(tx access.Tx) (int, error) { return tx.CountOpenRequests(f) }), open)
	}
	approves("at first", "ann", false, nil)
	approves("at first", "ann", true, []string{"req-1"})
	approves("at first", "ben", false, []string{"req-1", "req-2"})
	approves("at first", "cat", false, []string{"req-1"})
	approves("at first", "nobody", true, nil)

	// Read and written again in one transaction, as the service does.
	update(t, s, func(tx access.Tx) error {
		r, err := tx.Request("req-1")
		if err != nil {
			return err
		}
		r.Approval = append([]access.ApprovalStep(nil), r.Approval...)
		r.Approval[1].Status, r.Approval[1].ReviewResult = access.ApprovalCompleted, access.ReviewDenied
		r.State, r.Status = access.StateDenied, access.StatusDenied
		return tx.PutRequest(r)
	})
	approves("after a denial", "ben", false, []string{"req-2"})
	approves("after a denial", "cat", false, nil)
	approves("after a denial", "cat", true, []string{"req-1"})

	// Escalated: a new approver joins the pending stage.
	r2.Approval = []access.ApprovalStep{{ID: "st-3", Status: access.ApprovalInProgress, Escalated: true,
		Approvers: []access.Subject{approver("ben"), approver("dan")}}}
	update(t, s, func(tx access.Tx) error { return tx.PutRequest(r2) })
	approves("after escalation", "dan", false, []string{"req-2"})

	// Deleted, the request is nobody's to approve.
	update(t, s, func(tx access.Tx) error { return tx.DeleteRequest("req-2") })
	approves("after delete", "dan", true, nil)
	approves("after delete", "ben", true, []string{"req-1"})
}

func testOpenRequestsReferencing(t *testing.T, s access.Store) {
	pkg := NewAccessPackage("pkg-1", "cat-1")
	r1 := NewRequest("req-1", NewFullPolicy("pol-1", pkg, "u-approver", "ext-1"), "u-1") // ext-1 at two stages: counts once
	r2 := NewRequest("req-2", NewPolicy("pol-2", pkg), "u-2")
	r2.Policy.Bindings = []access.StageBinding{
		{Stage: access.StageRequestCreated, ExtensionID: "ext-1"},
		{Stage: access.StageRequestRemoved, ExtensionID: "ext-2", Waits: true, CallbackTimeout: access.MustDuration("PT5M")},
	}
	unbound := NewRequest("req-3", NewPolicy("pol-3", pkg), "u-3")
	update(t, s, func(tx access.Tx) error {
		return errors.Join(tx.PutRequest(r1), tx.PutRequest(r2), tx.PutRequest(unbound))
	})
	refs := func(what string, want map[string]int) {
		t.Helper()
		view(t, s, func(tx access.Tx) error {
			for ext, n := range want {
				diff(t, what+": open requests referencing "+ext, must(tx.CountOpenRequestsReferencing(ext)), n)
			}
			return nil
		})
	}
	refs("at first", map[string]int{"ext-1": 2, "ext-2": 1, "ext-missing": 0})

	// Every state: a request references its extensions exactly while it is open.
	for _, state := range allRequestStates {
		r := r1
		r.State = state
		update(t, s, func(tx access.Tx) error { return tx.PutRequest(r) })
		ext1, open := 2, 3 // r1 and r2 bind ext-1; r1, r2 and unbound are open
		if state.IsFinal() {
			ext1, open = 1, 2
		}
		refs("r1 "+string(state), map[string]int{"ext-1": ext1, "ext-2": 1})
		diff(t, "open requests with r1 "+string(state),
			read(t, s, func(tx access.Tx) (int, error) { return tx.CountOpenRequests(access.RequestFilter{}) }), open)
		got := read(t, s, func(tx access.Tx) ([]access.Request, error) {
			return tx.Requests(access.RequestFilter{TargetID: r1.Target.ID, State: state}, access.Page{Limit: 10})
		})
		diff(t, "r1's requests in state "+string(state), ids(got), []string{r1.ID})
	}

	// Reopened (reprocess), r1 references again.
	r1.State = access.StateDelivering
	update(t, s, func(tx access.Tx) error { return tx.PutRequest(r1) })
	refs("r1 reopened", map[string]int{"ext-1": 2})

	// A put rewrites the references from the new snapshot.
	r2.Policy.Bindings = r2.Policy.Bindings[1:]
	update(t, s, func(tx access.Tx) error { return tx.PutRequest(r2) })
	refs("r2 no longer binding ext-1", map[string]int{"ext-1": 1, "ext-2": 1})

	// A request stored final at once never references anything.
	final := NewRequest("req-4", NewPolicy("pol-4", pkg), "u-4")
	final.Policy.Bindings = []access.StageBinding{{Stage: access.StageRequestCreated, ExtensionID: "ext-2"}}
	final.State = access.StateDenied
	update(t, s, func(tx access.Tx) error { return tx.PutRequest(final) })
	refs("a denied request", map[string]int{"ext-2": 1})

	// Read and written in one transaction, as the service does: puts that
	// keep the request open, then one that ends it, then one that reopens it.
	update(t, s, func(tx access.Tx) error {
		r := must(tx.Request(r2.ID))
		r.State = access.StatePendingApproval
		if err := tx.PutRequest(r); err != nil {
			return err
		}
		r.State = access.StateDelivering
		return tx.PutRequest(r)
	})
	refs("r2 read and put open twice", map[string]int{"ext-1": 1, "ext-2": 1})
	update(t, s, func(tx access.Tx) error {
		r := must(tx.Request(r2.ID))
		r.State = access.StateDelivered
		r.AssignmentID = "asg-r2"
		return tx.PutRequest(r)
	})
	refs("r2 read and put final", map[string]int{"ext-1": 1, "ext-2": 0})
	view(t, s, func(tx access.Tx) error {
		byAssignment := must(tx.Requests(access.RequestFilter{AssignmentID: "asg-r2"}, access.Page{Limit: 10}))
		diff(t, "requests of asg-r2 after a read and put", ids(byAssignment), []string{r2.ID})
		diff(t, "open requests of r2's target", must(tx.CountOpenRequests(access.RequestFilter{TargetID: r2.Target.ID})), 0)
		got := must(tx.Request(r2.ID))
		diff(t, "r2's state", got.State, access.StateDelivered)
		return nil
	})
	update(t, s, func(tx access.Tx) error {
		r := must(tx.Request(r2.ID))
		r.State = access.StateDelivering
		if err := tx.PutRequest(r); err != nil {
			return err
		}
		r.Policy.Bindings = nil // a snapshot that changes after the read still counts
		return tx.PutRequest(r)
	})
	refs("r2 reopened without bindings", map[string]int{"ext-1": 1, "ext-2": 0})
	update(t, s, func(tx access.Tx) error {
		r := must(tx.Request(r1.ID))
		r.Policy.Bindings = append(r.Policy.Bindings, access.StageBinding{Stage: access.StageRequestRemoved, ExtensionID: "ext-2"})
		return tx.PutRequest(r)
	})
	refs("r1 read and given ext-2", map[string]int{"ext-1": 1, "ext-2": 1})

	update(t, s, func(tx access.Tx) error { return errors.Join(tx.DeleteRequest(r1.ID), tx.DeleteRequest(r2.ID)) })
	refs("after deleting both", map[string]int{"ext-1": 0, "ext-2": 0})
}

// assignmentMatches is AssignmentFilter's contract, in Go.
func assignmentMatches(a access.Assignment, f access.AssignmentFilter) bool {
	return (f.TargetID == "" || a.Target.ID == f.TargetID) &&
		(f.AccessPackageID == "" || a.AccessPackageID == f.AccessPackageID) &&
		(f.PolicyID == "" || a.PolicyID == f.PolicyID) &&
		(f.State == "" || a.State == f.State) &&
		(!f.Active || a.State.IsActive())
}

func testAssignmentFilters(t *testing.T, s access.Store) {
	pkg1, pkg2 := NewAccessPackage("pkg-1", "cat-1"), NewAccessPackage("pkg-2", "cat-1")
	policies := []access.AssignmentPolicy{NewPolicy("pol-a", pkg1), NewPolicy("pol-b", pkg1), NewPolicy("pol-c", pkg2)}
	targets := []string{"u-1", "u-2"}
	var assignments []access.Assignment
	for i := range 30 {
		a := NewAssignment(fmt.Sprintf("asg-%02d", i), policies[i%3], targets[i%2])
		a.State = allAssignmentStates[i%len(allAssignmentStates)]
		assignments = append(assignments, a)
	}
	shuffled := slices.Clone(assignments)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	update(t, s, func(tx access.Tx) error {
		var errs []error
		for _, a := range shuffled {
			errs = append(errs, tx.PutAssignment(a))
		}
		return errors.Join(errs...)
	})

	for _, f := range []access.AssignmentFilter{
		{},
		{TargetID: "u-2"},
		{AccessPackageID: pkg2.ID},
		{PolicyID: "pol-b"},
		{State: access.AssignmentExpired},
		{Active: true},
		{TargetID: "u-1", AccessPackageID: pkg1.ID, Active: true}, // the Service's "already assigned" check
		{PolicyID: "pol-a", Active: true},
		{State: access.AssignmentDelivered, Active: true},
		{State: access.AssignmentExpired, Active: true},
		{TargetID: "u-2", AccessPackageID: pkg1.ID, PolicyID: "pol-a", State: access.AssignmentPartiallyDelivered},
		{TargetID: "u-missing", Active: true},
	} {
		var want []string
		for _, a := range assignments {
			if assignmentMatches(a, f) {
				want = append(want, a.ID)
			}
		}
		for _, limit := range []int{1, 4, 100} {
			got := pageThrough(t, s, "Assignments", limit, func(tx access.Tx, p access.Page) ([]access.Assignment, error) {
				return tx.Assignments(f, p)
			})
			diff(t, fmt.Sprintf("Assignments(%+v), limit %d", f, limit), got, want)
		}
		diff(t, fmt.Sprintf("CountAssignments(%+v)", f),
			read(t, s, func(tx access.Tx) (int, error) { return tx.CountAssignments(f) }), len(want))
	}
}

// historyID makes ids that sort in the order of n, as UUIDv7s made one after another do.
func historyID(n int) string { return fmt.Sprintf("01963f2a-%04x-7000-8000-000000000000", n) }

func testHistory(t *testing.T, s access.Store) {
	full := access.HistoryEntry{
		ID: historyID(0), RequestID: "req-1", At: Epoch, ActorID: "ext-app", ActorName: "Extension app",
		Action: "callback", Stage: access.StageRequestCreated, Source: "Contoso.SodCheckProcess",
		Type:   "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
		Detail: "Checked by the SoD service", Outcome: "continue", State: access.StateSubmitted, Status: access.StatusAccepted,
	}
	var want1, want2 []access.HistoryEntry
	want1 = append(want1, full)
	for n := 1; n < 15; n++ {
		h := access.HistoryEntry{ID: historyID(n), At: Epoch.Add(time.Duration(n) * time.Second), Action: "transition"}
		if n%4 == 0 {
			h.RequestID = "req-2"
			want2 = append(want2, h)
		} else {
			h.RequestID = "req-1"
			want1 = append(want1, h)
		}
	}
	all := append(slices.Clone(want1), want2...)
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	update(t, s, func(tx access.Tx) error {
		// History may come before the request it belongs to.
		var errs []error
		for _, h := range all {
			errs = append(errs, tx.AddHistory(h))
		}
		errs = append(errs, tx.PutRequest(NewRequest("req-1", NewPolicy("pol-1", NewAccessPackage("pkg-1", "cat-1")), "u-1")))
		return errors.Join(errs...)
	})

	view(t, s, func(tx access.Tx) error {
		diff(t, "history of req-1", must(tx.History("req-1", access.Page{Limit: 100})), want1)
		diff(t, "history of req-2", must(tx.History("req-2", access.Page{Limit: 100})), want2)
		diff(t, "history of a request without any", must(tx.History("req-missing", access.Page{Limit: 100})), []access.HistoryEntry(nil))
		diff(t, `History("")`, must(tx.History("", access.Page{Limit: 100})), []access.HistoryEntry(nil))
		return nil
	})
	for _, limit := range []int{1, 3, 100} {
		got := pageThrough(t, s, "History", limit, func(tx access.Tx, p access.Page) ([]access.HistoryEntry, error) {
			return tx.History("req-1", p)
		})
		diff(t, fmt.Sprintf("history of req-1, limit %d", limit), got, ids(want1))
	}

	err := s.Update(ctx(t), func(tx access.Tx) error { return tx.AddHistory(full) })
	wantKind(t, "adding an entry twice", err, access.KindConflict)

	// Deleting a request deletes its history, and only its.
	update(t, s, func(tx access.Tx) error { return tx.DeleteRequest("req-1") })
	view(t, s, func(tx access.Tx) error {
		diff(t, "history of the deleted request", must(tx.History("req-1", access.Page{Limit: 100})), []access.HistoryEntry(nil))
		diff(t, "history of req-2 after deleting req-1", must(tx.History("req-2", access.Page{Limit: 100})), want2)
		return nil
	})
}
