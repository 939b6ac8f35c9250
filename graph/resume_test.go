package graph

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// Tests of the resume and reprocess actions (docs/design.md, "The resume action")
// through the real server, store and tokens. The engine does not run here:
// its part is done by hand through the service the harness exposes, as the
// engine would do it. ClaimWork and BeginCallout record the callout
// instance as calloutSent, exactly what happens before an extension's HTTP
// answer arrives; RunTimer and FinishCallout end a wait.

// rzAPI is the requests test API with a launch-and-wait extension (PT1H)
// and one package per bound stage.
type rzAPI struct {
	*rqAPI
	ext      string
	pkgs     map[string][2]string // stage → package, policy
	nUsers   int
	appActor map[string]any // the writer app as history shows it
}

func newRZAPI(t *testing.T) *rzAPI {
	t.Helper()
	z := &rzAPI{rqAPI: newRQAPI(t), pkgs: map[string][2]string{}}
	z.ext = z.extension(t, z.catalog, emRequestExtension("SoD check"))
	sp, err := z.Svc.EnsureServicePrincipal(context.Background(), "test-app")
	if err != nil {
		t.Fatal(err)
	}
	z.appActor = map[string]any{"id": sp.ID, "displayName": "test-app"}
	return z
}

// pkgAt is a package whose policy binds the waiting extension at stage.
func (z *rzAPI) pkgAt(t *testing.T, stage string) (pkg, pol string) {
	t.Helper()
	if p, ok := z.pkgs[stage]; ok {
		return p[0], p[1]
	}
	pkg, pol, _ = z.pkgPolicy(t, "Waits at "+stage, func(p map[string]any) {
		p["customExtensionStageSettings"] = []any{map[string]any{"stage": stage, "customExtension": map[string]any{"id": z.ext}}}
	})
	z.pkgs[stage] = [2]string{pkg, pol}
	return pkg, pol
}

// target is a new user, so that every waiting request has its own target.
func (z *rzAPI) target(t *testing.T) string {
	t.Helper()
	z.nUsers++
	return z.newUser(t, fmt.Sprintf("target%d@contoso.test", z.nUsers)).ID
}

// runCallouts does the engine's first step for every callout due: it
// claims it and records its instance as sent. It returns the claimed work.
func (z *rzAPI) runCallouts(t *testing.T) []access.Work {
	t.Helper()
	ctx := context.Background()
	ws, err := z.Svc.ClaimWork(ctx, "test", time.Minute, 100)
	if err != nil {
		t.Fatalf("claim work: %v", err)
	}
	for _, w := range ws {
		if w.Kind != access.WorkCallout {
			continue
		}
		plan, err := z.Svc.BeginCallout(ctx, w)
		if err != nil {
			t.Fatalf("begin callout %+v: %v", w, err)
		}
		if plan.Skip {
			t.Fatalf("begin callout %+v: skipped", w)
		}
	}
	return ws
}

// timers claims the request's callback deadlines as if their time had come
// (the harness has no virtual clock: the store is asked two hours ahead).
func (z *rzAPI) timers(t *testing.T, requestID string) []access.Work {
	t.Helper()
	later := time.Now().Add(2 * time.Hour)
	var out []access.Work
	err := z.Store.Update(context.Background(), func(tx access.Tx) error {
		ws, err := tx.ClaimWork(later, "test-timers", later.Add(time.Minute), 100)
		for _, w := range ws {
			if w.Kind == access.WorkCallbackTimeout && w.RequestID == requestID {
				out = append(out, w)
			}
		}
		return err
	})
	if err != nil {
		t.Fatalf("claim timers: %v", err)
	}
	return out
}

// rzWaiting is a request waiting for a callback.
type rzWaiting struct {
	id, inst, asg, stage string
}

// waiting submits a request that waits at stage (an adminAdd; for the
// removed stage an adminAdd and then an adminRemove), runs its callout and
// reads its instance id from the request.
func (z *rzAPI) waiting(t *testing.T, stage string) rzWaiting {
	t.Helper()
	pkg, pol := z.pkgAt(t, stage)
	target := z.target(t)
	got := z.submit(t, z.tok, rqAdd("adminAdd", pkg, pol, target))
	if stage == "assignmentRequestRemoved" {
		if got["state"] != "delivered" {
			t.Fatalf("setup: add request %v", got)
		}
		asg := z.assignmentOf(t, emID(t, got))
		got = z.submit(t, z.tok, map[string]any{"requestType": "adminRemove", "assignment": map[string]any{"id": asg}})
	}
	id := emID(t, got)
	wantState := map[string]string{"assignmentRequestCreated": "submitted", "assignmentRequestApproved": "submitted", "assignmentRequestGranted": "delivering",
		"assignmentRequestRemoved": "delivering"}[stage]
	if got["state"] != wantState || got["status"] != "WaitingForCallback" {
		t.Fatalf("setup: request at %s: %v", stage, got)
	}
	z.runCallouts(t)
	insts := z.instances(t, id)
	if len(insts) != 1 || insts[0]["status"] != "calloutSent" || insts[0]["customExtensionId"] != z.ext {
		t.Fatalf("setup: instances after the claim: %v", insts)
	}
	w := rzWaiting{id: id, inst: emID(t, insts[0]), stage: stage}
	if stage == "assignmentRequestGranted" || stage == "assignmentRequestRemoved" {
		w.asg = z.assignmentOf(t, id)
	}
	return w
}

func (z *rzAPI) instances(t *testing.T, id string) []map[string]any {
	t.Helper()
	raw, _ := z.getRequest(t, id, "")["customExtensionCalloutInstances"].([]any)
	out := []map[string]any{}
	for _, x := range raw {
		out = append(out, x.(map[string]any))
	}
	return out
}

// wantRequest checks a request's v1.0 state and status.
func (z *rzAPI) wantRequest(t *testing.T, id, state, status string) map[string]any {
	t.Helper()
	got := z.getRequest(t, id, "")
	if got["state"] != state || got["status"] != status {
		t.Errorf("request %s is %v/%v, want %s/%s", id, got["state"], got["status"], state, status)
	}
	return got
}

// wantInstance checks one callout instance of a request.
func (z *rzAPI) wantInstance(t *testing.T, id, inst, status string, detail any) {
	t.Helper()
	for _, x := range z.instances(t, id) {
		if x["id"] == inst {
			if x["status"] != status || x["detail"] != detail {
				t.Errorf("instance %s: status %v detail %v, want %s %v", inst, x["status"], x["detail"], status, detail)
			}
			return
		}
	}
	t.Errorf("request %s has no instance %s", id, inst)
}

// history lists a request's v1.0 history.
func (z *rzAPI) history(t *testing.T, id string) []map[string]any {
	t.Helper()
	return emValue(t, z.get(t, z.tok, emV1+"/assignmentRequests/"+id+"/history"))
}

