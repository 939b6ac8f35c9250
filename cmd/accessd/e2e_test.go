package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The end-to-end test builds the real binary, starts it on a free port with a
// temporary database, mints a token with `accessd token` and drives the API
// over HTTP through package client, as a newcomer following the README would.

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "accessd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// server is one running `accessd serve` process.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *rsLog // its log, which tests may read while it runs
	done   chan error
}

func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &rsLog{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening on ")
		if !ok {
			t.Fatalf("first line %q is not 'listening on …'", line)
		}
		s.url = url
	case err := <-s.done:
		t.Fatalf("accessd serve exited before listening: %v\n%s", err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("accessd serve did not print its address\n%s", s.stderr)
	}
	return s
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("accessd serve did not exit cleanly on SIGTERM: %v\n%s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("accessd serve did not stop on SIGTERM\n%s", s.stderr)
	}
	if !strings.Contains(s.stderr.String(), "accessd stopped") {
		t.Errorf("log has no 'accessd stopped' line:\n%s", s.stderr)
	}
}

func mintToken(t *testing.T, bin, db string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"token", "--database", db}, args...)...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("accessd token: %v\n%s", err, stderr)
	}
	tok := strings.TrimSpace(string(out))
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("accessd token printed %q, not one JWT", out)
	}
	return tok
}

// emPath is the root of the v1.0 entitlement-management routes.
const emPath = "/v1.0/identityGovernance/entitlementManagement"

// apiClient is a client of the server at baseURL that sends token, or no
// Authorization header when token is "".
func apiClient(t *testing.T, baseURL, token string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: baseURL, Token: token})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// must stops the test when a call that the rest of it builds on failed.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// raw sends one call and returns the answer exactly as the server sent it,
// for a test that asserts on the status or the body. Only a call that got
// no answer at all stops the test.
func raw(t *testing.T, c *client.Client, method, path string, body any) client.Response {
	t.Helper()
	resp, err := c.Raw(context.Background(), method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}

// createUser creates an enabled member user and returns its id.
func createUser(t *testing.T, api *client.Client, displayName, upn string) string {
	t.Helper()
	u, err := api.CreateUser(t.Context(), access.User{AccountEnabled: true, DisplayName: displayName, UserPrincipalName: upn})
	must(t, err, "create user "+upn)
	return u.ID
}

// requestExtension is a request-workflow extension that calls targetURL
// with a PoP token: launch and wait when callbackTimeout is an ISO 8601
// duration, launch and continue when it is "".
func requestExtension(name, targetURL, callbackTimeout string) access.CustomExtension {
	x := access.CustomExtension{
		Type:           access.RequestWorkflowExtension,
		DisplayName:    name,
		Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: targetURL},
		Authentication: access.Authentication{Type: access.PopTokenAuthentication},
	}
	if callbackTimeout != "" {
		x.Callback = &access.CallbackConfiguration{TimeoutDuration: access.MustDuration(callbackTimeout)}
	}
	return x
}

// submit asks, as an admin, for the package under the policy for the user;
// it returns the request's id.
func submit(t *testing.T, api *client.Client, userID, pkgID, policyID string) string {
	t.Helper()
	r, err := api.SubmitRequest(t.Context(), access.RequestInput{Type: access.RequestAdminAdd, TargetID: userID,
		AccessPackageID: pkgID, PolicyID: policyID})
	must(t, err, "submit a request for "+userID)
	return r.ID
}

