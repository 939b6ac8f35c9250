package access

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scenario tables for the pure request state machine of lifecycle.go
// (docs/design.md, "The request state machine"). No IO: requests are built by hand, the time is
// fixed and ids come from a counter.

var (
	lcNow   = time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	lcActor = Subject{ID: "actor-1", Kind: SubjectUser, DisplayName: "Ada Admin"}
	lcAlice = Subject{ID: "user-alice", Kind: SubjectUser, DisplayName: "Alice", PrincipalName: "alice@contoso.test", Email: "alice@contoso.test"}
	lcApp   = Subject{ID: "sp-admin", Kind: SubjectServicePrincipal, DisplayName: "Admin app"}

	lcAddTypes    = []RequestType{RequestAdminAdd, RequestUserAdd}
	lcUpdateTypes = []RequestType{RequestAdminUpdate, RequestUserUpdate}
	lcRemoveTypes = []RequestType{RequestAdminRemove, RequestUserRemove, RequestSystemRemove}
	lcAllTypes    = []RequestType{RequestAdminAdd, RequestUserAdd, RequestAdminUpdate, RequestUserUpdate,
		RequestAdminRemove, RequestUserRemove, RequestSystemRemove}
	lcAllStates = []RequestState{StateSubmitted, StatePendingApproval, StateScheduled, StateDelivering, StateDelivered,
		StatePartiallyDelivered, StateDeliveryFailed, StateDenied, StateCanceled}
)

// lcSkipBug keeps the suite green for a row that shows a known bug. Set
// ACCESSD_SHOW_BUGS=1 to run such rows and see them fail.
func lcSkipBug(t *testing.T, bug string) {
	t.Helper()
	if bug != "" && os.Getenv("ACCESSD_SHOW_BUGS") == "" {
		t.Skip("BUG: " + bug)
	}
}

// lcDay is now moved by whole days.
func lcDay(n int) time.Time { return lcNow.AddDate(0, 0, n) }

func lcAt(t time.Time) *time.Time { return &t }

// lcEnv is the environment of every transition: a fixed time and a counter for ids.
func lcEnv(now time.Time) Env {
	n := 0
	return Env{Now: now, Actor: lcActor, NewID: func() string { n++; return fmt.Sprintf("id-%03d", n) }}
}

func lcAfterDuration(d string) Expiration {
	return Expiration{Type: ExpirationAfterDuration, Duration: MustDuration(d)}
}

func lcAfterDateTime(t time.Time) Expiration {
	return Expiration{Type: ExpirationAfterDateTime, EndDateTime: lcAt(t)}
}

func lcExtID(s Stage) string { return "ext-" + string(s) }

// lcGo binds a launch-and-continue extension to a stage.
func lcGo(s Stage) StageBinding { return StageBinding{Stage: s, ExtensionID: lcExtID(s)} }

// lcWait binds a launch-and-wait extension to a stage.
func lcWait(s Stage, timeout string) StageBinding {
	return StageBinding{Stage: s, ExtensionID: lcExtID(s), Waits: true, CallbackTimeout: MustDuration(timeout)}
}

// lcBase is the request every row starts from: the policy expires
// assignments after P30D and binds nothing; updates ask for a new end at
// now+100d; updates and removes name asg-1.
func lcBase(typ RequestType) Request {
	r := Request{
		ID: "req-1", Type: typ, Justification: "needed for work",
		AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1",
		Target: lcAlice, Requestor: lcApp,
		Policy: PolicySnapshot{DisplayName: "Employees", Expiration: lcAfterDuration("P30D")},
	}
	if !typ.IsAdd() {
		r.AssignmentID = "asg-1"
	}
	if typ.IsUpdate() {
		r.Schedule.Expiration = lcAfterDateTime(lcDay(100))
	}
	if typ == RequestSystemRemove {
		r.Requestor = Subject{ID: "accessd", DisplayName: "accessd"}
	}
	return r
}

// lcExisting is the assignment updates and removes act on: it started 20
// days ago and ends 10 days from now.
func lcExisting() *Assignment {
	start := lcDay(-20)
	return &Assignment{
		ID: "asg-1", AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1", Target: lcAlice,
		State: AssignmentDelivered, Status: StatusDelivered, CreatedDateTime: start,
		Schedule: Schedule{StartDateTime: lcAt(start), Expiration: lcAfterDateTime(lcDay(10))},
	}
}

// Options that change the base request.
type lcOpt func(*Request)

func lcBind(bs ...StageBinding) lcOpt {
	return func(r *Request) { r.Policy.Bindings = append(r.Policy.Bindings, bs...) }
}

var lcApproval lcOpt = func(r *Request) { r.Policy.ApprovalRequired = true }

func lcStart(t time.Time) lcOpt { return func(r *Request) { r.Schedule.StartDateTime = lcAt(t) } }

func lcPolicyExp(e Expiration) lcOpt { return func(r *Request) { r.Policy.Expiration = e } }

func lcCustomExp(e Expiration) lcOpt { return func(r *Request) { r.Schedule.Expiration = e } }

// lcAt sets where a request stands, for rows that start mid-lifecycle.
func lcIn(state RequestState, status string, step Step) lcOpt {
	return func(r *Request) {
		r.State, r.Status, r.Step = state, status, step
		r.CreatedDateTime = lcDay(-1)
	}
}

// lcCall is the transition a row makes.
type lcCall struct {
	name string
	fn   func(r Request, a *Assignment, env Env) (Transition, error)
}

var (
	lcSubmit = lcCall{"Submit", func(r Request, a *Assignment, env Env) (Transition, error) {
		return Submit(r, a, env), nil
	}}
	lcContinue = lcCall{"Continue", func(r Request, a *Assignment, env Env) (Transition, error) {
		return Continue(r, a, env), nil
	}}
	lcCancel = lcCall{"Cancel", func(r Request, _ *Assignment, env Env) (Transition, error) {
		return Cancel(r, env)
	}}
)

func lcFail(stage Stage, status string) lcCall {
	return lcCall{"FailStage", func(r Request, _ *Assignment, env Env) (Transition, error) {
		return FailStage(r, stage, status, env), nil
	}}
}

// lcWork is a unit of work as a row expects it. Asg is "asg-1", "new" (the
// assignment the transition created) or "".
type lcWork struct {
	Kind   WorkKind
	Stage  Stage
	Due    time.Time
	Req    string
	Asg    string
	Ext    string
	State  RequestState // the payload snapshot of request-stage callouts
	Status string
}

// lcCallout is a request-stage callout queued now, reporting state/status.
// Request-stage callouts name only their request (the engine reads the
// assignment from it), so dropping an assignment's timers never drops them;
// asg is kept in the rows for readability only.
func lcCallout(stage Stage, asg string, state RequestState, status string) lcWork {
	return lcWork{Kind: WorkCallout, Stage: stage, Due: lcNow, Req: "req-1", Ext: lcExtID(stage), State: state, Status: status}
}

func lcTimeout(stage Stage, due time.Time) lcWork {
	return lcWork{Kind: WorkCallbackTimeout, Stage: stage, Due: due, Req: "req-1", Ext: lcExtID(stage)}
}

