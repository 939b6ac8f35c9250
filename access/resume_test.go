package access

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scenario tables for resume.go (docs/design.md, "The resume action"): Callback.Validate,
// Callback.Outcome, Resume and Reprocess. No IO: requests are built by hand
// and brought to a wait by Submit (and Continue), the engine's part is done
// by hand (the callout instance is appended as BeginCallout / FinishCallout
// would record it), the time is fixed and ids come from counters.

var (
	rsNow   = time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)
	rsLater = rsNow.Add(10 * time.Minute) // when callbacks arrive
	rsActor = Subject{ID: "sp-sod", Kind: SubjectServicePrincipal, DisplayName: "SoD service"}
	rsAlice = Subject{ID: "user-alice", Kind: SubjectUser, DisplayName: "Alice", PrincipalName: "alice@contoso.test"}
	rsAdmin = Subject{ID: "user-admin", Kind: SubjectUser, DisplayName: "Ada Admin"}
)

// rsSkipBug keeps the suite green for a row that shows a known bug. Set
// ACCESSD_SHOW_BUGS=1 to run such rows and see them fail.
func rsSkipBug(t *testing.T, bug string) {
	t.Helper()
	if bug != "" && os.Getenv("ACCESSD_SHOW_BUGS") == "" {
		t.Skip("BUG: " + bug)
	}
}

// rsEnv is a fixed time, a counter for ids with a prefix (so the ids of
// separate transitions never meet) and an actor.
func rsEnv(now time.Time, prefix string, actor Subject) Env {
	n := 0
	return Env{Now: now, Actor: actor, NewID: func() string { n++; return fmt.Sprintf("%s-%03d", prefix, n) }}
}

// rsSetup is one way a request comes to wait for a callback.
type rsSetup struct {
	name      string
	stage     Stage
	approval  bool         // the policy requires approval
	waitState RequestState // the state while waiting
	step      Step
	failState RequestState // the state a failed stage ends in
	update    bool         // an adminUpdate of asg-1 rather than an adminAdd
}

// early is true at the stages where data.state may deny or cancel.
func (s rsSetup) early() bool {
	return s.stage == StageRequestCreated || s.stage == StageRequestApproved
}

// other is a request stage that is not s's.
func (s rsSetup) other() Stage {
	if s.stage == StageRequestCreated {
		return StageRequestGranted
	}
	return StageRequestCreated
}

var rsSetups = []rsSetup{
	{"created", StageRequestCreated, false, StateSubmitted, StepCreated, StateDeliveryFailed, false},
	{"approved", StageRequestApproved, false, StateSubmitted, StepApproved, StateDeliveryFailed, false},
	{"approved after approval", StageRequestApproved, true, StatePendingApproval, StepApproved, StateDeliveryFailed, false},
	{"granted", StageRequestGranted, false, StateDelivering, StepGranted, StatePartiallyDelivered, false},
	{"removed", StageRequestRemoved, false, StateDelivering, StepRemoved, StatePartiallyDelivered, false},
	{"update at created", StageRequestCreated, false, StateSubmitted, StepCreated, StateDeliveryFailed, true},
	{"update at granted", StageRequestGranted, false, StateDelivering, StepGranted, StatePartiallyDelivered, true},
}

func rsExt(s Stage) string { return "ext-" + string(s) }

func rsWaitBinding(s Stage) StageBinding {
	return StageBinding{Stage: s, ExtensionID: rsExt(s), Waits: true, CallbackTimeout: MustDuration("PT1H")}
}

// rsBase is an adminAdd (an adminRemove of asg-1 for the removed stage, an
// adminUpdate of asg-1 to end at now+100d for the update setups) on a policy
// whose assignments never expire, binding the given extensions.
func rsBase(s rsSetup, bindings ...StageBinding) (Request, *Assignment) {
	typ := RequestAdminAdd
	switch {
	case s.stage == StageRequestRemoved:
		typ = RequestAdminRemove
	case s.update:
		typ = RequestAdminUpdate
	}
	r := Request{
		ID: "req-1", Type: typ, AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1",
		Target: rsAlice, Requestor: rsAdmin,
		Policy: PolicySnapshot{DisplayName: "Employees", ApprovalRequired: s.approval, Bindings: bindings},
	}
	if typ.IsAdd() {
		return r, nil
	}
	if typ.IsUpdate() {
		end := rsNow.AddDate(0, 0, 100)
		r.Schedule.Expiration = Expiration{Type: ExpirationAfterDateTime, EndDateTime: &end}
	}
	r.AssignmentID = "asg-1"
	start := rsNow.AddDate(0, 0, -20)
	return r, &Assignment{ID: "asg-1", AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1", Target: rsAlice,
		State: AssignmentDelivered, Status: StatusDelivered, CreatedDateTime: start, Schedule: Schedule{StartDateTime: &start}}
}

// rsWaiting is a request waiting for a callback at one stage, with the
// callout instance the engine recorded when it claimed the callout.
type rsWaiting struct {
	rsSetup
	Req  Request
	Asg  *Assignment // the request's assignment, if it has one by now
	Inst string      // the waiting callout instance
}

// rsStart submits a request and, when it stops for approval, continues it
// as an approval would.
func rsStart(t *testing.T, s rsSetup, r Request, a *Assignment) Transition {
	t.Helper()
	tr := Submit(r, a, rsEnv(rsNow, "s", rsAdmin))
	if tr.Request.Step == StepApproval && tr.Request.State == StatePendingApproval {
		if tr.Assignment != nil {
			a = tr.Assignment
		}
		tr = Continue(tr.Request, a, rsEnv(rsNow, "p", rsAdmin))
	}
	return tr
}

// rsMarkSent records the callout instance of the transition's callout at
// stage as the engine does (BeginCallout: calloutSent; FinishCallout after a
// 2xx: waitingForCallback) and returns the request and the instance id.
func rsMarkSent(t *testing.T, tr Transition, stage Stage, status CalloutStatus) (Request, string) {
	t.Helper()
	for _, w := range tr.Work {
		if w.Kind == WorkCallout && w.Stage == stage {
			b, _ := tr.Request.Policy.Binding(stage)
			r := tr.Request
			r.Callouts = append(slices.Clone(r.Callouts), CalloutInstance{ID: w.InstanceID, CustomExtensionID: w.ExtensionID,
				Stage: stage, Status: status, Waits: b.Waits})
			return r, w.InstanceID
		}
	}
	t.Fatalf("no callout work at stage %s in %+v", stage, tr.Work)
	return Request{}, ""
}

// rsWaitAt brings a request to wait at s's stage, its instance in status.
func rsWaitAt(t *testing.T, s rsSetup, status CalloutStatus) rsWaiting {
	t.Helper()
	r, a := rsBase(s, rsWaitBinding(s.stage))
	tr := rsStart(t, s, r, a)
	if tr.Assignment != nil {
		a = tr.Assignment
	}
	req, inst := rsMarkSent(t, tr, s.stage, status)
	if req.State != s.waitState || req.Status != StatusWaitingForCallback || req.Step != s.step {
		t.Fatalf("setup: the request stands at %s/%s step %s, want %s/%s step %s", req.State, req.Status, req.Step,
			s.waitState, StatusWaitingForCallback, s.step)
	}
	if s.stage == StageRequestGranted && (a == nil || a.State != AssignmentDelivered) {
		t.Fatalf("setup: no delivered assignment at the granted stage: %+v", a)
	}
	return rsWaiting{rsSetup: s, Req: req, Asg: a, Inst: inst}
}

