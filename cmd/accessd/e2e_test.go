package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"github.com/accessd/accessd/sqlstore/storetest"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test builds the real binary, starts it on a free port with a
// temporary database, mints a token with `accessd token` and drives the API
// over HTTP, as a newcomer following the README would.

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
	stderr *bytes.Buffer
	done   chan error
}

func startServer(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
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

// rawCall makes one API call and returns the status and the exact answer body.
func rawCall(t *testing.T, method, url, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// call is rawCall with the JSON answer decoded.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	code, raw := rawCall(t, method, url, token, body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %q", method, url, raw)
		}
	}
	return code, out
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	srv := startServer(t, bin, "--database", db)

	if code, _ := call(t, "GET", srv.url+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := call(t, "GET", srv.url+"/v1.0/identityGovernance/entitlementManagement/catalogs", "", nil); code != 401 || body["error"] == nil {
		t.Fatalf("no token: %d %v", code, body)
	}
	token := mintToken(t, bin, db, "--app", "e2e", "--roles", "EntitlementManagement.ReadWrite.All")
	api := srv.url + "/v1.0/identityGovernance/entitlementManagement"

	code, catalog := call(t, "POST", api+"/catalogs", token, map[string]any{"displayName": "Sales"})
	if code != 201 {
		t.Fatalf("create catalog: %d %v", code, catalog)
	}
	catalogID := catalog["id"].(string)
	code, ext := call(t, "POST", api+"/catalogs/"+catalogID+"/customWorkflowExtensions", token, map[string]any{
		"@odata.type":                 "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension",
		"displayName":                 "SoD check",
		"endpointConfiguration":       map[string]any{"@odata.type": "#microsoft.graph.httpRequestEndpoint", "targetUrl": "http://127.0.0.1:9/callout"},
		"authenticationConfiguration": map[string]any{"@odata.type": "#microsoft.graph.azureAdPopTokenAuthentication"},
		"callbackConfiguration":       map[string]any{"@odata.type": "microsoft.graph.customExtensionCallbackConfiguration", "durationBeforeTimeout": "PT1H"},
	})
	if code != 201 {
		t.Fatalf("create extension: %d %v", code, ext)
	}
	code, pkg := call(t, "POST", api+"/accessPackages", token, map[string]any{"displayName": "Sales tools", "catalog": map[string]any{"id": catalogID}})
	if code != 201 {
		t.Fatalf("create package: %d %v", code, pkg)
	}
	code, policy := call(t, "POST", api+"/assignmentPolicies", token, map[string]any{
		"displayName":        "Employees",
		"accessPackage":      map[string]any{"id": pkg["id"]},
		"allowedTargetScope": "allMemberUsers",
		"customExtensionStageSettings": []any{
			map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext["id"]}},
		},
	})
	if code != 201 {
		t.Fatalf("create policy: %d %v", code, policy)
	}
	policyURL := api + "/assignmentPolicies/" + policy["id"].(string) + "?$expand=customExtensionStageSettings($expand=customExtension)"
	code, got := call(t, "GET", policyURL, token, nil)
	if code != 200 {
		t.Fatalf("get policy: %d %v", code, got)
	}
	settings := got["customExtensionStageSettings"].([]any)
	if len(settings) != 1 {
		t.Fatalf("stage settings: %v", settings)
	}
	bound := settings[0].(map[string]any)["customExtension"].(map[string]any)
	if bound["id"] != ext["id"] || bound["callbackConfiguration"].(map[string]any)["timeoutDuration"] != "PT1H" {
		t.Fatalf("bound extension: %v", bound)
	}

	// A clean stop, then a restart on the same database: the data and the
	// signing key survive, so the token minted before still works.
	srv.stop(t)
	srv = startServer(t, bin, "--database", db, "--public-url", srv.url)
	code, got = call(t, "GET", strings.Replace(policyURL, api, srv.url+"/v1.0/identityGovernance/entitlementManagement", 1), token, nil)
	if code != 200 || got["displayName"] != "Employees" {
		t.Fatalf("after restart: %d %v", code, got)
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
	if code, _ := rawCall(t, http.MethodGet, s.url+"/healthz", "", nil); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
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
