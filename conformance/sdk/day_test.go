package sdk

import (
	"strings"
	"testing"

	"github.com/microsoft/kiota-abstractions-go/serialization"
	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/identitygovernance"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Permissions the tokens carry.
const (
	readWriteEntitlements = "EntitlementManagement.ReadWrite.All"
	readEntitlements      = "EntitlementManagement.Read.All"
	subjectAccess         = "EntitlementMgmt-SubjectAccess.ReadWrite"
	readWriteDirectory    = "Directory.ReadWrite.All"
)

// draftBetaResumeBody is the example request of the draft beta page of the
// resume action, sent exactly as written there.
const draftBetaResumeBody = `{
  "source": "String",
  "type": "String",
  "data": {
    "@odata.type": "microsoft.graph.identityGovernance.customTaskExtensionCallbackData"
  }
}`

// TestAdministratorAndExtensionDay walks a day of an administrator and of
// an extension through Microsoft's Graph SDK alone, with the v1.0 resume
// through the SDK's builder and the three beta resume routes through the
// SDK's request adapter with a raw request information object.
func TestAdministratorAndExtensionDay(t *testing.T) {
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			walkTheDay(t, startAccessd(t, backend))
		})
	}
}

func walkTheDay(t *testing.T, a *accessd) {
	ctx := t.Context()
	admin := a.client(t, a.appToken(t, "sdk-admin", readWriteEntitlements, readWriteDirectory))
	em := admin.IdentityGovernance().EntitlementManagement()

	// Morning: the people and the group the day is about.
	alice := createUser(t, admin, "Alice Adams", "alice@contoso.test")
	bob := createUser(t, admin, "Bob Brown", "bob@contoso.test")
	carol := createUser(t, admin, "Carol Clark", "carol@contoso.test")
	group := models.NewGroup()
	group.SetDisplayName(ptr("Sales team"))
	group.SetMailNickname(ptr("salesteam"))
	group.SetMailEnabled(ptr(false))
	group.SetSecurityEnabled(ptr(true))
	sales, err := admin.Groups().Post(ctx, group, nil)
	mustSDK(t, err, "create the group")
	allKnown(t, "group", sales)
	groupID := deref(sales.GetId())

	// A catalog, found again by $filter.
	newCatalog := models.NewAccessPackageCatalog()
	newCatalog.SetDisplayName(ptr("Sales"))
	newCatalog.SetDescription(ptr("Everything the sales team uses"))
	newCatalog.SetIsExternallyVisible(ptr(false))
	created, err := em.Catalogs().Post(ctx, newCatalog, nil)
	mustSDK(t, err, "create the catalog")
	allKnown(t, "catalog", created)
	catalogID := deref(created.GetId())
	found, err := em.Catalogs().Get(ctx, &identitygovernance.EntitlementManagementCatalogsRequestBuilderGetRequestConfiguration{
		QueryParameters: &identitygovernance.EntitlementManagementCatalogsRequestBuilderGetQueryParameters{Filter: ptr("displayName eq 'Sales'")},
	})
	mustSDK(t, err, "find the catalog by $filter")
	allKnown(t, "catalogs", found)
	if v := found.GetValue(); len(v) != 1 || deref(v[0].GetId()) != catalogID || deref(v[0].GetDisplayName()) != "Sales" {
		t.Fatalf("$filter=displayName eq 'Sales' found %d catalogs, want the one made (%s)", len(v), catalogID)
	}
	if st := found.GetValue()[0].GetState(); st == nil {
		t.Errorf("the SDK read no state of the catalog")
	}

	// Two extensions: launch and wait, and launch and continue, read back
	// as their concrete types.
	endpoint := newExtensionEndpoint(t)
	catalog := em.Catalogs().ByAccessPackageCatalogId(catalogID)
	waitExt := createExtension(t, catalog, "SoD check", endpoint.url, "PT1H")
	continueExt := createExtension(t, catalog, "Notify the ticket system", endpoint.url, "")
	extensions, err := catalog.CustomWorkflowExtensions().Get(ctx, nil)
	mustSDK(t, err, "list the catalog's extensions")
	allKnown(t, "customWorkflowExtensions", extensions)
	if n := len(extensions.GetValue()); n != 2 {
		t.Fatalf("the catalog has %d extensions, want 2", n)
	}
	for _, x := range extensions.GetValue() {
		ext, ok := x.(models.AccessPackageAssignmentRequestWorkflowExtensionable)
		if !ok {
			t.Fatalf("extension %s read as %T, not an accessPackageAssignmentRequestWorkflowExtension", deref(x.GetId()), x)
		}
		endpointConfig, ok := ext.GetEndpointConfiguration().(models.HttpRequestEndpointable)
		if !ok || deref(endpointConfig.GetTargetUrl()) != endpoint.url {
			t.Errorf("extension %s: endpoint %T %v, want an httpRequestEndpoint to %s", deref(ext.GetId()), ext.GetEndpointConfiguration(), endpointConfig, endpoint.url)
		}
		if _, ok := ext.GetAuthenticationConfiguration().(models.AzureAdTokenAuthenticationable); !ok {
			t.Errorf("extension %s: authentication read as %T", deref(ext.GetId()), ext.GetAuthenticationConfiguration())
		}
		callback := ext.GetCallbackConfiguration()
		switch deref(ext.GetId()) {
		case waitExt:
			if callback == nil || callback.GetTimeoutDuration() == nil || callback.GetTimeoutDuration().String() != "PT1H" {
				t.Errorf("launch-and-wait extension: callbackConfiguration %v, want timeoutDuration PT1H", callback)
			}
		case continueExt:
			if callback != nil {
				t.Errorf("launch-and-continue extension has a callbackConfiguration")
			}
		default:
			t.Errorf("unexpected extension %s", deref(ext.GetId()))
		}
	}

	// The group becomes a resource of the catalog; the package grants its
	// Member role.
	resourceRequest := models.NewAccessPackageResourceRequest()
	resourceRequest.SetRequestType(ptr(models.ADMINADD_ACCESSPACKAGEREQUESTTYPE))
	groupResource := models.NewAccessPackageResource()
	groupResource.SetOriginId(ptr(groupID))
	groupResource.SetOriginSystem(ptr("AadGroup"))
	resourceRequest.SetResource(groupResource)
	catalogRef := models.NewAccessPackageCatalog()
	catalogRef.SetId(ptr(catalogID))
	resourceRequest.SetCatalog(catalogRef)
	addedResource, err := em.ResourceRequests().Post(ctx, resourceRequest, nil)
	mustSDK(t, err, "add the group to the catalog")
	allKnown(t, "resourceRequest", addedResource)
	resources, err := catalog.Resources().Get(ctx, &identitygovernance.EntitlementManagementCatalogsItemResourcesRequestBuilderGetRequestConfiguration{
		QueryParameters: &identitygovernance.EntitlementManagementCatalogsItemResourcesRequestBuilderGetQueryParameters{
			Filter: ptr("originId eq '" + groupID + "'"), Expand: []string{"scopes"},
		},
	})
	mustSDK(t, err, "find the group among the catalog's resources")
	allKnown(t, "resources", resources)
	if len(resources.GetValue()) != 1 {
		t.Fatalf("the catalog has %d resources for the group, want 1", len(resources.GetValue()))
	}
	resource := resources.GetValue()[0]
	roles, err := catalog.ResourceRoles().Get(ctx, &identitygovernance.EntitlementManagementCatalogsItemResourceRolesRequestBuilderGetRequestConfiguration{
		QueryParameters: &identitygovernance.EntitlementManagementCatalogsItemResourceRolesRequestBuilderGetQueryParameters{
			Filter: ptr("(originSystem eq 'AadGroup' and resource/id eq '" + deref(resource.GetId()) + "')"), Expand: []string{"resource"},
		},
	})
	mustSDK(t, err, "list the group's roles")
	allKnown(t, "resourceRoles", roles)
	var member models.AccessPackageResourceRoleable
	for _, r := range roles.GetValue() {
		if deref(r.GetDisplayName()) == "Member" {
			member = r
		}
	}
	if member == nil || member.GetResource() == nil || deref(member.GetResource().GetId()) != deref(resource.GetId()) {
		t.Fatalf("no Member role with its resource expanded among %d roles", len(roles.GetValue()))
	}
	var rootScope models.AccessPackageResourceScopeable
	for _, s := range resource.GetScopes() {
		if deref(s.GetIsRootScope()) {
			rootScope = s
		}
	}
	if rootScope == nil {
		t.Fatalf("the group resource has no root scope among %d", len(resource.GetScopes()))
	}

	newPackage := models.NewAccessPackage()
	newPackage.SetDisplayName(ptr("Sales tools"))
	newPackage.SetDescription(ptr("CRM and the team's group"))
	newPackage.SetCatalog(catalogRef)
	pkg, err := em.AccessPackages().Post(ctx, newPackage, nil)
	mustSDK(t, err, "create the access package")
	allKnown(t, "accessPackage", pkg)
	pkgID := deref(pkg.GetId())
	roleScope := models.NewAccessPackageResourceRoleScope()
	roleRef := models.NewAccessPackageResourceRole()
	roleRef.SetId(member.GetId())
	roleScope.SetRole(roleRef)
	scopeRef := models.NewAccessPackageResourceScope()
	scopeRef.SetId(rootScope.GetId())
	roleScope.SetScope(scopeRef)
	addedRoleScope, err := em.AccessPackages().ByAccessPackageId(pkgID).ResourceRoleScopes().Post(ctx, roleScope, nil)
	mustSDK(t, err, "add the Member role to the package")
	allKnown(t, "resourceRoleScope", addedRoleScope)

	// A policy: Carol approves; the extensions run at four stages.
	policy := models.NewAccessPackageAssignmentPolicy()
	policy.SetDisplayName(ptr("Sales staff"))
	policy.SetDescription(ptr("Members ask, Carol approves"))
	pkgRef := models.NewAccessPackage()
	pkgRef.SetId(ptr(pkgID))
	policy.SetAccessPackage(pkgRef)
	policy.SetAllowedTargetScope(ptr(models.ALLMEMBERUSERS_ALLOWEDTARGETSCOPE))
	expiration := models.NewExpirationPattern()
	expiration.SetTypeEscaped(ptr(models.NOEXPIRATION_EXPIRATIONPATTERNTYPE))
	policy.SetExpiration(expiration)
	requestors := models.NewAccessPackageAssignmentRequestorSettings()
	requestors.SetEnableTargetsToSelfAddAccess(ptr(true))
	requestors.SetEnableTargetsToSelfRemoveAccess(ptr(true))
	policy.SetRequestorSettings(requestors)
	approval := models.NewAccessPackageAssignmentApprovalSettings()
	approval.SetIsApprovalRequiredForAdd(ptr(true))
	approval.SetIsApprovalRequiredForUpdate(ptr(false))
	approval.SetIsRequestorJustificationRequired(ptr(false))
	stage := models.NewAccessPackageApprovalStage()
	stage.SetDurationBeforeAutomaticDenial(serialization.NewDuration(0, 0, 2, 0, 0, 0, 0))
	stage.SetIsApproverJustificationRequired(ptr(false))
	stage.SetIsEscalationEnabled(ptr(false))
	approver := models.NewSingleUser()
	approver.SetUserId(ptr(carol))
	approver.SetDescription(ptr("Carol, the sales lead"))
	stage.SetPrimaryApprovers([]models.SubjectSetable{approver})
	approval.SetStages([]models.AccessPackageApprovalStageable{stage})
	policy.SetRequestApprovalSettings(approval)
	policy.SetCustomExtensionStageSettings([]models.CustomExtensionStageSettingable{
		stageSetting(models.ASSIGNMENTREQUESTCREATED_ACCESSPACKAGECUSTOMEXTENSIONSTAGE, waitExt),
		stageSetting(models.ASSIGNMENTREQUESTAPPROVED_ACCESSPACKAGECUSTOMEXTENSIONSTAGE, waitExt),
		stageSetting(models.ASSIGNMENTREQUESTGRANTED_ACCESSPACKAGECUSTOMEXTENSIONSTAGE, waitExt),
		stageSetting(models.ASSIGNMENTREQUESTREMOVED_ACCESSPACKAGECUSTOMEXTENSIONSTAGE, continueExt),
	})
	createdPolicy, err := em.AssignmentPolicies().Post(ctx, policy, nil)
	mustSDK(t, err, "create the policy")
	allKnown(t, "created policy", createdPolicy)
	policyID := deref(createdPolicy.GetId())
	readPolicy, err := em.AssignmentPolicies().ByAccessPackageAssignmentPolicyId(policyID).Get(ctx,
		&identitygovernance.EntitlementManagementAssignmentPoliciesAccessPackageAssignmentPolicyItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &identitygovernance.EntitlementManagementAssignmentPoliciesAccessPackageAssignmentPolicyItemRequestBuilderGetQueryParameters{
				Expand: []string{"customExtensionStageSettings($expand=customExtension)"},
			},
		})
	mustSDK(t, err, "read the policy back")
	allKnown(t, "policy", readPolicy)
	checkPolicy(t, readPolicy, carol, map[string]string{
		"assignmentRequestCreated": waitExt, "assignmentRequestApproved": waitExt,
		"assignmentRequestGranted": waitExt, "assignmentRequestRemoved": continueExt,
	})

	// An administrator asks for Alice's access.
	requests := em.AssignmentRequests()
	add := models.NewAccessPackageAssignmentRequest()
	add.SetRequestType(ptr(models.ADMINADD_ACCESSPACKAGEREQUESTTYPE))
	add.SetJustification(ptr("Alice joins sales"))
	// The SDK's typed form: the assignment's navigation properties.
	asked := models.NewAccessPackageAssignment()
	target := models.NewAccessPackageSubject()
	target.SetObjectId(ptr(alice))
	asked.SetTarget(target)
	policyRef := models.NewAccessPackageAssignmentPolicy()
	policyRef.SetId(ptr(policyID))
	asked.SetAssignmentPolicy(policyRef)
	asked.SetAccessPackage(pkgRef)
	add.SetAssignment(asked)
	submitted, err := requests.Post(ctx, add, nil)
	mustSDK(t, err, "submit Alice's request")
	aliceRequest := deref(submitted.GetId())
	checkAccepted(t, submitted, models.ADMINADD_ACCESSPACKAGEREQUESTTYPE)

	// The extension hears of it at the created stage and lets it go on
	// through the v1.0 builder.
	created1 := endpoint.next(t, "assignmentRequestCreated")
	if created1.AccessPackageAssignmentRequestID != aliceRequest || created1.AccessPackage.ID != pkgID || created1.Assignment.Target.ObjectID != alice {
		t.Errorf("created-stage callout names request %s, package %s, target %s", created1.AccessPackageAssignmentRequestID, created1.AccessPackage.ID, created1.Assignment.Target.ObjectID)
	}
	if created1.CallbackURIPath != "/identityGovernance/entitlementManagement/assignmentRequests/"+aliceRequest+"/resume" {
		t.Errorf("CallbackUriPath %q", created1.CallbackURIPath)
	}
	if created1.authorization != "Bearer" || created1.State != "submitted" {
		t.Errorf("callout with Authorization %q and State %q", created1.authorization, created1.State)
	}
	// The callout instance is calloutSent until accessd has the endpoint's
	// 202, which it may not have yet: the callout reached the test first.
	eventually(t, "the callout instance to be waitingForCallback", func() (bool, error) {
		waiting := getRequest(t, admin, aliceRequest)
		if deref(waiting.GetStatus()) != "WaitingForCallback" || !is(waiting.GetState(), models.SUBMITTED_ACCESSPACKAGEREQUESTSTATE) {
			t.Fatalf("waiting request: state %v, status %q", waiting.GetState(), deref(waiting.GetStatus()))
		}
		in := waiting.GetCustomExtensionCalloutInstances()
		if len(in) != 1 || deref(in[0].GetId()) != created1.CustomExtensionStageInstanceID || deref(in[0].GetCustomExtensionId()) != waitExt {
			t.Fatalf("callout instances of the waiting request: %d, want one for %s", len(in), created1.CustomExtensionStageInstanceID)
		}
		if in[0].GetStatus() == nil {
			t.Fatalf("the SDK read no status of the callout instance")
		}
		switch status := *in[0].GetStatus(); status {
		case models.CALLOUTSENT_CUSTOMEXTENSIONCALLOUTINSTANCESTATUS:
			return false, nil
		case models.WAITINGFORCALLBACK_CUSTOMEXTENSIONCALLOUTINSTANCESTATUS:
			return true, nil
		default:
			t.Fatalf("callout instance %s, want waitingForCallback", status)
		}
		return false, nil
	})
	resume := identitygovernance.NewEntitlementManagementAssignmentRequestsItemResumePostRequestBody()
	resume.SetSource(ptr("Contoso.SodCheckProcess"))
	resume.SetTypeEscaped(ptr("microsoft.graph.accessPackageCustomExtensionStage.assignmentRequestCreated"))
	callback := models.NewAccessPackageAssignmentRequestCallbackData()
	callback.SetStage(ptr(models.ASSIGNMENTREQUESTCREATED_ACCESSPACKAGECUSTOMEXTENSIONSTAGE))
	callback.SetCustomExtensionStageInstanceId(ptr(created1.CustomExtensionStageInstanceID))
	callback.SetCustomExtensionStageInstanceDetail(ptr("No conflicting access"))
	resume.SetData(callback)
	mustSDK(t, requests.ByAccessPackageAssignmentRequestId(aliceRequest).Resume().Post(ctx, resume, nil), "resume through the v1.0 builder")
	waitForState(t, admin, aliceRequest, models.PENDINGAPPROVAL_ACCESSPACKAGEREQUESTSTATE)
	if in := getRequest(t, admin, aliceRequest).GetCustomExtensionCalloutInstances(); len(in) != 1 ||
		!is(in[0].GetStatus(), models.CALLBACKRECEIVED_CUSTOMEXTENSIONCALLOUTINSTANCESTATUS) || deref(in[0].GetDetail()) != "No conflicting access" {
		t.Errorf("after the resume the callout instance is not callbackReceived with the detail sent")
	}

	// Carol approves, as herself.
	approverClient := a.client(t, a.userToken(t, "carol@contoso.test", readWriteEntitlements))
	approvals := approverClient.IdentityGovernance().EntitlementManagement().AccessPackageAssignmentApprovals()
	stages, err := approvals.ByApprovalId(aliceRequest).Stages().Get(ctx, nil)
	mustSDK(t, err, "Carol lists the approval's stages")
	allKnown(t, "approval stages", stages)
	if len(stages.GetValue()) != 1 || !deref(stages.GetValue()[0].GetAssignedToMe()) || deref(stages.GetValue()[0].GetStatus()) != "InProgress" {
		t.Fatalf("Carol sees %d stages, want one in progress assigned to her", len(stages.GetValue()))
	}
	decision := models.NewApprovalStage()
	decision.SetReviewResult(ptr("Approve"))
	decision.SetJustification(ptr("Welcome to sales"))
	_, err = approvals.ByApprovalId(aliceRequest).Stages().ByApprovalStageId(deref(stages.GetValue()[0].GetId())).Patch(ctx, decision, nil)
	mustSDK(t, err, "Carol approves")

	// The approved stage: resumed through beta's assignmentRequests.
	approved := endpoint.next(t, "assignmentRequestApproved")
	if approved.AccessPackageAssignmentRequestID != aliceRequest {
		t.Fatalf("approved-stage callout for request %s", approved.AccessPackageAssignmentRequestID)
	}
	mustSDK(t, admin.postBeta(ctx, "/identityGovernance/entitlementManagement/assignmentRequests/"+aliceRequest+"/resume", []byte(draftBetaResumeBody)),
		"resume through beta assignmentRequests, raw request information")

	// The granted stage: resumed through beta's route under the assignment.
	granted := endpoint.next(t, "assignmentRequestGranted")
	if granted.Assignment.ID == nil || *granted.Assignment.ID == "" {
		t.Fatalf("granted-stage callout names no assignment")
	}
	assignmentID := *granted.Assignment.ID
	mustSDK(t, admin.postBeta(ctx, "/identityGovernance/entitlementManagement/accessPackageAssignments/"+assignmentID+
		"/accessPackageAssignmentRequests/"+aliceRequest+"/resume", []byte(draftBetaResumeBody)),
		"resume through beta accessPackageAssignments/{id}/accessPackageAssignmentRequests/{id}, raw request information")
	delivered := waitForState(t, admin, aliceRequest, models.DELIVERED_ACCESSPACKAGEREQUESTSTATE)
	if delivered.GetCompletedDateTime() == nil || delivered.GetCreatedDateTime() == nil {
		t.Errorf("the delivered request has no createdDateTime or completedDateTime the SDK could read")
	}
	if !isMember(t, admin, groupID, alice) {
		t.Errorf("Alice is not a member of the group her access package grants")
	}

	// Bob asks for himself, and changes his mind while Carol has not decided.
	bobClient := a.client(t, a.userToken(t, "bob@contoso.test", subjectAccess))
	self := models.NewAccessPackageAssignmentRequest()
	self.SetRequestType(ptr(models.USERADD_ACCESSPACKAGEREQUESTTYPE))
	// The form of Microsoft's own Go snippet: ids as additional data.
	mine := models.NewAccessPackageAssignment()
	mine.SetAdditionalData(map[string]any{"assignmentPolicyId": policyID, "accessPackageId": pkgID})
	self.SetAssignment(mine)
	bobSubmitted, err := bobClient.IdentityGovernance().EntitlementManagement().AssignmentRequests().Post(ctx, self, nil)
	mustSDK(t, err, "Bob asks for himself")
	bobRequest := deref(bobSubmitted.GetId())
	checkAccepted(t, bobSubmitted, models.USERADD_ACCESSPACKAGEREQUESTTYPE)
	bobCreated := endpoint.next(t, "assignmentRequestCreated")
	if bobCreated.AccessPackageAssignmentRequestID != bobRequest || bobCreated.Assignment.Target.ObjectID != bob {
		t.Fatalf("created-stage callout for request %s, target %s", bobCreated.AccessPackageAssignmentRequestID, bobCreated.Assignment.Target.ObjectID)
	}
	mustSDK(t, admin.postBeta(ctx, "/identityGovernance/entitlementManagement/accessPackageAssignmentRequests/"+bobRequest+"/resume", []byte(draftBetaResumeBody)),
		"resume through beta accessPackageAssignmentRequests, raw request information")
	waitForState(t, admin, bobRequest, models.PENDINGAPPROVAL_ACCESSPACKAGEREQUESTSTATE)
	mustSDK(t, bobClient.IdentityGovernance().EntitlementManagement().AssignmentRequests().ByAccessPackageAssignmentRequestId(bobRequest).Cancel().Post(ctx, nil),
		"Bob cancels his request")
	waitForState(t, admin, bobRequest, models.CANCELED_ACCESSPACKAGEREQUESTSTATE)

	// The package's assignments, by $filter, with their targets expanded.
	list, err := em.Assignments().Get(ctx, &identitygovernance.EntitlementManagementAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &identitygovernance.EntitlementManagementAssignmentsRequestBuilderGetQueryParameters{
			Filter: ptr("accessPackage/id eq '" + pkgID + "'"), Expand: []string{"target"},
		},
	})
	mustSDK(t, err, "list the package's assignments")
	allKnown(t, "assignments", list)
	if len(list.GetValue()) != 1 {
		t.Fatalf("the package has %d assignments, want Alice's alone", len(list.GetValue()))
	}
	assignment := list.GetValue()[0]
	if deref(assignment.GetId()) != assignmentID || !is(assignment.GetState(), models.DELIVERED_ACCESSPACKAGEASSIGNMENTSTATE) {
		t.Errorf("assignment %s in state %v, want %s delivered", deref(assignment.GetId()), assignment.GetState(), assignmentID)
	}
	if target := assignment.GetTarget(); target == nil || deref(target.GetObjectId()) != alice || deref(target.GetDisplayName()) != "Alice Adams" ||
		!is(target.GetSubjectType(), models.USER_ACCESSPACKAGESUBJECTTYPE) {
		t.Errorf("the expanded target is not Alice as a user")
	}

	// Evening: Alice leaves sales. The remove stage's extension only hears of it.
	remove := models.NewAccessPackageAssignmentRequest()
	remove.SetRequestType(ptr(models.ADMINREMOVE_ACCESSPACKAGEREQUESTTYPE))
	removed := models.NewAccessPackageAssignment()
	removed.SetId(ptr(assignmentID))
	remove.SetAssignment(removed)
	removal, err := requests.Post(ctx, remove, nil)
	mustSDK(t, err, "remove Alice's access")
	checkAccepted(t, removal, models.ADMINREMOVE_ACCESSPACKAGEREQUESTTYPE)
	gone := endpoint.next(t, "assignmentRequestRemoved")
	if gone.AccessPackageAssignmentRequestID != deref(removal.GetId()) || string(gone.CallbackConfiguration) != "null" {
		t.Errorf("removed-stage callout for %s with CallbackConfiguration %s, want %s and null", gone.AccessPackageAssignmentRequestID, gone.CallbackConfiguration, deref(removal.GetId()))
	}
	waitForState(t, admin, deref(removal.GetId()), models.DELIVERED_ACCESSPACKAGEREQUESTSTATE)
	after, err := em.Assignments().ByAccessPackageAssignmentId(assignmentID).Get(ctx, nil)
	mustSDK(t, err, "read the removed assignment")
	allKnown(t, "assignment", after)
	if !is(after.GetState(), models.EXPIRED_ACCESSPACKAGEASSIGNMENTSTATE) || after.GetExpiredDateTime() == nil {
		t.Errorf("after its removal the assignment is %v, expired at %v; want expired with the time", after.GetState(), after.GetExpiredDateTime())
	}
	if isMember(t, admin, groupID, alice) {
		t.Errorf("Alice is still a member of the group after her access was removed")
	}
	select {
	case c := <-endpoint.callouts:
		t.Errorf("a callout nobody expected: %+v", c)
	default:
	}
}

