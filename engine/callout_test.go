package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/sqlstore"
)

// obj reads a JSON object member of a decoded payload.
func obj(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key]
	if !ok {
		t.Fatalf("payload has no %s", key)
	}
	o, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("payload %s = %#v, want an object", key, v)
	}
	return o
}

// wantMembers checks members of a decoded JSON object.
func wantMembers(t *testing.T, where string, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := m[k]
		if !ok {
			t.Errorf("%s has no %s", where, k)
			continue
		}
		if got != v {
			t.Errorf("%s.%s = %#v, want %#v", where, k, got, v)
		}
	}
}

// wantNullMembers checks that members are present and null.
func wantNullMembers(t *testing.T, where string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			t.Errorf("%s has no %s; want it present and null", where, k)
		} else if v != nil {
			t.Errorf("%s.%s = %#v, want null", where, k, v)
		}
	}
}

// A launch-and-continue extension at assignmentRequestCreated: the request
// is delivered at once, and the extension receives one POST with the flat
// PascalCase payload, the documented headers and a PoP token signed by
// accessd's issuer.
func TestLaunchAndContinueCallout(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/hooks/created", nil)
	h.ext.script("/hooks/created", func(int, extCall) extReply { return extReply{RunID: "08584-run-42"} })
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, func(p *access.AssignmentPolicy) {
		p.Questions = []access.Question{{Type: access.TextInputQuestion, Text: "Why do you need it?", Sequence: 1, IsRequired: true}}
	})
	h.run()
	var target access.User
	r := h.submit(p, func(in *access.RequestInput) {
		u, _ := h.svc.Subject(h.ctx, in.TargetID)
		target = access.User{ID: u.ID, DisplayName: u.DisplayName, UserPrincipalName: u.PrincipalName, Mail: u.Email}
		in.Answers = []access.Answer{{QuestionID: p.Questions[0].ID, Value: "quarterly reporting"}}
	})
	if r.State != access.StateDelivered || r.Status != access.StatusDelivered {
		t.Fatalf("submit answered %s/%s; a launch-and-continue extension must not hold the request", r.State, r.Status)
	}
	w := h.calloutWork(r.ID)
	calls := h.waitCalls("/hooks/created", 1)
	h.waitWorkDone(w)
	c := calls[0]

	// The body.
	pl := c.Payload
	if pl == nil {
		t.Fatalf("body is not a JSON object: %s", c.Body)
	}
	wantMembers(t, "payload", pl, map[string]any{
		"AccessPackageAssignmentRequestId": r.ID,
		"CallbackUriPath":                  "/identityGovernance/entitlementManagement/assignmentRequests/" + r.ID + "/resume",
		"CustomExtensionStageInstanceId":   w.InstanceID,
		"Stage":                            "assignmentRequestCreated",
		"RequestType":                      "adminAdd",
		"State":                            "submitted",
		"Status":                           "Accepted",
	})
	if w.InstanceID == "" {
		t.Error("the callout work has no instance id")
	}
	wantNullMembers(t, "payload", pl, "CallbackConfiguration", "VerifiedCredentialsData")
	answers, ok := pl["Answers"].([]any)
	if !ok || len(answers) != 1 {
		t.Fatalf("Answers = %#v, want one answer", pl["Answers"])
	}
	ans := answers[0].(map[string]any)
	wantMembers(t, "Answers[0]", ans, map[string]any{"Value": "quarterly reporting"})
	q := obj(t, ans, "AnsweredQuestion")
	wantMembers(t, "Answers[0].AnsweredQuestion", q, map[string]any{"Id": p.Questions[0].ID, "IsRequired": true})
	wantMembers(t, "Answers[0].AnsweredQuestion.Text", obj(t, q, "Text"), map[string]any{"DefaultText": "Why do you need it?"})

	wantMembers(t, "AccessPackage", obj(t, pl, "AccessPackage"),
		map[string]any{"Id": p.AccessPackageID, "DisplayName": "Sales tools", "Description": "CRM and reporting"})
	wantMembers(t, "AccessPackageCatalog", obj(t, pl, "AccessPackageCatalog"),
		map[string]any{"Id": h.catalog.ID, "DisplayName": "Sales", "Description": "Sales catalog"})
	asg := obj(t, pl, "Assignment")
	wantMembers(t, "Assignment", asg, map[string]any{"TargetId": target.ID})
	wantNullMembers(t, "Assignment", asg, "AccessPackage")
	wantMembers(t, "Assignment.Target", obj(t, asg, "Target"), map[string]any{
		"Id": target.ID, "ObjectId": target.ID, "DisplayName": target.DisplayName,
		"PrincipalName": target.UserPrincipalName, "Email": target.Mail, "SubjectType": "user",
	})
	policy := map[string]any{"Id": p.ID, "DisplayName": "Employees"}
	wantMembers(t, "Assignment.AssignmentPolicy", obj(t, asg, "AssignmentPolicy"), policy)
	wantMembers(t, "Assignment.AccessPackageAssignmentPolicy", obj(t, asg, "AccessPackageAssignmentPolicy"), policy)
	wantMembers(t, "Requestor", obj(t, pl, "Requestor"),
		map[string]any{"Id": admin.ObjectID, "ObjectId": admin.ObjectID, "DisplayName": "Admin app"})

	// The headers.
	if c.Method != http.MethodPost {
		t.Errorf("method %s, want POST", c.Method)
	}
	if ct := c.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	id := c.Header.Get("client-request-id")
	if id == "" || c.Header.Get("x-ms-client-request-id") != id || c.Header.Get("x-ms-correlation-request-id") != id {
		t.Errorf("client-request-id %q, x-ms-client-request-id %q, x-ms-correlation-request-id %q: want one id in all three",
			id, c.Header.Get("x-ms-client-request-id"), c.Header.Get("x-ms-correlation-request-id"))
	}

	// The PoP token.
	scheme, raw := splitAuth(t, c.Header.Get("Authorization"))
	if scheme != "PoP" {
		t.Errorf("Authorization scheme %q, want PoP", scheme)
	}
	claims := h.verifyToken(raw, c.At)
	target0, _ := url.Parse(h.ext.URL)
	wantMembers(t, "token", claims, map[string]any{
		"m": "POST", "u": strings.ToLower(target0.Host), "p": "/hooks/created", "aud": "http://" + target0.Host,
		"appid": access.EntitlementManagementAppID, "azp": access.EntitlementManagementAppID, "iss": testIssuerURL,
	})
	if access.EntitlementManagementAppID != "810dcf14-1858-4bf2-8134-4c369fa3235b" {
		t.Errorf("EntitlementManagementAppID is %s", access.EntitlementManagementAppID)
	}
	if life := numClaim(t, claims, "exp") - numClaim(t, claims, "iat"); life != 300 {
		t.Errorf("token lifetime exp-iat = %d s, want 300", life)
	}

	// The instance on the request.
	got := h.waitRequest(r.ID, "with its callout recorded", func(r access.Request) bool {
		return len(r.Callouts) == 1 && r.Callouts[0].ExternalCorrelationID != ""
	})
	inst := onlyInstance(t, got)
	if inst.ID != w.InstanceID || inst.Status != access.CalloutSent || inst.Stage != access.StageRequestCreated ||
		inst.CustomExtensionID != x.ID || inst.ExternalCorrelationID != "08584-run-42" {
		t.Errorf("instance %+v, want id %s, calloutSent, the created stage, extension %s, externalCorrelationId 08584-run-42",
			inst, w.InstanceID, x.ID)
	}
	if got.State != access.StateDelivered {
		t.Errorf("request is %s after the callout, want delivered", got.State)
	}

	// What --dev mode records of it.
	as := h.attempts(w.InstanceID)
	if len(as) != 1 {
		t.Fatalf("%d attempts recorded, want 1", len(as))
	}
	a := as[0]
	if a.Attempt != 1 || a.ResponseStatus != http.StatusAccepted || a.Error != "" || a.URL != h.ext.URL+"/hooks/created" ||
		a.RequestID != r.ID || a.ExtensionID != x.ID || a.Stage != access.StageRequestCreated {
		t.Errorf("recorded attempt %+v", a)
	}
	if a.RequestBody != string(c.Body) {
		t.Errorf("recorded body differs from the body sent:\n%s\n%s", a.RequestBody, c.Body)
	}
	if a.RequestHeaders["Authorization"] != "PoP" || a.RequestHeaders["client-request-id"] != id {
		t.Errorf("recorded headers %v: want Authorization reduced to its scheme and the client-request-id", a.RequestHeaders)
	}
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/hooks/created")); n != 1 {
		t.Errorf("the extension received %d POSTs, want exactly 1", n)
	}
}

