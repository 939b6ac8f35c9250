package engine

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// These tests run the engine against a real SQLite store, the real access
// service and the real token issuer, with an httptest server standing in for
// the extensions. Time is a virtual clock the tests move with MoveClock; the
// lease is short (2 s) and the poll fast (50 ms) so rescues happen quickly.
// Tests wait for outcomes by polling with a deadline; they never assert that
// something happened within some time.

const (
	testIssuerURL = "http://accessd.test"
	testLease     = 2 * time.Second
	testPoll      = 50 * time.Millisecond
	// waitLimit bounds every wait for an outcome. It is generous: reaching it
	// means the outcome never came, not that it came slowly.
	waitLimit = 20 * time.Second
	// settle is how long a test lets the engine run (many polls) before it
	// checks that something did NOT happen.
	settle = 400 * time.Millisecond
)

// admin is the application that submits requests.
var admin = access.Caller{ObjectID: "5a1e0c55-0000-4000-8000-00000000ad01", IsApp: true, DisplayName: "Admin app",
	Roles: []string{"EntitlementManagement.ReadWrite.All"}}

// ---- a precondition: the store keeps leases ----

var leaseProbe struct {
	once   sync.Once
	broken string // what is wrong, "" when leases work
	err    error  // the probe itself could not run
}

// storeLeaseBug checks once, on a store of its own, that a claimed work item
// cannot be claimed again while its lease lasts. Every engine test depends
// on it: without leases the engine claims its own work in flight again and
// sends callouts several times.
func storeLeaseBug() (string, error) {
	leaseProbe.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "accessd-lease-probe")
		if err != nil {
			leaseProbe.err = err
			return
		}
		defer os.RemoveAll(dir)
		st, err := sqlstore.Open(ctx, filepath.Join(dir, "probe.db"), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			leaseProbe.err = err
			return
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			leaseProbe.err = err
			return
		}
		now := time.Now().UTC()
		var first, second []access.Work
		var next time.Time
		leaseProbe.err = st.Update(ctx, func(tx access.Tx) error {
			if err := tx.AddWork(access.Work{ID: "probe", Kind: access.WorkCallout, DueAt: now}); err != nil {
				return err
			}
			var err error
			if first, err = tx.ClaimWork(now, "a", now.Add(time.Minute), 10); err != nil {
				return err
			}
			if second, err = tx.ClaimWork(now.Add(time.Second), "b", now.Add(time.Minute), 10); err != nil {
				return err
			}
			next, _, err = tx.NextWorkAt()
			return err
		})
		if leaseProbe.err == nil && (len(first) != 1 || len(second) != 0) {
			leaseProbe.broken = "sqlstore/work.go (*tx).ClaimWork does not keep the lease it grants: work claimed by " +
				"owner a with a 1-minute lease was claimed again 1 s later by owner b (and NextWorkAt is " +
				next.Sub(now).String() + " after the claim, want 1m0s); the engine then re-claims its own work in " +
				"flight and sends callouts several times"
		}
	})
	return leaseProbe.broken, leaseProbe.err
}

// requireLeases checks once that the store keeps leases,
// and fails the test: the engine tests mean nothing without them.
func requireLeases(t testing.TB) {
	t.Helper()
	msg, err := storeLeaseBug()
	if err != nil {
		t.Fatalf("lease probe: %v", err)
	}
	if msg != "" {
		t.Fatal("the store does not keep leases: " + msg)
	}
}

func TestStoreKeepsClaimLease(t *testing.T) {
	msg, err := storeLeaseBug()
	if err != nil {
		t.Fatalf("lease probe: %v", err)
	}
	if msg != "" {
		t.Fatal(msg)
	}
}

// ---- the extension server ----

// extCall is one HTTP request the extension server received.
type extCall struct {
	N       int       // 1-based, over all calls to the server
	At      time.Time // the virtual clock when it arrived
	Real    time.Time // the machine's clock when it arrived
	Method  string
	Path    string
	Header  http.Header
	Body    []byte
	Payload map[string]any // Body decoded, nil when it is not a JSON object
}

// extReply is how the server answers one call.
type extReply struct {
	Status     int // 0 means 202
	Delay      time.Duration
	RetryAfter string
	RunID      string // sent as x-ms-workflow-run-id
	Location   string
	Body       string        // the answer's body
	Gate       chan struct{} // when set, answer only once it is closed
	Before     func(c extCall)
}

// extServer records every call and answers as its script says.
type extServer struct {
	*httptest.Server
	t     testing.TB
	clock access.Clock

	mu      sync.Mutex
	calls   []extCall
	perPath map[string]int
	scripts map[string]func(n int, c extCall) extReply // by path; n counts calls to that path
}