// rsLine is a history entry as the tables write it.
func rsLine(h HistoryEntry) string {
	return strings.Join([]string{h.Action, string(h.Stage), h.Detail, h.Outcome, string(h.State) + "/" + h.Status}, "|")
}

func rsL(action string, stage Stage, detail, outcome string, state RequestState, status string) string {
	return strings.Join([]string{action, string(stage), detail, outcome, string(state) + "/" + status}, "|")
}

// rsCallbackLine is the callback's own entry: it records the request as it
// stood while it waited.
func rsCallbackLine(w rsWaiting, action string, outcome CallbackOutcome, detail string) string {
	return rsL(action, w.stage, detail, string(outcome), w.waitState, StatusWaitingForCallback)
}

// rsExpect is what a callback should do to a waiting request.
type rsExpect struct {
	isErr bool
	kind  Kind
	msg   []string

	State     RequestState
	Status    string
	Step      Step
	Completed bool
	InstOut   CallbackOutcome // the instance becomes callbackReceived with this outcome
	Detail    string          // the instance's detail
	NewAsg    bool            // a delivered assignment is made
	Work      []string        // "kind stage", in order
	History   []string
}

func rsErr(kind Kind, msg ...string) rsExpect { return rsExpect{isErr: true, kind: kind, msg: msg} }

// rsContinued: the request goes on; with no other stage bound it ends delivered.
func rsContinued(w rsWaiting, detail string) rsExpect {
	h := []string{rsCallbackLine(w, "callbackReceived", OutcomeContinue, detail)}
	if w.early() {
		h = append(h, rsL("transition", "", "", "", StateDelivering, StatusDelivering))
	}
	h = append(h, rsL("transition", "", "", "", StateDelivered, StatusDelivered))
	e := rsExpect{State: StateDelivered, Status: StatusDelivered, Step: StepDone, Completed: true,
		InstOut: OutcomeContinue, Detail: detail, NewAsg: w.early(), History: h}
	if w.update && w.early() {
		// The updated assignment's new end, and the pre-expiration stages before it.
		e.Work = []string{"expire ", "preExpiry " + string(StageFourteenDaysBeforeExpiry), "preExpiry " + string(StageOneDayBeforeExpiry)}
	}
	return e
}

// rsEnded: the callback denied or canceled the request.
func rsEnded(w rsWaiting, outcome CallbackOutcome, detail string) rsExpect {
	state, status := StateDenied, StatusDenied
	if outcome == OutcomeCanceled {
		state, status = StateCanceled, StatusCanceled
	}
	return rsExpect{State: state, Status: status, Step: w.step, Completed: true, InstOut: outcome, Detail: detail,
		History: []string{rsCallbackLine(w, "callbackReceived", outcome, detail), rsL("transition", "", "", "", state, status)}}
}

// rsFailedByCallback: operationStatus failed fails the stage like a failed callout.
func rsFailedByCallback(w rsWaiting, detail string) rsExpect {
	return rsExpect{State: w.failState, Status: StatusCustomExtensionFailed, Step: w.step, Completed: true,
		InstOut: OutcomeFailed, Detail: detail,
		History: []string{rsCallbackLine(w, "callbackReceived", OutcomeFailed, detail),
			rsL("stageFailed", w.stage, StatusCustomExtensionFailed, "", w.waitState, StatusWaitingForCallback),
			rsL("transition", "", "", "", w.failState, StatusCustomExtensionFailed)}}
}

// rsCheck compares what Resume did with what a row expects.
func rsCheck(t *testing.T, w rsWaiting, cb Callback, env Env, res ResumeResult, err error, want rsExpect) {
	t.Helper()
	if want.isErr {
		if err == nil {
			t.Fatalf("Resume accepted the callback (repeat %v, request %s/%s); want a %s error %v", res.Repeat,
				res.Transition.Request.State, res.Transition.Request.Status, want.kind, want.msg)
		}
		if KindOf(err) != want.kind {
			t.Fatalf("error %q is %s, want %s", err, KindOf(err), want.kind)
		}
		for _, m := range want.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("error %q does not name %q", err, m)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("Resume: %v (%s)", err, KindOf(err))
	}
	if res.Repeat {
		t.Fatalf("Resume answered a repeat for a first callback")
	}
	tr := res.Transition
	r := tr.Request
	if r.ID != w.Req.ID || r.Type != w.Req.Type {
		t.Errorf("the transition changed the request's identity: %+v", r)
	}
	if r.State != want.State || r.Status != want.Status || r.Step != want.Step {
		t.Errorf("request %s/%s step %s, want %s/%s step %s", r.State, r.Status, r.Step, want.State, want.Status, want.Step)
	}
	switch {
	case want.Completed && (r.CompletedDateTime == nil || !r.CompletedDateTime.Equal(env.Now)):
		t.Errorf("CompletedDateTime %v, want %v", r.CompletedDateTime, env.Now)
	case !want.Completed && r.CompletedDateTime != nil:
		t.Errorf("CompletedDateTime %v, want nil", *r.CompletedDateTime)
	}
	if !tr.DropRequestTimers {
		t.Errorf("DropRequestTimers is false: the callback deadline would still fire")
	}
	inst, _, ok := r.Callout(w.Inst)
	if !ok {
		t.Fatalf("the instance %s is gone: %+v", w.Inst, r.Callouts)
	}
	wantInst := CalloutInstance{ID: w.Inst, CustomExtensionID: rsExt(w.stage), Stage: w.stage, Status: CallbackReceived,
		Waits: true, Outcome: want.InstOut, Detail: want.Detail}
	if d := cmp.Diff(wantInst, inst); d != "" {
		t.Errorf("callout instance (-want +got):\n%s", d)
	}
	if len(r.Callouts) != len(w.Req.Callouts) {
		t.Errorf("callout instances %d, want %d", len(r.Callouts), len(w.Req.Callouts))
	}
	if want.NewAsg {
		if a := tr.Assignment; a == nil || a.State != AssignmentDelivered || r.AssignmentID != a.ID || a.Target != rsAlice {
			t.Errorf("want a delivered assignment for the request, got %+v (request's %q)", tr.Assignment, r.AssignmentID)
		}
		if w.update {
			if a := tr.Assignment; a == nil || a.ID != "asg-1" || a.End() == nil || !a.End().Equal(rsNow.AddDate(0, 0, 100)) {
				t.Errorf("want asg-1 ending at now+100d, got %+v", tr.Assignment)
			}
		}
	} else if tr.Assignment != nil {
		t.Errorf("assignment changed: %+v", tr.Assignment)
	}
	var work []string
	for _, x := range tr.Work {
		work = append(work, string(x.Kind)+" "+string(x.Stage))
	}
	if d := cmp.Diff(want.Work, work); d != "" {
		t.Errorf("work (-want +got):\n%s", d)
	}
	var lines []string
	for _, h := range tr.History {
		lines = append(lines, rsLine(h))
		if h.RequestID != w.Req.ID || !h.At.Equal(env.Now) || h.ActorID != env.Actor.ID || h.ActorName != env.Actor.DisplayName || h.ID == "" {
			t.Errorf("history entry %+v: want request %s, time %v, actor %s", h, w.Req.ID, env.Now, env.Actor.ID)
		}
	}
	if d := cmp.Diff(want.History, lines); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
	if len(tr.History) > 0 {
		if h := tr.History[0]; h.Source != cb.Source || h.Type != cb.Type {
			t.Errorf("callback entry source/type %q/%q, want %q/%q", h.Source, h.Type, cb.Source, cb.Type)
		}
	}
}