// boundPolicy is what TestEndToEnd reads of a policy with its stage
// settings' extensions expanded, which client.GetAssignmentPolicy names
// by id only.
type boundPolicy struct {
	DisplayName                  string `json:"displayName"`
	CustomExtensionStageSettings []struct {
		CustomExtension struct {
			ID                    string `json:"id"`
			CallbackConfiguration struct {
				TimeoutDuration string `json:"timeoutDuration"`
			} `json:"callbackConfiguration"`
		} `json:"customExtension"`
	} `json:"customExtensionStageSettings"`
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, "--database", db)
	ctx := t.Context()

	anonymous := apiClient(t, srv.url, "")
	if resp := raw(t, anonymous, "GET", "/healthz", nil); resp.Status != 200 {
		t.Fatalf("healthz: %d", resp.Status)
	}
	resp := raw(t, anonymous, "GET", emPath+"/catalogs", nil)
	var refusal map[string]any
	if err := json.Unmarshal(resp.Body, &refusal); resp.Status != 401 || err != nil || refusal["error"] == nil {
		t.Fatalf("no token: %d %s", resp.Status, resp.Body)
	}
	token := mintToken(t, bin, db, "--app", "e2e", "--roles", "EntitlementManagement.ReadWrite.All")
	api := apiClient(t, srv.url, token)

	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	must(t, err, "create catalog")
	// The README's body, sent as it is: durationBeforeTimeout and an
	// @odata.type without '#' must be read, and come back as timeoutDuration.
	var ext struct {
		ID string `json:"id"`
	}
	must(t, api.Do(ctx, "POST", emPath+"/catalogs/"+catalog.ID+"/customWorkflowExtensions", map[string]any{
		"@odata.type":                 "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName":                 "SoD check",
		"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "http://127.0.0.1:9/callout"},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		"callbackConfiguration":       map[string]any{"@odata.type": "microsoft.graph.customExtensionCallbackConfiguration", "durationBeforeTimeout": "PT1H"},
	}, &ext), "create extension")
	pkg, err := api.CreateAccessPackage(ctx, access.AccessPackage{DisplayName: "Sales tools", CatalogID: catalog.ID})
	must(t, err, "create package")
	policy, err := api.CreateAssignmentPolicy(ctx, map[string]any{
		"displayName":        "Employees",
		"accessPackage":      map[string]any{"id": pkg.ID},
		"allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{
			map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext.ID}},
		},
	})
	must(t, err, "create policy")
	policyPath := emPath + "/assignmentPolicies/" + policy.ID + "?$expand=customExtensionStageSettings($expand=customExtension)"
	var got boundPolicy
	must(t, api.Do(ctx, "GET", policyPath, nil, &got), "get policy")
	settings := got.CustomExtensionStageSettings
	if len(settings) != 1 {
		t.Fatalf("stage settings: %+v", settings)
	}
	if bound := settings[0].CustomExtension; bound.ID != ext.ID || bound.CallbackConfiguration.TimeoutDuration != "PT1H" {
		t.Fatalf("bound extension: %+v", bound)
	}

	// A clean stop, then a restart on the same database: the data and the
	// signing key survive, so the token minted before still works.
	srv.stop(t)
	srv = startServer(t, bin, "--database", db, "--public-url", srv.url)
	got = boundPolicy{}
	if err := apiClient(t, srv.url, token).Do(ctx, "GET", policyPath, nil, &got); err != nil || got.DisplayName != "Employees" {
		t.Fatalf("after restart: %v %+v", err, got)
	}
	srv.stop(t)
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), []string{"version"}, &out, &errOut, os.Getenv); code != 0 || !strings.HasPrefix(out.String(), "accessd ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(t.Context(), []string{"bogus"}, &out, &errOut, os.Getenv); code != 2 {
		t.Fatalf("unknown command exit code %d", code)
	}
	if code := run(t.Context(), nil, &out, &errOut, os.Getenv); code != 2 {
		t.Fatalf("no command exit code %d", code)
	}
}

// --cpuprofile and --trace write files that go tool pprof and go tool trace
// read, complete once the server has stopped.
func TestProfileAndTraceFiles(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	prof, tr := filepath.Join(dir, "cpu.prof"), filepath.Join(dir, "trace.out")
	s := startServer(t, bin, "--database", filepath.Join(dir, "accessd.db"), "--cpuprofile", prof, "--trace", tr)
	if resp := raw(t, apiClient(t, s.url, ""), http.MethodGet, "/healthz", nil); resp.Status != http.StatusOK {
		t.Fatalf("healthz: %d", resp.Status)
	}
	s.stop(t)
	for _, f := range []struct {
		path, prefix string
	}{
		{prof, "\x1f\x8b"}, // a gzipped profile.proto
		{tr, "go 1."},      // "go 1.NN trace"
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 64 || !strings.HasPrefix(string(b), f.prefix) {
			t.Errorf("%s: %d bytes starting %q, want more than 64 starting %q", filepath.Base(f.path), len(b), b[:min(len(b), 16)], f.prefix)
		}
	}
}