func newExtServer(t testing.TB, clock access.Clock) *extServer {
	s := &extServer{t: t, clock: clock, perPath: map[string]int{}, scripts: map[string]func(int, extCall) extReply{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *extServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := extCall{At: s.clock.Now(), Real: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	var p map[string]any
	if json.Unmarshal(body, &p) == nil {
		c.Payload = p
	}
	s.mu.Lock()
	c.N = len(s.calls) + 1
	s.calls = append(s.calls, c)
	s.perPath[c.Path]++
	n := s.perPath[c.Path]
	script := s.scripts[c.Path]
	s.mu.Unlock()

	reply := extReply{RunID: "run-" + c.Path + "-" + itoa(n)}
	if script != nil {
		reply = script(n, c)
	}
	if reply.Before != nil {
		reply.Before(c)
	}
	if reply.Gate != nil {
		select {
		case <-reply.Gate:
		case <-r.Context().Done():
			return
		}
	}
	if reply.Delay > 0 {
		select {
		case <-time.After(reply.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.RunID != "" {
		w.Header().Set("x-ms-workflow-run-id", reply.RunID)
	}
	if reply.Location != "" {
		w.Header().Set("Location", reply.Location)
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusAccepted
	}
	w.WriteHeader(status)
	io.WriteString(w, reply.Body)
}

// script sets how calls to path are answered.
func (s *extServer) script(path string, fn func(n int, c extCall) extReply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripts[path] = fn
}

// callsTo lists the calls to path so far, in order.
func (s *extServer) callsTo(path string) []extCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []extCall
	for _, c := range s.calls {
		if c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

// ---- a store that watches the work queue and can fail on purpose ----

type retryCall struct {
	ID      string
	DueAt   time.Time
	Attempt int
}

// spyStore is the real store; it records what happens to work and fails
// chosen writes, standing in for accessd's own failures (a busy database, a
// crash between sending a callout and recording it).
type spyStore struct {
	access.Store

	mu        sync.Mutex
	kinds     map[string]access.WorkKind
	works     map[string]access.Work
	claims    map[string]int
	deleted   map[string]bool
	retries   []retryCall
	claimErrs int // ClaimWork calls refused so far

	failDeletes map[access.WorkKind]int // DeleteWork of work of that kind to refuse
	failRetries map[access.WorkKind]int // RetryWork of work of that kind to refuse
	failClaims  bool                    // refuse every ClaimWork
}

var errInjected = errors.New("injected failure")

func newSpyStore(s access.Store) *spyStore {
	return &spyStore{Store: s, kinds: map[string]access.WorkKind{}, works: map[string]access.Work{}, claims: map[string]int{},
		deleted: map[string]bool{}, failDeletes: map[access.WorkKind]int{}, failRetries: map[access.WorkKind]int{}}
}

func (s *spyStore) Update(ctx context.Context, fn func(access.Tx) error) error {
	var committed []func()
	err := s.Store.Update(ctx, func(tx access.Tx) error {
		committed = committed[:0] // a retried fn starts again
		return fn(&spyTx{Tx: tx, s: s, onCommit: &committed})
	})
	if err == nil {
		s.mu.Lock()
		for _, f := range committed {
			f()
		}
		s.mu.Unlock()
	}
	return err
}

type spyTx struct {
	access.Tx
	s        *spyStore
	onCommit *[]func()
}

func (t *spyTx) AddWork(ws ...access.Work) error {
	if err := t.Tx.AddWork(ws...); err != nil {
		return err
	}
	*t.onCommit = append(*t.onCommit, func() {
		for _, w := range ws {
			t.s.kinds[w.ID], t.s.works[w.ID] = w.Kind, w
			if w.LeaseOwner != "" { // queued leased: claimed at once (claim at enqueue)
				t.s.claims[w.ID]++
			}
		}
	})
	return nil
}

func (t *spyTx) ClaimWork(now time.Time, owner string, leaseUntil time.Time, limit int) ([]access.Work, error) {
	t.s.mu.Lock()
	refuse := t.s.failClaims
	if refuse {
		t.s.claimErrs++
	}
	t.s.mu.Unlock()
	if refuse {
		return nil, errInjected
	}
	ws, err := t.Tx.ClaimWork(now, owner, leaseUntil, limit)
	if err == nil {
		*t.onCommit = append(*t.onCommit, func() {
			for _, w := range ws {
				t.s.claims[w.ID]++
			}
		})
	}
	return ws, err
}

func (t *spyTx) DeleteWork(ids ...string) error {
	for _, id := range ids {
		t.s.mu.Lock()
		kind := t.s.kinds[id]
		refuse := t.s.failDeletes[kind] > 0
		if refuse {
			t.s.failDeletes[kind]--
		}
		t.s.mu.Unlock()
		if refuse {
			return errInjected
		}
	}
	if err := t.Tx.DeleteWork(ids...); err != nil {
		return err
	}
	*t.onCommit = append(*t.onCommit, func() {
		for _, id := range ids {
			t.s.deleted[id] = true
		}
	})
	return nil
}

func (t *spyTx) RetryWork(id string, dueAt time.Time, attempt int) error {
	t.s.mu.Lock()
	kind := t.s.kinds[id]
	refuse := t.s.failRetries[kind] > 0
	if refuse {
		t.s.failRetries[kind]--
	}
	t.s.mu.Unlock()
	if refuse {
		return errInjected
	}
	if err := t.Tx.RetryWork(id, dueAt, attempt); err != nil {
		return err
	}
	*t.onCommit = append(*t.onCommit, func() { t.s.retries = append(t.s.retries, retryCall{ID: id, DueAt: dueAt, Attempt: attempt}) })
	return nil
}

// workOf finds the queued work of a kind that belongs to a request or an assignment.
func (s *spyStore) workOf(requestID, assignmentID string, kind access.WorkKind) (access.Work, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.works {
		if w.Kind == kind && (requestID == "" || w.RequestID == requestID) && (assignmentID == "" || w.AssignmentID == assignmentID) {
			return w, true
		}
	}
	return access.Work{}, false
}

// worksOf lists the queued work of a kind that belongs to a request.
func (s *spyStore) worksOf(requestID string, kind access.WorkKind) []access.Work {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []access.Work
	for _, w := range s.works {
		if w.Kind == kind && w.RequestID == requestID {
			out = append(out, w)
		}
	}
	return out
}

func (s *spyStore) claimCount(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.claims[id]
}

func (s *spyStore) isDeleted(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted[id]
}

func (s *spyStore) retriesOf(id string) []retryCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []retryCall
	for _, r := range s.retries {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (s *spyStore) set(fn func(s *spyStore)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s)
}

// ---- the harness ----

// issuerSigner makes the identity issuer an engine.Signer.
type issuerSigner struct{ issuer *identity.Issuer }

func (s issuerSigner) Sign(claims map[string]any) (string, error) {
	return s.issuer.Sign(jwt.MapClaims(claims))
}

// syncBuffer collects the engine's log; it is printed when a test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type harness struct {
	t      testing.TB
	ctx    context.Context
	store  *spyStore
	svc    *access.Service
	clock  *access.VirtualClock
	ids    *access.TimeOrderedIDs
	issuer *identity.Issuer
	ext    *extServer
	eng    *Engine
	logs   *syncBuffer

	catalog access.Catalog
	users   int

	runMu   sync.Mutex
	stopRun func()
}

type harnessOption func(*Config)

// newHarness builds everything but does not start the engine; call run.
func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	requireLeases(t)
	ctx := context.Background()
	h := &harness{t: t, ctx: ctx, logs: &syncBuffer{}}
	h.clock = &access.VirtualClock{Base: access.SystemClock{}}
	h.ids = &access.TimeOrderedIDs{Clock: h.clock}

	st := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{}) // ACCESSD_TEST_STORE picks the engine
	h.store = newSpyStore(st)
	h.svc = access.NewService(h.store, h.clock, h.ids)
	h.svc.RecordCallouts(true)

	keys, err := identity.LoadKeys(ctx, h.store, h.clock)
	if err != nil {
		t.Fatalf("load keys: %v", err)
	}
	h.issuer = identity.NewIssuer(identity.IssuerConfig{URL: testIssuerURL, TenantID: "t", Keys: keys, Clock: h.clock})

	h.ext = newExtServer(t, h.clock)
	t.Cleanup(h.ext.Close)

	cfg := Config{
		Service: h.svc, Signer: issuerSigner{h.issuer}, Issuer: testIssuerURL, Clock: h.clock, IDs: h.ids,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Owner:  "engine-1", Lease: testLease, Poll: testPoll,
		AllowPrivate: true, // the extension server listens on loopback
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.eng = New(cfg)
	h.svc.OnWork(h.eng.Wake)
	h.svc.SetLocalEngine(h.eng)
	t.Cleanup(h.stop) // runs before the server and the store close
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("engine log:\n%s", h.logs.String())
		}
	})

	h.catalog, err = h.svc.CreateCatalog(ctx, admin, access.Catalog{DisplayName: "Sales", Description: "Sales catalog"})
	if err != nil {
		t.Fatalf("create catalog: %v", err)
	}
	return h
}

// run starts the engine; it stops when the test ends.
func (h *harness) run() {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() { h.eng.Run(ctx); close(done) }()
	h.stopRun = func() { cancel(); <-done }
}

func (h *harness) stop() {
	h.runMu.Lock()
	defer h.runMu.Unlock()
	if h.stopRun != nil {
		h.stopRun()
		h.stopRun = nil
	}
}

// user creates a new user to be a target.
func (h *harness) user() access.User {
	h.t.Helper()
	h.users++
	n := itoa(h.users)
	u, err := h.svc.CreateUser(h.ctx, access.User{DisplayName: "User " + n, UserPrincipalName: "user" + n + "@contoso.test",
		Mail: "user" + n + "@contoso.test", AccountEnabled: true})
	if err != nil {
		h.t.Fatalf("create user: %v", err)
	}
	return u
}

func intp(n int) *int { return &n }

// extension creates an extension in the catalog that calls path on the
// extension server: a request-workflow extension with PoP authentication
// unless mod changes it.
func (h *harness) extension(path string, mod func(x *access.CustomExtension)) access.CustomExtension {
	h.t.Helper()
	x := access.CustomExtension{
		Type:           access.RequestWorkflowExtension,
		DisplayName:    "Extension " + path,
		Description:    "calls " + path,
		Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: h.ext.URL + path},
		Authentication: access.Authentication{Type: access.PopTokenAuthentication},
	}
	if mod != nil {
		mod(&x)
	}
	x, err := h.svc.CreateCustomExtension(h.ctx, admin, h.catalog.ID, x)
	if err != nil {
		h.t.Fatalf("create extension: %v", err)
	}
	return x
}

// waiting makes an extension launch-and-wait with the given timeout.
func waiting(timeout string) func(x *access.CustomExtension) {
	return func(x *access.CustomExtension) {
		x.Callback = &access.CallbackConfiguration{Type: access.CallbackConfigurationType, TimeoutDuration: access.MustDuration(timeout)}
	}
}

// retries sets clientConfiguration.maximumRetries (nil: absent) and the timeout in ms (0: absent).
func client(maximumRetries *int, timeoutMillis int) func(x *access.CustomExtension) {
	return func(x *access.CustomExtension) {
		x.Client = &access.ClientConfiguration{MaximumRetries: maximumRetries}
		if timeoutMillis > 0 {
			x.Client.TimeoutInMilliseconds = intp(timeoutMillis)
		}
	}
}

// policy creates an access package with one policy binding the given
// extensions at the given stages.
func (h *harness) policy(bindings map[access.Stage]string, mod func(p *access.AssignmentPolicy)) access.AssignmentPolicy {
	h.t.Helper()
	pkg, err := h.svc.CreateAccessPackage(h.ctx, admin, access.AccessPackage{CatalogID: h.catalog.ID,
		DisplayName: "Sales tools", Description: "CRM and reporting"})
	if err != nil {
		h.t.Fatalf("create access package: %v", err)
	}
	p := access.AssignmentPolicy{AccessPackageID: pkg.ID, DisplayName: "Employees", Description: "for employees",
		AllowedTargetScope: access.ScopeAllMemberUsers}
	for stage, id := range bindings {
		p.ExtensionBindings = append(p.ExtensionBindings, access.ExtensionBinding{Stage: stage, CustomExtensionID: id})
	}
	if mod != nil {
		mod(&p)
	}
	p, err = h.svc.CreateAssignmentPolicy(h.ctx, admin, p)
	if err != nil {
		h.t.Fatalf("create policy: %v", err)
	}
	return p
}

// submit sends an adminAdd request for a new user under the policy and
// returns it as read right after: SubmitRequest answers with the request as
// accepted, and its first transaction has run it on since.
func (h *harness) submit(p access.AssignmentPolicy, mod func(in *access.RequestInput)) access.Request {
	h.t.Helper()
	u := h.user()
	in := access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: p.AccessPackageID, PolicyID: p.ID, TargetID: u.ID}
	if mod != nil {
		mod(&in)
	}
	r, err := h.svc.SubmitRequest(h.ctx, admin, in)
	if err != nil {
		h.t.Fatalf("submit request: %v", err)
	}
	if r, err = h.svc.Request(h.ctx, admin, r.ID); err != nil {
		h.t.Fatalf("read the request submitted: %v", err)
	}
	return r
}

