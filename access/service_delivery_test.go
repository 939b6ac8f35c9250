package access_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// Delivery through the service and a real store: an assignment's resource
// roles granted in the directory and taken away again. The engine does not
// run here; drain does its work as the engine would (ClaimAndBegin runs
// deliveries, revocations and timers inside the claim).

// dlWorld is a catalog cat1 offering the groups g-sales and g-ops and the
// application sp-crm (app role crm-user), and the users alice and bob.
type dlWorld struct {
	*env
	app access.Caller // submits requests
}

// dlGroups are the groups whose memberships holdings reports.
var dlGroups = []string{"g-sales", "g-ops"}

func newDlWorld(t *testing.T) *dlWorld {
	t.Helper()
	e := newEnv(t)
	w := &dlWorld{env: e, app: access.Caller{ObjectID: "app", IsApp: true, DisplayName: "Admin app", Roles: access.WriteEntitlements}}
	must[access.Catalog](t)(e.svc.CreateCatalog(e.ctx, admin, newCatalog("cat1")))
	for _, id := range []string{"alice", "bob"} {
		must[access.User](t)(e.svc.CreateUser(e.ctx, newUser(id)))
	}
	for _, id := range dlGroups {
		must[access.Group](t)(e.svc.CreateGroup(e.ctx, newGroup(id), nil, nil))
		must[access.ResourceRequest](t)(e.svc.SubmitResourceRequest(e.ctx, admin, addGroupResource("cat1", id)))
	}
	must[access.ServicePrincipal](t)(e.svc.CreateServicePrincipal(e.ctx, access.ServicePrincipal{ID: "sp-crm", DisplayName: "CRM",
		AppRoles: []access.AppRole{{ID: "crm-user", AllowedMemberTypes: []string{"User"}, DisplayName: "CRM user", IsEnabled: true}}}))
	must[access.ResourceRequest](t)(e.svc.SubmitResourceRequest(e.ctx, admin, addAppResource("cat1", "sp-crm")))
	return w
}

func member(groupID string) access.RoleScopeInput {
	return access.RoleScopeInput{RoleOriginID: "Member_" + groupID, ResourceOriginID: groupID, OriginSystem: access.OriginGroup}
}

func owner(groupID string) access.RoleScopeInput {
	return access.RoleScopeInput{RoleOriginID: "Owner_" + groupID, ResourceOriginID: groupID, OriginSystem: access.OriginGroup}
}

func appRole(spID, roleID string) access.RoleScopeInput {
	return access.RoleScopeInput{RoleOriginID: roleID, ResourceOriginID: spID, OriginSystem: access.OriginApplication}
}

// pkg creates package id in cat1 granting the roles, with policy "pol-"+id,
// which edit may change.
func (w *dlWorld) pkg(t *testing.T, id string, edit func(p *access.AssignmentPolicy), roles ...access.RoleScopeInput) {
	t.Helper()
	must[access.AccessPackage](t)(w.svc.CreateAccessPackage(w.ctx, admin, newPackage(id, "cat1")))
	for _, r := range roles {
		must[access.RoleScope](t)(w.svc.AddRoleScope(w.ctx, admin, id, r))
	}
	p := newPolicy("pol-"+id, id)
	if edit != nil {
		edit(&p)
	}
	must[access.AssignmentPolicy](t)(w.svc.CreateAssignmentPolicy(w.ctx, admin, p))
}

func expiresAfter(duration string) func(p *access.AssignmentPolicy) {
	return func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration(duration)}
	}
}

// submit asks for the package for the target and returns the request as
// stored, which its submission has already run as far as it goes.
func (w *dlWorld) submit(t *testing.T, pkgID, targetID string) access.Request {
	t.Helper()
	r := must[access.Request](t)(w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminAdd,
		AccessPackageID: pkgID, PolicyID: "pol-" + pkgID, TargetID: targetID}))
	return must[access.Request](t)(w.svc.Request(w.ctx, admin, r.ID))
}

// remove asks for the assignment to end and returns the request as stored.
func (w *dlWorld) remove(t *testing.T, assignmentID string) access.Request {
	t.Helper()
	r := must[access.Request](t)(w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminRemove,
		AssignmentID: assignmentID}))
	return must[access.Request](t)(w.svc.Request(w.ctx, admin, r.ID))
}

// drain does all work due now, as the engine would, until none is left.
// Every piece must be done inside the claim: these tests bind no extension.
func (e *env) drain(t *testing.T) {
	t.Helper()
	for range 1000 {
		claimed, err := e.svc.ClaimAndBegin(e.ctx, "test-drain", time.Minute, 50)
		noErr(t, err)
		if len(claimed) == 0 {
			return
		}
		for _, c := range claimed {
			if !c.Done {
				t.Fatalf("work %s (%s) was not done in the claim", c.Work.ID, c.Work.Kind)
			}
		}
	}
	t.Fatal("work is still due after 1000 claims")
}

// holdings lists what the target holds in the directory, as grant keys
// would name it: Member_{group}, Owner_{group}, or {service principal}/{app role}.
func (w *dlWorld) holdings(t *testing.T, targetID string) []string {
	t.Helper()
	var out []string
	noErr(t, w.store.View(w.ctx, func(tx access.Tx) error {
		for _, g := range dlGroups {
			for rel, prefix := range map[access.GroupRelation]string{access.GroupMembers: "Member_", access.GroupOwners: "Owner_"} {
				in, err := tx.InGroup(g, rel, targetID)
				if err != nil {
					return err
				}
				if in {
					out = append(out, prefix+g)
				}
			}
		}
		held, err := tx.AppRoleAssignments("", targetID, access.Page{Limit: 100})
		for _, a := range held {
			out = append(out, a.ResourceID+"/"+a.AppRoleID)
		}
		return err
	}))
	slices.Sort(out)
	return out
}

