package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/google/go-cmp/cmp"
)

// svcAdmin is who the tests are when they read or change the service
// directly, around the API: an application with ReadWrite.All, which
// every rule lets through.
var svcAdmin = access.Caller{ObjectID: "svc-admin", IsApp: true, DisplayName: "test admin", Roles: access.WriteEntitlements}

// testAPITenant is the tid of every token the test API mints.
const testAPITenant = "11111111-2222-3333-4444-555555555555"

// testAPI is the real server on a real SQLite database, reached over HTTP,
// with the built-in issuer minting its tokens.
type testAPI struct {
	URL   string // the server's base URL, also its public URL
	Store *sqlstore.Store
	// Txs counts the transactions the service runs (the test's own calls to
	// Store are not counted).
	Txs    *countingStore
	Svc    *access.Service
	Issuer *identity.Issuer
	Server *Server
	client *http.Client
}

// newTestAPI starts a server on a fresh database in t.TempDir; everything is
// closed when the test ends. edit, if given, changes the server's Config.
func newTestAPI(t testing.TB, edit ...func(*Config)) *testAPI {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// SQLite, or PostgreSQL when ACCESSD_TEST_STORE=postgres.
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: quiet})
	clock := access.SystemClock{}
	keys, err := identity.LoadKeys(ctx, store, clock)
	if err != nil {
		t.Fatalf("load keys: %v", err)
	}

	// The public URL must be known before the server is built, so the
	// listener is opened first and the handler reads the server once built.
	var api *Server
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.ServeHTTP(w, r)
	}))
	base := "http://" + ts.Listener.Addr().String()
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: base, TenantID: testAPITenant, Keys: keys, Clock: clock})
	counted := &countingStore{Store: store}
	svc := access.NewService(counted, clock, &access.TimeOrderedIDs{Clock: clock})
	cfg := Config{
		Service:             svc,
		Auth:                issuer,
		PublicURL:           base,
		Logger:              quiet,
		Clock:               clock,
		IDs:                 &access.TimeOrderedIDs{Clock: clock},
		OpenIDConfiguration: issuer.Discovery,
		JWKS:                issuer.JWKS,
		JWKSPath:            identity.JWKSPath,
	}
	for _, e := range edit {
		e(&cfg)
	}
	api = NewServer(cfg)
	ts.Start()
	t.Cleanup(ts.Close)
	if ts.URL != base {
		t.Fatalf("test server URL %s, expected %s", ts.URL, base)
	}
	return &testAPI{URL: base, Store: store, Txs: counted, Svc: svc, Issuer: issuer, Server: api, client: ts.Client()}
}