// advance moves the virtual clock forward by an ISO 8601 duration.
func (h *harness) advance(d string) {
	h.t.Helper()
	dur := access.MustDuration(d)
	if _, err := h.svc.MoveClock(h.ctx, &dur, nil); err != nil {
		h.t.Fatalf("move clock by %s: %v", d, err)
	}
}

// eventually polls cond until it holds; at waitLimit the test fails with
// what cond last said.
func (h *harness) eventually(what string, cond func() (bool, string)) {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("gave up waiting for %s; last seen: %s", what, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRequest waits until the request satisfies ok and returns it.
func (h *harness) waitRequest(id, what string, ok func(r access.Request) bool) access.Request {
	h.t.Helper()
	var r access.Request
	h.eventually("request "+what, func() (bool, string) {
		var err error
		r, err = h.svc.Request(h.ctx, admin, id)
		if err != nil {
			return false, err.Error()
		}
		return ok(r), describeRequest(r)
	})
	return r
}

// waitAssignment waits until the assignment satisfies ok and returns it.
func (h *harness) waitAssignment(id, what string, ok func(a access.Assignment) bool) access.Assignment {
	h.t.Helper()
	var a access.Assignment
	h.eventually("assignment "+what, func() (bool, string) {
		var err error
		a, err = h.svc.Assignment(h.ctx, admin, id)
		if err != nil {
			return false, err.Error()
		}
		b, _ := json.Marshal(a)
		return ok(a), string(b)
	})
	return a
}

// waitCalls waits until path has received at least n calls and returns them.
func (h *harness) waitCalls(path string, n int) []extCall {
	h.t.Helper()
	var cs []extCall
	h.eventually(itoa(n)+" call(s) to "+path, func() (bool, string) {
		cs = h.ext.callsTo(path)
		return len(cs) >= n, itoa(len(cs)) + " call(s)"
	})
	return cs
}

// waitWorkDone waits until the work is deleted from the queue: finished.
func (h *harness) waitWorkDone(w access.Work) {
	h.t.Helper()
	h.eventually("work "+w.ID+" ("+string(w.Kind)+") to finish", func() (bool, string) {
		return h.store.isDeleted(w.ID), "still queued"
	})
}

// calloutWork finds the callout work of a request at a stage.
func (h *harness) calloutWork(requestID string) access.Work {
	h.t.Helper()
	w, ok := h.store.workOf(requestID, "", access.WorkCallout)
	if !ok {
		h.t.Fatalf("request %s queued no callout", requestID)
	}
	return w
}

func describeRequest(r access.Request) string {
	b, _ := json.Marshal(struct {
		State    access.RequestState
		Status   string
		Step     access.Step
		Callouts []access.CalloutInstance
	}{r.State, r.Status, r.Step, r.Callouts})
	return string(b)
}

// onlyInstance returns the request's one callout instance, failing if it has another count.
func onlyInstance(t *testing.T, r access.Request) access.CalloutInstance {
	t.Helper()
	if len(r.Callouts) != 1 {
		t.Fatalf("request has %d callout instances, want 1: %s", len(r.Callouts), describeRequest(r))
	}
	return r.Callouts[0]
}

func instanceIs(status access.CalloutStatus) func(access.Request) bool {
	return func(r access.Request) bool { return len(r.Callouts) == 1 && r.Callouts[0].Status == status }
}

// attempts lists the callout attempts recorded for an instance, oldest first.
func (h *harness) attempts(instanceID string) []access.CalloutAttempt {
	h.t.Helper()
	all, _, err := h.svc.CalloutAttempts(h.ctx, access.Page{Limit: 500})
	if err != nil {
		h.t.Fatalf("callout attempts: %v", err)
	}
	var out []access.CalloutAttempt
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].InstanceID == instanceID {
			out = append(out, all[i])
		}
	}
	return out
}

