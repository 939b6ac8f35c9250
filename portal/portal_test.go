package portal_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/portal"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The portal's tests run it over the real API (graph), service and store
// on a real port, as cmd/accessd wires them, and talk to it as a browser
// does: cookies, forms, redirects.

type world struct {
	url       string
	admin     *client.Client // an application with every permission
	svc       *access.Service
	alice     access.User // requests; no role
	bob       access.User // approves; no role
	carol     access.User // Catalog owner
	catalogID string
	pkgID     string
	policyID  string
	questionI string
}

func start(t *testing.T, configure func(*portal.Config)) *world {
	t.Helper()
	return startRecording(t, configure, true)
}

// startRecording is start, with callout attempts recorded (as
// --record-callouts) or not.
func startRecording(t *testing.T, configure func(*portal.Config), record bool) *world {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, storetest.DSN(t, storetest.Backend()), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	clock := access.SystemClock{}
	ids := &access.TimeOrderedIDs{Clock: clock}
	svc := access.NewService(store, clock, ids)
	svc.RecordCallouts(record) // as --record-callouts; before the API is built, whose route depends on it
	keys, err := identity.LoadKeys(ctx, store, clock)
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: srv.URL, TenantID: "tenant", Keys: keys, Clock: clock})
	api := graph.NewServer(graph.Config{Service: svc, Auth: identity.NewVerifier(issuer, nil), PublicURL: srv.URL, Clock: clock, IDs: ids, Logger: slog.New(slog.DiscardHandler),
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath})
	cfg := portal.Config{API: api, PublicURL: srv.URL, Dev: &portal.DevSignIn{
		Users: func(ctx context.Context) ([]portal.Person, error) {
			users, _, err := svc.Users(ctx, access.Page{Limit: 100})
			var out []portal.Person
			for _, u := range users {
				out = append(out, portal.Person{ID: u.ID, Name: u.DisplayName, UPN: u.UserPrincipalName})
			}
			return out, err
		},
		Mint: func(ctx context.Context, id string) (string, time.Time, error) {
			u, err := svc.User(ctx, id)
			if err != nil {
				return "", time.Time{}, err
			}
			tok, err := issuer.MintUser(u, []string{access.SubjectAccess, "EntitlementManagement.ReadWrite.All"}, time.Hour)
			return tok, time.Now().Add(time.Hour), err
		},
	}}
	if configure != nil {
		configure(&cfg)
	}
	p, err := portal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/portal") {
			p.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})

	sp, err := svc.EnsureServicePrincipal(ctx, "portal-test")
	if err != nil {
		t.Fatal(err)
	}
	appToken, err := issuer.MintApp(sp, []string{"EntitlementManagement.ReadWrite.All", "Directory.ReadWrite.All"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(client.Config{BaseURL: srv.URL, Token: appToken})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{url: srv.URL, admin: admin, svc: svc}
	w.alice = w.user(t, "alice", "Alice Requestor")
	w.bob = w.user(t, "bob", "Bob Approver")
	cat, err := admin.CreateCatalog(ctx, access.Catalog{DisplayName: "Engineering"})
	if err != nil {
		t.Fatal(err)
	}
	w.catalogID = cat.ID
	// Carol owns the catalog; Alice and Bob have no role on it: what the
	// pages show them comes with their requests and approvals.
	w.carol = w.user(t, "carol", "Carol Owner")
	err = admin.Do(ctx, http.MethodPost, "/v1.0/roleManagement/entitlementManagement/roleAssignments", map[string]any{
		"roleDefinitionId": access.RoleCatalogOwner, "principalId": w.carol.ID, "appScopeId": "/AccessPackageCatalog/" + cat.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := admin.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Build servers", CatalogID: cat.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.pkgID = pkg.ID
	var policy struct {
		ID        string `json:"id"`
		Questions []struct {
			ID string `json:"id"`
		} `json:"questions"`
	}
	err = admin.Do(ctx, http.MethodPost, "/v1.0/identityGovernance/entitlementManagement/assignmentPolicies", map[string]any{
		"displayName": "Engineers", "accessPackage": map[string]any{"id": pkg.ID}, "allowedTargetScope": "allMemberUsers",
		"requestorSettings": map[string]any{"enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": true},
		"requestApprovalSettings": map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{map[string]any{
			"durationBeforeAutomaticDenial": "P7D",
			"primaryApprovers":              []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": w.bob.ID}}}}},
		"questions": []any{map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "sequence": 1,
			"isRequired": true, "text": "Which project?", "isSingleLineQuestion": true}},
	}, &policy)
	if err != nil {
		t.Fatal(err)
	}
	w.policyID, w.questionI = policy.ID, policy.Questions[0].ID
	return w
}

func (w *world) user(t *testing.T, nick, name string) access.User {
	t.Helper()
	u, err := w.admin.CreateUser(context.Background(), access.User{AccountEnabled: true, DisplayName: name, MailNickname: nick,
		UserPrincipalName: nick + "@contoso.example"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is a cookie-keeping client that does not follow redirects, so
// that tests see each 303.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func (b *browser) post(path string, form url.Values, header ...string) (int, string, string) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page has no CSRF field:\n%s", page)
	}
	return m[1]
}

// signIn signs the browser in as u through the --dev picker.
func (b *browser) signIn(u access.User) string {
	b.t.Helper()
	_, page, _ := b.get("/portal/signin")
	status, loc, body := b.post("/portal/signin", url.Values{"csrf": {csrfOf(b.t, page)}, "user": {u.ID}})
	if status != http.StatusSeeOther || loc != "/portal/" {
		b.t.Fatalf("sign in: %d %s %s", status, loc, body)
	}
	_, page, _ = b.get("/portal/")
	return csrfOf(b.t, page)
}

func TestWithoutSignInThePortalSaysHowToEnableIt(t *testing.T) {
	w := start(t, func(c *portal.Config) { c.Dev = nil })
	status, page, _ := newBrowser(t, w.url).get("/portal/")
	if status != http.StatusOK || !strings.Contains(page, "Sign-in is not enabled") || !strings.Contains(page, "--oidc-client-id") || !strings.Contains(page, "--dev") {
		t.Fatalf("%d:\n%s", status, page)
	}
	if strings.Contains(page, `action="/portal/signin"`) {
		t.Error("the user picker is offered without --dev")
	}
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		publicURL  string
		wantSecure bool
	}{{"http://127.0.0.1:8080", false}, {"https://accessd.example", true}} {
		t.Run(tc.publicURL, func(t *testing.T) {
			w := start(t, nil)
			// The portal of another public URL, over the same API handler.
			p, err := portal.New(portal.Config{API: http.NotFoundHandler(), PublicURL: tc.publicURL})
			if err != nil {
				t.Fatal(err)
			}
			_ = w
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/portal/", nil))
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v", cookies)
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != tc.wantSecure || c.Path != "/portal" || len(c.Value) < 40 {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Lax, Secure=%t, Path=/portal and a long random value", c, tc.wantSecure)
			}
			if got := rec.Header().Get("Content-Security-Policy"); !strings.Contains(got, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy %q", got)
			}
		})
	}
}

func TestFormsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	w := start(t, nil)
	b := newBrowser(t, w.url)
	_, page, _ := b.get("/portal/signin")
	for _, csrf := range []string{"", "not-the-token"} {
		if status, _, _ := b.post("/portal/signin", url.Values{"csrf": {csrf}, "user": {w.alice.ID}}); status != http.StatusForbidden {
			t.Errorf("sign-in with csrf %q: %d, want 403", csrf, status)
		}
	}
	// A token from another browser's session is no good either.
	other := newBrowser(t, w.url)
	_, otherPage, _ := other.get("/portal/signin")
	if status, _, _ := b.post("/portal/signin", url.Values{"csrf": {csrfOf(t, otherPage)}, "user": {w.alice.ID}}); status != http.StatusForbidden {
		t.Errorf("sign-in with another session's token: %d, want 403", status)
	}
	// A form posted from another site is refused even with the token.
	if status, _, _ := b.post("/portal/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {w.alice.ID}}, "Sec-Fetch-Site", "cross-site"); status != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d, want 403", status)
	}

	// Signed in, a request without the token changes nothing.
	csrf := b.signIn(w.alice)
	status, _, _ := b.post("/portal/request/"+w.pkgID, url.Values{"policy": {w.policyID}, "q-" + w.policyID + "-" + w.questionI: {"Apollo"}})
	if status != http.StatusForbidden {
		t.Errorf("request without csrf: %d, want 403", status)
	}
	reqs, err := w.admin.ListRequests(context.Background(), "")
	if err != nil || len(reqs) != 0 {
		t.Fatalf("after a refused form: requests %v, %v", reqs, err)
	}
	if status, _, _ := b.post("/portal/signout", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
		t.Errorf("sign out: %d", status)
	}
	if _, page, _ := b.get("/portal/"); !strings.Contains(page, "Development mode: choose a user") {
		t.Error("after signing out, /portal/ does not offer sign-in")
	}
}

func TestPagesRenderForASignedInUser(t *testing.T) {
	w := start(t, nil)
	b := newBrowser(t, w.url)
	b.signIn(w.alice)
	for _, tc := range []struct{ path, want string }{
		{"/portal/", "Build servers"},
		{"/portal/?q=build", "Build servers"},
		{"/portal/request/" + w.pkgID, "Which project?"},
		{"/portal/approvals", "Nothing is waiting for your decision"},
		{"/portal/approvals", "You have decided no approvals yet"},
		{"/portal/admin", "No catalogs"}, // Alice has no role
	} {
		status, page, _ := b.get(tc.path)
		if status != http.StatusOK || !strings.Contains(page, tc.want) || !strings.Contains(page, "Alice Requestor") {
			t.Errorf("GET %s: %d, want 200 naming Alice and %q:\n%s", tc.path, status, tc.want, page)
		}
	}
	if _, page, _ := b.get("/portal/?q=nothing-matches"); strings.Contains(page, "/portal/request/"+w.pkgID) {
		t.Error("a search for something else still lists the package")
	}
}

func TestARequestFormPostsToTheAPIAsTheUser(t *testing.T) {
	w := start(t, nil)
	alice := newBrowser(t, w.url)
	csrf := alice.signIn(w.alice)
	status, loc, body := alice.post("/portal/request/"+w.pkgID, url.Values{"csrf": {csrf}, "policy": {w.policyID},
		"justification": {"nightly builds"}, "q-" + w.policyID + "-" + w.questionI: {"Apollo"}})
	if status != http.StatusSeeOther || loc != "/portal/" {
		t.Fatalf("submit: %d %s %s", status, loc, body)
	}
	reqs, err := w.admin.ListRequests(context.Background(), "")
	if err != nil || len(reqs) != 1 {
		t.Fatalf("requests %v, %v", reqs, err)
	}
	r := reqs[0]
	if r.Requestor.ID != w.alice.ID || r.Type != access.RequestUserAdd || r.Justification != "nightly builds" || r.State != access.StatePendingApproval ||
		len(r.Answers) != 1 || r.Answers[0].Value != "Apollo" {
		t.Fatalf("the API has %+v", r)
	}
	if _, page, _ := alice.get("/portal/"); !strings.Contains(page, "Requested Build servers") || !strings.Contains(page, "Pending approval") {
		t.Errorf("My Access after the request:\n%s", page)
	}

	// Bob decides in his own session; Alice, who is no approver, cannot.
	if status, _, _ := alice.post("/portal/approvals/"+r.ID+"/stages/x", url.Values{"csrf": {csrf}, "decision": {"Approve"}}); status != http.StatusSeeOther {
		t.Fatalf("alice's decision: %d", status)
	}
	if _, page, _ := alice.get("/portal/approvals"); !strings.Contains(page, "Not done:") {
		t.Errorf("the API's refusal of Alice's decision is not shown:\n%s", page)
	}
	bob := newBrowser(t, w.url)
	bob.signIn(w.bob)
	_, page, _ := bob.get("/portal/approvals")
	if !strings.Contains(page, "nightly builds") || !strings.Contains(page, "Which project?") || !strings.Contains(page, "Apollo") {
		t.Fatalf("Bob's approvals:\n%s", page)
	}
	action := regexp.MustCompile(`action="(/portal/approvals/[^"]+)"`).FindStringSubmatch(page)
	if action == nil {
		t.Fatalf("no decision form:\n%s", page)
	}
	if status, _, _ := bob.post(action[1], url.Values{"csrf": {csrfOf(t, page)}, "decision": {"Deny"}, "justification": {"not this quarter"}}); status != http.StatusSeeOther {
		t.Fatalf("deny: %d", status)
	}
	got, err := w.admin.GetRequest(context.Background(), r.ID)
	if err != nil || got.State != access.StateDenied {
		t.Fatalf("after Bob's denial the API has %+v, %v", got.State, err)
	}
}

func TestTheAPIsRefusalIsShown(t *testing.T) {
	w := start(t, nil)
	b := newBrowser(t, w.url)
	csrf := b.signIn(w.alice)
	// The required answer is missing: the API refuses, the page says why.
	status, loc, _ := b.post("/portal/request/"+w.pkgID, url.Values{"csrf": {csrf}, "policy": {w.policyID}})
	if status != http.StatusSeeOther {
		t.Fatalf("submit: %d", status)
	}
	_, page, _ := b.get(loc)
	if !strings.Contains(page, "Not done:") || !strings.Contains(page, "Which project?") {
		t.Errorf("the refusal is not shown:\n%s", page)
	}
}

func TestAnExpiredTokenEndsTheSession(t *testing.T) {
	w := start(t, func(c *portal.Config) {
		mint := c.Dev.Mint
		c.Dev.Mint = func(ctx context.Context, id string) (string, time.Time, error) {
			tok, _, err := mint(ctx, id)
			return tok + "x", time.Now().Add(time.Hour), err // a token the API will not accept
		}
	})
	b := newBrowser(t, w.url)
	_, page, _ := b.get("/portal/signin")
	b.post("/portal/signin", url.Values{"csrf": {csrfOf(t, page)}, "user": {w.alice.ID}})
	if _, page, _ := b.get("/portal/"); !strings.Contains(page, "Your session has ended") {
		t.Errorf("a token the API refuses should end the session:\n%s", page)
	}
}
