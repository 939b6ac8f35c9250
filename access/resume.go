package access

import (
	"slices"
	"strings"
	"time"
)

// CallbackOutcome is what a callback decides; detail and source do not count.
type CallbackOutcome string

const (
	OutcomeContinue CallbackOutcome = "continue"
	OutcomeDenied   CallbackOutcome = "denied"
	OutcomeCanceled CallbackOutcome = "canceled"
	OutcomeFailed   CallbackOutcome = "failed"
)

// Callback data types accessd knows, by their Graph names without the namespace.
const (
	CallbackDataBase          = "customExtensionData"
	CallbackDataRequest       = "accessPackageAssignmentRequestCallbackData"
	CallbackDataApprovalStage = "assignmentRequestApprovalStageCallbackData"
	CallbackDataCustomTask    = "identityGovernance.customTaskExtensionCallbackData"
)

// stageTypePrefix is how a resume body's type names a stage.
const stageTypePrefix = "microsoft.graph.accessPackageCustomExtensionStage."

// Callback is a resume call as the API read it. The graph package checks the
// JSON types; Validate checks the values.
type Callback struct {
	Source          string
	Type            string
	HasData         bool   // data was sent and not null
	DataType        string // @odata.type without "#" and namespace; "" reads as the request callback data
	Stage           string // data.stage as sent
	InstanceID      string
	Detail          string
	State           string // data.state as sent
	OperationStatus string // data.operationStatus as sent
	// ApprovalStage is data.approvalStage: the approvers and settings an
	// extension determined for a dynamic approval stage.
	ApprovalStage *ApprovalStage
}

// Validate checks the body's values (400): its data type, state and
// operation status, and a stage named in data.stage.
func (cb *Callback) Validate() error {
	if !cb.HasData {
		return nil
	}
	switch cb.DataType {
	case "", CallbackDataBase, CallbackDataRequest, CallbackDataApprovalStage, CallbackDataCustomTask:
	default:
		return Invalidf("property 'data.@odata.type': %q is not customExtensionData or a subtype accessd knows (%s, %s, %s)",
			cb.DataType, CallbackDataRequest, CallbackDataApprovalStage, CallbackDataCustomTask)
	}
	if cb.Stage != "" {
		if _, ok := ParseStage(cb.Stage); !ok {
			return Invalidf("property 'data.stage': %q is not an accessPackageCustomExtensionStage", cb.Stage)
		}
	}
	if cb.State != "" && !strings.EqualFold(cb.State, "denied") && !strings.EqualFold(cb.State, "canceled") {
		return Invalidf("property 'data.state': %q is not allowed; a callback may set denied or canceled", cb.State)
	}
	if cb.OperationStatus != "" && !strings.EqualFold(cb.OperationStatus, "completed") && !strings.EqualFold(cb.OperationStatus, "failed") {
		return Invalidf("property 'data.operationStatus': %q is not completed or failed", cb.OperationStatus)
	}
	if st := cb.ApprovalStage; st != nil {
		if st.Type != "" {
			return Invalidf("property 'data.approvalStage': an extension determines an accessPackageApprovalStage, not another %s", st.Type)
		}
		determined := *st
		determined.Normalize()
		if err := determined.Validate("data.approvalStage"); err != nil {
			return err
		}
	}
	return nil
}

// namedStage is the stage the callback names: data.stage, else the stage in
// a type of the form microsoft.graph.accessPackageCustomExtensionStage.<stage>.
// named is false when it names none.
func (cb Callback) namedStage() (stage string, named bool) {
	if cb.Stage != "" {
		return cb.Stage, true
	}
	if len(cb.Type) > len(stageTypePrefix) && strings.EqualFold(cb.Type[:len(stageTypePrefix)], stageTypePrefix) {
		return cb.Type[len(stageTypePrefix):], true
	}
	return "", false
}

