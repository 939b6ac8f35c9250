package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/sqlstore/storetest"
)

// recordingExtension answers every callout 202 and remembers it; the test
// itself calls resume, through a replica chosen at random.
type recordingExtension struct {
	mu    sync.Mutex
	sends map[string]int    // instance id → callouts received
	stage map[string]string // instance id → stage
	byReq map[string][]string
}

func (x *recordingExtension) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RequestID  string `json:"AccessPackageAssignmentRequestId"`
		InstanceID string `json:"CustomExtensionStageInstanceId"`
		Stage      string `json:"Stage"`
	}
	json.NewDecoder(r.Body).Decode(&body)
	x.mu.Lock()
	if x.sends[body.InstanceID] == 0 {
		x.byReq[body.RequestID] = append(x.byReq[body.RequestID], body.InstanceID)
	}
	x.sends[body.InstanceID]++
	x.stage[body.InstanceID] = body.Stage
	x.mu.Unlock()
	time.Sleep(300 * time.Millisecond) // so that a replica killed mid-stream holds callouts in flight
	w.WriteHeader(http.StatusAccepted)
}

// createdInstance is the created-stage instance the extension saw for a request.
func (x *recordingExtension) createdInstance(requestID string) (string, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, id := range x.byReq[requestID] {
		if x.stage[id] == "assignmentRequestCreated" {
			return id, true
		}
	}
	return "", false
}

// TestThreeReplicasOnePostgres runs three accessd processes on one PostgreSQL
// database under a stream of requests whose policy has callouts, kills one
// with SIGKILL mid-work, resumes every request through a random replica,
// and checks that each request ends once, each target has one assignment,
// and every callout instance reached the extension.
func TestThreeReplicasOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills real processes")
	}
	dsn := storetest.DSN(t, storetest.Postgres) // skips without PostgreSQL, fails under CI=true
	bin := buildBinary(t)
	const public = "http://accessd.test" // one issuer for every replica, as behind a load balancer
	args := []string{"--database", dsn, "--public-url", public, "--work-lease", "2s"}
	var replicas []*server
	for range 3 {
		replicas = append(replicas, startServer(t, bin, args...))
	}
	token := mintToken(t, bin, dsn, "--public-url", public, "--app", "replicas",
		"--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")

	ext := &recordingExtension{sends: map[string]int{}, stage: map[string]string{}, byReq: map[string][]string{}}
	extSrv := httptest.NewServer(ext)
	defer extSrv.Close()

	const n = 24
	w := buildReplicaWorld(t, replicas[0].url, token, extSrv.URL, n)
	live := func() []*server {
		var out []*server
		for _, r := range replicas {
			if r.cmd.ProcessState == nil {
				out = append(out, r)
			}
		}
		return out
	}
	apiOf := func(s *server) string { return s.url + "/v1.0/identityGovernance/entitlementManagement" }

	var ids []string
	for i := range n {
		alive := live()
		s := alive[i%len(alive)]
		code, got := call(t, "POST", apiOf(s)+"/assignmentRequests", token, map[string]any{
			"requestType": "adminAdd",
			"assignment":  map[string]any{"targetId": w.users[i], "accessPackageId": w.pkg, "assignmentPolicyId": w.policy},
		})
		if code != 201 {
			t.Fatalf("submit through %s: %d %v", s.url, code, got)
		}
		ids = append(ids, got["id"].(string))
		if i == n/2 {
			replicas[2].kill(t) // mid-stream, with work leased
		}
	}

	// Every request's created-stage callout arrives (the dead replica's leased
	// work is taken over after the lease), and is resumed through any replica.
	for _, id := range ids {
		var inst string
		waitFor(t, "the created-stage callout of "+id, func() bool {
			var ok bool
			inst, ok = ext.createdInstance(id)
			return ok
		})
		waitFor(t, id+" to accept its callback", func() bool {
			s := live()[rand.IntN(len(live()))]
			code, got := call(t, "POST", apiOf(s)+"/assignmentRequests/"+id+"/resume", token, map[string]any{
				"data": map[string]any{"customExtensionStageInstanceId": inst, "stage": "assignmentRequestCreated"}})
			if code != 204 && code != 409 {
				t.Fatalf("resume %s: %d %v", id, code, got)
			}
			return code == 204
		})
	}
	for _, id := range ids {
		waitFor(t, id+" delivered with both callouts recorded", func() bool {
			s := live()[rand.IntN(len(live()))]
			_, r := call(t, "GET", apiOf(s)+"/assignmentRequests/"+id, token, nil)
			inst, _ := r["customExtensionCalloutInstances"].([]any)
			return r["state"] == "delivered" && len(inst) == 2
		})
	}
	api := apiOf(live()[0])
	for _, u := range w.users {
		as := list(t, api+"/assignments?$filter="+url.QueryEscape("target/objectId eq '"+u+"'"), token)
		if len(as) != 1 {
			t.Errorf("user %s has %d assignments, want 1", u, len(as))
		}
	}
	// An instance is recorded on the request when its callout is claimed, a
	// moment before it is sent: wait for the extension to have seen them all.
	waitFor(t, "every callout instance to reach the extension", func() bool {
		ext.mu.Lock()
		defer ext.mu.Unlock()
		return len(ext.sends) >= 2*n
	})
	ext.mu.Lock()
	instances, resent := len(ext.sends), 0
	for _, c := range ext.sends {
		if c > 1 {
			resent++
		}
	}
	ext.mu.Unlock()
	if instances != 2*n {
		t.Errorf("the extension saw %d callout instances, want %d (created and granted per request)", instances, 2*n)
	}
	t.Logf("%d of %d instances were sent more than once (a replica died holding them)", resent, instances)
	for _, id := range ids {
		seen := map[string]bool{}
		for _, h := range list(t, api+"/assignmentRequests/"+id+"/history", token) {
			if h["action"] != "transition" {
				continue
			}
			key := fmt.Sprint(h["state"], "/", h["status"])
			if seen[key] {
				t.Errorf("request %s went to %s twice", id, key)
			}
			seen[key] = true
		}
	}
	for _, s := range live() {
		s.stop(t)
	}
}

