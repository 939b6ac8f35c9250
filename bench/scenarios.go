package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
)

// A scenario is a row of scenarios: the extensions its policy binds,
// what the built-in extension does with each stage's callouts, which
// callout ends a lifecycle, and how the run is driven. Adding one (say
// approvals, or filtered reads next to the load) is a new row, perhaps
// with a new action or a run function of its own. The child server runs
// with its default settings unless the row sets needsDev.

// stage binds one extension to a stage of the bench's policy.
type stage struct {
	stage  string
	wait   bool // launch and wait (callbackConfiguration) or launch and continue
	resume bool // the extension answers 202, then calls resume from a goroutine
	ends   bool // this callout's arrival ends the lifecycle: delivered, or waiting
}

type scenario struct {
	name, summary   string
	stages          []stage
	callbackTimeout time.Duration // of its launch-and-wait extensions, unless --callback-timeout
	// needsDev starts the child server with --dev, for a scenario that uses
	// the /_accessd endpoints (the virtual clock). --dev is not a default:
	// it also records every callout attempt, an extra insert per callout,
	// so a scenario that does not need it measures the server without it.
	needsDev bool
	// prepare, when set, readies the database before the child server
	// starts (or, with --url, the --database it serves).
	prepare func(ctx context.Context, b *runner, db string) error
	// concurrency is its --concurrency unless the command line sets one.
	concurrency int
	run         func(context.Context, *runner) (*result, error)
}

var scenarios = []*scenario{
	{
		name:    "wait",
		summary: "launch-and-wait extension at assignmentRequestCreated (PT5M), answered by resume; delivery marked by a launch-and-continue callout at assignmentRequestGranted (default)",
		stages: []stage{
			{stage: "assignmentRequestCreated", wait: true, resume: true},
			{stage: "assignmentRequestGranted", ends: true},
		},
		callbackTimeout: 5 * time.Minute,
		run:             runLoad,
	},
	{
		name:    "continue",
		summary: "launch-and-continue extensions at assignmentRequestCreated and assignmentRequestGranted; no resume; the granted callout marks delivery",
		stages: []stage{
			{stage: "assignmentRequestCreated"},
			{stage: "assignmentRequestGranted", ends: true},
		},
		callbackTimeout: 5 * time.Minute,
		run:             runLoad,
	},
	{
		name:    "waiting",
		summary: "--requests requests wait at assignmentRequestCreated (PT1H) and are never resumed; then the virtual clock moves past their deadline and every callback times out",
		stages: []stage{
			{stage: "assignmentRequestCreated", wait: true, ends: true},
		},
		// Creating 100,000 requests takes minutes: with PT5M the first would
		// time out on their own before the clock moves.
		callbackTimeout: time.Hour,
		needsDev:        true, // POST /_accessd/clock moves the virtual clock past the deadline
		run:             runWaiting,
	},
	{
		name: "read",
		summary: "--assignments assignments and --requests requests in --packages packages, written straight into the database before the server starts; " +
			"then one page of 100 of a random package's delivered assignments, oldest first, with $count and $expand=target (concurrency 16 by default)",
		prepare:     prepareRead,
		concurrency: 16,
		run:         runRead,
	},
}

func scenarioNamed(name string) *scenario {
	for _, s := range scenarios {
		if s.name == name {
			return s
		}
	}
	return nil
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return names
}

func (s *scenario) stageNamed(name string) *stage {
	for i := range s.stages {
		if strings.EqualFold(s.stages[i].stage, name) {
			return &s.stages[i]
		}
	}
	return nil
}

// resumes says whether a lifecycle includes resume calls.
func (s *scenario) resumes() bool {
	for _, st := range s.stages {
		if st.resume {
			return true
		}
	}
	return false
}

// events is how many things must happen for a lifecycle to be complete:
// its ending callout, and the answer of each resume call.
func (s *scenario) events() int {
	n := 0
	for _, st := range s.stages {
		if st.resume {
			n++
		}
		if st.ends {
			n++
		}
	}
	return n
}

func (s *scenario) endStage() string {
	for _, st := range s.stages {
		if st.ends {
			return st.stage
		}
	}
	return ""
}

// ---- one lifecycle ----

