// Package accesstest holds the conformance suite every access.Store must
// pass, and builders of valid domain objects for tests of any package.
package accesstest

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/accessd/accessd/access"
)

// Epoch is the time fixtures are created at. It has microseconds but no
// nanoseconds, the precision every store keeps.
var Epoch = time.Date(2026, time.November, 2, 9, 30, 15, 123456000, time.UTC)

// Domain is the domain of the user principal names fixtures make.
const Domain = "contoso.test"

// NewCatalog returns a valid, published catalog with every field set.
func NewCatalog(id string) access.Catalog {
	return access.Catalog{
		ID:                  id,
		DisplayName:         "Catalog " + id,
		Description:         "Resources of " + id,
		CatalogType:         access.CatalogUserManaged,
		State:               access.CatalogPublished,
		IsExternallyVisible: true,
		CreatedBy:           "admin@" + Domain,
		ModifiedBy:          "owner@" + Domain,
		CreatedDateTime:     Epoch,
		ModifiedDateTime:    Epoch.Add(time.Hour),
	}
}

// NewAccessPackage returns a valid package in the catalog with every field set.
func NewAccessPackage(id, catalogID string) access.AccessPackage {
	return access.AccessPackage{
		ID:               id,
		CatalogID:        catalogID,
		DisplayName:      "Package " + id,
		Description:      "Access to " + id,
		IsHidden:         true,
		CreatedBy:        "admin@" + Domain,
		ModifiedBy:       "owner@" + Domain,
		CreatedDateTime:  Epoch,
		ModifiedDateTime: Epoch.Add(2 * time.Hour),
	}
}

// NewPolicy returns a valid, simple policy of the package: all member users
// may request it for themselves, without approval, and access never expires.
func NewPolicy(id string, pkg access.AccessPackage) access.AssignmentPolicy {
	return access.AssignmentPolicy{
		ID:                 id,
		AccessPackageID:    pkg.ID,
		CatalogID:          pkg.CatalogID,
		DisplayName:        "Policy " + id,
		Description:        "Who may request " + pkg.ID,
		AllowedTargetScope: access.ScopeAllMemberUsers,
		Expiration:         access.Expiration{Type: access.ExpirationNone},
		RequestorSettings: access.RequestorSettings{
			EnableTargetsToSelfAddAccess:    true,
			EnableTargetsToSelfRemoveAccess: true,
		},
		CreatedDateTime:  Epoch,
		ModifiedDateTime: Epoch,
	}
}