func (w *dlWorld) request(t *testing.T, id string) access.Request {
	t.Helper()
	return must[access.Request](t)(w.svc.Request(w.ctx, admin, id))
}

func (w *dlWorld) assignment(t *testing.T, id string) access.Assignment {
	t.Helper()
	return must[access.Assignment](t)(w.svc.Assignment(w.ctx, admin, id))
}

// grantView is what a test compares of a grant.
type grantView struct {
	Role       string // RoleOriginID
	Status     string
	HeldBefore bool
}

func grantsOf(a access.Assignment) []grantView {
	var out []grantView
	for _, g := range a.Grants {
		out = append(out, grantView{g.RoleOriginID, g.Status, g.HeldBefore})
	}
	return out
}

// wantState checks a request's and its assignment's state and status.
func (w *dlWorld) wantState(t *testing.T, requestID string, state access.RequestState, asgState access.AssignmentState, asgStatus string) (access.Request, access.Assignment) {
	t.Helper()
	r := w.request(t, requestID)
	a := w.assignment(t, r.AssignmentID)
	if r.State != state || a.State != asgState || a.Status != asgStatus {
		t.Errorf("request %s/%s, assignment %s/%s; want request %s, assignment %s/%s",
			r.State, r.Status, a.State, a.Status, state, asgState, asgStatus)
	}
	return r, a
}

func TestServiceDeliversResourceRoles(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-all", nil, member("g-sales"), owner("g-sales"), appRole("sp-crm", "crm-user"))
	r := w.submit(t, "pkg-all", "alice")

	if r.State != access.StateDelivering || r.Status != access.StatusDelivering {
		t.Errorf("submitted request %s/%s, want delivering/Delivering until the roles are granted", r.State, r.Status)
	}
	a := w.assignment(t, r.AssignmentID)
	wantPending := []grantView{{"Member_g-sales", access.GrantPending, false}, {"Owner_g-sales", access.GrantPending, false},
		{"crm-user", access.GrantPending, false}}
	if a.State != access.AssignmentDelivering || a.Status != access.StatusDelivering {
		t.Errorf("assignment %s/%s, want delivering", a.State, a.Status)
	}
	if diff := cmp.Diff(wantPending, grantsOf(a)); diff != "" {
		t.Errorf("grants before delivery (-want +got):\n%s", diff)
	}
	if got := w.holdings(t, "alice"); len(got) != 0 {
		t.Errorf("alice holds %v before delivery", got)
	}

	w.drain(t)
	r, a = w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	if r.Status != access.StatusDelivered || r.CompletedDateTime == nil {
		t.Errorf("request %s, completed %v; want Delivered and completed", r.Status, r.CompletedDateTime)
	}
	wantDelivered := []grantView{{"Member_g-sales", access.GrantDelivered, false}, {"Owner_g-sales", access.GrantDelivered, false},
		{"crm-user", access.GrantDelivered, false}}
	if diff := cmp.Diff(wantDelivered, grantsOf(a)); diff != "" {
		t.Errorf("grants after delivery (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Member_g-sales", "Owner_g-sales", "sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings (-want +got):\n%s", diff)
	}
	if got := w.holdings(t, "bob"); len(got) != 0 {
		t.Errorf("bob holds %v", got)
	}
	held := must[[]access.AppRoleAssignment](t)(firstPage(w.svc.AppRoleAssignedTo(w.ctx, "sp-crm", access.Page{Limit: 10})))
	if len(held) != 1 || held[0].PrincipalID != "alice" || held[0].PrincipalType != "User" || held[0].PrincipalDisplayName != "User alice" ||
		held[0].ResourceDisplayName != "CRM" || held[0].AppRoleID != "crm-user" {
		t.Errorf("app role assignments of sp-crm %+v, want alice's crm-user", held)
	}
	history := must[[]access.HistoryEntry](t)(firstPage(w.svc.History(w.ctx, admin, r.ID, access.Page{Limit: 100})))
	if !slices.ContainsFunc(history, func(h access.HistoryEntry) bool {
		return h.Action == "delivered" && h.Detail == "3 resource role(s) granted"
	}) {
		t.Errorf("history %+v has no entry for the granted roles", history)
	}
}

// A package that grants nothing is delivered at once, with no work queued;
// the submission still answers with the request as accepted, as Graph does.
func TestServiceDeliversAPackageWithoutRolesAtOnce(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-none", nil)
	answer := must[access.Request](t)(w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminAdd,
		AccessPackageID: "pkg-none", PolicyID: "pol-pkg-none", TargetID: "alice"}))
	if answer.State != access.StateSubmitted || answer.Status != access.StatusAccepted || answer.AssignmentID != "" ||
		answer.CompletedDateTime != nil || answer.CreatedDateTime.IsZero() {
		t.Errorf("the submission answered %s/%s, assignment %q, completed %v, created %v; want the request as accepted",
			answer.State, answer.Status, answer.AssignmentID, answer.CompletedDateTime, answer.CreatedDateTime)
	}
	r := must[access.Request](t)(w.svc.Request(w.ctx, admin, answer.ID))
	if r.State != access.StateDelivered || !r.CreatedDateTime.Equal(answer.CreatedDateTime) {
		t.Errorf("request %s created %v, want delivered at submission, created when accepted (%v)", r.State, r.CreatedDateTime, answer.CreatedDateTime)
	}
	history := must[[]access.HistoryEntry](t)(firstPage(w.svc.History(w.ctx, admin, r.ID, access.Page{Limit: 100})))
	if len(history) < 2 || history[0].Action != "submitted" || history[0].State != access.StateSubmitted || history[0].Status != access.StatusAccepted {
		t.Errorf("history %+v does not begin with the request accepted", history)
	}
	if a := w.assignment(t, r.AssignmentID); a.State != access.AssignmentDelivered || len(a.Grants) != 0 {
		t.Errorf("assignment %s with grants %+v, want delivered with none", a.State, a.Grants)
	}
}