// rsCase is one callback on a freshly waiting request, for every setup.
type rsCase struct {
	name   string
	status CalloutStatus // of the waiting instance; "" is calloutSent
	cb     func(w rsWaiting) Callback
	want   func(w rsWaiting) rsExpect
	bug    string
}

func rsTyped(dataType string, w rsWaiting, edit func(*Callback)) Callback {
	cb := Callback{Source: "Contoso.SodCheckProcess", Type: stageTypePrefix + string(w.stage), HasData: true, DataType: dataType,
		Stage: string(w.stage), InstanceID: w.Inst, Detail: "Checked by the SoD service"}
	if edit != nil {
		edit(&cb)
	}
	return cb
}

// rsReq is the request callback data of docs/design.md's resume example, changed by edit.
func rsReq(w rsWaiting, edit func(*Callback)) Callback { return rsTyped(CallbackDataRequest, w, edit) }

// rsTask is identityGovernance.customTaskExtensionCallbackData.
func rsTask(w rsWaiting, edit func(*Callback)) Callback {
	return rsTyped(CallbackDataCustomTask, w, edit)
}

const rsDetail = "Checked by the SoD service"

func rsDenyOr400(outcome CallbackOutcome) func(w rsWaiting) rsExpect {
	return func(w rsWaiting) rsExpect {
		if w.early() {
			return rsEnded(w, outcome, rsDetail)
		}
		return rsErr(KindInvalid, "data.state", string(outcome), string(w.stage), "assignmentRequestCreated", "assignmentRequestApproved")
	}
}

func TestResumeAtEachStage(t *testing.T) {
	continued := func(w rsWaiting) rsExpect { return rsContinued(w, rsDetail) }
	cases := []rsCase{
		// continue
		{name: "continue by instance id (calloutSent)", cb: func(w rsWaiting) Callback { return rsReq(w, nil) }, want: continued},
		{name: "continue by instance id (waitingForCallback)", status: WaitingForCallback,
			cb: func(w rsWaiting) Callback { return rsReq(w, nil) }, want: continued},
		{name: "continue by instance id alone",
			cb:   func(w rsWaiting) Callback { return Callback{HasData: true, InstanceID: w.Inst} },
			want: func(w rsWaiting) rsExpect { return rsContinued(w, "") }},
		{name: "continue without an id: the waiting instance (calloutSent)",
			cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.InstanceID = "" }) }, want: continued},
		{name: "continue without an id: the waiting instance (waitingForCallback)", status: WaitingForCallback,
			cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.InstanceID = "" }) }, want: continued},
		{name: "continue without an id or a stage",
			cb: func(w rsWaiting) Callback {
				return Callback{HasData: true, DataType: CallbackDataRequest, Detail: rsDetail}
			}, want: continued},
		{name: "continue: plain empty callback",
			cb:   func(w rsWaiting) Callback { return Callback{} },
			want: func(w rsWaiting) rsExpect { return rsContinued(w, "") }},
		{name: "continue: source and type only, data null",
			cb: func(w rsWaiting) Callback {
				return Callback{Source: "LogicApps", Type: stageTypePrefix + string(w.stage)}
			},
			want: func(w rsWaiting) rsExpect { return rsContinued(w, "") }},
		{name: "continue: the draft page's example (free-text source and type)",
			cb: func(w rsWaiting) Callback {
				return Callback{Source: "String", Type: "String", HasData: true, DataType: CallbackDataCustomTask}
			},
			want: func(w rsWaiting) rsExpect { return rsContinued(w, "") }},
		{name: "continue: data.stage in another case",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage = strings.ToUpper(cb.Stage[:1]) + cb.Stage[1:] })
			}, want: continued},
		{name: "continue: data.stage upper case, no id",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage, cb.InstanceID = strings.ToUpper(cb.Stage), "" })
			}, want: continued},
		{name: "continue: stage named by type only, in another case",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) {
					cb.Stage, cb.InstanceID = "", ""
					cb.Type = "Microsoft.Graph.AccessPackageCustomExtensionStage." + strings.ToUpper(string(w.stage))
				})
			}, want: continued},
		{name: "continue: data without @odata.type",
			cb: func(w rsWaiting) Callback { return rsTyped("", w, nil) }, want: continued},
		{name: "continue: customExtensionData",
			cb: func(w rsWaiting) Callback { return rsTyped(CallbackDataBase, w, nil) }, want: continued},
		{name: "continue: assignmentRequestApprovalStageCallbackData",
			cb: func(w rsWaiting) Callback { return rsTyped(CallbackDataApprovalStage, w, nil) }, want: continued},
		{name: "continue: customTask completed",
			cb: func(w rsWaiting) Callback { return rsTask(w, func(cb *Callback) { cb.OperationStatus = "completed" }) }, want: continued},
		{name: "continue: customTask Completed (as the LCW example capitalises)",
			cb: func(w rsWaiting) Callback { return rsTask(w, func(cb *Callback) { cb.OperationStatus = "Completed" }) }, want: continued},
		{name: "continue: customTask without operationStatus",
			cb: func(w rsWaiting) Callback { return rsTask(w, nil) }, want: continued},

		// deny and cancel
		{name: "deny: denied", cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.State = "denied" }) },
			want: rsDenyOr400(OutcomeDenied)},
		{name: "deny: Denied", cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.State = "Denied" }) },
			want: rsDenyOr400(OutcomeDenied)},
		{name: "deny: DENIED without an id",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.State, cb.InstanceID = "DENIED", "" })
			},
			want: rsDenyOr400(OutcomeDenied)},
		{name: "deny: customExtensionData with state denied",
			cb: func(w rsWaiting) Callback {
				return rsTyped(CallbackDataBase, w, func(cb *Callback) { cb.State = "denied" })
			},
			want: rsDenyOr400(OutcomeDenied)},
		{name: "deny: data without @odata.type",
			cb:   func(w rsWaiting) Callback { return rsTyped("", w, func(cb *Callback) { cb.State = "Denied" }) },
			want: rsDenyOr400(OutcomeDenied)},
		{name: "cancel: canceled", cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.State = "canceled" }) },
			want: rsDenyOr400(OutcomeCanceled)},
		{name: "cancel: Canceled", cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.State = "Canceled" }) },
			want: rsDenyOr400(OutcomeCanceled)},

		// failed
		{name: "failed: customTask failed",
			cb:   func(w rsWaiting) Callback { return rsTask(w, func(cb *Callback) { cb.OperationStatus = "failed" }) },
			want: func(w rsWaiting) rsExpect { return rsFailedByCallback(w, rsDetail) }},
		{name: "failed: customTask Failed, no id, no stage",
			cb: func(w rsWaiting) Callback {
				return Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "Failed"}
			},
			want: func(w rsWaiting) rsExpect { return rsFailedByCallback(w, "") }},
		{name: "failed: customTask FAILED with a waitingForCallback instance", status: WaitingForCallback,
			cb:   func(w rsWaiting) Callback { return rsTask(w, func(cb *Callback) { cb.OperationStatus = "FAILED" }) },
			want: func(w rsWaiting) rsExpect { return rsFailedByCallback(w, rsDetail) }},

		// wrong stage
		{name: "wrong stage in data.stage with the instance id: 400",
			cb: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.Stage = string(w.other()) }) },
			want: func(w rsWaiting) rsExpect {
				return rsErr(KindInvalid, string(w.other()), string(w.stage), w.Inst)
			}},
		{name: "wrong stage in type with the instance id: 400",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage, cb.Type = "", stageTypePrefix+string(w.other()) })
			},
			want: func(w rsWaiting) rsExpect { return rsErr(KindInvalid, string(w.other()), string(w.stage)) }},
		{name: "a pre-expiration stage named with the instance id: 400",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage = string(StageOneDayBeforeExpiry) })
			},
			want: func(w rsWaiting) rsExpect {
				return rsErr(KindInvalid, string(StageOneDayBeforeExpiry), string(w.stage))
			}},
		{name: "data.stage wins over type: right stage in data.stage, wrong in type",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Type = stageTypePrefix + string(w.other()) })
			}, want: continued},
		{name: "wrong stage without an id: 409, nothing waits there",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage, cb.InstanceID = string(w.other()), "" })
			},
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, string(w.other())) }},
		{name: "wrong stage in type without an id: 409",
			cb: func(w rsWaiting) Callback {
				return Callback{Type: stageTypePrefix + string(w.other())}
			},
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, string(w.other())) }},

		// unknown instance and the order of checks
		{name: "unknown instance id: 409",
			cb:   func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.InstanceID = "no-such-instance" }) },
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, "no-such-instance") }},
		{name: "unknown instance id, no data type: 409",
			cb:   func(w rsWaiting) Callback { return Callback{HasData: true, InstanceID: "no-such-instance"} },
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, "no-such-instance") }},
		{name: "unknown instance and a wrong stage: 409 (instance first)",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.InstanceID, cb.Stage = "no-such-instance", string(w.other()) })
			},
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, "no-such-instance") }},
		{name: "unknown instance and a state not allowed here: 409 (instance first)",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.InstanceID, cb.State = "no-such-instance", "denied" })
			},
			want: func(w rsWaiting) rsExpect { return rsErr(KindConflict, "no-such-instance") }},
		{name: "wrong stage and a state: the stage's 400 (stage before state)",
			cb: func(w rsWaiting) Callback {
				return rsReq(w, func(cb *Callback) { cb.Stage, cb.State = string(w.other()), "denied" })
			},
			want: func(w rsWaiting) rsExpect {
				return rsErr(KindInvalid, "names stage "+string(w.other()), "at stage "+string(w.stage))
			}},
	}
	for _, s := range rsSetups {
		for _, tc := range cases {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				rsSkipBug(t, tc.bug)
				status := tc.status
				if status == "" {
					status = CalloutSent
				}
				w := rsWaitAt(t, s, status)
				cb := tc.cb(w)
				if err := cb.Validate(); err != nil {
					t.Fatalf("the row's callback is not valid: %v", err)
				}
				before := rsClone(w.Req)
				env := rsEnv(rsLater, "r", rsActor)
				res, err := Resume(w.Req, w.Asg, cb, env)
				rsCheck(t, w, cb, env, res, err, tc.want(w))
				if err != nil {
					if d := cmp.Diff(before, w.Req); d != "" {
						t.Errorf("a refused callback changed the caller's request (-before +after):\n%s", d)
					}
				}
			})
		}
	}
}