// A Logic App endpoint's PoP token names the workflow's management resource.
func TestPoPTokenForLogicApp(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/workflows/wf/triggers/manual/paths/invoke", func(x *access.CustomExtension) {
		x.Endpoint = access.Endpoint{Type: access.LogicAppEndpoint, SubscriptionID: "sub-1", ResourceGroupName: "rg-1",
			LogicAppWorkflowName: "wf-1", URL: h.ext.URL + "/workflows/wf/triggers/manual/paths/invoke?api-version=2016-10-01"}
	})
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	h.submit(p, nil)
	c := h.waitCalls("/workflows/wf/triggers/manual/paths/invoke", 1)[0]
	scheme, raw := splitAuth(t, c.Header.Get("Authorization"))
	if scheme != "PoP" {
		t.Errorf("scheme %q, want PoP", scheme)
	}
	wantMembers(t, "token", h.verifyToken(raw, c.At), map[string]any{
		"m": "POST", "u": "management.azure.com", "aud": "https://management.azure.com",
		"p": "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Logic/workflows/wf-1",
	})
}

// azureAdTokenAuthentication: a Bearer token for the resource, reused for
// callouts to the same endpoint.
func TestBearerTokenReused(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/bearer", func(x *access.CustomExtension) {
		x.Authentication = access.Authentication{Type: access.BearerTokenAuthentication, ResourceID: "api://contoso-sod"}
	})
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	h.submit(p, nil)
	h.waitCalls("/bearer", 1)
	h.submit(p, nil)
	calls := h.waitCalls("/bearer", 2)

	scheme, raw := splitAuth(t, calls[0].Header.Get("Authorization"))
	if scheme != "Bearer" {
		t.Errorf("scheme %q, want Bearer", scheme)
	}
	claims := h.verifyToken(raw, calls[0].At)
	wantMembers(t, "token", claims, map[string]any{"aud": "api://contoso-sod", "iss": testIssuerURL,
		"appid": access.EntitlementManagementAppID, "azp": access.EntitlementManagementAppID})
	for _, k := range []string{"m", "u", "p"} {
		if _, ok := claims[k]; ok {
			t.Errorf("bearer token has PoP claim %s", k)
		}
	}
	if life := numClaim(t, claims, "exp") - numClaim(t, claims, "iat"); life != 300 {
		t.Errorf("lifetime %d s, want 300", life)
	}
	if a, b := calls[0].Header.Get("Authorization"), calls[1].Header.Get("Authorization"); a != b {
		t.Errorf("second callout to the same endpoint carries a new token; want the first reused\n%s\n%s", a, b)
	}
}

