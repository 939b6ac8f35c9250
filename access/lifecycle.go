package access

import (
	"slices"
	"time"
)

// The request lifecycle as pure functions: each takes a request (and its
// assignment, if any), the time and an id source, and returns what changes.
// The service stores a Transition in one transaction; nothing here does IO.

// Step is where a request is in its lifecycle. A request that waits (for a
// callback, an approval or its start time) stays at the step it waits in.
type Step string

const (
	StepCreated  Step = "created"  // the assignmentRequestCreated callout
	StepApproval Step = "approval" // approval, when the policy requires it
	StepApproved Step = "approved" // the assignmentRequestApproved callout
	StepSchedule Step = "schedule" // waiting for a start in the future
	StepDeliver  Step = "deliver"  // the assignment is made or changed
	StepGranted  Step = "granted"  // the assignmentRequestGranted callout
	StepRemove   Step = "remove"   // access is removed
	StepRemoved  Step = "removed"  // the assignmentRequestRemoved callout
	StepDone     Step = "done"
)

// stepsOf lists the steps of each kind of request, in order.
func stepsOf(t RequestType) []Step {
	switch {
	case t.IsRemove():
		return []Step{StepRemove, StepRemoved, StepDone}
	case t.IsUpdate():
		return []Step{StepCreated, StepApproval, StepApproved, StepDeliver, StepGranted, StepDone}
	default:
		return []Step{StepCreated, StepApproval, StepApproved, StepSchedule, StepDeliver, StepGranted, StepDone}
	}
}

// nextStep is the step after s for requests of type t.
func nextStep(t RequestType, s Step) Step {
	steps := stepsOf(t)
	for i, x := range steps {
		if x == s && i+1 < len(steps) {
			return steps[i+1]
		}
	}
	return StepDone
}

// stageOf is the extension stage a step calls out at, if any; at the
// approval step, a dynamic stage calls its extension to determine approvers.
func stageOf(s Step) (Stage, bool) {
	switch s {
	case StepCreated:
		return StageRequestCreated, true
	case StepApproval:
		return StageDeterminingApproval, true
	case StepApproved:
		return StageRequestApproved, true
	case StepGranted:
		return StageRequestGranted, true
	case StepRemoved:
		return StageRequestRemoved, true
	}
	return "", false
}

// Env is what a transition may read besides the request: the time, a source
// of new ids, and who acts (for the history).
type Env struct {
	Now   time.Time
	NewID func() string
	Actor Subject
	// Directory resolves approvers when an approval stage starts; nil
	// resolves every subject set to nobody.
	Directory Directory
}

// Transition is everything one step of the lifecycle changes.
type Transition struct {
	Request    Request
	Assignment *Assignment // created or changed; nil when untouched
	Work       []Work      // to add
	// DropRequestTimers removes the request's pending timers: its start,
	// callback deadline and approval escalation and deadline.
	DropRequestTimers bool
	// DropAssignmentTimers removes the assignment's pending expiry and pre-expiration work.
	DropAssignmentTimers bool
	History              []HistoryEntry
}

func (t *Transition) record(env Env, action string, stage Stage, detail string) {
	r := t.Request
	t.History = append(t.History, HistoryEntry{
		ID: env.NewID(), RequestID: r.ID, At: env.Now, ActorID: env.Actor.ID, ActorName: env.Actor.DisplayName,
		Action: action, Stage: stage, Detail: detail, State: r.State, Status: r.Status,
	})
}

func (t *Transition) set(env Env, state RequestState, status string) {
	if t.Request.State == state && t.Request.Status == status {
		return
	}
	t.Request.State, t.Request.Status = state, status
	if state.IsFinal() {
		now := env.Now
		t.Request.CompletedDateTime = &now
	}
	t.record(env, "transition", "", "")
}

// Submit starts a new request: it is stored submitted/Accepted and runs
// forward at once as far as it can.
func Submit(r Request, a *Assignment, env Env) Transition {
	r.State, r.Status = StateSubmitted, StatusAccepted
	r.CreatedDateTime = env.Now
	r.Step = stepsOf(r.Type)[0]
	t := Transition{Request: r}
	t.record(env, "submitted", "", "")
	return t.proceed(a, env)
}

