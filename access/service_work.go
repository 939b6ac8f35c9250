package access

import (
	"context"
	"slices"
	"time"
)

// The engine's side of the service: it claims work and calls these, and all
// rules about what a piece of work does to a request stay here.

// systemActor is who acts when accessd itself moves a request (timers, expiry).
var systemActor = Subject{Kind: SubjectServicePrincipal, DisplayName: "accessd"}

// RecordCallouts makes the service keep the callout attempts, the newest
// CalloutAttemptsKept of each extension (--dev, serve --record-callouts).
// Off, finishing a callout writes nothing about its attempts.
func (s *Service) RecordCallouts(on bool) { s.recordCallouts = on }

// RecordsCallouts says whether callout attempts are kept.
func (s *Service) RecordsCallouts() bool { return s.recordCallouts }

// CalloutAttemptsKept is how many of an extension's newest attempts are
// kept: enough for the admin view's recent callouts of a busy extension,
// few enough that the table stays small however long accessd runs.
const CalloutAttemptsKept = 200

// ClaimWork leases up to limit pieces of due work for owner.
func (s *Service) ClaimWork(ctx context.Context, owner string, lease time.Duration, limit int) ([]Work, error) {
	var ws []Work
	err := s.update(ctx, func(tx Tx) error {
		var err error
		now := s.clock.Now()
		ws, err = tx.ClaimWork(now, owner, now.Add(lease), limit)
		return err
	})
	return ws, err
}

// NextWorkAt is when the earliest queued work becomes claimable.
func (s *Service) NextWorkAt(ctx context.Context) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.view(ctx, func(tx Tx) error {
		var err error
		at, ok, err = tx.NextWorkAt()
		return err
	})
	return at, ok, err
}

// CountWorkDue counts work due by now, claimed or not.
func (s *Service) CountWorkDue(ctx context.Context) (int, error) {
	return get(ctx, s, func(tx Tx) (int, error) { return tx.CountWorkDue(s.clock.Now()) })
}

// QueueStats is the state of the work queue at one instant, for /metrics.
type QueueStats struct {
	At    time.Time
	Kinds []WorkKindStats // one per kind in WorkKinds order, empty kinds included
	// WaitingForCallback counts the requests waiting for a callback. Every
	// such wait has exactly one callback deadline queued, removed when the
	// wait ends, so this is the number of deadlines queued.
	WaitingForCallback int
	// TimersDue counts the work due that needs no outside call: all but callouts.
	TimersDue int
}

// QueueStats reads the work queue in one read transaction.
func (s *Service) QueueStats(ctx context.Context) (QueueStats, error) {
	now := s.clock.Now()
	stored, err := get(ctx, s, func(tx Tx) ([]WorkKindStats, error) { return tx.WorkStats(now) })
	if err != nil {
		return QueueStats{}, err
	}
	q := QueueStats{At: now, Kinds: make([]WorkKindStats, len(WorkKinds))}
	for i, kind := range WorkKinds {
		q.Kinds[i].Kind = kind
		for _, st := range stored {
			if st.Kind == kind {
				q.Kinds[i] = st
			}
		}
		if kind == WorkCallbackTimeout {
			q.WaitingForCallback = q.Kinds[i].Due + q.Kinds[i].Later
		}
		if kind != WorkCallout {
			q.TimersDue += q.Kinds[i].Due
		}
	}
	return q, nil
}

// RenewLeases keeps owner's leases on work still in its hands for another
// lease from now, so that a callout slower than one lease (a slow
// extension, a stalled database) is not claimed and sent again by another
// worker while the first is still at it.
func (s *Service) RenewLeases(ctx context.Context, owner string, ids []string, lease time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	return s.update(ctx, func(tx Tx) error { return tx.RenewLeases(owner, ids, s.clock.Now().Add(lease)) })
}

// RetryWork puts work back after accessd failed to do it, with backoff.
func (s *Service) RetryWork(ctx context.Context, w Work) error {
	return s.update(ctx, func(tx Tx) error {
		return tx.RetryWork(w.ID, s.clock.Now().Add(Backoff(w.Attempt)), w.Attempt+1)
	})
}

