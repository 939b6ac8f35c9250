package access

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Scenario tables for approval (approval.go): stages that start one after
// another, approvers resolved from a table instead of a directory, decisions,
// escalation, automatic denial, the approved-stage callout after the last
// stage, and a dynamic stage whose extension names the approvers. No IO.

var (
	apRequestor = Subject{ID: "u-requestor", Kind: SubjectUser, DisplayName: "Rita Requestor"}
	apTarget    = Subject{ID: "u-target", Kind: SubjectUser, DisplayName: "Tom Target"}
	apAnna      = Subject{ID: "u-anna", Kind: SubjectUser, DisplayName: "Anna"}
	apBen       = Subject{ID: "u-ben", Kind: SubjectUser, DisplayName: "Ben"}
	apCara      = Subject{ID: "u-cara", Kind: SubjectUser, DisplayName: "Cara"}
	apDan       = Subject{ID: "u-dan", Kind: SubjectUser, DisplayName: "Dan"}
	apEve       = Subject{ID: "u-eve", Kind: SubjectUser, DisplayName: "Eve"}
	apBot       = Subject{ID: "sp-bot", Kind: SubjectServicePrincipal, DisplayName: "Approver bot"}
)

// apDirectory resolves subject sets from a table keyed by the set's type
// and id: "singleUser:u-anna", "groupMembers:g-leads", "targetManager:1".
type apDirectory map[string][]Subject

func (d apDirectory) Members(set SubjectSet, r Request) []Subject {
	key := set.Type + ":" + set.UserID + set.GroupID + set.ServicePrincipalID
	if set.Type == "requestorManager" || set.Type == "targetManager" {
		key = set.Type + ":" + itoaTest(set.ManagerLevel)
	}
	return d[key]
}

func itoaTest(n int) string { return string(rune('0' + n)) }

var apDir = apDirectory{
	"singleUser:u-anna":             {apAnna},
	"singleUser:u-ben":              {apBen},
	"singleUser:u-cara":             {apCara},
	"singleUser:u-target":           {apTarget},
	"singleUser:u-requestor":        {apRequestor},
	"singleUser:u-gone":             nil, // deleted since the policy was written
	"groupMembers:g-leads":          {apBen, apTarget, apCara, apBen},
	"singleServicePrincipal:sp-bot": {apBot},
	"targetManager:1":               {apDan},
	"targetManager:2":               {apEve},
	"requestorManager:1":            nil, // the requestor has no manager
}

func apUser(id string) SubjectSet { return SubjectSet{Type: "singleUser", UserID: id} }

func apStage(primary ...SubjectSet) ApprovalStage {
	st := ApprovalStage{PrimaryApprovers: primary, DurationBeforeAutomaticDenial: MustDuration("P3D")}
	st.Normalize()
	return st
}

var apT0 = time.Date(2030, 5, 6, 8, 0, 0, 0, time.UTC)

func apEnv(at time.Time, actor Subject) Env {
	n := 0
	return Env{Now: at, Actor: actor, Directory: apDir, NewID: func() string { n++; return "id-" + at.Format("150405") + "-" + itoaTest(n%10) + itoaTest(n/10) }}
}

// apRequest is an adminAdd request whose policy requires approval in the given stages.
func apRequest(stages ...ApprovalStage) Request {
	return Request{ID: "req-1", Type: RequestAdminAdd, AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1",
		Target: apTarget, Requestor: apRequestor,
		Policy: PolicySnapshot{DisplayName: "Needs approval", ApprovalRequired: true, ApprovalStages: stages,
			Expiration: Expiration{Type: ExpirationNone}}}
}

func apIDs(ss []Subject) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func apActions(t Transition) []string {
	var out []string
	for _, h := range t.History {
		out = append(out, h.Action)
	}
	return out
}

func apKinds(ws []Work) []string {
	var out []string
	for _, w := range ws {
		out = append(out, string(w.Kind)+"@"+w.DueAt.Sub(apT0).String())
	}
	return out
}

// apSubmit submits the request at apT0 and checks it waits for approval.
func apSubmit(t *testing.T, r Request) Request {
	t.Helper()
	got := Submit(r, nil, apEnv(apT0, apRequestor))
	if got.Request.State != StatePendingApproval || got.Request.Status != StatusPendingApproval {
		t.Fatalf("submitted request is %s/%s, want pendingApproval/PendingApproval; history %v", got.Request.State, got.Request.Status, apActions(got))
	}
	return got.Request
}