func createUser(t *testing.T, c graphClient, name, upn string) string {
	t.Helper()
	u := models.NewUser()
	u.SetAccountEnabled(ptr(true))
	u.SetDisplayName(ptr(name))
	u.SetMailNickname(ptr(strings.Split(upn, "@")[0]))
	u.SetUserPrincipalName(ptr(upn))
	password := models.NewPasswordProfile()
	password.SetForceChangePasswordNextSignIn(ptr(true))
	password.SetPassword(ptr("xWwvJ]6NMw+bWH-d"))
	u.SetPasswordProfile(password)
	created, err := c.Users().Post(t.Context(), u, nil)
	mustSDK(t, err, "create user "+upn)
	allKnown(t, "user", created)
	if deref(created.GetUserPrincipalName()) != upn || deref(created.GetId()) == "" {
		t.Fatalf("created user reads as %q with id %q", deref(created.GetUserPrincipalName()), deref(created.GetId()))
	}
	return deref(created.GetId())
}

// createExtension makes a request workflow extension calling url with a
// bearer token: launch and wait when timeout is an ISO 8601 duration,
// launch and continue when it is "".
func createExtension(t *testing.T, catalog *identitygovernance.EntitlementManagementCatalogsAccessPackageCatalogItemRequestBuilder, name, url, timeout string) string {
	t.Helper()
	x := models.NewAccessPackageAssignmentRequestWorkflowExtension()
	x.SetDisplayName(ptr(name))
	x.SetDescription(ptr(name + ", called by accessd"))
	endpoint := models.NewHttpRequestEndpoint()
	endpoint.SetTargetUrl(ptr(url))
	x.SetEndpointConfiguration(endpoint)
	auth := models.NewAzureAdTokenAuthentication()
	auth.SetResourceId(ptr("8f2ec50c-7d46-4b7e-8bd4-6d0f3a1a2c11"))
	x.SetAuthenticationConfiguration(auth)
	client := models.NewCustomExtensionClientConfiguration()
	client.SetTimeoutInMilliseconds(ptr(int32(2000)))
	client.SetMaximumRetries(ptr(int32(1)))
	x.SetClientConfiguration(client)
	if timeout != "" {
		d, err := serialization.ParseISODuration(timeout)
		if err != nil {
			t.Fatal(err)
		}
		cb := models.NewCustomExtensionCallbackConfiguration()
		cb.SetTimeoutDuration(d)
		x.SetCallbackConfiguration(cb)
	}
	created, err := catalog.CustomWorkflowExtensions().Post(t.Context(), x, nil)
	mustSDK(t, err, "create extension "+name)
	allKnown(t, "customWorkflowExtension", created)
	if _, ok := created.(models.AccessPackageAssignmentRequestWorkflowExtensionable); !ok {
		t.Fatalf("created extension %s read as %T", name, created)
	}
	return deref(created.GetId())
}

