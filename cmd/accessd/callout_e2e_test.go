package main

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// The callout end-to-end tests run `accessd serve` as a process: without
// --dev and without --callout-allow-private it refuses to call an extension
// on loopback; with --callout-signing-secrets its callouts carry signatures
// the example extension checks, and a SIGHUP rotates the secrets.

// received counts the callouts an in-test extension has taken.
func (x *rsExtension) received() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.callouts)
}

func TestCalloutGuardEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	addr := rsFreeAddr(t) // one address, and so one issuer, across the restart
	srv := startServerAt(t, bin, addr, "--database", db)
	token := mintToken(t, bin, db, "--app", "guard-e2e", "--roles", "EntitlementManagement.ReadWrite.All,Directory.ReadWrite.All")
	w := &rsWorld{srv: srv, token: token, api: apiClient(t, srv.url, token)}
	ext := rsNewExtension(t, srv.url)
	catalog := w.catalog(t, "Guarded")
	extID := w.waitingExtension(t, catalog, "On loopback", ext.URL+"/callout")
	b := w.boundPackage(t, catalog, "Checked on loopback", extID, "assignmentRequestCreated")

	id := w.submit(t, b, "alice@contoso.test")
	got := w.waitRequest(t, id, "deliveryFailed", rsStateIs("deliveryFailed"))
	if got.Status != access.StatusCalloutFailed || len(got.Callouts) != 1 {
		t.Fatalf("request %s/%s with instances %+v, want CalloutFailed and one instance", got.State, got.Status, got.Callouts)
	}
	refusal := "callout refused: 127.0.0.1 is a loopback address (127.0.0.0/8), refused without --callout-allow-private"
	if inst := got.Callouts[0]; inst.Status != access.CalloutFailedState || !strings.Contains(inst.Detail, refusal) {
		t.Errorf("instance %s with detail %q, want calloutFailed naming %q", inst.Status, inst.Detail, refusal)
	}
	if n := ext.received(); n != 0 {
		t.Fatalf("the extension on loopback received %d callouts without --callout-allow-private", n)
	}

	// The same database with --callout-allow-private: reprocessing reaches it.
	srv.stop(t)
	srv = startServerAt(t, bin, addr, "--database", db, "--callout-allow-private")
	if resp := raw(t, w.api, "POST", emPath+"/assignmentRequests/"+id+"/reprocess", nil); resp.Status != 202 {
		t.Fatalf("reprocess: %d %s, want 202", resp.Status, resp.Body)
	}
	rsWaitFor(t, "the callout to reach the extension", func() bool { return ext.received() == 1 })
	w.waitRequest(t, id, "waiting for its callback", func(r access.Request) bool { return r.Status == "WaitingForCallback" })
	ext.wantNoProblems(t)
	srv.stop(t)
}

func newWebhookSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hangUp sends the server SIGHUP and waits for its log to say how the
// reload went.
func hangUp(t *testing.T, srv *server, logLine string) {
	t.Helper()
	before := strings.Count(srv.stderr.String(), logLine)
	if err := srv.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rsWaitFor(t, "the log line "+logLine, func() bool { return strings.Count(srv.stderr.String(), logLine) > before })
}

func TestSignedCalloutsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	first, second := newWebhookSecret(t), newWebhookSecret(t)
	secrets := filepath.Join(t.TempDir(), "callout-secrets")
	writeFile(t, secrets, "* "+first+"\n")
	w := rsStartWorld(t, "--callout-signing-secrets", secrets)
	addrFirst, _ := rsStartExample(t, "-accessd", w.srv.url, "-token", w.token, "-webhook-secret", first)
	addrSecond, logSecond := rsStartExample(t, "-accessd", w.srv.url, "-token", w.token, "-webhook-secret", second)
	catalog := w.catalog(t, "Signed")
	holdsFirst := w.boundPackage(t, catalog, "Checked by the first", w.waitingExtension(t, catalog, "Holds the first secret",
		"http://"+addrFirst+"/callout"), "assignmentRequestCreated")
	holdsSecond := w.boundPackage(t, catalog, "Checked by the second", w.waitingExtension(t, catalog, "Holds the second secret",
		"http://"+addrSecond+"/callout"), "assignmentRequestCreated")

	id := w.submit(t, holdsFirst, "alice@contoso.test")
	w.waitRequest(t, id, "delivered", rsStateIs("delivered"))

	id = w.submit(t, holdsSecond, "bob@contoso.test")
	got := w.waitRequest(t, id, "deliveryFailed", rsStateIs("deliveryFailed"))
	if got.Status != access.StatusCalloutFailed || len(got.Callouts) != 1 || !strings.Contains(got.Callouts[0].Detail, "401") {
		t.Fatalf("a callout the extension cannot verify: %s with instances %+v, want CalloutFailed and a 401", got.Status, got.Callouts)
	}
	if !strings.Contains(logSecond.String(), "webhook signature") {
		t.Errorf("the example did not refuse the signature:\n%s", logSecond)
	}

	// The rotation: accessd signs with both, so each extension verifies.
	writeFile(t, secrets, "* "+first+"\n* "+second+"\n")
	hangUp(t, w.srv, "callout signing secrets reloaded")
	if resp := raw(t, w.api, "POST", emPath+"/assignmentRequests/"+id+"/reprocess", nil); resp.Status != 202 {
		t.Fatalf("reprocess: %d %s, want 202", resp.Status, resp.Body)
	}
	w.waitRequest(t, id, "delivered after the rotation", rsStateIs("delivered"))
	w.waitRequest(t, w.submit(t, holdsFirst, "carol@contoso.test"), "delivered during the rotation", rsStateIs("delivered"))

	// A bad file on SIGHUP keeps the secrets in use.
	writeFile(t, secrets, "* "+strings.TrimPrefix(second, "whsec_")+"\n")
	hangUp(t, w.srv, "reloading the callout signing secrets failed")
	w.waitRequest(t, w.submit(t, holdsSecond, "dave@contoso.test"), "delivered after a bad file", rsStateIs("delivered"))
	w.waitRequest(t, w.submit(t, holdsFirst, "erin@contoso.test"), "delivered after a bad file", rsStateIs("delivered"))
}