// apDecide is DecideApproval of the current stage at apT0+1h.
func apDecide(t *testing.T, r Request, by Subject, approve bool, justification string) (Transition, error) {
	t.Helper()
	k, ok := r.currentApprovalStep()
	if !ok {
		t.Fatalf("no stage waits for a decision: %+v", r.Approval)
	}
	return DecideApproval(r, nil, r.Approval[k].ID, by, Decision{Approve: approve, Justification: justification}, apEnv(apT0.Add(time.Hour), by))
}

func TestApprovalStartsWithResolvedApprovers(t *testing.T) {
	tests := []struct {
		name      string
		stage     ApprovalStage
		approvers []string // nil: the request is denied at once
	}{
		{"single user", apStage(apUser("u-anna")), []string{"u-anna"}},
		{"group's direct members, each once, without the target", apStage(SubjectSet{Type: "groupMembers", GroupID: "g-leads"}), []string{"u-ben", "u-cara"}},
		{"target's manager", apStage(SubjectSet{Type: "targetManager", ManagerLevel: 1}), []string{"u-dan"}},
		{"target's second-level manager", apStage(SubjectSet{Type: "targetManager", ManagerLevel: 2}), []string{"u-eve"}},
		{"a service principal", apStage(SubjectSet{Type: "singleServicePrincipal", ServicePrincipalID: "sp-bot"}), []string{"sp-bot"}},
		{"several sets together", apStage(apUser("u-anna"), SubjectSet{Type: "targetManager", ManagerLevel: 1}), []string{"u-anna", "u-dan"}},
		{"fallback when the requestor has no manager", func() ApprovalStage {
			st := apStage(SubjectSet{Type: "requestorManager", ManagerLevel: 1})
			st.FallbackPrimaryApprovers = []SubjectSet{apUser("u-cara")}
			return st
		}(), []string{"u-cara"}},
		{"fallback when the approver is gone", func() ApprovalStage {
			st := apStage(apUser("u-gone"))
			st.FallbackPrimaryApprovers = []SubjectSet{apUser("u-ben")}
			return st
		}(), []string{"u-ben"}},
		{"no fallback used when a primary resolves", func() ApprovalStage {
			st := apStage(apUser("u-anna"))
			st.FallbackPrimaryApprovers = []SubjectSet{apUser("u-ben")}
			return st
		}(), []string{"u-anna"}},
		{"fallback when the only primary is the target", func() ApprovalStage {
			st := apStage(apUser("u-target"))
			st.FallbackPrimaryApprovers = []SubjectSet{apUser("u-anna")}
			return st
		}(), []string{"u-anna"}},
		{"sets accessd cannot resolve have nobody, then the fallback", func() ApprovalStage {
			st := apStage(SubjectSet{Type: "internalSponsors"}, SubjectSet{Type: "externalSponsors"}, SubjectSet{Type: "targetUserSponsors"})
			st.FallbackPrimaryApprovers = []SubjectSet{apUser("u-anna")}
			return st
		}(), []string{"u-anna"}},
		{"the target alone: denied at once", apStage(apUser("u-target")), nil},
		{"the requestor alone: denied at once", apStage(apUser("u-requestor")), nil},
		{"the requestor and the target: denied at once", apStage(apUser("u-requestor"), apUser("u-target")), nil},
		{"nobody, and fallbacks of nobody: denied at once", func() ApprovalStage {
			st := apStage(SubjectSet{Type: "requestorManager", ManagerLevel: 1})
			st.FallbackPrimaryApprovers = []SubjectSet{{Type: "internalSponsors"}}
			return st
		}(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Submit(apRequest(tc.stage), nil, apEnv(apT0, apRequestor))
			r := got.Request
			if len(r.Approval) != 1 {
				t.Fatalf("%d approval stages, want 1", len(r.Approval))
			}
			step := r.Approval[0]
			if tc.approvers == nil {
				if r.State != StateDenied || r.Status != StatusDenied || r.CompletedDateTime == nil || !r.CompletedDateTime.Equal(apT0) {
					t.Errorf("request %s/%s completed %v, want denied at once", r.State, r.Status, r.CompletedDateTime)
				}
				if !strings.Contains(strings.Join(apActions(got), " "), "approvalStageWithoutApprovers") {
					t.Errorf("history %v does not say why", apActions(got))
				}
				if len(got.Work) != 0 {
					t.Errorf("a request denied at once queued %v", apKinds(got.Work))
				}
				return
			}
			if r.State != StatePendingApproval || step.Status != ApprovalInProgress || step.ReviewResult != ReviewNotReviewed {
				t.Errorf("request %s, stage %s/%s; want pendingApproval and the stage InProgress/NotReviewed", r.State, step.Status, step.ReviewResult)
			}
			if diff := cmp.Diff(tc.approvers, apIDs(step.Approvers)); diff != "" {
				t.Errorf("approvers (-want +got):\n%s", diff)
			}
			if step.StartedDateTime == nil || !step.StartedDateTime.Equal(apT0) {
				t.Errorf("stage started %v, want %s", step.StartedDateTime, apT0)
			}
			if diff := cmp.Diff([]string{"approvalDeadline@72h0m0s"}, apKinds(got.Work)); diff != "" {
				t.Errorf("work (-want +got):\n%s", diff)
			}
			all, pending := r.Approvers()
			if diff := cmp.Diff(tc.approvers, pending); diff != "" || len(all) != len(pending) {
				t.Errorf("Approvers() = %v, %v; want %v pending", all, pending, tc.approvers)
			}
		})
	}
}

