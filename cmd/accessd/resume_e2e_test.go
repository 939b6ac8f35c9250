package main

import (
	"bytes"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/accessd/accessd/sqlstore/storetest"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The resume end-to-end tests run `accessd serve --dev` as a real process,
// let it call extensions on real ports (an in-test server, and the example
// extension of examples/extension built and run as a process) and answer
// them through every resume route (docs/design.md, "The resume action").

const rsEMPath = "/identityGovernance/entitlementManagement"

// rsWaitDeadline bounds every wait for something accessd does in the
// background; the waits poll and never assert on how long a step took.
const rsWaitDeadline = 30 * time.Second

func rsWaitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(rsWaitDeadline)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rsResumeBody is what an extension sends back for a callout; state may be "".
func rsResumeBody(stage, instanceID, detail, state string) map[string]any {
	data := map[string]any{
		"@odata.type":                        "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
		"stage":                              stage,
		"customExtensionStageInstanceId":     instanceID,
		"customExtensionStageInstanceDetail": detail,
	}
	if state != "" {
		data["state"] = state
	}
	return map[string]any{"source": "accessd-e2e", "type": "microsoft.graph.accessPackageCustomExtensionStage." + stage, "data": data}
}

// ---- the accessd side ----

// rsWorld is a running `accessd serve --dev` and an app token for it.
type rsWorld struct {
	srv      *server
	token    string
	v1, beta string
}

func rsStartWorld(t *testing.T) *rsWorld {
	t.Helper()
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, "--database", db, "--dev")
	token := mintToken(t, bin, db, "--app", "resume-e2e", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	return &rsWorld{srv: srv, token: token, v1: srv.url + "/v1.0" + rsEMPath, beta: srv.url + "/beta" + rsEMPath}
}

// create POSTs body and expects 201; it returns the new object's id.
func (w *rsWorld) create(t *testing.T, url string, body any) string {
	t.Helper()
	code, got := call(t, "POST", url, w.token, body)
	id, _ := got["id"].(string)
	if code != 201 || id == "" {
		t.Fatalf("POST %s: %d %v\n%s", url, code, got, w.srv.stderr)
	}
	return id
}

func (w *rsWorld) user(t *testing.T, upn string) string {
	t.Helper()
	name, _, _ := strings.Cut(upn, "@")
	return w.create(t, w.srv.url+"/v1.0/users", map[string]any{
		"accountEnabled": true, "displayName": name, "mailNickname": name, "userPrincipalName": upn, "mail": upn,
		"passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d"},
	})
}

// waitingExtension creates a launch-and-wait request-workflow extension
// calling targetURL with a PoP token, waiting PT5M for the callback.
func (w *rsWorld) waitingExtension(t *testing.T, catalog, name, targetURL string) string {
	t.Helper()
	return w.create(t, w.v1+"/catalogs/"+catalog+"/customWorkflowExtensions", map[string]any{
		"@odata.type":                 "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName":                 name,
		"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": targetURL},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		"clientConfiguration":         map[string]any{"@odata.type": "#microsoft.graph.customExtensionClientConfiguration", "timeoutInMilliseconds": 2000},
		"callbackConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "durationBeforeTimeout": "PT5M"},
	})
}

// rsBound is an access package whose policy binds an extension to one stage.
type rsBound struct{ pkg, policy, stage string }

func (w *rsWorld) boundPackage(t *testing.T, catalog, name, extension, stage string) rsBound {
	t.Helper()
	pkg := w.create(t, w.v1+"/accessPackages", map[string]any{"displayName": name, "catalog": map[string]any{"id": catalog}})
	policy := w.create(t, w.v1+"/assignmentPolicies", map[string]any{
		"displayName": name + " policy", "accessPackage": map[string]any{"id": pkg}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{map[string]any{"stage": stage, "customExtension": map[string]any{"id": extension}}},
	})
	return rsBound{pkg: pkg, policy: policy, stage: stage}
}