func lcExpire(asg string, due time.Time) lcWork { return lcWork{Kind: WorkExpire, Asg: asg, Due: due} }

// lcPre is the callout of a pre-expiration stage with an extension bound
// there. Stages without one are implied by every expiry a row expects
// (lcWithPreExpiry).
func lcPre(stage Stage, asg string, due time.Time) lcWork {
	return lcWork{Kind: WorkCallout, Stage: stage, Asg: asg, Due: due, Ext: lcExtID(stage)}
}

// lcWithPreExpiry adds, for every expiry of want, its 14-day and 1-day
// pre-expiration work still ahead of now that want does not list itself
// (the stages with no extension bound): an assignment reaches those stages
// whether or not an extension is bound there.
func lcWithPreExpiry(want []lcWork, now time.Time) []lcWork {
	out := append([]lcWork{}, want...)
	for _, w := range want {
		if w.Kind != WorkExpire {
			continue
		}
		for _, pre := range []struct {
			stage Stage
			days  int
		}{{StageFourteenDaysBeforeExpiry, 14}, {StageOneDayBeforeExpiry, 1}} {
			due := w.Due.AddDate(0, 0, -pre.days)
			listed := slices.ContainsFunc(want, func(x lcWork) bool { return x.Stage == pre.stage && x.Asg == w.Asg })
			if due.After(now) && !listed {
				out = append(out, lcWork{Kind: WorkPreExpiry, Stage: pre.stage, Asg: w.Asg, Due: due})
			}
		}
	}
	return out
}

func lcStartWork(due time.Time) lcWork { return lcWork{Kind: WorkStart, Req: "req-1", Due: due} }

// lcAsg is the assignment a transition returns, as a row expects it.
type lcAsg struct {
	ID      string // "asg-1" or "new"
	State   AssignmentState
	Status  string
	Start   *time.Time
	End     *time.Time // nil: never ends
	Expired *time.Time
}

// lcWant is what a row expects of a transition.
type lcWant struct {
	State     RequestState
	Status    string
	Step      Step
	Completed bool
	Asg       *lcAsg // nil: the transition leaves the assignment alone
	Work      []lcWork
	DropReq   bool
	DropAsg   bool
	History   []string // see lcHistory
}

// History lines: action[@stage][detail] state/status.
func lcH(action string, stage Stage, detail string, state RequestState, status string) string {
	s := action
	if stage != "" {
		s += "@" + string(stage)
	}
	if detail != "" {
		s += "[" + detail + "]"
	}
	return s + " " + string(state) + "/" + status
}

var lcHSubmitted = lcH("submitted", "", "", StateSubmitted, StatusAccepted)

func lcHTo(state RequestState, status string) string { return lcH("transition", "", "", state, status) }

func lcHQueued(stage Stage, state RequestState, status string) string {
	return lcH("calloutQueued", stage, "", state, status)
}

// Frequent expectations.
var (
	lcHDelivering = lcHTo(StateDelivering, StatusDelivering)
	lcHDelivered  = lcHTo(StateDelivered, StatusDelivered)
)