// Serial stages: each starts when the one before is approved; a denial at
// any stage ends the request; approval of the last lets it go on.
func TestApprovalStagesInSeries(t *testing.T) {
	stages := []ApprovalStage{apStage(apUser("u-anna")), apStage(apUser("u-ben")), apStage(apUser("u-cara"))}
	deciders := []Subject{apAnna, apBen, apCara}
	for n := 1; n <= 3; n++ {
		t.Run(itoaTest(n)+" stage(s), all approve", func(t *testing.T) {
			r := apSubmit(t, apRequest(stages[:n]...))
			for k := range n {
				if r.Approval[k].Status != ApprovalInProgress {
					t.Fatalf("stage %d is %s when it should decide", k+1, r.Approval[k].Status)
				}
				for later := k + 1; later < n; later++ {
					if r.Approval[later].Status != ApprovalInitializing || len(r.Approval[later].Approvers) != 0 {
						t.Fatalf("stage %d started before stage %d was decided: %+v", later+1, k+1, r.Approval[later])
					}
				}
				got, err := apDecide(t, r, deciders[k], true, "ok "+itoaTest(k+1))
				if err != nil {
					t.Fatalf("stage %d: %v", k+1, err)
				}
				if !got.DropRequestTimers {
					t.Errorf("deciding stage %d keeps its timers", k+1)
				}
				r = got.Request
				decided := r.Approval[k]
				if decided.Status != ApprovalCompleted || decided.ReviewResult != ReviewApproved || decided.ReviewedBy.ID != deciders[k].ID ||
					decided.Justification != "ok "+itoaTest(k+1) || decided.ReviewedDateTime == nil {
					t.Errorf("stage %d after approval: %+v", k+1, decided)
				}
				if k < n-1 {
					if r.State != StatePendingApproval || r.Approval[k+1].Status != ApprovalInProgress ||
						!cmp.Equal(apIDs(r.Approval[k+1].Approvers), []string{deciders[k+1].ID}) {
						t.Errorf("after stage %d: %s, next stage %+v", k+1, r.State, r.Approval[k+1])
					}
					if diff := cmp.Diff([]string{"approvalDeadline@73h0m0s"}, apKinds(got.Work)); diff != "" {
						t.Errorf("work of stage %d (-want +got):\n%s", k+2, diff)
					}
				}
			}
			if r.State != StateDelivered || r.AssignmentID == "" {
				t.Errorf("after the last stage the request is %s with assignment %q, want delivered", r.State, r.AssignmentID)
			}
		})
		for deny := range n {
			t.Run(itoaTest(n)+" stage(s), denied at stage "+itoaTest(deny+1), func(t *testing.T) {
				r := apSubmit(t, apRequest(stages[:n]...))
				for k := range deny {
					got, err := apDecide(t, r, deciders[k], true, "")
					if err != nil {
						t.Fatal(err)
					}
					r = got.Request
				}
				got, err := apDecide(t, r, deciders[deny], false, "not now")
				if err != nil {
					t.Fatal(err)
				}
				r = got.Request
				if r.State != StateDenied || r.Status != StatusDenied || r.CompletedDateTime == nil || r.AssignmentID != "" {
					t.Errorf("request %s/%s, assignment %q, want denied", r.State, r.Status, r.AssignmentID)
				}
				if st := r.Approval[deny]; st.ReviewResult != ReviewDenied || st.Status != ApprovalCompleted || st.Justification != "not now" {
					t.Errorf("denying stage %+v", st)
				}
				for later := deny + 1; later < n; later++ {
					if r.Approval[later].Status != ApprovalInitializing {
						t.Errorf("stage %d after a denial at %d: %s", later+1, deny+1, r.Approval[later].Status)
					}
				}
				if len(got.Work) != 0 || !got.DropRequestTimers {
					t.Errorf("a denial queued %v, drops timers %t", apKinds(got.Work), got.DropRequestTimers)
				}
				if _, pending := r.Approvers(); len(pending) != 0 {
					t.Errorf("a denied request still has pending approvers %v", pending)
				}
			})
		}
	}
}