// lifecycle is one request, from the create call to the callout that
// ends it, for one target user created for it.
type lifecycle struct {
	target  string
	replica int           // the server it calls, of b.replicas (modulo their number)
	done    chan struct{} // closed when it completes or fails

	mu          sync.Mutex
	requestID   string
	scheduled   time.Time // open loop: when it was due to start
	start       time.Time // the create call is sent
	created     time.Time // its answer arrived
	callout     time.Time // the first callout arrived
	resumeStart time.Time // the (first) resume call is sent
	resumeEnd   time.Time // its answer arrived
	end         time.Time // the ending callout arrived
	pending     int       // events still to come
	finished    bool
	err         string
}

func (lc *lifecycle) begin(scheduled, now time.Time, events int) {
	lc.mu.Lock()
	lc.scheduled, lc.start, lc.pending = scheduled, now, events
	lc.mu.Unlock()
}

// event records one of the events a lifecycle waits for; the last completes it.
func (lc *lifecycle) event() {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.finished {
		return
	}
	if lc.pending--; lc.pending <= 0 {
		lc.finished = true
		close(lc.done)
	}
}

// fail ends the lifecycle with an error; it says whether this call ended it.
func (lc *lifecycle) fail(kind string) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.finished {
		return false
	}
	lc.finished, lc.err = true, kind
	close(lc.done)
	return true
}

// reached says how far a lifecycle got, for the error of one that timed out.
func (lc *lifecycle) reached(sc *scenario) string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	switch {
	case lc.callout.IsZero():
		return "no callout"
	case sc.resumes() && lc.resumeEnd.IsZero():
		return "no answer to resume"
	}
	return "no " + sc.endStage() + " callout"
}

func (b *runner) failLifecycle(lc *lifecycle, kind string) {
	if lc.fail(kind) {
		b.errs.add(kind)
	}
}

// live runs one lifecycle: create the request, then wait until the
// extension has seen it end (or the lifecycle timeout passes).
func (b *runner) live(ctx context.Context, lc *lifecycle, scheduled time.Time) {
	body := fmt.Appendf(nil, `{"requestType":"adminAdd","assignment":{"targetId":%q,"assignmentPolicyId":%q,"accessPackageId":%q}}`,
		lc.target, b.policy, b.pkg)
	now := time.Now()
	if scheduled.IsZero() {
		scheduled = now
	}
	lc.begin(scheduled, now, b.sc.events())
	var created struct {
		ID string `json:"id"`
	}
	createCtx, cancel := context.WithTimeout(ctx, b.cfg.LifecycleTimeout)
	err := b.apiFor(lc).Do(createCtx, http.MethodPost, requestsPath, body, &created)
	cancel()
	now = time.Now()
	lc.mu.Lock()
	lc.created = now
	lc.mu.Unlock()
	if err != nil {
		b.failLifecycle(lc, errorKind("create", err))
		return
	}
	if created.ID == "" {
		b.failLifecycle(lc, "create: no id in the answer")
		return
	}
	lc.mu.Lock()
	lc.requestID = created.ID
	lc.mu.Unlock()
	timer := time.NewTimer(b.cfg.LifecycleTimeout - time.Since(lc.start))
	defer timer.Stop()
	select {
	case <-lc.done:
	case <-timer.C:
		b.failLifecycle(lc, "lifecycle timeout: "+lc.reached(b.sc))
	case <-ctx.Done():
		b.failLifecycle(lc, "canceled")
	}
}

// ---- the built-in extension ----

// calloutBody is what the built-in extension reads of a callout.
type calloutBody struct {
	RequestID       string `json:"AccessPackageAssignmentRequestId"`
	InstanceID      string `json:"CustomExtensionStageInstanceId"`
	Stage           string `json:"Stage"`
	CallbackURIPath string `json:"CallbackUriPath"`
	Assignment      struct {
		TargetID string `json:"TargetId"`
	} `json:"Assignment"`
}

func (b *runner) startExtension() error {
	ln, err := net.Listen("tcp", b.cfg.ExtensionAddr)
	if err != nil {
		return fmt.Errorf("extension endpoint: %w", err)
	}
	b.extURL = "http://" + ln.Addr().String()
	b.ext = &http.Server{Handler: http.HandlerFunc(b.serveCallout), ReadHeaderTimeout: 10 * time.Second}
	go b.ext.Serve(ln)
	return nil
}

