// Package engine does accessd's queued work: it claims due work from the
// store with a lease, sends callouts to extensions over HTTP, and runs
// timers. What a piece of work means for a request is decided by the access
// service; the engine only moves it along and talks to the outside.
package engine

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessd/accessd/access"
)

// Signer signs the tokens callouts carry, with accessd's own key.
type Signer interface {
	Sign(claims map[string]any) (string, error)
}

// Config is what the engine needs.
type Config struct {
	Service *access.Service
	Signer  Signer
	Issuer  string       // iss of callout tokens: accessd's public URL
	AppID   string       // appid and azp of callout tokens
	Clock   access.Clock // decides when work is due; the virtual clock in --dev mode
	// TokenClock dates callout tokens; the machine's clock, so extensions
	// accept them even when the virtual clock has moved. Nil means Clock.
	TokenClock access.Clock
	IDs        access.IDSource
	Logger     *slog.Logger

	Owner   string        // names this process in leases
	Lease   time.Duration // how long claimed work is reserved (default 30 s)
	Workers int           // pieces of work in flight at once (default 128)
	Poll    time.Duration // fallback poll when no wake-up comes (default 1 s)

	// AllowPrivate lets callouts reach loopback and private addresses
	// (RFC 1918, 100.64.0.0/10, fc00::/7): extensions on accessd's own host
	// or network. Link-local, cloud metadata, unspecified, multicast and
	// broadcast addresses are refused regardless.
	AllowPrivate bool
	// Proxy, when set, carries every callout; the proxy environment
	// variables are never used for callouts.
	Proxy *url.URL
	// Signing signs the callouts of extensions that have a secret; nil signs none.
	Signing *SigningSecrets
	// Client replaces the guarded HTTP client built from AllowPrivate and
	// Proxy; tests use it to resolve names their own way.
	Client *http.Client

	// Notifications, when set, wakes the engine when another process (a
	// replica on the same PostgreSQL database) queued work.
	Notifications <-chan struct{}

	// Observer, when set, hears of callouts and finished work.
	Observer Observer
}

// Engine runs queued work until its context ends.
type Engine struct {
	cfg  Config
	svc  *access.Service
	log  *slog.Logger
	wake chan struct{}

	slots chan struct{} // one token per piece of work in flight
	busy  sync.WaitGroup

	// Pause stops the engine in two steps: claimMu keeps Run from claiming
	// (Run holds it while it claims and hands work out), and pause waits for
	// work in flight (each piece holds it for reading until it is done).
	claimMu sync.Mutex
	pause   sync.RWMutex

	tokensMu sync.Mutex
	tokens   map[string]cachedToken

	finishes chan finish // sent callouts waiting to be recorded, in batches

	// inFlight holds the ids of the work this engine is doing. Their leases
	// are renewed while they last, and a claim that returns one of them
	// again (its lease ran out all the same, the database being too slow
	// to renew it) does not start it twice.
	inFlightMu sync.Mutex
	inFlight   map[string]bool

	running atomic.Bool // while Run claims work
	// starved is set while due work may be waiting for a slot: a slot
	// that frees up then wakes the claim loop.
	starved atomic.Bool

	// runMu guards runCtx and accepting: callouts are handed over
	// (LocalEngine) only while Run runs, so that Run, once it stops
	// accepting, can wait for every one of them.
	runMu     sync.Mutex
	runCtx    context.Context
	accepting bool

	// Outcomes not recorded yet (deferred.go).
	deferredMu sync.Mutex
	finished   []string               // work ids whose rows are to be removed
	finishedAt time.Time              // when the oldest of finished was added
	waiting    map[string]waitingCall // by instance id: launch-and-wait callouts that went well
	sending    map[string]bool        // by instance id: callouts being sent, true once answered
}

// finish is a sent callout on its way to the database; err answers whether it was recorded.
type finish struct {
	done access.CalloutDone
	err  chan error
}

type cachedToken struct {
	value  string
	expiry time.Time
}

