package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/engine"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// The tests drive a real accessd: the service on a fresh database (SQLite,
// or PostgreSQL when ACCESSD_TEST_STORE=postgres), the API in --dev mode
// behind httptest, and the engine sending callouts, wired as
// `accessd serve --dev` wires them. Nothing of the server is faked.

// world is one running accessd.
type world struct {
	URL    string // its base URL, also its public URL
	Svc    *access.Service
	issuer *identity.Issuer
	token  string // an application token that may call everything the client calls
}

// signer lets the engine sign callout tokens with the issuer's key.
type signer struct{ issuer *identity.Issuer }

func (s signer) Sign(claims map[string]any) (string, error) {
	return s.issuer.Sign(jwt.MapClaims(claims))
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: quiet})
	// Tokens live on the machine's clock, so moving the virtual clock never expires them.
	keys, err := identity.LoadKeys(ctx, store, access.SystemClock{})
	if err != nil {
		t.Fatalf("load keys: %v", err)
	}
	clock := &access.VirtualClock{Base: access.SystemClock{}}
	ids := &access.TimeOrderedIDs{Clock: clock}
	svc := access.NewService(store, clock, ids)
	svc.RecordCallouts(true)

	// The public URL must be known before the server is built, so the
	// listener is opened first and the handler reads the server once built.
	var api *graph.Server
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	base := "http://" + ts.Listener.Addr().String()
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: base, TenantID: "11111111-2222-3333-4444-555555555555",
		Keys: keys, Clock: access.SystemClock{}})

	eng := engine.New(engine.Config{Service: svc, Signer: signer{issuer}, Issuer: base, Clock: clock,
		TokenClock: access.SystemClock{}, IDs: ids, Logger: quiet, Workers: 8,
		AllowPrivate: true}) // the tests' extensions listen on loopback
	svc.OnWork(eng.Wake)
	engineCtx, stopEngine := context.WithCancel(context.Background())
	engineDone := make(chan struct{})
	go func() { eng.Run(engineCtx); close(engineDone) }()
	t.Cleanup(func() { stopEngine(); <-engineDone })

	api = graph.NewServer(graph.Config{
		Service: svc, Auth: issuer, PublicURL: base, Logger: quiet, Clock: clock, IDs: ids,
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath,
		Dev: true, PauseWork: eng.Pause,
	})
	ts.Start()
	t.Cleanup(ts.Close)

	w := &world{URL: base, Svc: svc, issuer: issuer}
	w.token = w.appToken(t, "client-test", "EntitlementManagement.ReadWrite.All", "Directory.ReadWrite.All")
	return w
}

// appToken mints an application token for the service principal name,
// created when absent, as `accessd token --app` does.
func (w *world) appToken(t *testing.T, name string, roles ...string) string {
	t.Helper()
	sp, err := w.Svc.EnsureServicePrincipal(context.Background(), name)
	if err != nil {
		t.Fatalf("service principal %q: %v", name, err)
	}
	tok, err := w.issuer.MintApp(sp, roles, time.Hour)
	if err != nil {
		t.Fatalf("mint a token: %v", err)
	}
	return tok
}

// userToken mints a delegated token for the user u with scopes, as
// `accessd token --user` does.
func (w *world) userToken(t *testing.T, u access.User, scopes ...string) string {
	t.Helper()
	tok, err := w.issuer.MintUser(u, scopes, time.Hour)
	if err != nil {
		t.Fatalf("mint a token: %v", err)
	}
	return tok
}

// client is a client of the world with its token; change, when not nil,
// edits the configuration first.
// makeGovernanceAdmin gives a user the Identity Governance Administrator
// role, as an application with ReadWrite.All would.
func (w *world) makeGovernanceAdmin(t *testing.T, userID string) {
	t.Helper()
	root := "/"
	app := access.Caller{ObjectID: "harness", IsApp: true, Roles: access.WriteEntitlements}
	if _, err := w.Svc.CreateRoleAssignment(context.Background(), app, true, access.RoleAssignmentInput{
		PrincipalID: userID, RoleDefinitionID: access.RoleIdentityGovernanceAdministrator, DirectoryScopeID: &root}); err != nil {
		t.Fatal(err)
	}
}