// serveCallout takes one callout as a real extension would (without
// checking its token): answer 202 at once, and call resume afterwards from
// a goroutine when the stage says so.
func (b *runner) serveCallout(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var c calloutBody
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		b.errs.add("callout: unreadable body")
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	st := b.sc.stageNamed(c.Stage)
	v, ok := b.targets.Load(c.Assignment.TargetID)
	if !ok || st == nil {
		b.errs.add("callout: unknown target or stage")
		w.WriteHeader(http.StatusAccepted)
		return
	}
	lc := v.(*lifecycle)
	b.callouts.Add(1)
	// A callout sent again (accessd retries one it got no answer to in
	// time) is answered again but counts only once.
	lc.mu.Lock()
	if lc.callout.IsZero() {
		lc.callout = now
	}
	ended := st.ends && lc.end.IsZero()
	if ended {
		lc.end = now
	}
	lc.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	if st.resume {
		go b.resume(lc, c)
	}
	if ended {
		lc.event()
	}
}

// resume continues the request: POST {url}/v1.0{CallbackUriPath}, 204.
func (b *runner) resume(lc *lifecycle, c calloutBody) {
	cb := access.Callback{Source: "accessd-bench", Type: "microsoft.graph.accessPackageCustomExtensionStage." + c.Stage,
		HasData: true, DataType: access.CallbackDataRequest, Stage: c.Stage, InstanceID: c.InstanceID}
	start := time.Now()
	lc.mu.Lock()
	first := lc.resumeStart.IsZero()
	if first {
		lc.resumeStart = start
	}
	lc.mu.Unlock()
	err := b.apiFor(lc).ResumeAt(context.Background(), c.CallbackURIPath, cb)
	end := time.Now()
	if !first { // the answer to a callout sent again: a repeat, which changes nothing
		if err != nil {
			b.errs.add(errorKind("repeated resume", err))
		}
		return
	}
	lc.mu.Lock()
	lc.resumeEnd = end
	lc.mu.Unlock()
	if err != nil {
		b.failLifecycle(lc, errorKind("resume", err))
		return
	}
	lc.event()
}

// ---- driving lifecycles ----

// phase is a stretch of load: the lifecycles it started and when.
type phase struct {
	lcs       []*lifecycle
	start     time.Time
	stopped   time.Time // it stopped starting lifecycles: its time was up, or its users ran out
	end       time.Time // the last of its lifecycles finished
	exhausted bool      // it ran out of users before its time was up
	late      int       // open loop: arrivals started more than lateAfter after they were due
	maxLate   time.Duration
}

// lateAfter is how far behind its schedule an open-loop arrival may start
// before it counts as late.
const lateAfter = time.Millisecond

func (p *phase) wall() time.Duration { return p.end.Sub(p.start) }

// window is the time it started lifecycles in.
func (p *phase) window() time.Duration { return p.stopped.Sub(p.start) }

func (p *phase) completed() int {
	n := 0
	for _, lc := range p.lcs {
		lc.mu.Lock()
		if lc.finished && lc.err == "" {
			n++
		}
		lc.mu.Unlock()
	}
	return n
}

// runPhase starts lifecycles from pool for d (0: until the pool is used
// up), closed loop at --concurrency or open loop at --rate, and returns
// once every lifecycle it started has finished.
func (b *runner) runPhase(ctx context.Context, pool []*lifecycle, d time.Duration) *phase {
	p := &phase{start: time.Now()}
	var stopAt time.Time
	if d > 0 {
		stopAt = p.start.Add(d)
	}
	var next atomic.Int64
	take := func() *lifecycle {
		i := int(next.Add(1)) - 1
		if i >= len(pool) {
			return nil
		}
		return pool[i]
	}
	var exhausted atomic.Bool
	var ranOut atomic.Int64 // when the pool ran out, in nanoseconds since start
	runOut := func() {
		if exhausted.CompareAndSwap(false, true) {
			ranOut.Store(int64(time.Since(p.start)))
		}
	}
	var wg sync.WaitGroup
	if b.cfg.Rate == 0 {
		for range b.cfg.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && (stopAt.IsZero() || time.Now().Before(stopAt)) {
					lc := take()
					if lc == nil {
						runOut()
						return
					}
					b.live(ctx, lc, time.Time{})
				}
			}()
		}
	} else {
		slots := make(chan struct{}, b.cfg.MaxInflight)
		due := p.start
		timer := time.NewTimer(0)
		<-timer.C
	arrivals:
		for stopAt.IsZero() || due.Before(stopAt) {
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					break arrivals
				}
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				break arrivals
			}
			lc := take()
			if lc == nil {
				runOut()
				break
			}
			if late := time.Since(due); late > lateAfter {
				p.late++
				p.maxLate = max(p.maxLate, late)
			}
			wg.Add(1)
			go func(scheduled time.Time) {
				defer wg.Done()
				b.live(ctx, lc, scheduled)
				<-slots
			}(due)
			gap := 1 / b.cfg.Rate
			if b.cfg.Arrival == "poisson" {
				gap = rand.ExpFloat64() / b.cfg.Rate
			}
			due = due.Add(time.Duration(gap * float64(time.Second)))
		}
	}
	wg.Wait()
	p.end = time.Now()
	p.lcs = pool[:min(int(next.Load()), len(pool))]
	p.stopped = p.end
	if !stopAt.IsZero() && stopAt.Before(p.stopped) {
		p.stopped = stopAt
	}
	if exhausted.Load() {
		if at := p.start.Add(time.Duration(ranOut.Load())); at.Before(p.stopped) {
			p.stopped = at
			// Running out only matters when it happens before the time is up.
			p.exhausted = d > 0
		}
	}
	return p
}

