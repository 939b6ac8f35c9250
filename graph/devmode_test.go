package graph

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
)

// Tests of the /_accessd/* routes of --dev mode.

// newDevAPI is newTestAPI for --dev mode: the service runs on a virtual
// clock and records callout attempts, and the server is built with Dev set.
// Tokens are minted and checked on the machine's clock, so moving the
// virtual clock never expires them.
func newDevAPI(t *testing.T, reseed func(ctx context.Context) error) (*emAPI, *access.VirtualClock) {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: quiet})
	keys, err := identity.LoadKeys(ctx, store, access.SystemClock{})
	if err != nil {
		t.Fatalf("load keys: %v", err)
	}
	clock := &access.VirtualClock{Base: access.SystemClock{}}
	var api *Server
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	base := "http://" + ts.Listener.Addr().String()
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: base, TenantID: testAPITenant, Keys: keys, Clock: access.SystemClock{}})
	svc := access.NewService(store, clock, &access.TimeOrderedIDs{Clock: clock})
	svc.RecordCallouts(true)
	if err := svc.LoadClock(ctx); err != nil {
		t.Fatalf("load clock: %v", err)
	}
	api = NewServer(Config{
		Service: svc, Auth: issuer, PublicURL: base, Logger: quiet, Clock: clock, IDs: &access.TimeOrderedIDs{Clock: clock},
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath,
		Dev: true, Reseed: reseed,
	})
	ts.Start()
	t.Cleanup(ts.Close)
	a := &testAPI{URL: base, Store: store, Svc: svc, Issuer: issuer, Server: api, client: ts.Client()}
	return &emAPI{testAPI: a, tok: a.appToken(t, scopeWrite)}, clock
}

// withSettle shortens how long POST /_accessd/clock waits, for one test.
func withSettle(t *testing.T, d time.Duration) {
	t.Helper()
	old := clockSettle
	clockSettle = d
	t.Cleanup(func() { clockSettle = old })
}

// devNow reads "now" of a clock answer.
func devNow(t *testing.T, body map[string]any) time.Time {
	t.Helper()
	s, _ := body["now"].(string)
	now, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("now %q: %v (answer %v)", s, err, body)
	}
	return now
}

func TestDevRoutesExistOnlyInDevMode(t *testing.T) {
	a := newEMAPI(t)
	for _, tc := range []struct{ method, path string }{
		{"POST", "/_accessd/clock"}, {"GET", "/_accessd/callouts"}, {"POST", "/_accessd/reset"},
	} {
		var body any
		if tc.method == "POST" {
			body = map[string]any{"advance": "P1D"}
		}
		resp, _ := a.call(t, tc.method, tc.path, body)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	}
	// and nothing was reset
	a.catalog(t, "Still here")
	a.mustCall(t, "GET", emV1+"/catalogs", nil, http.StatusOK)
}

func TestDevClock(t *testing.T) {
	a, clock := newDevAPI(t, nil)

	t.Run("advance", func(t *testing.T) {
		before := time.Now().UTC().Truncate(time.Millisecond) // the server shows milliseconds
		got := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "P14D"}, http.StatusOK)
		now := devNow(t, got)
		if now.Before(before.Add(14*24*time.Hour)) || now.After(time.Now().UTC().Add(14*24*time.Hour+time.Minute)) {
			t.Errorf("now %s after advancing 14 days from %s", now, before)
		}
		if _, ok := got["pending"]; ok {
			t.Errorf("200 with pending: %v", got)
		}
		if off := clock.Offset(); off < 14*24*time.Hour {
			t.Errorf("clock offset %s", off)
		}
	})
	t.Run("set", func(t *testing.T) {
		target := time.Now().UTC().Add(60 * 24 * time.Hour).Truncate(time.Second)
		got := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"set": target.Format(time.RFC3339)}, http.StatusOK)
		if now := devNow(t, got); now.Before(target) || now.After(target.Add(time.Minute)) {
			t.Errorf("now %s after set %s", now, target)
		}
	})
	t.Run("the API's times follow the clock", func(t *testing.T) {
		got := a.mustCall(t, "POST", emV1+"/catalogs", map[string]any{"displayName": "Later"}, http.StatusCreated)
		created, _ := time.Parse(time.RFC3339Nano, got["createdDateTime"].(string))
		if created.Before(time.Now().Add(59 * 24 * time.Hour)) {
			t.Errorf("createdDateTime %s does not follow the virtual clock", created)
		}
	})
	for _, tc := range []struct {
		name  string
		body  any
		names []string
	}{
		{"backwards", map[string]any{"set": time.Now().UTC().Format(time.RFC3339)}, []string{"only moves forward"}},
		{"both advance and set", map[string]any{"advance": "P1D", "set": time.Now().UTC().Add(400 * 24 * time.Hour).Format(time.RFC3339)}, []string{"advance", "set"}},
		{"neither", map[string]any{}, []string{"advance", "set"}},
		{"malformed duration", map[string]any{"advance": "two weeks"}, []string{"advance", "two weeks"}},
		{"empty duration", map[string]any{"advance": ""}, []string{"advance"}},
		{"malformed date", map[string]any{"set": "next year"}, []string{"set", "next year"}},
		{"unknown property", map[string]any{"advance": "P1D", "speed": 2}, []string{"speed"}},
		{"no body", nil, []string{"body"}},
	} {
		t.Run("400: "+tc.name, func(t *testing.T) {
			before := clock.Offset()
			resp, _ := a.call(t, "POST", "/_accessd/clock", tc.body)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), tc.names...)
			if clock.Offset() != before {
				t.Errorf("a refused move moved the clock")
			}
		})
	}
	t.Run("permissions", func(t *testing.T) {
		resp, _ := a.do(t, "POST", "/_accessd/clock", "", map[string]any{"advance": "P1D"})
		wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
		resp, _ = a.do(t, "POST", "/_accessd/clock", a.appTokenNamed(t, "reader", "EntitlementManagement.Read.All"), map[string]any{"advance": "P1D"})
		wantError(t, resp, http.StatusForbidden, "accessDenied")
	})
}