func TestServicePartialDeliveryAndReprocess(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", nil, member("g-ops"), appRole("sp-crm", "crm-user"))
	r := w.submit(t, "pkg-ops", "alice")
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops")) // gone between submission and delivery
	w.drain(t)

	r, a := w.wantState(t, r.ID, access.StatePartiallyDelivered, access.AssignmentPartiallyDelivered, access.StatusPartiallyDelivered)
	if r.Status != access.StatusPartiallyDelivered {
		t.Errorf("request status %s, want PartiallyDelivered", r.Status)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-ops", access.GrantFailed, false}, {"crm-user", access.GrantDelivered, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if failed := a.Grants[0]; failed.Error != `no group with id "g-ops"` {
		t.Errorf("the failed grant says %q, want why: the group is gone", failed.Error)
	}
	if diff := cmp.Diff([]string{"sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings (-want +got):\n%s", diff)
	}

	// The group is back: reprocessing grants what failed, and only that.
	must[access.Group](t)(w.svc.CreateGroup(w.ctx, newGroup("g-ops"), nil, nil))
	noErr(t, w.svc.Reprocess(w.ctx, admin, r.ID, nil))
	if got := w.request(t, r.ID); got.State != access.StateDelivering || got.CompletedDateTime != nil {
		t.Errorf("reprocessed request %s, completed %v; want delivering again", got.State, got.CompletedDateTime)
	}
	w.drain(t)
	_, a = w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	if diff := cmp.Diff([]grantView{{"Member_g-ops", access.GrantDelivered, false}, {"crm-user", access.GrantDelivered, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants after reprocess (-want +got):\n%s", diff)
	}
	if a.Grants[0].Error != "" {
		t.Errorf("a granted role still says %q", a.Grants[0].Error)
	}
	if diff := cmp.Diff([]string{"Member_g-ops", "sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings after reprocess (-want +got):\n%s", diff)
	}
}

func TestServiceDeliveryFailsWhenNoRoleCanBeGranted(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", nil, member("g-ops"))
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops")) // the package still names the resource; its group is gone
	r := w.submit(t, "pkg-ops", "alice")
	w.drain(t)
	r, a := w.wantState(t, r.ID, access.StateDeliveryFailed, access.AssignmentDeliveryFailed, access.StatusDeliveryFailed)
	if r.Status != access.StatusDeliveryFailed || r.CompletedDateTime == nil {
		t.Errorf("request %s, completed %v; want DeliveryFailed and completed", r.Status, r.CompletedDateTime)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-ops", access.GrantFailed, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if got := w.holdings(t, "alice"); len(got) != 0 {
		t.Errorf("alice holds %v", got)
	}
}

// flakyProvisioner fails the grants it is asked for, as often as it is told
// (forever when fails is negative), then lets the built-in directory grant.
type flakyProvisioner struct {
	access.Provisioner
	err error

	mu     sync.Mutex
	fails  int
	grants int // calls to Grant
}

func (p *flakyProvisioner) Grant(tx access.Tx, target access.Subject, g access.Grant) error {
	p.mu.Lock()
	p.grants++
	fail := p.fails != 0
	if p.fails > 0 {
		p.fails--
	}
	p.mu.Unlock()
	if fail {
		return p.err
	}
	return p.Provisioner.Grant(tx, target, g)
}

func (w *dlWorld) flaky(err error, fails int) *flakyProvisioner {
	p := &flakyProvisioner{Provisioner: access.DirectoryProvisioner{Clock: w.clock, IDs: w.ids}, err: err, fails: fails}
	w.svc.SetProvisioner(p)
	return p
}

// nextWorkAt is when the next queued work falls due.
func (w *dlWorld) nextWorkAt(t *testing.T) time.Time {
	t.Helper()
	at, ok, err := w.svc.NextWorkAt(w.ctx)
	noErr(t, err)
	if !ok {
		t.Fatal("no work is queued")
	}
	return at
}

var errThrottled = access.E(access.KindThrottled, "the directory asks to slow down")

// A grant the provisioner refuses for a while stays pending and is tried
// again with backoff until it goes through.
func TestServiceDeliveryRetriesWithBackoff(t *testing.T) {
	w := newDlWorld(t)
	flaky := w.flaky(errThrottled, 2)
	w.pkg(t, "pkg-sales", nil, member("g-sales"))
	r := w.submit(t, "pkg-sales", "alice")

	for attempt, backoff := range []time.Duration{access.Backoff(1), access.Backoff(2)} {
		w.drain(t)
		_, a := w.wantState(t, r.ID, access.StateDelivering, access.AssignmentDelivering, access.StatusDelivering)
		g := a.Grants[0]
		if g.Status != access.GrantPending || g.Error != errThrottled.Message || g.FirstAttemptAt == nil || !g.FirstAttemptAt.Equal(t0) {
			t.Errorf("after failed attempt %d: grant %s, error %q, first attempt %v; want pending, the error, first tried at %s",
				attempt+1, g.Status, g.Error, g.FirstAttemptAt, t0)
		}
		if next, want := w.nextWorkAt(t), w.svc.Now().Add(backoff); !next.Equal(want) {
			t.Errorf("after failed attempt %d the delivery is due again at %s, want %s (backoff %s)", attempt+1, next, want, backoff)
		}
		w.clock.Advance(backoff)
	}
	w.drain(t)
	_, a := w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	if g := a.Grants[0]; g.Status != access.GrantDelivered || g.Error != "" {
		t.Errorf("grant %s with error %q, want delivered and no error", g.Status, g.Error)
	}
	if diff := cmp.Diff([]string{"Member_g-sales"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings (-want +got):\n%s", diff)
	}
	flaky.mu.Lock()
	defer flaky.mu.Unlock()
	if flaky.grants != 3 {
		t.Errorf("%d grant attempts, want 3 (two refused, one granted)", flaky.grants)
	}
}

// A grant that never goes through fails once the retry window has passed,
// counted from its first attempt, and not before.
func TestServiceDeliveryGivesUpAfterTheRetryWindow(t *testing.T) {
	w := newDlWorld(t)
	w.flaky(errThrottled, -1)
	w.svc.SetDeliveryRetryFor(10 * time.Minute)
	w.pkg(t, "pkg-sales", nil, member("g-sales"))
	r := w.submit(t, "pkg-sales", "alice")
	w.drain(t)

	w.clock.Set(t0.Add(9 * time.Minute))
	w.drain(t)
	_, a := w.wantState(t, r.ID, access.StateDelivering, access.AssignmentDelivering, access.StatusDelivering)
	if g := a.Grants[0]; g.Status != access.GrantPending {
		t.Errorf("inside the retry window the grant is %s, want pending", g.Status)
	}

	w.clock.Set(t0.Add(time.Hour))
	w.drain(t)
	_, a = w.wantState(t, r.ID, access.StateDeliveryFailed, access.AssignmentDeliveryFailed, access.StatusDeliveryFailed)
	if g := a.Grants[0]; g.Status != access.GrantFailed || g.Error != errThrottled.Message {
		t.Errorf("after the retry window the grant is %s with error %q, want failed with the provisioner's error", g.Status, g.Error)
	}
	if _, ok, err := w.svc.NextWorkAt(w.ctx); ok || err != nil {
		t.Errorf("work is still queued after the delivery failed (%v)", err)
	}
}

// accessd's own failure (the store) is no failed grant: the whole work
// fails, nothing of it is kept, and the engine tries it again.
func TestServiceDeliveryInternalErrorFailsTheWork(t *testing.T) {
	w := newDlWorld(t)
	broken := access.Internal(errors.New("the directory's database is down"))
	w.flaky(broken, 2) // one for the claim's own try, one for RunTimer's
	w.pkg(t, "pkg-sales", nil, member("g-sales"))
	r := w.submit(t, "pkg-sales", "alice")

	claimed, err := w.svc.ClaimAndBegin(w.ctx, "test-engine", time.Minute, 10)
	noErr(t, err)
	if len(claimed) != 1 || claimed[0].Done || claimed[0].Work.Kind != access.WorkDeliver {
		t.Fatalf("claimed %+v, want the delivery, claimed but not done: the claim's transaction failed", claimed)
	}
	err = w.svc.RunTimer(w.ctx, claimed[0].Work)
	if access.KindOf(err) != access.KindInternal || !errors.Is(err, broken) {
		t.Fatalf("RunTimer: %v, want the internal error", err)
	}
	_, a := w.wantState(t, r.ID, access.StateDelivering, access.AssignmentDelivering, access.StatusDelivering)
	if g := a.Grants[0]; g.Status != access.GrantPending || g.Error != "" || g.FirstAttemptAt != nil {
		t.Errorf("grant %s, error %q, first attempt %v; want it untouched: pending, no error, not yet attempted", g.Status, g.Error, g.FirstAttemptAt)
	}

	// As the engine does: retry with backoff, and then it goes through.
	noErr(t, w.svc.RetryWork(w.ctx, claimed[0].Work))
	w.clock.Advance(access.Backoff(0))
	w.drain(t)
	w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	if diff := cmp.Diff([]string{"Member_g-sales"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings (-want +got):\n%s", diff)
	}
}

// Two packages that grant the same role: the role stays until the last
// assignment that grants it ends, in either order.
func TestServiceOverlappingGrants(t *testing.T) {
	for _, tc := range []struct {
		name        string
		first, last string
	}{{"A removed first", "pkg-a", "pkg-b"}, {"B removed first", "pkg-b", "pkg-a"}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newDlWorld(t)
			w.pkg(t, "pkg-a", nil, member("g-sales"))
			w.pkg(t, "pkg-b", nil, member("g-sales"), appRole("sp-crm", "crm-user"))
			assignments := map[string]string{}
			for _, p := range []string{"pkg-a", "pkg-b"} {
				r := w.submit(t, p, "alice")
				w.drain(t)
				_, a := w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
				if a.Grants[0].HeldBefore {
					t.Errorf("%s: the membership counts as held before, but accessd granted it", p)
				}
				assignments[p] = r.AssignmentID
			}
			if diff := cmp.Diff([]string{"Member_g-sales", "sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
				t.Fatalf("alice's holdings with both (-want +got):\n%s", diff)
			}

			end := func(p string) {
				t.Helper()
				r := w.remove(t, assignments[p])
				w.drain(t)
				if got := w.request(t, r.ID); got.State != access.StateDelivered {
					t.Errorf("removal of %s is %s, want delivered", p, got.State)
				}
				if a := w.assignment(t, assignments[p]); a.State != access.AssignmentExpired || a.Grants[0].Status != access.GrantRemoved {
					t.Errorf("assignment of %s %s with grants %+v, want expired and removed", p, a.State, grantsOf(a))
				}
			}
			end(tc.first)
			want := []string{"Member_g-sales"}
			if tc.last == "pkg-b" {
				want = append(want, "sp-crm/crm-user")
			}
			if diff := cmp.Diff(want, w.holdings(t, "alice")); diff != "" {
				t.Errorf("alice's holdings after %s ended (-want +got):\n%s", tc.first, diff)
			}
			end(tc.last)
			if got := w.holdings(t, "alice"); len(got) != 0 {
				t.Errorf("alice still holds %v after both ended", got)
			}
		})
	}
}

// A role the target held before accessd granted it is left to them when
// the assignment ends.
func TestServiceRoleHeldBeforeStays(t *testing.T) {
	for _, tc := range []struct {
		name string
		role access.RoleScopeInput
		give func(w *dlWorld) error
		held string
	}{
		{"a group membership", member("g-sales"),
			func(w *dlWorld) error { return w.svc.AddToGroup(w.ctx, "g-sales", access.GroupMembers, "alice") }, "Member_g-sales"},
		{"a group ownership", owner("g-sales"),
			func(w *dlWorld) error { return w.svc.AddToGroup(w.ctx, "g-sales", access.GroupOwners, "alice") }, "Owner_g-sales"},
		{"an app role", appRole("sp-crm", "crm-user"), func(w *dlWorld) error {
			_, err := w.svc.AssignAppRole(w.ctx, "sp-crm", "alice", "crm-user")
			return err
		}, "sp-crm/crm-user"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newDlWorld(t)
			w.pkg(t, "pkg-1", nil, tc.role, member("g-ops"))
			noErr(t, tc.give(w))
			r := w.submit(t, "pkg-1", "alice")
			w.drain(t)
			_, a := w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
			want := []grantView{{tc.role.RoleOriginID, access.GrantDelivered, true}, {"Member_g-ops", access.GrantDelivered, false}}
			if diff := cmp.Diff(want, grantsOf(a)); diff != "" {
				t.Errorf("grants (-want +got):\n%s", diff)
			}

			w.remove(t, a.ID)
			w.drain(t)
			if a := w.assignment(t, a.ID); a.State != access.AssignmentExpired {
				t.Errorf("assignment %s, want expired", a.State)
			}
			// What accessd granted goes; what alice held before stays.
			if diff := cmp.Diff([]string{tc.held}, w.holdings(t, "alice")); diff != "" {
				t.Errorf("alice's holdings after the removal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServiceExpiryTakesAccessAway(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-sales", expiresAfter("P30D"), member("g-sales"), appRole("sp-crm", "crm-user"))
	r := w.submit(t, "pkg-sales", "alice")
	w.drain(t)
	_, a := w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	end := *a.End()
	if want := t0.AddDate(0, 0, 30); !end.Equal(want) {
		t.Fatalf("the assignment ends %s, want %s", end, want)
	}

	w.clock.Set(end.Add(-time.Minute))
	w.drain(t)
	if a := w.assignment(t, a.ID); a.State != access.AssignmentDelivered {
		t.Errorf("a minute before its end the assignment is %s, want delivered", a.State)
	}
	if diff := cmp.Diff([]string{"Member_g-sales", "sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings a minute before the end (-want +got):\n%s", diff)
	}

	w.clock.Set(end.Add(time.Hour))
	w.drain(t)
	removals := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, access.RequestFilter{AssignmentID: a.ID, State: access.StateDelivered}, access.Page{Limit: 10})))
	removals = slices.DeleteFunc(removals, func(x access.Request) bool { return x.Type != access.RequestSystemRemove })
	if len(removals) != 1 || !removals[0].CreatedDateTime.Equal(end) {
		t.Errorf("delivered systemRemove requests %+v, want one, made at the end %s", removals, end)
	}
	a = w.assignment(t, a.ID)
	if a.State != access.AssignmentExpired || a.Status != access.StatusExpiredNotified || a.ExpiredDateTime == nil || !a.ExpiredDateTime.Equal(end) {
		t.Errorf("assignment %s/%s expired at %v; want expired/%s at %s", a.State, a.Status, a.ExpiredDateTime, access.StatusExpiredNotified, end)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-sales", access.GrantRemoved, false}, {"crm-user", access.GrantRemoved, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants after the expiry (-want +got):\n%s", diff)
	}
	if got := w.holdings(t, "alice"); len(got) != 0 {
		t.Errorf("alice still holds %v after the expiry", got)
	}
}

// expiryStep is a moment to move the clock to, and how the assignment
// stands then.
type expiryStep struct {
	name       string
	at         time.Time
	wantState  access.AssignmentState
	wantStatus string
}

func (w *dlWorld) walk(t *testing.T, assignmentID string, steps []expiryStep) {
	t.Helper()
	for _, s := range steps {
		w.clock.Set(s.at)
		w.drain(t)
		a := w.assignment(t, assignmentID)
		if a.State != s.wantState || a.Status != s.wantStatus {
			t.Errorf("%s: assignment %s/%s, want %s/%s", s.name, a.State, a.Status, s.wantState, s.wantStatus)
		}
		wantHeld := s.wantState == access.AssignmentDelivered
		if held := slices.Contains(w.holdings(t, "alice"), "Member_g-sales"); held != wantHeld {
			t.Errorf("%s: alice a member %v, want %v", s.name, held, wantHeld)
		}
	}
}

// Without an extension bound, the pre-expiration stages still mark the
// assignment: 14 days and 1 day before its end.
func TestServicePreExpiryWithoutExtension(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-sales", expiresAfter("P30D"), member("g-sales"))
	r := w.submit(t, "pkg-sales", "alice")
	w.drain(t)
	end := *w.assignment(t, r.AssignmentID).End()
	const near14, near1 = "NearExpiry14DaysNotificationTriggered", "NearExpiry1DayNotificationTriggered"
	w.walk(t, r.AssignmentID, []expiryStep{
		{"a minute before the 14-day stage", end.AddDate(0, 0, -14).Add(-time.Minute), access.AssignmentDelivered, access.StatusDelivered},
		{"at the 14-day stage", end.AddDate(0, 0, -14), access.AssignmentDelivered, near14},
		{"a minute before the 1-day stage", end.AddDate(0, 0, -1).Add(-time.Minute), access.AssignmentDelivered, near14},
		{"at the 1-day stage", end.AddDate(0, 0, -1), access.AssignmentDelivered, near1},
		{"at the end", end, access.AssignmentExpired, access.StatusExpiredNotified},
	})
}

// Extending an assignment moves its expiry and both pre-expiration stages:
// nothing happens at the old times, everything at the new ones.
func TestServiceUpdateMovesTheExpiry(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-sales", expiresAfter("P30D"), member("g-sales"))
	r := w.submit(t, "pkg-sales", "alice")
	w.drain(t)
	oldEnd := *w.assignment(t, r.AssignmentID).End()
	newEnd := oldEnd.AddDate(0, 0, 30)

	w.clock.Advance(24 * time.Hour)
	update := must[access.Request](t)(w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminUpdate,
		AssignmentID: r.AssignmentID, Schedule: &access.Schedule{
			Expiration: access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: &newEnd}}}))
	w.drain(t)
	if got := w.request(t, update.ID); got.State != access.StateDelivered {
		t.Fatalf("update %s, want delivered", got.State)
	}
	a := w.assignment(t, r.AssignmentID)
	if end := a.End(); end == nil || !end.Equal(newEnd) || a.LastRequestID != update.ID {
		t.Fatalf("assignment ends %v, last request %s; want %s, the update", end, a.LastRequestID, newEnd)
	}

	const near14, near1 = "NearExpiry14DaysNotificationTriggered", "NearExpiry1DayNotificationTriggered"
	w.walk(t, r.AssignmentID, []expiryStep{
		{"the old 14-day stage", oldEnd.AddDate(0, 0, -14), access.AssignmentDelivered, access.StatusDelivered},
		{"the old 1-day stage", oldEnd.AddDate(0, 0, -1), access.AssignmentDelivered, access.StatusDelivered},
		{"the old end", oldEnd.Add(time.Minute), access.AssignmentDelivered, access.StatusDelivered},
		{"the new 14-day stage", newEnd.AddDate(0, 0, -14), access.AssignmentDelivered, near14},
		{"the new 1-day stage", newEnd.AddDate(0, 0, -1), access.AssignmentDelivered, near1},
		{"the new end", newEnd, access.AssignmentExpired, access.StatusExpiredNotified},
	})
	removals := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, access.RequestFilter{AssignmentID: r.AssignmentID}, access.Page{Limit: 10})))
	removals = slices.DeleteFunc(removals, func(x access.Request) bool { return x.Type != access.RequestSystemRemove })
	if len(removals) != 1 || !removals[0].CreatedDateTime.Equal(newEnd) {
		t.Errorf("systemRemove requests %+v, want one, at the new end %s", removals, newEnd)
	}
}