// lcCheck compares a transition with what a row expects, and checks the
// invariants every transition keeps: ids unique, history stamped with the
// time, the actor and the request; callouts carry an instance id; a callback
// timeout belongs to a callout of the same transition.
func lcCheck(t *testing.T, env Env, in Request, existing *Assignment, got Transition, want lcWant) {
	t.Helper()
	r := got.Request
	if r.ID != in.ID || r.Type != in.Type || r.PolicyID != in.PolicyID || r.AccessPackageID != in.AccessPackageID {
		t.Errorf("the transition changed the request's identity: %+v", r)
	}
	if r.State != want.State || r.Status != want.Status {
		t.Errorf("state/status = %s/%s, want %s/%s", r.State, r.Status, want.State, want.Status)
	}
	if r.Step != want.Step {
		t.Errorf("step = %q, want %q", r.Step, want.Step)
	}
	switch {
	case want.Completed && r.CompletedDateTime == nil:
		t.Errorf("CompletedDateTime is nil, want %v", env.Now)
	case want.Completed && !r.CompletedDateTime.Equal(env.Now):
		t.Errorf("CompletedDateTime = %v, want %v", *r.CompletedDateTime, env.Now)
	case !want.Completed && r.CompletedDateTime != nil:
		t.Errorf("CompletedDateTime = %v, want nil", *r.CompletedDateTime)
	}
	if got.DropRequestTimers != want.DropReq {
		t.Errorf("DropRequestTimers = %v, want %v", got.DropRequestTimers, want.DropReq)
	}
	if got.DropAssignmentTimers != want.DropAsg {
		t.Errorf("DropAssignmentTimers = %v, want %v", got.DropAssignmentTimers, want.DropAsg)
	}

	// The assignment.
	newID := ""
	if a := got.Assignment; a != nil && (existing == nil || a.ID != existing.ID) {
		newID = a.ID
		if a.ID == "" {
			t.Errorf("new assignment has no id")
		}
		if a.AccessPackageID != in.AccessPackageID || a.PolicyID != in.PolicyID || a.CatalogID != in.CatalogID || a.Target != in.Target {
			t.Errorf("new assignment does not describe the request: %+v", a)
		}
		if !a.CreatedDateTime.Equal(env.Now) {
			t.Errorf("new assignment CreatedDateTime = %v, want %v", a.CreatedDateTime, env.Now)
		}
	}
	if got.Assignment != nil && r.AssignmentID != got.Assignment.ID {
		t.Errorf("request AssignmentID = %q, want the assignment's %q", r.AssignmentID, got.Assignment.ID)
	}
	if want.Asg != nil && want.Asg.State == AssignmentExpired && in.Type == RequestSystemRemove && want.Asg.Status == StatusExpired {
		// An expiry (systemRemove) shows that the end was reached; other removes show Expired.
		changed := *want.Asg
		changed.Status = StatusExpiredNotified
		want.Asg = &changed
	}
	var gotAsg *lcAsg
	if a := got.Assignment; a != nil {
		id := a.ID
		if id == newID {
			id = "new"
		}
		gotAsg = &lcAsg{ID: id, State: a.State, Status: a.Status, Start: a.Schedule.StartDateTime, End: a.End(), Expired: a.ExpiredDateTime}
	}
	if diff := cmp.Diff(want.Asg, gotAsg); diff != "" {
		t.Errorf("assignment (-want +got):\n%s", diff)
	}
	if existing != nil && got.Assignment == existing {
		t.Errorf("the transition changed the caller's assignment in place")
	}

	// The work.
	ids := map[string]bool{}
	instances := map[string]Stage{}
	for _, w := range got.Work {
		if w.ID == "" || ids[w.ID] {
			t.Errorf("work %+v: id empty or repeated", w)
		}
		ids[w.ID] = true
		if w.Kind == WorkCallout {
			if w.InstanceID == "" || w.InstanceID == w.ID {
				t.Errorf("callout %+v: instance id missing or equal to the work id", w)
			}
			if _, dup := instances[w.InstanceID]; dup {
				t.Errorf("callout %+v: instance id repeated", w)
			}
			instances[w.InstanceID] = w.Stage
		}
	}
	for _, w := range got.Work {
		if w.Kind == WorkCallbackTimeout {
			if s, ok := instances[w.InstanceID]; !ok || s != w.Stage {
				t.Errorf("callback timeout %+v belongs to no callout of this transition at its stage", w)
			}
		}
	}
	gotWork := make([]lcWork, 0, len(got.Work))
	for _, w := range got.Work {
		asg := w.AssignmentID
		if asg != "" && asg == newID {
			asg = "new"
		}
		gotWork = append(gotWork, lcWork{Kind: w.Kind, Stage: w.Stage, Due: w.DueAt, Req: w.RequestID, Asg: asg,
			Ext: w.ExtensionID, State: w.RequestState, Status: w.RequestStatus})
	}
	wantWork := lcWithPreExpiry(want.Work, env.Now)
	lcSortWork(gotWork)
	lcSortWork(wantWork)
	if diff := cmp.Diff(wantWork, gotWork); diff != "" {
		t.Errorf("work (-want +got):\n%s", diff)
	}

	// The history.
	var lines []string
	hids := map[string]bool{}
	for _, h := range got.History {
		lines = append(lines, lcH(h.Action, h.Stage, h.Detail, h.State, h.Status))
		if h.ID == "" || hids[h.ID] || ids[h.ID] {
			t.Errorf("history %+v: id empty or repeated", h)
		}
		hids[h.ID] = true
		if h.RequestID != in.ID || !h.At.Equal(env.Now) || h.ActorID != env.Actor.ID || h.ActorName != env.Actor.DisplayName {
			t.Errorf("history %+v: want request %s, time %v, actor %s", h, in.ID, env.Now, env.Actor.ID)
		}
	}
	if diff := cmp.Diff(want.History, lines); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func lcSortWork(ws []lcWork) {
	sort.SliceStable(ws, func(i, j int) bool {
		a, b := ws[i], ws[j]
		if !a.Due.Equal(b.Due) {
			return a.Due.Before(b.Due)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Stage < b.Stage
	})
}

// lcCase is one row: for each of types, the base request changed by opts
// (and the existing assignment, for updates and removes) goes through call.
type lcCase struct {
	name  string
	types []RequestType
	opts  []lcOpt
	call  lcCall
	now   time.Time // zero: lcNow
	want  lcWant
	bug   string // non-empty: a known bug, the row is skipped
}

func lcRun(t *testing.T, cases []lcCase) {
	t.Helper()
	for _, tc := range cases {
		for _, typ := range tc.types {
			t.Run(tc.call.name+"/"+string(typ)+"/"+tc.name, func(t *testing.T) {
				lcSkipBug(t, tc.bug)
				r := lcBase(typ)
				for _, o := range tc.opts {
					o(&r)
				}
				var a *Assignment
				if !typ.IsAdd() {
					a = lcExisting()
				}
				now := tc.now
				if now.IsZero() {
					now = lcNow
				}
				env := lcEnv(now)
				before := *a0(a)
				got, err := tc.call.fn(r, a, env)
				if err != nil {
					t.Fatalf("%s: %v", tc.call.name, err)
				}
				if a != nil && !cmp.Equal(before, *a) {
					t.Errorf("the caller's assignment was changed in place: %s", cmp.Diff(before, *a))
				}
				lcCheck(t, env, r, a, got, tc.want)
			})
		}
	}
}

// a0 dereferences safely for the in-place check.
func a0(a *Assignment) *Assignment {
	if a == nil {
		return &Assignment{}
	}
	c := *a
	return &c
}

// Expected results that many rows share.

// lcAddDelivered: an add delivered at once, its assignment ending now+30d.
func lcAddDelivered(history ...string) lcWant {
	if history == nil {
		history = []string{lcHSubmitted, lcHDelivering, lcHDelivered}
	}
	return lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
		Asg:     &lcAsg{ID: "new", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcNow), End: lcAt(lcDay(30))},
		Work:    []lcWork{lcExpire("new", lcDay(30))},
		History: history}
}

// lcUpdateDelivered: an update delivered at once, asg-1 now ending now+100d.
func lcUpdateDelivered(history ...string) lcWant {
	if history == nil {
		history = []string{lcHSubmitted, lcHDelivering, lcHDelivered}
	}
	return lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
		Asg:     &lcAsg{ID: "asg-1", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(100))},
		Work:    []lcWork{lcExpire("asg-1", lcDay(100))},
		DropAsg: true,
		History: history}
}

// lcRemoveDelivered: a remove delivered at once, asg-1 expired now.
func lcRemoveDelivered(history ...string) lcWant {
	if history == nil {
		history = []string{lcHSubmitted, lcHDelivering, lcHDelivered}
	}
	return lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
		Asg: &lcAsg{ID: "asg-1", State: AssignmentExpired, Status: StatusExpired, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(10)),
			Expired: lcAt(lcNow)},
		DropAsg: true,
		History: history}
}

func lcWith(w lcWant, work ...lcWork) lcWant {
	w.Work = append(append([]lcWork{}, w.Work...), work...)
	return w
}

var (
	lcPendingApproval = lcWant{State: StatePendingApproval, Status: StatusPendingApproval, Step: StepApproval,
		History: []string{lcHSubmitted, lcHTo(StatePendingApproval, StatusPendingApproval)}}
)

