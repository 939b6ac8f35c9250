package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// findBrowser is the Chromium (or Chrome) the tests drive:
// ACCESSD_E2E_BROWSER, else the first of the usual names on PATH. Without
// one the tests skip, saying how to install it; under CI=true they fail,
// as CI installs it (.ci/run).
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ACCESSD_E2E_BROWSER"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no browser for the portal's browser tests: install Debian's chromium (apt-get install chromium) or set ACCESSD_E2E_BROWSER to a Chromium or Chrome binary"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// shots is where screenshots go: ACCESSD_E2E_SCREENSHOTS, else a directory
// under the system's temporary one that outlives the test, named in its
// log. ACCESSD_E2E_DOCS=1 also writes them into docs/portal/.
type shots struct {
	dir, docs string
}

func newShots(t *testing.T) shots {
	t.Helper()
	dir := os.Getenv("ACCESSD_E2E_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "accessd-e2e-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := shots{dir: dir}
	if os.Getenv("ACCESSD_E2E_DOCS") == "1" {
		s.docs = filepath.Join(repoRoot(t), "docs", "portal")
	}
	t.Logf("screenshots in %s", dir)
	return s
}

func (s shots) save(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	for _, dir := range []string{s.dir, s.docs} {
		if dir == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startBrowser starts one headless Chromium with one tab, in which people
// take turns: each signs in, acts and signs out, as on a shared machine.
// (Separate browser contexts per person would isolate cookies too, but
// chromedp v0.23.1 cannot evaluate scripts in them.)
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// The first run starts the browser; it lives until the test ends.
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return tab
}

// do runs steps with a bound, failing the test with what the page showed.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\nthe page said:\n%s", what, err, text)
	}
}

// textOf is the visible text of the first element matching css.
func textOf(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("read %s: %v", css, err)
	}
	return s
}

// waitText waits until the element's text contains want, reloading never:
// the page must get there by itself (the portal's live refresh) or already
// be there.
func waitText(t *testing.T, ctx context.Context, css, want string) {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.innerText.includes(%q); })()`, css, want)
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(55*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("waiting for %q in %s: %v\nthe page said:\n%s", want, css, err, got)
	}
}

// signOut ends the session with the header's button.
func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.ID("user")))
}

// signIn signs in through the --dev user picker.
func signIn(t *testing.T, ctx context.Context, base, userID string) {
	t.Helper()
	do(t, ctx, "sign in as "+userID,
		chromedp.Navigate(base+"/portal/"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SetValue(chromedp.ID("user"), userID),
		chromedp.Click(chromedp.CSS(`form[action="/portal/signin"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Portal"]`)),
	)
}

// world is what the walk seeds through the API with an application token.
type world struct {
	requestor, approver, admin string
	catalog, pkg, policy       string
	extension                  string
}

const (
	packageName   = "Build servers"
	extensionName = "Provisioner"
)