// A role accessd failed to grant is not taken away when the assignment
// ends: the target got it some other way, and keeps it. (Regression: the
// removal revoked every grant that was not removed already, failed ones
// too, and so took away a membership an administrator had given.)
func TestServiceRemovalLeavesAFailedGrantAlone(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", nil, member("g-ops"), appRole("sp-crm", "crm-user"))
	r := w.submit(t, "pkg-ops", "alice")
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops"))
	w.drain(t)
	w.wantState(t, r.ID, access.StatePartiallyDelivered, access.AssignmentPartiallyDelivered, access.StatusPartiallyDelivered)

	// The group is back, and an administrator makes alice a member directly.
	must[access.Group](t)(w.svc.CreateGroup(w.ctx, newGroup("g-ops"), []string{"alice"}, nil))
	removal := w.remove(t, r.AssignmentID)
	w.drain(t)
	if got := w.request(t, removal.ID); got.State != access.StateDelivered {
		t.Errorf("removal %s, want delivered", got.State)
	}
	a := w.assignment(t, r.AssignmentID)
	if a.State != access.AssignmentExpired {
		t.Errorf("assignment %s, want expired", a.State)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-ops", access.GrantRemoved, false}, {"crm-user", access.GrantRemoved, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants after the removal (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Member_g-ops"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings after the removal (-want +got):\n%s", diff)
	}
}