// ---- tokens ----

// verifyToken checks a callout token's signature against the issuer's JWKS,
// at the virtual time the call arrived, and returns its claims.
func (h *harness) verifyToken(raw string, at time.Time) jwt.MapClaims {
	h.t.Helper()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(h.issuer.JWKS(), &doc); err != nil || len(doc.Keys) == 0 {
		h.t.Fatalf("JWKS %s: %v", h.issuer.JWKS(), err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		for _, k := range doc.Keys {
			if k.Kid == tok.Header["kid"] {
				n, err1 := base64.RawURLEncoding.DecodeString(k.N)
				e, err2 := base64.RawURLEncoding.DecodeString(k.E)
				if err := errors.Join(err1, err2); err != nil {
					return nil, err
				}
				return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
			}
		}
		return nil, errors.New("no JWKS key has kid " + jsonString(tok.Header["kid"]))
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(func() time.Time { return at }), jwt.WithExpirationRequired(),
		jwt.WithIssuer(testIssuerURL), jwt.WithIssuedAt())
	if err != nil || !tok.Valid {
		h.t.Fatalf("callout token does not verify against the issuer's JWKS: %v", err)
	}
	return claims
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// splitAuth splits an Authorization header into scheme and token.
func splitAuth(t testing.TB, v string) (scheme, token string) {
	t.Helper()
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || token == "" {
		t.Fatalf("Authorization %q is not <scheme> <token>", v)
	}
	return scheme, token
}

func numClaim(t testing.TB, c jwt.MapClaims, name string) int64 {
	t.Helper()
	f, ok := c[name].(float64)
	if !ok {
		t.Fatalf("claim %s = %#v, want a number", name, c[name])
	}
	return int64(f)
}

// ---- engine tests ----

// A claimed callout whose worker died is sent by the engine once the dead
// worker's lease runs out, with the instance id the work was queued with.
func TestLeaseRescueOfClaimedCallout(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/rescue", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	r := h.submit(p, nil)

	// Leases run on the machine's time: moving the virtual clock shifts
	// them along (MoveClock), so this one simply runs out two seconds from now.
	ws, err := h.svc.ClaimWork(h.ctx, "dead-worker", 2*time.Second, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Kind != access.WorkCallout || ws[0].RequestID != r.ID {
		t.Fatalf("dead worker claimed %+v, want the request's one callout", ws)
	}
	h.run()
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/rescue")); n != 0 {
		t.Fatalf("the engine sent %d callout(s) while the dead worker's lease was live", n)
	}

	h.advance("PT2M") // a jump of the clock does not end the lease early ...
	time.Sleep(settle / 4)
	if n := len(h.ext.callsTo("/rescue")); n != 0 {
		t.Fatalf("the engine sent %d callout(s) after a jump of the clock, while the dead worker's lease was live", n)
	}
	calls := h.waitCalls("/rescue", 1) // ... it runs out two seconds after the claim
	h.waitWorkDone(ws[0])
	if got := calls[0].Payload["CustomExtensionStageInstanceId"]; got != ws[0].InstanceID {
		t.Errorf("rescued callout has CustomExtensionStageInstanceId %v, want the queued instance %q", got, ws[0].InstanceID)
	}
	got := h.waitRequest(r.ID, "with its callout recorded", instanceIs(access.CalloutSent))
	if inst := onlyInstance(t, got); inst.ID != ws[0].InstanceID {
		t.Errorf("instance id %q, want %q", inst.ID, ws[0].InstanceID)
	}
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/rescue")); n != 1 {
		t.Errorf("%d calls, want exactly 1", n)
	}
}

// A worker that recorded the callout as sent (BeginCallout) and sent it, but
// died before recording the outcome: the engine sends it again with the same
// instance id and a new client-request-id, and the request keeps one instance.
func TestLeaseRescueAfterBeginCallout(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/begun", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	r := h.submit(p, nil)

	ws, err := h.svc.ClaimWork(h.ctx, "dead-worker", time.Second, 10) // runs out a second from now
	if err != nil || len(ws) != 1 {
		t.Fatalf("claim: %v, %d items", err, len(ws))
	}
	plan, err := h.svc.BeginCallout(h.ctx, ws[0])
	if err != nil || plan.Skip {
		t.Fatalf("BeginCallout: %v (skip %v)", err, plan.Skip)
	}
	// The dead worker's own send.
	req, _ := http.NewRequest(http.MethodPost, h.ext.URL+"/begun", bytes.NewReader(plan.Body))
	req.Header.Set("client-request-id", "dead-worker-request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mid := h.waitRequest(r.ID, "with the instance recorded as sent", instanceIs(access.CalloutSent))

	h.run()
	calls := h.waitCalls("/begun", 2)
	h.waitWorkDone(ws[0])
	if calls[0].Payload["CustomExtensionStageInstanceId"] != calls[1].Payload["CustomExtensionStageInstanceId"] {
		t.Errorf("re-sent callout has instance id %v, the first had %v", calls[1].Payload["CustomExtensionStageInstanceId"],
			calls[0].Payload["CustomExtensionStageInstanceId"])
	}
	if calls[1].Payload["CustomExtensionStageInstanceId"] != ws[0].InstanceID {
		t.Errorf("re-sent instance id %v, want %q", calls[1].Payload["CustomExtensionStageInstanceId"], ws[0].InstanceID)
	}
	if id := calls[1].Header.Get("client-request-id"); id == "" || id == "dead-worker-request" {
		t.Errorf("re-sent client-request-id %q, want a new one", id)
	}
	final := h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
	if inst := onlyInstance(t, final); inst.ID != onlyInstance(t, mid).ID {
		t.Errorf("instance %q replaced by %q", onlyInstance(t, mid).ID, inst.ID)
	}
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/begun")); n != 2 {
		t.Errorf("%d calls, want 2 (the dead worker's and one re-send)", n)
	}
}

// The engine sends a callout but fails to record the outcome (its
// FinishCallout transaction fails): the work is retried with backoff and the
// callout goes out again with the same instance id and a new
// client-request-id, as a fresh set of attempts.
func TestLostFinishIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/lost", client(intp(0), 0))
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	// Two failures: the batch that records finished callouts, then its one-by-one fallback.
	h.store.set(func(s *spyStore) { s.failDeletes[access.WorkCallout] = 2 })
	h.run()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)

	calls := h.waitCalls("/lost", 2)
	h.waitWorkDone(w)
	retries := h.store.retriesOf(w.ID)
	if len(retries) != 1 || retries[0].Attempt != 1 {
		t.Errorf("work retries %+v, want one with attempt 1", retries)
	}
	a, b := calls[0], calls[1]
	if a.Payload["CustomExtensionStageInstanceId"] != w.InstanceID || b.Payload["CustomExtensionStageInstanceId"] != w.InstanceID {
		t.Errorf("instance ids %v and %v, want both %q", a.Payload["CustomExtensionStageInstanceId"], b.Payload["CustomExtensionStageInstanceId"], w.InstanceID)
	}
	if a.Header.Get("client-request-id") == b.Header.Get("client-request-id") {
		t.Errorf("both sends have client-request-id %q; a re-send needs a new one", a.Header.Get("client-request-id"))
	}
	got := h.waitRequest(r.ID, "with one instance", instanceIs(access.CalloutSent))
	onlyInstance(t, got)
	if got.Callouts[0].ExternalCorrelationID != "run-/lost-2" {
		t.Errorf("externalCorrelationId %q, want the second send's run id", got.Callouts[0].ExternalCorrelationID)
	}
	// The re-send is a fresh set of attempts (maximumRetries 0 allows one): its one attempt is number 1.
	if as := h.attempts(w.InstanceID); len(as) != 1 || as[0].Attempt != 1 {
		t.Errorf("recorded attempts %+v, want the re-send's single attempt 1", as)
	}
}