// rsClone deep-copies what Resume could change in place.
func rsClone(r Request) Request {
	r.Callouts = slices.Clone(r.Callouts)
	return r
}

// A callback is a transition like any other: it must not change the
// request its caller holds (transitions are pure functions).
func TestResumeLeavesTheCallersRequestAlone(t *testing.T) {
	for _, s := range rsSetups {
		t.Run(s.name, func(t *testing.T) {
			w := rsWaitAt(t, s, CalloutSent)
			before := rsClone(w.Req)
			if _, err := Resume(w.Req, w.Asg, Callback{HasData: true, InstanceID: w.Inst, Detail: "x"}, rsEnv(rsLater, "r", rsActor)); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(before, w.Req); d != "" {
				t.Errorf("Resume changed the caller's request in place (-before +after):\n%s", d)
			}
		})
	}
}

// rsAccept applies a callback that must be accepted and returns the request after it.
func rsAccept(t *testing.T, w rsWaiting, cb Callback, env Env) Transition {
	t.Helper()
	res, err := Resume(rsClone(w.Req), w.Asg, cb, env)
	if err != nil || res.Repeat {
		t.Fatalf("first callback: repeat %v, %v", res.Repeat, err)
	}
	return res.Transition
}

func TestResumeRepeat(t *testing.T) {
	for _, s := range rsSetups {
		outcomes := []struct {
			name  string
			first func(w rsWaiting) Callback
			again func(w rsWaiting) Callback // same outcome, other detail, source and spelling
			other func(w rsWaiting) Callback // another outcome
			out   CallbackOutcome
		}{
			{name: "continue",
				first: func(w rsWaiting) Callback { return rsReq(w, func(cb *Callback) { cb.Detail = "first" }) },
				again: func(w rsWaiting) Callback {
					return Callback{Source: "Retry", Type: "again", HasData: true, DataType: CallbackDataCustomTask,
						OperationStatus: "Completed", InstanceID: w.Inst, Detail: "second"}
				},
				other: func(w rsWaiting) Callback { return rsTask(w, func(cb *Callback) { cb.OperationStatus = "failed" }) },
				out:   OutcomeContinue},
			{name: "failed",
				first: func(w rsWaiting) Callback {
					return rsTask(w, func(cb *Callback) { cb.OperationStatus, cb.Detail = "failed", "first" })
				},
				again: func(w rsWaiting) Callback {
					return Callback{Source: "Retry", HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "FAILED",
						InstanceID: w.Inst, Detail: "second"}
				},
				other: func(w rsWaiting) Callback { return Callback{HasData: true, InstanceID: w.Inst} },
				out:   OutcomeFailed},
		}
		if s.early() {
			outcomes = append(outcomes, struct {
				name  string
				first func(w rsWaiting) Callback
				again func(w rsWaiting) Callback
				other func(w rsWaiting) Callback
				out   CallbackOutcome
			}{name: "denied",
				first: func(w rsWaiting) Callback {
					return rsReq(w, func(cb *Callback) { cb.State, cb.Detail = "denied", "first" })
				},
				again: func(w rsWaiting) Callback {
					return Callback{Source: "Retry", HasData: true, State: "DENIED", InstanceID: w.Inst, Detail: "second"}
				},
				other: func(w rsWaiting) Callback {
					return Callback{HasData: true, State: "canceled", InstanceID: w.Inst}
				},
				out: OutcomeDenied})
		}
		for _, o := range outcomes {
			t.Run(s.name+"/"+o.name, func(t *testing.T) {
				w := rsWaitAt(t, s, CalloutSent)
				first := rsAccept(t, w, o.first(w), rsEnv(rsLater, "r", rsActor))
				after := rsWaiting{rsSetup: s, Req: first.Request, Asg: w.Asg, Inst: w.Inst}
				if first.Assignment != nil {
					after.Asg = first.Assignment
				}

				t.Run("same outcome: a repeat that changes nothing", func(t *testing.T) {
					env := rsEnv(rsLater.Add(time.Minute), "x", rsActor)
					cb := o.again(after)
					res, err := Resume(rsClone(after.Req), after.Asg, cb, env)
					if err != nil {
						t.Fatalf("repeat: %v", err)
					}
					if !res.Repeat {
						t.Fatalf("repeat not recognised: %+v", res.Transition.Request)
					}
					tr := res.Transition
					if d := cmp.Diff(after.Req, tr.Request); d != "" {
						t.Errorf("a repeat changed the request (-before +after):\n%s", d)
					}
					if tr.Assignment != nil || len(tr.Work) != 0 || tr.DropRequestTimers || tr.DropAssignmentTimers {
						t.Errorf("a repeat changes more than the history: %+v", tr)
					}
					if len(tr.History) != 1 {
						t.Fatalf("repeat history %+v, want one entry", tr.History)
					}
					h := tr.History[0]
					want := HistoryEntry{ID: "x-001", RequestID: "req-1", At: env.Now, ActorID: rsActor.ID, ActorName: rsActor.DisplayName,
						Action: "callbackRepeated", Stage: s.stage, Source: cb.Source, Type: cb.Type, Detail: "second",
						Outcome: string(o.out), State: after.Req.State, Status: after.Req.Status}
					if d := cmp.Diff(want, h); d != "" {
						t.Errorf("callbackRepeated entry (-want +got):\n%s", d)
					}
					if inst, _, _ := tr.Request.Callout(w.Inst); inst.Detail != "first" {
						t.Errorf("a repeat changed the instance's detail to %q", inst.Detail)
					}
				})
				t.Run("same outcome with a wrong stage: still the repeat (instance before stage)", func(t *testing.T) {
					cb := o.again(after)
					cb.Stage = string(s.other())
					res, err := Resume(rsClone(after.Req), after.Asg, cb, rsEnv(rsLater, "x", rsActor))
					if err != nil || !res.Repeat {
						t.Errorf("repeat naming another stage: repeat %v, %v", res.Repeat, err)
					}
				})
				t.Run("another outcome: 409", func(t *testing.T) {
					_, err := Resume(rsClone(after.Req), after.Asg, o.other(after), rsEnv(rsLater, "x", rsActor))
					rsWantErr(t, err, KindConflict, w.Inst, string(o.out))
				})
				t.Run("canceled after the answer: 409 at every stage (instance before state)", func(t *testing.T) {
					cb := Callback{HasData: true, State: "canceled", InstanceID: w.Inst, Stage: string(s.stage)}
					_, err := Resume(rsClone(after.Req), after.Asg, cb, rsEnv(rsLater, "x", rsActor))
					rsWantErr(t, err, KindConflict, w.Inst)
				})
				t.Run("no instance id after the answer: 409, nothing waits", func(t *testing.T) {
					_, err := Resume(rsClone(after.Req), after.Asg, Callback{}, rsEnv(rsLater, "x", rsActor))
					rsWantErr(t, err, KindConflict, "not waiting")
				})
			})
		}
	}
}