// NewFullPolicy returns a valid policy of the package with every field set:
// specific targets, two approval stages (the second escalating), on-behalf
// requestors, both kinds of question, review and notification settings, and
// extension bindings at the request stages. approverID names a user;
// extensionID names a request workflow extension of the package's catalog.
func NewFullPolicy(id string, pkg access.AccessPackage, approverID, extensionID string) access.AssignmentPolicy {
	p := NewPolicy(id, pkg)
	end := Epoch.AddDate(1, 0, 0)
	p.AllowedTargetScope = access.ScopeSpecificDirectoryUsers
	p.SpecificAllowedTargets = []access.SubjectSet{
		{Type: "groupMembers", GroupID: "group-targets", Description: "Sales"},
		{Type: "singleUser", UserID: approverID},
		{Type: "attributeRuleMembers", MembershipRule: `user.department -eq "Sales"`, Description: "by rule"},
	}
	p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.MustDuration("P90D"), EndDateTime: &end}
	p.RequestorSettings = access.RequestorSettings{
		EnableTargetsToSelfAddAccess:           true,
		EnableTargetsToSelfUpdateAccess:        true,
		EnableTargetsToSelfRemoveAccess:        true,
		AllowCustomAssignmentSchedule:          true,
		EnableOnBehalfRequestorsToAddAccess:    true,
		EnableOnBehalfRequestorsToUpdateAccess: true,
		EnableOnBehalfRequestorsToRemoveAccess: true,
		OnBehalfRequestors:                     []access.SubjectSet{{Type: "requestorManager", ManagerLevel: 1}},
	}
	p.RequestApprovalSettings = access.ApprovalSettings{
		IsApprovalRequiredForAdd:         true,
		IsApprovalRequiredForUpdate:      true,
		IsRequestorJustificationRequired: true,
		Stages: []access.ApprovalStage{
			{
				DurationBeforeAutomaticDenial:   access.MustDuration("P2D"),
				IsApproverJustificationRequired: true,
				PrimaryApprovers:                []access.SubjectSet{{Type: "requestorManager", ManagerLevel: 2}},
				FallbackPrimaryApprovers:        []access.SubjectSet{{Type: "singleUser", UserID: approverID}},
				ApproverInformationVisibility:   "notVisible",
			},
			{
				DurationBeforeAutomaticDenial: access.MustDuration("P7D"),
				IsEscalationEnabled:           true,
				DurationBeforeEscalation:      access.MustDuration("P3DT12H"),
				PrimaryApprovers:              []access.SubjectSet{{Type: "singleUser", UserID: approverID}},
				EscalationApprovers:           []access.SubjectSet{{Type: "groupMembers", GroupID: "group-escalation"}},
				FallbackEscalationApprovers:   []access.SubjectSet{{Type: "internalSponsors"}},
				ApproverInformationVisibility: "visible",
			},
		},
	}
	p.ReviewSettings = json.RawMessage(`{"isEnabled": false, "expirationBehavior": "keepAccess"}`)
	p.NotificationSettings = json.RawMessage(`{"isAssignmentNotificationDisabled":true}`)
	p.ExtensionBindings = []access.ExtensionBinding{
		{ID: id + "-created", Stage: access.StageRequestCreated, CustomExtensionID: extensionID},
		{ID: id + "-granted", Stage: access.StageRequestGranted, CustomExtensionID: extensionID},
	}
	p.Questions = []access.Question{
		{
			ID:                   id + "-q1",
			Type:                 access.TextInputQuestion,
			Text:                 "Why do you need access?",
			Localizations:        []access.LocalizedText{{LanguageCode: "fr", Text: "Pourquoi ?"}},
			Sequence:             1,
			IsRequired:           true,
			IsAnswerEditable:     true,
			IsSingleLineQuestion: true,
			RegexPattern:         `^[A-Z].+`,
		},
		{
			ID:       id + "-q2",
			Type:     access.MultipleChoiceQuestion,
			Text:     "Which region?",
			Sequence: 2,
			Choices: []access.AnswerChoice{
				{ActualValue: "eu", Text: "Europe", Localizations: []access.LocalizedText{{LanguageCode: "de", Text: "Europa"}}},
				{ActualValue: "us", Text: "United States"},
			},
			IsMultipleSelectionAllowed: true,
		},
	}
	p.ModifiedDateTime = Epoch.Add(3 * time.Hour)
	return p
}

// NewExtension returns a valid request workflow extension of the catalog that
// posts to an HTTP endpoint with a bearer token and waits for a callback.
func NewExtension(id, catalogID string) access.CustomExtension {
	timeout, retries := 1500, 1
	return access.CustomExtension{
		ID:          id,
		CatalogID:   catalogID,
		Type:        access.RequestWorkflowExtension,
		DisplayName: "Extension " + id,
		Description: "Calls out for " + id,
		Endpoint: access.Endpoint{
			Type:      access.HTTPRequestEndpoint,
			TargetURL: "https://hooks.example.test/" + id,
		},
		Authentication: access.Authentication{Type: access.BearerTokenAuthentication, ResourceID: "api://hooks.example.test"},
		Client:         &access.ClientConfiguration{TimeoutInMilliseconds: &timeout, MaximumRetries: &retries},
		Callback: &access.CallbackConfiguration{
			Type:            access.CallbackConfigurationType,
			TimeoutDuration: access.MustDuration("PT1H30M"),
		},
		CreatedBy:            "admin@" + Domain,
		LastModifiedBy:       "owner@" + Domain,
		CreatedDateTime:      Epoch,
		LastModifiedDateTime: Epoch.Add(time.Minute),
	}
}

// NewUser returns a valid, enabled user whose userPrincipalName is id@Domain.
func NewUser(id string) access.User {
	return access.User{
		ID:                id,
		DisplayName:       "User " + id,
		UserPrincipalName: id + "@" + Domain,
		Mail:              id + "@mail." + Domain,
		MailNickname:      id,
		AccountEnabled:    true,
	}
}

// NewGroup returns a valid security group.
func NewGroup(id string) access.Group {
	return access.Group{
		ID:              id,
		DisplayName:     "Group " + id,
		Description:     "Members of " + id,
		MailNickname:    id,
		SecurityEnabled: true,
	}
}