// Regression: advancing by P9000Y once answered 200 with a year-2319 time
// (the offset overflowed), and the next P1D moved the clock back to 1734.
func TestDevClockStaysWithinTheYear9999(t *testing.T) {
	a, clock := newDevAPI(t, nil)
	for _, body := range []map[string]any{{"advance": "P9000Y"}, {"advance": "P8000Y"}} {
		resp, _ := a.call(t, "POST", "/_accessd/clock", body)
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "9999")
		if off := clock.Offset(); off != 0 {
			t.Fatalf("a refused move moved the clock by %s", off)
		}
	}
	// Far moves that stay within 9999 are exact, beyond what an offset in
	// nanoseconds could hold.
	got := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"set": "9000-01-01T00:00:00Z"}, http.StatusOK)
	if now := devNow(t, got); now.Year() != 9000 || now.Month() != time.January || now.Day() != 1 {
		t.Fatalf("now %s after set 9000-01-01", now)
	}
	got = a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "P999Y"}, http.StatusOK)
	if now := devNow(t, got); now.Year() != 9999 || now.Month() != time.January {
		t.Fatalf("now %s after advancing 999 years from 9000", now)
	}
	later := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "P1D"}, http.StatusOK)
	if !devNow(t, later).After(devNow(t, got)) {
		t.Fatalf("P1D moved the clock from %s to %s", devNow(t, got), devNow(t, later))
	}
	for _, body := range []map[string]any{{"advance": "P1Y"}, {"set": "9999-12-31T23:00:00Z"}} {
		before := clock.Now()
		resp, _ := a.call(t, "POST", "/_accessd/clock", body)
		if _, ok := body["advance"]; ok {
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "9999")
		} else {
			wantStatus(t, resp, http.StatusOK) // the last hour of 9999 is still allowed
		}
		if now := clock.Now(); now.Before(before) || now.Year() != 9999 {
			t.Fatalf("after %v the clock reads %s", body, now)
		}
	}
	// The clock survives a restart: a new service on the same database reads it.
	restarted := &access.VirtualClock{Base: access.SystemClock{}}
	svc := access.NewService(a.Store, restarted, &access.TimeOrderedIDs{Clock: restarted})
	if err := svc.LoadClock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if now := restarted.Now(); now.Year() != 9999 || now.Sub(clock.Now()).Abs() > time.Minute {
		t.Errorf("after a restart the clock reads %s, want %s", now, clock.Now())
	}
}

// devCalloutWorld makes a request whose created-stage callout is queued and
// never sent, since no engine runs: one piece of work stays due.
func devCalloutWorld(t *testing.T, a *emAPI) (requestID string) {
	t.Helper()
	cat := a.catalog(t, "Sales")
	pkg := a.accessPackage(t, cat, "Tools")
	body := emRequestExtension("Notify")
	delete(body, "callbackConfiguration")
	ext := a.extension(t, cat, body)
	policy := emMinimalPolicy(pkg, "Notified")
	policy["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": ext}}}
	pol := a.policy(t, policy)
	user := a.newUser(t, "alice@contoso.test")
	got := a.mustCall(t, "POST", emV1+"/assignmentRequests", rqAdd("adminAdd", pkg, pol, user.ID), http.StatusCreated)
	return emID(t, got)
}