func rsWantErr(t *testing.T, err error, kind Kind, msg ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a %s error", kind)
	}
	if KindOf(err) != kind {
		t.Fatalf("error %q is %s, want %s", err, KindOf(err), kind)
	}
	for _, m := range msg {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not name %q", err, m)
		}
	}
}

// rsEnd moves a waiting request on as the engine or a user would: a callback
// deadline, a failed callout, a cancel.
func rsTimedOut(t *testing.T, w rsWaiting, at time.Time) Request {
	t.Helper()
	r := rsClone(w.Req)
	_, i, _ := r.Callout(w.Inst)
	r.Callouts[i].Status = CallbackTimedOut
	return FailStage(r, w.stage, StatusCallbackTimedOut, rsEnv(at, "d", Subject{DisplayName: "accessd"})).Request
}

func rsCalloutFailed(t *testing.T, w rsWaiting, at time.Time) Request {
	t.Helper()
	r := rsClone(w.Req)
	_, i, _ := r.Callout(w.Inst)
	r.Callouts[i].Status = CalloutFailedState
	return FailStage(r, w.stage, StatusCalloutFailed, rsEnv(at, "f", Subject{DisplayName: "accessd"})).Request
}

func TestResumeAfterTheWaitEnded(t *testing.T) {
	for _, s := range rsSetups {
		for _, tc := range []struct {
			name   string
			early  bool // only where a request can be canceled while it waits
			end    func(t *testing.T, w rsWaiting) Request
			status CalloutStatus // the instance's status after the end
			msg    []string      // what a refusal by instance id names
			state  RequestState
		}{
			{name: "after the callback timed out", end: func(t *testing.T, w rsWaiting) Request { return rsTimedOut(t, w, rsNow.Add(time.Hour)) },
				status: CallbackTimedOut, msg: []string{"timed out", "instance"}, state: s.failState},
			{name: "after the callout failed", end: func(t *testing.T, w rsWaiting) Request { return rsCalloutFailed(t, w, rsNow) },
				status: CalloutFailedState, msg: []string{"failed", "instance"}, state: s.failState},
			{name: "after the request was canceled", early: true, status: CalloutSent, msg: []string{"canceled"}, state: StateCanceled,
				end: func(t *testing.T, w rsWaiting) Request {
					tr, err := Cancel(rsClone(w.Req), rsEnv(rsNow.Add(time.Minute), "c", rsAdmin))
					if err != nil {
						t.Fatalf("cancel while waiting: %v", err)
					}
					if !tr.DropRequestTimers {
						t.Errorf("cancel keeps the callback deadline")
					}
					return tr.Request
				}},
		} {
			if tc.early && !s.early() {
				continue
			}
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				w := rsWaitAt(t, s, CalloutSent)
				ended := w
				ended.Req = tc.end(t, w)
				if ended.Req.State != tc.state {
					t.Fatalf("setup: request %s, want %s", ended.Req.State, tc.state)
				}
				if inst, _, _ := ended.Req.Callout(w.Inst); inst.Status != tc.status {
					t.Fatalf("setup: instance %s, want %s", inst.Status, tc.status)
				}
				for _, cb := range []struct {
					name string
					cb   Callback
					msg  []string
				}{
					{"by instance id", rsReq(w, nil), tc.msg},
					{"by instance id, failed like the timeout", rsTask(w, func(cb *Callback) { cb.OperationStatus = "failed" }), tc.msg},
					{"denied by instance id", Callback{HasData: true, InstanceID: w.Inst, State: "denied"}, tc.msg},
					{"without an id", rsReq(w, func(cb *Callback) { cb.InstanceID = "" }), []string{"not waiting"}},
					{"plain empty callback", Callback{}, []string{"not waiting"}},
				} {
					t.Run(cb.name, func(t *testing.T) {
						before := rsClone(ended.Req)
						_, err := Resume(ended.Req, ended.Asg, cb.cb, rsEnv(rsLater.Add(time.Hour), "x", rsActor))
						rsWantErr(t, err, KindConflict, cb.msg...)
						if d := cmp.Diff(before, ended.Req); d != "" {
							t.Errorf("a refused callback changed the request:\n%s", d)
						}
					})
				}
			})
		}
	}
}