// settleLimit bounds the wait for the server to run the work that fell
// due when the clock moved.
const settleLimit = 20 * time.Minute

// usersFor sizes a pool for d of load at rate lifecycles per second.
func usersFor(rate float64, d time.Duration, margin float64, concurrency int) int {
	n := rate * d.Seconds()
	return int(math.Ceil(n*margin+5*math.Sqrt(n))) + 2*concurrency + 8
}

// guessedRate sizes the warm-up's users in a closed loop, before any rate is known.
const guessedRate = 2000

// runLoad is the run of the load scenarios: a warm-up, then
// lifecycles for --duration, each on a user of its own.
func runLoad(ctx context.Context, b *runner) (*result, error) {
	open := b.cfg.Rate > 0
	rate := b.cfg.Rate
	if b.cfg.Warmup > 0 {
		n := usersFor(guessedRate, b.cfg.Warmup, 1, b.cfg.Concurrency)
		if open {
			n = usersFor(rate, b.cfg.Warmup, 1, 0)
		}
		b.logf("warm-up: creating %d users", n)
		pool, err := b.newUsers(ctx, n)
		if err != nil {
			return nil, err
		}
		b.logf("warm-up: %s", b.cfg.Warmup)
		warm := b.runPhase(ctx, pool, b.cfg.Warmup)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !open {
			rate = float64(warm.completed()) / warm.window().Seconds()
		}
		if errs, n := b.errs.snapshot(); n > 0 {
			b.note("warm-up errors (not counted): %v", errs)
		}
		b.errs.reset()
	} else if !open {
		rate = guessedRate
	}
	users := b.cfg.Users
	if users == 0 {
		if open {
			users = usersFor(rate, b.cfg.Duration, 1, 0)
		} else {
			users = usersFor(rate, b.cfg.Duration, 1.5, b.cfg.Concurrency)
		}
	}
	b.logf("creating %d users for the measured run", users)
	pool, err := b.newUsers(ctx, users)
	if err != nil {
		return nil, err
	}
	b.logf("measuring: %s", b.cfg.Duration)
	cpu0 := b.cpuSnapshot()
	measured := b.runPhase(ctx, pool, b.cfg.Duration)
	cpu1 := b.cpuSnapshot()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if measured.exhausted {
		b.note("ran out of users after %.2f s of %s: the numbers cover that time; pass --users to create more", measured.window().Seconds(), b.cfg.Duration)
	}
	return b.resultOf(measured, cpu0, cpu1, len(pool), true), nil
}