// Who may decide, and when: the order of the checks.
func TestApprovalDecisionRefusals(t *testing.T) {
	justified := apStage(apUser("u-anna"))
	justified.IsApproverJustificationRequired = true
	r := apSubmit(t, apRequest(justified, apStage(apUser("u-ben"))))
	first, second := r.Approval[0].ID, r.Approval[1].ID
	decide := func(r Request, stage string, by Subject, d Decision) error {
		_, err := DecideApproval(r, nil, stage, by, d, apEnv(apT0.Add(time.Hour), by))
		return err
	}
	canceled, err := Cancel(r, apEnv(apT0.Add(time.Minute), apRequestor))
	if err != nil {
		t.Fatal(err)
	}
	if st := canceled.Request.Approval[0]; st.Status != ApprovalCompleted || st.ReviewResult != ReviewNotReviewed {
		t.Errorf("a canceled request's stage is %s/%s, want Completed and not reviewed", st.Status, st.ReviewResult)
	}
	if r.Approval[0].Status != ApprovalInProgress {
		t.Errorf("Cancel changed the caller's request in place")
	}
	for _, tc := range []struct {
		name  string
		r     Request
		stage string
		by    Subject
		d     Decision
		kind  Kind
		words string
	}{
		{"an unknown stage", r, "no-such-stage", apAnna, Decision{Approve: true, Justification: "x"}, KindNotFound, "no stage"},
		{"someone who approves no stage", r, first, apCara, Decision{Approve: true, Justification: "x"}, KindForbidden, "not an approver"},
		{"the target", r, first, apTarget, Decision{Approve: true, Justification: "x"}, KindForbidden, "not an approver"},
		{"the requestor", r, first, apRequestor, Decision{Approve: true, Justification: "x"}, KindForbidden, "not an approver"},
		{"the next stage's approver, on this stage", r, first, apBen, Decision{Approve: true, Justification: "x"}, KindForbidden, "not an approver"},
		{"the next stage's approver, on the next stage", r, second, apBen, Decision{Approve: true}, KindConflict, "not started"},
		{"this stage's approver, on the next stage", r, second, apAnna, Decision{Approve: true}, KindForbidden, "not an approver"},
		{"a justification the stage requires", r, first, apAnna, Decision{Approve: true, Justification: "  "}, KindInvalid, "justification"},
		{"a request canceled meanwhile", canceled.Request, first, apAnna, Decision{Approve: true, Justification: "x"}, KindConflict, "canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := decide(tc.r, tc.stage, tc.by, tc.d)
			if KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.words) {
				t.Errorf("got %v (kind %v), want kind %v mentioning %q", err, KindOf(err), tc.kind, tc.words)
			}
		})
	}
	t.Run("a second decision is 409", func(t *testing.T) {
		got, err := apDecide(t, r, apAnna, false, "no")
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []Decision{{Approve: false, Justification: "no"}, {Approve: true, Justification: "yes"}} {
			if err := decide(got.Request, first, apAnna, d); KindOf(err) != KindConflict || !strings.Contains(err.Error(), "already decided") {
				t.Errorf("second decision %+v: %v, want 409", d, err)
			}
		}
	})
	t.Run("the requestor's own decision is refused however the stage is set", func(t *testing.T) {
		r := apSubmit(t, apRequest(apStage(apUser("u-requestor"), apUser("u-anna"))))
		if diff := cmp.Diff([]string{"u-anna"}, apIDs(r.Approval[0].Approvers)); diff != "" {
			t.Fatalf("approvers (-want +got):\n%s", diff)
		}
		if err := decide(r, r.Approval[0].ID, apRequestor, Decision{Approve: true}); KindOf(err) != KindForbidden {
			t.Errorf("the requestor approved their own request: %v", err)
		}
	})
}