func TestSubmitAdd(t *testing.T) {
	created, approved, granted, removed := StageRequestCreated, StageRequestApproved, StageRequestGranted, StageRequestRemoved
	hQueuedNew := func(s Stage) string { return lcHQueued(s, StateSubmitted, StatusAccepted) }
	lcRun(t, []lcCase{
		{name: "no bindings", types: lcAddTypes, call: lcSubmit, want: lcAddDelivered()},
		{name: "continue at created", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(created))},
			want: lcWith(lcAddDelivered(lcHSubmitted, hQueuedNew(created), lcHDelivering, lcHDelivered),
				lcCallout(created, "", StateSubmitted, StatusAccepted))},
		{name: "continue at approved", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(approved))},
			want: lcWith(lcAddDelivered(lcHSubmitted, hQueuedNew(approved), lcHDelivering, lcHDelivered),
				lcCallout(approved, "", StateSubmitted, StatusAccepted))},
		{name: "continue at granted", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(granted))},
			want: lcWith(lcAddDelivered(lcHSubmitted, lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering), lcHDelivered),
				lcCallout(granted, "new", StateDelivering, StatusDelivering))},
		{name: "continue at removed: an add never reaches it", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(removed))},
			want: lcAddDelivered()},
		{name: "continue at every request stage", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcBind(lcGo(created), lcGo(approved), lcGo(granted), lcGo(removed))},
			want: lcWith(lcAddDelivered(lcHSubmitted, hQueuedNew(created), hQueuedNew(approved), lcHDelivering,
				lcHQueued(granted, StateDelivering, StatusDelivering), lcHDelivered),
				lcCallout(created, "", StateSubmitted, StatusAccepted), lcCallout(approved, "", StateSubmitted, StatusAccepted),
				lcCallout(granted, "new", StateDelivering, StatusDelivering))},
		{name: "wait at created", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(created, "PT1H"))},
			want: lcWant{State: StateSubmitted, Status: StatusWaitingForCallback, Step: StepCreated,
				Work:    []lcWork{lcCallout(created, "", StateSubmitted, StatusAccepted), lcTimeout(created, lcNow.Add(time.Hour))},
				History: []string{lcHSubmitted, hQueuedNew(created), lcHTo(StateSubmitted, StatusWaitingForCallback)}}},
		{name: "wait at approved", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(approved, "P2D"))},
			want: lcWant{State: StateSubmitted, Status: StatusWaitingForCallback, Step: StepApproved,
				Work:    []lcWork{lcCallout(approved, "", StateSubmitted, StatusAccepted), lcTimeout(approved, lcDay(2))},
				History: []string{lcHSubmitted, hQueuedNew(approved), lcHTo(StateSubmitted, StatusWaitingForCallback)}}},
		{name: "wait at approved with approval: approval comes first", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcApproval, lcBind(lcWait(approved, "PT1H"))}, want: lcPendingApproval},
		{name: "wait at granted", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(granted, "PT5M"))},
			want: lcWant{State: StateDelivering, Status: StatusWaitingForCallback, Step: StepGranted,
				Asg: &lcAsg{ID: "new", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcNow), End: lcAt(lcDay(30))},
				Work: []lcWork{lcExpire("new", lcDay(30)), lcCallout(granted, "new", StateDelivering, StatusDelivering),
					lcTimeout(granted, lcNow.Add(5*time.Minute))},
				History: []string{lcHSubmitted, lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering),
					lcHTo(StateDelivering, StatusWaitingForCallback)}}},
		{name: "wait at removed: an add never reaches it", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(removed, "PT1H"))},
			want: lcAddDelivered()},
		{name: "approval required", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcApproval}, want: lcPendingApproval},
		{name: "approval required after a created callout", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcApproval, lcBind(lcGo(created))},
			want: lcWant{State: StatePendingApproval, Status: StatusPendingApproval, Step: StepApproval,
				Work:    []lcWork{lcCallout(created, "", StateSubmitted, StatusAccepted)},
				History: []string{lcHSubmitted, hQueuedNew(created), lcHTo(StatePendingApproval, StatusPendingApproval)}}},
		{name: "approval required with a future start", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcApproval, lcStart(lcDay(3))},
			want: lcPendingApproval},
		{name: "future start", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcStart(lcDay(3))},
			want: lcWant{State: StateScheduled, Status: StatusScheduled, Step: StepSchedule,
				Work:    []lcWork{lcStartWork(lcDay(3))},
				History: []string{lcHSubmitted, lcHTo(StateScheduled, StatusScheduled)}}},
		{name: "future start after created and approved callouts", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcStart(lcNow.Add(time.Minute)), lcBind(lcGo(created), lcGo(approved), lcGo(granted))},
			want: lcWant{State: StateScheduled, Status: StatusScheduled, Step: StepSchedule,
				Work: []lcWork{lcCallout(created, "", StateSubmitted, StatusAccepted), lcCallout(approved, "", StateSubmitted, StatusAccepted),
					lcStartWork(lcNow.Add(time.Minute))},
				History: []string{lcHSubmitted, hQueuedNew(created), hQueuedNew(approved), lcHTo(StateScheduled, StatusScheduled)}}},
		{name: "past start delivers at once", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcStart(lcDay(-3))}, want: lcAddDelivered()},
		{name: "start now delivers at once", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcStart(lcNow)}, want: lcAddDelivered()},
	})
}

func TestSubmitUpdate(t *testing.T) {
	created, approved, granted, removed := StageRequestCreated, StageRequestApproved, StageRequestGranted, StageRequestRemoved
	hQueuedNew := func(s Stage) string { return lcHQueued(s, StateSubmitted, StatusAccepted) }
	lcRun(t, []lcCase{
		{name: "no bindings: the end moves", types: lcUpdateTypes, call: lcSubmit, want: lcUpdateDelivered()},
		{name: "continue at created", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(created))},
			want: lcWith(lcUpdateDelivered(lcHSubmitted, hQueuedNew(created), lcHDelivering, lcHDelivered),
				lcCallout(created, "asg-1", StateSubmitted, StatusAccepted))},
		{name: "continue at approved", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(approved))},
			want: lcWith(lcUpdateDelivered(lcHSubmitted, hQueuedNew(approved), lcHDelivering, lcHDelivered),
				lcCallout(approved, "asg-1", StateSubmitted, StatusAccepted))},
		{name: "continue at granted", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(granted))},
			want: lcWith(lcUpdateDelivered(lcHSubmitted, lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering), lcHDelivered),
				lcCallout(granted, "asg-1", StateDelivering, StatusDelivering))},
		{name: "continue at removed: an update never reaches it", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(removed))},
			want: lcUpdateDelivered()},
		{name: "wait at created", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(created, "PT1H"))},
			want: lcWant{State: StateSubmitted, Status: StatusWaitingForCallback, Step: StepCreated,
				Work:    []lcWork{lcCallout(created, "asg-1", StateSubmitted, StatusAccepted), lcTimeout(created, lcNow.Add(time.Hour))},
				History: []string{lcHSubmitted, hQueuedNew(created), lcHTo(StateSubmitted, StatusWaitingForCallback)}}},
		{name: "wait at approved", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(approved, "PT1H"))},
			want: lcWant{State: StateSubmitted, Status: StatusWaitingForCallback, Step: StepApproved,
				Work:    []lcWork{lcCallout(approved, "asg-1", StateSubmitted, StatusAccepted), lcTimeout(approved, lcNow.Add(time.Hour))},
				History: []string{lcHSubmitted, hQueuedNew(approved), lcHTo(StateSubmitted, StatusWaitingForCallback)}}},
		{name: "wait at approved with approval: approval comes first", types: lcUpdateTypes, call: lcSubmit,
			opts: []lcOpt{lcApproval, lcBind(lcWait(approved, "PT1H"))}, want: lcPendingApproval},
		{name: "wait at granted", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(granted, "P14D"))},
			want: lcWant{State: StateDelivering, Status: StatusWaitingForCallback, Step: StepGranted,
				Asg: &lcAsg{ID: "asg-1", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(100))},
				Work: []lcWork{lcExpire("asg-1", lcDay(100)), lcCallout(granted, "asg-1", StateDelivering, StatusDelivering),
					lcTimeout(granted, lcDay(14))},
				DropAsg: true,
				History: []string{lcHSubmitted, lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering),
					lcHTo(StateDelivering, StatusWaitingForCallback)}}},
		{name: "wait at removed: an update never reaches it", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(removed, "PT1H"))},
			want: lcUpdateDelivered()},
		{name: "approval required", types: lcUpdateTypes, call: lcSubmit, opts: []lcOpt{lcApproval}, want: lcPendingApproval},
		{name: "pre-expiration callouts at the new end", types: lcUpdateTypes, call: lcSubmit,
			opts: []lcOpt{lcBind(lcGo(StageFourteenDaysBeforeExpiry), lcGo(StageOneDayBeforeExpiry))},
			want: lcWith(lcUpdateDelivered(),
				lcPre(StageFourteenDaysBeforeExpiry, "asg-1", lcDay(86)), lcPre(StageOneDayBeforeExpiry, "asg-1", lcDay(99)))},
		{name: "new end in 5 days: no 14-day callout", types: lcUpdateTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(lcAfterDateTime(lcDay(5))), lcBind(lcGo(StageFourteenDaysBeforeExpiry), lcGo(StageOneDayBeforeExpiry))},
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				Asg:     &lcAsg{ID: "asg-1", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(5))},
				Work:    []lcWork{lcExpire("asg-1", lcDay(5)), lcPre(StageOneDayBeforeExpiry, "asg-1", lcDay(4))},
				DropAsg: true,
				History: []string{lcHSubmitted, lcHDelivering, lcHDelivered}}},
		{name: "update to noExpiration drops the expiry", types: lcUpdateTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(Expiration{Type: ExpirationNone})},
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				Asg:     &lcAsg{ID: "asg-1", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcDay(-20))},
				DropAsg: true,
				History: []string{lcHSubmitted, lcHDelivering, lcHDelivered}}},
		{name: "extend by afterDuration P30D counts from now", types: lcUpdateTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(lcAfterDuration("P30D"))},
			// The start stays; the duration becomes an end date counted from now.
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				Asg:     &lcAsg{ID: "asg-1", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(30))},
				Work:    []lcWork{lcExpire("asg-1", lcDay(30))},
				DropAsg: true,
				History: []string{lcHSubmitted, lcHDelivering, lcHDelivered}}},
	})
}

