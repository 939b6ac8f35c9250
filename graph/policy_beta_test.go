package graph

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
)

// Beta's accessPackageAssignmentPolicies: another model of the stored
// policies, checked against what v1.0 reads of the same policy.

// bpWorld is a package with the people and the group its policies name.
type bpWorld struct {
	*emAPI
	emWorld
	carol, dave, erin, group string
}

func newBPWorld(t *testing.T) *bpWorld {
	t.Helper()
	a := newEMAPI(t)
	w := &bpWorld{emAPI: a, emWorld: a.world(t)}
	w.carol, w.dave, w.erin = a.newUser(t, "carol@contoso.test").ID, a.newUser(t, "dave@contoso.test").ID, a.newUser(t, "erin@contoso.test").ID
	g, err := a.Svc.CreateGroup(context.Background(), access.Group{DisplayName: "Sales", MailNickname: "sales", SecurityEnabled: true}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.group = g.ID
	return w
}

func bpUser(id string, backup bool) map[string]any {
	return map[string]any{"@odata.type": "#microsoft.graph.singleUser", "isBackup": backup, "id": id, "description": "someone"}
}

// bpExample is a policy as the beta documentation's create example sends
// one, with two serial stages.
func (w *bpWorld) bpExample() map[string]any {
	return map[string]any{
		"accessPackageId":    w.pkg,
		"displayName":        "Sales department users",
		"description":        "All users from the sales department",
		"canExtend":          true,
		"durationInDays":     365,
		"expirationDateTime": nil,
		"requestorSettings": map[string]any{
			"scopeType":      "SpecificDirectorySubjects",
			"acceptRequests": true,
			"allowedRequestors": []any{map[string]any{"@odata.type": "#microsoft.graph.groupMembers", "isBackup": false,
				"id": w.group, "description": "Sales"}},
		},
		"requestApprovalSettings": map[string]any{
			"isApprovalRequired": true, "isApprovalRequiredForExtension": false, "isRequestorJustificationRequired": true,
			"approvalMode": "Serial",
			"approvalStages": []any{
				map[string]any{"approvalStageTimeOutInDays": 14, "isApproverJustificationRequired": true, "isEscalationEnabled": false,
					"escalationTimeInMinutes": 0,
					"primaryApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "isBackup": false, "managerLevel": 1},
						bpUser(w.carol, true)}},
				map[string]any{"approvalStageTimeOutInDays": 7, "isApproverJustificationRequired": false, "isEscalationEnabled": true,
					"escalationTimeInMinutes": 1440, "primaryApprovers": []any{bpUser(w.dave, false)}, "escalationApprovers": []any{bpUser(w.erin, false)}},
			},
		},
		"accessReviewSettings": nil,
		"questions": []any{map[string]any{
			"@odata.type": "#microsoft.graph.accessPackageTextInputQuestion", "isRequired": true, "sequence": 1, "isSingleLineQuestion": true,
			"text": map[string]any{"defaultText": "Cost center?", "localizedTexts": []any{map[string]any{"text": "Kostenstelle?", "languageCode": "de"}}},
		}},
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestCreated",
			"customExtension": map[string]any{"id": w.requestExtension}}},
	}
}