func rzResume(id string) string { return emV1 + "/assignmentRequests/" + id + "/resume" }

// rzBody is the resume body of docs/design.md for an instance, with edits to data.
func rzBody(w rzWaiting, kv ...any) map[string]any {
	data := map[string]any{
		"@odata.type":                        "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
		"stage":                              w.stage,
		"customExtensionStageInstanceId":     w.inst,
		"customExtensionStageInstanceDetail": "Checked by the SoD service",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(data, kv[i].(string))
			continue
		}
		data[kv[i].(string)] = kv[i+1]
	}
	return map[string]any{"source": "Contoso.SodCheckProcess",
		"type": "microsoft.graph.accessPackageCustomExtensionStage." + w.stage, "data": data}
}

// ---------------------------------------------------------------- routes

func TestResumeRoutes(t *testing.T) {
	z := newRZAPI(t)
	for _, tc := range []struct {
		name, stage string
		path        func(w rzWaiting) string
	}{
		{"v1.0 assignmentRequests", "assignmentRequestCreated", func(w rzWaiting) string { return rzResume(w.id) }},
		{"v1.0 accessPackageAssignmentRequests (alias)", "assignmentRequestCreated",
			func(w rzWaiting) string { return emV1 + "/accessPackageAssignmentRequests/" + w.id + "/resume" }},
		{"beta assignmentRequests", "assignmentRequestCreated",
			func(w rzWaiting) string { return emBeta + "/assignmentRequests/" + w.id + "/resume" }},
		{"beta accessPackageAssignmentRequests", "assignmentRequestCreated",
			func(w rzWaiting) string { return emBeta + "/accessPackageAssignmentRequests/" + w.id + "/resume" }},
		{"beta under the assignment (granted stage)", "assignmentRequestGranted", func(w rzWaiting) string {
			return emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests/" + w.id + "/resume"
		}},
		{"beta under the assignment (removed stage)", "assignmentRequestRemoved", func(w rzWaiting) string {
			return emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests/" + w.id + "/resume"
		}},
		{"v1.0 microsoft.graph.resume", "assignmentRequestCreated",
			func(w rzWaiting) string { return emV1 + "/assignmentRequests/" + w.id + "/microsoft.graph.resume" }},
		{"v1.0 alias Resume", "assignmentRequestCreated",
			func(w rzWaiting) string { return emV1 + "/accessPackageAssignmentRequests/" + w.id + "/Resume" }},
		{"beta nested microsoft.graph.Resume", "assignmentRequestGranted", func(w rzWaiting) string {
			return emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests/" + w.id + "/microsoft.graph.Resume"
		}},
		{"v1.0 OData key syntax", "assignmentRequestCreated",
			func(w rzWaiting) string { return emV1 + "/assignmentRequests('" + w.id + "')/resume" }},
		{"beta nested, OData key syntax", "assignmentRequestGranted", func(w rzWaiting) string {
			return emBeta + "/accessPackageAssignments('" + w.asg + "')/accessPackageAssignmentRequests('" + w.id + "')/resume"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := z.waiting(t, tc.stage)
			resp, got := z.do(t, "POST", tc.path(w), z.tok, rzBody(w))
			wantStatus(t, resp, http.StatusNoContent)
			if got != nil || bodyOf(resp) != "" {
				t.Errorf("204 with a body: %q", bodyOf(resp))
			}
			// The follow-up was stored with the callback: a GET right after shows it.
			got = z.wantRequest(t, w.id, "delivered", "Delivered")
			emTime(t, got, "completedDateTime")
			z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
			beta := z.get(t, z.tok, emBeta+"/assignmentRequests/"+w.id)
			if beta["requestState"] != "Delivered" || beta["requestStatus"] != "Delivered" {
				t.Errorf("beta after resume: %v/%v", beta["requestState"], beta["requestStatus"])
			}
			if tc.stage == "assignmentRequestCreated" {
				if a := z.get(t, z.tok, emV1+"/assignments/"+z.assignmentOf(t, w.id)); a["state"] != "delivered" {
					t.Errorf("assignment after continue: %v", a)
				}
			}
		})
	}

	// A resume is one transaction, on every route: it reads the request,
	// checks the route's assignment and the body, and stores the outcome in
	// the same one, with no read before it.
	for _, tc := range []struct {
		name, stage string
		path        func(w rzWaiting) string
	}{
		{"v1.0", "assignmentRequestCreated", func(w rzWaiting) string { return rzResume(w.id) }},
		{"v1.0 alias", "assignmentRequestCreated", func(w rzWaiting) string { return emV1 + "/accessPackageAssignmentRequests/" + w.id + "/resume" }},
		{"beta", "assignmentRequestCreated", func(w rzWaiting) string { return emBeta + "/assignmentRequests/" + w.id + "/resume" }},
		{"beta accessPackageAssignmentRequests", "assignmentRequestCreated",
			func(w rzWaiting) string { return emBeta + "/accessPackageAssignmentRequests/" + w.id + "/resume" }},
		{"beta nested", "assignmentRequestGranted", func(w rzWaiting) string {
			return emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests/" + w.id + "/resume"
		}},
	} {
		t.Run("one transaction: "+tc.name, func(t *testing.T) {
			w := z.waiting(t, tc.stage)
			z.get(t, z.tok, emV1+"/catalogs") // the token's caller is known and cached before counting
			updates, views := z.Txs.counts()
			z.noContent(t, "POST", tc.path(w), z.tok, rzBody(w))
			u, v := z.Txs.counts()
			if u-updates != 1 || v-views != 0 {
				t.Errorf("resume ran %d write and %d read transactions, want 1 and 0", u-updates, v-views)
			}
			// A repeat and a refusal are one transaction too.
			updates, views = z.Txs.counts()
			z.noContent(t, "POST", tc.path(w), z.tok, rzBody(w))
			resp, _ := z.do(t, "POST", tc.path(w), z.tok, rzBody(w, "state", "denied"))
			wantError(t, resp, http.StatusConflict, "conflict")
			if u, v := z.Txs.counts(); u-updates != 2 || v-views != 0 {
				t.Errorf("a repeat and a refusal ran %d write and %d read transactions, want 2 and 0", u-updates, v-views)
			}
		})
	}

	t.Run("nested route: another assignment's id is 404", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		other := z.waiting(t, "assignmentRequestGranted")
		for _, asg := range []string{other.asg, "no-such-assignment"} {
			resp, _ := z.do(t, "POST", emBeta+"/accessPackageAssignments/"+asg+"/accessPackageAssignmentRequests/"+w.id+"/resume", z.tok, rzBody(w))
			wantError(t, resp, http.StatusNotFound, "itemNotFound")
		}
		z.wantRequest(t, w.id, "delivering", "WaitingForCallback")
		z.wantInstance(t, w.id, w.inst, "calloutSent", nil)
	})
	t.Run("nested route: a request that has no assignment yet is 404", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestCreated")
		other := z.waiting(t, "assignmentRequestGranted")
		resp, _ := z.do(t, "POST", emBeta+"/accessPackageAssignments/"+other.asg+"/accessPackageAssignmentRequests/"+w.id+"/resume", z.tok, rzBody(w))
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		z.wantRequest(t, w.id, "submitted", "WaitingForCallback")
	})
	t.Run("nested route: another assignment's id with a broken body is still 404", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		other := z.waiting(t, "assignmentRequestGranted")
		for _, body := range []any{"{", map[string]any{"bogus": 1}, map[string]any{"data": map[string]any{"state": "approved"}}} {
			resp, _ := z.do(t, "POST", emBeta+"/accessPackageAssignments/"+other.asg+"/accessPackageAssignmentRequests/"+w.id+"/resume", z.tok, body)
			wantError(t, resp, http.StatusNotFound, "itemNotFound")
		}
	})
	t.Run("nested route: reprocess and cancel answer as on the request itself; other actions are 404", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		under := emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests/" + w.id + "/"
		for action, want := range map[string]struct {
			status int
			code   string
		}{
			"reprocess":  {http.StatusConflict, "conflict"},      // only a failed request is reprocessed
			"cancel":     {http.StatusForbidden, "accessDenied"}, // cancel needs a signed-in user
			"Cancel":     {http.StatusForbidden, "accessDenied"}, // beta's own spelling
			"frobnicate": {http.StatusNotFound, "itemNotFound"},
		} {
			resp, _ := z.do(t, "POST", under+action, z.tok, nil)
			wantError(t, resp, want.status, want.code)
			if action != "frobnicate" {
				resp, _ = z.do(t, "POST", emBeta+"/accessPackageAssignmentRequests/"+w.id+"/"+action, z.tok, nil)
				wantError(t, resp, want.status, want.code)
			}
		}
		other := z.waiting(t, "assignmentRequestGranted")
		resp, _ := z.do(t, "POST", emBeta+"/accessPackageAssignments/"+other.asg+"/accessPackageAssignmentRequests/"+w.id+"/reprocess", z.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		z.wantRequest(t, w.id, "delivering", "WaitingForCallback")
	})
	t.Run("nested route: an assignment's requests are listed and read under it", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		other := z.waiting(t, "assignmentRequestGranted")
		under := emBeta + "/accessPackageAssignments/" + w.asg + "/accessPackageAssignmentRequests"
		list := z.get(t, z.tok, under)
		emSame(t, "the assignment's requests", []string{w.id}, valueIDs(t, list))
		emSame(t, "their context", z.context("beta", "accessPackageAssignments('"+w.asg+"')/accessPackageAssignmentRequests", false), list["@odata.context"])
		one := z.get(t, z.tok, under+"/"+w.id)
		if one["id"] != w.id || one["requestStatus"] != "WaitingForCallback" {
			t.Errorf("the request read under its assignment: %v", one)
		}
		resp, _ := z.do(t, "GET", under+"/"+other.id, z.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
		resp, _ = z.do(t, "GET", emBeta+"/accessPackageAssignments/no-such-assignment/accessPackageAssignmentRequests", z.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})
}

