package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
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

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// The resume end-to-end tests run `accessd serve --dev` as a real process,
// let it call extensions on real ports (an in-test server, and the example
// extension of examples/extension built and run as a process) and answer
// them through every resume route (docs/design.md, "The resume action").

// rsEMPath is the entitlement-management root under a version, as a
// callout's CallbackUriPath starts.
const rsEMPath = "/identityGovernance/entitlementManagement"

// rsBetaPath is the root of the beta entitlement-management routes.
const rsBetaPath = "/beta" + rsEMPath

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

// rsWorld is a running `accessd serve --dev`, an app token for it and a
// client that sends the token.
type rsWorld struct {
	srv   *server
	token string
	api   *client.Client
}

func rsStartWorld(t *testing.T, serveArgs ...string) *rsWorld {
	t.Helper()
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, append([]string{"--database", db, "--dev"}, serveArgs...)...)
	token := mintToken(t, bin, db, "--app", "resume-e2e", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	return &rsWorld{srv: srv, token: token, api: apiClient(t, srv.url, token)}
}

// must is must with the server's log, which says why accessd refused.
func (w *rsWorld) must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, w.srv.stderr)
	}
}

func (w *rsWorld) catalog(t *testing.T, name string) string {
	t.Helper()
	c, err := w.api.CreateCatalog(t.Context(), access.Catalog{DisplayName: name})
	w.must(t, err, "create catalog "+name)
	return c.ID
}

func (w *rsWorld) user(t *testing.T, upn string) string {
	t.Helper()
	name, _, _ := strings.Cut(upn, "@")
	u, err := w.api.CreateUser(t.Context(), access.User{AccountEnabled: true, DisplayName: name, MailNickname: name,
		UserPrincipalName: upn, Mail: upn})
	w.must(t, err, "create user "+upn)
	return u.ID
}

// waitingExtension creates a launch-and-wait request-workflow extension
// calling targetURL with a PoP token, waiting PT5M for the callback.
func (w *rsWorld) waitingExtension(t *testing.T, catalog, name, targetURL string) string {
	t.Helper()
	timeoutMillis := 2000
	x := requestExtension(name, targetURL, "PT5M")
	x.Client = &access.ClientConfiguration{TimeoutInMilliseconds: &timeoutMillis}
	created, err := w.api.CreateCustomExtension(t.Context(), catalog, x)
	w.must(t, err, "create extension "+name)
	return created.ID
}

// rsBound is an access package whose policy binds an extension to one stage.
type rsBound struct{ pkg, policy, stage string }

func (w *rsWorld) boundPackage(t *testing.T, catalog, name, extension, stage string) rsBound {
	t.Helper()
	pkg, err := w.api.CreateAccessPackage(t.Context(), access.AccessPackage{DisplayName: name, CatalogID: catalog})
	w.must(t, err, "create package "+name)
	policy, err := w.api.CreateAssignmentPolicy(t.Context(), map[string]any{
		"displayName": name + " policy", "accessPackage": map[string]any{"id": pkg.ID}, "allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{map[string]any{"stage": stage, "customExtension": map[string]any{"id": extension}}},
	})
	w.must(t, err, "create policy "+name)
	return rsBound{pkg: pkg.ID, policy: policy.ID, stage: stage}
}

// submit asks for b's package for a new user named upn; it returns the request id.
func (w *rsWorld) submit(t *testing.T, b rsBound, upn string) string {
	t.Helper()
	return submit(t, w.api, w.user(t, upn), b.pkg, b.policy)
}

func (w *rsWorld) request(t *testing.T, id string) access.Request {
	t.Helper()
	r, err := w.api.GetRequest(t.Context(), id)
	w.must(t, err, "get request "+id)
	return r
}

func (w *rsWorld) assignment(t *testing.T, id string) access.Assignment {
	t.Helper()
	a, err := w.api.GetAssignment(t.Context(), id)
	w.must(t, err, "get assignment "+id)
	return a
}