// Outcome is what the callback decides.
func (cb Callback) Outcome() CallbackOutcome {
	switch {
	case !cb.HasData:
		return OutcomeContinue
	case cb.DataType == CallbackDataCustomTask && strings.EqualFold(cb.OperationStatus, "failed"):
		return OutcomeFailed
	case cb.DataType != CallbackDataCustomTask && strings.EqualFold(cb.State, "denied"):
		return OutcomeDenied
	case cb.DataType != CallbackDataCustomTask && strings.EqualFold(cb.State, "canceled"):
		return OutcomeCanceled
	}
	return OutcomeContinue
}

// ResumeResult is what a callback does: a transition to store, or a repeat
// that changes nothing but the history.
type ResumeResult struct {
	Transition Transition
	Repeat     bool
}

// Resume applies a callback to a request, with the checks of docs/design.md ("The resume action")
// in their order after the body's own validity: the instance is resolved
// (409, or a repeat), the named stage matches (400), the state is allowed at
// that stage (400); then it is accepted.
func Resume(r Request, a *Assignment, cb Callback, env Env) (ResumeResult, error) {
	stage, named := cb.namedStage()
	outcome := cb.Outcome()

	var idx int
	var found bool
	if cb.InstanceID != "" {
		_, idx, found = r.Callout(cb.InstanceID)
		if !found {
			return ResumeResult{}, Conflictf("request %q never had a callout instance %q", r.ID, cb.InstanceID)
		}
	} else {
		idx, found = waitingInstance(r, stage, named)
		if !found {
			if named {
				return ResumeResult{}, Conflictf("request %q is not waiting for a callback at stage %s", r.ID, stage)
			}
			return ResumeResult{}, Conflictf("request %q is not waiting for a callback", r.ID)
		}
	}
	inst := r.Callouts[idx]
	switch {
	case inst.Status == CallbackReceived && inst.Outcome == outcome:
		return ResumeResult{Repeat: true, Transition: Transition{Request: r, History: []HistoryEntry{callbackEntry(r, inst, cb, outcome, env, "callbackRepeated")}}}, nil
	case inst.Status == CallbackReceived:
		return ResumeResult{}, Conflictf("callout instance %q was already answered with the outcome %s; a callback cannot change it to %s", inst.ID, inst.Outcome, outcome)
	case inst.Status == CallbackTimedOut:
		return ResumeResult{}, Conflictf("callout instance %q timed out waiting for its callback; reprocess the request to call the extension again", inst.ID)
	case inst.Status == CalloutFailedState:
		return ResumeResult{}, Conflictf("callout instance %q failed; reprocess the request to call the extension again", inst.ID)
	case !inst.Waits:
		return ResumeResult{}, Conflictf("callout instance %q is launch-and-continue; it takes no callback", inst.ID)
	case r.State == StateCanceled:
		return ResumeResult{}, Conflictf("request %q was canceled; its callouts take no callback", r.ID)
	}
	current, _ := stageOf(r.Step)
	if r.Status != StatusWaitingForCallback || current != inst.Stage || r.State.IsFinal() {
		return ResumeResult{}, Conflictf("request %q is not waiting for callout instance %q", r.ID, inst.ID)
	}
	if named && !strings.EqualFold(stage, string(inst.Stage)) {
		return ResumeResult{}, Invalidf("the callback names stage %s, but callout instance %q is at stage %s", stage, inst.ID, inst.Stage)
	}
	if (outcome == OutcomeDenied || outcome == OutcomeCanceled) && inst.Stage != StageRequestCreated && inst.Stage != StageRequestApproved {
		return ResumeResult{}, Invalidf("data.state %s is allowed only at assignmentRequestCreated and assignmentRequestApproved, not at %s", strings.ToLower(cb.State), inst.Stage)
	}
	if outcome == OutcomeContinue && inst.Stage == StageDeterminingApproval && cb.ApprovalStage == nil {
		return ResumeResult{}, Invalidf("a callback at %s must carry data.approvalStage (data of type %s): the approvers of the stage", inst.Stage, CallbackDataApprovalStage)
	}

	r.Callouts = slices.Clone(r.Callouts) // the caller's request stays as it was
	r.Callouts[idx].Status, r.Callouts[idx].Outcome = CallbackReceived, outcome
	if cb.Detail != "" {
		r.Callouts[idx].Detail = cb.Detail
	}
	entry := callbackEntry(r, r.Callouts[idx], cb, outcome, env, "callbackReceived")
	var t Transition
	switch {
	case outcome == OutcomeContinue && inst.Stage == StageDeterminingApproval:
		t = Transition{Request: r}
		t.Request.Status = StatusPendingApproval
		t.determineApproval(*cb.ApprovalStage, env)
	case outcome == OutcomeContinue:
		t = Continue(r, a, env)
	case outcome == OutcomeDenied:
		t = Transition{Request: r}
		t.set(env, StateDenied, StatusDenied)
	case outcome == OutcomeCanceled:
		t = Transition{Request: r}
		t.set(env, StateCanceled, StatusCanceled)
	case outcome == OutcomeFailed:
		t = FailStage(r, inst.Stage, StatusCustomExtensionFailed, env)
	}
	t.DropRequestTimers = true // the deadline of this callback; a next wait queues its own in the same transaction
	// The callout is over too: whatever its HTTP exchange still reports
	// changes nothing, and it is never sent again.
	t.EndedCallouts = append(t.EndedCallouts, inst.ID)
	t.History = append([]HistoryEntry{entry}, t.History...)
	return ResumeResult{Transition: t}, nil
}