func TestResumeLaunchAndContinueInstanceTakesNoCallback(t *testing.T) {
	for _, s := range rsSetups {
		t.Run(s.name, func(t *testing.T) {
			r, a := rsBase(s, StageBinding{Stage: s.stage, ExtensionID: rsExt(s.stage)})
			tr := rsStart(t, s, r, a)
			req, inst := rsMarkSent(t, tr, s.stage, CalloutSent)
			if req.Status == StatusWaitingForCallback {
				t.Fatalf("setup: a launch-and-continue extension made the request wait: %+v", req)
			}
			for _, cb := range []Callback{
				{HasData: true, InstanceID: inst},
				{HasData: true, DataType: CallbackDataRequest, InstanceID: inst, Stage: string(s.stage)},
				{HasData: true, DataType: CallbackDataCustomTask, InstanceID: inst, OperationStatus: "failed"},
			} {
				_, err := Resume(rsClone(req), tr.Assignment, cb, rsEnv(rsLater, "x", rsActor))
				rsWantErr(t, err, KindConflict, inst, "launch-and-continue")
			}
			_, err := Resume(rsClone(req), tr.Assignment, Callback{}, rsEnv(rsLater, "x", rsActor))
			rsWantErr(t, err, KindConflict, "not waiting")
		})
	}

	t.Run("while the request waits at a later stage", func(t *testing.T) {
		s := rsSetups[3] // granted
		r, _ := rsBase(s, StageBinding{Stage: StageRequestCreated, ExtensionID: rsExt(StageRequestCreated)}, rsWaitBinding(StageRequestGranted))
		tr := Submit(r, nil, rsEnv(rsNow, "s", rsAdmin))
		req, goInst := rsMarkSent(t, tr, StageRequestCreated, CalloutSent)
		tr.Request = req
		req, waitInst := rsMarkSent(t, tr, StageRequestGranted, CalloutSent)
		if req.State != StateDelivering || req.Status != StatusWaitingForCallback {
			t.Fatalf("setup: %s/%s", req.State, req.Status)
		}
		_, err := Resume(rsClone(req), tr.Assignment, Callback{HasData: true, InstanceID: goInst}, rsEnv(rsLater, "x", rsActor))
		rsWantErr(t, err, KindConflict, goInst, "launch-and-continue")
		// Without an id the waiting instance answers, never the launch-and-continue one.
		res, err := Resume(rsClone(req), tr.Assignment, Callback{}, rsEnv(rsLater, "x", rsActor))
		if err != nil {
			t.Fatal(err)
		}
		if inst, _, _ := res.Transition.Request.Callout(waitInst); inst.Status != CallbackReceived {
			t.Errorf("waiting instance %s after the callback", inst.Status)
		}
		if inst, _, _ := res.Transition.Request.Callout(goInst); inst.Status != CalloutSent {
			t.Errorf("launch-and-continue instance %s after the callback", inst.Status)
		}
	})
}

// A callback that continues a request to a stage that waits again queues the
// next callout and its deadline in the same transition; the next callback
// then answers the new instance, and the old one only repeats.
func TestResumeContinuesToTheNextWait(t *testing.T) {
	s := rsSetups[0] // created
	r, _ := rsBase(s, rsWaitBinding(StageRequestCreated), rsWaitBinding(StageRequestGranted))
	tr := Submit(r, nil, rsEnv(rsNow, "s", rsAdmin))
	req, first := rsMarkSent(t, tr, StageRequestCreated, WaitingForCallback)

	env := rsEnv(rsLater, "r", rsActor)
	res, err := Resume(rsClone(req), nil, Callback{HasData: true, InstanceID: first, Stage: "assignmentRequestCreated"}, env)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Transition
	if got.Request.State != StateDelivering || got.Request.Status != StatusWaitingForCallback || got.Request.Step != StepGranted {
		t.Errorf("after the first callback %s/%s step %s, want delivering/WaitingForCallback step granted",
			got.Request.State, got.Request.Status, got.Request.Step)
	}
	if got.Request.CompletedDateTime != nil {
		t.Errorf("CompletedDateTime %v while waiting again", got.Request.CompletedDateTime)
	}
	if !got.DropRequestTimers {
		t.Errorf("the first deadline is not dropped")
	}
	if got.Assignment == nil || got.Assignment.State != AssignmentDelivered {
		t.Errorf("assignment %+v, want delivered", got.Assignment)
	}
	var work []string
	var next string
	for _, w := range got.Work {
		work = append(work, fmt.Sprintf("%s %s %s", w.Kind, w.Stage, w.DueAt.Format(time.RFC3339)))
		if w.Kind == WorkCallout {
			next = w.InstanceID
		}
	}
	due := rsLater.Add(time.Hour).Format(time.RFC3339)
	if d := cmp.Diff([]string{"callout assignmentRequestGranted " + rsLater.Format(time.RFC3339),
		"callbackTimeout assignmentRequestGranted " + due}, work); d != "" {
		t.Errorf("work (-want +got):\n%s", d)
	}
	if next == "" || next == first {
		t.Fatalf("next instance %q, first %q", next, first)
	}
	var lines []string
	for _, h := range got.History {
		lines = append(lines, rsLine(h))
	}
	if d := cmp.Diff([]string{
		rsL("callbackReceived", StageRequestCreated, "", "continue", StateSubmitted, StatusWaitingForCallback),
		rsL("transition", "", "", "", StateDelivering, StatusDelivering),
		rsL("calloutQueued", StageRequestGranted, "", "", StateDelivering, StatusDelivering),
		rsL("transition", "", "", "", StateDelivering, StatusWaitingForCallback),
	}, lines); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}

	// The engine claims the granted callout.
	tr2 := got
	tr2.Request = rsClone(got.Request)
	waiting, _ := rsMarkSent(t, tr2, StageRequestGranted, CalloutSent)
	asg := got.Assignment

	t.Run("the first instance again, same outcome: a repeat", func(t *testing.T) {
		res, err := Resume(rsClone(waiting), asg, Callback{HasData: true, InstanceID: first}, rsEnv(rsLater, "x", rsActor))
		if err != nil || !res.Repeat {
			t.Fatalf("repeat %v, %v", res.Repeat, err)
		}
		if res.Transition.History[0].Stage != StageRequestCreated {
			t.Errorf("repeat entry stage %s", res.Transition.History[0].Stage)
		}
	})
	t.Run("the first instance again, denied: 409", func(t *testing.T) {
		_, err := Resume(rsClone(waiting), asg, Callback{HasData: true, InstanceID: first, State: "denied"}, rsEnv(rsLater, "x", rsActor))
		rsWantErr(t, err, KindConflict, first)
	})
	t.Run("the created stage named without an id: 409", func(t *testing.T) {
		_, err := Resume(rsClone(waiting), asg, Callback{HasData: true, Stage: "assignmentRequestCreated"}, rsEnv(rsLater, "x", rsActor))
		rsWantErr(t, err, KindConflict, "assignmentRequestCreated")
	})
	t.Run("no id answers the granted instance", func(t *testing.T) {
		res, err := Resume(rsClone(waiting), asg, Callback{}, rsEnv(rsLater, "x", rsActor))
		if err != nil {
			t.Fatal(err)
		}
		r := res.Transition.Request
		if r.State != StateDelivered || r.Status != StatusDelivered {
			t.Errorf("after the second callback %s/%s", r.State, r.Status)
		}
		if inst, _, _ := r.Callout(next); inst.Status != CallbackReceived || inst.Outcome != OutcomeContinue {
			t.Errorf("granted instance %+v", inst)
		}
		if inst, _, _ := r.Callout(first); inst.Status != CallbackReceived || inst.Outcome != OutcomeContinue {
			t.Errorf("created instance %+v", inst)
		}
	})
}