// A role the provisioner fails to take away keeps the assignment active
// and the role recorded as held; reprocessing the removal tries it again.
func TestServiceFailedRevokeIsRetriedByReprocess(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-sales", nil, member("g-sales"), appRole("sp-crm", "crm-user"))
	r := w.submit(t, "pkg-sales", "alice")
	w.drain(t)
	w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)

	stuck := &stuckRevokes{Provisioner: access.DirectoryProvisioner{Clock: w.clock, IDs: w.ids}, appRole: "crm-user"}
	w.svc.SetProvisioner(stuck)
	w.svc.SetDeliveryRetryFor(time.Minute)
	removal := w.remove(t, r.AssignmentID)
	w.drain(t)
	w.clock.Advance(time.Hour) // past the retry window
	w.drain(t)
	got := w.request(t, removal.ID)
	if got.State != access.StatePartiallyDelivered {
		t.Errorf("removal %s, want partiallyDelivered: one role could not be taken away", got.State)
	}
	a := w.assignment(t, r.AssignmentID)
	if !a.State.IsActive() {
		t.Errorf("assignment %s, want still active", a.State)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-sales", access.GrantRemoved, false}, {"crm-user", access.GrantDelivered, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants after the failed removal (-want +got):\n%s", diff)
	}
	if a.Grants[1].Error != errStuck.Message {
		t.Errorf("the role that stayed says %q, want why", a.Grants[1].Error)
	}
	if diff := cmp.Diff([]string{"sp-crm/crm-user"}, w.holdings(t, "alice")); diff != "" {
		t.Errorf("alice's holdings after the failed removal (-want +got):\n%s", diff)
	}

	stuck.recover()
	noErr(t, w.svc.Reprocess(w.ctx, admin, removal.ID, nil))
	w.drain(t)
	if got := w.request(t, removal.ID); got.State != access.StateDelivered {
		t.Errorf("reprocessed removal %s, want delivered", got.State)
	}
	a = w.assignment(t, r.AssignmentID)
	if a.State != access.AssignmentExpired {
		t.Errorf("assignment %s after the reprocessed removal, want expired", a.State)
	}
	if got := w.holdings(t, "alice"); len(got) != 0 {
		t.Errorf("alice still holds %v", got)
	}
}