// NewServicePrincipal returns a valid application whose appId is "app-"+id,
// with one app role for users and one for applications.
func NewServicePrincipal(id string) access.ServicePrincipal {
	return access.ServicePrincipal{
		ID:          id,
		AppID:       "app-" + id,
		DisplayName: "App " + id,
		AppRoles: []access.AppRole{
			{ID: id + "-reader", AllowedMemberTypes: []string{"User"}, Description: "Reads", DisplayName: "Reader", IsEnabled: true, Value: "Data.Read"},
			{ID: id + "-writer", AllowedMemberTypes: []string{"User", "Application"}, DisplayName: "Writer", Value: "Data.Write"},
		},
	}
}

// NewSubject returns the subject a request records for the user that NewUser(id) returns.
func NewSubject(id string) access.Subject {
	u := NewUser(id)
	return access.Subject{ID: id, Kind: access.SubjectUser, DisplayName: u.DisplayName,
		PrincipalName: u.UserPrincipalName, Email: u.Mail}
}

// NewSnapshot returns what a request copies from the policy at submission:
// every extension binding becomes one that waits for a callback for 1h30m,
// as NewExtension's do.
func NewSnapshot(p access.AssignmentPolicy) access.PolicySnapshot {
	s := access.PolicySnapshot{
		DisplayName:      p.DisplayName,
		ApprovalRequired: p.RequestApprovalSettings.IsApprovalRequiredForAdd,
		ApprovalStages:   slices.Clone(p.RequestApprovalSettings.Stages),
		Expiration:       p.Expiration,
	}
	for _, b := range p.ExtensionBindings {
		s.Bindings = append(s.Bindings, access.StageBinding{Stage: b.Stage, ExtensionID: b.CustomExtensionID,
			Waits: true, CallbackTimeout: access.MustDuration("PT1H30M")})
	}
	return s
}

// NewRequest returns an open adminAdd request under the policy for the
// target user, with every field set but CompletedDateTime: it was created
// at Epoch, its assignment (id+"-assignment") is delivered, and it waits
// for a callback at the granted stage, its created-stage callout answered.
func NewRequest(id string, p access.AssignmentPolicy, targetID string) access.Request {
	start := Epoch.Add(time.Hour)
	end := Epoch.AddDate(0, 3, 0)
	return access.Request{
		ID:              id,
		Type:            access.RequestAdminAdd,
		State:           access.StateDelivering,
		Status:          access.StatusWaitingForCallback,
		CreatedDateTime: Epoch,
		Justification:   "Needed for " + id,
		Answers: []access.Answer{
			{QuestionID: p.ID + "-q1", Value: "Quarterly report", DisplayValue: "Quarterly report"},
			{QuestionID: p.ID + "-q2", Value: "eu", DisplayValue: "Europe"},
		},
		Schedule: access.Schedule{StartDateTime: &start,
			Expiration: access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: &end}},
		AccessPackageID: p.AccessPackageID,
		PolicyID:        p.ID,
		CatalogID:       p.CatalogID,
		Target:          NewSubject(targetID),
		Requestor:       access.Subject{ID: "admin-app", Kind: access.SubjectServicePrincipal, DisplayName: "Admin app"},
		AssignmentID:    id + "-assignment",
		Policy:          NewSnapshot(p),
		Callouts: []access.CalloutInstance{
			{ID: id + "-callout-1", CustomExtensionID: "ext-created", Stage: access.StageRequestCreated,
				Status: access.CallbackReceived, Detail: "Checked", ExternalCorrelationID: "corr-1", Waits: true},
			{ID: id + "-callout-2", CustomExtensionID: "ext-granted", Stage: access.StageRequestGranted,
				Status: access.WaitingForCallback, Waits: true},
		},
		Step: access.StepGranted,
	}
}