// Continue moves a request past the step it waited in (a callback arrived, a
// start time came, an approval was given) and runs it forward.
func Continue(r Request, a *Assignment, env Env) Transition {
	r.Step = nextStep(r.Type, r.Step)
	t := Transition{Request: r}
	if r.Status == StatusWaitingForCallback {
		// The wait is over; the callback itself is what the history records.
		t.Request.Status = statusOf(r.State)
	}
	return t.proceed(a, env)
}

// statusOf is the plain status of a state, when nothing special is going on.
func statusOf(s RequestState) string {
	switch s {
	case StatePendingApproval:
		return StatusPendingApproval
	case StateScheduled:
		return StatusScheduled
	case StateDelivering:
		return StatusDelivering
	case StateDelivered:
		return StatusDelivered
	}
	return StatusAccepted
}

// proceed runs the request from its current step until it waits or ends.
func (t Transition) proceed(a *Assignment, env Env) Transition {
	for {
		r := &t.Request
		switch r.Step {
		case StepCreated, StepApproved, StepGranted, StepRemoved:
			stage, _ := stageOf(r.Step)
			if b, ok := r.Policy.Binding(stage); ok {
				t.callOut(b, env)
				if b.Waits {
					t.waitAt(stage, env)
					return t
				}
			}
		case StepApproval:
			if r.Policy.ApprovalRequired {
				t.beginApproval(env)
				return t
			}
		case StepSchedule:
			if start := r.Schedule.StartDateTime; start != nil && start.After(env.Now) {
				t.set(env, StateScheduled, StatusScheduled)
				t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkStart, RequestID: r.ID, DueAt: *start})
				return t
			}
		case StepDeliver:
			if r.Type.IsUpdate() {
				a = t.update(a, env)
			} else {
				a = t.deliver(env)
			}
		case StepRemove:
			a = t.remove(a, env)
		case StepDone:
			t.set(env, StateDelivered, StatusDelivered)
			return t
		}
		r.Step = nextStep(r.Type, r.Step)
	}
}

// callOut queues the callout of a bound stage. The payload reports the
// request's state as it is now, before any wait begins.
func (t *Transition) callOut(b StageBinding, env Env) {
	r := &t.Request
	w := Work{ID: env.NewID(), Kind: WorkCallout, RequestID: r.ID, Stage: b.Stage,
		InstanceID: env.NewID(), ExtensionID: b.ExtensionID, DueAt: env.Now, RequestState: r.State, RequestStatus: r.Status}
	t.Work = append(t.Work, w)
	t.record(env, "calloutQueued", b.Stage, "")
	if b.Waits {
		t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkCallbackTimeout, RequestID: r.ID, Stage: b.Stage,
			InstanceID: w.InstanceID, ExtensionID: b.ExtensionID, DueAt: b.CallbackTimeout.AddTo(env.Now)})
	}
}

// waitAt pauses the request for a callback, in the state docs/design.md gives
// ("States, statuses and waits").
func (t *Transition) waitAt(stage Stage, env Env) {
	state := t.Request.State
	switch stage {
	case StageDeterminingApproval:
		state = StatePendingApproval
	case StageRequestApproved:
		state = StateSubmitted
		if t.Request.Policy.ApprovalRequired {
			state = StatePendingApproval
		}
	case StageRequestGranted, StageRequestRemoved:
		state = StateDelivering
	}
	t.set(env, state, StatusWaitingForCallback)
}

// deliver makes the assignment. With nothing to provision it is delivered at once.
func (t *Transition) deliver(env Env) *Assignment {
	r := &t.Request
	start := env.Now
	expiration := r.Policy.Expiration
	if r.Schedule.Expiration.Type != "" && r.Schedule.Expiration.Type != ExpirationNotSpecified {
		expiration = r.Schedule.Expiration
	}
	a := &Assignment{
		ID: env.NewID(), AccessPackageID: r.AccessPackageID, PolicyID: r.PolicyID, CatalogID: r.CatalogID, Target: r.Target,
		State: AssignmentDelivered, Status: StatusDelivered, CreatedDateTime: env.Now,
		Schedule: Schedule{StartDateTime: &start, Expiration: expiration},
	}
	r.AssignmentID = a.ID
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = a
	t.scheduleEnd(a, env)
	return a
}