func TestBetaPolicyCreateMapsOntoTheStoredPolicy(t *testing.T) {
	w := newBPWorld(t)
	created := w.mustCall(t, "POST", emBeta+"/accessPackageAssignmentPolicies", w.bpExample(), http.StatusCreated)
	id := emID(t, created)
	emSame(t, "context", w.context("beta", "accessPackageAssignmentPolicies", true), created["@odata.context"])

	// v1.0 reads the same policy in its own model.
	v1 := w.get(t, w.tok, emV1+"/assignmentPolicies/"+id+"?$expand=questions,customExtensionStageSettings")
	emSame(t, "allowedTargetScope", "specificDirectoryUsers", v1["allowedTargetScope"])
	emSame(t, "specificAllowedTargets", []any{map[string]any{"@odata.type": "#microsoft.graph.groupMembers", "groupId": w.group, "description": "Sales"}},
		v1["specificAllowedTargets"])
	emSame(t, "expiration", map[string]any{"type": "afterDuration", "duration": "P365D", "endDateTime": nil}, v1["expiration"])
	rs := v1["requestorSettings"].(map[string]any)
	if rs["enableTargetsToSelfAddAccess"] != true || rs["enableTargetsToSelfUpdateAccess"] != true || rs["enableTargetsToSelfRemoveAccess"] != false {
		t.Errorf("requestorSettings %v: acceptRequests is self-add, canExtend self-update", rs)
	}
	as := v1["requestApprovalSettings"].(map[string]any)
	if as["isApprovalRequiredForAdd"] != true || as["isApprovalRequiredForUpdate"] != false || as["isRequestorJustificationRequired"] != true {
		t.Errorf("requestApprovalSettings %v", as)
	}
	stages := as["stages"].([]any)
	if len(stages) != 2 {
		t.Fatalf("stages %v", stages)
	}
	first, second := stages[0].(map[string]any), stages[1].(map[string]any)
	emSame(t, "first stage", map[string]any{
		"durationBeforeAutomaticDenial": "P14D", "isApproverJustificationRequired": true, "isEscalationEnabled": false,
		"durationBeforeEscalation": nil, "approverInformationVisibility": "default",
		"primaryApprovers":            []any{map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "managerLevel": 1.0}},
		"fallbackPrimaryApprovers":    []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": w.carol, "description": "someone"}},
		"escalationApprovers":         []any{},
		"fallbackEscalationApprovers": []any{},
	}, first)
	emSame(t, "second stage's timers", []any{"P7D", "PT24H", true}, []any{second["durationBeforeAutomaticDenial"], second["durationBeforeEscalation"], second["isEscalationEnabled"]})
	qs := v1["questions"].([]any)
	if len(qs) != 1 {
		t.Fatalf("questions %v", qs)
	}
	q := qs[0].(map[string]any)
	emSame(t, "question", []any{"Cost center?", []any{map[string]any{"languageCode": "de", "text": "Kostenstelle?"}}}, []any{q["text"], q["localizations"]})
	if settings := v1["customExtensionStageSettings"].([]any); len(settings) != 1 {
		t.Errorf("stage settings %v", settings)
	}

	// Beta reads back what it sent, with the ids and times filled in.
	got := w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies/"+id)
	want := emClone(t, w.bpExample())
	delete(want, "customExtensionStageSettings") // a navigation property: only with $expand
	want["@odata.context"], want["id"] = got["@odata.context"], id
	want["createdBy"], want["modifiedBy"], want["verifiableCredentialSettings"], want["accessPackageNotificationSettings"] = nil, nil, nil, nil
	emCopy(t, want, got, "createdDateTime", "modifiedDateTime")
	stagesWant := want["requestApprovalSettings"].(map[string]any)["approvalStages"].([]any)
	for i, st := range stagesWant {
		st := st.(map[string]any)
		st["approverInformationVisibility"] = "default"
		if st["escalationApprovers"] == nil {
			st["escalationApprovers"] = []any{}
		}
		st["primaryApprovers"].([]any)[0].(map[string]any)["isBackup"] = false
		stagesWant[i] = st
	}
	question := want["questions"].([]any)[0].(map[string]any)
	question["id"], question["isAnswerEditable"] = emID(t, got["questions"].([]any)[0].(map[string]any)), false
	emSame(t, "beta policy read back", want, got)
	emSame(t, "POST answers the policy with its stage settings", 1, len(created["customExtensionStageSettings"].([]any)))
}