// PoP tokens are cached per endpoint, and replaced a minute before they expire.
func TestPoPTokenCachePerEndpointAndRenewal(t *testing.T) {
	h := newHarness(t)
	xa := h.extension("/a", nil)
	xb := h.extension("/b", nil)
	pa := h.policy(map[access.Stage]string{access.StageRequestCreated: xa.ID}, nil)
	pb := h.policy(map[access.Stage]string{access.StageRequestCreated: xb.ID}, nil)
	h.run()
	auth := func(c extCall) string { return c.Header.Get("Authorization") }

	h.submit(pa, nil)
	a1 := h.waitCalls("/a", 1)[0]
	h.submit(pb, nil)
	b1 := h.waitCalls("/b", 1)[0]
	if auth(a1) == auth(b1) {
		t.Fatal("two endpoints got the same PoP token; u and p differ per endpoint")
	}
	_, rawB := splitAuth(t, auth(b1))
	if p := h.verifyToken(rawB, b1.At)["p"]; p != "/b" {
		t.Errorf("token for /b has p %v", p)
	}

	h.submit(pa, nil)
	a2 := h.waitCalls("/a", 2)[1]
	h.advance("PT3M") // still more than a minute before expiry
	h.submit(pa, nil)
	a3 := h.waitCalls("/a", 3)[2]
	if auth(a2) != auth(a1) || auth(a3) != auth(a1) {
		t.Errorf("token for /a not reused within its lifetime")
	}
	h.advance("PT1M1S") // now less than a minute before expiry
	h.submit(pa, nil)
	a4 := h.waitCalls("/a", 4)[3]
	if auth(a4) == auth(a1) {
		t.Fatal("token reused less than a minute before its expiry")
	}
	_, raw1 := splitAuth(t, auth(a1))
	_, raw4 := splitAuth(t, auth(a4))
	iat1 := numClaim(t, h.verifyToken(raw1, a1.At), "iat")
	iat4 := numClaim(t, h.verifyToken(raw4, a4.At), "iat")
	if iat4-iat1 < 4*60 {
		t.Errorf("renewed token iat %d is not 4 minutes after the first (%d)", iat4, iat1)
	}
}

// 1 + maximumRetries attempts (absent means 1 retry); any 2xx ends them; a
// failed launch-and-continue callout is recorded and does not stop the request.
func TestCalloutAttempts(t *testing.T) {
	h := newHarness(t)
	h.run()
	cases := []struct {
		name     string
		mod      func(x *access.CustomExtension)
		script   func(n int, c extCall) extReply
		want     int
		ok       bool
		wantRunI string
	}{
		{"maximumRetries 0", client(intp(0), 0), always(500), 1, false, ""},
		{"maximumRetries 1", client(intp(1), 0), always(500), 2, false, ""},
		{"clientConfiguration absent", nil, always(500), 2, false, ""},
		{"maximumRetries absent", client(nil, 0), always(500), 2, false, ""},
		{"2xx on the second attempt", client(intp(1), 0), func(n int, c extCall) extReply {
			if n == 1 {
				return extReply{Status: 500}
			}
			return extReply{Status: 200, RunID: "run-second"}
		}, 2, true, "run-second"},
		{"204 is success", client(intp(1), 0), func(int, extCall) extReply { return extReply{Status: 204, RunID: "run-204"} }, 1, true, "run-204"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/attempts/" + itoa(i)
			h.ext.script(path, tc.script)
			x := h.extension(path, tc.mod)
			p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
			r := h.submit(p, nil)
			w := h.calloutWork(r.ID)
			h.waitWorkDone(w)
			got, err := h.svc.Request(h.ctx, admin, r.ID)
			if err != nil {
				t.Fatal(err)
			}
			inst := onlyInstance(t, got)
			if tc.ok && (inst.Status != access.CalloutSent || inst.ExternalCorrelationID != tc.wantRunI) {
				t.Errorf("instance %+v, want calloutSent with externalCorrelationId %s", inst, tc.wantRunI)
			}
			if !tc.ok && inst.Status != access.CalloutFailedState {
				t.Errorf("instance status %s, want calloutFailed", inst.Status)
			}
			if got.State != access.StateDelivered || got.Status != access.StatusDelivered {
				t.Errorf("request %s/%s, want delivered: a launch-and-continue callout never stops it", got.State, got.Status)
			}
			time.Sleep(settle / 2)
			if n := len(h.ext.callsTo(path)); n != tc.want {
				t.Errorf("%d attempts, want %d", n, tc.want)
			}
			if as := h.attempts(w.InstanceID); len(as) != tc.want {
				t.Errorf("%d attempts recorded, want %d", len(as), tc.want)
			} else {
				for j, a := range as {
					if a.Attempt != j+1 {
						t.Errorf("recorded attempt %d is numbered %d", j+1, a.Attempt)
					}
				}
			}
		})
	}
}

