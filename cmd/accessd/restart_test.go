package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The restart tests stop accessd while callouts are in flight and timers are
// pending, start it again on the same database, and check that nothing was
// lost and nothing happened twice.

// slowExtension answers callouts after a delay, so that a process can be
// stopped while it holds leased work, and counts callouts per instance.
type slowExtension struct {
	mu    sync.Mutex
	delay time.Duration
	seen  map[string]int // CustomExtensionStageInstanceId → callouts received
	order []string
}

func (x *slowExtension) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		CustomExtensionStageInstanceID string `json:"CustomExtensionStageInstanceId"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	x.mu.Lock()
	x.seen[body.CustomExtensionStageInstanceID]++
	x.order = append(x.order, body.CustomExtensionStageInstanceID)
	delay := x.delay
	x.mu.Unlock()
	time.Sleep(delay)
	w.WriteHeader(http.StatusAccepted)
}

func (x *slowExtension) received() map[string]int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := map[string]int{}
	for k, v := range x.seen {
		out[k] = v
	}
	return out
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// kill stops the process with SIGKILL, as a crash would.
func (s *server) kill(t *testing.T) {
	t.Helper()
	s.cmd.Process.Kill()
	<-s.done
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restartWorld is the objects every restart test uses.
type restartWorld struct {
	api                  *client.Client
	continuePolicy       string // launch-and-continue extension at created; expires after P1D
	waitPolicy           string // launch-and-wait extension at created (PT5M)
	continuePkg, waitPkg string
	users                []string
}

func buildRestartWorld(t *testing.T, api *client.Client, slowURL, waitURL string, users int) restartWorld {
	t.Helper()
	ctx := t.Context()
	w := restartWorld{api: api}
	for i := range users {
		w.users = append(w.users, createUser(t, api, fmt.Sprintf("User %d", i), fmt.Sprintf("user%d@contoso.test", i)))
	}
	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Restart"})
	must(t, err, "create catalog")
	timeoutMillis, noRetries := 2000, 0
	ext := func(name, target, callbackTimeout string) string {
		x := requestExtension(name, target, callbackTimeout)
		x.Client = &access.ClientConfiguration{TimeoutInMilliseconds: &timeoutMillis, MaximumRetries: &noRetries}
		created, err := api.CreateCustomExtension(ctx, catalog.ID, x)
		must(t, err, "create extension "+name)
		return created.ID
	}
	slow, waiting := ext("slow", slowURL, ""), ext("wait", waitURL, "PT5M")
	pkg := func(name string) string {
		p, err := api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: name, CatalogID: catalog.ID})
		must(t, err, "create package "+name)
		return p.ID
	}
	w.continuePkg, w.waitPkg = pkg("Continue"), pkg("Wait")
	policy := func(pkg, extID string, expiry map[string]any) string {
		p, err := api.CreateAssignmentPolicy(ctx, map[string]any{
			"displayName": "P", "accessPackage": map[string]any{"id": pkg}, "allowedTargetScope": "allMemberUsers",
			"expiration":                   expiry,
			"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": extID}}},
		})
		must(t, err, "create policy")
		return p.ID
	}
	w.continuePolicy = policy(w.continuePkg, slow, map[string]any{"type": "afterDuration", "duration": "P1D"})
	w.waitPolicy = policy(w.waitPkg, waiting, map[string]any{"type": "noExpiration"})
	return w
}

func (w restartWorld) request(t *testing.T, id string) access.Request {
	t.Helper()
	r, err := w.api.GetRequest(t.Context(), id)
	must(t, err, "get request "+id)
	return r
}

// assignmentsOf lists a user's assignments.
func assignmentsOf(t *testing.T, api *client.Client, userID string) []access.Assignment {
	t.Helper()
	as, err := api.ListAssignments(t.Context(), "target/objectId eq '"+userID+"'")
	must(t, err, "list the assignments of "+userID)
	return as
}

// history lists a request's history.
func history(t *testing.T, api *client.Client, requestID string) []access.HistoryEntry {
	t.Helper()
	h, err := api.RequestHistory(t.Context(), requestID)
	must(t, err, "get the history of "+requestID)
	return h
}

func TestRestartLosesNothingAndRepeatsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	bin := buildBinary(t)
	for _, stop := range []string{"SIGTERM", "SIGKILL"} {
		t.Run(stop, func(t *testing.T) {
			testRestart(t, bin, stop)
		})
	}
}

func testRestart(t *testing.T, bin, stop string) {
	slow := &slowExtension{delay: 1500 * time.Millisecond, seen: map[string]int{}}
	slowSrv := httptest.NewServer(slow)
	defer slowSrv.Close()
	waiter := &slowExtension{seen: map[string]int{}}
	waitSrv := httptest.NewServer(waiter)
	defer waitSrv.Close()

	db := storetest.DSN(t, storetest.Backend())
	addr := freeAddr(t)
	args := []string{"--database", db, "--dev", "--work-lease", "2s"}
	srv := startServerAt(t, bin, addr, args...)
	token := mintToken(t, bin, db, "--app", "restart", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	const continuing, waiting = 6, 4
	// Every server of this test listens on addr, so one client serves them all.
	w := buildRestartWorld(t, apiClient(t, srv.url, token), slowSrv.URL, waitSrv.URL, continuing+waiting)

	var continued, waits []string
	for i := range continuing {
		continued = append(continued, submit(t, w.api, w.users[i], w.continuePkg, w.continuePolicy))
	}
	for i := range waiting {
		waits = append(waits, submit(t, w.api, w.users[continuing+i], w.waitPkg, w.waitPolicy))
	}
	// Stop while the slow extension holds callouts (their work is leased) and
	// the expiry and callback-deadline timers are pending.
	waitFor(t, "the first callouts to arrive", func() bool { return len(slow.received()) > 0 })
	if stop == "SIGKILL" {
		srv.kill(t)
	} else {
		srv.stop(t)
	}
	srv = startServerAt(t, bin, addr, args...)

	// Every continue request is delivered with one assignment, and every
	// callout instance reached the extension (at least once).
	for _, id := range continued {
		waitFor(t, "request "+id+" delivered with its callout recorded", func() bool {
			r := w.request(t, id)
			return r.State == "delivered" && len(r.Callouts) == 1
		})
	}
	waitFor(t, "every callout instance sent", func() bool { return len(slow.received()) == continuing })
	for inst, n := range slow.received() {
		if stop == "SIGTERM" && n != 1 {
			t.Errorf("instance %s was sent %d times; a graceful stop finishes work in flight, so once", inst, n)
		}
	}
	for _, u := range w.users[:continuing] {
		if as := assignmentsOf(t, w.api, u); len(as) != 1 {
			t.Errorf("user %s has %d assignments, want 1", u, len(as))
		}
	}

	// Waiting requests survived: two are resumed now, two time out once.
	waitFor(t, "every waiting callout sent", func() bool { return len(waiter.received()) == waiting })
	for _, id := range waits[:2] {
		if resp := raw(t, w.api, "POST", emPath+"/assignmentRequests/"+id+"/resume", map[string]any{}); resp.Status != 204 {
			t.Fatalf("resume %s after restart: %d %s", id, resp.Status, resp.Body)
		}
		if r := w.request(t, id); r.State != "delivered" {
			t.Errorf("resumed request %s is %v, want delivered", id, r.State)
		}
	}
	advanceClock(t, w.api, "PT6M")
	for _, id := range waits[2:] {
		r := w.request(t, id)
		if r.State != "deliveryFailed" || r.Status != "CallbackTimedOut" {
			t.Errorf("request %s after its deadline: %v/%v, want deliveryFailed/CallbackTimedOut", id, r.State, r.Status)
		}
	}

	// One more restart with the expiry timers pending, then the clock passes
	// the end of the continue assignments: one systemRemove each.
	srv.kill(t)
	srv = startServerAt(t, bin, addr, args...)
	advanceClock(t, w.api, "P1D")
	requests, err := w.api.ListRequests(t.Context(), "")
	must(t, err, "list requests")
	removals := map[string]int{}
	for _, r := range requests {
		if r.Type == access.RequestSystemRemove {
			if r.State != "delivered" {
				t.Errorf("systemRemove %v is %v, want delivered", r.ID, r.State)
			}
			removals[r.ID]++
		}
	}
	if len(removals) != continuing {
		t.Errorf("%d systemRemove requests, want one per expiring assignment (%d)", len(removals), continuing)
	}
	for _, u := range w.users[:continuing] {
		if as := assignmentsOf(t, w.api, u); len(as) != 1 || as[0].State != "expired" {
			t.Errorf("user %s assignments after expiry: %+v", u, as)
		}
	}

	// No transition happened twice: every history has each state once.
	for _, id := range append(continued, waits...) {
		seen := map[string]int{}
		for _, h := range history(t, w.api, id) {
			if h.Action == "transition" {
				key := fmt.Sprint(h.State, "/", h.Status)
				seen[key]++
				if seen[key] > 1 {
					t.Errorf("request %s went to %s twice", id, key)
				}
			}
		}
	}
	srv.stop(t)
}

// advanceClock moves the virtual clock and checks that accessd ran all the
// work that fell due before answering: Pending is above 0 exactly when it
// answers 202 rather than 200.
func advanceClock(t *testing.T, api *client.Client, by string) {
	t.Helper()
	clock, err := api.AdvanceClock(t.Context(), access.MustDuration(by))
	if err != nil || clock.Pending != 0 {
		t.Fatalf("advance the clock by %s: %v, %d pieces of work still pending", by, err, clock.Pending)
	}
}

// startServerAt starts accessd on a fixed address, so that its public URL
// (the token issuer) stays the same across restarts.
func startServerAt(t *testing.T, bin, addr string, args ...string) *server {
	t.Helper()
	s := startServer(t, bin, append([]string{"--addr", addr}, args...)...)
	if !strings.HasSuffix(s.url, addr) {
		t.Fatalf("server listens on %s, want %s", s.url, addr)
	}
	return s
}