var errStuck = access.E(access.KindConflict, "the application refuses to let go of the role")

// stuckRevokes refuses to take one app role away until it recovers.
type stuckRevokes struct {
	access.Provisioner
	appRole string

	mu        sync.Mutex
	recovered bool
}

func (p *stuckRevokes) Revoke(tx access.Tx, target access.Subject, g access.Grant) error {
	p.mu.Lock()
	stuck := !p.recovered && g.RoleOriginID == p.appRole
	p.mu.Unlock()
	if stuck {
		return errStuck
	}
	return p.Provisioner.Revoke(tx, target, g)
}

func (p *stuckRevokes) recover() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.recovered = true
}

// A request whose delivery failed can be deleted. (Regression: its
// deliveryFailed assignment counted as existing, and the 409 asked for an
// adminRemove, which a deliveryFailed assignment refuses.)
func TestServiceDeleteRequestWhoseDeliveryFailed(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", nil, member("g-ops"))
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops"))
	r := w.submit(t, "pkg-ops", "alice")
	w.drain(t)
	w.wantState(t, r.ID, access.StateDeliveryFailed, access.AssignmentDeliveryFailed, access.StatusDeliveryFailed)
	_, err := w.svc.SubmitRequest(w.ctx, w.app, access.RequestInput{Type: access.RequestAdminRemove, AssignmentID: r.AssignmentID})
	wantKind(t, err, access.KindConflict, "deliveryFailed")

	noErr(t, w.svc.DeleteRequest(w.ctx, admin, r.ID))
	if _, err := w.svc.Request(w.ctx, admin, r.ID); !access.IsNotFound(err) {
		t.Errorf("deleted request: %v, want not found", err)
	}

	// A partially delivered one still holds access: it is removed first.
	w.pkg(t, "pkg-mixed", nil, member("g-ops"), member("g-sales"))
	partial := w.submit(t, "pkg-mixed", "bob")
	w.drain(t)
	w.wantState(t, partial.ID, access.StatePartiallyDelivered, access.AssignmentPartiallyDelivered, access.StatusPartiallyDelivered)
	wantKind(t, w.svc.DeleteRequest(w.ctx, admin, partial.ID), access.KindConflict, "adminRemove")
}