// When both recording the outcome and rescheduling fail, the lease runs out
// and the engine rescues its own work.
func TestLostFinishAndRetryIsRescuedAfterLease(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/lost2", client(intp(0), 0))
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.store.set(func(s *spyStore) {
		s.failDeletes[access.WorkCallout] = 2 // the batch and its one-by-one fallback
		s.failRetries[access.WorkCallout] = 1
	})
	h.run()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)
	h.waitCalls("/lost2", 1)
	h.eventually("the failed reschedule", func() (bool, string) {
		var left int
		h.store.set(func(s *spyStore) { left = s.failRetries[access.WorkCallout] })
		return left == 0, "not yet"
	})
	h.advance("PT5S") // past the 2 s lease
	calls := h.waitCalls("/lost2", 2)
	h.waitWorkDone(w)
	if calls[1].Payload["CustomExtensionStageInstanceId"] != w.InstanceID {
		t.Errorf("rescued send has instance id %v, want %q", calls[1].Payload["CustomExtensionStageInstanceId"], w.InstanceID)
	}
	if calls[0].Header.Get("client-request-id") == calls[1].Header.Get("client-request-id") {
		t.Errorf("rescued send reuses client-request-id %q", calls[0].Header.Get("client-request-id"))
	}
	onlyInstance(t, h.waitRequest(r.ID, "with one instance", instanceIs(access.CalloutSent)))
}