func always(status int) func(int, extCall) extReply {
	return func(int, extCall) extReply { return extReply{Status: status} }
}

// A Retry-After on 429 or 503 is honoured between attempts.
func TestRetryAfter(t *testing.T) {
	h := newHarness(t)
	h.run()
	cases := []struct {
		name    string
		retries *int
		first   func() extReply
		want    int
		minGap  time.Duration // a lower bound only: waiting is what the code must do
	}{
		{"429 seconds", nil, func() extReply { return extReply{Status: 429, RetryAfter: "1"} }, 2, 900 * time.Millisecond},
		{"503 HTTP date", nil, func() extReply {
			return extReply{Status: 503, RetryAfter: time.Now().Add(2 * time.Second).UTC().Format(http.TimeFormat)}
		}, 2, 500 * time.Millisecond},
		// Far beyond the cap and the lease: the wait is cut short and the
		// second attempt still comes (the wait below ends at waitLimit).
		{"429 an hour", nil, func() extReply { return extReply{Status: 429, RetryAfter: "3600"} }, 2, 0},
		{"429 with maximumRetries 0", intp(0), func() extReply { return extReply{Status: 429, RetryAfter: "1"} }, 1, 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := "/retry-after/" + itoa(i)
			h.ext.script(path, func(n int, c extCall) extReply {
				if n == 1 {
					return tc.first()
				}
				return extReply{RunID: "run-ok"}
			})
			x := h.extension(path, client(tc.retries, 0))
			p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
			r := h.submit(p, nil)
			w := h.calloutWork(r.ID)
			h.waitWorkDone(w)
			calls := h.ext.callsTo(path)
			if len(calls) != tc.want {
				t.Fatalf("%d attempts, want %d", len(calls), tc.want)
			}
			got, _ := h.svc.Request(h.ctx, admin, r.ID)
			inst := onlyInstance(t, got)
			if tc.want == 2 {
				if gap := calls[1].Real.Sub(calls[0].Real); gap < tc.minGap {
					t.Errorf("second attempt came %v after the first, before the Retry-After (%v)", gap, tc.minGap)
				}
				if inst.Status != access.CalloutSent || inst.ExternalCorrelationID != "run-ok" {
					t.Errorf("instance %+v, want calloutSent by the second attempt", inst)
				}
			} else if inst.Status != access.CalloutFailedState {
				t.Errorf("instance %+v, want calloutFailed", inst)
			}
		})
	}
}