// Escalation adds the escalation approvers (or their fallbacks) after
// durationBeforeEscalation; the primaries may still decide. Nobody deciding
// within durationBeforeAutomaticDenial denies the request with status Expired.
func TestApprovalEscalationAndAutomaticDenial(t *testing.T) {
	st := apStage(apUser("u-anna"))
	st.DurationBeforeAutomaticDenial = MustDuration("P4D")
	st.IsEscalationEnabled, st.DurationBeforeEscalation = true, MustDuration("P1D")
	st.EscalationApprovers = []SubjectSet{{Type: "requestorManager", ManagerLevel: 1}} // nobody: the fallback applies
	st.FallbackEscalationApprovers = []SubjectSet{apUser("u-ben"), apUser("u-anna")}
	submitted := Submit(apRequest(st), nil, apEnv(apT0, apRequestor))
	r := submitted.Request
	if diff := cmp.Diff([]string{"approvalEscalation@24h0m0s", "approvalDeadline@96h0m0s"}, apKinds(submitted.Work)); diff != "" {
		t.Fatalf("timers (-want +got):\n%s", diff)
	}
	stageID := r.Approval[0].ID

	escalated := EscalateApproval(r, stageID, apEnv(apT0.Add(24*time.Hour), systemActor))
	if escalated == nil {
		t.Fatal("escalation changed nothing")
	}
	if diff := cmp.Diff([]string{"u-anna", "u-ben"}, apIDs(escalated.Request.Approval[0].Approvers)); diff != "" {
		t.Errorf("approvers after escalation (-want +got):\n%s", diff)
	}
	if !escalated.Request.Approval[0].Escalated || escalated.Request.State != StatePendingApproval {
		t.Errorf("escalated stage %+v, request %s", escalated.Request.Approval[0], escalated.Request.State)
	}
	if len(r.Approval[0].Approvers) != 1 {
		t.Errorf("escalation changed the caller's request in place")
	}
	if again := EscalateApproval(escalated.Request, stageID, apEnv(apT0.Add(25*time.Hour), systemActor)); again != nil {
		t.Errorf("a second escalation changed the request: %v", apActions(*again))
	}
	for _, who := range []Subject{apAnna, apBen} {
		got, err := DecideApproval(escalated.Request, nil, stageID, who, Decision{Approve: true}, apEnv(apT0.Add(30*time.Hour), who))
		if err != nil || got.Request.State != StateDelivered {
			t.Errorf("%s after escalation: %v, request %s", who.ID, err, got.Request.State)
		}
	}

	deadline := apT0.Add(96 * time.Hour)
	expired := ApprovalDeadline(escalated.Request, stageID, apEnv(deadline, systemActor))
	if expired == nil {
		t.Fatal("the deadline changed nothing")
	}
	er := expired.Request
	if er.State != StateDenied || er.Status != StatusExpired || er.CompletedDateTime == nil || !er.CompletedDateTime.Equal(deadline) {
		t.Errorf("after the deadline: %s/%s completed %v, want denied/Expired at %s", er.State, er.Status, er.CompletedDateTime, deadline)
	}
	if er.Approval[0].Status != ApprovalExpired || !expired.DropRequestTimers {
		t.Errorf("expired stage %s, drops timers %t", er.Approval[0].Status, expired.DropRequestTimers)
	}
	if _, err := DecideApproval(er, nil, stageID, apAnna, Decision{Approve: true}, apEnv(deadline.Add(time.Minute), apAnna)); KindOf(err) != KindConflict {
		t.Errorf("a decision after the deadline: %v, want 409", err)
	}

	decided, err := apDecide(t, r, apAnna, true, "")
	if err != nil {
		t.Fatal(err)
	}
	if EscalateApproval(decided.Request, stageID, apEnv(apT0.Add(24*time.Hour), systemActor)) != nil ||
		ApprovalDeadline(decided.Request, stageID, apEnv(deadline, systemActor)) != nil {
		t.Errorf("timers of a decided stage changed the request")
	}
}