// NewAssignment returns a delivered assignment under the policy for the
// target user with every field set but ExpiredDateTime: it started at
// Epoch, ends after the policy's expiration, and its 14-day pre-expiration
// callout was sent.
func NewAssignment(id string, p access.AssignmentPolicy, targetID string) access.Assignment {
	start := Epoch
	return access.Assignment{
		ID:              id,
		AccessPackageID: p.AccessPackageID,
		PolicyID:        p.ID,
		CatalogID:       p.CatalogID,
		Target:          NewSubject(targetID),
		State:           access.AssignmentDelivered,
		Status:          access.StatusDelivered,
		Schedule:        access.Schedule{StartDateTime: &start, Expiration: p.Expiration},
		Callouts: []access.CalloutInstance{
			{ID: id + "-callout-1", CustomExtensionID: "ext-expiry", Stage: access.StageFourteenDaysBeforeExpiry,
				Status: access.CalloutSent, ExternalCorrelationID: "corr-" + id},
		},
		CreatedDateTime: Epoch,
	}
}

// NewWork returns work of the kind for the request and the assignment
// (either may be ""), due at due. Callouts have every field set: a stage,
// an instance, an extension and the request's state; callback timeouts a
// stage and an instance.
func NewWork(id string, kind access.WorkKind, requestID, assignmentID string, due time.Time) access.Work {
	w := access.Work{ID: id, Kind: kind, RequestID: requestID, AssignmentID: assignmentID, DueAt: due}
	switch kind {
	case access.WorkCallout:
		w.Stage, w.InstanceID, w.ExtensionID = access.StageRequestGranted, id+"-instance", "ext-granted"
		w.RequestState, w.RequestStatus = access.StateDelivering, access.StatusDelivering
	case access.WorkCallbackTimeout:
		w.Stage, w.InstanceID = access.StageRequestGranted, id+"-instance"
	}
	return w
}

// NewResource returns a group as a resource of the catalog, with every
// field set: its Member and Owner roles and its root scope, as a resource
// request adds it. originID is the group's id.
func NewResource(id, catalogID, originID string) access.Resource {
	return access.Resource{
		ID:           id,
		CatalogID:    catalogID,
		OriginID:     originID,
		OriginSystem: access.OriginGroup,
		DisplayName:  "Group " + originID,
		Description:  "Members of " + originID,
		Roles: []access.ResourceRole{
			{ID: id + "-member", OriginID: "Member_" + originID, DisplayName: "Member", Description: "A member of " + originID},
			{ID: id + "-owner", OriginID: "Owner_" + originID, DisplayName: "Owner"},
		},
		Scopes:           []access.ResourceScope{{ID: id + "-root", OriginID: originID, DisplayName: "Root", Description: "Root Scope", IsRootScope: true}},
		CreatedDateTime:  Epoch,
		ModifiedDateTime: Epoch.Add(time.Minute),
	}
}

// NewResourceRequest returns a fulfilled adminAdd request that added the
// resource, with every field set.
func NewResourceRequest(id string, r access.Resource) access.ResourceRequest {
	return access.ResourceRequest{
		ID:              id,
		Type:            access.ResourceRequestAdd,
		State:           access.ResourceRequestDone,
		Status:          access.StatusFulfilled,
		CatalogID:       r.CatalogID,
		ResourceID:      r.ID,
		OriginID:        r.OriginID,
		OriginSystem:    r.OriginSystem,
		Justification:   "Needed for " + id,
		Requestor:       access.Subject{ID: "admin-app", Kind: access.SubjectServicePrincipal, DisplayName: "Admin app"},
		CreatedDateTime: Epoch,
	}
}

// NewAppRoleAssignment returns the user principalID holding the app role
// of the service principal sp, with every field set.
func NewAppRoleAssignment(id string, sp access.ServicePrincipal, appRoleID, principalID string) access.AppRoleAssignment {
	return access.AppRoleAssignment{
		ID:                   id,
		AppRoleID:            appRoleID,
		PrincipalID:          principalID,
		PrincipalType:        "User",
		PrincipalDisplayName: "User " + principalID,
		ResourceID:           sp.ID,
		ResourceDisplayName:  sp.DisplayName,
		CreatedDateTime:      Epoch,
	}
}

// NewRoleAssignment returns principalID holding a role: on the catalog, or
// tenant-wide when catalogID is "".
func NewRoleAssignment(id, principalID, roleID, catalogID string) access.RoleAssignment {
	a := access.RoleAssignment{ID: id, PrincipalID: principalID, RoleDefinitionID: roleID, CatalogID: catalogID, CreatedDateTime: Epoch}
	if catalogID == "" {
		a.DirectoryScopeID = "/"
	} else {
		a.AppScopeID = access.CatalogRoleScope(catalogID)
	}
	return a
}