// An attempt that outlasts timeoutInMilliseconds is a failed attempt; the
// next one may succeed.
func TestTimeoutIsAFailedAttempt(t *testing.T) {
	h := newHarness(t)
	h.run()
	slowThenOK := func(n int, c extCall) extReply {
		if n == 1 {
			return extReply{Delay: 3 * time.Second, RunID: "run-late"}
		}
		return extReply{RunID: "run-ok"}
	}
	t.Run("retried", func(t *testing.T) {
		h.ext.script("/slow1", slowThenOK)
		x := h.extension("/slow1", client(intp(1), 200))
		p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
		r := h.submit(p, nil)
		w := h.calloutWork(r.ID)
		h.waitWorkDone(w)
		if n := len(h.ext.callsTo("/slow1")); n != 2 {
			t.Errorf("%d attempts, want 2", n)
		}
		got, _ := h.svc.Request(h.ctx, admin, r.ID)
		if inst := onlyInstance(t, got); inst.Status != access.CalloutSent || inst.ExternalCorrelationID != "run-ok" {
			t.Errorf("instance %+v, want calloutSent with the second attempt's run id", inst)
		}
		as := h.attempts(w.InstanceID)
		if len(as) != 2 || as[0].Error == "" || as[0].ResponseStatus != 0 || as[1].ResponseStatus != http.StatusAccepted {
			t.Errorf("recorded attempts %+v: want a first that failed with an error and no status, then 202", as)
		}
	})
	t.Run("not retried", func(t *testing.T) {
		h.ext.script("/slow2", slowThenOK)
		x := h.extension("/slow2", client(intp(0), 200))
		p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
		r := h.submit(p, nil)
		h.waitWorkDone(h.calloutWork(r.ID))
		got, _ := h.svc.Request(h.ctx, admin, r.ID)
		if inst := onlyInstance(t, got); inst.Status != access.CalloutFailedState {
			t.Errorf("instance %+v, want calloutFailed", inst)
		}
		if got.State != access.StateDelivered {
			t.Errorf("request %s, want delivered", got.State)
		}
		if n := len(h.ext.callsTo("/slow2")); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
}

// A 3xx is an answer, not a 2xx: not followed, a failed attempt.
func TestRedirectIsNotFollowed(t *testing.T) {
	h := newHarness(t)
	h.ext.script("/moved", func(int, extCall) extReply {
		return extReply{Status: http.StatusFound, Location: h.ext.URL + "/landing"}
	})
	x := h.extension("/moved", client(intp(0), 0))
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)
	h.waitWorkDone(w)
	time.Sleep(settle / 2)
	if n := len(h.ext.callsTo("/landing")); n != 0 {
		t.Errorf("the redirect was followed (%d calls to its target)", n)
	}
	if n := len(h.ext.callsTo("/moved")); n != 1 {
		t.Errorf("%d attempts, want 1", n)
	}
	got, _ := h.svc.Request(h.ctx, admin, r.ID)
	if inst := onlyInstance(t, got); inst.Status != access.CalloutFailedState {
		t.Errorf("instance %+v, want calloutFailed", inst)
	}
	if as := h.attempts(w.InstanceID); len(as) != 1 || as[0].ResponseStatus != http.StatusFound {
		t.Errorf("recorded attempts %+v, want one answered 302", as)
	}
}

// Launch and wait at the created stage: the request waits, the instance goes
// calloutSent → waitingForCallback, and without a callback it times out.
func TestLaunchAndWaitTimesOut(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	var seenWhileSending access.CalloutStatus
	x := h.extension("/wait", waiting("PT5M"))
	h.ext.script("/wait", func(n int, c extCall) extReply {
		return extReply{RunID: "run-wait", Before: func(c extCall) {
			id, _ := c.Payload["AccessPackageAssignmentRequestId"].(string)
			r, err := h.svc.Request(context.Background(), admin, id)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && len(r.Callouts) == 1 {
				seenWhileSending = r.Callouts[0].Status
			}
		}}
	})
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	if r.State != access.StateSubmitted || r.Status != access.StatusWaitingForCallback {
		t.Fatalf("submitted request is %s/%s, want submitted/WaitingForCallback", r.State, r.Status)
	}
	calls := h.waitCalls("/wait", 1)
	got := h.waitRequest(r.ID, "waiting for its callback", instanceIs(access.WaitingForCallback))
	mu.Lock()
	if seenWhileSending != access.CalloutSent {
		t.Errorf("while the callout was in flight the instance was %q, want calloutSent", seenWhileSending)
	}
	mu.Unlock()
	if got.State != access.StateSubmitted || got.Status != access.StatusWaitingForCallback {
		t.Errorf("waiting request is %s/%s, want submitted/WaitingForCallback", got.State, got.Status)
	}
	inst := onlyInstance(t, got)
	if inst.ID != calls[0].Payload["CustomExtensionStageInstanceId"] || inst.ExternalCorrelationID != "run-wait" {
		t.Errorf("instance %+v does not match the callout sent (%v)", inst, calls[0].Payload["CustomExtensionStageInstanceId"])
	}
	wantMembers(t, "CallbackConfiguration", obj(t, calls[0].Payload, "CallbackConfiguration"),
		map[string]any{"DurationBeforeTimeout": "PT5M"})

	h.advance("PT4M")
	time.Sleep(settle)
	if got, _ := h.svc.Request(h.ctx, admin, r.ID); got.Status != access.StatusWaitingForCallback {
		t.Fatalf("a minute before its deadline the request is %s/%s", got.State, got.Status)
	}
	h.advance("PT2M")
	got = h.waitRequest(r.ID, "timed out", func(r access.Request) bool { return r.State.IsFinal() })
	if got.State != access.StateDeliveryFailed || got.Status != access.StatusCallbackTimedOut {
		t.Errorf("request %s/%s, want deliveryFailed/CallbackTimedOut", got.State, got.Status)
	}
	if inst := onlyInstance(t, got); inst.Status != access.CallbackTimedOut {
		t.Errorf("instance %s, want callbackTimedOut", inst.Status)
	}
	if got.AssignmentID != "" {
		t.Errorf("a request that failed before delivery has assignment %q", got.AssignmentID)
	}
	if n := len(h.ext.callsTo("/wait")); n != 1 {
		t.Errorf("%d callouts, want 1", n)
	}
}

// A launch-and-wait callout that fails all its attempts ends the request
// deliveryFailed/CalloutFailed, and its callback deadline no longer matters.
func TestLaunchAndWaitCalloutFails(t *testing.T) {
	h := newHarness(t)
	h.ext.script("/waitfail", always(500))
	x := h.extension("/waitfail", func(x *access.CustomExtension) { waiting("PT5M")(x); client(intp(1), 0)(x) })
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	got := h.waitRequest(r.ID, "failed", func(r access.Request) bool { return r.State.IsFinal() })
	if got.State != access.StateDeliveryFailed || got.Status != access.StatusCalloutFailed {
		t.Errorf("request %s/%s, want deliveryFailed/CalloutFailed", got.State, got.Status)
	}
	if inst := onlyInstance(t, got); inst.Status != access.CalloutFailedState {
		t.Errorf("instance %s, want calloutFailed", inst.Status)
	}
	if n := len(h.ext.callsTo("/waitfail")); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
	h.advance("PT6M")
	time.Sleep(settle)
	got, _ = h.svc.Request(h.ctx, admin, r.ID)
	if got.Status != access.StatusCalloutFailed || got.Callouts[0].Status != access.CalloutFailedState {
		t.Errorf("after the callback deadline passed: %s", describeRequest(got))
	}
}

// Once the callback has arrived, a failed attempt of that callout is
// ignored and no retry is sent.
func TestNoRetryAfterCallbackReceived(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	resumeErr := errors.New("resume was never called")
	h.ext.script("/early", func(n int, c extCall) extReply {
		return extReply{Status: 500, Before: func(c extCall) {
			if n != 1 {
				return
			}
			id, _ := c.Payload["AccessPackageAssignmentRequestId"].(string)
			inst, _ := c.Payload["CustomExtensionStageInstanceId"].(string)
			mu.Lock()
			defer mu.Unlock()
			resumeErr = h.svc.Resume(context.Background(), admin, access.ResumeCall{RequestID: id, Callback: access.Callback{HasData: true,
				DataType: access.CallbackDataRequest, Stage: string(access.StageRequestCreated), InstanceID: inst}})
		}}
	})
	x := h.extension("/early", func(x *access.CustomExtension) { waiting("PT5M")(x); client(intp(1), 0)(x) })
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	w := h.calloutWork(r.ID)
	h.waitWorkDone(w)
	mu.Lock()
	err := resumeErr
	mu.Unlock()
	if err != nil {
		t.Fatalf("resume during the callout: %v", err)
	}
	got, _ := h.svc.Request(h.ctx, admin, r.ID)
	if got.State != access.StateDelivered || onlyInstance(t, got).Status != access.CallbackReceived {
		t.Errorf("request %s", describeRequest(got))
	}
	if n := len(h.ext.callsTo("/early")); n != 1 {
		t.Errorf("%d attempts; after the callback arrived no retry may be sent", n)
	}
}

// preExpirationCallout sets up an assignment expiring after P30D with an
// assignment-workflow extension at the one-day stage, moves the clock past
// that stage and returns the callout.
func preExpirationCallout(t *testing.T) (*harness, access.Request, extCall) {
	h := newHarness(t)
	x := h.extension("/pre", func(x *access.CustomExtension) { x.Type = access.AssignmentWorkflowExtension })
	p := h.policy(map[access.Stage]string{access.StageOneDayBeforeExpiry: x.ID}, func(p *access.AssignmentPolicy) {
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P30D")}
	})
	h.run()
	r := h.submit(p, nil)
	if r.State != access.StateDelivered {
		t.Fatalf("request %s, want delivered", r.State)
	}
	h.advance("P28D")
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/pre")); n != 0 {
		t.Fatalf("%d pre-expiration callouts two days before the end, want none yet", n)
	}
	h.advance("P1DT1M")
	return h, r, h.waitCalls("/pre", 1)[0]
}