func TestSubmitRemove(t *testing.T) {
	removed := StageRequestRemoved
	lcRun(t, []lcCase{
		{name: "no bindings", types: lcRemoveTypes, call: lcSubmit, want: lcRemoveDelivered()},
		{name: "continue at created, approved, granted: a remove never reaches them", types: lcRemoveTypes, call: lcSubmit,
			opts: []lcOpt{lcBind(lcGo(StageRequestCreated), lcGo(StageRequestApproved), lcGo(StageRequestGranted))},
			want: lcRemoveDelivered()},
		{name: "wait at created", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(StageRequestCreated, "PT1H"))},
			want: lcRemoveDelivered()},
		{name: "wait at approved", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(StageRequestApproved, "PT1H"))},
			want: lcRemoveDelivered()},
		{name: "wait at granted", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(StageRequestGranted, "PT1H"))},
			want: lcRemoveDelivered()},
		{name: "continue at removed", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(removed))},
			want: lcWith(lcRemoveDelivered(lcHSubmitted, lcHDelivering, lcHQueued(removed, StateDelivering, StatusDelivering), lcHDelivered),
				lcCallout(removed, "asg-1", StateDelivering, StatusDelivering))},
		{name: "wait at removed", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcWait(removed, "PT30M"))},
			want: lcWant{State: StateDelivering, Status: StatusWaitingForCallback, Step: StepRemoved,
				Asg: &lcAsg{ID: "asg-1", State: AssignmentExpired, Status: StatusExpired, Start: lcAt(lcDay(-20)), End: lcAt(lcDay(10)),
					Expired: lcAt(lcNow)},
				Work:    []lcWork{lcCallout(removed, "asg-1", StateDelivering, StatusDelivering), lcTimeout(removed, lcNow.Add(30*time.Minute))},
				DropAsg: true,
				History: []string{lcHSubmitted, lcHDelivering, lcHQueued(removed, StateDelivering, StatusDelivering),
					lcHTo(StateDelivering, StatusWaitingForCallback)}}},
		{name: "approval is never asked for a remove", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcApproval},
			want: lcRemoveDelivered()},
		{name: "a start date does not schedule a remove", types: lcRemoveTypes, call: lcSubmit, opts: []lcOpt{lcStart(lcDay(3))},
			want: lcRemoveDelivered()},
		{name: "no pre-expiration callouts for a removed assignment", types: lcRemoveTypes, call: lcSubmit,
			opts: []lcOpt{lcBind(lcGo(StageFourteenDaysBeforeExpiry), lcGo(StageOneDayBeforeExpiry))},
			want: lcRemoveDelivered()},
	})
}

func TestSubmitExpiration(t *testing.T) {
	pre14, pre1 := StageFourteenDaysBeforeExpiry, StageOneDayBeforeExpiry
	delivered := func(start time.Time, end *time.Time, work ...lcWork) lcWant {
		return lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
			Asg:     &lcAsg{ID: "new", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(start), End: end},
			Work:    work,
			History: []string{lcHSubmitted, lcHDelivering, lcHDelivered}}
	}
	bothPre := lcBind(lcGo(pre14), lcGo(pre1))
	lcRun(t, []lcCase{
		{name: "policy noExpiration: no expire work", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcPolicyExp(Expiration{Type: ExpirationNone})}, want: delivered(lcNow, nil)},
		{name: "policy noExpiration: no pre-expiration callouts either", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcPolicyExp(Expiration{Type: ExpirationNone}), bothPre}, want: delivered(lcNow, nil)},
		{name: "policy expiration left empty: no end", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcPolicyExp(Expiration{})}, want: delivered(lcNow, nil)},
		{name: "policy afterDuration P30D", types: lcAddTypes, call: lcSubmit,
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)))},
		{name: "policy afterDuration PT36H", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcPolicyExp(lcAfterDuration("PT36H"))},
			want: delivered(lcNow, lcAt(lcNow.Add(36*time.Hour)), lcExpire("new", lcNow.Add(36*time.Hour)))},
		{name: "policy afterDateTime", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcPolicyExp(lcAfterDateTime(lcDay(45)))},
			want: delivered(lcNow, lcAt(lcDay(45)), lcExpire("new", lcDay(45)))},
		{name: "custom afterDateTime overrides the policy", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(lcAfterDateTime(lcDay(20)))},
			want: delivered(lcNow, lcAt(lcDay(20)), lcExpire("new", lcDay(20)))},
		{name: "custom afterDuration overrides the policy", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(lcAfterDuration("P7D"))},
			want: delivered(lcNow, lcAt(lcDay(7)), lcExpire("new", lcDay(7)))},
		{name: "custom noExpiration overrides the policy", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(Expiration{Type: ExpirationNone})}, want: delivered(lcNow, nil)},
		{name: "custom notSpecified keeps the policy's", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcCustomExp(Expiration{Type: ExpirationNotSpecified})},
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)))},
		{name: "custom afterDateTime overrides a policy without expiry", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcPolicyExp(Expiration{Type: ExpirationNone}), lcCustomExp(lcAfterDateTime(lcDay(20)))},
			want: delivered(lcNow, lcAt(lcDay(20)), lcExpire("new", lcDay(20)))},
		{name: "both pre-expiration callouts, P30D", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{bothPre},
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)), lcPre(pre14, "new", lcDay(16)), lcPre(pre1, "new", lcDay(29)))},
		{name: "only the 1-day callout bound", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(pre1))},
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)), lcPre(pre1, "new", lcDay(29)))},
		{name: "only the 14-day callout bound", types: lcAddTypes, call: lcSubmit, opts: []lcOpt{lcBind(lcGo(pre14))},
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)), lcPre(pre14, "new", lcDay(16)))},
		{name: "P10D: the 14-day callout would be in the past", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{bothPre, lcPolicyExp(lcAfterDuration("P10D"))},
			want: delivered(lcNow, lcAt(lcDay(10)), lcExpire("new", lcDay(10)), lcPre(pre1, "new", lcDay(9)))},
		{name: "P14D: the 14-day callout would be now", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{bothPre, lcPolicyExp(lcAfterDuration("P14D"))},
			want: delivered(lcNow, lcAt(lcDay(14)), lcExpire("new", lcDay(14)), lcPre(pre1, "new", lcDay(13)))},
		{name: "P1D: neither callout is in the future", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{bothPre, lcPolicyExp(lcAfterDuration("P1D"))},
			want: delivered(lcNow, lcAt(lcDay(1)), lcExpire("new", lcDay(1)))},
		{name: "PT12H: neither callout", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{bothPre, lcPolicyExp(lcAfterDuration("PT12H"))},
			want: delivered(lcNow, lcAt(lcNow.Add(12*time.Hour)), lcExpire("new", lcNow.Add(12*time.Hour)))},
		{name: "custom end wins for the pre-expiration callouts too", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{bothPre, lcCustomExp(lcAfterDateTime(lcDay(60)))},
			want: delivered(lcNow, lcAt(lcDay(60)), lcExpire("new", lcDay(60)), lcPre(pre14, "new", lcDay(46)), lcPre(pre1, "new", lcDay(59)))},
		{name: "past start: the assignment starts now, the end counts from now", types: lcAddTypes, call: lcSubmit,
			opts: []lcOpt{lcStart(lcDay(-5))},
			want: delivered(lcNow, lcAt(lcDay(30)), lcExpire("new", lcDay(30)))},
	})
}