func seed(t *testing.T, a api, extURL string) world {
	t.Helper()
	var w world
	user := func(nick, name string) string {
		return a.create(t, "/v1.0/users", map[string]any{"accountEnabled": true, "displayName": name, "mailNickname": nick,
			"userPrincipalName": nick + "@contoso.example", "mail": nick + "@contoso.example"})
	}
	w.requestor = user("alice", "Alice Requestor")
	w.approver = user("bob", "Bob Approver")
	w.admin = user("carol", "Carol Admin")
	// Carol administers entitlement management. Where the API has roles
	// (authorization), she holds Identity Governance Administrator; where
	// it has none yet (404), the permission alone decides.
	err := a.call(http.MethodPost, "/v1.0/roleManagement/directory/roleAssignments", map[string]any{
		"roleDefinitionId": "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e", "principalId": w.admin, "directoryScopeId": "/"}, nil)
	if e, ok := err.(*apiError); err != nil && (!ok || e.status != http.StatusNotFound) {
		t.Fatalf("make carol an administrator: %v", err)
	}

	const em = "/v1.0/identityGovernance/entitlementManagement"
	w.catalog = a.create(t, em+"/catalogs", map[string]any{"displayName": "Engineering", "description": "Tools of the engineering teams"})
	// Alice and Bob hold no role on the catalog: the question texts and the
	// extension's name they see come with their requests and approvals.
	w.extension = a.create(t, em+"/catalogs/"+w.catalog+"/customWorkflowExtensions", map[string]any{
		"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName": extensionName, "description": "Creates the account on the build farm",
		"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": extURL},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		"callbackConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.customExtensionCallbackConfiguration", "timeoutDuration": "PT1H"},
	})
	w.pkg = a.create(t, em+"/accessPackages", map[string]any{"displayName": packageName,
		"description": "SSH access to the build farm", "catalog": map[string]any{"id": w.catalog}})
	a.create(t, em+"/accessPackages", map[string]any{"displayName": "Design files",
		"description": "Read access to the design share", "catalog": map[string]any{"id": w.catalog}})
	w.policy = a.create(t, em+"/assignmentPolicies", map[string]any{
		"displayName": "Engineers", "description": "Any member may ask; Bob approves",
		"accessPackage":      map[string]any{"id": w.pkg},
		"allowedTargetScope": "allMemberUsers",
		"expiration":         map[string]any{"type": "afterDuration", "duration": "P90D"},
		"requestorSettings": map[string]any{"enableTargetsToSelfAddAccess": true, "enableTargetsToSelfUpdateAccess": true,
			"enableTargetsToSelfRemoveAccess": true},
		"requestApprovalSettings": map[string]any{"isApprovalRequiredForAdd": true, "isRequestorJustificationRequired": true,
			"stages": []any{map[string]any{"durationBeforeAutomaticDenial": "P7D", "isApproverJustificationRequired": true,
				"primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": w.approver}}}}},
		"questions": []any{
			map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "sequence": 1, "isRequired": true,
				"text": "Which project do you build?", "isSingleLineQuestion": true},
			map[string]any{"@odata.type": "#microsoft.graph.accessPackageMultipleChoiceQuestion", "sequence": 2, "isRequired": true,
				"text": "Which region?", "choices": []any{
					map[string]any{"actualValue": "eu", "text": "Europe"},
					map[string]any{"actualValue": "us", "text": "Americas"}}},
		},
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestApproved",
			"customExtension": map[string]any{"id": w.extension}}},
	})
	return w
}