// Work of a kind accessd does not know is accessd's own failure: it is
// retried with a growing backoff and an incremented attempt, never dropped.
func TestUnknownWorkIsRetriedWithBackoff(t *testing.T) {
	h := newHarness(t)
	due := h.svc.Now()
	bogus := access.Work{ID: "bogus-1", Kind: "bogus", DueAt: due}
	if err := h.store.Update(h.ctx, func(tx access.Tx) error { return tx.AddWork(bogus) }); err != nil {
		t.Fatal(err)
	}
	h.run()

	var rs []retryCall
	h.eventually("a first retry", func() (bool, string) { rs = h.store.retriesOf(bogus.ID); return len(rs) >= 1, "none" })
	if rs[0].Attempt != 1 {
		t.Errorf("first retry has attempt %d, want 1", rs[0].Attempt)
	}
	if min := due.Add(access.Backoff(0)); rs[0].DueAt.Before(min) {
		t.Errorf("first retry due %v, want at least %v (due + Backoff(0))", rs[0].DueAt, min)
	}
	h.advance("PT10S") // due again at once
	h.eventually("a second retry", func() (bool, string) { rs = h.store.retriesOf(bogus.ID); return len(rs) >= 2, "one" })
	if rs[1].Attempt != 2 {
		t.Errorf("second retry has attempt %d, want 2", rs[1].Attempt)
	}
	if min := rs[0].DueAt.Add(access.Backoff(1)); rs[1].DueAt.Before(min) {
		t.Errorf("second retry due %v, want at least %v (the previous due + Backoff(1))", rs[1].DueAt, min)
	}
	if h.store.isDeleted(bogus.ID) {
		t.Errorf("unknown work was deleted; it must stay queued")
	}
	h.stop() // so the check below does not race a further retry
	h.advance("PT1H")
	if n, err := h.svc.CountWorkDue(h.ctx); err != nil || n != 1 {
		t.Errorf("CountWorkDue = %d, %v; want the unknown work still queued", n, err)
	}
	if !strings.Contains(h.logs.String(), "bogus") {
		t.Errorf("the failure was not logged; log:\n%s", h.logs.String())
	}
}

