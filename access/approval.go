package access

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Approval: a request whose policy requires it waits in pendingApproval
// while its stages run one after another. Each stage's approvers are
// resolved from the policy's subject sets when the stage starts and kept on
// the request, so later changes in the directory do not move a started
// stage. One approver's decision settles a stage; a denial ends the request,
// and approval of the last stage lets it go on. Escalation adds approvers
// after a while, and a stage nobody decides in time denies the request.

// Statuses of an approval stage, as Graph's approvalStage shows them.
const (
	ApprovalInitializing = "Initializing" // not started yet, or waiting for an extension to determine it
	ApprovalInProgress   = "InProgress"
	ApprovalCompleted    = "Completed"
	ApprovalExpired      = "Expired"
)

// Review results of an approval stage.
const (
	ReviewNotReviewed = "NotReviewed"
	ReviewApproved    = "Approved"
	ReviewDenied      = "Denied"
)

// DefaultApprovalCallbackTimeout is how long a request waits for the
// extension of a dynamic approval stage when the extension, edited since the
// policy was saved, has no callbackConfiguration any more.
var DefaultApprovalCallbackTimeout = Duration{Days: 1}

// DynamicApprovalStage is the Graph type of an approval stage whose
// approvers a custom extension determines when the request reaches it.
const DynamicApprovalStage = "accessPackageDynamicApprovalStage"

// ApprovalStep is one stage of a request's approval as it runs: Graph's
// approvalStage (v1.0) or approvalStep (beta).
type ApprovalStep struct {
	ID       string        `json:"ID"`
	Status   string        `json:"Status"`
	Settings ApprovalStage `json:"Settings"` // from the policy, or as the extension determined them
	// Approvers may decide the stage: its primary approvers (or the
	// fallbacks), then also the escalation approvers once it escalated.
	Approvers        []Subject  `json:"Approvers"`
	Escalated        bool       `json:"Escalated"`
	StartedDateTime  *time.Time `json:"StartedDateTime"`
	ReviewResult     string     `json:"ReviewResult"`
	ReviewedBy       Subject    `json:"ReviewedBy"`
	ReviewedDateTime *time.Time `json:"ReviewedDateTime"`
	Justification    string     `json:"Justification"`
}

// IsApprover reports whether the subject may decide the step.
func (s ApprovalStep) IsApprover(id string) bool {
	return id != "" && slices.ContainsFunc(s.Approvers, func(a Subject) bool { return a.ID == id })
}

// Ended is true once the stage was decided or expired.
func (s ApprovalStep) Ended() bool {
	return s.Status == ApprovalCompleted || s.Status == ApprovalExpired
}

// ApprovalStepByID finds one of the request's approval stages.
func (r Request) ApprovalStepByID(id string) (ApprovalStep, int, bool) {
	for i, s := range r.Approval {
		if s.ID == id {
			return s, i, true
		}
	}
	return ApprovalStep{}, -1, false
}

// currentApprovalStep is the stage the request's approval stands at: the
// first that has not ended.
func (r Request) currentApprovalStep() (int, bool) {
	for i, s := range r.Approval {
		if !s.Ended() {
			return i, true
		}
	}
	return -1, false
}

// Approvers lists who approves the request: everyone named by a stage that
// has started (all), and the approvers of the stage waiting for a decision
// now (pending). The store keeps them, so that an approver finds the
// requests and approvals that are theirs.
func (r Request) Approvers() (all, pending []string) {
	for _, s := range r.Approval {
		for _, a := range s.Approvers {
			all = append(all, a.ID)
			if s.Status == ApprovalInProgress && r.State == StatePendingApproval {
				pending = append(pending, a.ID)
			}
		}
	}
	slices.Sort(all)
	slices.Sort(pending)
	return slices.Compact(all), slices.Compact(pending)
}

// Directory answers what approval asks of the directory while a transition
// is built: who belongs to a subject set for this request. The service
// answers from the store inside the transaction; tests answer from a table.
// A set that accessd's directory cannot resolve (sponsors, rules) has no
// members.
type Directory interface {
	Members(set SubjectSet, r Request) []Subject
}

// approversOf resolves subject sets to the people who may approve: each
// once, leaving out the requestor and the target, who never approve their
// own request. When the sets resolve to nobody, the fallbacks are used.
func approversOf(dir Directory, r Request, sets, fallbacks []SubjectSet) []Subject {
	resolve := func(sets []SubjectSet) []Subject {
		var out []Subject
		for _, set := range sets {
			if dir == nil {
				break
			}
			for _, who := range dir.Members(set, r) {
				if who.ID == "" || who.ID == r.Requestor.ID || who.ID == r.Target.ID ||
					slices.ContainsFunc(out, func(s Subject) bool { return s.ID == who.ID }) {
					continue
				}
				out = append(out, who)
			}
		}
		return out
	}
	if found := resolve(sets); len(found) > 0 {
		return found
	}
	return resolve(fallbacks)
}