// After the last stage approves, the approved-stage callout runs; while it
// waits the request stays pendingApproval, and its callback continues,
// denies, or its timeout fails the request.
func TestApprovalThenApprovedStageCallout(t *testing.T) {
	r := apRequest(apStage(apUser("u-anna")))
	r.Policy.Bindings = []StageBinding{{Stage: StageRequestApproved, ExtensionID: "ext-approved", Waits: true, CallbackTimeout: MustDuration("PT1H")}}
	r = apSubmit(t, r)
	got, err := apDecide(t, r, apAnna, true, "")
	if err != nil {
		t.Fatal(err)
	}
	waiting := got.Request
	if waiting.State != StatePendingApproval || waiting.Status != StatusWaitingForCallback || waiting.Step != StepApproved {
		t.Fatalf("after approval: %s/%s at %s, want pendingApproval/WaitingForCallback at the approved stage", waiting.State, waiting.Status, waiting.Step)
	}
	var inst string
	for _, w := range got.Work {
		if w.Kind == WorkCallout && w.Stage == StageRequestApproved {
			inst = w.InstanceID
		}
	}
	if inst == "" {
		t.Fatalf("no approved-stage callout queued: %v", apKinds(got.Work))
	}
	waiting.Callouts = append(waiting.Callouts, CalloutInstance{ID: inst, Stage: StageRequestApproved, Status: WaitingForCallback, Waits: true})
	at := apEnv(apT0.Add(2*time.Hour), apAnna)
	for _, tc := range []struct {
		name          string
		state         RequestState
		status        string
		data          Callback
		failedByClock bool
	}{
		{"continue", StateDelivered, StatusDelivered, Callback{HasData: true, InstanceID: inst}, false},
		{"deny", StateDenied, StatusDenied, Callback{HasData: true, InstanceID: inst, State: "Denied"}, false},
		{"timeout", StateDeliveryFailed, StatusCallbackTimedOut, Callback{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var end Request
			if tc.failedByClock {
				tr := callbackDeadline(waiting, Work{Kind: WorkCallbackTimeout, Stage: StageRequestApproved, InstanceID: inst, ExtensionID: "ext-approved"}, at)
				if tr == nil {
					t.Fatal("the deadline changed nothing")
				}
				end = tr.Request
			} else {
				res, err := Resume(waiting, nil, tc.data, at)
				if err != nil {
					t.Fatal(err)
				}
				end = res.Transition.Request
			}
			if end.State != tc.state || end.Status != tc.status {
				t.Errorf("request %s/%s, want %s/%s", end.State, end.Status, tc.state, tc.status)
			}
		})
	}
}