// New builds an engine; call Run to start it.
func New(cfg Config) *Engine {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 128
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Client == nil {
		cfg.Client = calloutNetwork{allowPrivate: cfg.AllowPrivate, proxy: cfg.Proxy}.client()
	}
	if cfg.Owner == "" {
		cfg.Owner = cfg.IDs.NewID()
	}
	if cfg.TokenClock == nil {
		cfg.TokenClock = cfg.Clock
	}
	if cfg.AppID == "" {
		cfg.AppID = access.EntitlementManagementAppID
	}
	return &Engine{cfg: cfg, svc: cfg.Service, log: cfg.Logger, wake: make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.Workers), tokens: map[string]cachedToken{},
		finishes: make(chan finish, cfg.Workers), inFlight: map[string]bool{},
		waiting: map[string]waitingCall{}, sending: map[string]bool{}}
}

// Wake tells the engine that work was queued; it never blocks.
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Pause stops new work from starting and waits for work in flight; the
// returned function lets the engine go on. --dev mode's reset uses it.
func (e *Engine) Pause() (resume func()) {
	e.claimMu.Lock()
	e.pause.Lock()
	return func() {
		e.pause.Unlock()
		e.claimMu.Unlock()
	}
}

// Run claims and does work until ctx ends, then waits for work in flight.
func (e *Engine) Run(ctx context.Context) {
	recorderDone := make(chan struct{})
	go func() { e.recordFinishes(); close(recorderDone) }()
	stopRenewing, renewerDone := make(chan struct{}), make(chan struct{})
	go func() { e.renewLeases(stopRenewing); close(renewerDone) }()
	stopDeferred, deferredDone := make(chan struct{}), make(chan struct{})
	go func() { e.recordDeferred(stopDeferred); close(deferredDone) }()
	e.runMu.Lock()
	e.runCtx, e.accepting = ctx, true
	e.runMu.Unlock()
	defer func() {
		e.runMu.Lock()
		e.accepting = false // no callout is handed over from now on
		e.runMu.Unlock()
		e.busy.Wait() // work in flight records its outcome through the recorder
		close(stopDeferred)
		<-deferredDone // records what was deferred, through the recorder too
		close(stopRenewing)
		<-renewerDone
		close(e.finishes)
		<-recorderDone
	}()
	e.running.Store(true)
	look := true // whether claiming may find anything
	for ctx.Err() == nil {
		free := cap(e.slots) - len(e.slots)
		claimed, failed := 0, false
		if free > 0 && look {
			claimed, failed = e.claim(ctx, free)
		}
		if free > 0 && !failed {
			e.starved.Store(claimed == free)
		}
		if claimed > 0 && claimed == free {
			continue // more may be due; claim again as slots free up
		}
		look = e.sleep(ctx, free == 0, failed)
	}
	e.running.Store(false)
}

// claim leases up to free pieces of due work and starts them. Nothing is
// claimed while the engine is paused, so no lease runs out unused.
func (e *Engine) claim(ctx context.Context, free int) (claimed int, failed bool) {
	e.claimMu.Lock()
	defer e.claimMu.Unlock()
	work, err := e.svc.ClaimAndBegin(ctx, e.cfg.Owner, e.cfg.Lease, free)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("claiming work failed", "error", err.Error())
		}
		return 0, true
	}
	for _, c := range work {
		if c.Done {
			e.workFinished(c.Work.Kind, nil)
			continue // a timer, run in the claim's own transaction
		}
		if !e.startWork(c.Work.ID) {
			e.log.Warn("work claimed again while this process still does it; its lease ran out before it could be renewed", "work", c.Work.ID, "kind", string(c.Work.Kind))
			continue
		}
		e.slots <- struct{}{}
		e.busy.Add(1)
		e.pause.RLock() // released by do when the work is done
		go e.do(ctx, c)
	}
	return len(work), false
}