// A policy made in v1.0 with what beta cannot express survives an edit
// made through beta: GET, change the name, PUT.
func TestBetaPolicyGetModifyPutKeepsWhatBetaCannotSay(t *testing.T) {
	w := newBPWorld(t)
	v1Body := map[string]any{
		"displayName":        "Contractors",
		"accessPackage":      map[string]any{"id": w.pkg},
		"allowedTargetScope": "notSpecified",
		"expiration":         map[string]any{"type": "afterDuration", "duration": "PT12H"},
		"requestorSettings": map[string]any{"enableTargetsToSelfAddAccess": true, "enableTargetsToSelfRemoveAccess": true,
			"enableOnBehalfRequestorsToAddAccess": true, "onBehalfRequestors": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": w.dave}}},
		"requestApprovalSettings": map[string]any{"isApprovalRequiredForAdd": true, "stages": []any{map[string]any{
			"durationBeforeAutomaticDenial": "P1DT12H", "isEscalationEnabled": true, "durationBeforeEscalation": "PT90M",
			"primaryApprovers":    []any{map[string]any{"@odata.type": "#microsoft.graph.targetManager", "managerLevel": 2}},
			"escalationApprovers": []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser", "userId": w.erin}},
		}}},
		"notificationSettings": map[string]any{"isAssignmentNotificationDisabled": true},
		"reviewSettings":       map[string]any{"isEnabled": false, "expirationBehavior": "keepAccess", "isSelfReview": true},
		"customExtensionStageSettings": []any{map[string]any{"stage": "assignmentRequestApproved",
			"customExtension": map[string]any{"id": w.requestExtension}}},
	}
	id := w.policy(t, v1Body)
	const v1Read = "?$expand=customExtensionStageSettings,questions"
	before := w.get(t, w.tok, emV1+"/assignmentPolicies/"+id+v1Read)

	got := w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies/"+id)
	if got["durationInDays"] != 1.0 || got["requestorSettings"].(map[string]any)["scopeType"] != "NoSubjects" {
		t.Errorf("beta reads PT12H as %v days and notSpecified as %v", got["durationInDays"], got["requestorSettings"])
	}
	stage := got["requestApprovalSettings"].(map[string]any)["approvalStages"].([]any)[0].(map[string]any)
	if stage["approvalStageTimeOutInDays"] != 2.0 || stage["escalationTimeInMinutes"] != 90.0 {
		t.Errorf("beta reads P1DT12H and PT90M as %v days and %v minutes", stage["approvalStageTimeOutInDays"], stage["escalationTimeInMinutes"])
	}
	if review := got["accessReviewSettings"].(map[string]any); review["isEnabled"] != false || review["reviewerType"] != "Self" ||
		review["accessReviewTimeoutBehavior"] != "keepAccess" {
		t.Errorf("accessReviewSettings %v", review)
	}
	got["displayName"] = "Contractors (renamed)"
	w.mustCall(t, "PUT", emBeta+"/accessPackageAssignmentPolicies/"+id, got, http.StatusOK)

	after := w.get(t, w.tok, emV1+"/assignmentPolicies/"+id+v1Read)
	if after["displayName"] != "Contractors (renamed)" {
		t.Errorf("displayName %v after the PUT", after["displayName"])
	}
	for _, key := range []string{"displayName", "modifiedDateTime", "customExtensionStageSettings"} {
		delete(before, key)
		delete(after, key)
	}
	emSame(t, "the policy beyond its name after a beta GET-modify-PUT", before, after)
	settings := w.get(t, w.tok, emV1+"/assignmentPolicies/"+id+"?$expand=customExtensionStageSettings")["customExtensionStageSettings"].([]any)
	if len(settings) != 1 || settings[0].(map[string]any)["stage"] != "assignmentRequestApproved" {
		t.Errorf("stage settings after a PUT that did not name them: %v", settings)
	}

	// What a beta client changes, it changes.
	got["durationInDays"] = 30
	got["requestApprovalSettings"].(map[string]any)["approvalStages"].([]any)[0].(map[string]any)["approvalStageTimeOutInDays"] = 3
	got["customExtensionStageSettings"] = []any{}
	w.mustCall(t, "PUT", emBeta+"/accessPackageAssignmentPolicies/"+id, got, http.StatusOK)
	changed := w.get(t, w.tok, emV1+"/assignmentPolicies/"+id+"?$expand=customExtensionStageSettings")
	stages := changed["requestApprovalSettings"].(map[string]any)["stages"].([]any)
	emSame(t, "changed through beta", []any{"P30D", "P3D", "PT1H30M", []any{}},
		[]any{changed["expiration"].(map[string]any)["duration"], stages[0].(map[string]any)["durationBeforeAutomaticDenial"],
			stages[0].(map[string]any)["durationBeforeEscalation"], changed["customExtensionStageSettings"]})
}

func TestBetaPolicyRefusals(t *testing.T) {
	w := newBPWorld(t)
	stage := func(timeout int) map[string]any {
		return map[string]any{"approvalStageTimeOutInDays": timeout, "primaryApprovers": []any{bpUser(w.carol, false)}}
	}
	edit := func(fn func(p map[string]any)) map[string]any {
		p := w.bpExample()
		fn(p)
		return p
	}
	approval := func(p map[string]any) map[string]any { return p["requestApprovalSettings"].(map[string]any) }
	for _, tc := range []struct {
		name string
		body map[string]any
		says []string
	}{
		{"a third approval stage", edit(func(p map[string]any) {
			approval(p)["approvalStages"] = []any{stage(3), stage(3), stage(3)}
		}), []string{"requestApprovalSettings.approvalStages", "at most 2", "v1.0"}},
		{"Parallel approval", edit(func(p map[string]any) { approval(p)["approvalMode"] = "Parallel" }), []string{"approvalMode", "Parallel"}},
		{"SingleStage with two stages", edit(func(p map[string]any) { approval(p)["approvalMode"] = "SingleStage" }), []string{"SingleStage", "2"}},
		{"NoApproval while approval is required", edit(func(p map[string]any) { approval(p)["approvalMode"] = "NoApproval" }), []string{"NoApproval"}},
		{"enabled access reviews", edit(func(p map[string]any) { p["accessReviewSettings"] = map[string]any{"isEnabled": true} }),
			[]string{"accessReviewSettings.isEnabled", "not supported"}},
		{"verifiable credentials", edit(func(p map[string]any) {
			p["verifiableCredentialSettings"] = map[string]any{"credentialTypes": []any{map[string]any{"credentialType": "VerifiedEmployee"}}}
		}), []string{"verifiableCredentialSettings"}},
		{"deprecated extension handlers", edit(func(p map[string]any) {
			p["customExtensionHandlers"] = []any{map[string]any{"stage": "assignmentRequestCreated"}}
		}), []string{"customExtensionHandlers", "customExtensionStageSettings"}},
		{"a scope with no stored counterpart", edit(func(p map[string]any) {
			p["requestorSettings"].(map[string]any)["scopeType"] = "AllExistingConnectedOrganizationSubjects"
		}), []string{"requestorSettings.scopeType", "AllExistingConnectedOrganizationSubjects"}},
		{"an unknown scope", edit(func(p map[string]any) { p["requestorSettings"].(map[string]any)["scopeType"] = "Everyone" }),
			[]string{"requestorSettings.scopeType", "Everyone"}},
		{"both ends of access", edit(func(p map[string]any) { p["expirationDateTime"] = "2030-01-01T00:00:00Z" }),
			[]string{"durationInDays", "expirationDateTime"}},
		{"a backup requestor", edit(func(p map[string]any) {
			p["requestorSettings"].(map[string]any)["allowedRequestors"] = []any{bpUser(w.dave, true)}
		}), []string{"requestorSettings.allowedRequestors[0].isBackup"}},
		{"an id on a manager", edit(func(p map[string]any) {
			approval(p)["approvalStages"].([]any)[0].(map[string]any)["primaryApprovers"] = []any{
				map[string]any{"@odata.type": "#microsoft.graph.requestorManager", "id": w.dave}}
		}), []string{"approvalStages[0].primaryApprovers[0].id", "requestorManager"}},
		{"a stage without approvers, in beta's names", edit(func(p map[string]any) {
			approval(p)["approvalStages"].([]any)[1].(map[string]any)["primaryApprovers"] = []any{}
		}), []string{"requestApprovalSettings.approvalStages[1].primaryApprovers"}},
		{"a stage timeout out of range, in beta's names", edit(func(p map[string]any) {
			approval(p)["approvalStages"].([]any)[1].(map[string]any)["approvalStageTimeOutInDays"] = 30
		}), []string{"requestApprovalSettings.approvalStages[1].approvalStageTimeOutInDays"}},
		{"a single user without an id", edit(func(p map[string]any) {
			p["requestorSettings"].(map[string]any)["allowedRequestors"] = []any{map[string]any{"@odata.type": "#microsoft.graph.singleUser"}}
		}), []string{"requestorSettings.allowedRequestors[0].id"}},
		{"no package", edit(func(p map[string]any) { delete(p, "accessPackageId") }), []string{"accessPackageId"}},
		{"a v1.0 property", edit(func(p map[string]any) { p["allowedTargetScope"] = "allMemberUsers" }), []string{"allowedTargetScope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.refused(t, "POST", emBeta+"/accessPackageAssignmentPolicies", tc.body, tc.says...)
		})
	}
	if ids := valueIDs(t, w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies")); len(ids) != 0 {
		t.Errorf("refused policies were stored: %v", ids)
	}
}

func TestBetaPolicyRoutes(t *testing.T) {
	w := newBPWorld(t)
	other := w.accessPackage(t, w.emWorld.catalog, "Other tools")
	id := emID(t, w.mustCall(t, "POST", emBeta+"/accessPackageAssignmentPolicies", w.bpExample(), http.StatusCreated))
	otherBody := w.bpExample()
	otherBody["accessPackageId"], otherBody["displayName"] = other, "Other"
	otherID := emID(t, w.mustCall(t, "POST", emBeta+"/accessPackageAssignmentPolicies", otherBody, http.StatusCreated))

	emSame(t, "list", rqSorted(id, otherID), rqSorted(valueIDs(t, w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies"))...))
	emSame(t, "$filter=accessPackageId", []string{otherID}, valueIDs(t, w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies?"+rqFilter("accessPackageId eq '"+other+"'"))))
	under := w.get(t, w.tok, emBeta+"/accessPackages/"+w.pkg+"/accessPackageAssignmentPolicies")
	emSame(t, "a package's policies", []string{id}, valueIDs(t, under))
	emSame(t, "their context", w.context("beta", "accessPackages('"+w.pkg+"')/accessPackageAssignmentPolicies", false), under["@odata.context"])
	resp, _ := w.call(t, "GET", emBeta+"/accessPackages/no-such-package/accessPackageAssignmentPolicies", nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	expanded := w.get(t, w.tok, emBeta+"/accessPackageAssignmentPolicies/"+id+"?$expand=customExtensionStageSettings($expand=customExtension),accessPackage,accessPackageCatalog")
	settings := expanded["customExtensionStageSettings"].([]any)
	if len(settings) != 1 || settings[0].(map[string]any)["customExtension"].(map[string]any)["id"] != w.requestExtension {
		t.Errorf("expanded stage settings %v", settings)
	}
	if expanded["accessPackage"].(map[string]any)["id"] != w.pkg || expanded["accessPackageCatalog"].(map[string]any)["id"] != w.emWorld.catalog {
		t.Errorf("expanded package %v and catalog %v", expanded["accessPackage"], expanded["accessPackageCatalog"])
	}
	pkg := w.get(t, w.tok, emBeta+"/accessPackages/"+w.pkg+"?$expand=accessPackageAssignmentPolicies")
	if ps := pkg["accessPackageAssignmentPolicies"].([]any); len(ps) != 1 || ps[0].(map[string]any)["durationInDays"] != 365.0 {
		t.Errorf("a beta package's expanded policies are not in beta's shape: %v", ps)
	}

	w.noContent(t, "DELETE", emBeta+"/accessPackageAssignmentPolicies/"+otherID, w.tok, nil)
	resp, _ = w.call(t, "GET", emBeta+"/accessPackageAssignmentPolicies/"+otherID, nil)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")
	resp, _ = w.call(t, "PUT", emBeta+"/accessPackageAssignmentPolicies/"+otherID, otherBody)
	wantError(t, resp, http.StatusNotFound, "itemNotFound")

	// Another application, holding no role on the catalog (the one that
	// made it owns it, whatever its token says).
	reader := w.appTokenNamed(t, "policy-reader", "EntitlementManagement.Read.All")
	resp, _ = w.do(t, "POST", emBeta+"/accessPackageAssignmentPolicies", reader, w.bpExample())
	wantError(t, resp, http.StatusForbidden, "accessDenied")
	if got := w.get(t, reader, emBeta+"/accessPackageAssignmentPolicies/"+id); got["id"] != id {
		t.Errorf("a reader reads %v", got)
	}
	if !strings.Contains(w.context("beta", "accessPackageAssignmentPolicies", false), "/beta/") {
		t.Errorf("context %s", w.context("beta", "accessPackageAssignmentPolicies", false))
	}
}