// ---------------------------------------------------------------- bodies

func TestResumeBodies(t *testing.T) {
	z := newRZAPI(t)
	const created = "assignmentRequestCreated"

	accepted := []struct {
		name          string
		body          func(w rzWaiting) any // nil: no body at all
		state, status string
		detail        any
	}{
		{"the draft Graph beta page's example, exactly as written", func(rzWaiting) any {
			return `{
  "source": "String",
  "type": "String",
  "data": {
    "@odata.type": "microsoft.graph.identityGovernance.customTaskExtensionCallbackData"
  }
}`
		}, "delivered", "Delivered", nil},
		{"the documented deny example", func(w rzWaiting) any {
			return `{
  "source": "Contoso.SodCheckProcess",
  "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
  "data": {
    "@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
    "stage": "assignmentRequestCreated",
    "customExtensionStageInstanceId": "` + w.inst + `",
    "customExtensionStageInstanceDetail": "Checked by the SoD service",
    "state": "denied"
  }
}`
		}, "denied", "Denied", "Checked by the SoD service"},
		{"graph-reference §10.2's minimal body", func(w rzWaiting) any {
			return map[string]any{"source": "Contoso.SodCheckProcess", "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
				"data": map[string]any{"@odata.type": "microsoft.graph.accessPackageAssignmentRequestCallbackData", "stage": "assignmentRequestCreated",
					"customExtensionStageInstanceId": w.inst, "customExtensionStageInstanceDetail": "Verified by the SoD check"}}
		}, "delivered", "Delivered", "Verified by the SoD check"},
		{"data null", func(rzWaiting) any { return `{"source":"LogicApps","type":"x","data":null}` }, "delivered", "Delivered", nil},
		{"data absent", func(rzWaiting) any { return `{"source":"LogicApps"}` }, "delivered", "Delivered", nil},
		{"an empty object", func(rzWaiting) any { return `{}` }, "delivered", "Delivered", nil},
		{"no body at all", nil, "delivered", "Delivered", nil},
		{"all three null", func(rzWaiting) any { return `{"source":null,"type":null,"data":null}` }, "delivered", "Delivered", nil},
		{"data without @odata.type reads as request callback data (deny)", func(w rzWaiting) any {
			return map[string]any{"data": map[string]any{"customExtensionStageInstanceId": w.inst, "state": "Denied"}}
		}, "denied", "Denied", nil},
		{"data {}", func(rzWaiting) any { return `{"data":{}}` }, "delivered", "Delivered", nil},
		{"unknown properties inside data are ignored", func(w rzWaiting) any {
			return rzBody(w, "extra", map[string]any{"nested": []any{1, 2}}, "approvalStage", nil, "ticket", "INC0012345", "@odata.context", "x")
		}, "delivered", "Delivered", "Checked by the SoD service"},
		{"read-only annotations at the top level are dropped", func(w rzWaiting) any {
			return with(rzBody(w), "@odata.context", "https://graph.microsoft.com/v1.0/$metadata#x")
		}, "delivered", "Delivered", "Checked by the SoD service"},
		{"canceled", func(w rzWaiting) any { return rzBody(w, "state", "Canceled") }, "canceled", "Canceled", "Checked by the SoD service"},
		{"@odata.type without # and namespace prefix", func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "accessPackageAssignmentRequestCallbackData", "state", "DENIED")
		}, "denied", "Denied", "Checked by the SoD service"},
		{"#microsoft.graph.customExtensionData", func(w rzWaiting) any { return rzBody(w, "@odata.type", "#microsoft.graph.customExtensionData") },
			"delivered", "Delivered", "Checked by the SoD service"},
		{"#microsoft.graph.assignmentRequestApprovalStageCallbackData", func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "#microsoft.graph.assignmentRequestApprovalStageCallbackData")
		}, "delivered", "Delivered", "Checked by the SoD service"},
		{"customTaskExtensionCallbackData Completed", func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData", "operationStatus", "Completed")
		}, "delivered", "Delivered", "Checked by the SoD service"},
		{"customTaskExtensionCallbackData Failed", func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData", "operationStatus", "Failed")
		}, "deliveryFailed", "CustomExtensionFailed", "Checked by the SoD service"},
		{"the LCW example (no @odata.type, operationStatus)", func(rzWaiting) any {
			return `{"source": "sample", "type": "lifecycleEvent", "data": {"operationStatus": "Completed"}}`
		}, "delivered", "Delivered", nil},
		{"stage in another case, no instance id", func(w rzWaiting) any {
			return rzBody(w, "stage", "AssignmentRequestCreated", "customExtensionStageInstanceId", nil)
		}, "delivered", "Delivered", "Checked by the SoD service"},
		// Regression: PascalCase names inside data, as extensions copy them from
		// the callout, were once ignored, and this deny was delivered.
		{"PascalCase names inside data deny", func(w rzWaiting) any {
			return map[string]any{"Source": "LogicApp", "Data": map[string]any{"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestCallbackData",
				"Stage": "assignmentRequestCreated", "CustomExtensionStageInstanceId": w.inst,
				"CustomExtensionStageInstanceDetail": "SoD conflict", "State": "denied"}}
		}, "denied", "Denied", "SoD conflict"},
		{"State alone, PascalCase, denies", func(rzWaiting) any { return `{"data":{"State":"denied"}}` }, "denied", "Denied", nil},
		{"stage from type only", func(w rzWaiting) any {
			return map[string]any{"type": "microsoft.graph.accessPackageCustomExtensionStage.AssignmentRequestCreated",
				"data": map[string]any{"customExtensionStageInstanceId": w.inst}}
		}, "delivered", "Delivered", nil},
	}
	for _, tc := range accepted {
		t.Run("204: "+tc.name, func(t *testing.T) {
			w := z.waiting(t, created)
			var body any
			if tc.body != nil {
				body = tc.body(w)
			}
			z.noContent(t, "POST", rzResume(w.id), z.tok, body)
			got := z.wantRequest(t, w.id, tc.state, tc.status)
			emTime(t, got, "completedDateTime")
			z.wantInstance(t, w.id, w.inst, "callbackReceived", tc.detail)
		})
	}

	refused := []struct {
		name   string
		status int
		body   func(w rzWaiting) any
		names  []string
	}{
		{"unknown top-level property", 400, func(w rzWaiting) any { return with(rzBody(w), "priority", "high") }, []string{"priority"}},
		{"unknown top-level object", 400, func(w rzWaiting) any { return with(rzBody(w), "callbackData", map[string]any{}) }, []string{"callbackData"}},
		{"source is a number", 400, func(w rzWaiting) any { return with(rzBody(w), "source", 5) }, []string{"source"}},
		{"type is a boolean", 400, func(w rzWaiting) any { return with(rzBody(w), "type", true) }, []string{"type"}},
		{"data is a string", 400, func(w rzWaiting) any { return with(rzBody(w), "data", "x") }, []string{"data"}},
		{"data is an array", 400, func(w rzWaiting) any { return with(rzBody(w), "data", []any{}) }, []string{"data"}},
		{"data.stage is a number", 400, func(w rzWaiting) any { return rzBody(w, "stage", 5) }, []string{"data.stage"}},
		{"data.customExtensionStageInstanceId is an object", 400, func(w rzWaiting) any {
			return rzBody(w, "customExtensionStageInstanceId", map[string]any{"id": w.inst})
		}, []string{"data.customExtensionStageInstanceId"}},
		{"data.state is a boolean", 400, func(w rzWaiting) any { return rzBody(w, "state", false) }, []string{"data.state"}},
		{"data names state twice, in two cases", 400, func(w rzWaiting) any {
			return `{"data":{"customExtensionStageInstanceId":"` + w.inst + `","state":"denied","State":"Denied"}}`
		}, []string{"data.State", "twice"}},
		{"the top level names data twice", 400, func(w rzWaiting) any { return `{"data":null,"Data":{"state":"denied"}}` }, []string{"Data", "twice"}},
		{"not JSON", 400, func(rzWaiting) any { return "resume please" }, nil},
		{"a JSON array", 400, func(rzWaiting) any { return "[]" }, nil},
		{"two JSON values", 400, func(rzWaiting) any { return "{} {}" }, nil},
		{"unknown data @odata.type", 400, func(w rzWaiting) any { return rzBody(w, "@odata.type", "#microsoft.graph.approvalStage") }, []string{"approvalStage"}},
		{"state approved", 400, func(w rzWaiting) any { return rzBody(w, "state", "approved") }, []string{"data.state", "approved"}},
		{"operationStatus bogus", 400, func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData", "operationStatus", "bogus")
		}, []string{"operationStatus", "bogus"}},
		{"data.stage nope", 400, func(w rzWaiting) any { return rzBody(w, "stage", "nope") }, []string{"data.stage", "nope"}},
		// Validate runs before the instance is resolved.
		{"unknown data @odata.type and an unknown instance: 400 first", 400, func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "#microsoft.graph.bogus", "customExtensionStageInstanceId", "no-such-instance")
		}, []string{"bogus"}},
		{"state approved and an unknown instance: 400 first", 400, func(w rzWaiting) any {
			return rzBody(w, "state", "approved", "customExtensionStageInstanceId", "no-such-instance")
		}, []string{"approved"}},
		{"operationStatus bogus and an unknown instance: 400 first", 400, func(w rzWaiting) any {
			return rzBody(w, "@odata.type", "microsoft.graph.identityGovernance.customTaskExtensionCallbackData", "operationStatus", "bogus",
				"customExtensionStageInstanceId", "no-such-instance")
		}, []string{"bogus"}},
		{"data.stage nope and an unknown instance: 400 first", 400, func(w rzWaiting) any {
			return rzBody(w, "stage", "nope", "customExtensionStageInstanceId", "no-such-instance")
		}, []string{"nope"}},
		{"a wrong JSON type and an unknown instance: 400 first", 400, func(w rzWaiting) any {
			return with(rzBody(w, "customExtensionStageInstanceId", "no-such-instance"), "source", 5)
		}, []string{"source"}},
		// Then the instance, then the stage, then the state.
		{"unknown instance id", 409, func(w rzWaiting) any { return rzBody(w, "customExtensionStageInstanceId", "no-such-instance") },
			[]string{"no-such-instance"}},
		{"unknown instance and a wrong stage: 409", 409, func(w rzWaiting) any {
			return rzBody(w, "customExtensionStageInstanceId", "no-such-instance", "stage", "assignmentRequestGranted")
		}, []string{"no-such-instance"}},
		{"wrong stage with the instance id: 400", 400, func(w rzWaiting) any { return rzBody(w, "stage", "assignmentRequestApproved") },
			[]string{"assignmentRequestApproved", "assignmentRequestCreated"}},
		{"wrong stage in type with the instance id: 400", 400, func(w rzWaiting) any {
			b := rzBody(w, "stage", nil)
			b["type"] = "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestGranted"
			return b
		}, []string{"assignmentRequestGranted"}},
		{"wrong stage without an id: 409, nothing waits there", 409, func(w rzWaiting) any {
			return rzBody(w, "stage", "assignmentRequestGranted", "customExtensionStageInstanceId", nil)
		}, []string{"assignmentRequestGranted"}},
	}
	for _, tc := range refused {
		t.Run(fmt.Sprint(tc.status, ": ", tc.name), func(t *testing.T) {
			w := z.waiting(t, created)
			resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, tc.body(w))
			code := map[int]string{400: "invalidRequest", 409: "conflict"}[tc.status]
			wantMessage(t, wantError(t, resp, tc.status, code), tc.names...)
			z.wantRequest(t, w.id, "submitted", "WaitingForCallback")
			z.wantInstance(t, w.id, w.inst, "calloutSent", nil)
			// A refused callback leaves the request waiting: a good one still works.
			z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
			z.wantRequest(t, w.id, "delivered", "Delivered")
		})
	}

	t.Run("at the granted stage: state denied is 400, failed is partiallyDelivered", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, rzBody(w, "state", "denied"))
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "data.state", "assignmentRequestGranted")
		// Stage before state: a wrong stage and a state not allowed answer with the stage.
		resp, _ = z.do(t, "POST", rzResume(w.id), z.tok, rzBody(w, "state", "denied", "stage", "assignmentRequestCreated"))
		msg := wantError(t, resp, http.StatusBadRequest, "invalidRequest")
		wantMessage(t, msg, "names stage assignmentRequestCreated")
		if strings.Contains(msg, "data.state") {
			t.Errorf("stage and state both wrong: the message names the state: %q", msg)
		}
		z.wantRequest(t, w.id, "delivering", "WaitingForCallback")
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData",
			"operationStatus", "failed"))
		z.wantRequest(t, w.id, "partiallyDelivered", "CustomExtensionFailed")
		z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
	})
	t.Run("at the approved stage: denied ends the request, continue delivers", func(t *testing.T) {
		d := z.waiting(t, "assignmentRequestApproved")
		resp, _ := z.do(t, "POST", rzResume(d.id), z.tok, rzBody(d, "stage", "assignmentRequestCreated"))
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "assignmentRequestCreated", "assignmentRequestApproved")
		z.noContent(t, "POST", rzResume(d.id), z.tok, rzBody(d, "state", "denied"))
		z.wantRequest(t, d.id, "denied", "Denied")
		c := z.waiting(t, "assignmentRequestApproved")
		z.noContent(t, "POST", rzResume(c.id), z.tok, map[string]any{"type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestApproved"})
		z.wantRequest(t, c.id, "delivered", "Delivered")
	})
	t.Run("at the removed stage: canceled is 400, continue delivers the remove", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestRemoved")
		resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, rzBody(w, "state", "canceled"))
		wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), "data.state", "assignmentRequestRemoved")
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		z.wantRequest(t, w.id, "delivered", "Delivered")
		if a := z.get(t, z.tok, emV1+"/assignments/"+w.asg); a["state"] != "expired" {
			t.Errorf("assignment after the remove: %v", a)
		}
	})
}

