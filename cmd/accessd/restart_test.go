package main

import (
	"encoding/json"
	"fmt"
	"github.com/accessd/accessd/sqlstore/storetest"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
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
	api, token           string
	continuePolicy       string // launch-and-continue extension at created; expires after P1D
	waitPolicy           string // launch-and-wait extension at created (PT5M)
	continuePkg, waitPkg string
	users                []string
}

func buildRestartWorld(t *testing.T, url, token, slowURL, waitURL string, users int) restartWorld {
	t.Helper()
	w := restartWorld{api: url + "/v1.0/identityGovernance/entitlementManagement", token: token}
	mustCreate := func(path string, body map[string]any) string {
		t.Helper()
		code, got := call(t, "POST", path, token, body)
		if code != 201 {
			t.Fatalf("POST %s: %d %v", path, code, got)
		}
		return got["id"].(string)
	}
	for i := range users {
		w.users = append(w.users, mustCreate(url+"/v1.0/users", map[string]any{
			"displayName": fmt.Sprintf("User %d", i), "userPrincipalName": fmt.Sprintf("user%d@contoso.test", i)}))
	}
	catalog := mustCreate(w.api+"/catalogs", map[string]any{"displayName": "Restart"})
	ext := func(name, target string, wait bool) string {
		body := map[string]any{
			"@odata.type":                 "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
			"displayName":                 name,
			"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": target},
			"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
			"clientConfiguration":         map[string]any{"timeoutInMilliseconds": 2000, "maximumRetries": 0},
		}
		if wait {
			body["callbackConfiguration"] = map[string]any{"timeoutDuration": "PT5M"}
		}
		return mustCreate(w.api+"/catalogs/"+catalog+"/customWorkflowExtensions", body)
	}
	slow, waiting := ext("slow", slowURL, false), ext("wait", waitURL, true)
	w.continuePkg = mustCreate(w.api+"/accessPackages", map[string]any{"displayName": "Continue", "catalog": map[string]any{"id": catalog}})
	w.waitPkg = mustCreate(w.api+"/accessPackages", map[string]any{"displayName": "Wait", "catalog": map[string]any{"id": catalog}})
	policy := func(pkg, extID string, expiry map[string]any) string {
		return mustCreate(w.api+"/assignmentPolicies", map[string]any{
			"displayName": "P", "accessPackage": map[string]any{"id": pkg}, "allowedTargetScope": "allMemberUsers",
			"expiration":                   expiry,
			"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": extID}}},
		})
	}
	w.continuePolicy = policy(w.continuePkg, slow, map[string]any{"type": "afterDuration", "duration": "P1D"})
	w.waitPolicy = policy(w.waitPkg, waiting, map[string]any{"type": "noExpiration"})
	return w
}

func (w restartWorld) submit(t *testing.T, user, pkg, policy string) string {
	t.Helper()
	code, got := call(t, "POST", w.api+"/assignmentRequests", w.token, map[string]any{
		"requestType": "adminAdd",
		"assignment":  map[string]any{"targetId": user, "accessPackageId": pkg, "assignmentPolicyId": policy},
	})
	if code != 201 {
		t.Fatalf("submit: %d %v", code, got)
	}
	return got["id"].(string)
}

func (w restartWorld) request(t *testing.T, api, id string) map[string]any {
	t.Helper()
	code, got := call(t, "GET", api+"/assignmentRequests/"+id, w.token, nil)
	if code != 200 {
		t.Fatalf("GET request %s: %d %v", id, code, got)
	}
	return got
}