// recordFinishes writes sent callouts' outcomes, as many per transaction as
// are waiting: under load one commit records many callouts. If a batch
// fails, each is written alone so that one bad item holds up no other.
func (e *Engine) recordFinishes() {
	for first := range e.finishes {
		batch := []finish{first}
	more:
		for len(batch) < 128 {
			select {
			case f, ok := <-e.finishes:
				if !ok {
					break more
				}
				batch = append(batch, f)
			default:
				break more
			}
		}
		done := make([]access.CalloutDone, len(batch))
		for i, f := range batch {
			done[i] = f.done
		}
		ctx := context.Background()
		if err := e.svc.FinishCallouts(ctx, done); err == nil {
			for _, f := range batch {
				f.err <- nil
			}
			continue
		}
		for _, f := range batch {
			f.err <- e.svc.FinishCallout(ctx, f.done.Work, f.done.Result)
		}
	}
}

// sleep waits for a wake-up, the next due work, a freed slot or the poll.
// After a failed claim it waits the whole poll, so a sick database is not
// asked again at once. look is false when the poll ran out with nothing
// due by then: the next round only looks at the queue again, without a
// claim, which is a write transaction.
func (e *Engine) sleep(ctx context.Context, full, failed bool) (look bool) {
	wait := e.cfg.Poll
	idle := false // nothing is due before the poll
	if failed {
		// keep the full poll
	} else if full {
		wait = 5 * time.Millisecond // slots free up as work finishes
	} else if at, ok, err := e.svc.NextWorkAt(ctx); err == nil {
		idle = true
		if d := at.Sub(e.cfg.Clock.Now()); ok && d < wait {
			wait, idle = max(d, 0), false
		}
	}
	if wait == 0 {
		return true
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-e.wake:
	case <-e.cfg.Notifications: // a nil channel never fires
	case <-timer.C:
		return !idle
	}
	return true
}

// do runs one piece of work. When accessd itself fails (not the extension),
// the work is retried with backoff; if even that fails, the lease runs out
// and the work is rescued.
func (e *Engine) do(ctx context.Context, c access.Claimed) {
	w := c.Work
	deferred := false
	defer func() {
		if !deferred {
			e.endWork(w.ID)
		}
		e.pause.RUnlock()
		<-e.slots
		e.busy.Done()
		if e.starved.Load() {
			e.Wake()
		}
	}()
	// Work in flight finishes even when the engine is asked to stop, so a
	// callout that was sent is also recorded; the lease bounds how long.
	workCtx := context.WithoutCancel(ctx)
	var err error
	if w.Kind == access.WorkCallout {
		deferred, err = e.callout(workCtx, c)
	} else {
		err = e.svc.RunTimer(workCtx, w)
	}
	e.workFinished(w.Kind, err)
	if err == nil {
		return
	}
	e.log.Error("work failed; retrying with backoff", "work", w.ID, "kind", string(w.Kind), "attempt", w.Attempt, "error", err.Error())
	if err := e.svc.RetryWork(workCtx, w); err != nil {
		e.log.Error("could not reschedule work; its lease will expire", "work", w.ID, "error", err.Error())
	}
}

// startWork marks work as in flight here; false when it already is.
func (e *Engine) startWork(id string) bool {
	e.inFlightMu.Lock()
	defer e.inFlightMu.Unlock()
	if e.inFlight[id] {
		return false
	}
	e.inFlight[id] = true
	return true
}

func (e *Engine) endWork(id string) {
	e.inFlightMu.Lock()
	defer e.inFlightMu.Unlock()
	delete(e.inFlight, id)
}

// renewLeases extends the leases of the work in flight three times per
// lease, until stop is closed, so that work slower than a lease is not
// taken over by another replica while this one still does it. A tick with
// nothing in flight writes nothing.
func (e *Engine) renewLeases(stop <-chan struct{}) {
	tick := time.NewTicker(e.cfg.Lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		e.inFlightMu.Lock()
		ids := make([]string, 0, len(e.inFlight))
		for id := range e.inFlight {
			ids = append(ids, id)
		}
		e.inFlightMu.Unlock()
		if err := e.svc.RenewLeases(context.Background(), e.cfg.Owner, ids, e.cfg.Lease); err != nil {
			e.log.Error("renewing the leases of work in flight failed", "work", len(ids), "error", err.Error())
		}
	}
}