// submit asks for b's package for a new user named upn; it returns the request id.
func (w *rsWorld) submit(t *testing.T, b rsBound, upn string) string {
	t.Helper()
	target := w.user(t, upn)
	return w.create(t, w.v1+"/assignmentRequests", map[string]any{"requestType": "adminAdd",
		"assignment": map[string]any{"targetId": target, "assignmentPolicyId": b.policy, "accessPackageId": b.pkg}})
}

// request GETs a request in v1.0 with its assignment expanded.
func (w *rsWorld) request(t *testing.T, id string) map[string]any {
	t.Helper()
	code, got := call(t, "GET", w.v1+"/assignmentRequests/"+id+"?$expand=assignment", w.token, nil)
	if code != 200 {
		t.Fatalf("GET request %s: %d %v", id, code, got)
	}
	return got
}

// waitRequest polls the request until ok says yes, and returns that answer.
func (w *rsWorld) waitRequest(t *testing.T, id, what string, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	var got map[string]any
	rsWaitFor(t, fmt.Sprintf("request %s to be %s (last seen %v)", id, what, &got), func() bool {
		got = w.request(t, id)
		return ok(got)
	})
	return got
}

func rsStateIs(state string) func(map[string]any) bool {
	return func(r map[string]any) bool { return r["state"] == state }
}

// rsWaitingOn says whether a request waits for the callback of one callout
// instance. The instance is recorded when the callout is claimed for sending
// and becomes waitingForCallback once the extension has answered.
func rsWaitingOn(instanceID string) func(map[string]any) bool {
	return func(r map[string]any) bool {
		_, byID := rsInstances(r)
		return r["status"] == "WaitingForCallback" && byID[instanceID]["status"] == "waitingForCallback"
	}
}

// rsInstances are a request's customExtensionCalloutInstances by id, in order.
func rsInstances(r map[string]any) (ids []string, byID map[string]map[string]any) {
	byID = map[string]map[string]any{}
	list, _ := r["customExtensionCalloutInstances"].([]any)
	for _, x := range list {
		inst, _ := x.(map[string]any)
		id, _ := inst["id"].(string)
		ids = append(ids, id)
		byID[id] = inst
	}
	return ids, byID
}

func rsWantInstance(t *testing.T, r map[string]any, id, status, detail string) {
	t.Helper()
	_, byID := rsInstances(r)
	inst, ok := byID[id]
	if !ok {
		t.Fatalf("request has no callout instance %s: %v", id, r["customExtensionCalloutInstances"])
	}
	if inst["status"] != status || (detail != "" && inst["detail"] != detail) {
		t.Errorf("instance %s: status %v detail %v, want %s %q", id, inst["status"], inst["detail"], status, detail)
	}
}

// rsWantHistory checks that the request's history records the callback.
func rsWantHistory(t *testing.T, w *rsWorld, id, stage, detail, outcome string) {
	t.Helper()
	code, got := call(t, "GET", w.v1+"/assignmentRequests/"+id+"/history", w.token, nil)
	if code != 200 {
		t.Fatalf("GET history: %d %v", code, got)
	}
	entries, _ := got["value"].([]any)
	for _, e := range entries {
		h, _ := e.(map[string]any)
		actor, _ := h["actor"].(map[string]any)
		if h["source"] == "accessd-e2e" && h["type"] == "microsoft.graph.accessPackageCustomExtensionStage."+stage &&
			h["stage"] == stage && h["detail"] == detail && h["outcome"] == outcome && actor["id"] != nil {
			return
		}
	}
	t.Errorf("history of %s has no %s callback at %s with detail %q and its caller: %v", id, outcome, stage, detail, entries)
}

// ---- the in-test extension ----