// list reads every item of a collection, following @odata.nextLink.
func list(t *testing.T, url, token string) []map[string]any {
	t.Helper()
	var items []map[string]any
	for url != "" {
		code, got := call(t, "GET", url, token, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d %v", url, code, got)
		}
		for _, v := range got["value"].([]any) {
			items = append(items, v.(map[string]any))
		}
		url, _ = got["@odata.nextLink"].(string)
	}
	return items
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
	w := buildRestartWorld(t, srv.url, token, slowSrv.URL, waitSrv.URL, continuing+waiting)

	var continued, waits []string
	for i := range continuing {
		continued = append(continued, w.submit(t, w.users[i], w.continuePkg, w.continuePolicy))
	}
	for i := range waiting {
		waits = append(waits, w.submit(t, w.users[continuing+i], w.waitPkg, w.waitPolicy))
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
			r := w.request(t, w.api, id)
			inst, _ := r["customExtensionCalloutInstances"].([]any)
			return r["state"] == "delivered" && len(inst) == 1
		})
	}
	waitFor(t, "every callout instance sent", func() bool { return len(slow.received()) == continuing })
	for inst, n := range slow.received() {
		if stop == "SIGTERM" && n != 1 {
			t.Errorf("instance %s was sent %d times; a graceful stop finishes work in flight, so once", inst, n)
		}
	}
	for _, u := range w.users[:continuing] {
		as := list(t, w.api+"/assignments?$filter="+url.QueryEscape("target/objectId eq '"+u+"'"), token)
		if len(as) != 1 {
			t.Errorf("user %s has %d assignments, want 1", u, len(as))
		}
	}

	// Waiting requests survived: two are resumed now, two time out once.
	waitFor(t, "every waiting callout sent", func() bool { return len(waiter.received()) == waiting })
	for _, id := range waits[:2] {
		code, _ := call(t, "POST", w.api+"/assignmentRequests/"+id+"/resume", token, map[string]any{})
		if code != 204 {
			t.Fatalf("resume %s after restart: %d", id, code)
		}
		if r := w.request(t, w.api, id); r["state"] != "delivered" {
			t.Errorf("resumed request %s is %v, want delivered", id, r["state"])
		}
	}
	if code, got := call(t, "POST", srv.url+"/_accessd/clock", token, map[string]any{"advance": "PT6M"}); code != 200 {
		t.Fatalf("clock: %d %v", code, got)
	}
	for _, id := range waits[2:] {
		r := w.request(t, w.api, id)
		if r["state"] != "deliveryFailed" || r["status"] != "CallbackTimedOut" {
			t.Errorf("request %s after its deadline: %v/%v, want deliveryFailed/CallbackTimedOut", id, r["state"], r["status"])
		}
	}

	// One more restart with the expiry timers pending, then the clock passes
	// the end of the continue assignments: one systemRemove each.
	srv.kill(t)
	srv = startServerAt(t, bin, addr, args...)
	if code, got := call(t, "POST", srv.url+"/_accessd/clock", token, map[string]any{"advance": "P1D"}); code != 200 {
		t.Fatalf("clock: %d %v", code, got)
	}
	removals := map[string]int{}
	for _, r := range list(t, w.api+"/assignmentRequests", token) {
		if r["requestType"] == "systemRemove" {
			if r["state"] != "delivered" {
				t.Errorf("systemRemove %v is %v, want delivered", r["id"], r["state"])
			}
			removals[r["id"].(string)]++
		}
	}
	if len(removals) != continuing {
		t.Errorf("%d systemRemove requests, want one per expiring assignment (%d)", len(removals), continuing)
	}
	for _, u := range w.users[:continuing] {
		as := list(t, w.api+"/assignments?$filter="+url.QueryEscape("target/objectId eq '"+u+"'"), token)
		if len(as) != 1 || as[0]["state"] != "expired" {
			t.Errorf("user %s assignments after expiry: %v", u, as)
		}
	}

	// No transition happened twice: every history has each state once.
	for _, id := range append(continued, waits...) {
		seen := map[string]int{}
		for _, h := range list(t, w.api+"/assignmentRequests/"+id+"/history", token) {
			if h["action"] == "transition" {
				key := fmt.Sprint(h["state"], "/", h["status"])
				seen[key]++
				if seen[key] > 1 {
					t.Errorf("request %s went to %s twice", id, key)
				}
			}
		}
	}
	srv.stop(t)
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