// parseCallback reads what the route hands to the service: the JSON types
// are its business, the values the service's.
func TestParseCallback(t *testing.T) {
	for _, tc := range []struct {
		body string
		want access.Callback
	}{
		{``, access.Callback{}},
		{`  `, access.Callback{}},
		{`{}`, access.Callback{}},
		{`{"data":null}`, access.Callback{}},
		{`{"source":"S","type":"T"}`, access.Callback{Source: "S", Type: "T"}},
		{`{"data":{}}`, access.Callback{HasData: true}},
		{`{"data":{"@odata.type":"#microsoft.graph.accessPackageAssignmentRequestCallbackData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataRequest}},
		{`{"data":{"@odata.type":"microsoft.graph.accessPackageAssignmentRequestCallbackData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataRequest}},
		{`{"data":{"@odata.type":"accessPackageAssignmentRequestCallbackData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataRequest}},
		{`{"data":{"@odata.type":"#microsoft.graph.assignmentRequestApprovalStageCallbackData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataApprovalStage}},
		{`{"data":{"@odata.type":"#microsoft.graph.customExtensionData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataBase}},
		{`{"data":{"@odata.type":"#microsoft.graph.identityGovernance.customTaskExtensionCallbackData","operationStatus":"Failed"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataCustomTask, OperationStatus: "Failed"}},
		{`{"data":{"@odata.type":"microsoft.graph.identityGovernance.customTaskExtensionCallbackData"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataCustomTask}},
		{`{"data":{"stage":"AssignmentRequestCreated","customExtensionStageInstanceId":"i","customExtensionStageInstanceDetail":"d","state":"Denied","extra":[1]}}`,
			access.Callback{HasData: true, Stage: "AssignmentRequestCreated", InstanceID: "i", Detail: "d", State: "Denied"}},
		{`{"data":{"stage":null,"state":null,"customExtensionStageInstanceId":null}}`, access.Callback{HasData: true}},
		// Names inside data match without regard to case, as the top level's do:
		// extensions copy the callout's PascalCase names back.
		{`{"data":{"@odata.type":"#microsoft.graph.accessPackageAssignmentRequestCallbackData","Stage":"assignmentRequestCreated","CustomExtensionStageInstanceId":"i","CustomExtensionStageInstanceDetail":"d","State":"denied"}}`,
			access.Callback{HasData: true, DataType: access.CallbackDataRequest, Stage: "assignmentRequestCreated", InstanceID: "i", Detail: "d", State: "denied"}},
		{`{"Source":"S","TYPE":"T","Data":{"@ODATA.TYPE":"#microsoft.graph.identityGovernance.customTaskExtensionCallbackData","OPERATIONSTATUS":"failed"}}`,
			access.Callback{Source: "S", Type: "T", HasData: true, DataType: access.CallbackDataCustomTask, OperationStatus: "failed"}},
	} {
		got, err := parseCallback([]byte(tc.body))
		if err != nil {
			t.Errorf("parseCallback(%s): %v", tc.body, err)
			continue
		}
		emSame(t, "parseCallback("+tc.body+")", tc.want, got)
		if err := got.Validate(); err != nil {
			t.Errorf("Validate(parseCallback(%s)): %v", tc.body, err)
		}
	}
	for _, body := range []string{`{"x":1}`, `{"source":5}`, `{"data":"x"}`, `{"data":[]}`, `{"data":5}`, `{"data":{"stage":5}}`,
		`{"data":{"@odata.type":5}}`, `{"data":{"operationStatus":{}}}`, `null`, `[]`, `"x"`, `{`,
		// One property named twice, in the same or another case, at any depth.
		`{"data":{"state":"denied","State":"denied"}}`, `{"data":{"State":"denied","state":null}}`,
		`{"data":{"state":"denied","state":"denied"}}`, `{"source":"a","Source":"b"}`, `{"data":{},"DATA":null}`,
		`{"data":{"extra":{"x":1,"X":2}}}`, `{"data":{"extra":[{"y":1,"Y":1}]}}`} {
		if _, err := parseCallback([]byte(body)); access.KindOf(err) != access.KindInvalid {
			t.Errorf("parseCallback(%s): %v, want invalid", body, err)
		}
	}
	// Unknown data types pass the parse and fail Validate.
	cb, err := parseCallback([]byte(`{"data":{"@odata.type":"#microsoft.graph.bogusCallbackData"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if access.KindOf(cb.Validate()) != access.KindInvalid {
		t.Errorf("Validate of an unknown data type: %v", cb.Validate())
	}
}

// ---------------------------------------------------------------- who may call, and the order of checks

func TestResumePermissionsAndOrder(t *testing.T) {
	z := newRZAPI(t)
	w := z.waiting(t, "assignmentRequestCreated")
	granted := z.waiting(t, "assignmentRequestGranted")
	nested := func(asg, id string) string {
		return emBeta + "/accessPackageAssignments/" + asg + "/accessPackageAssignmentRequests/" + id + "/resume"
	}
	paths := func(id string) []string {
		return []string{rzResume(id), emV1 + "/accessPackageAssignmentRequests/" + id + "/resume",
			emBeta + "/assignmentRequests/" + id + "/resume", emBeta + "/accessPackageAssignmentRequests/" + id + "/resume",
			nested(granted.asg, id)}
	}

	t.Run("no token: 401", func(t *testing.T) {
		for _, p := range append(paths(w.id), paths("no-such-request")...) {
			resp, _ := z.do(t, "POST", p, "", rzBody(w))
			wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
		}
	})
	t.Run("a malformed token: 401", func(t *testing.T) {
		resp, _ := z.do(t, "POST", rzResume(w.id), "not.a.token", rzBody(w))
		wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken")
	})
	t.Run("Read.All only: 403, also for an unknown request", func(t *testing.T) {
		for _, p := range append(paths(w.id), paths("no-such-request")...) {
			resp, _ := z.do(t, "POST", p, z.readTok, rzBody(w))
			wantError(t, resp, http.StatusForbidden, "accessDenied")
		}
	})
	t.Run("a user with only EntitlementMgmt-SubjectAccess.ReadWrite: 403, also for an unknown request", func(t *testing.T) {
		for _, p := range append(paths(w.id), paths("no-such-request")...) {
			resp, _ := z.do(t, "POST", p, z.aliceTok, rzBody(w))
			wantError(t, resp, http.StatusForbidden, "accessDenied")
			resp, _ = z.do(t, "POST", p, z.aliceTok, "{")
			wantError(t, resp, http.StatusForbidden, "accessDenied")
		}
	})
	t.Run("an application with Read.All and SubjectAccess only: 403", func(t *testing.T) {
		tok := z.appTokenNamed(t, "weak-app", "EntitlementManagement.Read.All", scopeSA)
		resp, _ := z.do(t, "POST", rzResume(w.id), tok, rzBody(w))
		wantError(t, resp, http.StatusForbidden, "accessDenied")
	})
	t.Run("unknown request: 404, even with a broken body", func(t *testing.T) {
		for _, p := range paths("no-such-request") {
			for _, body := range []any{rzBody(w), "{", map[string]any{"bogus": true}, map[string]any{"data": "x"},
				map[string]any{"data": map[string]any{"state": "approved"}}} {
				resp, _ := z.do(t, "POST", p, z.tok, body)
				wantError(t, resp, http.StatusNotFound, "itemNotFound")
			}
		}
	})
	z.wantRequest(t, w.id, "submitted", "WaitingForCallback")
	z.wantRequest(t, granted.id, "delivering", "WaitingForCallback")

	t.Run("a signed-in user with ReadWrite.All: 204, recorded as the actor", func(t *testing.T) {
		z.noContent(t, "POST", rzResume(w.id), z.adminTok, rzBody(w))
		z.wantRequest(t, w.id, "delivered", "Delivered")
		h := z.history(t, w.id)
		var found bool
		for _, e := range h {
			if e["action"] == "callbackReceived" {
				found = true
				emSame(t, "actor", map[string]any{"id": z.admin, "displayName": "admin@contoso.test"}, e["actor"])
			}
		}
		if !found {
			t.Errorf("no callbackReceived entry in %v", h)
		}
	})
}

// ---------------------------------------------------------------- repeats and history

func TestResumeRepeatAndHistory(t *testing.T) {
	z := newRZAPI(t)
	w := z.waiting(t, "assignmentRequestCreated")

	z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
	after := z.wantRequest(t, w.id, "delivered", "Delivered")

	// The same outcome again, with another detail and source: 204, nothing changes.
	again := rzBody(w, "customExtensionStageInstanceDetail", "Checked again")
	again["source"] = "Contoso.Retry"
	z.noContent(t, "POST", emBeta+"/accessPackageAssignmentRequests/"+w.id+"/resume", z.tok, again)
	emSame(t, "request after a repeat", after, z.getRequest(t, w.id, ""))
	z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")

	// Another outcome: 409.
	for _, body := range []map[string]any{
		rzBody(w, "state", "denied"),
		rzBody(w, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData", "operationStatus", "failed"),
	} {
		resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, body)
		wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), w.inst)
	}
	// Nothing waits any more: a callback without an id is 409.
	resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, nil)
	wantError(t, resp, http.StatusConflict, "conflict")
	emSame(t, "request after refused callbacks", after, z.getRequest(t, w.id, ""))

	h := z.history(t, w.id)
	var callbacks []map[string]any
	var actions []string
	for _, e := range h {
		actions = append(actions, e["action"].(string))
		emSame(t, "history entry keys", rqHistoryKeys, emKeys(e))
		if a := e["action"]; a == "callbackReceived" || a == "callbackRepeated" {
			callbacks = append(callbacks, e)
		}
	}
	emSame(t, "actions", []string{"submitted", "calloutQueued", "transition", "calloutSent", "callbackReceived", "transition", "transition",
		"callbackRepeated"}, actions)
	if len(callbacks) != 2 {
		t.Fatalf("callback entries %v", callbacks)
	}
	emSame(t, "callbackReceived", map[string]any{"id": callbacks[0]["id"], "dateTime": callbacks[0]["dateTime"], "action": "callbackReceived",
		"actor": z.appActor, "source": "Contoso.SodCheckProcess", "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
		"stage": "assignmentRequestCreated", "detail": "Checked by the SoD service", "outcome": "continue",
		"state": "submitted", "status": "WaitingForCallback"}, callbacks[0])
	emSame(t, "callbackRepeated", map[string]any{"id": callbacks[1]["id"], "dateTime": callbacks[1]["dateTime"], "action": "callbackRepeated",
		"actor": z.appActor, "source": "Contoso.Retry", "type": "microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated",
		"stage": "assignmentRequestCreated", "detail": "Checked again", "outcome": "continue",
		"state": "delivered", "status": "Delivered"}, callbacks[1])
	emTime(t, callbacks[0], "dateTime")

	t.Run("beta history lists the same callbacks", func(t *testing.T) {
		beta := emValue(t, z.get(t, z.tok, emBeta+"/assignmentRequests/"+w.id+"/history"))
		emSame(t, "ids", emIDs(h), emIDs(beta))
		for _, e := range beta {
			if e["id"] == callbacks[0]["id"] && (e["state"] != "Submitted" || e["outcome"] != "continue" || e["source"] != "Contoso.SodCheckProcess") {
				t.Errorf("beta callback entry %v", e)
			}
		}
	})
	t.Run("a denied callback's entry", func(t *testing.T) {
		d := z.waiting(t, "assignmentRequestCreated")
		z.noContent(t, "POST", rzResume(d.id), z.tok, rzBody(d, "state", "denied"))
		z.noContent(t, "POST", rzResume(d.id), z.tok, rzBody(d, "state", "Denied"))
		var outcomes []string
		for _, e := range z.history(t, d.id) {
			if a := e["action"].(string); strings.HasPrefix(a, "callback") {
				outcomes = append(outcomes, a+" "+e["outcome"].(string))
			}
		}
		emSame(t, "callback entries", []string{"callbackReceived denied", "callbackRepeated denied"}, outcomes)
		resp, _ := z.do(t, "POST", rzResume(d.id), z.tok, rzBody(d, "state", "canceled"))
		wantError(t, resp, http.StatusConflict, "conflict")
		z.wantRequest(t, d.id, "denied", "Denied")
	})
}

// ---------------------------------------------------------------- the end of a wait

func TestResumeAfterCancel(t *testing.T) {
	z := newRZAPI(t)
	w := z.waiting(t, "assignmentRequestCreated")
	z.noContent(t, "POST", emV1+"/assignmentRequests/"+w.id+"/cancel", z.adminTok, nil)
	z.wantRequest(t, w.id, "canceled", "Canceled")
	z.wantInstance(t, w.id, w.inst, "calloutSent", nil)
	if n := len(z.timers(t, w.id)); n != 0 {
		t.Errorf("cancel left %d callback deadlines", n)
	}
	for _, body := range []any{rzBody(w), nil, rzBody(w, "state", "denied")} {
		resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, body)
		wantError(t, resp, http.StatusConflict, "conflict")
	}
	z.wantRequest(t, w.id, "canceled", "Canceled")
	z.wantInstance(t, w.id, w.inst, "calloutSent", nil)
}

func TestResumeAfterTimeoutAndReprocess(t *testing.T) {
	z := newRZAPI(t)
	ctx := context.Background()
	w := z.waiting(t, "assignmentRequestCreated")

	deadlines := z.timers(t, w.id)
	if len(deadlines) != 1 || deadlines[0].InstanceID != w.inst || deadlines[0].Stage != "assignmentRequestCreated" {
		t.Fatalf("callback deadlines %+v", deadlines)
	}
	if err := z.Svc.RunTimer(ctx, deadlines[0]); err != nil {
		t.Fatalf("run the callback deadline: %v", err)
	}
	failed := z.wantRequest(t, w.id, "deliveryFailed", "CallbackTimedOut")
	emTime(t, failed, "completedDateTime")
	z.wantInstance(t, w.id, w.inst, "callbackTimedOut", nil)

	t.Run("a callback after the timeout: 409", func(t *testing.T) {
		for _, body := range []any{rzBody(w), nil, rzBody(w, "customExtensionStageInstanceId", nil)} {
			resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, body)
			wantError(t, resp, http.StatusConflict, "conflict")
		}
		emSame(t, "request after refused callbacks", failed, z.getRequest(t, w.id, ""))
	})
	t.Run("reprocess needs ReadWrite.All", func(t *testing.T) {
		for _, tok := range []string{z.readTok, z.aliceTok} {
			resp, _ := z.do(t, "POST", emV1+"/assignmentRequests/"+w.id+"/reprocess", tok, nil)
			wantError(t, resp, http.StatusForbidden, "accessDenied")
		}
		resp, _ := z.do(t, "POST", emV1+"/assignmentRequests/no-such-request/reprocess", z.readTok, nil)
		wantError(t, resp, http.StatusForbidden, "accessDenied")
		emSame(t, "request after refused reprocess", failed, z.getRequest(t, w.id, ""))
	})
	t.Run("reprocess with a body that is not empty or {}: 400, as cancel", func(t *testing.T) {
		f := z.waiting(t, "assignmentRequestCreated")
		if err := z.Svc.RunTimer(ctx, z.timers(t, f.id)[0]); err != nil {
			t.Fatal(err)
		}
		z.wantRequest(t, f.id, "deliveryFailed", "CallbackTimedOut")
		for _, body := range []any{map[string]any{"reason": "x"}, "{"} {
			resp, _ := z.do(t, "POST", emV1+"/assignmentRequests/"+f.id+"/reprocess", z.tok, body)
			wantError(t, resp, http.StatusBadRequest, "invalidRequest")
		}
		z.wantRequest(t, f.id, "deliveryFailed", "CallbackTimedOut")
	})
	t.Run("reprocess of an unknown request: 404", func(t *testing.T) {
		resp, _ := z.do(t, "POST", emV1+"/assignmentRequests/no-such-request/reprocess", z.tok, nil)
		wantError(t, resp, http.StatusNotFound, "itemNotFound")
	})

	t.Run("reprocess: 202, back to submitted with a new callout", func(t *testing.T) {
		resp, got := z.do(t, "POST", emV1+"/assignmentRequests/"+w.id+"/reprocess", z.tok, nil)
		wantStatus(t, resp, http.StatusAccepted)
		if got != nil {
			t.Errorf("202 with a body: %v", got)
		}
		r := z.wantRequest(t, w.id, "submitted", "WaitingForCallback")
		if r["completedDateTime"] != nil {
			t.Errorf("completedDateTime after reprocess: %v", r["completedDateTime"])
		}
		ws := z.runCallouts(t)
		var next string
		for _, x := range ws {
			if x.Kind == access.WorkCallout && x.RequestID == w.id {
				next = x.InstanceID
			}
		}
		if next == "" || next == w.inst {
			t.Fatalf("new callout instance %q (old %q) in %+v", next, w.inst, ws)
		}
		insts := z.instances(t, w.id)
		if len(insts) != 2 {
			t.Fatalf("instances after reprocess: %v", insts)
		}
		z.wantInstance(t, w.id, w.inst, "callbackTimedOut", nil)
		z.wantInstance(t, w.id, next, "calloutSent", nil)
		if d := z.timers(t, w.id); len(d) != 1 || d[0].InstanceID != next {
			t.Errorf("deadlines after reprocess: %+v", d)
		}

		// The old instance stays answered by its timeout; the new one takes the callback.
		resp, _ = z.do(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		wantError(t, resp, http.StatusConflict, "conflict")
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(rzWaiting{id: w.id, inst: next, stage: w.stage}))
		z.wantRequest(t, w.id, "delivered", "Delivered")
		var actions []string
		for _, e := range z.history(t, w.id) {
			actions = append(actions, e["action"].(string))
		}
		if !strings.Contains(strings.Join(actions, ","), "stageFailed,transition,reprocessed,transition,calloutQueued,transition,calloutSent,callbackReceived") {
			t.Errorf("history %v", actions)
		}
	})
	t.Run("reprocess of a delivered request: 409", func(t *testing.T) {
		for _, p := range []string{emV1 + "/assignmentRequests/" + w.id + "/reprocess", emBeta + "/accessPackageAssignmentRequests/" + w.id + "/Reprocess",
			emV1 + "/accessPackageAssignmentRequests/" + w.id + "/microsoft.graph.reprocess"} {
			resp, _ := z.do(t, "POST", p, z.tok, nil)
			wantMessage(t, wantError(t, resp, http.StatusConflict, "conflict"), "delivered")
		}
	})
	t.Run("reprocess of a request still waiting: 409", func(t *testing.T) {
		other := z.waiting(t, "assignmentRequestCreated")
		resp, _ := z.do(t, "POST", emV1+"/assignmentRequests/"+other.id+"/reprocess", z.tok, nil)
		wantError(t, resp, http.StatusConflict, "conflict")
		z.wantRequest(t, other.id, "submitted", "WaitingForCallback")
	})
	t.Run("reprocess after a failed callback at the granted stage: back to delivering", func(t *testing.T) {
		g := z.waiting(t, "assignmentRequestGranted")
		z.noContent(t, "POST", rzResume(g.id), z.tok, rzBody(g, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData",
			"operationStatus", "failed"))
		z.wantRequest(t, g.id, "partiallyDelivered", "CustomExtensionFailed")
		z.noContent(t, "POST", rzResume(g.id), z.tok, rzBody(g, "@odata.type", "#microsoft.graph.identityGovernance.customTaskExtensionCallbackData",
			"operationStatus", "failed")) // a repeat
		resp, _ := z.do(t, "POST", emBeta+"/assignmentRequests/"+g.id+"/reprocess", z.tok, nil)
		wantStatus(t, resp, http.StatusAccepted)
		z.wantRequest(t, g.id, "delivering", "WaitingForCallback")
		z.runCallouts(t)
		if insts := z.instances(t, g.id); len(insts) != 2 || insts[1]["status"] != "calloutSent" || insts[1]["id"] == g.inst {
			t.Errorf("instances after reprocess: %v", insts)
		}
		z.noContent(t, "POST", rzResume(g.id), z.tok, nil)
		z.wantRequest(t, g.id, "delivered", "Delivered")
	})
}

func TestResumeAndTheCalloutsOwnEnd(t *testing.T) {
	z := newRZAPI(t)
	ctx := context.Background()
	claim := func(t *testing.T, w rzWaiting) access.Work {
		t.Helper()
		// The callout was claimed by waiting(); its lease is held. Claim it
		// again from the store as a later worker would.
		later := time.Now().Add(2 * time.Minute)
		var out access.Work
		err := z.Store.Update(ctx, func(tx access.Tx) error {
			ws, err := tx.ClaimWork(later, "test-2", later.Add(time.Minute), 100)
			for _, x := range ws {
				if x.Kind == access.WorkCallout && x.RequestID == w.id {
					out = x
				}
			}
			return err
		})
		if err != nil || out.ID == "" {
			t.Fatalf("claim the callout of %s: %v", w.id, err)
		}
		return out
	}

	t.Run("a callback before the extension's HTTP answer; a late failure is ignored", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestCreated")
		work := claim(t, w)
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		if err := z.Svc.FinishCallout(ctx, work, access.CalloutResult{Error: "connection reset"}); err != nil {
			t.Fatal(err)
		}
		z.wantRequest(t, w.id, "delivered", "Delivered")
		z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
		if settled, err := z.Svc.CalloutSettled(ctx, work); err != nil || !settled {
			t.Errorf("CalloutSettled after the callback: %v, %v", settled, err)
		}
	})
	t.Run("a callout that failed: the request fails, a callback is 409", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestCreated")
		work := claim(t, w)
		if err := z.Svc.FinishCallout(ctx, work, access.CalloutResult{Error: "503 twice"}); err != nil {
			t.Fatal(err)
		}
		z.wantRequest(t, w.id, "deliveryFailed", "CalloutFailed")
		z.wantInstance(t, w.id, w.inst, "calloutFailed", "503 twice")
		resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		wantError(t, resp, http.StatusConflict, "conflict")
		resp, _ = z.do(t, "POST", rzResume(w.id), z.tok, nil)
		wantError(t, resp, http.StatusConflict, "conflict")
	})
	t.Run("a callout answered 202: waitingForCallback, then the callback", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestGranted")
		work := claim(t, w)
		if err := z.Svc.FinishCallout(ctx, work, access.CalloutResult{OK: true, CorrelationID: "run-1"}); err != nil {
			t.Fatal(err)
		}
		z.wantInstance(t, w.id, w.inst, "waitingForCallback", nil)
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		z.wantRequest(t, w.id, "delivered", "Delivered")
		z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
	})
	t.Run("a late deadline after the callback is ignored", func(t *testing.T) {
		w := z.waiting(t, "assignmentRequestCreated")
		deadline := z.timers(t, w.id)
		if len(deadline) != 1 {
			t.Fatalf("deadlines %+v", deadline)
		}
		z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w))
		if err := z.Svc.RunTimer(ctx, deadline[0]); err != nil {
			t.Fatal(err)
		}
		z.wantRequest(t, w.id, "delivered", "Delivered")
		z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
	})
}