// ---------------------------------------------------------------- Validate and Outcome

func TestCallbackValidate(t *testing.T) {
	ok := []Callback{
		{},
		{Source: "String", Type: "String"},
		// data absent: what data would hold is not read.
		{DataType: "bogus", State: "approved", OperationStatus: "bogus", Stage: "nope"},
		{HasData: true},
		{HasData: true, DataType: CallbackDataBase},
		{HasData: true, DataType: CallbackDataRequest},
		{HasData: true, DataType: CallbackDataApprovalStage},
		{HasData: true, DataType: CallbackDataCustomTask},
		{HasData: true, DataType: CallbackDataRequest, State: "denied"},
		{HasData: true, DataType: CallbackDataRequest, State: "Denied"},
		{HasData: true, DataType: CallbackDataRequest, State: "DENIED"},
		{HasData: true, DataType: CallbackDataRequest, State: "canceled"},
		{HasData: true, DataType: CallbackDataRequest, State: "Canceled"},
		{HasData: true, DataType: CallbackDataRequest, State: "cAnCeLeD"},
		{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "completed"},
		{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "Completed"},
		{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "failed"},
		{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "FAILED"},
		{HasData: true, Stage: "assignmentRequestCreated"},
		{HasData: true, Stage: "AssignmentRequestCreated"},
		{HasData: true, Stage: "ASSIGNMENTREQUESTREMOVED"},
		{HasData: true, Stage: "assignmentRequestApproved"},
		{HasData: true, Stage: "assignmentRequestGranted"},
		{HasData: true, Stage: "assignmentOneDayBeforeExpiration"}, // a stage: whether it matches is Resume's question
		// The type's stage is checked against the instance by Resume, not here.
		{Type: stageTypePrefix + "nope"},
		{HasData: true, InstanceID: "no-such-instance", Detail: "anything"},
	}
	for _, cb := range ok {
		if err := cb.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", cb, err)
		}
	}
	bad := []struct {
		cb   Callback
		want []string
	}{
		{Callback{HasData: true, DataType: "accessPackageAssignmentRequest"}, []string{"data.@odata.type", "accessPackageAssignmentRequest"}},
		{Callback{HasData: true, DataType: "customTaskExtensionCallbackData"}, []string{"data.@odata.type"}},            // without its namespace
		{Callback{HasData: true, DataType: "AccessPackageAssignmentRequestCallbackData"}, []string{"data.@odata.type"}}, // type names are case-sensitive
		{Callback{HasData: true, DataType: "bogus", InstanceID: "no-such-instance"}, []string{"bogus"}},
		{Callback{HasData: true, State: "approved"}, []string{"data.state", "approved"}},
		{Callback{HasData: true, State: "cancelled"}, []string{"data.state", "cancelled"}},
		{Callback{HasData: true, State: "approved", InstanceID: "no-such-instance"}, []string{"approved"}},
		{Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "bogus"}, []string{"data.operationStatus", "bogus"}},
		{Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "bogus", InstanceID: "no-such-instance"}, []string{"bogus"}},
		{Callback{HasData: true, Stage: "nope"}, []string{"data.stage", "nope"}},
		{Callback{HasData: true, Stage: "nope", InstanceID: "no-such-instance"}, []string{"nope"}},
	}
	for _, tc := range bad {
		err := tc.cb.Validate()
		if err == nil {
			t.Errorf("Validate(%+v) accepted it", tc.cb)
			continue
		}
		if KindOf(err) != KindInvalid {
			t.Errorf("Validate(%+v): %v is %s, want invalid", tc.cb, err, KindOf(err))
		}
		for _, m := range tc.want {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("Validate(%+v): %q does not name %q", tc.cb, err, m)
			}
		}
	}
}

