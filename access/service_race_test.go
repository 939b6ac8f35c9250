package access_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// The rules that span rows, raced: each test starts racers that all try
// to break one rule at the same moment, on the store ACCESSD_TEST_STORE
// names. On PostgreSQL (READ COMMITTED) these hold only through the
// constraint or lock docs/design.md (section 6) names for each; on SQLite
// write transactions take turns. Exactly the right racers win, the others
// get the rule's own kind of error, never an internal one.

const racers = 8

// race runs fn for racers goroutines released together and returns what each said.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins checks that exactly one racer succeeded and that every other
// failed with an error of kind lost.
func oneWins(t *testing.T, errs []error, lost access.Kind) {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case access.KindOf(err) != lost:
			t.Errorf("racer %d: %v (%v), want success or %v", i, err, access.KindOf(err), lost)
		}
	}
	if won != 1 {
		t.Errorf("%d racers won, want 1: %v", won, errs)
	}
}

// One open request per target and package (requests_open_per_target and
// the target's lock), and no second active assignment.
func TestRaceOneOpenRequestPerTargetAndPackage(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	p := newPolicy("pol", "pkg1")
	p.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{validStage()}}
	must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, p))
	must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy("pol-now", "pkg1")))
	for round, policy := range []string{"pol", "pol-now", "pol", "pol-now"} {
		target := fmt.Sprintf("t-%d", round)
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(target)))
		oneWins(t, race(racers, func(int) error {
			_, err := e.svc.SubmitRequest(e.ctx, admin, access.RequestInput{Type: access.RequestAdminAdd,
				AccessPackageID: "pkg1", PolicyID: policy, TargetID: target})
			return err
		}), access.KindConflict)
		rs := must[[]access.Request](t)(firstPage(e.svc.Requests(e.ctx, access.RequestFilter{TargetID: target}, access.Page{Limit: 50})))
		if len(rs) != 1 {
			t.Errorf("round %d: %d requests stored for %s, want 1", round, len(rs), target)
		}
	}
}

// One decision per approval stage: the request's row lock.
func TestRaceOneDecisionPerApprovalStage(t *testing.T) {
	w := newApWorld(t)
	stage := validStage()
	stage.PrimaryApprovers = []access.SubjectSet{apSet("groupMembers", func(s *access.SubjectSet) { s.GroupID = "g-leads" })}
	w.policy(t, "pol", stage)
	approvers := []access.Caller{
		{ObjectID: "lee", UPN: "lee@contoso.test", Scopes: access.WriteEntitlements},
		{ObjectID: "tom", UPN: "tom@contoso.test", Scopes: access.WriteEntitlements},
	}
	for round, target := range []string{"max", "mia", "meg"} {
		r := w.submit(t, w.app, "pol", target)
		errs := race(racers, func(i int) error {
			return w.svc.DecideApproval(w.ctx, approvers[i%len(approvers)], access.ApprovalDecision{RequestID: r.ID,
				StageID: r.Approval[0].ID, Decision: access.Decision{Approve: i%2 == 0, Justification: "raced"}})
		})
		oneWins(t, errs, access.KindConflict)
		got := must[access.Request](t)(w.svc.Request(w.ctx, admin, r.ID))
		if got.State == access.StatePendingApproval {
			t.Errorf("round %d: request still %s after a decision", round, got.State)
		}
	}
}