// beginApproval puts the request in pendingApproval and starts its current
// stage. The stages are copied from the policy snapshot the first time; a
// reprocessed request goes on with the stage that failed.
func (t *Transition) beginApproval(env Env) (waits bool) {
	r := &t.Request
	if r.Approval == nil {
		for _, st := range r.Policy.ApprovalStages {
			r.Approval = append(r.Approval, ApprovalStep{ID: env.NewID(), Status: ApprovalInitializing, Settings: st,
				ReviewResult: ReviewNotReviewed})
		}
	} else {
		r.Approval = slices.Clone(r.Approval) // the caller's request stays as it was
	}
	t.set(env, StatePendingApproval, StatusPendingApproval)
	k, ok := r.currentApprovalStep()
	if !ok {
		return len(r.Approval) == 0 // no stages to run (an old request): it waits as it always did
	}
	return t.startApprovalStep(k, env)
}

// startApprovalStep starts stage k: a dynamic stage calls its extension and
// waits for the approvers it determines; any other resolves its approvers
// and waits for a decision, or denies the request at once when nobody may
// approve. waits is false only when the request was denied.
func (t *Transition) startApprovalStep(k int, env Env) (waits bool) {
	r := &t.Request
	step := &r.Approval[k]
	if step.Settings.Type == DynamicApprovalStage {
		b, _ := r.Policy.BindingOf(StageDeterminingApproval, step.Settings.CustomExtensionID)
		t.callOut(b, env)
		t.waitAt(StageDeterminingApproval, env)
		return true
	}
	step.Approvers = approversOf(env.Directory, *r, step.Settings.PrimaryApprovers, step.Settings.FallbackPrimaryApprovers)
	if len(step.Approvers) == 0 {
		step.Status = ApprovalCompleted
		step.ReviewResult = ReviewDenied
		t.record(env, "approvalStageWithoutApprovers", "", "approval stage "+strconv.Itoa(k+1)+" resolves to no approver other than the requestor and the target")
		t.set(env, StateDenied, StatusDenied)
		return false
	}
	now := env.Now
	step.Status, step.StartedDateTime = ApprovalInProgress, &now
	names := make([]string, len(step.Approvers))
	for i, a := range step.Approvers {
		names[i] = a.ID
	}
	t.record(env, "approvalStageStarted", "", "approval stage "+strconv.Itoa(k+1)+", approvers "+strings.Join(names, ", "))
	settings := step.Settings
	if settings.IsEscalationEnabled && !settings.DurationBeforeEscalation.IsZero() {
		t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkApprovalEscalation, RequestID: r.ID, ApprovalStepID: step.ID,
			DueAt: settings.DurationBeforeEscalation.AddTo(now)})
	}
	deny := settings.DurationBeforeAutomaticDenial
	if deny.IsZero() {
		deny = DefaultAutomaticDenial
	}
	t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkApprovalDeadline, RequestID: r.ID, ApprovalStepID: step.ID,
		DueAt: deny.AddTo(now)})
	return true
}

// Decision is an approver's answer to one approval stage.
type Decision struct {
	Approve       bool
	Justification string
}