func TestContinue(t *testing.T) {
	created, approved, granted, removed := StageRequestCreated, StageRequestApproved, StageRequestGranted, StageRequestRemoved
	waitingAt := func(state RequestState, step Step) lcOpt { return lcIn(state, StatusWaitingForCallback, step) }
	// Rows that start mid-lifecycle carry no "submitted" line.
	cont := func(w lcWant) lcWant { w.History = w.History[1:]; return w }
	lcRun(t, []lcCase{
		// add
		{name: "after created wait: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(created, "PT1H")), waitingAt(StateSubmitted, StepCreated)},
			want: cont(lcAddDelivered())},
		{name: "after created wait: approval", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcBind(lcWait(created, "PT1H")), waitingAt(StateSubmitted, StepCreated)},
			want: lcWant{State: StatePendingApproval, Status: StatusPendingApproval, Step: StepApproval,
				History: []string{lcHTo(StatePendingApproval, StatusPendingApproval)}}},
		{name: "after created wait: scheduled", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcStart(lcDay(2)), lcBind(lcWait(created, "PT1H")), waitingAt(StateSubmitted, StepCreated)},
			want: lcWant{State: StateScheduled, Status: StatusScheduled, Step: StepSchedule, Work: []lcWork{lcStartWork(lcDay(2))},
				History: []string{lcHTo(StateScheduled, StatusScheduled)}}},
		{name: "after created wait: the approved callout no longer reports WaitingForCallback", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(created, "PT1H"), lcGo(approved)), waitingAt(StateSubmitted, StepCreated)},
			want: lcWith(lcAddDelivered(lcHQueued(approved, StateSubmitted, StatusAccepted), lcHDelivering, lcHDelivered),
				lcCallout(approved, "", StateSubmitted, StatusAccepted))},
		{name: "after created wait: a second wait at approved is recorded", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(created, "PT1H"), lcWait(approved, "PT2H")), waitingAt(StateSubmitted, StepCreated)},
			want: lcWant{State: StateSubmitted, Status: StatusWaitingForCallback, Step: StepApproved,
				Work: []lcWork{lcCallout(approved, "", StateSubmitted, StatusAccepted), lcTimeout(approved, lcNow.Add(2*time.Hour))},
				History: []string{lcHQueued(approved, StateSubmitted, StatusAccepted),
					lcHTo(StateSubmitted, StatusWaitingForCallback)}}},
		{name: "after approved wait: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(approved, "PT1H")), waitingAt(StateSubmitted, StepApproved)},
			want: cont(lcAddDelivered())},
		{name: "approval given: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcIn(StatePendingApproval, StatusPendingApproval, StepApproval)},
			want: cont(lcAddDelivered())},
		{name: "approval given: approved callout reports pendingApproval", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcBind(lcGo(approved)), lcIn(StatePendingApproval, StatusPendingApproval, StepApproval)},
			want: lcWith(lcAddDelivered(lcHQueued(approved, StatePendingApproval, StatusPendingApproval), lcHDelivering, lcHDelivered),
				lcCallout(approved, "", StatePendingApproval, StatusPendingApproval))},
		{name: "approval given: wait at approved stays pendingApproval", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcBind(lcWait(approved, "PT1H")), lcIn(StatePendingApproval, StatusPendingApproval, StepApproval)},
			want: lcWant{State: StatePendingApproval, Status: StatusWaitingForCallback, Step: StepApproved,
				Work: []lcWork{lcCallout(approved, "", StatePendingApproval, StatusPendingApproval), lcTimeout(approved, lcNow.Add(time.Hour))},
				History: []string{lcHQueued(approved, StatePendingApproval, StatusPendingApproval),
					lcHTo(StatePendingApproval, StatusWaitingForCallback)}}},
		{name: "after approved wait with approval: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcBind(lcWait(approved, "PT1H")), waitingAt(StatePendingApproval, StepApproved)},
			want: cont(lcAddDelivered())},
		{name: "after approved wait with approval: scheduled", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcStart(lcDay(1)), lcBind(lcWait(approved, "PT1H")), waitingAt(StatePendingApproval, StepApproved)},
			want: lcWant{State: StateScheduled, Status: StatusScheduled, Step: StepSchedule, Work: []lcWork{lcStartWork(lcDay(1))},
				History: []string{lcHTo(StateScheduled, StatusScheduled)}}},
		{name: "start time came: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcStart(lcNow), lcIn(StateScheduled, StatusScheduled, StepSchedule)},
			want: cont(lcAddDelivered())},
		{name: "start time came: granted callout", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcStart(lcNow), lcBind(lcGo(granted)), lcIn(StateScheduled, StatusScheduled, StepSchedule)},
			want: lcWith(lcAddDelivered(lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering), lcHDelivered),
				lcCallout(granted, "new", StateDelivering, StatusDelivering))},
		{name: "start time came: wait at granted", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcStart(lcNow), lcBind(lcWait(granted, "PT1H")), lcIn(StateScheduled, StatusScheduled, StepSchedule)},
			want: lcWant{State: StateDelivering, Status: StatusWaitingForCallback, Step: StepGranted,
				Asg: &lcAsg{ID: "new", State: AssignmentDelivered, Status: StatusDelivered, Start: lcAt(lcNow), End: lcAt(lcDay(30))},
				Work: []lcWork{lcExpire("new", lcDay(30)), lcCallout(granted, "new", StateDelivering, StatusDelivering),
					lcTimeout(granted, lcNow.Add(time.Hour))},
				History: []string{lcHDelivering, lcHQueued(granted, StateDelivering, StatusDelivering),
					lcHTo(StateDelivering, StatusWaitingForCallback)}}},
		{name: "after granted wait: delivered", types: lcAddTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(granted, "PT1H")), waitingAt(StateDelivering, StepGranted)},
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				History: []string{lcHDelivered}}},
		// update
		{name: "after created wait: the end moves", types: lcUpdateTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(created, "PT1H")), waitingAt(StateSubmitted, StepCreated)},
			want: cont(lcUpdateDelivered())},
		{name: "approval given: the end moves", types: lcUpdateTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcIn(StatePendingApproval, StatusPendingApproval, StepApproval)},
			want: cont(lcUpdateDelivered())},
		{name: "after approved wait with approval: the end moves", types: lcUpdateTypes, call: lcContinue,
			opts: []lcOpt{lcApproval, lcBind(lcWait(approved, "PT1H")), waitingAt(StatePendingApproval, StepApproved)},
			want: cont(lcUpdateDelivered())},
		{name: "after granted wait: delivered", types: lcUpdateTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(granted, "PT1H")), waitingAt(StateDelivering, StepGranted)},
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				History: []string{lcHDelivered}}},
		// remove
		{name: "after removed wait: delivered", types: lcRemoveTypes, call: lcContinue,
			opts: []lcOpt{lcBind(lcWait(removed, "PT1H")), waitingAt(StateDelivering, StepRemoved)},
			want: lcWant{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
				History: []string{lcHDelivered}}},
	})
}

