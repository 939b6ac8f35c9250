package access

import (
	"slices"
	"strconv"
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
	// Roles says which resource roles a package grants when an assignment
	// is made; nil grants none.
	Roles PackageRoles
}

// PackageRoles answers what delivery asks while a transition is built:
// which resource roles a package grants now.
type PackageRoles interface {
	Grants(packageID string) []Grant
}

// Transition is everything one step of the lifecycle changes.
type Transition struct {
	Request    Request
	NewRequest bool        // Request is not stored yet (Submit)
	Assignment *Assignment // created or changed; nil when untouched
	Work       []Work      // to add
	// DropRequestTimers removes the request's pending timers: its start,
	// callback deadline and approval escalation and deadline.
	DropRequestTimers bool
	// DropAssignmentTimers removes the assignment's pending expiry and pre-expiration work.
	DropAssignmentTimers bool
	// EndedCallouts are the request's callout instances that got their
	// callback: their queued callouts are removed with the timers.
	EndedCallouts []string
	History       []HistoryEntry
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

// Accept is a new request as it stands the moment it is accepted:
// submitted/Accepted, at its first step, before any processing. Graph
// answers a submission with this, whatever processing has done since.
func Accept(r Request, now time.Time) Request {
	r.State, r.Status = StateSubmitted, StatusAccepted
	r.CreatedDateTime = now
	r.Step = stepsOf(r.Type)[0]
	return r
}

// Submit starts a new request: it is accepted (and recorded so in its
// history) and runs forward at once as far as it can.
func Submit(r Request, a *Assignment, env Env) Transition {
	t := Transition{Request: Accept(r, env.Now), NewRequest: true}
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
			var waits bool
			switch {
			case r.Type.IsUpdate():
				a = t.update(a, env)
			case a != nil && a.ID == r.AssignmentID: // reprocessed: deliver what failed again
				a, waits = t.redeliver(a, env)
			default:
				a, waits = t.deliver(env)
			}
			if waits {
				return t
			}
		case StepRemove:
			var waits bool
			if a, waits = t.remove(a, env); waits {
				return t
			}
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

// deliver makes the assignment with the resource roles its package grants
// now. With nothing to provision it is delivered at once; otherwise the
// request waits in delivering while the engine provisions each role
// (WorkDeliver), and FinishDelivery goes on from there.
func (t *Transition) deliver(env Env) (*Assignment, bool) {
	r := &t.Request
	start := env.Now
	expiration := r.Policy.Expiration
	if r.Schedule.Expiration.Type != "" && r.Schedule.Expiration.Type != ExpirationNotSpecified {
		expiration = r.Schedule.Expiration
	}
	a := &Assignment{
		ID: env.NewID(), AccessPackageID: r.AccessPackageID, PolicyID: r.PolicyID, CatalogID: r.CatalogID, Target: r.Target,
		State: AssignmentDelivered, Status: StatusDelivered, CreatedDateTime: env.Now, LastRequestID: r.ID, RequestorID: r.Requestor.ID,
		Schedule: Schedule{StartDateTime: &start, Expiration: expiration},
	}
	if env.Roles != nil {
		for _, g := range env.Roles.Grants(r.AccessPackageID) {
			g.Status = GrantPending
			a.Grants = append(a.Grants, g)
		}
	}
	r.AssignmentID = a.ID
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = a
	t.scheduleEnd(a, env)
	if len(a.Grants) == 0 {
		return a, false
	}
	a.State, a.Status = AssignmentDelivering, StatusDelivering
	t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkDeliver, RequestID: r.ID, AssignmentID: a.ID, DueAt: env.Now})
	return a, true
}

// redeliver tries again the roles that failed to be granted, when a
// partially delivered or failed request is reprocessed. The assignment's
// end is scheduled again: an assignment whose delivery failed is not
// active, and its expiry, if it came meanwhile, passed it by.
func (t *Transition) redeliver(a *Assignment, env Env) (*Assignment, bool) {
	changed := *a
	changed.Grants = append([]Grant(nil), a.Grants...)
	again := false
	for i, g := range changed.Grants {
		if g.Status == GrantFailed {
			changed.Grants[i].Status, changed.Grants[i].Error, changed.Grants[i].FirstAttemptAt = GrantPending, "", nil
			again = true
		}
	}
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = &changed
	if !again {
		return &changed, false
	}
	changed.State, changed.Status = AssignmentDelivering, StatusDelivering
	t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkDeliver, RequestID: t.Request.ID, AssignmentID: a.ID, DueAt: env.Now})
	t.DropAssignmentTimers = true
	t.scheduleEnd(&changed, env)
	return &changed, true
}