// DecideApproval applies an approver's decision to a stage of the request:
// unknown stage 404; the caller is not an approver of that stage 403; the
// stage was decided already, has not started or the request no longer
// waits for approval 409; a justification the stage requires is missing
// 400. A denial ends the request; approval starts the next stage, or after
// the last lets the request go on.
func DecideApproval(r Request, a *Assignment, stepID string, by Subject, d Decision, env Env) (Transition, error) {
	step, k, ok := r.ApprovalStepByID(stepID)
	if !ok {
		return Transition{}, NotFoundf("approval %q has no stage %q", r.ID, stepID)
	}
	if !step.IsApprover(by.ID) && !(step.Status == ApprovalInitializing && step.Settings.Type != DynamicApprovalStage &&
		slices.ContainsFunc(approversOf(env.Directory, r, step.Settings.PrimaryApprovers, step.Settings.FallbackPrimaryApprovers),
			func(s Subject) bool { return s.ID == by.ID })) {
		return Transition{}, E(KindForbidden, "the caller is not an approver of stage %q of approval %q", stepID, r.ID)
	}
	switch {
	case step.ReviewResult == ReviewApproved || step.ReviewResult == ReviewDenied:
		return Transition{}, Conflictf("stage %q of approval %q was already decided (%s)", stepID, r.ID, step.ReviewResult)
	case r.State != StatePendingApproval:
		return Transition{}, Conflictf("request %q is %s; it no longer waits for approval", r.ID, r.State)
	case step.Ended():
		return Transition{}, Conflictf("stage %q of approval %q ended undecided (%s)", stepID, r.ID, step.Status)
	case step.Status == ApprovalInitializing:
		return Transition{}, Conflictf("stage %q of approval %q has not started yet", stepID, r.ID)
	}
	if step.Settings.IsApproverJustificationRequired && strings.TrimSpace(d.Justification) == "" {
		return Transition{}, Invalidf("justification is required to decide this stage")
	}
	r.Approval = slices.Clone(r.Approval)
	now := env.Now
	decided := &r.Approval[k]
	decided.Status, decided.ReviewedBy, decided.ReviewedDateTime, decided.Justification = ApprovalCompleted, by, &now, d.Justification
	t := Transition{Request: r, DropRequestTimers: true}
	if !d.Approve {
		decided.ReviewResult = ReviewDenied
		t.record(env, "approvalStageDenied", "", d.Justification)
		t.set(env, StateDenied, StatusDenied)
		return t, nil
	}
	decided.ReviewResult = ReviewApproved
	t.record(env, "approvalStageApproved", "", d.Justification)
	if next, ok := t.Request.currentApprovalStep(); ok {
		t.startApprovalStep(next, env)
		return t, nil
	}
	return Continue(t.Request, a, env).after(t), nil
}

// after puts the changes of an earlier part of the same change first.
func (t Transition) after(earlier Transition) Transition {
	t.History = append(earlier.History, t.History...)
	t.Work = append(earlier.Work, t.Work...)
	t.DropRequestTimers = t.DropRequestTimers || earlier.DropRequestTimers
	return t
}

// EscalateApproval adds a stage's escalation approvers (or their fallbacks)
// when nobody decided within durationBeforeEscalation; the primary approvers
// may still decide. Nil when the stage has ended meanwhile.
func EscalateApproval(r Request, stepID string, env Env) *Transition {
	step, k, ok := r.ApprovalStepByID(stepID)
	if !ok || step.Status != ApprovalInProgress || step.Escalated || r.State != StatePendingApproval {
		return nil
	}
	r.Approval = slices.Clone(r.Approval)
	esc := &r.Approval[k]
	esc.Escalated = true
	added := 0
	for _, s := range approversOf(env.Directory, r, step.Settings.EscalationApprovers, step.Settings.FallbackEscalationApprovers) {
		if !esc.IsApprover(s.ID) {
			esc.Approvers = append(slices.Clone(esc.Approvers), s)
			added++
		}
	}
	t := Transition{Request: r}
	t.record(env, "approvalStageEscalated", "", "approval stage "+strconv.Itoa(k+1)+": "+strconv.Itoa(added)+" escalation approver(s) added")
	return &t
}

// ApprovalDeadline denies a request whose stage nobody decided within
// durationBeforeAutomaticDenial: the stage expires and the request ends
// denied with status Expired. Nil when the stage has ended meanwhile.
func ApprovalDeadline(r Request, stepID string, env Env) *Transition {
	step, k, ok := r.ApprovalStepByID(stepID)
	if !ok || step.Status != ApprovalInProgress || r.State != StatePendingApproval {
		return nil
	}
	r.Approval = slices.Clone(r.Approval)
	r.Approval[k].Status = ApprovalExpired
	t := Transition{Request: r, DropRequestTimers: true}
	t.record(env, "approvalStageExpired", "", "approval stage "+strconv.Itoa(k+1)+" was not decided in time")
	t.set(env, StateDenied, StatusExpired)
	return &t
}

// determineApproval takes the stage settings an extension's callback sent
// for the dynamic stage the request waits at, and starts that stage with
// them.
func (t *Transition) determineApproval(settings ApprovalStage, env Env) {
	r := &t.Request
	k, ok := r.currentApprovalStep()
	if !ok {
		return
	}
	r.Approval = slices.Clone(r.Approval)
	settings.Normalize()
	settings.Type, settings.CustomExtensionID = "", r.Approval[k].Settings.CustomExtensionID
	r.Approval[k].Settings = settings
	t.startApprovalStep(k, env)
}