func TestDevClockWaitsForDueWork(t *testing.T) {
	a, _ := newDevAPI(t, nil)
	devCalloutWorld(t, a)
	ctx := context.Background()

	t.Run("202 with the pending count when the work does not run in time", func(t *testing.T) {
		withSettle(t, 150*time.Millisecond)
		start := time.Now()
		got := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "PT1M"}, http.StatusAccepted)
		devNow(t, got)
		if n, _ := got["pending"].(float64); n < 1 {
			t.Errorf("pending %v, want at least 1", got["pending"])
		}
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Errorf("answered 202 after %s, before the wait ran out", took)
		}
	})
	t.Run("200 once the work has run", func(t *testing.T) {
		withSettle(t, 10*time.Second)
		done := make(chan error, 1)
		go func() { // a stand-in for the engine, a little later
			time.Sleep(200 * time.Millisecond)
			ws, err := a.Svc.ClaimWork(ctx, "test-engine", time.Minute, 10)
			for _, w := range ws {
				if err == nil {
					err = a.Svc.FinishCallout(ctx, w, access.CalloutResult{OK: true})
				}
			}
			done <- err
		}()
		start := time.Now()
		got := a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "PT1M"}, http.StatusOK)
		devNow(t, got)
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Errorf("answered after %s, before the work ran", took)
		}
		if err := <-done; err != nil {
			t.Fatalf("stand-in engine: %v", err)
		}
	})
}

func TestDevCallouts(t *testing.T) {
	a, _ := newDevAPI(t, nil)
	requestID := devCalloutWorld(t, a)
	ctx := context.Background()
	ws, err := a.Svc.ClaimWork(ctx, "test-engine", time.Minute, 10)
	if err != nil || len(ws) != 1 {
		t.Fatalf("claim: %v, %v", ws, err)
	}
	w := ws[0]
	sent := time.Now().UTC().Truncate(time.Millisecond)
	attempt := func(id string, n, status int, errText string) access.CalloutAttempt {
		return access.CalloutAttempt{ID: id, ExtensionID: w.ExtensionID, RequestID: requestID, InstanceID: w.InstanceID, Stage: w.Stage,
			URL: "https://hooks.contoso.test/notify", Attempt: n, SentAt: sent.Add(time.Duration(n) * time.Second), DurationMillis: 12,
			RequestHeaders: map[string]string{"Authorization": "PoP eyJhbGciOi.secret", "client-request-id": id},
			RequestBody:    `{"Stage":"assignmentRequestCreated","Answers":[]}`, ResponseStatus: status, ResponseBody: "busy", Error: errText}
	}
	first, second := a.Svc.Now().Format("20060102")+"-a1", a.Svc.Now().Format("20060102")+"-a2"
	if err := a.Svc.FinishCallout(ctx, w, access.CalloutResult{OK: true, Attempts: []access.CalloutAttempt{
		attempt(first, 1, 503, "503 Service Unavailable"), attempt(second, 2, 202, "")}}); err != nil {
		t.Fatalf("finish callout: %v", err)
	}

	got := a.mustCall(t, "GET", "/_accessd/callouts", nil, http.StatusOK)
	items := emValue(t, got)
	emSame(t, "newest first", []string{second, first}, emIDs(items))
	emSame(t, "an attempt", map[string]any{
		"id": first, "extensionId": w.ExtensionID, "requestId": requestID, "assignmentId": nil, "instanceId": w.InstanceID,
		"stage": "assignmentRequestCreated", "url": "https://hooks.contoso.test/notify", "attempt": float64(1),
		"sentDateTime": sent.Add(time.Second).Format(time.RFC3339Nano), "durationInMilliseconds": float64(12),
		"requestHeaders": map[string]any{"Authorization": "PoP", "client-request-id": first},
		"requestBody":    map[string]any{"Stage": "assignmentRequestCreated", "Answers": []any{}},
		"responseStatus": float64(503), "responseBody": "busy", "error": "503 Service Unavailable",
	}, items[1])

	page := a.mustCall(t, "GET", "/_accessd/callouts?$top=1", nil, http.StatusOK)
	emSame(t, "first page", []string{second}, emIDs(emValue(t, page)))
	next, _ := page["@odata.nextLink"].(string)
	if next == "" {
		t.Fatalf("no nextLink: %v", page)
	}
	emSame(t, "second page", []string{first}, emIDs(emValue(t, a.mustCall(t, "GET", next, nil, http.StatusOK))))
}

