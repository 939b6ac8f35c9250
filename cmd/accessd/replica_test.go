package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
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
	// The extension listens on loopback.
	args := []string{"--database", dsn, "--public-url", public, "--work-lease", "2s", "--callout-allow-private"}
	var replicas []*server
	for range 3 {
		replicas = append(replicas, startServer(t, bin, args...))
	}
	token := mintToken(t, bin, dsn, "--public-url", public, "--app", "replicas",
		"--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	// Each replica is called at its own address. Every list here fits on
	// one page: a second page's nextLink would name the public URL, where
	// the client does not send the token.
	apiOf := map[*server]*client.Client{}
	for _, r := range replicas {
		apiOf[r] = apiClient(t, r.url, token)
	}

	ext := &recordingExtension{sends: map[string]int{}, stage: map[string]string{}, byReq: map[string][]string{}}
	extSrv := httptest.NewServer(ext)
	defer extSrv.Close()

	const n = 24
	w := buildReplicaWorld(t, apiOf[replicas[0]], extSrv.URL, n)
	live := func() []*server {
		var out []*server
		for _, r := range replicas {
			if r.cmd.ProcessState == nil {
				out = append(out, r)
			}
		}
		return out
	}
	ctx := t.Context()

	var ids []string
	for i := range n {
		alive := live()
		s := alive[i%len(alive)]
		ids = append(ids, submit(t, apiOf[s], w.users[i], w.pkg, w.policy))
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
			resp := raw(t, apiOf[s], "POST", emPath+"/assignmentRequests/"+id+"/resume", map[string]any{
				"data": map[string]any{"customExtensionStageInstanceId": inst, "stage": "assignmentRequestCreated"}})
			if resp.Status != 204 && resp.Status != 409 {
				t.Fatalf("resume %s: %d %s", id, resp.Status, resp.Body)
			}
			return resp.Status == 204
		})
	}
	for _, id := range ids {
		waitFor(t, id+" delivered with both callouts recorded", func() bool {
			s := live()[rand.IntN(len(live()))]
			r, err := apiOf[s].GetRequest(ctx, id)
			must(t, err, "get request "+id+" through "+s.url)
			return r.State == "delivered" && len(r.Callouts) == 2
		})
	}
	api := apiOf[live()[0]]
	for _, u := range w.users {
		if as := assignmentsOf(t, api, u); len(as) != 1 {
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
		for _, h := range history(t, api, id) {
			if h.Action != "transition" {
				continue
			}
			key := fmt.Sprint(h.State, "/", h.Status)
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

func buildReplicaWorld(t *testing.T, api *client.Client, extURL string, users int) replicaWorld {
	t.Helper()
	ctx := t.Context()
	var w replicaWorld
	for i := range users {
		w.users = append(w.users, createUser(t, api, fmt.Sprintf("Replica user %d", i), fmt.Sprintf("r%d@contoso.test", i)))
	}
	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Replicas"})
	must(t, err, "create catalog")
	extension := func(name, callbackTimeout string) string {
		created, err := api.CreateCustomExtension(ctx, catalog.ID, requestExtension(name, extURL+"/"+name, callbackTimeout))
		must(t, err, "create extension "+name)
		return created.ID
	}
	waiting, granted := extension("created", "PT1H"), extension("granted", "")
	pkg, err := api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Replicated", CatalogID: catalog.ID})
	must(t, err, "create package")
	w.pkg = pkg.ID
	policy, err := api.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName": "Replicated", "accessPackage": map[string]any{"id": w.pkg}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{
			map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": waiting}},
			map[string]any{"stage": "assignmentRequestGranted", "customExtension": map[string]any{"id": granted}},
		},
	})
	must(t, err, "create policy")
	w.policy = policy.ID
	return w
}