func TestCallbackOutcome(t *testing.T) {
	for _, tc := range []struct {
		cb   Callback
		want CallbackOutcome
	}{
		{Callback{}, OutcomeContinue},
		{Callback{State: "denied"}, OutcomeContinue}, // no data: nothing to read
		{Callback{HasData: true}, OutcomeContinue},
		{Callback{HasData: true, State: "denied"}, OutcomeDenied},
		{Callback{HasData: true, DataType: CallbackDataRequest, State: "Denied"}, OutcomeDenied},
		{Callback{HasData: true, DataType: CallbackDataBase, State: "DENIED"}, OutcomeDenied},
		{Callback{HasData: true, DataType: CallbackDataApprovalStage, State: "denied"}, OutcomeDenied},
		{Callback{HasData: true, DataType: CallbackDataRequest, State: "canceled"}, OutcomeCanceled},
		{Callback{HasData: true, State: "Canceled"}, OutcomeCanceled},
		{Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "failed"}, OutcomeFailed},
		{Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "Failed"}, OutcomeFailed},
		{Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "completed"}, OutcomeContinue},
		{Callback{HasData: true, DataType: CallbackDataCustomTask}, OutcomeContinue},
		{Callback{HasData: true, DataType: CallbackDataRequest, Detail: "x", Source: "y"}, OutcomeContinue},
	} {
		if got := tc.cb.Outcome(); got != tc.want {
			t.Errorf("Outcome(%+v) = %s, want %s", tc.cb, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------- Reprocess

// rsFailedAt is a request whose stage failed at failedAt, and its old instance.
func rsFailedAt(t *testing.T, s rsSetup, how string, failedAt time.Time) (rsWaiting, Request) {
	t.Helper()
	w := rsWaitAt(t, s, CalloutSent)
	var r Request
	switch how {
	case "timeout":
		r = rsTimedOut(t, w, failedAt)
	case "callout":
		r = rsCalloutFailed(t, w, failedAt)
	case "callback":
		res, err := Resume(rsClone(w.Req), w.Asg, Callback{HasData: true, DataType: CallbackDataCustomTask, OperationStatus: "failed"},
			rsEnv(failedAt, "b", rsActor))
		if err != nil {
			t.Fatal(err)
		}
		r = res.Transition.Request
	}
	if r.State != s.failState || r.CompletedDateTime == nil || !r.CompletedDateTime.Equal(failedAt) {
		t.Fatalf("setup: failed request %s/%s completed %v", r.State, r.Status, r.CompletedDateTime)
	}
	return w, r
}

func TestReprocessRunsTheFailedStepAgain(t *testing.T) {
	failedAt := rsNow.Add(time.Hour)
	now := failedAt.Add(24 * time.Hour)
	for _, s := range rsSetups {
		for _, how := range []struct{ name, status string }{
			{"timeout", StatusCallbackTimedOut}, {"callout", StatusCalloutFailed}, {"callback", StatusCustomExtensionFailed},
		} {
			t.Run(s.name+"/after "+how.name, func(t *testing.T) {
				w, failed := rsFailedAt(t, s, how.name, failedAt)
				oldInst, _, _ := failed.Callout(w.Inst)
				env := rsEnv(now, "q", rsAdmin)
				tr, err := Reprocess(rsClone(failed), w.Asg, env)
				if err != nil {
					t.Fatalf("Reprocess: %v", err)
				}
				r := tr.Request
				if r.State != s.waitState || r.Status != StatusWaitingForCallback || r.Step != s.step {
					t.Errorf("after reprocess %s/%s step %s, want %s/%s step %s", r.State, r.Status, r.Step, s.waitState, StatusWaitingForCallback, s.step)
				}
				if r.CompletedDateTime != nil {
					t.Errorf("CompletedDateTime %v after reprocess, want nil", *r.CompletedDateTime)
				}
				if got, _, _ := r.Callout(w.Inst); got != oldInst {
					t.Errorf("old instance changed: %+v, was %+v", got, oldInst)
				}
				if len(r.Callouts) != len(failed.Callouts) {
					t.Errorf("instances %d, want %d (the new one is recorded when the callout is claimed)", len(r.Callouts), len(failed.Callouts))
				}
				var callout, timeout *Work
				for i, x := range tr.Work {
					switch x.Kind {
					case WorkCallout:
						callout = &tr.Work[i]
					case WorkCallbackTimeout:
						timeout = &tr.Work[i]
					}
				}
				if len(tr.Work) != 2 || callout == nil || timeout == nil {
					t.Fatalf("work %+v, want a callout and its deadline", tr.Work)
				}
				if callout.InstanceID == "" || callout.InstanceID == w.Inst {
					t.Errorf("new callout instance %q, old %q: want a new id", callout.InstanceID, w.Inst)
				}
				if callout.Stage != s.stage || callout.ExtensionID != rsExt(s.stage) || callout.RequestID != "req-1" || !callout.DueAt.Equal(now) {
					t.Errorf("callout %+v", callout)
				}
				stateBefore := StateSubmitted
				statusBefore := StatusAccepted
				switch {
				case s.waitState == StatePendingApproval:
					stateBefore, statusBefore = StatePendingApproval, StatusPendingApproval
				case s.waitState == StateDelivering:
					stateBefore, statusBefore = StateDelivering, StatusDelivering
				}
				if callout.RequestState != stateBefore || callout.RequestStatus != statusBefore {
					t.Errorf("callout payload state %s/%s, want %s/%s", callout.RequestState, callout.RequestStatus, stateBefore, statusBefore)
				}
				if timeout.InstanceID != callout.InstanceID || timeout.Stage != s.stage || !timeout.DueAt.Equal(now.Add(time.Hour)) {
					t.Errorf("deadline %+v for callout %s", timeout, callout.InstanceID)
				}
				var lines []string
				for _, h := range tr.History {
					lines = append(lines, rsLine(h))
				}
				if d := cmp.Diff([]string{
					rsL("reprocessed", "", "", "", s.failState, how.status),
					rsL("transition", "", "", "", stateBefore, statusBefore),
					rsL("calloutQueued", s.stage, "", "", stateBefore, statusBefore),
					rsL("transition", "", "", "", s.waitState, StatusWaitingForCallback),
				}, lines); d != "" {
					t.Errorf("history (-want +got):\n%s", d)
				}

				// The new callout is answered like the first one.
				tr.Request = rsClone(tr.Request)
				again, inst := rsMarkSent(t, tr, s.stage, CalloutSent)
				res, err := Resume(again, w.Asg, Callback{HasData: true, InstanceID: inst}, rsEnv(now, "r", rsActor))
				if err != nil || res.Transition.Request.State != StateDelivered {
					t.Errorf("callback after reprocess: %v, %+v", err, res.Transition.Request.State)
				}
				_, err = Resume(again, w.Asg, Callback{HasData: true, InstanceID: w.Inst}, rsEnv(now, "r", rsActor))
				rsWantErr(t, err, KindConflict, w.Inst)
			})
		}
	}
}

func TestReprocessWindow(t *testing.T) {
	failedAt := rsNow.Add(time.Hour)
	for _, tc := range []struct {
		name string
		now  time.Time
		ok   bool
	}{
		{"at once", failedAt, true},
		{"after 13 days", failedAt.AddDate(0, 0, 13), true},
		{"at exactly 14 days", failedAt.Add(ReprocessWindow), true},
		{"a millisecond after 14 days", failedAt.Add(ReprocessWindow + time.Millisecond), false},
		{"after 15 days", failedAt.AddDate(0, 0, 15), false},
	} {
		for _, s := range []rsSetup{rsSetups[0], rsSetups[3]} {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				w, failed := rsFailedAt(t, s, "timeout", failedAt)
				_, err := Reprocess(failed, w.Asg, rsEnv(tc.now, "q", rsAdmin))
				if tc.ok && err != nil {
					t.Errorf("Reprocess: %v", err)
				}
				if !tc.ok {
					rsWantErr(t, err, KindConflict, "14 days")
				}
			})
		}
	}
}

func TestReprocessRefusesOtherStates(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  func(t *testing.T) (Request, *Assignment)
	}{
		{"waiting at created (submitted)", func(t *testing.T) (Request, *Assignment) {
			w := rsWaitAt(t, rsSetups[0], CalloutSent)
			return w.Req, w.Asg
		}},
		{"waiting at approved (pendingApproval)", func(t *testing.T) (Request, *Assignment) {
			w := rsWaitAt(t, rsSetups[2], CalloutSent)
			return w.Req, w.Asg
		}},
		{"waiting at granted (delivering)", func(t *testing.T) (Request, *Assignment) {
			w := rsWaitAt(t, rsSetups[3], CalloutSent)
			return w.Req, w.Asg
		}},
		{"delivered", func(t *testing.T) (Request, *Assignment) {
			r, _ := rsBase(rsSetups[0])
			tr := Submit(r, nil, rsEnv(rsNow, "s", rsAdmin))
			return tr.Request, tr.Assignment
		}},
		{"denied by a callback", func(t *testing.T) (Request, *Assignment) {
			w := rsWaitAt(t, rsSetups[0], CalloutSent)
			return rsAccept(t, w, Callback{HasData: true, State: "denied"}, rsEnv(rsLater, "r", rsActor)).Request, nil
		}},
		{"canceled while waiting", func(t *testing.T) (Request, *Assignment) {
			w := rsWaitAt(t, rsSetups[0], CalloutSent)
			tr, err := Cancel(w.Req, rsEnv(rsLater, "c", rsAdmin))
			if err != nil {
				t.Fatal(err)
			}
			return tr.Request, nil
		}},
		{"scheduled", func(t *testing.T) (Request, *Assignment) {
			r, _ := rsBase(rsSetups[0])
			start := rsNow.AddDate(0, 0, 3)
			r.Schedule.StartDateTime = &start
			tr := Submit(r, nil, rsEnv(rsNow, "s", rsAdmin))
			return tr.Request, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, a := tc.req(t)
			if r.State == StateDeliveryFailed || r.State == StatePartiallyDelivered {
				t.Fatalf("setup: %s", r.State)
			}
			_, err := Reprocess(r, a, rsEnv(rsLater.Add(time.Hour), "q", rsAdmin))
			rsWantErr(t, err, KindConflict, string(r.State))
		})
	}
}