// RunTimer does a piece of work that needs no outside call: a scheduled
// start, an assignment's expiry, a callback deadline.
func (s *Service) RunTimer(ctx context.Context, w Work) error {
	queued := false
	err := s.update(ctx, func(tx Tx) error {
		queued = false
		// The claim that handed w over has committed: if its lease ran out
		// meanwhile, another worker may be running it too. The first to
		// hold the row does the work; the other finds it gone.
		if held, err := tx.HoldWork(w.ID); err != nil || !held {
			return err
		}
		var err error
		queued, err = s.runTimer(tx, w)
		return err
	})
	if err == nil && queued {
		s.workQueued()
	}
	return err
}

// runTimer is RunTimer inside a transaction. What a timer does is stamped
// with the time it fell due, not the time it ran: after the virtual clock
// jumps past a deadline, a request times out at its deadline and an
// assignment expires at its end, so tests that move the clock see exact times.
func (s *Service) runTimer(tx Tx, w Work) (queued bool, err error) {
	env := s.env(systemActor)
	if w.DueAt.Before(env.Now) {
		env.Now = w.DueAt.UTC().Truncate(time.Millisecond)
	}
	switch w.Kind {
	case WorkStart:
		queued, err = s.transitionIn(tx, w.RequestID, env, func(_ Tx, r Request, env Env) (*Transition, error) {
			if r.State != StateScheduled || r.Step != StepSchedule {
				return nil, nil // canceled meanwhile
			}
			t := Continue(r, nil, env)
			return &t, nil
		})
	case WorkCallbackTimeout:
		queued, err = s.transitionIn(tx, w.RequestID, env, func(_ Tx, r Request, env Env) (*Transition, error) {
			return callbackDeadline(r, w, env), nil
		})
	case WorkApprovalEscalation:
		queued, err = s.transitionIn(tx, w.RequestID, env, func(_ Tx, r Request, env Env) (*Transition, error) {
			return EscalateApproval(r, w.ApprovalStepID, env), nil
		})
	case WorkApprovalDeadline:
		queued, err = s.transitionIn(tx, w.RequestID, env, func(_ Tx, r Request, env Env) (*Transition, error) {
			return ApprovalDeadline(r, w.ApprovalStepID, env), nil
		})
	case WorkDeliver:
		queued, err = s.deliverWork(tx, w, env)
	case WorkRevoke:
		queued, err = s.revokeWork(tx, w, env)
	case WorkPreExpiry:
		queued, err = s.preExpiryWork(tx, w, env)
	case WorkExpire:
		queued, err = s.expireTimer(tx, w, env)
	default:
		return false, Internal(errorString("work " + w.ID + " has an unknown kind " + string(w.Kind)))
	}
	if w.Kind != WorkExpire && IsNotFound(err) {
		err = nil // the request was deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	return queued, tx.DeleteWork(w.ID)
}

type errorString string

func (e errorString) Error() string { return string(e) }

// expireTimer ends an assignment with a systemRemove request, which runs the
// removed-stage callout like any remove; an assignment still being
// delivered ends once its delivery is over.
func (s *Service) expireTimer(tx Tx, w Work, env Env) (queued bool, err error) {
	a, err := tx.Assignment(w.AssignmentID)
	if IsNotFound(err) || (err == nil && !a.State.IsActive()) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if end := a.End(); end == nil || end.After(s.Now()) {
		return false, nil // the end moved; an update queued a new expiry
	}
	if a.State == AssignmentDelivering {
		// Its roles are still being granted: it ends once that is over, so
		// that the delivery does not finish on an ended assignment and
		// make it delivered again. (One whose delivery fails is not active,
		// and this timer then leaves it alone.)
		again := Work{ID: env.NewID(), Kind: WorkExpire, AssignmentID: a.ID, DueAt: env.Now.Add(Backoff(w.Attempt + 1)), Attempt: w.Attempt + 1}
		return true, tx.AddWork(again)
	}
	policy, err := tx.AssignmentPolicy(a.PolicyID)
	if err != nil {
		return false, err
	}
	snap, err := snapshotOf(tx, policy, false)
	if err != nil {
		return false, err
	}
	r := Request{ID: s.ids.NewID(), Type: RequestSystemRemove, AccessPackageID: a.AccessPackageID, PolicyID: a.PolicyID,
		CatalogID: a.CatalogID, Target: a.Target, Requestor: systemActor, AssignmentID: a.ID, Policy: snap}
	t := Submit(r, &a, env)
	return s.saveTransition(tx, t)
}

// callbackDeadline fails a request still waiting for the callback of w's
// instance; nil when the wait has ended otherwise.
func callbackDeadline(r Request, w Work, env Env) *Transition {
	c, i, ok := r.Callout(w.InstanceID)
	waiting := r.Status == StatusWaitingForCallback && !r.State.IsFinal()
	if stage, _ := stageOf(r.Step); stage != w.Stage {
		waiting = false
	}
	if !waiting || (ok && c.Status != CalloutSent && c.Status != WaitingForCallback) {
		return nil
	}
	r.Callouts = slices.Clone(r.Callouts)
	if !ok { // the callout was never even sent: record the instance as it ends
		r.Callouts = append(r.Callouts, CalloutInstance{ID: w.InstanceID, Stage: w.Stage, Waits: true})
		i = len(r.Callouts) - 1
		if b, found := r.Policy.BindingOf(w.Stage, w.ExtensionID); found {
			r.Callouts[i].CustomExtensionID, r.Callouts[i].ExtensionName = b.ExtensionID, b.ExtensionName
		}
	}
	r.Callouts[i].Status = CallbackTimedOut
	t := FailStage(r, w.Stage, StatusCallbackTimedOut, env)
	return &t
}

// CalloutPlan is one callout ready to send once it has its Body
// (CalloutBody builds it).
type CalloutPlan struct {
	Work      Work
	Extension CustomExtension
	Body      []byte
	Skip      bool // nothing to send any more: the work was finished instead
	Waits     bool // a launch-and-wait callout of a request

	// payload is what the body describes, as the transaction that began the
	// callout saw it; the access package, catalog and policy are added when
	// the body is built, unless nounsRead says they were read as it began.
	payload   *CalloutContext
	nounsRead bool
}

// BeginCallout records the callout instance as sent, in the same transaction
// as the claim's follow-up, so a callback that arrives before the
// extension's own HTTP answer is accepted; and builds the body.
func (s *Service) BeginCallout(ctx context.Context, w Work) (CalloutPlan, error) {
	var plan CalloutPlan
	err := s.update(ctx, func(tx Tx) error {
		var err error
		plan, err = s.beginCallout(tx, w)
		return err
	})
	if err != nil {
		return plan, err
	}
	return plan, s.CalloutBody(ctx, &plan)
}

// CalloutBody builds the body of a begun callout, if it has none yet. It
// reads the access package, catalog and policy the payload names in a read
// transaction of its own, outside the write transaction that began the
// callout: on SQLite all writes take turns, and reading and encoding there
// would hold up every other write.
func (s *Service) CalloutBody(ctx context.Context, plan *CalloutPlan) error {
	if plan.Skip || plan.Body != nil || plan.payload == nil {
		return nil
	}
	c := *plan.payload
	if plan.nounsRead {
		c.Extension = plan.Extension
		var err error
		plan.Body, err = c.MarshalPayload()
		return err
	}
	gone := false
	err := s.view(ctx, func(tx Tx) error {
		if plan.Extension.ID == "" { // handed over at enqueue: the extension is read here
			x, err := tx.CustomExtension(plan.Work.ExtensionID)
			if IsNotFound(err) {
				gone = true
				return nil
			}
			if err != nil {
				return err
			}
			plan.Extension = x
		}
		c.Extension = plan.Extension
		return s.loadPayloadNouns(tx, &c)
	})
	if err != nil {
		return err
	}
	if gone {
		plan.Skip = true
		return s.FinishCallout(ctx, plan.Work, CalloutResult{Error: "the custom extension no longer exists"})
	}
	plan.Body, err = c.MarshalPayload()
	return err
}

// Claimed is a piece of work claimed for this worker: a callout comes with
// its plan, begun in the same transaction as the claim; a timer that ran
// there already is Done.
type Claimed struct {
	Work Work
	Plan *CalloutPlan
	Done bool
}

// ClaimAndBegin claims due work, begins its callouts and runs its timers in
// one transaction: a callout costs one commit less, and timers run in the
// order they fell due (the claim is ordered by due time), which matters when
// the virtual clock jumps past several at once: an assignment's
// pre-expiration callout goes out before its expiry ends it. The plans come
// without a Body: the caller builds each with CalloutBody, outside the
// claim. If any of it fails, the work is claimed alone and the caller does
// it piece by piece.
func (s *Service) ClaimAndBegin(ctx context.Context, owner string, lease time.Duration, limit int) ([]Claimed, error) {
	var out []Claimed
	queued := false
	err := s.update(ctx, func(tx Tx) error {
		out, queued = out[:0], false
		// The lease starts when the transaction does, not before it waited
		// for its turn or was tried again.
		now := s.clock.Now()
		ws, err := tx.ClaimWork(now, owner, now.Add(lease), limit)
		if err != nil {
			return err
		}
		for _, w := range ws {
			c := Claimed{Work: w}
			if w.Kind == WorkCallout {
				plan, err := s.beginCallout(tx, w)
				if err != nil {
					return err
				}
				c.Plan = &plan
			} else {
				more, err := s.runTimer(tx, w)
				if err != nil {
					return err
				}
				c.Done, queued = true, queued || more
			}
			out = append(out, c)
		}
		return nil
	})
	if err == nil {
		if queued {
			s.workQueued()
		}
		return out, nil
	}
	ws, claimErr := s.ClaimWork(ctx, owner, lease, limit)
	if claimErr != nil {
		return nil, claimErr
	}
	out = out[:0]
	for _, w := range ws {
		out = append(out, Claimed{Work: w})
	}
	return out, nil
}

// beginCallout is BeginCallout inside a transaction.
func (s *Service) beginCallout(tx Tx, w Work) (CalloutPlan, error) {
	plan := CalloutPlan{Work: w}
	err := func() error {
		c := CalloutContext{Work: w}
		x, err := tx.CustomExtension(w.ExtensionID)
		if IsNotFound(err) {
			plan.Skip = true
			return s.finishCallout(tx, w, CalloutResult{Error: "the custom extension no longer exists"})
		}
		if err != nil {
			return err
		}
		c.Extension, plan.Extension = x, x
		if w.RequestID != "" {
			r, err := tx.Request(w.RequestID)
			if IsNotFound(err) {
				plan.Skip = true
				return tx.DeleteWork(w.ID)
			}
			if err != nil {
				return err
			}
			inst, _, found := r.Callout(w.InstanceID)
			if found && inst.Status != CalloutSent && inst.Status != WaitingForCallback {
				plan.Skip = true // answered, timed out or failed already: never send again
				return tx.DeleteWork(w.ID)
			}
			if !found {
				b, _ := r.Policy.BindingOf(w.Stage, w.ExtensionID)
				inst = CalloutInstance{ID: w.InstanceID, CustomExtensionID: x.ID, ExtensionName: x.DisplayName,
					Stage: w.Stage, Status: CalloutSent, Waits: b.Waits}
				r.Callouts = append(r.Callouts, inst)
				env := s.env(systemActor)
				if err := tx.AddHistory(HistoryEntry{ID: env.NewID(), RequestID: r.ID, At: env.Now, ActorName: systemActor.DisplayName,
					Action: "calloutSent", Stage: w.Stage, Detail: w.InstanceID, State: r.State, Status: r.Status}); err != nil {
					return err
				}
				if err := tx.PutRequest(r); err != nil {
					return err
				}
			}
			plan.Waits = inst.Waits
			c.Request = &r
			// Before delivery the payload describes the requested assignment, not the one made since.
			beforeDelivery := w.Stage == StageRequestCreated || w.Stage == StageRequestApproved
			if r.AssignmentID != "" && (!beforeDelivery || !r.Type.IsAdd()) {
				a, err := tx.Assignment(r.AssignmentID)
				if err != nil && !IsNotFound(err) {
					return err
				}
				if err == nil {
					c.Assignment = &a
				}
			}
		} else {
			a, err := tx.Assignment(w.AssignmentID)
			if IsNotFound(err) || (err == nil && !a.State.IsActive()) {
				plan.Skip = true
				return tx.DeleteWork(w.ID)
			}
			if err != nil {
				return err
			}
			if _, _, found := findCallout(a.Callouts, w.InstanceID); !found {
				a.Callouts = append(a.Callouts, CalloutInstance{ID: w.InstanceID, CustomExtensionID: x.ID, ExtensionName: x.DisplayName,
					Stage: w.Stage, Status: CalloutSent})
				PreExpiry(&a, w.Stage) // the stage is reached as its callout goes out
				if err := tx.PutAssignment(a); err != nil {
					return err
				}
			}
			c.Assignment = &a
		}
		plan.payload = &c
		return s.readNounsAtBegin(tx, &plan)
	}()
	return plan, err
}

// readNounsAtBegin reads what the body of a callout being begun shows, in
// the transaction that begins it, where the store writes in parallel
// (ParallelWriter). What it cannot find is left for CalloutBody, which
// knows what to do when the extension or the package is gone.
func (s *Service) readNounsAtBegin(tx Tx, plan *CalloutPlan) error {
	if !s.nounsAtBegin || plan.payload == nil {
		return nil
	}
	x := plan.Extension
	if x.ID == "" {
		var err error
		if x, err = tx.CustomExtension(plan.Work.ExtensionID); IsNotFound(err) {
			return nil
		} else if err != nil {
			return err
		}
	}
	c := *plan.payload
	if err := s.loadPayloadNouns(tx, &c); IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	plan.Extension, plan.payload, plan.nounsRead = x, &c, true
	return nil
}

func findCallout(cs []CalloutInstance, id string) (CalloutInstance, int, bool) {
	for i, c := range cs {
		if c.ID == id {
			return c, i, true
		}
	}
	return CalloutInstance{}, -1, false
}

func (s *Service) loadPayloadNouns(tx Tx, c *CalloutContext) error {
	pkgID, policyID := "", ""
	if c.Request != nil {
		pkgID, policyID = c.Request.AccessPackageID, c.Request.PolicyID
	} else {
		pkgID, policyID = c.Assignment.AccessPackageID, c.Assignment.PolicyID
	}
	var err error
	if c.Package, err = tx.AccessPackage(pkgID); err != nil {
		return err
	}
	if c.Catalog, err = tx.Catalog(c.Package.CatalogID); err != nil {
		return err
	}
	c.Policy, err = tx.AssignmentPolicy(policyID)
	if IsNotFound(err) {
		c.Policy = AssignmentPolicy{ID: policyID}
		if c.Request != nil {
			c.Policy.DisplayName = c.Request.Policy.DisplayName
		}
		return nil
	}
	return err
}

// CalloutSettled reports whether a request callout needs no more attempts:
// its instance already has its callback, or has ended otherwise.
func (s *Service) CalloutSettled(ctx context.Context, w Work) (bool, error) {
	if w.RequestID == "" {
		return false, nil
	}
	return get(ctx, s, func(tx Tx) (bool, error) {
		r, err := tx.Request(w.RequestID)
		if IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		c, _, found := r.Callout(w.InstanceID)
		return found && c.Status != CalloutSent && c.Status != WaitingForCallback, nil
	})
}

// CalloutResult is how sending a callout went, over all its attempts.
type CalloutResult struct {
	OK            bool
	CorrelationID string // from x-ms-workflow-run-id
	Error         string
	Attempts      []CalloutAttempt
}

// OutcomeRecord is what recording how a callout went takes.
type OutcomeRecord int

const (
	// RecordNow: the outcome changes the request or the assignment.
	RecordNow OutcomeRecord = iota
	// RecordRemoval: nothing changes but the callout's row, which goes:
	// a launch-and-continue request callout that went well.
	RecordRemoval
	// RecordUnlessAnswered: a launch-and-wait callout that went well marks
	// its instance waitingForCallback, unless the callback has come
	// meanwhile, which ends the instance and removes the row itself.
	RecordUnlessAnswered
)

// OutcomeRecordOf says what recording a sent callout's outcome takes. In
// --dev mode, where every attempt is recorded, it is always RecordNow.
func (s *Service) OutcomeRecordOf(plan CalloutPlan, res CalloutResult) OutcomeRecord {
	switch {
	case s.recordCallouts || !res.OK || res.CorrelationID != "" || plan.Work.RequestID == "":
		return RecordNow
	case plan.Waits:
		return RecordUnlessAnswered
	default:
		return RecordRemoval
	}
}

// FinishCallout records how a callout went. A failed launch-and-wait callout
// fails its request; once a callback has arrived, a late failure is ignored.
func (s *Service) FinishCallout(ctx context.Context, w Work, res CalloutResult) error {
	return s.update(ctx, func(tx Tx) error { return s.finishCallout(tx, w, res) })
}

// CalloutDone is one sent callout and how it went.
type CalloutDone struct {
	Work   Work
	Result CalloutResult
}

// FinishCallouts records several callouts in one transaction: under load the
// engine finishes callouts in batches, one commit for many.
func (s *Service) FinishCallouts(ctx context.Context, done []CalloutDone) error {
	return s.update(ctx, func(tx Tx) error {
		for _, d := range done {
			if err := s.finishCallout(tx, d.Work, d.Result); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Service) finishCallout(tx Tx, w Work, res CalloutResult) error {
	if s.recordCallouts && len(res.Attempts) > 0 {
		if err := tx.AddCalloutAttempts(res.Attempts); err != nil {
			return err
		}
		if err := tx.PruneCalloutAttempts(res.Attempts[0].ExtensionID, CalloutAttemptsKept); err != nil {
			return err
		}
	}
	if err := tx.DeleteWork(w.ID); err != nil {
		return err
	}
	if w.RequestID == "" {
		return s.finishAssignmentCallout(tx, w, res)
	}
	_, err := s.transitionIn(tx, w.RequestID, s.env(systemActor), func(_ Tx, r Request, env Env) (*Transition, error) {
		return calloutOutcome(r, w, res, env), nil
	})
	if IsNotFound(err) {
		return nil // the request was deleted meanwhile
	}
	return err
}

// calloutOutcome records how a request's callout went: a failed
// launch-and-wait callout fails the request; once a callback has arrived,
// a late failure changes nothing. Nil when there is nothing to record.
func calloutOutcome(r Request, w Work, res CalloutResult, env Env) *Transition {
	r.Callouts = slices.Clone(r.Callouts)
	inst, i, found := r.Callout(w.InstanceID)
	if !found {
		b, _ := r.Policy.BindingOf(w.Stage, w.ExtensionID)
		r.Callouts = append(r.Callouts, CalloutInstance{ID: w.InstanceID, CustomExtensionID: w.ExtensionID, ExtensionName: b.ExtensionName,
			Stage: w.Stage, Status: CalloutSent, Waits: b.Waits})
		inst, i = r.Callouts[len(r.Callouts)-1], len(r.Callouts)-1
	}
	before := r.Callouts[i]
	if res.CorrelationID != "" {
		r.Callouts[i].ExternalCorrelationID = res.CorrelationID
	}
	switch {
	case inst.Status != CalloutSent:
		// answered, timed out or failed already: a late outcome changes nothing
	case res.OK && inst.Waits:
		r.Callouts[i].Status = WaitingForCallback
	case res.OK:
		// launch and continue: the instance stays calloutSent
	default:
		// The instance says why, so that the reason is on the request itself.
		r.Callouts[i].Status, r.Callouts[i].Detail = CalloutFailedState, res.Error
		failed := HistoryEntry{ID: env.NewID(), RequestID: r.ID, At: env.Now, ActorName: systemActor.DisplayName,
			Action: "calloutFailed", Stage: w.Stage, Detail: res.Error, State: r.State, Status: r.Status}
		stage, _ := stageOf(r.Step)
		if inst.Waits && r.Status == StatusWaitingForCallback && stage == w.Stage && !r.State.IsFinal() {
			t := FailStage(r, w.Stage, StatusCalloutFailed, env)
			t.History = append([]HistoryEntry{failed}, t.History...)
			return &t
		}
		return &Transition{Request: r, History: []HistoryEntry{failed}}
	}
	if found && r.Callouts[i] == before {
		return nil // a launch-and-continue callout that went well: nothing to record
	}
	return &Transition{Request: r}
}

func (s *Service) finishAssignmentCallout(tx Tx, w Work, res CalloutResult) error {
	a, err := tx.Assignment(w.AssignmentID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, i, found := findCallout(a.Callouts, w.InstanceID)
	if !found {
		a.Callouts = append(a.Callouts, CalloutInstance{ID: w.InstanceID, CustomExtensionID: w.ExtensionID, Stage: w.Stage})
		i = len(a.Callouts) - 1
	}
	a.Callouts[i].ExternalCorrelationID = res.CorrelationID
	if res.OK {
		a.Callouts[i].Status = CalloutSent // the assignment's status moved when the stage was reached (PreExpiry)
	} else {
		a.Callouts[i].Status, a.Callouts[i].Detail = CalloutFailedState, res.Error
	}
	return tx.PutAssignment(a)
}