func stageSetting(stage models.AccessPackageCustomExtensionStage, extensionID string) models.CustomExtensionStageSettingable {
	s := models.NewCustomExtensionStageSetting()
	s.SetStage(ptr(stage))
	x := models.NewAccessPackageAssignmentRequestWorkflowExtension()
	x.SetId(ptr(extensionID))
	s.SetCustomExtension(x)
	return s
}

// checkPolicy compares what the SDK read of a policy with what was sent.
func checkPolicy(t *testing.T, p models.AccessPackageAssignmentPolicyable, approverID string, bindings map[string]string) {
	t.Helper()
	if !is(p.GetAllowedTargetScope(), models.ALLMEMBERUSERS_ALLOWEDTARGETSCOPE) {
		t.Errorf("allowedTargetScope %v", p.GetAllowedTargetScope())
	}
	if e := p.GetExpiration(); e == nil || !is(e.GetTypeEscaped(), models.NOEXPIRATION_EXPIRATIONPATTERNTYPE) {
		t.Errorf("expiration not read as noExpiration")
	}
	if rs := p.GetRequestorSettings(); rs == nil || !deref(rs.GetEnableTargetsToSelfAddAccess()) {
		t.Errorf("requestorSettings not read back")
	}
	as := p.GetRequestApprovalSettings()
	if as == nil || !deref(as.GetIsApprovalRequiredForAdd()) || len(as.GetStages()) != 1 {
		t.Fatalf("requestApprovalSettings not read back with one stage")
	}
	st := as.GetStages()[0]
	if d := st.GetDurationBeforeAutomaticDenial(); d == nil || d.String() != "P2D" {
		t.Errorf("durationBeforeAutomaticDenial %v, want P2D", d)
	}
	approvers := st.GetPrimaryApprovers()
	if len(approvers) != 1 {
		t.Fatalf("%d primary approvers, want 1", len(approvers))
	}
	if single, ok := approvers[0].(models.SingleUserable); !ok || deref(single.GetUserId()) != approverID {
		t.Errorf("primary approver read as %T, want singleUser %s", approvers[0], approverID)
	}
	got := map[string]string{}
	for _, s := range p.GetCustomExtensionStageSettings() {
		x, ok := s.GetCustomExtension().(models.AccessPackageAssignmentRequestWorkflowExtensionable)
		if !ok || s.GetStage() == nil {
			t.Fatalf("stage setting with extension %T and stage %v", s.GetCustomExtension(), s.GetStage())
		}
		if deref(x.GetDisplayName()) == "" {
			t.Errorf("the expanded extension of stage %s has no displayName", s.GetStage())
		}
		got[s.GetStage().String()] = deref(x.GetId())
	}
	if len(got) != len(bindings) {
		t.Errorf("stage settings %v, want %v", got, bindings)
	}
	for stage, id := range bindings {
		if got[stage] != id {
			t.Errorf("stage %s bound to %q, want %q", stage, got[stage], id)
		}
	}
}