// A pre-expiration callout is sent once at its stage, describes the
// assignment, and marks it NearExpiry1DayNotificationTriggered.
func TestPreExpirationCallout(t *testing.T) {
	h, r, c := preExpirationCallout(t)
	pl := c.Payload
	wantMembers(t, "payload", pl, map[string]any{"Stage": "assignmentOneDayBeforeExpiration"})
	// Pre-expiration stages send no CallbackUriPath, Answers,
	// RequestType or CallbackConfiguration.
	for _, k := range []string{"CallbackUriPath", "Answers", "RequestType", "CallbackConfiguration"} {
		if v, ok := pl[k]; ok {
			t.Errorf("pre-expiration payload has %s = %#v", k, v)
		}
	}
	instID, _ := pl["CustomExtensionStageInstanceId"].(string)
	if instID == "" {
		t.Errorf("CustomExtensionStageInstanceId = %v", pl["CustomExtensionStageInstanceId"])
	}
	asg := obj(t, pl, "Assignment")
	wantMembers(t, "Assignment", asg, map[string]any{"Id": r.AssignmentID, "State": "delivered", "TargetId": r.Target.ID})
	wantMembers(t, "AccessPackage", obj(t, pl, "AccessPackage"), map[string]any{"Id": r.AccessPackageID})
	if scheme, _ := splitAuth(t, c.Header.Get("Authorization")); scheme != "PoP" {
		t.Errorf("scheme %q", scheme)
	}

	a := h.waitAssignment(r.AssignmentID, "notified", func(a access.Assignment) bool {
		return a.Status == "NearExpiry1DayNotificationTriggered"
	})
	if a.State != access.AssignmentDelivered {
		t.Errorf("assignment %s, want still delivered", a.State)
	}
	if len(a.Callouts) != 1 || a.Callouts[0].ID != instID || a.Callouts[0].Stage != access.StageOneDayBeforeExpiry ||
		a.Callouts[0].Status != access.CalloutSent {
		t.Errorf("assignment callouts %+v, want one calloutSent instance %s at the one-day stage", a.Callouts, instID)
	}
	time.Sleep(settle)
	if n := len(h.ext.callsTo("/pre")); n != 1 {
		t.Errorf("%d pre-expiration callouts, want 1", n)
	}
	if got, _ := h.svc.Request(h.ctx, admin, r.ID); len(got.Callouts) != 0 {
		t.Errorf("the pre-expiration instance was recorded on the request: %s", describeRequest(got))
	}
}