// runWaiting is the run of the waiting scenario: --requests requests
// are created and left waiting for their callbacks; the server's memory is
// read; then the virtual clock moves past their deadline and the bench
// times how long the server takes to time every one of them out.
func runWaiting(ctx context.Context, b *runner) (*result, error) {
	n := b.cfg.Requests
	b.logf("creating %d users", n)
	pool, err := b.newUsers(ctx, n)
	if err != nil {
		return nil, err
	}
	b.logf("creating %d requests that wait for their callbacks", n)
	cpu0 := b.cpuSnapshot()
	created := b.runPhase(ctx, pool, 0)
	cpu1 := b.cpuSnapshot()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := b.resultOf(created, cpu0, cpu1, len(pool), false)
	w := &waitingReport{Requests: n, Waiting: created.completed(), CreateSeconds: round3(created.wall().Seconds())}
	w.CreatedPerSecond = round3(float64(w.Waiting) / created.wall().Seconds())
	res.Waiting = w
	if limit := b.cfg.CallbackTimeout; created.wall() > limit-30*time.Second {
		b.note("creating the requests took %.0f s, close to or past the %s callback timeout: some may have timed out before the clock moved", created.wall().Seconds(), limit)
	}

	// Every callout has arrived; the clock's answer says when the server
	// has also recorded every answer to them.
	b.logf("%d requests wait; letting the server settle", w.Waiting)
	if _, err := b.settleClock(ctx, access.Duration{}); err != nil {
		return nil, err
	}
	if mem, ok := b.serverMemory(); ok {
		w.ServerRSSMBWaiting, w.ServerPeakRSSMB = ptrFloat(mem.rssMB), ptrFloat(mem.hwmMB)
	}

	advance := b.cfg.CallbackTimeout + time.Minute
	w.ClockAdvance = isoMinutes(advance)
	b.logf("moving the clock %s, past every deadline", w.ClockAdvance)
	cpu2 := b.cpuSnapshot()
	start := time.Now()
	posts, err := b.settleClock(ctx, access.Duration{Clock: advance})
	if err != nil {
		return nil, err
	}
	wall := time.Since(start)
	cpu3 := b.cpuSnapshot()
	w.ClockPosts = posts
	w.TimeoutWallS = round3(wall.Seconds())
	w.TimeoutsPerS = round3(float64(w.Waiting) / wall.Seconds())
	if cpu, ok := cpu3.server.sub(cpu2.server); ok {
		w.ServerCPUSecondsTimeouts = ptrFloat(round3(cpu))
	}
	w.OtherCoresTimeouts = machine(cpu2, cpu3).OtherCores
	if mem, ok := b.serverMemory(); ok {
		res.Server.PeakRSSMB = ptrFloat(mem.hwmMB)
		w.ServerPeakRSSMB = ptrFloat(mem.hwmMB)
	}

	// A sample of the requests must now have failed with a timed-out callback.
	var done []*lifecycle
	for _, lc := range created.lcs {
		lc.mu.Lock()
		if lc.finished && lc.err == "" && lc.requestID != "" {
			done = append(done, lc)
		}
		lc.mu.Unlock()
	}
	const sample = 20
	for i := 0; i < len(done) && w.Verified < sample; i += max(1, len(done)/sample) {
		w.Verified++
		var r struct{ State, Status string }
		err := b.api.Do(ctx, http.MethodGet, requestsPath+"/"+done[i].requestID, nil, &r)
		switch {
		case err != nil:
			b.errs.add(errorKind("reading a request after the clock moved", err))
		case r.State != "deliveryFailed" || r.Status != "CallbackTimedOut":
			b.errs.add(fmt.Sprintf("after the clock moved a request is %s/%s, not deliveryFailed/CallbackTimedOut", r.State, r.Status))
		default:
			w.VerifiedTimedOut++
		}
	}
	res.Errors, res.ErrorCount = b.errs.snapshot()
	res.Notes = append([]string{}, b.notes...)
	return res, nil
}

// settleClock moves the virtual clock by advance, then by nothing while
// the server says work is still pending after its 30 s wait (202), until
// every piece of work that fell due has run (200). It gives up after
// settleLimit.
func (b *runner) settleClock(ctx context.Context, advance access.Duration) (posts int, err error) {
	start := time.Now()
	for {
		if time.Since(start) > settleLimit {
			return posts, fmt.Errorf("POST /_accessd/clock: work still pending after %s", settleLimit)
		}
		posts++
		clock, err := b.api.AdvanceClock(ctx, advance)
		var refused *client.Error
		switch {
		case errors.As(err, &refused) && refused.Status == http.StatusNotFound:
			return posts, fmt.Errorf("POST /_accessd/clock: 404: the %s scenario needs a server in --dev mode", b.sc.name)
		case err != nil:
			return posts, err
		case clock.Pending == 0:
			return posts, nil
		}
		b.logf("clock: still pending: %d pieces of work", clock.Pending)
		advance = access.Duration{}
	}
}