// rsCallout is what the tests read of a callout.
type rsCallout struct {
	RequestID             string `json:"AccessPackageAssignmentRequestId"`
	InstanceID            string `json:"CustomExtensionStageInstanceId"`
	Stage                 string `json:"Stage"`
	CallbackURIPath       string `json:"CallbackUriPath"`
	CallbackConfiguration *struct {
		DurationBeforeTimeout string `json:"DurationBeforeTimeout"`
	} `json:"CallbackConfiguration"`
	Assignment struct {
		Target struct {
			PrincipalName string `json:"PrincipalName"`
		} `json:"Target"`
	} `json:"Assignment"`
}

// rsExtension is an extension endpoint on a real port. It verifies each
// callout's PoP token against accessd's JWKS, records the callout and
// answers 202; before answering it runs beforeAnswer, if set.
type rsExtension struct {
	*httptest.Server
	issuer string

	mu           sync.Mutex
	keys         map[string]*rsa.PublicKey
	callouts     []rsCallout
	problems     []string
	beforeAnswer func(rsCallout)
}

func rsNewExtension(t *testing.T, accessdURL string) *rsExtension {
	x := &rsExtension{issuer: accessdURL}
	x.Server = httptest.NewServer(http.HandlerFunc(x.serve))
	t.Cleanup(x.Close)
	return x
}

func (x *rsExtension) serve(w http.ResponseWriter, r *http.Request) {
	if err := x.verify(r); err != nil {
		x.mu.Lock()
		x.problems = append(x.problems, fmt.Sprintf("%s %s: %v", r.Method, r.URL.Path, err))
		x.mu.Unlock()
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var c rsCallout
	if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
		x.mu.Lock()
		x.problems = append(x.problems, "callout body: "+err.Error())
		x.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	x.mu.Lock()
	x.callouts = append(x.callouts, c)
	before := x.beforeAnswer
	x.mu.Unlock()
	if before != nil {
		before(c)
	}
	w.WriteHeader(http.StatusAccepted)
}

// verify checks the PoP token as a Logic App's AADPOP policy would, with
// accessd's issuer and keys in place of Microsoft's.
func (x *rsExtension) verify(r *http.Request) error {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "PoP ")
	if !ok {
		return fmt.Errorf("Authorization %q is not a PoP token", r.Header.Get("Authorization"))
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(x.issuer), jwt.WithLeeway(2*time.Minute),
		jwt.WithExpirationRequired(), jwt.WithAudience("http://"+r.Host)).
		ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
			kid, _ := tok.Header["kid"].(string)
			return x.key(kid)
		})
	if err != nil {
		return err
	}
	want := map[string]string{"appid": "810dcf14-1858-4bf2-8134-4c369fa3235b", "azp": "810dcf14-1858-4bf2-8134-4c369fa3235b",
		"m": "POST", "u": strings.ToLower(r.Host), "p": r.URL.EscapedPath()}
	for name, v := range want {
		if claims[name] != v {
			return fmt.Errorf("claim %s is %v, want %q", name, claims[name], v)
		}
	}
	return nil
}

// key finds kid in accessd's JWKS, fetched over HTTP when kid is new.
func (x *rsExtension) key(kid string) (*rsa.PublicKey, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if k, ok := x.keys[kid]; ok {
		return k, nil
	}
	resp, err := http.Get(x.issuer + "/.well-known/jwks.json")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kty, Kid, Alg, N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		return nil, fmt.Errorf("jwks: %v", err)
	}
	x.keys = map[string]*rsa.PublicKey{}
	for _, k := range jwks.Keys {
		n, errN := base64.RawURLEncoding.DecodeString(k.N)
		e, errE := base64.RawURLEncoding.DecodeString(k.E)
		if k.Kty == "RSA" && errN == nil && errE == nil {
			x.keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		}
	}
	if k, ok := x.keys[kid]; ok {
		return k, nil
	}
	return nil, fmt.Errorf("kid %q is not in accessd's JWKS", kid)
}

// calloutsFor are the callouts received for one request.
func (x *rsExtension) calloutsFor(requestID string) []rsCallout {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []rsCallout
	for _, c := range x.callouts {
		if c.RequestID == requestID {
			out = append(out, c)
		}
	}
	return out
}

