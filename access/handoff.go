package access

import (
	"context"
	"slices"
	"time"
)

// Claim at enqueue. A callout due at once used to cost two transactions
// after the one that queued it: the engine's claim (which recorded the
// instance as sent) and the record of how it went. Now the transaction that
// queues it also leases it to the engine of its own process, records the
// instance as sent, and hands the callout over in memory once it has
// committed. A callout that goes well needs only its row removed, which the
// next write transaction of the process does on the side. Nothing accepted
// is lost: until its row is removed the callout is leased work like any
// other, and if the process dies its lease runs out and any replica claims
// and sends it again.

// LocalEngine is the engine of this process, as the service sees it.
type LocalEngine interface {
	// Owner names the engine in leases; Lease is how long one lasts.
	Owner() string
	Lease() time.Duration
	// Reserve takes a worker slot for a callout a transaction is about to
	// lease to the engine; false when none is free or the engine is not
	// running, and the callout then waits for a claim like other work.
	Reserve() bool
	// Unreserve gives back a slot Reserve took, when the transaction that
	// took it did not commit.
	Unreserve()
	// HandOver starts a callout leased to the engine by a transaction that
	// has committed, on a slot Reserve took.
	HandOver(c Claimed)
	// TakeFinished returns the ids of work whose callouts are over with
	// nothing to record but the removal of their rows.
	TakeFinished() []string
	// ReturnFinished puts back ids TakeFinished gave a transaction that did not commit.
	ReturnFinished(ids []string)
	// Answered says that committed callbacks ended these callout instances
	// and removed their queued callouts: their HTTP exchange needs no record.
	Answered(instanceIDs []string)
}

// SetLocalEngine lets write transactions hand callouts to e and remove its
// finished work; nil stops it.
func (s *Service) SetLocalEngine(e LocalEngine) { s.local = e }

// engineTx is a write transaction of a service with a local engine: what
// it leased to the engine, to hand over once it commits.
type engineTx struct {
	Tx
	reserved int
	handed   []Claimed
	finished []string
	answered []string
}

// undo gives back what a transaction that did not commit took.
func (et *engineTx) undo(e LocalEngine) {
	for range et.reserved {
		e.Unreserve()
	}
	if len(et.finished) > 0 {
		e.ReturnFinished(et.finished)
	}
	et.reserved, et.handed, et.finished, et.answered = 0, nil, nil, nil
}

// updateWithEngine is update when a local engine is set: fn runs on an
// engineTx, the engine's finished work is removed in the same transaction,
// and what fn leased is handed over after the commit.
func (s *Service) updateWithEngine(ctx context.Context, fn func(Tx) error) error {
	var et *engineTx
	err := s.store.Update(ctx, func(tx Tx) error {
		if et != nil {
			et.undo(s.local) // an earlier run of fn that did not commit
		}
		et = &engineTx{Tx: tx}
		if err := fn(et); err != nil {
			return err
		}
		et.finished = s.local.TakeFinished()
		return tx.DeleteWork(et.finished...)
	})
	if err != nil {
		if et != nil {
			et.undo(s.local)
		}
		return err
	}
	for _, c := range et.handed {
		s.local.HandOver(c)
	}
	if len(et.answered) > 0 {
		s.local.Answered(et.answered)
	}
	return nil
}

// RemoveFinishedWork removes the local engine's finished work in a
// transaction of its own, when no other came along to do it.
func (s *Service) RemoveFinishedWork(ctx context.Context) error {
	return s.update(ctx, func(Tx) error { return nil })
}

// beginAtEnqueue leases the transition's request callouts that are due now
// to the local engine, as far as it has free slots, and begins them as
// beginCallout would: the instance is recorded as sent, with its history
// entry, in the request the transition stores. A callout whose payload
// needs an assignment the transition does not carry is left to the claim.
func (s *Service) beginAtEnqueue(et *engineTx, t *Transition) error {
	if s.local == nil {
		return nil
	}
	now := s.clock.Now()
	env := s.env(systemActor)
	first := len(et.handed)
	for i := range t.Work {
		w := &t.Work[i]
		if w.Kind != WorkCallout || w.RequestID != t.Request.ID || w.DueAt.After(now) || w.LeaseOwner != "" {
			continue
		}
		asg, ok := enqueuedPayloadAssignment(t, w.Stage)
		if !ok {
			continue
		}
		if !s.local.Reserve() {
			break
		}
		et.reserved++
		w.LeaseOwner, w.LeaseUntil = s.local.Owner(), now.Add(s.local.Lease())
		r := &t.Request
		b, _ := r.Policy.BindingOf(w.Stage, w.ExtensionID)
		r.Callouts = append(slices.Clip(r.Callouts), CalloutInstance{ID: w.InstanceID, CustomExtensionID: w.ExtensionID,
			ExtensionName: b.ExtensionName, Stage: w.Stage, Status: CalloutSent, Waits: b.Waits})
		t.History = append(t.History, HistoryEntry{ID: env.NewID(), RequestID: r.ID, At: env.Now, ActorName: systemActor.DisplayName,
			Action: "calloutSent", Stage: w.Stage, Detail: w.InstanceID, State: r.State, Status: r.Status})
		claimed := *w
		claimed.LeaseOwner, claimed.LeaseUntil = "", time.Time{}
		et.handed = append(et.handed, Claimed{Work: claimed, Plan: &CalloutPlan{Work: claimed, Waits: b.Waits,
			payload: &CalloutContext{Work: claimed, Assignment: asg}}})
	}
	// The payload describes the request as this transaction stores it.
	for _, c := range et.handed[first:] {
		r := t.Request
		c.Plan.payload.Request = &r
		if err := s.readNounsAtBegin(et, c.Plan); err != nil {
			return err
		}
	}
	return nil
}

// enqueuedPayloadAssignment is the assignment a callout's payload shows
// (beginCallout), when the transition carries it; ok is false when the
// payload needs one the transition does not carry.
func enqueuedPayloadAssignment(t *Transition, stage Stage) (*Assignment, bool) {
	r := t.Request
	beforeDelivery := stage == StageRequestCreated || stage == StageRequestApproved
	if r.AssignmentID == "" || (beforeDelivery && r.Type.IsAdd()) {
		return nil, true
	}
	if t.Assignment != nil && t.Assignment.ID == r.AssignmentID {
		a := *t.Assignment
		return &a, true
	}
	return nil, false
}