// An assignment whose end comes while its roles are still being granted
// ends once the delivery is over, however that goes. (Regression: the
// expiry ended it at once, and the delivery, finishing later, made the
// expired assignment delivered again, with no end left to come.)
func TestServiceExpiryWaitsForTheDelivery(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fails        int // grant attempts refused: 14 last until 33.5 minutes in, past the end at 30
		wantRequest  access.RequestState
		wantState    access.AssignmentState
		wantStatus   string
		wantRemovals int
	}{
		{"the roles are granted after the end", 14, access.StateDelivered, access.AssignmentExpired, access.StatusExpiredNotified, 1},
		{"the delivery fails after the end", -1, access.StateDeliveryFailed, access.AssignmentDeliveryFailed, access.StatusDeliveryFailed, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newDlWorld(t)
			w.flaky(errThrottled, tc.fails)
			w.pkg(t, "pkg-sales", expiresAfter("PT30M"), member("g-sales"))
			r := w.submit(t, "pkg-sales", "alice")
			w.drain(t)
			end := *w.assignment(t, r.AssignmentID).End()

			w.clock.Set(t0.Add(2 * time.Hour)) // past the end and the retry window
			w.drain(t)
			got := w.request(t, r.ID)
			a := w.assignment(t, r.AssignmentID)
			if got.State != tc.wantRequest || a.State != tc.wantState || a.Status != tc.wantStatus {
				t.Errorf("request %s, assignment %s/%s; want request %s, assignment %s/%s",
					got.State, a.State, a.Status, tc.wantRequest, tc.wantState, tc.wantStatus)
			}
			if tc.wantState == access.AssignmentExpired && (a.ExpiredDateTime == nil || a.ExpiredDateTime.Before(end)) {
				t.Errorf("expired at %v, want not before the end %s", a.ExpiredDateTime, end)
			}
			all := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, access.RequestFilter{AssignmentID: a.ID}, access.Page{Limit: 10})))
			removals := slices.DeleteFunc(all, func(x access.Request) bool { return x.Type != access.RequestSystemRemove })
			if len(removals) != tc.wantRemovals {
				t.Errorf("%d systemRemove requests, want %d", len(removals), tc.wantRemovals)
			}
			if got := w.holdings(t, "alice"); len(got) != 0 {
				t.Errorf("alice holds %v after the end", got)
			}
			if _, ok, err := w.svc.NextWorkAt(w.ctx); ok || err != nil {
				t.Errorf("work is still queued (%v)", err)
			}
		})
	}
}