// checkAccepted is Graph's answer to a new request: 201 with the request
// as accepted, before processing.
func checkAccepted(t *testing.T, r models.AccessPackageAssignmentRequestable, typ models.AccessPackageRequestType) {
	t.Helper()
	if deref(r.GetId()) == "" {
		t.Fatalf("the new request has no id")
	}
	allKnown(t, "new request", r)
	if !is(r.GetState(), models.SUBMITTED_ACCESSPACKAGEREQUESTSTATE) || deref(r.GetStatus()) != "Accepted" {
		t.Errorf("a new request answers state %v, status %q, want submitted and Accepted", r.GetState(), deref(r.GetStatus()))
	}
	if !is(r.GetRequestType(), typ) {
		t.Errorf("requestType %v, want %v", r.GetRequestType(), typ)
	}
	if r.GetCreatedDateTime() == nil {
		t.Errorf("the new request has no createdDateTime the SDK could read")
	}
}

func getRequest(t *testing.T, c graphClient, id string) models.AccessPackageAssignmentRequestable {
	t.Helper()
	r, err := c.IdentityGovernance().EntitlementManagement().AssignmentRequests().ByAccessPackageAssignmentRequestId(id).Get(t.Context(), nil)
	mustSDK(t, err, "read request "+id)
	allKnown(t, "request", r)
	return r
}