func TestCancel(t *testing.T) {
	canceled := func(from RequestState, status string, step Step) lcCase {
		return lcCase{
			name: fmt.Sprintf("from %s/%s at %s", from, status, step), types: append(append([]RequestType{}, lcAddTypes...), lcUpdateTypes...),
			call: lcCancel, opts: []lcOpt{lcIn(from, status, step)},
			want: lcWant{State: StateCanceled, Status: StatusCanceled, Step: step, Completed: true, DropReq: true,
				History: []string{lcH("canceled", "", "", from, status), lcHTo(StateCanceled, StatusCanceled)}},
		}
	}
	lcRun(t, []lcCase{
		canceled(StateSubmitted, StatusAccepted, StepCreated),
		canceled(StateSubmitted, StatusWaitingForCallback, StepCreated),
		canceled(StateSubmitted, StatusWaitingForCallback, StepApproved),
		canceled(StatePendingApproval, StatusPendingApproval, StepApproval),
		canceled(StatePendingApproval, StatusWaitingForCallback, StepApproved),
		canceled(StateScheduled, StatusScheduled, StepSchedule),
	})

	refused := []struct {
		state  RequestState
		status string
		step   Step
	}{
		{StateDelivering, StatusDelivering, StepDeliver},
		{StateDelivering, StatusWaitingForCallback, StepGranted},
		{StateDelivering, StatusWaitingForCallback, StepRemoved},
		{StateDelivered, StatusDelivered, StepDone},
		{StatePartiallyDelivered, "PartiallyDelivered", StepDone},
		{StatePartiallyDelivered, StatusCallbackTimedOut, StepGranted},
		{StateDeliveryFailed, StatusDeliveryFailed, StepDeliver},
		{StateDeliveryFailed, StatusCalloutFailed, StepCreated},
		{StateDenied, StatusDenied, StepApproval},
		{StateDenied, StatusExpired, StepApproval},
		{StateCanceled, StatusCanceled, StepCreated},
	}
	for _, tc := range refused {
		for _, typ := range lcAllTypes {
			t.Run(fmt.Sprintf("Cancel/%s/refused from %s/%s", typ, tc.state, tc.status), func(t *testing.T) {
				r := lcBase(typ)
				lcIn(tc.state, tc.status, tc.step)(&r)
				if tc.state.IsFinal() {
					r.CompletedDateTime = lcAt(lcDay(-1))
				}
				got, err := Cancel(r, lcEnv(lcNow))
				if KindOf(err) != KindConflict {
					t.Fatalf("Cancel from %s: err = %v (kind %v), want a conflict", tc.state, err, KindOf(err))
				}
				if !strings.Contains(err.Error(), string(tc.state)) {
					t.Errorf("message %q does not name the state %s", err, tc.state)
				}
				if !cmp.Equal(got, Transition{}) {
					t.Errorf("a refused cancel returned a transition: %+v", got)
				}
			})
		}
	}
}

func TestCheckDelete(t *testing.T) {
	// For each state: may the request be deleted, without / with an
	// assignment that still exists, for add, update and remove requests.
	type pair struct{ without, with bool }
	matrix := []struct {
		state               RequestState
		add, update, remove pair
	}{
		{StateSubmitted, pair{false, false}, pair{false, false}, pair{false, false}},
		{StatePendingApproval, pair{false, false}, pair{false, false}, pair{false, false}},
		{StateScheduled, pair{false, false}, pair{false, false}, pair{false, false}},
		{StateDelivering, pair{false, false}, pair{false, false}, pair{false, false}},
		{StateDelivered, pair{false, false}, pair{false, false}, pair{true, true}},
		{StatePartiallyDelivered, pair{false, false}, pair{false, false}, pair{true, true}},
		{StateDeliveryFailed, pair{true, false}, pair{true, false}, pair{true, true}},
		{StateDenied, pair{true, true}, pair{true, true}, pair{true, true}},
		{StateCanceled, pair{true, true}, pair{true, true}, pair{true, true}},
	}
	if len(matrix) != len(lcAllStates) {
		t.Fatalf("the matrix covers %d states, there are %d", len(matrix), len(lcAllStates))
	}
	for _, row := range matrix {
		for _, typ := range lcAllTypes {
			p := row.add
			switch {
			case typ.IsUpdate():
				p = row.update
			case typ.IsRemove():
				p = row.remove
			}
			for _, exists := range []bool{false, true} {
				ok := p.without
				if exists {
					ok = p.with
				}
				t.Run(fmt.Sprintf("%s/%s/assignment=%v", row.state, typ, exists), func(t *testing.T) {
					r := lcBase(typ)
					lcIn(row.state, "", StepDone)(&r)
					err := CheckDelete(r, exists)
					switch {
					case ok && err != nil:
						t.Errorf("CheckDelete = %v, want nil", err)
					case !ok && KindOf(err) != KindConflict:
						t.Errorf("CheckDelete = %v (kind %v), want a conflict", err, KindOf(err))
					}
					if !ok && typ.IsAdd() && exists && row.state.IsFinal() && !strings.Contains(err.Error(), "assignment") {
						t.Errorf("message %q does not say the assignment still exists", err)
					}
				})
			}
		}
	}
}