// TestPortalWalk walks the whole flow through the portal alone: Alice
// requests, Bob approves, the extension is called and resumes, Alice sees
// her access delivered, and Carol sees the callout and the audit trail.
func TestPortalWalk(t *testing.T) {
	path := findBrowser(t)
	bin := buildAccessd(t)
	srv := startAccessd(t, bin)
	app := api{base: srv.url, token: srv.token(t, "--app", "e2e-seeder", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")}
	ext := startExtension(t)
	w := seed(t, app, ext.url)
	tab := startBrowser(t, path)
	shot := newShots(t)

	// Alice signs in and requests the package.
	alice := tab
	do(t, alice, "open the portal", chromedp.Navigate(srv.url+"/portal/"), chromedp.WaitVisible(chromedp.ID("user")))
	checkPage(t, alice, "sign-in")
	shot.save(t, alice, "01-sign-in")
	signIn(t, alice, srv.url, w.requestor)
	if got := textOf(t, alice, "#packages"); !strings.Contains(got, packageName) {
		t.Fatalf("My Access lists no %q: %s", packageName, got)
	}
	do(t, alice, "search", chromedp.SetValue(chromedp.ID("q"), "build"), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.CSS("#packages")))
	if got := textOf(t, alice, "#packages"); !strings.Contains(got, packageName) || strings.Contains(got, "Design files") {
		t.Fatalf("searching for build: want only %q, got %s", packageName, got)
	}
	checkPage(t, alice, "my-access")
	shot.save(t, alice, "02-my-access")
	do(t, alice, "open the request form",
		chromedp.Click(chromedp.CSS(`a[href="/portal/request/`+w.pkg+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("form.request-form")),
		chromedp.SetValue(chromedp.CSS("form.request-form textarea[name=justification]"), "I run the nightly builds of Apollo"),
		chromedp.SetValue(chromedp.CSS(`form.request-form input[type=text]`), "Apollo"),
		chromedp.SetValue(chromedp.CSS(`form.request-form select`), "eu"),
	)
	checkPage(t, alice, "request")
	shot.save(t, alice, "03-request-form")
	do(t, alice, "submit the request",
		chromedp.Click(chromedp.CSS(`form.request-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := textOf(t, alice, ".flash"); !strings.Contains(got, "Requested "+packageName) {
		t.Fatalf("after requesting, the page says %q", got)
	}
	waitText(t, alice, "#my-requests", "Pending approval")
	signOut(t, alice)

	// Bob signs in and approves, from the keyboard.
	bob := tab
	signIn(t, bob, srv.url, w.approver)
	do(t, bob, "open approvals", chromedp.Navigate(srv.url+"/portal/approvals"), chromedp.WaitVisible(chromedp.CSS("#pending")))
	card := textOf(t, bob, "#pending")
	for _, want := range []string{packageName, "Alice Requestor", "I run the nightly builds of Apollo", "Which project do you build?", "Apollo", "Europe"} {
		if !strings.Contains(card, want) {
			t.Errorf("the approval card lacks %q:\n%s", want, card)
		}
	}
	checkPage(t, bob, "approvals")
	shot.save(t, bob, "04-approvals")
	do(t, bob, "approve",
		chromedp.SetValue(chromedp.CSS("#pending textarea"), "Apollo needs her"),
		chromedp.Focus(chromedp.CSS(`#pending button[value=Approve]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := textOf(t, bob, "main"); !strings.Contains(got, "Approved.") || !strings.Contains(got, "Nothing is waiting for your decision") {
		t.Fatalf("after approving, the page says %q", got)
	}
	// His decision is in his history.
	if got := textOf(t, bob, "#decisions"); !strings.Contains(got, "Approved") || !strings.Contains(got, "Apollo needs her") || !strings.Contains(got, packageName) {
		t.Errorf("Bob's past decisions: %s", got)
	}
	checkPage(t, bob, "approvals history")
	shot.save(t, bob, "12-approvals-history")

	signOut(t, bob)

	// The extension is called; Alice's page shows what her request waits for.
	call := ext.next(t)
	signIn(t, alice, srv.url, w.requestor)
	if call.Stage != "assignmentRequestApproved" || call.CallbackURIPath == "" {
		t.Fatalf("callout %+v: want stage assignmentRequestApproved with a callback path", call)
	}
	waitText(t, alice, "#my-requests", "waiting for "+extensionName)
	shot.save(t, alice, "05-waiting-for-extension")

	// The extension resumes; Alice's open page moves to delivered by itself.
	ext.resume(t, app, call, "Account created on the build farm")
	waitText(t, alice, "#my-requests", "Delivered")
	if got := textOf(t, alice, "#my-requests"); !strings.Contains(got, "Account created on the build farm") {
		t.Errorf("My requests does not show the callback's detail: %s", got)
	}
	do(t, alice, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("[data-assignment]")))
	if got := textOf(t, alice, "[data-assignment]"); !strings.Contains(got, packageName) || !strings.Contains(got, "Delivered") {
		t.Fatalf("My access does not list the delivered package: %s", got)
	}
	checkPage(t, alice, "my-access delivered")
	shot.save(t, alice, "06-delivered")

	// Alice asks for more time: the extend form asks the policy's questions again.
	do(t, alice, "open the extend form", chromedp.Click(chromedp.CSS(`[data-assignment] summary`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/extend"] select`)))
	if got := textOf(t, alice, `form[action$="/extend"]`); !strings.Contains(got, "Which project do you build?") || !strings.Contains(got, "Which region?") {
		t.Fatalf("the extend form does not ask the policy's questions: %s", got)
	}
	do(t, alice, "answer",
		chromedp.SetValue(chromedp.CSS(`form[action$="/extend"] input[name="justification"]`), "Apollo ships in spring"),
		chromedp.SetValue(chromedp.CSS(`form[action$="/extend"] input[type=text][name^="x-"]`), "Apollo"),
		chromedp.SetValue(chromedp.CSS(`form[action$="/extend"] select`), "us"))
	checkPage(t, alice, "extend form")
	shot.save(t, alice, "13-extend")
	do(t, alice, "request the extension", chromedp.Click(chromedp.CSS(`form[action$="/extend"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := textOf(t, alice, ".flash"); !strings.Contains(got, "Extension requested") {
		t.Fatalf("after asking for an extension, the page says %q", got)
	}

	signOut(t, alice)

	// Carol sees the extension, its callout and the request's history.
	carol := tab
	signIn(t, carol, srv.url, w.admin)
	do(t, carol, "open admin", chromedp.Navigate(srv.url+"/portal/admin"), chromedp.WaitVisible(chromedp.ID("requests")))
	admin := textOf(t, carol, "main")
	for _, want := range []string{"Engineering", packageName, extensionName, "Callback received", "Delivered"} {
		if !strings.Contains(admin, want) {
			t.Errorf("the admin page lacks %q", want)
		}
	}
	checkPage(t, carol, "admin")
	shot.save(t, carol, "07-admin")

	// The extension's page: its callouts with each HTTP attempt (--dev records them).
	do(t, carol, "open the extension", chromedp.Click(chromedp.CSS(`a[href$="/extensions/`+w.extension+`"]`)),
		chromedp.WaitVisible(chromedp.ID("extension-callouts")))
	if got := textOf(t, carol, "#extension-callouts"); !strings.Contains(got, "Callback received") || !strings.Contains(got, "HTTP 202") || !strings.Contains(got, " ms") {
		t.Errorf("the extension's callouts lack the attempt answered 202: %s", got)
	}
	checkPage(t, carol, "admin extension")
	shot.save(t, carol, "10-admin-extension")

	// A simple edit: the package's description.
	do(t, carol, "edit the package", chromedp.Navigate(srv.url+"/portal/admin/packages/"+w.pkg+"/edit"), chromedp.WaitVisible(chromedp.ID("edit-form")),
		chromedp.SetValue(chromedp.ID("description"), "SSH access to the build farm, for the nightly builds"))
	checkPage(t, carol, "admin edit")
	shot.save(t, carol, "11-admin-edit")
	do(t, carol, "save the package", chromedp.Click(chromedp.CSS(`#edit-form button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := textOf(t, carol, "main"); !strings.Contains(got, "Saved the access package") {
		t.Errorf("after saving, the admin page says %q", got)
	}

	do(t, carol, "open the request", chromedp.Navigate(srv.url+"/portal/admin"), chromedp.WaitVisible(chromedp.ID("requests")),
		chromedp.Click(chromedp.CSS(`#requests tbody tr:last-child a`)), chromedp.WaitVisible(chromedp.ID("history")))
	history := textOf(t, carol, "#history")
	for _, want := range []string{"submitted", "approvalStageApproved", "Apollo needs her", "Account created on the build farm", "Delivered"} {
		if !strings.Contains(history, want) {
			t.Errorf("the audit trail lacks %q:\n%s", want, history)
		}
	}
	if got := textOf(t, carol, "#callouts"); !strings.Contains(got, extensionName) || !strings.Contains(got, "Callback received") {
		t.Errorf("the request's callouts: %s", got)
	}
	checkPage(t, carol, "admin request")
	shot.save(t, carol, "08-admin-request")

	// Alice's My Access on a phone.
	signOut(t, carol)
	signIn(t, alice, srv.url, w.requestor)
	do(t, alice, "phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("[data-assignment]")))
	overflow, err := chromedp.Run(alice, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	if err != nil || overflow {
		t.Errorf("My Access scrolls sideways on a phone (err %v)", err)
	}
	shot.save(t, alice, "09-my-access-phone")
}