// countingStore counts the read and write transactions run through it.
type countingStore struct {
	access.Store
	updates, views atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(access.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *countingStore) View(ctx context.Context, fn func(access.Tx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// counts reads both counters.
func (c *countingStore) counts() (updates, views int64) { return c.updates.Load(), c.views.Load() }

// appToken mints an application token with the given application
// permissions (roles) for the service principal "test-app", created in the
// directory when absent, as `accessd token --app` does.
func (a *testAPI) appToken(t testing.TB, roles ...string) string {
	t.Helper()
	return a.appTokenNamed(t, "test-app", roles...)
}

// appTokenNamed is appToken for a service principal of another name.
func (a *testAPI) appTokenNamed(t testing.TB, name string, roles ...string) string {
	t.Helper()
	sp, err := a.Svc.EnsureServicePrincipal(context.Background(), name)
	if err != nil {
		t.Fatalf("ensure service principal %q: %v", name, err)
	}
	tok, err := a.Issuer.MintApp(sp, roles, time.Hour)
	if err != nil {
		t.Fatalf("mint app token: %v", err)
	}
	return tok
}

// userToken mints a delegated token with the given scopes for an existing
// user, named by id or userPrincipalName.
func (a *testAPI) userToken(t testing.TB, idOrUPN string, scopes ...string) string {
	t.Helper()
	u, err := a.Svc.User(context.Background(), idOrUPN)
	if err != nil {
		t.Fatalf("user %q for a token: %v", idOrUPN, err)
	}
	tok, err := a.Issuer.MintUser(u, scopes, time.Hour)
	if err != nil {
		t.Fatalf("mint user token: %v", err)
	}
	return tok
}

// grant gives a principal a role straight through the Service, as an
// application with ReadWrite.All would through the API: on a catalog, or
// tenant-wide (Catalog creator, Identity Governance Administrator) when
// catalogID is "".
func (a *testAPI) grant(t testing.TB, principalID, roleID, catalogID string) {
	t.Helper()
	def, ok := access.RoleDefinitionByID(roleID)
	if !ok {
		t.Fatalf("no role %q", roleID)
	}
	in := access.RoleAssignmentInput{PrincipalID: principalID, RoleDefinitionID: roleID}
	if catalogID != "" {
		scope := access.CatalogRoleScope(catalogID)
		in.AppScopeID = &scope
	} else {
		root := "/"
		in.DirectoryScopeID = &root
	}
	if _, err := a.Svc.CreateRoleAssignment(context.Background(), svcAdmin, def.Directory, in); err != nil {
		t.Fatalf("grant %s to %s: %v", def.DisplayName, principalID, err)
	}
}

// newUser stores a user straight through the Service, for tests that need
// one without going through the API.
func (a *testAPI) newUser(t testing.TB, upn string) access.User {
	t.Helper()
	name, _, _ := strings.Cut(upn, "@")
	u, err := a.Svc.CreateUser(context.Background(), access.User{DisplayName: name, UserPrincipalName: upn, AccountEnabled: true})
	if err != nil {
		t.Fatalf("create user %q: %v", upn, err)
	}
	return u
}

// request builds a request to path (relative to the server, or an absolute
// URL such as an @odata.nextLink). body may be nil (no body), a string or
// []byte (sent as is) or anything else (sent as JSON). A body is sent with
// Content-Type application/json; change the header for other cases.
func (a *testAPI) request(t testing.TB, method, path, token string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("encode request body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = a.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// send sends req and decodes a JSON object answer (nil for an empty body).
// The response body stays readable: it is buffered and can be read again.
func (a *testAPI) send(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read answer of %s %s: %v", req.Method, req.URL, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	if resp.Header.Get("request-id") == "" || resp.Header.Get("client-request-id") == "" {
		t.Errorf("%s %s: answer lacks request-id or client-request-id headers: %v", req.Method, req.URL, resp.Header)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp, nil
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatalf("%s %s: answer %d is not a JSON object: %v\n%s", req.Method, req.URL, resp.StatusCode, err, raw)
	}
	return resp, obj
}

// do sends one request and decodes the answer; see request for body.
func (a *testAPI) do(t testing.TB, method, path, token string, body any) (*http.Response, map[string]any) {
	t.Helper()
	return a.send(t, a.request(t, method, path, token, body))
}

// bodyOf returns the buffered body of a response from send, for messages.
func bodyOf(resp *http.Response) string {
	raw, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	return string(raw)
}

// wantStatus fails the test unless resp has the status, showing the body.
func wantStatus(t testing.TB, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, status, bodyOf(resp))
	}
}

// wantError checks a Graph error answer: the status, the code, a message,
// and an innerError whose request-id and client-request-id equal the
// headers. It returns the message, for tests that check what it names.
func wantError(t testing.TB, resp *http.Response, status int, code string) string {
	t.Helper()
	wantStatus(t, resp, status)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q, want application/json", ct)
	}
	var env struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Date            string `json:"date"`
				RequestID       string `json:"request-id"`
				ClientRequestID string `json:"client-request-id"`
			} `json:"innerError"`
		} `json:"error"`
	}
	body := bodyOf(resp)
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("error body is not the Graph envelope: %v\n%s", err, body)
	}
	e := env.Error
	if e.Code != code {
		t.Errorf("error code %q, want %q (message %q)", e.Code, code, e.Message)
	}
	if e.Message == "" {
		t.Errorf("error message is empty")
	}
	if e.InnerError == nil {
		t.Fatalf("error has no innerError: %s", body)
	}
	if _, err := time.Parse("2006-01-02T15:04:05", e.InnerError.Date); err != nil {
		t.Errorf("innerError.date %q: %v", e.InnerError.Date, err)
	}
	if id := resp.Header.Get("request-id"); id == "" || e.InnerError.RequestID != id {
		t.Errorf("innerError.request-id %q, header request-id %q", e.InnerError.RequestID, id)
	}
	if id := resp.Header.Get("client-request-id"); id == "" || e.InnerError.ClientRequestID != id {
		t.Errorf("innerError.client-request-id %q, header client-request-id %q", e.InnerError.ClientRequestID, id)
	}
	return e.Message
}

// wantMessage fails the test unless msg contains every one of parts.
func wantMessage(t testing.TB, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q does not contain %q", msg, p)
		}
	}
}

// create POSTs body to path, wants 201, and returns the answer and its id.
func (a *testAPI) create(t testing.TB, token, path string, body any) (map[string]any, string) {
	t.Helper()
	resp, got := a.do(t, http.MethodPost, path, token, body)
	wantStatus(t, resp, http.StatusCreated)
	id, _ := got["id"].(string)
	if id == "" {
		t.Fatalf("POST %s answered no id: %v", path, got)
	}
	return got, id
}

// get GETs path, wants 200, and returns the answer.
func (a *testAPI) get(t testing.TB, token, path string) map[string]any {
	t.Helper()
	resp, got := a.do(t, http.MethodGet, path, token, nil)
	wantStatus(t, resp, http.StatusOK)
	return got
}

// noContent sends a request that must answer 204 with an empty body.
func (a *testAPI) noContent(t testing.TB, method, path, token string, body any) {
	t.Helper()
	resp, got := a.do(t, method, path, token, body)
	wantStatus(t, resp, http.StatusNoContent)
	if got != nil {
		t.Errorf("%s %s: 204 with a body: %v", method, path, got)
	}
}

// wantJSON compares decoded JSON objects, showing the difference.
func wantJSON(t testing.TB, what string, got, want map[string]any) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

// with copies m and sets the key/value pairs kv on the copy.
func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m)+len(kv)/2)
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

// valueIDs lists the ids of a collection answer's items, in order.
func valueIDs(t testing.TB, list map[string]any) []string {
	t.Helper()
	value, ok := list["value"].([]any)
	if !ok {
		t.Fatalf("answer has no value array: %v", list)
	}
	out := []string{}
	for i, v := range value {
		obj, _ := v.(map[string]any)
		id, ok := obj["id"].(string)
		if !ok {
			t.Fatalf("value[%d] has no id: %v", i, v)
		}
		out = append(out, id)
	}
	return out
}

// sortedKeys lists an object's property names in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
