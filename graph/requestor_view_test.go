package graph

import (
	"net/http"
	"testing"
)

// A requestor with the self-service scope and no role on the catalog reads
// their own request with the text of each question they answered and the
// name of each extension it called, though they may read neither the
// policy nor the extension (the portal shows both to them).
func TestRolelessRequestorReadsQuestionsAndExtensionNames(t *testing.T) {
	z := newRZAPI(t)
	pkg, pol, created := z.pkgPolicy(t, "Asked and checked", func(p map[string]any) {
		rqQuestions(p)
		p["requestorSettings"] = map[string]any{"enableTargetsToSelfAddAccess": true}
		p["customExtensionStageSettings"] = []any{map[string]any{"stage": "assignmentRequestCreated", "customExtension": map[string]any{"id": z.ext}}}
	})
	q := rqQuestionIDs(t, created)
	body := rqAdd("userAdd", pkg, pol, "")
	body["answers"] = []any{rqAnswer(q[0], "4711")}
	resp, got := z.do(t, "POST", emV1+"/assignmentRequests", z.aliceTok, body)
	wantStatus(t, resp, http.StatusCreated)
	id := emID(t, got)
	z.runCallouts(t)

	// Alice may not read the policy or the extension herself.
	for _, path := range []string{emV1 + "/assignmentPolicies/" + pol, emV1 + "/catalogs/" + z.catalog + "/customWorkflowExtensions/" + z.ext} {
		resp, _ := z.do(t, "GET", path, z.aliceTok, nil)
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("GET %s as the roleless requestor: 200, want a refusal (the test needs her without a role)", path)
		}
	}
	for _, tc := range []struct{ name, path string }{
		{"v1.0 GET", emV1 + "/assignmentRequests/" + id},
		{"filterByCurrentUser", emV1 + "/assignmentRequests/filterByCurrentUser(on='target')"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := z.get(t, z.aliceTok, tc.path)
			if v, ok := r["value"].([]any); ok {
				if len(v) != 1 {
					t.Fatalf("%d requests, want 1", len(v))
				}
				r = v[0].(map[string]any)
			}
			answers, _ := r["answers"].([]any)
			if len(answers) != 1 {
				t.Fatalf("answers %v, want 1", r["answers"])
			}
			question, _ := answers[0].(map[string]any)["answeredQuestion"].(map[string]any)
			emSame(t, "answered question", map[string]any{"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion",
				"id": q[0], "text": "Cost center?"}, question)
			callouts, _ := r["customExtensionCalloutInstances"].([]any)
			if len(callouts) != 1 {
				t.Fatalf("callout instances %v, want 1", r["customExtensionCalloutInstances"])
			}
			c := callouts[0].(map[string]any)
			emSame(t, "extension id", z.ext, c["customExtensionId"])
			emSame(t, "extension name annotation", "SoD check", c["customExtensionId@accessd.displayName"])
		})
	}
}