// The extension's endpoint is read when the callout is sent, so fixing a
// wrong URL helps requests already queued.
func TestEndpointReadWhenSent(t *testing.T) {
	h := newHarness(t)
	x := h.extension("/old", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	r := h.submit(p, nil)
	x.Endpoint.TargetURL = h.ext.URL + "/new"
	if _, err := h.svc.ReplaceCustomExtension(h.ctx, admin, h.catalog.ID, x.ID, x); err != nil {
		t.Fatal(err)
	}
	h.run()
	h.waitCalls("/new", 1)
	h.waitWorkDone(h.calloutWork(r.ID))
	if n := len(h.ext.callsTo("/old")); n != 0 {
		t.Errorf("%d calls to the old URL", n)
	}
}

// flakySigner fails its first calls, as accessd's own failure would.
type flakySigner struct {
	inner Signer
	mu    sync.Mutex
	fails int
}

func (s *flakySigner) Sign(claims map[string]any) (string, error) {
	s.mu.Lock()
	fail := s.fails > 0
	s.fails--
	s.mu.Unlock()
	if fail {
		return "", errors.New("signing key unavailable")
	}
	return s.inner.Sign(claims)
}

// Failing to sign the token is accessd's own failure, not the extension's:
// the engine retries the work with backoff instead of failing the callout
// (engine-level backoff applies to accessd's own failures).
func TestSigningFailureIsRetriedNotAFailedCallout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Signer = &flakySigner{inner: c.Signer, fails: 1} })
	x := h.extension("/signfail", waiting("PT5M"))
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: x.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	h.advance("PT2S") // past the first backoff, should there be one
	got := h.waitRequest(r.ID, "waiting or failed", func(r access.Request) bool {
		return r.State.IsFinal() || (len(r.Callouts) == 1 && r.Callouts[0].Status == access.WaitingForCallback)
	})
	if got.State.IsFinal() {
		t.Errorf("a signing failure ended the request: %s", describeRequest(got))
	}
	if n := len(h.ext.callsTo("/signfail")); n != 1 {
		t.Errorf("%d calls, want the callout sent once signing works", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"1", time.Second},
		{"120", 2 * time.Minute},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestSchemeOf(t *testing.T) {
	for in, want := range map[string]string{"PoP abc.def": "PoP", "Bearer x": "Bearer", "": "", "Basic": "Basic"} {
		if got := schemeOf(in); got != want {
			t.Errorf("schemeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// ---- benchmarks ----

func benchContext() access.CalloutContext {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	target := access.Subject{ID: "0b3e7c1a-0000-4000-8000-000000000001", Kind: access.SubjectUser, DisplayName: "Alice",
		PrincipalName: "alice@contoso.test", Email: "alice@contoso.test"}
	r := access.Request{ID: "5f8c0d2e-0000-4000-8000-000000000002", Type: access.RequestAdminAdd, State: access.StateSubmitted,
		Status: access.StatusAccepted, AccessPackageID: "pkg-1", PolicyID: "pol-1", CatalogID: "cat-1", Target: target,
		Requestor: access.Subject{ID: admin.ObjectID, Kind: access.SubjectServicePrincipal, DisplayName: "Admin app"},
		Answers:   []access.Answer{{QuestionID: "q-1", Value: "quarterly reporting"}, {QuestionID: "q-2", Value: "yes"}},
		Policy: access.PolicySnapshot{DisplayName: "Employees", Bindings: []access.StageBinding{{Stage: access.StageRequestCreated,
			ExtensionID: "x-1", Waits: true, CallbackTimeout: access.MustDuration("PT1H")}}}}
	a := access.Assignment{ID: "asg-1", AccessPackageID: "pkg-1", PolicyID: "pol-1", Target: target, State: access.AssignmentDelivering,
		Status: access.StatusDelivering, Schedule: access.Schedule{StartDateTime: &now}}
	return access.CalloutContext{
		Work: access.Work{ID: "w-1", Kind: access.WorkCallout, RequestID: r.ID, Stage: access.StageRequestCreated,
			InstanceID: "inst-1", ExtensionID: "x-1", RequestState: access.StateSubmitted, RequestStatus: access.StatusAccepted},
		Request: &r, Assignment: &a,
		Package: access.AccessPackage{ID: "pkg-1", CatalogID: "cat-1", DisplayName: "Sales tools", Description: "CRM and reporting"},
		Catalog: access.Catalog{ID: "cat-1", DisplayName: "Sales", Description: "Sales catalog"},
		Policy: access.AssignmentPolicy{ID: "pol-1", DisplayName: "Employees", Questions: []access.Question{
			{ID: "q-1", Type: access.TextInputQuestion, Text: "Why?", IsRequired: true, Sequence: 1},
			{ID: "q-2", Type: access.TextInputQuestion, Text: "Manager informed?", Sequence: 2}}},
	}
}

func BenchmarkCalloutPayload(b *testing.B) {
	c := benchContext()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.MarshalPayload(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchEngine is an engine signing with the real issuer, not running.
func benchEngine(b *testing.B) *Engine {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "accessd.db"), sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	clock := access.SystemClock{}
	keys, err := identity.LoadKeys(ctx, st, clock)
	if err != nil {
		b.Fatal(err)
	}
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: testIssuerURL, TenantID: "t", Keys: keys, Clock: clock})
	ids := &access.TimeOrderedIDs{Clock: clock}
	return New(Config{Service: access.NewService(st, clock, ids), Signer: issuerSigner{issuer}, Issuer: testIssuerURL,
		Clock: clock, IDs: ids, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

var benchExtension = access.CustomExtension{ID: "x-1", Type: access.RequestWorkflowExtension,
	Endpoint:       access.Endpoint{Type: access.HTTPRequestEndpoint, TargetURL: "https://ext.contoso.test/hooks/created"},
	Authentication: access.Authentication{Type: access.PopTokenAuthentication}}

// BenchmarkAuthorization is the cached path: every callout but the first
// to an endpoint within the token's reuse window.
func BenchmarkAuthorization(b *testing.B) {
	e := benchEngine(b)
	if _, err := e.authorization(benchExtension); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.authorization(benchExtension); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizationSigning is the uncached path, for comparison: an
// RS256 signature per callout.
func BenchmarkAuthorizationSigning(b *testing.B) {
	e := benchEngine(b)
	b.ReportAllocs()
	for b.Loop() {
		e.tokensMu.Lock()
		clear(e.tokens)
		e.tokensMu.Unlock()
		if _, err := e.authorization(benchExtension); err != nil {
			b.Fatal(err)
		}
	}
}

// Outside --dev mode a callout that went well changes the request little,
// and the engine records that on the side (deferred.go): the launch-and-
// wait callout's instance becomes waitingForCallback and its work goes;
// once the callback came, the granted stage's launch-and-continue callout
// leaves the request as it is, and its work goes too. Both callouts were
// handed to the engine by the transactions that queued them.
func TestOutcomesRecordedOnTheSide(t *testing.T) {
	h := newHarness(t)
	h.svc.RecordCallouts(false)
	wait := h.extension("/wait", waiting("PT5M"))
	granted := h.extension("/granted", nil)
	p := h.policy(map[access.Stage]string{access.StageRequestCreated: wait.ID, access.StageRequestGranted: granted.ID}, nil)
	h.run()
	r := h.submit(p, nil)
	h.waitCalls("/wait", 1)
	got := h.waitRequest(r.ID, "waiting for its callback", instanceIs(access.WaitingForCallback))
	created, ok := h.store.workOf(r.ID, "", access.WorkCallout)
	if !ok {
		t.Fatal("no callout work was queued")
	}
	if n := h.store.claimCount(created.ID); n != 1 {
		t.Errorf("the created callout was claimed %d times, want once, when it was queued", n)
	}
	h.eventually("the created callout's work is removed", func() (bool, string) {
		return h.store.isDeleted(created.ID), "not removed"
	})

	inst := onlyInstance(t, got)
	err := h.svc.Resume(h.ctx, admin, access.ResumeCall{RequestID: r.ID, Callback: access.Callback{HasData: true,
		InstanceID: inst.ID, Stage: string(access.StageRequestCreated)}})
	if err != nil {
		t.Fatal(err)
	}
	h.waitCalls("/granted", 1)
	var grantedWork access.Work
	h.eventually("the granted callout's work is removed", func() (bool, string) {
		for _, w := range h.store.worksOf(r.ID, access.WorkCallout) {
			if w.Stage == access.StageRequestGranted {
				grantedWork = w
				return h.store.isDeleted(w.ID), "not removed"
			}
		}
		return false, "not queued"
	})
	if n := h.store.claimCount(grantedWork.ID); n != 1 {
		t.Errorf("the granted callout was claimed %d times, want once, when it was queued", n)
	}
	final, err := h.svc.Request(h.ctx, admin, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if final.State != access.StateDelivered || len(final.Callouts) != 2 || final.Callouts[1].Status != access.CalloutSent {
		t.Errorf("request %s", describeRequest(final))
	}
	if n := len(h.ext.callsTo("/wait")) + len(h.ext.callsTo("/granted")); n != 2 {
		t.Errorf("%d callouts, want 2", n)
	}
}