// When claiming fails (the database is busy or broken) while work is due,
// the engine must back off instead of retrying in a tight loop.
func TestClaimFailuresBackOff(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/busy", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.submit(p, nil) // work is due now
	h.store.set(func(s *spyStore) { s.failClaims = true })
	h.run()
	time.Sleep(500 * time.Millisecond)
	var n int
	h.store.set(func(s *spyStore) { n = s.claimErrs; s.failClaims = false })
	// With the 50 ms poll, a sane engine claims about 10 times in 500 ms;
	// 100 leaves room for wake-ups and a slow machine only lowers the count.
	if n > 100 {
		t.Errorf("ClaimWork failed %d times in 500 ms: no backoff", n)
	}
	h.waitCalls("/busy", 1) // and it recovers once the database does
}

// Pause waits for work in flight, and no work starts until resume.
func TestPause(t *testing.T) {
	h := newHarness(t)
	gate := make(chan struct{})
	x := h.extension("/pause", client(nil, 2000))
	h.ext.script("/pause", func(n int, c extCall) extReply {
		if n == 1 {
			return extReply{Gate: gate, RunID: "run-1"}
		}
		return extReply{RunID: "run-" + itoa(n)}
	})
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r1 := h.submit(p, nil)
	h.waitCalls("/pause", 1) // in flight, held at the gate

	paused := make(chan func(), 1)
	go func() { paused <- h.eng.Pause() }()
	select {
	case resume := <-paused:
		resume()
		close(gate)
		t.Fatal("Pause returned while a callout was in flight")
	case <-time.After(200 * time.Millisecond):
	}
	close(gate)
	var resume func()
	select {
	case resume = <-paused:
	case <-time.After(waitLimit):
		t.Fatal("Pause did not return after the work in flight finished")
	}
	// The work in flight finished, outcome recorded, before Pause returned.
	got, err := h.svc.Request(h.ctx, admin, r1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if inst := onlyInstance(t, got); inst.ExternalCorrelationID != "run-1" {
		t.Errorf("after Pause returned, the in-flight callout is not recorded: %s", describeRequest(got))
	}

	r2 := h.submit(p, nil)
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/pause")); n != 1 {
		resume()
		t.Fatalf("%d calls while paused, want only the one from before the pause", n)
	}
	resume()
	calls := h.waitCalls("/pause", 2)
	if calls[1].Payload["AccessPackageAssignmentRequestId"] != r2.ID {
		t.Errorf("after resume the engine sent %v, want request %s", calls[1].Payload["AccessPackageAssignmentRequestId"], r2.ID)
	}
}