// A dynamic stage calls its extension at the approval-determining stage and
// starts with the approvers the callback names; a callback without them is
// 400; a timeout fails the request as at the created stage.
func TestApprovalDeterminedByAnExtension(t *testing.T) {
	dynamic := ApprovalStage{Type: DynamicApprovalStage, CustomExtensionID: "ext-approvers"}
	r := apRequest(apStage(apUser("u-anna")), dynamic)
	r.Policy.Bindings = []StageBinding{{Stage: StageDeterminingApproval, ExtensionID: "ext-approvers", Waits: true, CallbackTimeout: MustDuration("PT30M")}}
	r = apSubmit(t, r)
	got, err := apDecide(t, r, apAnna, true, "")
	if err != nil {
		t.Fatal(err)
	}
	waiting := got.Request
	if waiting.State != StatePendingApproval || waiting.Status != StatusWaitingForCallback || waiting.Approval[1].Status != ApprovalInitializing {
		t.Fatalf("at the dynamic stage: %s/%s, stage %s", waiting.State, waiting.Status, waiting.Approval[1].Status)
	}
	var inst string
	for _, w := range got.Work {
		if w.Kind == WorkCallout {
			if w.Stage != StageDeterminingApproval || w.ExtensionID != "ext-approvers" || w.RequestState != StatePendingApproval {
				t.Errorf("callout %+v", w)
			}
			inst = w.InstanceID
		}
	}
	if diff := cmp.Diff([]string{"callout@1h0m0s", "callbackTimeout@1h30m0s"}, apKinds(got.Work)); diff != "" {
		t.Fatalf("work (-want +got):\n%s", diff)
	}
	waiting.Callouts = append(waiting.Callouts, CalloutInstance{ID: inst, CustomExtensionID: "ext-approvers", Stage: StageDeterminingApproval, Status: WaitingForCallback, Waits: true})
	at := apEnv(apT0.Add(90*time.Minute), apBot)

	determined := apStage(apUser("u-cara"), apUser("u-target"))
	determined.DurationBeforeAutomaticDenial = MustDuration("P2D")
	res, err := Resume(waiting, nil, Callback{HasData: true, DataType: CallbackDataApprovalStage, InstanceID: inst, ApprovalStage: &determined}, at)
	if err != nil {
		t.Fatal(err)
	}
	started := res.Transition.Request
	if started.State != StatePendingApproval || started.Status != StatusPendingApproval || started.Approval[1].Status != ApprovalInProgress {
		t.Errorf("after the callback: %s/%s, stage %s", started.State, started.Status, started.Approval[1].Status)
	}
	if diff := cmp.Diff([]string{"u-cara"}, apIDs(started.Approval[1].Approvers)); diff != "" {
		t.Errorf("determined approvers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"approvalDeadline@49h30m0s"}, apKinds(res.Transition.Work)); diff != "" {
		t.Errorf("work (-want +got):\n%s", diff)
	}
	decided, err := DecideApproval(started, nil, started.Approval[1].ID, apCara, Decision{Approve: true}, apEnv(apT0.Add(3*time.Hour), apCara))
	if err != nil || decided.Request.State != StateDelivered {
		t.Errorf("the determined approver decides: %v, request %s", err, decided.Request.State)
	}

	if _, err := Resume(waiting, nil, Callback{HasData: true, InstanceID: inst}, at); KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "approvalStage") {
		t.Errorf("a callback without approvalStage: %v, want 400", err)
	}
	if _, err := Resume(waiting, nil, Callback{HasData: true, InstanceID: inst, State: "denied"}, at); KindOf(err) != KindInvalid {
		t.Errorf("a deny at the determining stage: %v, want 400", err)
	}
	nobody := apStage(apUser("u-target"))
	res, err = Resume(waiting, nil, Callback{HasData: true, InstanceID: inst, ApprovalStage: &nobody}, at)
	if err != nil || res.Transition.Request.State != StateDenied {
		t.Errorf("approvers of only the target: %v, request %s; want denied at once", err, res.Transition.Request.State)
	}
	timedOut := callbackDeadline(waiting, Work{Kind: WorkCallbackTimeout, Stage: StageDeterminingApproval, InstanceID: inst, ExtensionID: "ext-approvers"}, at)
	if timedOut == nil || timedOut.Request.State != StateDeliveryFailed || timedOut.Request.Status != StatusCallbackTimedOut {
		t.Errorf("a timeout at the determining stage: %+v, want deliveryFailed/CallbackTimedOut", timedOut)
	}

	// Reprocessing the failed request calls the extension again.
	again, err := Reprocess(timedOut.Request, nil, apEnv(apT0.Add(4*time.Hour), apBot))
	if err != nil {
		t.Fatal(err)
	}
	if again.Request.State != StatePendingApproval || again.Request.Status != StatusWaitingForCallback {
		t.Errorf("reprocessed: %s/%s, want pendingApproval/WaitingForCallback", again.Request.State, again.Request.Status)
	}
	calls := 0
	for _, w := range again.Work {
		if w.Kind == WorkCallout && w.Stage == StageDeterminingApproval && w.InstanceID != inst {
			calls++
		}
	}
	if calls != 1 {
		t.Errorf("reprocess queued %v, want one new determining callout", apKinds(again.Work))
	}
}