// A failed delivery reprocessed after the assignment's end still ends:
// the roles are granted and taken away again. (Regression: the expiry had
// come and gone while the assignment was not active, and the reprocessed
// assignment was delivered with no end left to come.)
func TestServiceReprocessAfterTheEndStillExpires(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", expiresAfter("P7D"), member("g-ops"))
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops"))
	r := w.submit(t, "pkg-ops", "alice")
	w.drain(t)
	w.wantState(t, r.ID, access.StateDeliveryFailed, access.AssignmentDeliveryFailed, access.StatusDeliveryFailed)
	end := *w.assignment(t, r.AssignmentID).End()

	w.clock.Set(end.Add(24 * time.Hour)) // past the end, inside the reprocess window
	w.drain(t)
	must[access.Group](t)(w.svc.CreateGroup(w.ctx, newGroup("g-ops"), nil, nil))
	noErr(t, w.svc.Reprocess(w.ctx, admin, r.ID, nil))
	w.drain(t)
	if got := w.request(t, r.ID); got.State != access.StateDelivered {
		t.Errorf("reprocessed request %s, want delivered", got.State)
	}
	a := w.assignment(t, r.AssignmentID)
	if a.State != access.AssignmentExpired || a.Status != access.StatusExpiredNotified {
		t.Errorf("assignment %s/%s, want expired/%s: its end has passed", a.State, a.Status, access.StatusExpiredNotified)
	}
	if diff := cmp.Diff([]grantView{{"Member_g-ops", access.GrantRemoved, false}}, grantsOf(a)); diff != "" {
		t.Errorf("grants (-want +got):\n%s", diff)
	}
	if got := w.holdings(t, "alice"); len(got) != 0 {
		t.Errorf("alice holds %v after the end", got)
	}
}

// Reprocessing before the end keeps the assignment's timers as they were:
// one expiry, at the end.
func TestServiceReprocessBeforeTheEndKeepsOneExpiry(t *testing.T) {
	w := newDlWorld(t)
	w.pkg(t, "pkg-ops", expiresAfter("P30D"), member("g-ops"), member("g-sales"))
	r := w.submit(t, "pkg-ops", "alice")
	noErr(t, w.svc.DeleteGroup(w.ctx, "g-ops"))
	w.drain(t)
	w.wantState(t, r.ID, access.StatePartiallyDelivered, access.AssignmentPartiallyDelivered, access.StatusPartiallyDelivered)
	end := *w.assignment(t, r.AssignmentID).End()

	w.clock.Advance(24 * time.Hour)
	must[access.Group](t)(w.svc.CreateGroup(w.ctx, newGroup("g-ops"), nil, nil))
	noErr(t, w.svc.Reprocess(w.ctx, admin, r.ID, nil))
	w.drain(t)
	w.wantState(t, r.ID, access.StateDelivered, access.AssignmentDelivered, access.StatusDelivered)
	if next := w.nextWorkAt(t); !next.Equal(end.AddDate(0, 0, -14)) {
		t.Errorf("the next work is at %s, want the 14-day stage %s", next, end.AddDate(0, 0, -14))
	}
	w.walk(t, r.AssignmentID, []expiryStep{
		{"the 14-day stage", end.AddDate(0, 0, -14), access.AssignmentDelivered, "NearExpiry14DaysNotificationTriggered"},
		{"the end", end, access.AssignmentExpired, access.StatusExpiredNotified},
	})
	all := must[[]access.Request](t)(firstPage(w.svc.Requests(w.ctx, access.RequestFilter{AssignmentID: r.AssignmentID}, access.Page{Limit: 10})))
	if removals := slices.DeleteFunc(all, func(x access.Request) bool { return x.Type != access.RequestSystemRemove }); len(removals) != 1 {
		t.Errorf("%d systemRemove requests, want 1", len(removals))
	}
}