func TestCalloutAttemptWire(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   access.CalloutAttempt
		want map[string]any
	}{
		{"a body that is not JSON stays a string; no response is null", access.CalloutAttempt{ID: "1", URL: "http://x", Attempt: 1,
			RequestHeaders: map[string]string{"authorization": "Bearer abc.def", "X": "y"}, RequestBody: "not json", Error: "dial tcp: refused"},
			map[string]any{"id": "1", "extensionId": nil, "requestId": nil, "assignmentId": nil, "instanceId": nil, "stage": nil, "url": "http://x",
				"attempt": float64(1), "sentDateTime": nil, "durationInMilliseconds": float64(0),
				"requestHeaders": map[string]any{"authorization": "Bearer", "X": "y"}, "requestBody": "not json",
				"responseStatus": nil, "responseBody": nil, "error": "dial tcp: refused"}},
		{"no body, no headers", access.CalloutAttempt{ID: "2", ResponseStatus: 200},
			map[string]any{"id": "2", "extensionId": nil, "requestId": nil, "assignmentId": nil, "instanceId": nil, "stage": nil, "url": "",
				"attempt": float64(0), "sentDateTime": nil, "durationInMilliseconds": float64(0), "requestHeaders": map[string]any{},
				"requestBody": nil, "responseStatus": float64(200), "responseBody": nil, "error": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := json.Marshal(calloutAttemptToWire(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			emSame(t, "wire", tc.want, got)
		})
	}
}

func TestDevReset(t *testing.T) {
	var reseed func(ctx context.Context) error
	a, clock := newDevAPI(t, func(ctx context.Context) error {
		if reseed == nil {
			return nil
		}
		return reseed(ctx)
	})
	jwks := func() string {
		resp, _ := a.do(t, "GET", identity.JWKSPath, "", nil)
		wantStatus(t, resp, http.StatusOK)
		return bodyOf(resp)
	}
	keysBefore := jwks()
	devCalloutWorld(t, a)
	withSettle(t, 50*time.Millisecond) // the queued callout never runs: 202
	a.mustCall(t, "POST", "/_accessd/clock", map[string]any{"advance": "P1D"}, http.StatusAccepted)
	offset := clock.Offset()

	t.Run("reset deletes the data, keeps keys and tokens working", func(t *testing.T) {
		ctx := context.Background()
		app, err := a.Svc.EnsureServicePrincipal(ctx, "test-app") // a.tok's, made by newDevAPI
		if err != nil {
			t.Fatal(err)
		}
		a.newUser(t, "signed-in@contoso.test")
		userTok := a.userToken(t, "signed-in@contoso.test", scopeWrite)
		a.get(t, userTok, emV1+"/catalogs")

		a.mustCall(t, "POST", "/_accessd/reset", nil, http.StatusNoContent)
		for _, path := range []string{emV1 + "/catalogs", emV1 + "/accessPackages", emV1 + "/assignmentRequests", emV1 + "/assignments", "/v1.0/users"} {
			tok := a.tok
			if path == "/v1.0/users" {
				tok = a.appTokenNamed(t, "directory-reader", "User.Read.All")
			}
			if ids := valueIDs(t, a.get(t, tok, path)); len(ids) != 0 {
				t.Errorf("%s after reset: %v", path, ids)
			}
		}
		if n, err := a.Svc.CountWorkDue(context.Background()); err != nil || n != 0 {
			t.Errorf("work after reset: %d, %v", n, err)
		}
		emSame(t, "JWKS after reset", keysBefore, jwks())
		if clock.Offset() != offset {
			t.Errorf("reset moved the clock: %s → %s", offset, clock.Offset())
		}
		// The application's token minted before the reset still writes,
		// though its service principal is gone with the rest.
		if _, err := a.Svc.ServicePrincipal(ctx, app.ID); !access.IsNotFound(err) {
			t.Errorf("the service principal of the app token after reset: %v, want not found", err)
		}
		a.catalog(t, "After reset")
		// A user's token is not: the user is gone too.
		resp, _ := a.do(t, "GET", emV1+"/catalogs", userTok, nil)
		wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
	})
	t.Run("reset loads the seed again", func(t *testing.T) {
		calls := 0
		reseed = func(ctx context.Context) error {
			calls++
			_, err := a.Svc.CreateCatalog(ctx, access.Caller{DisplayName: "seed"}, access.Catalog{ID: "seeded-catalog", DisplayName: "Seeded"})
			return err
		}
		a.mustCall(t, "POST", "/_accessd/reset", "{}", http.StatusNoContent)
		emSame(t, "catalogs after reset with a seed", []string{"seeded-catalog"}, valueIDs(t, a.get(t, a.tok, emV1+"/catalogs")))
		emSame(t, "reseed calls", 1, calls)
	})
	t.Run("a reset body with properties is refused", func(t *testing.T) {
		resp, _ := a.call(t, "POST", "/_accessd/reset", map[string]any{"keepUsers": true})
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "keepUsers")
		emSame(t, "nothing reset", []string{"seeded-catalog"}, valueIDs(t, a.get(t, a.tok, emV1+"/catalogs")))
	})
	t.Run("reset needs ReadWrite.All", func(t *testing.T) {
		resp, _ := a.do(t, "POST", "/_accessd/reset", a.appTokenNamed(t, "reader", "EntitlementManagement.Read.All"), nil)
		wantError(t, resp, http.StatusForbidden, "accessDenied")
	})
}
