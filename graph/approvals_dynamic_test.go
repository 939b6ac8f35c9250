package graph

import (
	"net/http"
	"testing"
)

// Tests of dynamic approval stages: a policy's stage whose approvers a
// custom extension determines, and the resume that brings them.

// apDynamicStage is a stage whose approvers the extension determines.
func apDynamicStage(extensionID string) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.accessPackageDynamicApprovalStage",
		"customExtension": map[string]any{"@odata.type": "#microsoft.graph.accessPackageAssignmentRequestWorkflowExtension", "id": extensionID}}
}

func TestApprovalDynamicStagePolicy(t *testing.T) {
	a := newEMAPI(t)
	w := a.world(t)
	carol := a.newUser(t, "carol@contoso.test").ID
	body := emMinimalPolicy(w.pkg, "Dynamic")
	apStages(apDynamicStage(w.requestExtension), apStage(carol))(body)

	created := a.mustCall(t, "POST", emV1+"/assignmentPolicies", body, http.StatusCreated)
	id := emID(t, created)
	wantSettings := map[string]any{"isApprovalRequiredForAdd": true, "isApprovalRequiredForUpdate": false, "isRequestorJustificationRequired": false,
		"stages": []any{
			map[string]any{"@odata.type": "#microsoft.graph.accessPackageDynamicApprovalStage", "customExtension": map[string]any{"id": w.requestExtension},
				"durationBeforeAutomaticDenial": nil, "isApproverJustificationRequired": false, "isEscalationEnabled": false,
				"durationBeforeEscalation": nil, "primaryApprovers": []any{}, "fallbackPrimaryApprovers": []any{}, "escalationApprovers": []any{},
				"fallbackEscalationApprovers": []any{}, "approverInformationVisibility": "default"},
			map[string]any{"durationBeforeAutomaticDenial": "P2D", "isApproverJustificationRequired": false, "isEscalationEnabled": false,
				"durationBeforeEscalation": nil, "primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": carol}},
				"fallbackPrimaryApprovers": []any{}, "escalationApprovers": []any{}, "fallbackEscalationApprovers": []any{},
				"approverInformationVisibility": "default"},
		}}
	emSame(t, "POST's requestApprovalSettings", wantSettings, created["requestApprovalSettings"])
	got := a.mustCall(t, "GET", emV1+"/assignmentPolicies/"+id, nil, http.StatusOK)
	emSame(t, "GET's requestApprovalSettings", wantSettings, got["requestApprovalSettings"])
	replaced := a.mustCall(t, "PUT", emV1+"/assignmentPolicies/"+id, got, http.StatusOK)
	emSame(t, "requestApprovalSettings after a PUT of the GET's answer", wantSettings, replaced["requestApprovalSettings"])

	// The policy names the extension: it cannot be deleted from under it.
	resp, _ := a.call(t, "DELETE", emV1+"/catalogs/"+w.catalog+"/customWorkflowExtensions/"+w.requestExtension, nil)
	wantError(t, resp, http.StatusConflict, "conflict")

	stageWith := func(kv ...any) map[string]any { return with(apDynamicStage(w.requestExtension), kv...) }
	for _, tc := range []struct {
		name  string
		stage map[string]any
		says  []string
	}{
		{"approvers on a dynamic stage", stageWith("primaryApprovers", []any{rqSingleUser(carol)}), []string{"stages[0]", "custom extension"}},
		{"no extension on a dynamic stage", emWithout(apDynamicStage(w.requestExtension), "customExtension"), []string{"stages[0].customExtension.id"}},
		{"an extension on a plain stage", with(apStage(carol), "customExtension", map[string]any{"id": w.requestExtension}), []string{"stages[0].customExtension"}},
		{"a stage type accessd does not know", with(apStage(carol), "@odata.type", "#microsoft.graph.accessPackageFancyStage"),
			[]string{"stages[0].@odata.type", "accessPackageApprovalStage", "accessPackageDynamicApprovalStage"}},
		{"an extension reference of another type", stageWith("customExtension", map[string]any{"@odata.type": "#microsoft.graph.user", "id": w.requestExtension}),
			[]string{"stages[0].customExtension.@odata.type"}},
		{"an assignment workflow extension", stageWith("customExtension", map[string]any{"id": w.assignmentExtension}),
			[]string{"stages[0].customExtension", "accessPackageAssignmentRequestWorkflowExtension"}},
		{"an unknown extension", stageWith("customExtension", map[string]any{"id": "0190a0a0-0000-7000-8000-000000000000"}),
			[]string{"stages[0].customExtension", "no custom extension"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := emMinimalPolicy(w.pkg, "Refused")
			apStages(tc.stage)(body)
			a.refused(t, "POST", emV1+"/assignmentPolicies", body, tc.says...)
		})
	}
}
