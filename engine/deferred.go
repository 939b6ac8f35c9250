package engine

import (
	"context"
	"time"

	"github.com/accessd/accessd/access"
)

// Outcomes recorded later, and callouts handed over at enqueue: the
// engine's side of access.LocalEngine (see access/handoff.go).
//
// A request callout that went well changes little. A launch-and-continue
// one only has its row removed; the next write transaction of this process
// does that on the side (TakeFinished), or, when none comes within
// removalDelay, a transaction of its own. A launch-and-wait one marks its
// instance waitingForCallback, unless the callback arrives first: the
// callback's transaction then ends the instance and removes the row, and
// the outcome needs no write at all. Extensions often call back at once, so
// the engine waits answerGrace for that before it records the outcome.
// Until its outcome is recorded a launch-and-wait callout stays in flight:
// its lease is renewed. A crash before an outcome is recorded only means that the callout is sent again once the
// lease has run out, as after a crash in the middle of sending it.

const (
	// removalDelay is how long finished work waits for another
	// transaction to remove its row before the engine writes one itself.
	removalDelay = 20 * time.Millisecond
	// answerGrace is how long a launch-and-wait callout that went well
	// waits for its callback before its instance is marked waitingForCallback.
	answerGrace = 200 * time.Millisecond
	// deferredTick is how often deferred outcomes are looked at.
	deferredTick = 10 * time.Millisecond
)

// waitingCall is a launch-and-wait callout that went well, its outcome not recorded yet.
type waitingCall struct {
	done access.CalloutDone
	at   time.Time
}

// Owner names this engine in leases.
func (e *Engine) Owner() string { return e.cfg.Owner }

// Lease is how long this engine's leases last.
func (e *Engine) Lease() time.Duration { return e.cfg.Lease }

// Reserve takes a slot for a callout handed over at enqueue, if one is
// free, while Run runs and the engine is not paused.
func (e *Engine) Reserve() bool {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	if !e.accepting || !e.pause.TryRLock() {
		return false
	}
	select {
	case e.slots <- struct{}{}:
		e.busy.Add(1)
		return true
	default:
		e.pause.RUnlock()
		e.starved.Store(true) // the callout waits for a claim once a slot frees up
		return false
	}
}

// Unreserve gives back a slot Reserve took.
func (e *Engine) Unreserve() {
	<-e.slots
	e.pause.RUnlock()
	e.busy.Done()
}

// HandOver starts a callout leased to this engine at enqueue, on a slot Reserve took.
func (e *Engine) HandOver(c access.Claimed) {
	if !e.startWork(c.Work.ID) { // cannot happen: the work was just queued
		e.Unreserve()
		return
	}
	e.runMu.Lock()
	ctx := e.runCtx
	e.runMu.Unlock()
	go e.do(ctx, c)
}

// TakeFinished returns the work whose rows a transaction is to remove.
func (e *Engine) TakeFinished() []string {
	e.deferredMu.Lock()
	defer e.deferredMu.Unlock()
	ids := e.finished
	e.finished = nil
	return ids
}

// ReturnFinished puts back ids a transaction took but did not commit.
func (e *Engine) ReturnFinished(ids []string) {
	e.deferredMu.Lock()
	defer e.deferredMu.Unlock()
	if len(e.finished) == 0 {
		e.finishedAt = time.Now()
	}
	e.finished = append(e.finished, ids...)
}

// Answered hears of callbacks that ended callout instances: an outcome
// waiting for one is dropped, and one still being sent is not recorded.
func (e *Engine) Answered(instanceIDs []string) {
	var ended []string
	e.deferredMu.Lock()
	for _, id := range instanceIDs {
		if w, ok := e.waiting[id]; ok {
			delete(e.waiting, id)
			ended = append(ended, w.done.Work.ID)
		} else if _, ok := e.sending[id]; ok {
			e.sending[id] = true
		}
	}
	e.deferredMu.Unlock()
	for _, id := range ended {
		e.endWork(id)
	}
}

func (e *Engine) startSending(instanceID string) {
	e.deferredMu.Lock()
	e.sending[instanceID] = false
	e.deferredMu.Unlock()
}

// stopSending reports whether a callback ended the instance while it was being sent.
func (e *Engine) stopSending(instanceID string) (answered bool) {
	e.deferredMu.Lock()
	defer e.deferredMu.Unlock()
	answered = e.sending[instanceID]
	delete(e.sending, instanceID)
	return answered
}

// deferRemoval leaves the row of finished work to be removed. The work is
// no longer in flight: its lease is not renewed, which the removal, due in
// milliseconds, does not need.
func (e *Engine) deferRemoval(workID string) {
	e.endWork(workID)
	e.deferredMu.Lock()
	defer e.deferredMu.Unlock()
	if len(e.finished) == 0 {
		e.finishedAt = time.Now()
	}
	e.finished = append(e.finished, workID)
}

func (e *Engine) deferUnlessAnswered(done access.CalloutDone) {
	e.deferredMu.Lock()
	defer e.deferredMu.Unlock()
	e.waiting[done.Work.InstanceID] = waitingCall{done: done, at: time.Now()}
}

// recordDeferred records deferred outcomes once they are due, and all of
// them when stop is closed.
func (e *Engine) recordDeferred(stop <-chan struct{}) {
	tick := time.NewTicker(deferredTick)
	defer tick.Stop()
	for {
		all := false
		select {
		case <-stop:
			all = true
		case <-tick.C:
		}
		e.recordDeferredOnce(all)
		if all {
			return
		}
	}
}

func (e *Engine) recordDeferredOnce(all bool) {
	now := time.Now()
	var due []access.CalloutDone
	e.deferredMu.Lock()
	removals := len(e.finished) > 0 && (all || now.Sub(e.finishedAt) >= removalDelay)
	for id, w := range e.waiting {
		if all || now.Sub(w.at) >= answerGrace {
			due = append(due, w.done)
			delete(e.waiting, id)
		}
	}
	e.deferredMu.Unlock()
	ctx := context.Background()
	if removals {
		// Any write transaction removes them; this one does nothing else.
		if err := e.svc.RemoveFinishedWork(ctx); err != nil {
			e.log.Error("removing finished work failed; trying again", "error", err.Error())
		}
	}
	for _, d := range due {
		f := finish{done: d, err: make(chan error, 1)}
		e.finishes <- f
		if err := <-f.err; err != nil {
			// Its lease runs out and the callout is sent again: at least once.
			e.log.Error("recording a callout's outcome failed", "work", d.Work.ID, "error", err.Error())
		}
		e.endWork(d.Work.ID)
	}
}