// waitCallout waits for the first callout of a request.
func (x *rsExtension) waitCallout(t *testing.T, requestID string) rsCallout {
	t.Helper()
	rsWaitFor(t, "the callout of request "+requestID, func() bool { return len(x.calloutsFor(requestID)) > 0 })
	return x.calloutsFor(requestID)[0]
}

func (x *rsExtension) wantNoProblems(t *testing.T) {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, p := range x.problems {
		t.Errorf("extension refused a callout: %s", p)
	}
	x.problems = nil
}

func (x *rsExtension) setBeforeAnswer(f func(rsCallout)) {
	x.mu.Lock()
	x.beforeAnswer = f
	x.mu.Unlock()
}

func rsWantCallout(t *testing.T, c rsCallout, requestID, stage, upn string) {
	t.Helper()
	if c.Stage != stage || c.InstanceID == "" || c.Assignment.Target.PrincipalName != upn ||
		c.CallbackURIPath != rsEMPath+"/assignmentRequests/"+requestID+"/resume" ||
		c.CallbackConfiguration == nil || c.CallbackConfiguration.DurationBeforeTimeout != "PT5M" {
		t.Fatalf("callout for %s: %+v", requestID, c)
	}
}

// ---- tests ----

func TestResumeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	w := rsStartWorld(t)
	ext := rsNewExtension(t, w.srv.url)
	catalog := w.create(t, w.v1+"/catalogs", map[string]any{"displayName": "Resume e2e"})
	extID := w.waitingExtension(t, catalog, "Checker", ext.URL+"/callout")
	created := w.boundPackage(t, catalog, "Checked at creation", extID, "assignmentRequestCreated")
	granted := w.boundPackage(t, catalog, "Checked when granted", extID, "assignmentRequestGranted")

	routes := []struct {
		name    string
		url     func(requestID, assignmentID string) string
		granted bool
	}{
		{"v1.0 assignmentRequests", func(r, _ string) string { return w.v1 + "/assignmentRequests/" + r + "/resume" }, false},
		{"v1.0 accessPackageAssignmentRequests", func(r, _ string) string { return w.v1 + "/accessPackageAssignmentRequests/" + r + "/resume" }, false},
		{"beta assignmentRequests", func(r, _ string) string { return w.beta + "/assignmentRequests/" + r + "/resume" }, false},
		{"beta accessPackageAssignmentRequests", func(r, _ string) string { return w.beta + "/accessPackageAssignmentRequests/" + r + "/resume" }, false},
		{"beta accessPackageAssignments/accessPackageAssignmentRequests", func(r, a string) string {
			return w.beta + "/accessPackageAssignments/" + a + "/accessPackageAssignmentRequests/" + r + "/resume"
		}, true},
	}
	otherAssignment := "" // of a request delivered earlier: not the one a later request waits under
	for i, rt := range routes {
		t.Run("resume via "+rt.name, func(t *testing.T) {
			b := created
			if rt.granted {
				b = granted
			}
			upn := fmt.Sprintf("route%d@contoso.test", i+1)
			id := w.submit(t, b, upn)
			c := ext.waitCallout(t, id)
			rsWantCallout(t, c, id, b.stage, upn)
			got := w.waitRequest(t, id, "waiting for its callback", rsWaitingOn(c.InstanceID))
			assignmentID := ""
			if rt.granted {
				a, _ := got["assignment"].(map[string]any)
				assignmentID, _ = a["id"].(string)
				if got["state"] != "delivering" || assignmentID == "" || a["state"] != "delivered" {
					t.Fatalf("waiting at the granted stage: state %v, assignment %v", got["state"], got["assignment"])
				}
				for _, other := range []string{otherAssignment, "00000000-0000-0000-0000-000000000000"} {
					if code, raw := rawCall(t, "POST", rt.url(id, other), w.token, rsResumeBody(c.Stage, c.InstanceID, "", "")); code != 404 {
						t.Errorf("resume under assignment %q, not the request's: %d %s, want 404", other, code, raw)
					}
				}
			} else if got["state"] != "submitted" {
				t.Fatalf("waiting at the created stage: state %v", got["state"])
			}

			detail := "Checked via " + rt.name
			code, raw := rawCall(t, "POST", rt.url(id, assignmentID), w.token, rsResumeBody(c.Stage, c.InstanceID, detail, ""))
			if code != 204 || len(raw) != 0 {
				t.Fatalf("resume: %d %q, want 204 with an empty body", code, raw)
			}
			got = w.waitRequest(t, id, "delivered", rsStateIs("delivered"))
			if got["status"] != "Delivered" {
				t.Errorf("status %v, want Delivered", got["status"])
			}
			rsWantInstance(t, got, c.InstanceID, "callbackReceived", detail)
			rsWantHistory(t, w, id, c.Stage, detail, "continue")
			if a, _ := got["assignment"].(map[string]any); a["state"] != "delivered" {
				t.Errorf("assignment of the delivered request: %v", got["assignment"])
			} else if otherAssignment == "" {
				otherAssignment, _ = a["id"].(string)
			}
			if n := len(ext.calloutsFor(id)); n != 1 {
				t.Errorf("%d callouts received, want 1", n)
			}
			ext.wantNoProblems(t)
		})
	}

	t.Run("resume sent before the extension answers 202", func(t *testing.T) {
		const upn = "early@contoso.test"
		type early struct {
			code int
			body []byte
			err  error
		}
		done := make(chan early, 1)
		ext.setBeforeAnswer(func(c rsCallout) {
			if c.Assignment.Target.PrincipalName != upn {
				return
			}
			body, _ := json.Marshal(rsResumeBody(c.Stage, c.InstanceID, "Answered at once", ""))
			req, _ := http.NewRequest("POST", w.srv.url+"/v1.0"+c.CallbackURIPath, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+w.token)
			req.Header.Set("Content-Type", "application/json")
			var e early
			resp, err := http.DefaultClient.Do(req)
			if e.err = err; err == nil {
				e.code = resp.StatusCode
				e.body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			select {
			case done <- e: // the first only: a retried callout must not block the handler
			default:
			}
		})
		t.Cleanup(func() { ext.setBeforeAnswer(nil) })
		id := w.submit(t, created, upn)
		var e early
		select {
		case e = <-done:
		case <-time.After(rsWaitDeadline):
			t.Fatal("the extension never received the callout")
		}
		if e.err != nil || e.code != 204 || len(e.body) != 0 {
			t.Fatalf("resume before 202: %d %q %v, want 204", e.code, e.body, e.err)
		}
		// Once accessd has recorded the attempt, the 202 has been handled too.
		var attempts []any
		rsWaitFor(t, "the callout attempt to be recorded", func() bool {
			attempts = rsCalloutAttempts(t, w, id)
			return len(attempts) > 0
		})
		got := w.waitRequest(t, id, "delivered", rsStateIs("delivered"))
		c := ext.calloutsFor(id)
		if len(c) != 1 || len(attempts) != 1 {
			t.Fatalf("%d callouts received, %d attempts recorded; want 1 and 1", len(c), len(attempts))
		}
		if a := attempts[0].(map[string]any); a["responseStatus"] != float64(202) {
			t.Errorf("recorded attempt: %v", a)
		}
		rsWantInstance(t, got, c[0].InstanceID, "callbackReceived", "Answered at once")
		ext.wantNoProblems(t)
	})

	t.Run("deny at the created stage", func(t *testing.T) {
		const upn = "denied@contoso.test"
		id := w.submit(t, created, upn)
		c := ext.waitCallout(t, id)
		rsWantCallout(t, c, id, "assignmentRequestCreated", upn)
		code, raw := rawCall(t, "POST", w.v1+"/assignmentRequests/"+id+"/resume", w.token,
			rsResumeBody(c.Stage, c.InstanceID, "Separation of duties", "denied"))
		if code != 204 || len(raw) != 0 {
			t.Fatalf("deny: %d %q, want 204", code, raw)
		}
		got := w.waitRequest(t, id, "denied", rsStateIs("denied"))
		if got["status"] != "Denied" {
			t.Errorf("status %v, want Denied", got["status"])
		}
		if got["assignment"] != nil {
			t.Errorf("a denied request has an assignment: %v", got["assignment"])
		}
		rsWantInstance(t, got, c.InstanceID, "callbackReceived", "Separation of duties")
		rsWantHistory(t, w, id, c.Stage, "Separation of duties", "denied")
		ext.wantNoProblems(t)
	})
}