// waitingInstance finds the launch-and-wait instance the request waits on now.
func waitingInstance(r Request, stage string, named bool) (int, bool) {
	if r.Status != StatusWaitingForCallback {
		return -1, false
	}
	for i := len(r.Callouts) - 1; i >= 0; i-- {
		c := r.Callouts[i]
		if !c.Waits || (c.Status != CalloutSent && c.Status != WaitingForCallback) {
			continue
		}
		if named && !strings.EqualFold(stage, string(c.Stage)) {
			continue
		}
		return i, true
	}
	return -1, false
}

func callbackEntry(r Request, inst CalloutInstance, cb Callback, outcome CallbackOutcome, env Env, action string) HistoryEntry {
	return HistoryEntry{ID: env.NewID(), RequestID: r.ID, At: env.Now, ActorID: env.Actor.ID, ActorName: env.Actor.DisplayName,
		Action: action, Stage: inst.Stage, Source: cb.Source, Type: cb.Type, Detail: cb.Detail, Outcome: string(outcome),
		State: r.State, Status: r.Status}
}

// ReprocessWindow is how long after it ended a failed request may be reprocessed.
const ReprocessWindow = 14 * 24 * time.Hour

// Reprocess runs the failed step of a deliveryFailed or partiallyDelivered
// request again: the request returns to that step's state, and a failed
// callout goes out again as a new instance (the old one keeps its status).
func Reprocess(r Request, a *Assignment, env Env) (Transition, error) {
	if r.State != StateDeliveryFailed && r.State != StatePartiallyDelivered {
		return Transition{}, Conflictf("only deliveryFailed and partiallyDelivered requests can be reprocessed; this one is %s", r.State)
	}
	if r.CompletedDateTime != nil && env.Now.Sub(*r.CompletedDateTime) > ReprocessWindow {
		return Transition{}, Conflictf("request %q ended more than 14 days ago; cancel it and request again", r.ID)
	}
	t := Transition{Request: r}
	t.Request.CompletedDateTime = nil
	state, status := StateSubmitted, StatusAccepted
	switch r.Step {
	case StepApproval, StepApproved:
		if r.Policy.ApprovalRequired {
			state, status = StatePendingApproval, StatusPendingApproval
		}
	case StepDeliver, StepGranted, StepRemove, StepRemoved:
		state, status = StateDelivering, StatusDelivering
	}
	t.record(env, "reprocessed", "", "")
	t.Request.State, t.Request.Status = state, status
	t.record(env, "transition", "", "")
	return t.proceed(a, env), nil
}