// Work the engine claims while paused must not be claimed again (and sent
// twice) when the pause outlasts its lease.
func TestPauseLongerThanLeaseSendsOnce(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/longpause", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	resume := h.eng.Pause()
	defer func() {
		if resume != nil {
			resume()
		}
	}()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)
	for i := 1; i <= 2; i++ {
		h.advance("PT3S") // past the lease of any claim made so far
		time.Sleep(settle)
	}
	resume()
	resume = nil
	h.waitCalls("/longpause", 1)
	h.waitWorkDone(w)
	time.Sleep(settle)
	if n, claims := len(h.ext.callsTo("/longpause")), h.store.claimCount(w.ID); n != 1 {
		t.Errorf("callout sent %d times (claimed %d times) for one paused request, want once", n, claims)
	}
}

// A policy with expiration P30D: moving the clock past the end makes one
// systemRemove request that ends delivered and expires the assignment once.
func TestExpiryUnderVirtualClock(t *testing.T) {
	h := newHarness(t)
	p := h.policy(nil, func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D")}
	})
	h.run()
	r := h.submit(p, nil)
	r = h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
	if r.AssignmentID == "" {
		t.Fatal("delivered request has no assignment")
	}
	h.advance("P29D")
	time.Sleep(settle)
	if a, _ := h.svc.Assignment(h.ctx, admin, r.AssignmentID); a.State != access.AssignmentDelivered {
		t.Fatalf("assignment is %s a day before its end, want delivered", a.State)
	}

	h.advance("P1DT1M")
	a := h.waitAssignment(r.AssignmentID, "expired", func(a access.Assignment) bool { return a.State == access.AssignmentExpired })
	if a.Status != access.StatusExpiredNotified || a.ExpiredDateTime == nil {
		t.Errorf("expired assignment has status %q, expiredDateTime %v; want %s", a.Status, a.ExpiredDateTime, access.StatusExpiredNotified)
	}
	removes := func() []access.Request {
		rs, _, err := h.svc.Requests(h.ctx, access.RequestFilter{AssignmentID: r.AssignmentID}, access.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []access.Request
		for _, x := range rs {
			if x.Type == access.RequestSystemRemove {
				out = append(out, x)
			}
		}
		return out
	}
	rm := removes()
	if len(rm) != 1 {
		t.Fatalf("%d systemRemove requests, want 1", len(rm))
	}
	if rm[0].State != access.StateDelivered || rm[0].Status != access.StatusDelivered {
		t.Errorf("systemRemove is %s/%s, want delivered/Delivered", rm[0].State, rm[0].Status)
	}
	h.advance("P2D")
	time.Sleep(settle)
	if n := len(removes()); n != 1 {
		t.Errorf("after waiting longer there are %d systemRemove requests, want still 1", n)
	}
	if n, err := h.svc.CountWorkDue(h.ctx); err != nil || n != 0 {
		t.Errorf("CountWorkDue = %d, %v; want nothing left", n, err)
	}
}

// A request with a start an hour ahead stays scheduled until the clock
// passes the start, then it is delivered.
func TestScheduledStartUnderVirtualClock(t *testing.T) {
	h := newHarness(t)
	p := h.policy(nil, func(p *access.AssignmentPolicy) { p.RequestorSettings.AllowCustomAssignmentSchedule = true })
	h.run()
	start := h.svc.Now().Add(time.Hour)
	r := h.submit(p, func(in *access.RequestInput) { in.Schedule = &access.Schedule{StartDateTime: &start} })
	if r.State != access.StateScheduled || r.Status != access.StatusScheduled {
		t.Fatalf("submitted request is %s/%s, want scheduled/Scheduled", r.State, r.Status)
	}
	time.Sleep(settle)
	h.advance("PT59M")
	time.Sleep(settle)
	if got, _ := h.svc.Request(h.ctx, admin, r.ID); got.State != access.StateScheduled || got.AssignmentID != "" {
		t.Fatalf("a minute before its start the request is %s with assignment %q, want scheduled without one", got.State, got.AssignmentID)
	}
	h.advance("PT2M")
	got := h.waitRequest(r.ID, "delivered", func(r access.Request) bool { return r.State == access.StateDelivered })
	if got.Status != access.StatusDelivered || got.AssignmentID == "" {
		t.Errorf("request %s/%s with assignment %q", got.State, got.Status, got.AssignmentID)
	}
	a, err := h.svc.Assignment(h.ctx, admin, got.AssignmentID)
	if err != nil || a.State != access.AssignmentDelivered {
		t.Errorf("assignment %+v, %v; want delivered", a, err)
	}
}

// A callout in flight longer than a lease (a slow extension here; a
// stalled database under load does the same) keeps its lease: the engine
// renews it, and never starts a second send of work it still holds. It
// used to claim the work again once the lease ran out and send it twice.
func TestCalloutSlowerThanLeaseSendsOnce(t *testing.T) {
	const lease = 600 * time.Millisecond
	h := newHarness(t, func(c *Config) { c.Lease = lease })
	x := h.extension("/slow", client(intp(0), 2000))
	h.ext.script("/slow", func(n int, c extCall) extReply { return extReply{Delay: 3 * lease} })
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)
	h.waitCalls("/slow", 1)
	h.waitWorkDone(w)
	time.Sleep(settle)
	if n, claims := len(h.ext.callsTo("/slow")), h.store.claimCount(w.ID); n != 1 {
		t.Errorf("callout sent %d times (claimed %d times) while it outlasted its lease, want once", n, claims)
	}
}