func TestFailStage(t *testing.T) {
	statuses := []string{StatusCallbackTimedOut, StatusCalloutFailed, StatusCustomExtensionFailed}
	waits := []struct {
		stage Stage
		types []RequestType
		state RequestState // while waiting
		step  Step
		opts  []lcOpt
		want  RequestState
	}{
		{StageRequestCreated, append(append([]RequestType{}, lcAddTypes...), lcUpdateTypes...), StateSubmitted, StepCreated, nil, StateDeliveryFailed},
		{StageRequestApproved, append(append([]RequestType{}, lcAddTypes...), lcUpdateTypes...), StateSubmitted, StepApproved, nil, StateDeliveryFailed},
		{StageRequestApproved, append(append([]RequestType{}, lcAddTypes...), lcUpdateTypes...), StatePendingApproval, StepApproved, []lcOpt{lcApproval}, StateDeliveryFailed},
		{StageRequestGranted, append(append([]RequestType{}, lcAddTypes...), lcUpdateTypes...), StateDelivering, StepGranted, nil, StatePartiallyDelivered},
		{StageRequestRemoved, lcRemoveTypes, StateDelivering, StepRemoved, nil, StatePartiallyDelivered},
	}
	var cases []lcCase
	for _, w := range waits {
		for _, status := range statuses {
			opts := append([]lcOpt{lcBind(lcWait(w.stage, "PT1H"))}, w.opts...)
			opts = append(opts, lcIn(w.state, StatusWaitingForCallback, w.step))
			cases = append(cases, lcCase{
				name: fmt.Sprintf("%s while %s with %s", w.stage, w.state, status), types: w.types,
				call: lcFail(w.stage, status), opts: opts,
				want: lcWant{State: w.want, Status: status, Step: w.step, Completed: true, DropReq: true,
					History: []string{lcH("stageFailed", w.stage, status, w.state, StatusWaitingForCallback), lcHTo(w.want, status)}},
			})
		}
	}
	lcRun(t, cases)
}

// TestWalk runs whole lifecycles through Submit and Continue, each step at
// its own time, and checks where the request stands after each.
func TestWalk(t *testing.T) {
	type stop struct {
		at     time.Time
		state  RequestState
		status string
		step   Step
		kinds  []WorkKind
	}
	walks := []struct {
		name  string
		typ   RequestType
		opts  []lcOpt
		stops []stop
	}{
		{name: "add waiting everywhere", typ: RequestUserAdd,
			opts: []lcOpt{lcApproval, lcStart(lcDay(5)),
				lcBind(lcWait(StageRequestCreated, "PT1H"), lcWait(StageRequestApproved, "PT1H"), lcWait(StageRequestGranted, "PT1H"))},
			stops: []stop{
				{lcNow, StateSubmitted, StatusWaitingForCallback, StepCreated, []WorkKind{WorkCallout, WorkCallbackTimeout}},
				{lcNow.Add(10 * time.Minute), StatePendingApproval, StatusPendingApproval, StepApproval, nil},
				{lcDay(1), StatePendingApproval, StatusWaitingForCallback, StepApproved, []WorkKind{WorkCallout, WorkCallbackTimeout}},
				{lcDay(1).Add(time.Minute), StateScheduled, StatusScheduled, StepSchedule, []WorkKind{WorkStart}},
				{lcDay(5), StateDelivering, StatusWaitingForCallback, StepGranted, []WorkKind{WorkExpire, WorkPreExpiry, WorkPreExpiry, WorkCallout, WorkCallbackTimeout}},
				{lcDay(5).Add(time.Minute), StateDelivered, StatusDelivered, StepDone, nil},
			}},
		{name: "remove waiting at removed", typ: RequestAdminRemove,
			opts: []lcOpt{lcBind(lcWait(StageRequestRemoved, "PT1H"))},
			stops: []stop{
				{lcNow, StateDelivering, StatusWaitingForCallback, StepRemoved, []WorkKind{WorkCallout, WorkCallbackTimeout}},
				{lcNow.Add(time.Minute), StateDelivered, StatusDelivered, StepDone, nil},
			}},
	}
	for _, w := range walks {
		t.Run(w.name, func(t *testing.T) {
			r := lcBase(w.typ)
			for _, o := range w.opts {
				o(&r)
			}
			var a *Assignment
			if !w.typ.IsAdd() {
				a = lcExisting()
			}
			for i, s := range w.stops {
				env := lcEnv(s.at)
				var tr Transition
				if i == 0 {
					tr = Submit(r, a, env)
				} else {
					tr = Continue(r, a, env)
				}
				r = tr.Request
				if tr.Assignment != nil {
					a = tr.Assignment
				}
				if r.State != s.state || r.Status != s.status || r.Step != s.step {
					t.Fatalf("stop %d: %s/%s at %s, want %s/%s at %s", i, r.State, r.Status, r.Step, s.state, s.status, s.step)
				}
				var kinds []WorkKind
				for _, wk := range tr.Work {
					kinds = append(kinds, wk.Kind)
					if wk.Kind == WorkCallbackTimeout && !wk.DueAt.Equal(s.at.Add(time.Hour)) {
						t.Errorf("stop %d: callback timeout due %v, want %v", i, wk.DueAt, s.at.Add(time.Hour))
					}
					if wk.Kind == WorkCallout && !wk.DueAt.Equal(s.at) {
						t.Errorf("stop %d: callout due %v, want now %v", i, wk.DueAt, s.at)
					}
				}
				if diff := cmp.Diff(s.kinds, kinds); diff != "" {
					t.Errorf("stop %d: work kinds (-want +got):\n%s", i, diff)
				}
				if !r.CreatedDateTime.Equal(lcNow) {
					t.Errorf("stop %d: CreatedDateTime = %v, want the submission time %v", i, r.CreatedDateTime, lcNow)
				}
			}
			if r.CompletedDateTime == nil || !r.CompletedDateTime.Equal(w.stops[len(w.stops)-1].at) {
				t.Errorf("CompletedDateTime = %v, want the last stop's time", r.CompletedDateTime)
			}
			if w.typ.IsAdd() {
				if a == nil || a.State != AssignmentDelivered || !a.Schedule.StartDateTime.Equal(lcDay(5)) || !a.End().Equal(lcDay(35)) {
					t.Errorf("assignment %+v: want delivered from the start time for P30D", a)
				}
			} else if a.State != AssignmentExpired {
				t.Errorf("assignment %+v: want expired", a)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{
		1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second,
		5 * time.Minute, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute,
	}
	var got []time.Duration
	for attempt := 0; attempt <= 12; attempt++ {
		got = append(got, Backoff(attempt))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Backoff(0..12) (-want +got):\n%s", diff)
	}
	for _, attempt := range []int{13, 20, 63, 64, 100, 1 << 30} {
		if d := Backoff(attempt); d != 5*time.Minute {
			t.Errorf("Backoff(%d) = %v, want the 5m cap", attempt, d)
		}
	}
}
