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

func TestApprovalDynamicStageResume(t *testing.T) {
	z := newRZAPI(t)
	carolTok := z.userToken(t, z.carol, scopeWrite)
	pkg, pol, _ := z.pkgPolicy(t, "Dynamic", apStages(apDynamicStage(z.ext)))
	const determining = "assignmentRequestDeterminingApprovalRequirements"
	got := z.submit(t, z.tok, rqAdd("adminAdd", pkg, pol, z.target(t)))
	if got["state"] != "pendingApproval" || got["status"] != "WaitingForCallback" {
		t.Fatalf("request at a dynamic stage: %v/%v, want pendingApproval/WaitingForCallback", got["state"], got["status"])
	}
	id := emID(t, got)
	z.runCallouts(t)
	insts := z.instances(t, id)
	if len(insts) != 1 || insts[0]["status"] != "calloutSent" || insts[0]["customExtensionId"] != z.ext {
		t.Fatalf("instances once the callout went out: %v", insts)
	}
	w := rzWaiting{id: id, inst: emID(t, insts[0]), stage: determining}
	const stageData = "#microsoft.graph.assignmentRequestApprovalStageCallbackData"

	for _, tc := range []struct {
		name          string
		approvalStage any // nil: none sent
		says          []string
	}{
		{"no approvalStage", nil, []string{"data.approvalStage"}},
		{"not an object", "P3D", []string{"data.approvalStage", "object"}},
		{"a subject set without its type", map[string]any{"primaryApprovers": []any{map[string]any{"userId": z.carol}}},
			[]string{"data.approvalStage.primaryApprovers[0].@odata.type"}},
		{"an unknown property", map[string]any{"approvers": []any{rqSingleUser(z.carol)}}, []string{"data.approvalStage.approvers"}},
		{"a property of the wrong type", map[string]any{"isEscalationEnabled": "yes", "primaryApprovers": []any{rqSingleUser(z.carol)}},
			[]string{"data.approvalStage.isEscalationEnabled"}},
		{"a bad duration", map[string]any{"durationBeforeAutomaticDenial": "soon", "primaryApprovers": []any{rqSingleUser(z.carol)}},
			[]string{"data.approvalStage.durationBeforeAutomaticDenial"}},
		{"no approvers", map[string]any{"durationBeforeAutomaticDenial": "P3D"}, []string{"data.approvalStage.primaryApprovers"}},
		{"another dynamic stage", apDynamicStage(z.ext), []string{"data.approvalStage"}},
		{"an extension of its own", map[string]any{"primaryApprovers": []any{rqSingleUser(z.carol)}, "customExtension": map[string]any{"id": z.ext}},
			[]string{"data.approvalStage.customExtension"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := rzBody(w, "@odata.type", stageData)
			if tc.approvalStage != nil {
				body = rzBody(w, "@odata.type", stageData, "approvalStage", tc.approvalStage)
			}
			resp, _ := z.do(t, "POST", rzResume(w.id), z.tok, body)
			wantMessage(t, wantError(t, resp, http.StatusBadRequest, "invalidRequest"), tc.says...)
		})
	}
	z.wantRequest(t, w.id, "pendingApproval", "WaitingForCallback")
	z.wantInstance(t, w.id, w.inst, "calloutSent", nil)
	resp, _ := z.do(t, "POST", rzResume("0190a0a0-0000-7000-8000-000000000000"), z.tok, rzBody(w, "approvalStage", "P3D"))
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Names in any case, as everywhere in a body.
	determined := map[string]any{"@odata.type": "#microsoft.graph.accessPackageApprovalStage", "DurationBeforeAutomaticDenial": "P3D",
		"IsApproverJustificationRequired": true, "PrimaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "UserId": z.carol}}}
	z.noContent(t, "POST", rzResume(w.id), z.tok, rzBody(w, "@odata.type", stageData, "ApprovalStage", determined))

	z.wantRequest(t, w.id, "pendingApproval", "PendingApproval")
	z.wantInstance(t, w.id, w.inst, "callbackReceived", "Checked by the SoD service")
	ap := &apAPI{rqAPI: z.rqAPI, carolTok: carolTok}
	emSame(t, "carol's approvals", []string{w.id}, ap.toDecide(t, carolTok, emV1+"/accessPackageAssignmentApprovals"+apOnApprover))
	stage := ap.stages(t, carolTok, w.id)[0]
	if stage["status"] != "InProgress" || stage["assignedToMe"] != true || stage["reviewResult"] != "NotReviewed" {
		t.Errorf("the determined stage: %v", stage)
	}
	// The extension asked for a justification.
	msg := wantError(t, ap.decide(t, carolTok, w.id, emID(t, stage), apDecision("Approve", "")), http.StatusBadRequest, "invalidRequest")
	wantMessage(t, msg, "justification is required")
	wantStatus(t, ap.decide(t, carolTok, w.id, emID(t, stage), apDecision("Approve", "As the extension said")), http.StatusNoContent)
	z.wantRequest(t, w.id, "delivered", "Delivered")
}