// An object created with a chosen id is created once: its id's lock.
func TestRaceCreateWithTheSameID(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	for _, tc := range []struct {
		name   string
		create func(i int) error
	}{
		{"catalog", func(i int) error {
			_, err := e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat-raced"))
			return err
		}},
		{"access package", func(i int) error {
			_, err := e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg-raced", "cat1"))
			return err
		}},
		{"policy", func(i int) error {
			_, err := e.svc.CreateAssignmentPolicy(e.ctx, admin, newPolicy("pol-raced", "pkg1"))
			return err
		}},
		{"user", func(i int) error {
			u := newUser("u-raced")
			u.UserPrincipalName = fmt.Sprintf("u-raced-%d@contoso.test", i) // the id, not the UPN, collides
			_, err := e.svc.CreateUser(e.ctx, u)
			return err
		}},
		{"user principal name", func(i int) error {
			u := newUser(fmt.Sprintf("upn-%d", i))
			u.UserPrincipalName = "same@contoso.test" // users_upn
			_, err := e.svc.CreateUser(e.ctx, u)
			return err
		}},
		{"group", func(i int) error {
			_, err := e.svc.CreateGroup(e.ctx, newGroup("g-raced"), nil, nil)
			return err
		}},
		{"role assignment", func(i int) error { // role_assignments_held
			scope := access.CatalogRoleScope("cat1")
			_, err := e.svc.CreateRoleAssignment(e.ctx, admin, false, access.RoleAssignmentInput{PrincipalID: "approver",
				RoleDefinitionID: access.RoleCatalogReader, AppScopeID: &scope})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { oneWins(t, race(racers, tc.create), access.KindConflict) })
	}
}

// A policy is deleted only while no open request uses it: the package's
// lock, shared by submissions, exclusive for the delete. Either the
// request is stored and the delete refused, or the delete wins and the
// request is refused; never both.
func TestRaceDeletePolicyWhileRequested(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	for round := range 6 {
		pol := newPolicy(fmt.Sprintf("pol-%d", round), "pkg1")
		pol.RequestApprovalSettings = access.ApprovalSettings{IsApprovalRequiredForAdd: true, Stages: []access.ApprovalStage{validStage()}}
		must[access.AssignmentPolicy](t)(e.svc.CreateAssignmentPolicy(e.ctx, admin, pol))
		target := fmt.Sprintf("t-%d", round)
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(target)))
		errs := race(2, func(i int) error {
			if i == 0 {
				return e.svc.DeleteAssignmentPolicy(e.ctx, admin, pol.ID)
			}
			_, err := e.svc.SubmitRequest(e.ctx, admin, access.RequestInput{Type: access.RequestAdminAdd,
				AccessPackageID: "pkg1", PolicyID: pol.ID, TargetID: target})
			return err
		})
		deleted, requested := errs[0] == nil, errs[1] == nil
		switch {
		case deleted == requested:
			t.Errorf("round %d: delete %v, request %v: want exactly one to succeed", round, errs[0], errs[1])
		case !deleted && access.KindOf(errs[0]) != access.KindConflict:
			t.Errorf("round %d: delete refused with %v, want a conflict", round, errs[0])
		case !requested && access.KindOf(errs[1]) != access.KindInvalid:
			t.Errorf("round %d: request refused with %v, want invalid (no such policy)", round, errs[1])
		}
	}
}

// A catalog is deleted only when empty: its lock, taken by package creation too.
func TestRaceDeleteCatalogWhilePackageCreated(t *testing.T) {
	e := newEnv(t)
	for round := range 6 {
		cat := fmt.Sprintf("cat-%d", round)
		must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog(cat)))
		errs := race(2, func(i int) error {
			if i == 0 {
				return e.svc.DeleteCatalog(e.ctx, admin, cat)
			}
			_, err := e.svc.CreateAccessPackage(e.ctx, admin, newPackage("pkg-"+cat, cat))
			return err
		})
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Errorf("round %d: delete %v, create %v: want exactly one to succeed", round, errs[0], errs[1])
		}
		for i, want := range []access.Kind{access.KindConflict, access.KindInvalid} {
			if errs[i] != nil && access.KindOf(errs[i]) != want {
				t.Errorf("round %d, racer %d: %v, want %v", round, i, errs[i], want)
			}
		}
	}
}