// waitForState polls the request until it is in state.
func waitForState(t *testing.T, c graphClient, id string, state models.AccessPackageRequestState) models.AccessPackageAssignmentRequestable {
	t.Helper()
	var last models.AccessPackageAssignmentRequestable
	eventually(t, "request "+id+" to be "+state.String(), func() (bool, error) {
		r, err := c.IdentityGovernance().EntitlementManagement().AssignmentRequests().ByAccessPackageAssignmentRequestId(id).Get(t.Context(), nil)
		if err != nil {
			return false, err
		}
		last = r
		return r.GetState() != nil && *r.GetState() == state, nil
	})
	return last
}

func isMember(t *testing.T, c graphClient, groupID, userID string) bool {
	t.Helper()
	members, err := c.Groups().ByGroupId(groupID).Members().Get(t.Context(), &groups.ItemMembersRequestBuilderGetRequestConfiguration{})
	mustSDK(t, err, "list the group's members")
	allKnown(t, "members", members)
	for _, m := range members.GetValue() {
		if deref(m.GetId()) == userID {
			if _, ok := m.(models.Userable); !ok {
				t.Errorf("member %s read as %T, not a user", userID, m)
			}
			return true
		}
	}
	return false
}

// mustSDK stops the test when a call the rest builds on failed.
func mustSDK(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %s", what, describe(err))
	}
}