// update moves the end of an existing assignment.
func (t *Transition) update(a *Assignment, env Env) *Assignment {
	r := &t.Request
	changed := *a
	switch e := r.Schedule.Expiration; e.Type {
	case "", ExpirationNotSpecified:
	case ExpirationAfterDuration:
		// An extension by a duration counts from now, not from the original start.
		end := e.Duration.AddTo(env.Now)
		changed.Schedule.Expiration = Expiration{Type: ExpirationAfterDateTime, EndDateTime: &end}
	default:
		changed.Schedule.Expiration = e
	}
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = &changed
	t.DropAssignmentTimers = true
	t.scheduleEnd(&changed, env)
	return &changed
}

// scheduleEnd queues the assignment's expiry and its pre-expiration callouts.
func (t *Transition) scheduleEnd(a *Assignment, env Env) {
	end := a.End()
	if end == nil {
		return
	}
	t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkExpire, AssignmentID: a.ID, DueAt: *end})
	for _, pre := range []struct {
		stage  Stage
		before time.Duration
	}{{StageFourteenDaysBeforeExpiry, 14 * 24 * time.Hour}, {StageOneDayBeforeExpiry, 24 * time.Hour}} {
		b, ok := t.Request.Policy.Binding(pre.stage)
		due := end.Add(-pre.before)
		if !ok || !due.After(env.Now) {
			continue
		}
		t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkCallout, AssignmentID: a.ID, Stage: pre.stage,
			InstanceID: env.NewID(), ExtensionID: b.ExtensionID, DueAt: due})
	}
}

// remove ends an assignment's access.
func (t *Transition) remove(a *Assignment, env Env) *Assignment {
	changed := *a
	now := env.Now
	changed.State, changed.Status, changed.ExpiredDateTime = AssignmentExpired, StatusExpired, &now
	t.Request.AssignmentID = a.ID
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = &changed
	t.DropAssignmentTimers = true
	return &changed
}

// Cancel ends a request that has not reached delivery: while submitted,
// pending approval or scheduled, including while it waits for a callback at
// the created or approved stage.
func Cancel(r Request, env Env) (Transition, error) {
	switch r.State {
	case StateSubmitted, StatePendingApproval, StateScheduled:
	default:
		return Transition{}, Conflictf("a request that is %s cannot be canceled; only submitted, pendingApproval and scheduled requests can", r.State)
	}
	t := Transition{Request: r, DropRequestTimers: true}
	if k, ok := r.currentApprovalStep(); ok && r.Approval[k].Status == ApprovalInProgress {
		// Nobody decides a canceled request: its stage ends undecided.
		t.Request.Approval = slices.Clone(r.Approval)
		t.Request.Approval[k].Status = ApprovalCompleted
	}
	t.record(env, "canceled", "", "")
	t.set(env, StateCanceled, StatusCanceled)
	return t, nil
}

// CheckDelete says whether a request may be deleted: only one that ended
// without leaving an assignment behind, or a finished remove request.
func CheckDelete(r Request, assignmentExists bool) error {
	switch {
	case r.State == StateDenied || r.State == StateCanceled:
		return nil
	case r.State == StateDeliveryFailed && !assignmentExists:
		return nil
	case r.Type.IsRemove() && r.State.IsFinal():
		return nil
	case r.Type.IsAdd() && assignmentExists && r.State.IsFinal():
		return Conflictf("the request's assignment still exists; remove it with an adminRemove request first")
	default:
		return Conflictf("a request that is %s cannot be deleted; only denied, canceled, failed-without-assignment and finished remove requests can", r.State)
	}
}

// FailStage ends a request whose callout failed or whose callback timed out
// or reported failure, in the state docs/design.md gives for the stage.
func FailStage(r Request, stage Stage, status string, env Env) Transition {
	t := Transition{Request: r, DropRequestTimers: true}
	state := StateDeliveryFailed
	if stage == StageRequestGranted || stage == StageRequestRemoved {
		state = StatePartiallyDelivered
	}
	t.record(env, "stageFailed", stage, status)
	t.set(env, state, status)
	return t
}