func (w *world) client(t *testing.T, change func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{BaseURL: w.URL, Token: w.token}
	if change != nil {
		change(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// ok stops the test on an error.
func ok(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// extension takes callouts on a real port: it answers 202 at once, as a
// Logic App does, and hands each payload to the test.
type extension struct {
	URL      string
	callouts chan access.CalloutPayload
}

func newExtension(t *testing.T) *extension {
	t.Helper()
	x := &extension{callouts: make(chan access.CalloutPayload, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p access.CalloutPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		x.callouts <- p
	}))
	t.Cleanup(srv.Close)
	x.URL = srv.URL + "/callout"
	return x
}

// next waits for the next callout.
func (x *extension) next(t *testing.T) access.CalloutPayload {
	t.Helper()
	select {
	case p := <-x.callouts:
		return p
	case <-time.After(30 * time.Second):
		t.Fatal("no callout reached the extension within 30 s")
		return access.CalloutPayload{}
	}
}

// waitingExtension is a launch-and-wait request extension calling x.
func waitingExtension(x *extension) access.CustomExtension {
	return access.CustomExtension{
		Type:           access.RequestWorkflowExtension,
		DisplayName:    "SoD check",
		Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: x.URL},
		Authentication: access.Authentication{Type: access.PopTokenAuthentication},
		Callback:       &access.CallbackConfiguration{TimeoutDuration: access.MustDuration("PT1H")},
	}
}

// fixture is a catalog with a package and a policy that lets admins assign
// the package to any member user for 30 days, without approval.
type fixture struct {
	catalog, pkg, policy string
}

// newFixture builds a fixture through the client. With an extension id,
// the policy binds it at stage.
func newFixture(t *testing.T, c *client.Client, extensionAt func(catalogID string) (stage access.Stage, extensionID string)) fixture {
	t.Helper()
	ctx := context.Background()
	cat, err := c.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	ok(t, err, "CreateCatalog")
	pkg, err := c.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Sales tools", CatalogID: cat.ID})
	ok(t, err, "CreateAccessPackage")
	body := map[string]any{
		"displayName":        "Employees, 30 days",
		"accessPackage":      map[string]any{"id": pkg.ID},
		"allowedTargetScope": "allMemberUsers",
		"expiration":         map[string]any{"type": "afterDuration", "duration": "P30D"},
	}
	if extensionAt != nil {
		stage, ext := extensionAt(cat.ID)
		body["customExtensionStageSettings"] = []any{map[string]any{"stage": stage, "customExtension": map[string]any{"id": ext}}}
	}
	pol, err := c.CreateAssignmentPolicy(ctx, body)
	ok(t, err, "CreateAssignmentPolicy")
	return fixture{catalog: cat.ID, pkg: pkg.ID, policy: pol.ID}
}

// newUser creates a member user through the client.
func newUser(t *testing.T, c *client.Client, upn string) access.User {
	t.Helper()
	u, err := c.CreateUser(context.Background(), access.User{DisplayName: upn, UserPrincipalName: upn, AccountEnabled: true})
	ok(t, err, "CreateUser "+upn)
	return u
}

// addFor is an adminAdd request for target under the fixture's policy.
func (f fixture) addFor(target string) access.RequestInput {
	return access.RequestInput{Type: access.RequestAdminAdd, AccessPackageID: f.pkg, PolicyID: f.policy, TargetID: target,
		Justification: "needed for work"}
}

// recorder is a transport that notes every call it sends on, so that a
// test can see what went over the wire: headers, and the body as sent.
type recorder struct {
	mu     sync.Mutex
	calls  []*http.Request // clones, with Body replaced by bodies[i]
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.calls = append(r.calls, req.Clone(req.Context()))
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(sent)
}

// count is how many calls went out.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

// last is the latest call and its body as sent.
func (r *recorder) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("no call went out")
	}
	return r.calls[len(r.calls)-1], r.bodies[len(r.bodies)-1]
}