// rsCalloutAttempts lists the attempts --dev mode recorded for a request.
func rsCalloutAttempts(t *testing.T, w *rsWorld, requestID string) []any {
	t.Helper()
	code, got := call(t, "GET", w.srv.url+"/_accessd/callouts", w.token, nil)
	if code != 200 {
		t.Fatalf("GET /_accessd/callouts: %d %v", code, got)
	}
	var out []any
	all, _ := got["value"].([]any)
	for _, a := range all {
		if a.(map[string]any)["requestId"] == requestID {
			out = append(out, a)
		}
	}
	return out
}

// ---- the example extension as a process ----

// rsLog collects a process's output while the test reads it.
type rsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *rsLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *rsLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func rsFreeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// rsStartExample builds examples/extension and runs it on a free port.
func rsStartExample(t *testing.T, args ...string) (addr string, log *rsLog) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "extension")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/accessd/accessd/examples/extension").CombinedOutput(); err != nil {
		t.Fatalf("go build examples/extension: %v\n%s", err, out)
	}
	addr = rsFreeAddr(t)
	log = &rsLog{}
	cmd := exec.Command(bin, append([]string{"-addr", addr}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("example extension log:\n%s", log)
		}
	})
	rsWaitFor(t, "the example extension to listen on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("the example extension exited:\n%s", log)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, log
}