// waitRequest polls the request until ok says yes, and returns that answer.
func (w *rsWorld) waitRequest(t *testing.T, id, what string, ok func(access.Request) bool) access.Request {
	t.Helper()
	deadline := time.Now().Add(rsWaitDeadline)
	for {
		got := w.request(t, id)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for request %s to be %s; last seen %+v", id, what, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func rsStateIs(state string) func(access.Request) bool {
	return func(r access.Request) bool { return string(r.State) == state }
}

// rsWaitingOn says whether a request waits for the callback of one callout
// instance. The instance is recorded when the callout is claimed for sending
// and becomes waitingForCallback once the extension has answered.
func rsWaitingOn(instanceID string) func(access.Request) bool {
	return func(r access.Request) bool {
		inst, _ := rsInstance(r, instanceID)
		return r.Status == "WaitingForCallback" && inst.Status == "waitingForCallback"
	}
}

// rsInstance is the request's callout instance with that id.
func rsInstance(r access.Request, id string) (access.CalloutInstance, bool) {
	for _, inst := range r.Callouts {
		if inst.ID == id {
			return inst, true
		}
	}
	return access.CalloutInstance{}, false
}

func rsWantInstance(t *testing.T, r access.Request, id, status, detail string) {
	t.Helper()
	inst, ok := rsInstance(r, id)
	if !ok {
		t.Fatalf("request has no callout instance %s: %+v", id, r.Callouts)
	}
	if string(inst.Status) != status || (detail != "" && inst.Detail != detail) {
		t.Errorf("instance %s: status %v detail %v, want %s %q", id, inst.Status, inst.Detail, status, detail)
	}
}

// rsWantHistory checks that the request's history records the callback.
func rsWantHistory(t *testing.T, w *rsWorld, id, stage, detail, outcome string) {
	t.Helper()
	entries, err := w.api.RequestHistory(t.Context(), id)
	w.must(t, err, "get history of "+id)
	for _, h := range entries {
		if h.Source == "accessd-e2e" && h.Type == "microsoft.graph.accessPackageCustomExtensionStage."+stage &&
			string(h.Stage) == stage && h.Detail == detail && h.Outcome == outcome && h.ActorID != "" {
			return
		}
	}
	t.Errorf("history of %s has no %s callback at %s with detail %q and its caller: %+v", id, outcome, stage, detail, entries)
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
	issuer  string
	accessd *client.Client // without a token: the JWKS is public

	mu           sync.Mutex
	keys         map[string]*rsa.PublicKey
	callouts     []rsCallout
	problems     []string
	beforeAnswer func(rsCallout)
}

func rsNewExtension(t *testing.T, accessdURL string) *rsExtension {
	x := &rsExtension{issuer: accessdURL, accessd: apiClient(t, accessdURL, "")}
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
	resp, err := x.accessd.Raw(context.Background(), http.MethodGet, "/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, fmt.Errorf("jwks: %d %s", resp.Status, resp.Body)
	}
	var jwks struct {
		Keys []struct{ Kty, Kid, Alg, N, E string } `json:"keys"`
	}
	if err := json.Unmarshal(resp.Body, &jwks); err != nil {
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
	catalog := w.catalog(t, "Resume e2e")
	extID := w.waitingExtension(t, catalog, "Checker", ext.URL+"/callout")
	created := w.boundPackage(t, catalog, "Checked at creation", extID, "assignmentRequestCreated")
	granted := w.boundPackage(t, catalog, "Checked when granted", extID, "assignmentRequestGranted")

	routes := []struct {
		name    string
		path    func(requestID, assignmentID string) string
		granted bool
	}{
		{"v1.0 assignmentRequests", func(r, _ string) string { return emPath + "/assignmentRequests/" + r + "/resume" }, false},
		{"v1.0 accessPackageAssignmentRequests", func(r, _ string) string { return emPath + "/accessPackageAssignmentRequests/" + r + "/resume" }, false},
		{"beta assignmentRequests", func(r, _ string) string { return rsBetaPath + "/assignmentRequests/" + r + "/resume" }, false},
		{"beta accessPackageAssignmentRequests", func(r, _ string) string { return rsBetaPath + "/accessPackageAssignmentRequests/" + r + "/resume" }, false},
		{"beta accessPackageAssignments/accessPackageAssignmentRequests", func(r, a string) string {
			return rsBetaPath + "/accessPackageAssignments/" + a + "/accessPackageAssignmentRequests/" + r + "/resume"
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
				assignmentID = got.AssignmentID
				if got.State != "delivering" || assignmentID == "" {
					t.Fatalf("waiting at the granted stage: state %v, assignment %q", got.State, assignmentID)
				}
				if a := w.assignment(t, assignmentID); a.State != "delivered" {
					t.Fatalf("waiting at the granted stage: assignment %+v", a)
				}
				for _, other := range []string{otherAssignment, "00000000-0000-0000-0000-000000000000"} {
					if resp := raw(t, w.api, "POST", rt.path(id, other), rsResumeBody(c.Stage, c.InstanceID, "", "")); resp.Status != 404 {
						t.Errorf("resume under assignment %q, not the request's: %d %s, want 404", other, resp.Status, resp.Body)
					}
				}
			} else if got.State != "submitted" {
				t.Fatalf("waiting at the created stage: state %v", got.State)
			}

			detail := "Checked via " + rt.name
			resp := raw(t, w.api, "POST", rt.path(id, assignmentID), rsResumeBody(c.Stage, c.InstanceID, detail, ""))
			if resp.Status != 204 || len(resp.Body) != 0 {
				t.Fatalf("resume: %d %q, want 204 with an empty body", resp.Status, resp.Body)
			}
			got = w.waitRequest(t, id, "delivered", rsStateIs("delivered"))
			if got.Status != "Delivered" {
				t.Errorf("status %v, want Delivered", got.Status)
			}
			rsWantInstance(t, got, c.InstanceID, "callbackReceived", detail)
			rsWantHistory(t, w, id, c.Stage, detail, "continue")
			if got.AssignmentID == "" {
				t.Errorf("the delivered request has no assignment")
			} else if a := w.assignment(t, got.AssignmentID); a.State != "delivered" {
				t.Errorf("assignment of the delivered request: %+v", a)
			} else if otherAssignment == "" {
				otherAssignment = a.ID
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
			resp client.Response
			err  error
		}
		done := make(chan early, 1)
		ext.setBeforeAnswer(func(c rsCallout) {
			if c.Assignment.Target.PrincipalName != upn {
				return
			}
			// Not raw: this runs in the extension's handler, where the test may not stop.
			var e early
			e.resp, e.err = w.api.Raw(context.Background(), "POST", "/v1.0"+c.CallbackURIPath,
				rsResumeBody(c.Stage, c.InstanceID, "Answered at once", ""))
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
		if e.err != nil || e.resp.Status != 204 || len(e.resp.Body) != 0 {
			t.Fatalf("resume before 202: %d %q %v, want 204", e.resp.Status, e.resp.Body, e.err)
		}
		// Once accessd has recorded the attempt, the 202 has been handled too.
		var attempts []access.CalloutAttempt
		rsWaitFor(t, "the callout attempt to be recorded", func() bool {
			attempts = rsCalloutAttempts(t, w, id)
			return len(attempts) > 0
		})
		got := w.waitRequest(t, id, "delivered", rsStateIs("delivered"))
		c := ext.calloutsFor(id)
		if len(c) != 1 || len(attempts) != 1 {
			t.Fatalf("%d callouts received, %d attempts recorded; want 1 and 1", len(c), len(attempts))
		}
		if a := attempts[0]; a.ResponseStatus != 202 {
			t.Errorf("recorded attempt: %+v", a)
		}
		rsWantInstance(t, got, c[0].InstanceID, "callbackReceived", "Answered at once")
		ext.wantNoProblems(t)
	})

	t.Run("deny at the created stage", func(t *testing.T) {
		const upn = "denied@contoso.test"
		id := w.submit(t, created, upn)
		c := ext.waitCallout(t, id)
		rsWantCallout(t, c, id, "assignmentRequestCreated", upn)
		resp := raw(t, w.api, "POST", emPath+"/assignmentRequests/"+id+"/resume",
			rsResumeBody(c.Stage, c.InstanceID, "Separation of duties", "denied"))
		if resp.Status != 204 || len(resp.Body) != 0 {
			t.Fatalf("deny: %d %q, want 204", resp.Status, resp.Body)
		}
		got := w.waitRequest(t, id, "denied", rsStateIs("denied"))
		if got.Status != "Denied" {
			t.Errorf("status %v, want Denied", got.Status)
		}
		if got.AssignmentID != "" {
			t.Errorf("a denied request has an assignment: %s", got.AssignmentID)
		}
		rsWantInstance(t, got, c.InstanceID, "callbackReceived", "Separation of duties")
		rsWantHistory(t, w, id, c.Stage, "Separation of duties", "denied")
		ext.wantNoProblems(t)
	})
}

// rsCalloutAttempts lists the attempts --dev mode recorded for a request.
func rsCalloutAttempts(t *testing.T, w *rsWorld, requestID string) []access.CalloutAttempt {
	t.Helper()
	all, err := w.api.ListCalloutAttempts(t.Context())
	w.must(t, err, "list callout attempts")
	var out []access.CalloutAttempt
	for _, a := range all {
		if a.RequestID == requestID {
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
	if !regexp.MustCompile(`resume request=` + requestID + ` .*accepted`).MatchString(log.String()) {
		t.Errorf("accessd did not accept the example's resume of %s:\n%s", requestID, log)
	}
}

func TestExampleExtensionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	w := rsStartWorld(t)
	addr, log := rsStartExample(t, "-accessd", w.srv.url, "-token", w.token,
		"-deny-upn-suffix", "@contractor.test", "-ignore-upn-suffix", "@slow.test")
	catalog := w.catalog(t, "Example e2e")
	extID := w.waitingExtension(t, catalog, "Example extension", "http://"+addr+"/callout")
	b := w.boundPackage(t, catalog, "Checked by the example", extID, "assignmentRequestCreated")

	t.Run("refuses callouts without accessd's callout token", func(t *testing.T) {
		// The client calls the extension here, as accessd would, with
		// no token and then with the wrong one.
		body := map[string]any{"Stage": "assignmentRequestCreated"}
		if resp := raw(t, apiClient(t, "http://"+addr, ""), "POST", "/callout", body); resp.Status != 401 {
			t.Errorf("no token: %d %s, want 401", resp.Status, resp.Body)
		}
		// An API token is signed by accessd too, but is not entitlement management's.
		if resp := raw(t, apiClient(t, "http://"+addr, w.token), "POST", "/callout", body); resp.Status != 401 {
			t.Errorf("API token: %d %s, want 401", resp.Status, resp.Body)
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
		if got.Status != "Denied" {
			t.Errorf("status %v, want Denied", got.Status)
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
		if got.State != "submitted" {
			t.Errorf("waiting: state %v, want submitted", got.State)
		}
		if !strings.Contains(log.String(), "instance="+first+" target=carol@slow.test action=ignore") {
			t.Errorf("the example did not log ignoring carol:\n%s", log)
		}

		// Pending is above 0 exactly when accessd answers 202 rather than 200.
		clock, err := w.api.AdvanceClock(t.Context(), access.MustDuration("PT6M"))
		if err != nil || clock.Pending != 0 {
			t.Fatalf("advance the clock: %v, %d pieces of work still pending", err, clock.Pending)
		}
		got = w.waitRequest(t, id, "deliveryFailed", rsStateIs("deliveryFailed"))
		if got.Status != "CallbackTimedOut" {
			t.Errorf("status %v, want CallbackTimedOut", got.Status)
		}
		rsWantInstance(t, got, first, "callbackTimedOut", "")

		if resp := raw(t, w.api, "POST", emPath+"/assignmentRequests/"+id+"/reprocess", nil); resp.Status != 202 {
			t.Fatalf("reprocess: %d %s, want 202", resp.Status, resp.Body)
		}
		rsWaitFor(t, "a second callout for carol at the example", func() bool { return len(rsLoggedInstances(log, id)) == 2 })
		second := rsLoggedInstances(log, id)[1]
		if second == first {
			t.Fatalf("reprocess sent the old instance id %s again", first)
		}
		got = w.waitRequest(t, id, "waiting again", rsWaitingOn(second))
		if got.State != "submitted" {
			t.Errorf("waiting again: state %v, want submitted", got.State)
		}
		if len(got.Callouts) != 2 {
			t.Errorf("instances after reprocess: %+v, want the old and the new", got.Callouts)
		}
		rsWantInstance(t, got, first, "callbackTimedOut", "")
	})
}