// FinishDelivery goes on once every role of the assignment was granted or
// failed: all granted, the request goes on to the granted stage; some, it
// ends partiallyDelivered; none, deliveryFailed. Reprocess tries again what
// failed.
func FinishDelivery(r Request, a Assignment, env Env) Transition {
	delivered, failed := 0, 0
	for _, g := range a.Grants {
		switch g.Status {
		case GrantDelivered:
			delivered++
		case GrantFailed:
			failed++
		}
	}
	t := Transition{Request: r, Assignment: &a}
	switch {
	case failed == 0:
		a.State, a.Status = AssignmentDelivered, StatusDelivered
		t.record(env, "delivered", "", strconv.Itoa(delivered)+" resource role(s) granted")
		next := Continue(r, &a, env)
		next.History = append(t.History, next.History...)
		next.Assignment = &a
		return next
	case delivered > 0:
		a.State, a.Status = AssignmentPartiallyDelivered, StatusPartiallyDelivered
		t.record(env, "deliveryIncomplete", "", strconv.Itoa(failed)+" of "+strconv.Itoa(len(a.Grants))+" resource role(s) could not be granted")
		t.set(env, StatePartiallyDelivered, StatusPartiallyDelivered)
	default:
		a.State, a.Status = AssignmentDeliveryFailed, StatusDeliveryFailed
		t.record(env, "deliveryFailed", "", "no resource role could be granted")
		t.set(env, StateDeliveryFailed, StatusDeliveryFailed)
	}
	return t
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
	changed.LastRequestID = r.ID
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = &changed
	t.DropAssignmentTimers = true
	t.scheduleEnd(&changed, env)
	return &changed
}

// scheduleEnd queues the assignment's expiry and, 14 days and 1 day
// before it, its pre-expiration processing (with the extension bound at
// that stage, if any).
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
		due := end.Add(-pre.before)
		if !due.After(env.Now) {
			continue
		}
		if b, ok := t.Request.Policy.Binding(pre.stage); ok {
			// The callout itself marks the assignment when it is claimed (BeginCallout).
			t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkCallout, AssignmentID: a.ID, Stage: pre.stage,
				InstanceID: env.NewID(), ExtensionID: b.ExtensionID, DueAt: due})
			continue
		}
		t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkPreExpiry, AssignmentID: a.ID, Stage: pre.stage, DueAt: due})
	}
}

// PreExpiry marks an assignment as near its end when it reaches the
// 14-day or 1-day stage, whether or not an extension is called there. False
// when it has ended meanwhile.
func PreExpiry(a *Assignment, stage Stage) bool {
	if !a.State.IsActive() {
		return false
	}
	a.Status = "NearExpiry14DaysNotificationTriggered"
	if stage == StageOneDayBeforeExpiry {
		a.Status = "NearExpiry1DayNotificationTriggered"
	}
	return true
}

// remove ends an assignment's access. An assignment that granted resource
// roles keeps them until the engine has taken them away (WorkRevoke), and
// FinishRemoval goes on from there; with none it ends at once. A role that
// was never granted (its grant failed) has nothing to take away: the
// target may hold it some other way, and keeps it.
func (t *Transition) remove(a *Assignment, env Env) (*Assignment, bool) {
	changed := *a
	changed.Grants = append([]Grant(nil), a.Grants...)
	t.Request.AssignmentID = a.ID
	t.set(env, StateDelivering, StatusDelivering)
	t.Assignment = &changed
	t.DropAssignmentTimers = true
	revoke := false
	for i, g := range changed.Grants {
		switch g.Status {
		case GrantDelivered, GrantRemoving:
			changed.Grants[i].Status, changed.Grants[i].Error, changed.Grants[i].FirstAttemptAt = GrantRemoving, "", nil
			revoke = true
		case GrantPending, GrantFailed:
			changed.Grants[i].Status, changed.Grants[i].Error, changed.Grants[i].FirstAttemptAt = GrantRemoved, "", nil
		}
	}
	if revoke {
		t.Work = append(t.Work, Work{ID: env.NewID(), Kind: WorkRevoke, RequestID: t.Request.ID, AssignmentID: a.ID, DueAt: env.Now})
		return &changed, true
	}
	expire(&changed, t.Request.Type, env)
	return &changed, false
}

// expire marks an assignment as ended by a remove request: an expiry shows
// that the end was reached, a removal that access was taken away.
func expire(a *Assignment, by RequestType, env Env) {
	now := env.Now
	a.State, a.Status, a.ExpiredDateTime = AssignmentExpired, StatusExpired, &now
	if by == RequestSystemRemove {
		a.Status = StatusExpiredNotified
	}
}

// FinishRemoval goes on once every role of the assignment was taken away:
// the assignment ends and the request goes on to the removed stage. A role
// that could not be taken away (its grant is still delivered) ends the
// request partiallyDelivered, with the assignment still active; reprocess
// tries again.
func FinishRemoval(r Request, a Assignment, env Env) Transition {
	failed := 0
	for _, g := range a.Grants {
		if g.Status == GrantDelivered {
			failed++
		}
	}
	t := Transition{Request: r, Assignment: &a}
	if failed > 0 {
		t.record(env, "removalIncomplete", "", strconv.Itoa(failed)+" resource role(s) could not be taken away")
		t.set(env, StatePartiallyDelivered, StatusPartiallyDelivered)
		return t
	}
	expire(&a, r.Type, env)
	t.record(env, "accessRemoved", "", "")
	next := Continue(r, &a, env)
	next.History = append(t.History, next.History...)
	next.Assignment = &a
	return next
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