var rsCalloutLine = regexp.MustCompile(`callout stage=(\S+) request=(\S+) instance=(\S+) target=(\S*) action=(\S+)`)

// rsLoggedInstances are the instance ids the example logged callouts for, for one request.
func rsLoggedInstances(log *rsLog, requestID string) []string {
	var ids []string
	for _, m := range rsCalloutLine.FindAllStringSubmatch(log.String(), -1) {
		if m[2] == requestID {
			ids = append(ids, m[3])
		}
	}
	return ids
}

func rsWantLoggedResume(t *testing.T, log *rsLog, requestID string) {
	t.Helper()
	rsWaitFor(t, "the example to log its resume of "+requestID, func() bool {
		return strings.Contains(log.String(), "resume request="+requestID+" ")
	})
	if !regexp.MustCompile(`resume request=` + requestID + ` .*status=204`).MatchString(log.String()) {
		t.Errorf("the example's resume of %s did not get 204:\n%s", requestID, log)
	}
}

func TestExampleExtensionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	w := rsStartWorld(t)
	addr, log := rsStartExample(t, "-accessd", w.srv.url, "-token", w.token,
		"-deny-upn-suffix", "@contractor.test", "-ignore-upn-suffix", "@slow.test")
	catalog := w.create(t, w.v1+"/catalogs", map[string]any{"displayName": "Example e2e"})
	extID := w.waitingExtension(t, catalog, "Example extension", "http://"+addr+"/callout")
	b := w.boundPackage(t, catalog, "Checked by the example", extID, "assignmentRequestCreated")

	t.Run("refuses callouts without accessd's callout token", func(t *testing.T) {
		body := map[string]any{"Stage": "assignmentRequestCreated"}
		if code, raw := rawCall(t, "POST", "http://"+addr+"/callout", "", body); code != 401 {
			t.Errorf("no token: %d %s, want 401", code, raw)
		}
		// An API token is signed by accessd too, but is not entitlement management's.
		if code, raw := rawCall(t, "POST", "http://"+addr+"/callout", w.token, body); code != 401 {
			t.Errorf("API token: %d %s, want 401", code, raw)
		}
		rsWaitFor(t, "the example to log the refusal", func() bool { return strings.Contains(log.String(), "appid") })
	})

	t.Run("alice is resumed and delivered", func(t *testing.T) {
		id := w.submit(t, b, "alice@contoso.test")
		got := w.waitRequest(t, id, "delivered", rsStateIs("delivered"))
		ids := rsLoggedInstances(log, id)
		if len(ids) != 1 {
			t.Fatalf("the example logged %d callouts for %s:\n%s", len(ids), id, log)
		}
		rsWantInstance(t, got, ids[0], "callbackReceived", "Approved by accessd-example")
		rsWantLoggedResume(t, log, id)
	})

	t.Run("bob@contractor.test is denied", func(t *testing.T) {
		id := w.submit(t, b, "bob@contractor.test")
		got := w.waitRequest(t, id, "denied", rsStateIs("denied"))
		if got["status"] != "Denied" {
			t.Errorf("status %v, want Denied", got["status"])
		}
		ids := rsLoggedInstances(log, id)
		if len(ids) != 1 {
			t.Fatalf("the example logged %d callouts for %s:\n%s", len(ids), id, log)
		}
		rsWantInstance(t, got, ids[0], "callbackReceived", "")
		rsWantLoggedResume(t, log, id)
	})

	t.Run("carol@slow.test times out, and reprocess calls out again", func(t *testing.T) {
		id := w.submit(t, b, "carol@slow.test")
		rsWaitFor(t, "the example to log carol's callout", func() bool { return len(rsLoggedInstances(log, id)) == 1 })
		first := rsLoggedInstances(log, id)[0]
		got := w.waitRequest(t, id, "waiting for its callback", rsWaitingOn(first))
		if got["state"] != "submitted" {
			t.Errorf("waiting: state %v, want submitted", got["state"])
		}
		if !strings.Contains(log.String(), "instance="+first+" target=carol@slow.test action=ignore") {
			t.Errorf("the example did not log ignoring carol:\n%s", log)
		}

		code, clock := call(t, "POST", w.srv.url+"/_accessd/clock", w.token, map[string]any{"advance": "PT6M"})
		if code != 200 {
			t.Fatalf("advance the clock: %d %v", code, clock)
		}
		got = w.waitRequest(t, id, "deliveryFailed", rsStateIs("deliveryFailed"))
		if got["status"] != "CallbackTimedOut" {
			t.Errorf("status %v, want CallbackTimedOut", got["status"])
		}
		rsWantInstance(t, got, first, "callbackTimedOut", "")

		if code, raw := rawCall(t, "POST", w.v1+"/assignmentRequests/"+id+"/reprocess", w.token, nil); code != 202 {
			t.Fatalf("reprocess: %d %s, want 202", code, raw)
		}
		rsWaitFor(t, "a second callout for carol at the example", func() bool { return len(rsLoggedInstances(log, id)) == 2 })
		second := rsLoggedInstances(log, id)[1]
		if second == first {
			t.Fatalf("reprocess sent the old instance id %s again", first)
		}
		got = w.waitRequest(t, id, "waiting again", rsWaitingOn(second))
		if got["state"] != "submitted" {
			t.Errorf("waiting again: state %v, want submitted", got["state"])
		}
		if ids, _ := rsInstances(got); len(ids) != 2 {
			t.Errorf("instances after reprocess: %v, want the old and the new", got["customExtensionCalloutInstances"])
		}
		rsWantInstance(t, got, first, "callbackTimedOut", "")
	})
}
