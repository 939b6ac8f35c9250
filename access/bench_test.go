package access

import (
	"strconv"
	"testing"
	"time"
)

// Benchmarks of the pure request state machine (lifecycle.go, resume.go):
// no IO, a fixed time, and ids from a counter over a table built once, so
// that what they measure is the state machine itself and not id generation.
//
// The request is an adminAdd on a policy without approval whose assignments
// expire after P30D, binding a launch-and-wait extension (PT1H callback
// timeout) at assignmentRequestCreated and a launch-and-continue one at
// assignmentRequestGranted.

var (
	bmNow      = time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)
	bmCallback = bmNow.Add(2 * time.Minute) // when the callback arrives
	bmAdmin    = Subject{ID: "user-admin", Kind: SubjectUser, DisplayName: "Ada Admin"}
	bmAlice    = Subject{ID: "user-alice", Kind: SubjectUser, DisplayName: "Alice", PrincipalName: "alice@contoso.test", Email: "alice@contoso.test"}
	bmSoD      = Subject{ID: "sp-sod", Kind: SubjectServicePrincipal, DisplayName: "SoD service"}
)

// bmIDs is a deterministic, allocation-free id source: a counter indexing a
// table of ids made up front. reset starts it over, so every iteration of a
// benchmark hands out the same ids.
type bmIDs struct {
	n     int
	table []string
}

func newBMIDs(prefix string) *bmIDs {
	g := &bmIDs{table: make([]string, 64)}
	for i := range g.table {
		g.table[i] = prefix + "-" + strconv.Itoa(i+1)
	}
	return g
}

func (g *bmIDs) next() string {
	g.n++
	if g.n <= len(g.table) {
		return g.table[g.n-1]
	}
	return "id-overflow-" + strconv.Itoa(g.n) // never reached by these benchmarks
}

func (g *bmIDs) reset() { g.n = 0 }

func bmEnv(now time.Time, ids *bmIDs, actor Subject) Env {
	return Env{Now: now, NewID: ids.next, Actor: actor}
}

// bmRequest is the new adminAdd request as the service builds it before Submit.
func bmRequest() Request {
	return Request{
		ID: "req-1", Type: RequestAdminAdd, Justification: "needed for work",
		AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1",
		Target: bmAlice, Requestor: bmAdmin,
		Policy: PolicySnapshot{
			DisplayName: "Employees",
			Expiration:  Expiration{Type: ExpirationAfterDuration, Duration: MustDuration("P30D")},
			Bindings: []StageBinding{
				{Stage: StageRequestCreated, ExtensionID: "ext-created", Waits: true, CallbackTimeout: MustDuration("PT1H")},
				{Stage: StageRequestGranted, ExtensionID: "ext-granted"},
			},
		},
	}
}

// bmCheckSubmitted fails unless t is the submitted request waiting for the
// created-stage callback, with its callout and callback timeout queued.
func bmCheckSubmitted(b *testing.B, t Transition) {
	b.Helper()
	r := t.Request
	if r.State != StateSubmitted || r.Status != StatusWaitingForCallback || r.Step != StepCreated {
		b.Fatalf("Submit left the request at %s/%s step %s, want %s/%s step %s",
			r.State, r.Status, r.Step, StateSubmitted, StatusWaitingForCallback, StepCreated)
	}
	if t.Assignment != nil {
		b.Fatalf("Submit made an assignment before the created-stage callback: %+v", t.Assignment)
	}
	if len(t.Work) != 2 ||
		t.Work[0].Kind != WorkCallout || t.Work[0].Stage != StageRequestCreated || t.Work[0].ExtensionID != "ext-created" ||
		!t.Work[0].DueAt.Equal(bmNow) ||
		t.Work[1].Kind != WorkCallbackTimeout || t.Work[1].Stage != StageRequestCreated ||
		t.Work[1].InstanceID != t.Work[0].InstanceID || !t.Work[1].DueAt.Equal(bmNow.Add(time.Hour)) {
		b.Fatalf("Submit queued %+v, want the created-stage callout and its PT1H callback timeout", t.Work)
	}
	if len(t.History) != 3 || t.History[0].Action != "submitted" || t.History[1].Action != "calloutQueued" ||
		t.History[2].Action != "transition" {
		b.Fatalf("Submit recorded %+v, want submitted, calloutQueued, transition", t.History)
	}
}

// bmWaiting is the request after Submit, with the created-stage callout
// instance recorded as the engine records it once the extension answered
// 2xx (FinishCallout: waitingForCallback), and that instance's id.
func bmWaiting(b *testing.B) (Request, string) {
	b.Helper()
	t := Submit(bmRequest(), nil, bmEnv(bmNow, newBMIDs("s"), bmAdmin))
	bmCheckSubmitted(b, t)
	w := t.Work[0]
	r := t.Request
	r.Callouts = append(r.Callouts, CalloutInstance{ID: w.InstanceID, CustomExtensionID: w.ExtensionID, Stage: w.Stage,
		Status: WaitingForCallback, Waits: true})
	return r, w.InstanceID
}