type replicaWorld struct {
	users       []string
	pkg, policy string
}

func buildReplicaWorld(t *testing.T, base, token, extURL string, users int) replicaWorld {
	t.Helper()
	api := base + "/v1.0/identityGovernance/entitlementManagement"
	create := func(path string, body map[string]any) string {
		t.Helper()
		code, got := call(t, "POST", path, token, body)
		if code != 201 {
			t.Fatalf("POST %s: %d %v", path, code, got)
		}
		return got["id"].(string)
	}
	var w replicaWorld
	for i := range users {
		w.users = append(w.users, create(base+"/v1.0/users", map[string]any{
			"displayName": fmt.Sprintf("Replica user %d", i), "userPrincipalName": fmt.Sprintf("r%d@contoso.test", i)}))
	}
	catalog := create(api+"/catalogs", map[string]any{"displayName": "Replicas"})
	extension := func(name string, wait bool) string {
		body := map[string]any{
			"@odata.type":                 "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
			"displayName":                 name,
			"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": extURL + "/" + name},
			"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		}
		if wait {
			body["callbackConfiguration"] = map[string]any{"timeoutDuration": "PT1H"}
		}
		return create(api+"/catalogs/"+catalog+"/customWorkflowExtensions", body)
	}
	waiting, granted := extension("created", true), extension("granted", false)
	w.pkg = create(api+"/accessPackages", map[string]any{"displayName": "Replicated", "catalog": map[string]any{"id": catalog}})
	w.policy = create(api+"/assignmentPolicies", map[string]any{
		"displayName": "Replicated", "accessPackage": map[string]any{"id": w.pkg}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{
			map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": waiting}},
			map[string]any{"stage": "assignmentRequestGranted", "customExtension": map[string]any{"id": granted}},
		},
	})
	return w
}