// Changes of one package, each read, changed and written back, all land:
// the package's lock.
func TestRaceChangesOfOnePackageAllLand(t *testing.T) {
	e := newEnv(t)
	e.base(t)
	var groups []string
	for i := range racers {
		id := fmt.Sprintf("g-%d", i)
		must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup(id), nil, nil))
		groups = append(groups, id)
	}
	for i, err := range race(racers, func(i int) error {
		return e.svc.AddIncompatible(e.ctx, admin, "pkg1", access.IncompatibleGroup, groups[i])
	}) {
		if err != nil {
			t.Errorf("racer %d: %v", i, err)
		}
	}
	got := must[access.AccessPackage](t)(e.svc.AccessPackage(e.ctx, admin, "pkg1")).IncompatibleGroups
	slices.Sort(got)
	if !slices.Equal(got, groups) {
		t.Errorf("incompatible groups %v, want all of %v", got, groups)
	}
}

// Two changes of manager chains at once cannot close a cycle: the
// managers' lock.
func TestRaceManagersMakeNoCycle(t *testing.T) {
	e := newEnv(t)
	for round := range 6 {
		a, b := fmt.Sprintf("a-%d", round), fmt.Sprintf("b-%d", round)
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(a)))
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(b)))
		errs := race(2, func(i int) error {
			if i == 0 {
				return e.svc.SetManager(e.ctx, a, b)
			}
			return e.svc.SetManager(e.ctx, b, a)
		})
		oneWins(t, errs, access.KindInvalid)
	}
}

// A role another delivered assignment of the target grants is not taken
// away: delivery and removal of one target's roles take the target's lock.
func TestRaceGrantAndRevokeOfOneRole(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "p1", nil, member("g-sales"))
	w.pkg(t, "p2", nil, member("g-sales"))
	for round := range 6 {
		target := fmt.Sprintf("t-%d", round)
		must[access.User](t)(w.svc.CreateUser(w.ctx, newUser(target)))
		first := w.submit(t, "p1", target)
		w.drain(t)
		w.remove(t, first.AssignmentID) // queues the revocation
		second := w.submit(t, "p2", target)
		claimed := must[[]access.Work](t)(w.svc.ClaimWork(w.ctx, "racer", time.Minute, 10))
		if len(claimed) != 2 {
			t.Fatalf("round %d: %d pieces of work claimed, want a revocation and a delivery", round, len(claimed))
		}
		for i, err := range race(2, func(i int) error { return w.svc.RunTimer(w.ctx, claimed[i]) }) {
			if err != nil {
				t.Errorf("round %d, %s: %v", round, claimed[i].Kind, err)
			}
		}
		w.drain(t)
		if got := w.request(t, second.ID).State; got != access.StateDelivered {
			t.Fatalf("round %d: the second request is %s", round, got)
		}
		if got := w.holdings(t, target); !slices.Equal(got, []string{"Member_g-sales"}) {
			t.Errorf("round %d: %s holds %v, want the membership p2 grants", round, target, got)
		}
	}
}

// A timer taken over while still running does its work once: HoldWork.
func TestRaceTimerRunTwice(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "p1", expiresAfter("P1D"), member("g-sales"))
	for round := range 4 {
		target := fmt.Sprintf("t-%d", round)
		must[access.User](t)(w.svc.CreateUser(w.ctx, newUser(target)))
		r := w.submit(t, "p1", target)
		w.drain(t)
		w.clock.Advance(25 * time.Hour)
		claimed := must[[]access.Work](t)(w.svc.ClaimWork(w.ctx, "racer", time.Minute, 10))
		var expiry []access.Work
		for _, c := range claimed {
			if c.Kind == access.WorkExpire {
				expiry = append(expiry, c)
			}
		}
		if len(expiry) != 1 {
			t.Fatalf("round %d: claimed %v, want one expiry", round, claimed)
		}
		for i, err := range race(racers, func(int) error { return w.svc.RunTimer(w.ctx, expiry[0]) }) {
			if err != nil {
				t.Errorf("round %d, racer %d: %v", round, i, err)
			}
		}
		removals := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, access.RequestFilter{AssignmentID: r.AssignmentID,
			TargetID: target}, access.Page{Limit: 50})))
		n := 0
		for _, x := range removals {
			if x.Type == access.RequestSystemRemove {
				n++
			}
		}
		if n != 1 {
			t.Errorf("round %d: %d systemRemove requests, want 1", round, n)
		}
		w.drain(t)
	}
}