// bmCheckDelivered fails unless t delivered the request: a new assignment
// that ends after P30D, its expiry and the granted-stage callout queued.
func bmCheckDelivered(b *testing.B, name string, t Transition) {
	b.Helper()
	r := t.Request
	if r.State != StateDelivered || r.Status != StatusDelivered || r.Step != StepDone || r.CompletedDateTime == nil {
		b.Fatalf("%s left the request at %s/%s step %s (completed %v), want %s/%s step %s, completed",
			name, r.State, r.Status, r.Step, r.CompletedDateTime, StateDelivered, StatusDelivered, StepDone)
	}
	a := t.Assignment
	if a == nil || a.State != AssignmentDelivered || r.AssignmentID != a.ID {
		b.Fatalf("%s made the assignment %+v (request names %q), want a delivered one", name, a, r.AssignmentID)
	}
	if end := a.End(); end == nil || !end.Equal(bmCallback.AddDate(0, 0, 30)) {
		b.Fatalf("%s: the assignment ends at %v, want %v", name, end, bmCallback.AddDate(0, 0, 30))
	}
	if len(t.Work) != 2 ||
		t.Work[0].Kind != WorkExpire || t.Work[0].AssignmentID != a.ID || !t.Work[0].DueAt.Equal(*a.End()) ||
		t.Work[1].Kind != WorkCallout || t.Work[1].Stage != StageRequestGranted || t.Work[1].ExtensionID != "ext-granted" ||
		t.Work[1].RequestState != StateDelivering {
		b.Fatalf("%s queued %+v, want the assignment's expiry and the granted-stage callout", name, t.Work)
	}
	for _, w := range t.Work {
		if w.Kind == WorkCallbackTimeout {
			b.Fatalf("%s queued a callback timeout for the launch-and-continue granted stage: %+v", name, w)
		}
	}
}

// BenchmarkSubmit runs a new request to its first wait: the launch-and-wait
// callout at assignmentRequestCreated.
func BenchmarkSubmit(b *testing.B) {
	ids := newBMIDs("s")
	env := bmEnv(bmNow, ids, bmAdmin)
	r := bmRequest()
	bmCheckSubmitted(b, Submit(r, nil, env))
	b.ReportAllocs()
	var t Transition
	for b.Loop() {
		ids.reset()
		t = Submit(r, nil, env)
	}
	bmCheckSubmitted(b, t)
}

// BenchmarkResume applies a continue callback (request callback data naming
// the stage and the instance, as the service receives it after Validate) to
// the request waiting at assignmentRequestCreated. Resume runs the request on
// through delivery and the launch-and-continue granted-stage callout to
// delivered: there is no separate step between the callback and delivery.
func BenchmarkResume(b *testing.B) {
	waiting, inst := bmWaiting(b)
	cb := Callback{Source: "Contoso.SodCheckProcess", Type: stageTypePrefix + string(StageRequestCreated), HasData: true,
		DataType: CallbackDataRequest, Stage: string(StageRequestCreated), InstanceID: inst, Detail: "Checked by the SoD service"}
	if err := cb.Validate(); err != nil {
		b.Fatalf("Validate: %v", err)
	}
	ids := newBMIDs("r")
	env := bmEnv(bmCallback, ids, bmSoD)
	check := func(res ResumeResult, err error) {
		b.Helper()
		if err != nil {
			b.Fatalf("Resume: %v", err)
		}
		if res.Repeat || !res.Transition.DropRequestTimers {
			b.Fatalf("Resume: repeat %v, drops the request's timers %v; want a first callback that drops them",
				res.Repeat, res.Transition.DropRequestTimers)
		}
		cs := res.Transition.Request.Callouts
		if len(cs) != 1 || cs[0].Status != CallbackReceived || cs[0].Outcome != OutcomeContinue {
			b.Fatalf("Resume left the callouts %+v, want the instance callbackReceived/continue", cs)
		}
		if h := res.Transition.History; len(h) == 0 || h[0].Action != "callbackReceived" {
			b.Fatalf("Resume recorded %+v, want callbackReceived first", h)
		}
		bmCheckDelivered(b, "Resume", res.Transition)
	}
	check(Resume(waiting, nil, cb, env))
	if waiting.Callouts[0].Status != WaitingForCallback {
		b.Fatal("Resume changed the caller's request; iterations would not be alike")
	}
	b.ReportAllocs()
	var res ResumeResult
	var err error
	for b.Loop() {
		ids.reset()
		res, err = Resume(waiting, nil, cb, env)
	}
	check(res, err)
}

// BenchmarkContinueToDelivered is the part of Resume after the callback's
// own checks and bookkeeping: Continue takes the request past the created
// stage it waited in, makes the assignment, queues its expiry and the
// granted-stage callout, and ends delivered. Continue is also what an
// approval and a scheduled start call.
func BenchmarkContinueToDelivered(b *testing.B) {
	waiting, _ := bmWaiting(b)
	ids := newBMIDs("c")
	env := bmEnv(bmCallback, ids, bmSoD)
	bmCheckDelivered(b, "Continue", Continue(waiting, nil, env))
	b.ReportAllocs()
	var t Transition
	for b.Loop() {
		ids.reset()
		t = Continue(waiting, nil, env)
	}
	bmCheckDelivered(b, "Continue", t)
}
