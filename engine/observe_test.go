package engine

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// recordingObserver keeps what the engine told it. Each callout's context
// carries the callout's extension id, and its attempts send it back as a
// header, so a test can tell that the headers come from the callout's context.
type recordingObserver struct {
	mu       sync.Mutex
	started  []string // extension ids
	reports  []CalloutReport
	finished []finishedWork
}

type finishedWork struct {
	kind   access.WorkKind
	failed bool
}

type calloutKey struct{}

func (o *recordingObserver) CalloutStarted(ctx context.Context, plan access.CalloutPlan) context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started = append(o.started, plan.Extension.ID)
	return context.WithValue(ctx, calloutKey{}, plan.Extension.ID)
}

func (o *recordingObserver) CalloutHeaders(ctx context.Context, h http.Header) {
	id, _ := ctx.Value(calloutKey{}).(string)
	h.Set("x-observed-callout", id)
}

func (o *recordingObserver) CalloutEnded(ctx context.Context, c CalloutReport) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reports = append(o.reports, c)
}

func (o *recordingObserver) WorkFinished(kind access.WorkKind, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = append(o.finished, finishedWork{kind, err != nil})
}

func (o *recordingObserver) snapshot() ([]string, []CalloutReport, []finishedWork) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.started...), append([]CalloutReport(nil), o.reports...), append([]finishedWork(nil), o.finished...)
}

func observed(o Observer) harnessOption { return func(c *Config) { c.Observer = o } }

func TestObserverHearsEachCallout(t *testing.T) {
	for _, tc := range []struct {
		name         string
		client       func(x *access.CustomExtension)
		reply        extReply
		wantOutcome  CalloutOutcome
		wantAttempts int
	}{
		{"answered 2xx", client(intp(1), 0), extReply{Status: http.StatusOK}, CalloutOK, 1},
		{"answered 500 twice", client(intp(1), 0), extReply{Status: http.StatusInternalServerError}, CalloutErrorStatus, 2},
		{"no answer in time", client(intp(0), 200), extReply{Delay: 2 * time.Second}, CalloutNoAnswer, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &recordingObserver{}
			h := newHarness(t, observed(o))
			x := h.extension("/observed", tc.client)
			h.ext.script("/observed", func(int, extCall) extReply { return tc.reply })
			p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
			h.run()
			r := h.submit(p, nil)
			h.waitWorkDone(h.calloutWork(r.ID))
			// The work is reported finished just after its outcome is
			// committed, which waitWorkDone sees.
			h.eventually("the callout's report and its work's end", func() (bool, string) {
				_, reports, finished := o.snapshot()
				return len(reports) == 1 && len(finished) >= 1, itoa(len(reports)) + " reports, " + itoa(len(finished)) + " finished"
			})

			started, reports, finished := o.snapshot()
			if len(started) != 1 || started[0] != x.ID {
				t.Errorf("callouts started %v, want one to %s", started, x.ID)
			}
			got := reports[0]
			if got.ExtensionID != x.ID || got.Stage != access.StageRequestCreated || got.Outcome != tc.wantOutcome || got.Attempts != tc.wantAttempts {
				t.Errorf("report %+v, want extension %s, stage %s, outcome %s after %d attempts",
					got, x.ID, access.StageRequestCreated, tc.wantOutcome, tc.wantAttempts)
			}
			if got.Duration <= 0 {
				t.Errorf("the callout took %v, want a positive duration", got.Duration)
			}
			if tc.wantOutcome != CalloutOK && got.Err == "" {
				t.Error("a failed callout's report has no error")
			}
			for _, c := range h.ext.callsTo("/observed") {
				if c.Header.Get("x-observed-callout") != x.ID {
					t.Errorf("attempt %d sent x-observed-callout %q, want the callout context's %q", c.N, c.Header.Get("x-observed-callout"), x.ID)
				}
			}
			if len(finished) != 1 || finished[0] != (finishedWork{access.WorkCallout, false}) {
				t.Errorf("work finished %+v, want one callout, done", finished)
			}
		})
	}
}

// Work that accessd failed to do itself is reported as failed, and again
// as done once a later try succeeds; a timer run in the claim's own
// transaction is reported as done.
func TestObserverHearsFinishedWork(t *testing.T) {
	o := &recordingObserver{}
	h := newHarness(t, observed(o))
	x := h.extension("/finished", func(x *access.CustomExtension) {
		client(intp(0), 0)(x)
		waiting("PT5M")(x)
	})
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.store.set(func(s *spyStore) { s.failDeletes[access.WorkCallout] = 2 }) // the batch and its one-by-one fallback
	h.run()
	r := h.submit(p, nil)
	h.waitWorkDone(h.calloutWork(r.ID))
	h.advance("PT10M") // past the callback deadline
	h.waitRequest(r.ID, "timed out", func(r access.Request) bool { return r.Status == access.StatusCallbackTimedOut })
	want := []finishedWork{{access.WorkCallout, true}, {access.WorkCallout, false}, {access.WorkCallbackTimeout, false}}
	h.eventually("three finished pieces of work", func() (bool, string) {
		_, _, finished := o.snapshot()
		return len(finished) >= len(want), itoa(len(finished)) + " finished"
	})
	_, _, finished := o.snapshot()
	if len(finished) != len(want) {
		t.Fatalf("work finished %+v, want %+v", finished, want)
	}
	for i := range want {
		if finished[i] != want[i] {
			t.Errorf("work finished %+v, want %+v", finished, want)
			break
		}
	}
}

func TestRunningWhileRunRuns(t *testing.T) {
	h := newHarness(t)
	if h.eng.Running() {
		t.Error("Running before Run")
	}
	h.run()
	h.eventually("the engine to run", func() (bool, string) { return h.eng.Running(), "not running" })
	h.stop()
	if h.eng.Running() {
		t.Error("Running after Run returned")
	}
}
