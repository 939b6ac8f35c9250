package engine

import (
	"context"
	"net/http"
	"time"

	"github.com/accessd/accessd/access"
)

// Observer hears of the engine's work, so that metrics and traces can show
// it while the engine knows neither; cmd/accessd gives it one from the
// telemetry package. Its methods must be quick: they run on the workers.
type Observer interface {
	// CalloutStarted is called before a callout's first attempt. The
	// context it returns is the callout's from then on, so that a tracer
	// can keep the callout's span there.
	CalloutStarted(ctx context.Context, plan access.CalloutPlan) context.Context
	// CalloutHeaders adds to each attempt's HTTP request what goes along
	// with the callout's context: traceparent, when tracing is on.
	CalloutHeaders(ctx context.Context, h http.Header)
	// CalloutEnded is told how a callout went, once its attempts are over.
	CalloutEnded(ctx context.Context, c CalloutReport)
	// WorkFinished is told of each piece of claimed work once it is over:
	// done (err is nil), or put back to be tried again after accessd
	// itself failed at it.
	WorkFinished(kind access.WorkKind, err error)
}

// CalloutOutcome is how a callout's attempts ended, in words that make
// bounded labels.
type CalloutOutcome string

const (
	// CalloutOK: an attempt was answered with a 2xx status.
	CalloutOK CalloutOutcome = "ok"
	// CalloutErrorStatus: the last attempt was answered, but not with 2xx.
	CalloutErrorStatus CalloutOutcome = "error_status"
	// CalloutNoAnswer: the last attempt got no answer (refused, reset, timed out).
	CalloutNoAnswer CalloutOutcome = "no_answer"
	// CalloutNotSent: accessd failed before any attempt (signing its token);
	// the work is retried.
	CalloutNotSent CalloutOutcome = "not_sent"
)

// CalloutReport is what an Observer learns of one callout.
type CalloutReport struct {
	ExtensionID string
	Stage       access.Stage
	Outcome     CalloutOutcome
	Attempts    int
	Duration    time.Duration // from before the first attempt to after the last answer
	Err         string        // the last attempt's error, or accessd's own failure
}

// sendObserved is send, told to the observer.
func (e *Engine) sendObserved(ctx context.Context, plan access.CalloutPlan) (access.CalloutResult, error) {
	o := e.cfg.Observer
	if o == nil {
		return e.send(ctx, plan)
	}
	ctx = o.CalloutStarted(ctx, plan)
	start := time.Now()
	res, err := e.send(ctx, plan)
	report := CalloutReport{ExtensionID: plan.Extension.ID, Stage: plan.Work.Stage, Attempts: len(res.Attempts),
		Duration: time.Since(start), Err: res.Error}
	last := access.CalloutAttempt{}
	if len(res.Attempts) > 0 {
		last = res.Attempts[len(res.Attempts)-1]
	}
	switch {
	case err != nil:
		report.Outcome, report.Err = CalloutNotSent, err.Error()
	case res.OK:
		report.Outcome = CalloutOK
	case last.ResponseStatus != 0:
		report.Outcome = CalloutErrorStatus
	default:
		report.Outcome = CalloutNoAnswer
	}
	o.CalloutEnded(ctx, report)
	return res, err
}

// addCalloutHeaders lets the observer add its headers to an attempt.
func (e *Engine) addCalloutHeaders(ctx context.Context, h http.Header) {
	if e.cfg.Observer != nil {
		e.cfg.Observer.CalloutHeaders(ctx, h)
	}
}

// workFinished tells the observer that a piece of work is over.
func (e *Engine) workFinished(kind access.WorkKind, err error) {
	if e.cfg.Observer != nil {
		e.cfg.Observer.WorkFinished(kind, err)
	}
}

// Running reports whether Run is claiming work: /readyz asks, since a
// replica whose engine stopped still answers requests but moves none along.
func (e *Engine) Running() bool { return e.running.Load() }
