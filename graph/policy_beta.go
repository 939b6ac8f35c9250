package graph

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
)

// Beta's accessPackageAssignmentPolicies are another model of the same
// stored policies: requestorSettings with a scopeType, approvalStages with
// timeouts in days and minutes and isBackup approvers, durationInDays or
// expirationDateTime, canExtend, and inline questions. docs/compatibility.md
// maps it field by field.
//
// Two rules make the mapping safe to edit through. What beta cannot say
// (on-behalf requestors, self-removal, notification and most review
// settings, expirations in months or hours) is kept as stored when a beta
// client writes the policy. And a beta property sent back as a GET showed it
// keeps the stored value, even where beta's form is coarser than the stored
// one, so that GET-modify-PUT changes only what the client changed.

const betaPolicies = "accessPackageAssignmentPolicies"

// policyBeta is accessPackageAssignmentPolicy in beta. Navigation
// properties are present only when $expand names them.
type policyBeta struct {
	ID                                string                `json:"id"`
	AccessPackageID                   string                `json:"accessPackageId"`
	DisplayName                       string                `json:"displayName"`
	Description                       *string               `json:"description"`
	CanExtend                         bool                  `json:"canExtend"`
	DurationInDays                    int                   `json:"durationInDays"`
	ExpirationDateTime                *string               `json:"expirationDateTime"`
	CreatedBy                         *string               `json:"createdBy"`
	CreatedDateTime                   *string               `json:"createdDateTime"`
	ModifiedBy                        *string               `json:"modifiedBy"`
	ModifiedDateTime                  *string               `json:"modifiedDateTime"`
	RequestorSettings                 requestorSettingsBeta `json:"requestorSettings"`
	RequestApprovalSettings           approvalSettingsBeta  `json:"requestApprovalSettings"`
	AccessReviewSettings              json.RawMessage       `json:"accessReviewSettings"`
	Questions                         []questionBeta        `json:"questions"`
	VerifiableCredentialSettings      json.RawMessage       `json:"verifiableCredentialSettings"`
	AccessPackageNotificationSettings json.RawMessage       `json:"accessPackageNotificationSettings"`
	AccessPackage                     *accessPackageBeta    `json:"accessPackage,omitempty"`
	AccessPackageCatalog              *catalogBeta          `json:"accessPackageCatalog,omitempty"`
	CustomExtensionStageSettings      *[]stageSettingWire   `json:"customExtensionStageSettings,omitempty"`
}

// requestorSettingsBeta is beta's requestorSettings: who may ask.
type requestorSettingsBeta struct {
	ScopeType         *string       `json:"scopeType"`
	AcceptRequests    *bool         `json:"acceptRequests"`
	AllowedRequestors []userSetWire `json:"allowedRequestors"`
}

// approvalSettingsBeta is beta's approvalSettings.
type approvalSettingsBeta struct {
	IsApprovalRequired               *bool               `json:"isApprovalRequired"`
	IsApprovalRequiredForExtension   *bool               `json:"isApprovalRequiredForExtension"`
	IsRequestorJustificationRequired *bool               `json:"isRequestorJustificationRequired"`
	ApprovalMode                     *string             `json:"approvalMode"`
	ApprovalStages                   []approvalStageBeta `json:"approvalStages"`
}

// approvalStageBeta is beta's approvalStage. A stage whose approvers a
// custom extension determines has no beta form; it is written, and read
// back, with v1.0's @odata.type and customExtension.
type approvalStageBeta struct {
	ODataType                       string          `json:"@odata.type,omitempty"`
	CustomExtension                 *extensionIDRef `json:"customExtension,omitempty"`
	ApprovalStageTimeOutInDays      *int            `json:"approvalStageTimeOutInDays"`
	IsApproverJustificationRequired *bool           `json:"isApproverJustificationRequired"`
	IsEscalationEnabled             *bool           `json:"isEscalationEnabled"`
	EscalationTimeInMinutes         *int            `json:"escalationTimeInMinutes"`
	PrimaryApprovers                []userSetWire   `json:"primaryApprovers"`
	EscalationApprovers             []userSetWire   `json:"escalationApprovers"`
	ApproverInformationVisibility   *string         `json:"approverInformationVisibility"`
}

// userSetWire is beta's userSet: a subject set with isBackup, naming its
// user, group or connected organisation by id. The subject sets beta has no
// userSet for (singleServicePrincipal, targetManager, attributeRuleMembers,
// targetApplicationOwners) are written, and read, in their v1.0 form.
type userSetWire struct {
	ODataType          string  `json:"@odata.type"`
	IsBackup           *bool   `json:"isBackup"`
	ID                 *string `json:"id,omitempty"`
	ServicePrincipalID *string `json:"servicePrincipalId,omitempty"`
	MembershipRule     *string `json:"membershipRule,omitempty"`
	ManagerLevel       *int    `json:"managerLevel,omitempty"`
	Description        *string `json:"description,omitempty"`
}

// questionBeta is beta's accessPackageQuestion, a complex type inline in the
// policy, with its text as accessPackageLocalizedContent.
type questionBeta struct {
	ODataType               string                `json:"@odata.type"`
	ID                      *string               `json:"id"`
	IsRequired              *bool                 `json:"isRequired"`
	IsAnswerEditable        *bool                 `json:"isAnswerEditable"`
	Sequence                *int                  `json:"sequence"`
	Text                    *localizedContentWire `json:"text"`
	IsSingleLineQuestion    *bool                 `json:"isSingleLineQuestion,omitempty"`
	RegexPattern            *string               `json:"regexPattern,omitempty"`
	Choices                 *[]choiceBeta         `json:"choices,omitempty"`
	AllowsMultipleSelection *bool                 `json:"allowsMultipleSelection,omitempty"`
}

type localizedContentWire struct {
	DefaultText    *string             `json:"defaultText"`
	LocalizedTexts []localizedTextWire `json:"localizedTexts"`
}

type choiceBeta struct {
	ActualValue  string               `json:"actualValue"`
	DisplayValue localizedContentWire `json:"displayValue"`
}

// reviewSettingsBeta is beta's assignmentReviewSettings, read from the
// stored v1.0 reviewSettings.
type reviewSettingsBeta struct {
	IsEnabled                       bool          `json:"isEnabled"`
	IsAccessRecommendationEnabled   bool          `json:"isAccessRecommendationEnabled"`
	IsApprovalJustificationRequired bool          `json:"isApprovalJustificationRequired"`
	AccessReviewTimeoutBehavior     *string       `json:"accessReviewTimeoutBehavior"`
	StartDateTime                   *string       `json:"startDateTime"`
	DurationInDays                  *int          `json:"durationInDays"`
	RecurrenceType                  *string       `json:"recurrenceType"`
	ReviewerType                    *string       `json:"reviewerType"`
	Reviewers                       []userSetWire `json:"reviewers"`
}

// scopeTypes maps beta's requestorSettings.scopeType onto allowedTargetScope.
var scopeTypes = []struct {
	beta  string
	scope access.AllowedTargetScope
}{
	{"NoSubjects", access.ScopeNotSpecified},
	{"SpecificDirectorySubjects", access.ScopeSpecificDirectoryUsers},
	{"SpecificConnectedOrganizationSubjects", access.ScopeSpecificConnectedOrgUsers},
	{"AllConfiguredConnectedOrganizationSubjects", access.ScopeAllConfiguredConnectedOrgUsers},
	{"AllExistingDirectoryMemberUsers", access.ScopeAllMemberUsers},
	{"AllExistingDirectorySubjects", access.ScopeAllDirectoryUsers},
	{"AllExternalSubjects", access.ScopeAllExternalUsers},
}

// scopeTypeOut is a stored scope as beta's scopeType. The scopes v1.0 has
// and beta has not (service principals, agent identities) are written as
// their v1.0 member in PascalCase, which scopeTypeIn reads back.
func scopeTypeOut(s access.AllowedTargetScope) string {
	for _, st := range scopeTypes {
		if st.scope == s {
			return st.beta
		}
	}
	return pascal(string(s))
}

func scopeTypeIn(s string) (access.AllowedTargetScope, error) {
	for _, st := range scopeTypes {
		if strings.EqualFold(st.beta, s) {
			return st.scope, nil
		}
	}
	if strings.EqualFold(s, "AllExistingConnectedOrganizationSubjects") {
		return "", access.Invalidf("property 'requestorSettings.scopeType': %s has no counterpart in the stored policy; use AllConfiguredConnectedOrganizationSubjects", s)
	}
	if scope, ok := access.ParseAllowedTargetScope(s); ok {
		return scope, nil
	}
	return "", access.Invalidf("property 'requestorSettings.scopeType': %q is not a scope type; use NoSubjects, SpecificDirectorySubjects, AllExistingDirectoryMemberUsers, AllExistingDirectorySubjects, AllExternalSubjects, SpecificConnectedOrganizationSubjects or AllConfiguredConnectedOrganizationSubjects", s)
}

// wholeDays is a duration in days, rounded up: the coarser beta form of it.
func wholeDays(d access.Duration) int {
	if d.Years == 0 && d.Months == 0 && d.Clock == 0 {
		return d.Days
	}
	return int(math.Ceil(d.Approx().Hours() / 24))
}

func minutesOf(d access.Duration) int { return int(math.Round(d.Approx().Minutes())) }

// policyToBeta writes a policy in beta's shape without navigation properties.
func policyToBeta(p access.AssignmentPolicy) policyBeta {
	out := policyBeta{
		ID: p.ID, AccessPackageID: p.AccessPackageID, DisplayName: p.DisplayName, Description: optional(p.Description),
		CanExtend:       p.RequestorSettings.EnableTargetsToSelfUpdateAccess,
		CreatedDateTime: timeOut(p.CreatedDateTime), ModifiedDateTime: timeOut(p.ModifiedDateTime),
		RequestorSettings: requestorSettingsBeta{
			ScopeType:         strPtr(scopeTypeOut(p.AllowedTargetScope)),
			AcceptRequests:    &p.RequestorSettings.EnableTargetsToSelfAddAccess,
			AllowedRequestors: userSetsOut(p.SpecificAllowedTargets, nil),
		},
		RequestApprovalSettings: approvalSettingsBeta{
			IsApprovalRequired:               &p.RequestApprovalSettings.IsApprovalRequiredForAdd,
			IsApprovalRequiredForExtension:   &p.RequestApprovalSettings.IsApprovalRequiredForUpdate,
			IsRequestorJustificationRequired: &p.RequestApprovalSettings.IsRequestorJustificationRequired,
			ApprovalStages:                   []approvalStageBeta{},
		},
		AccessReviewSettings:              reviewSettingsToBeta(p.ReviewSettings),
		Questions:                         questionsToBeta(p.Questions),
		VerifiableCredentialSettings:      jsonNull,
		AccessPackageNotificationSettings: rawOrNull(p.NotificationSettings),
	}
	switch e := p.Expiration; e.Type {
	case access.ExpirationAfterDuration:
		out.DurationInDays = wholeDays(e.Duration)
	case access.ExpirationAfterDateTime:
		if e.EndDateTime != nil {
			out.ExpirationDateTime = timeOut(*e.EndDateTime)
		}
	}
	stages := p.RequestApprovalSettings.Stages
	mode := "NoApproval"
	switch {
	case len(stages) == 1:
		mode = "SingleStage"
	case len(stages) > 1:
		mode = "Serial"
	}
	out.RequestApprovalSettings.ApprovalMode = &mode
	for _, st := range stages {
		out.RequestApprovalSettings.ApprovalStages = append(out.RequestApprovalSettings.ApprovalStages, approvalStageToBeta(st))
	}
	return out
}

func approvalStageToBeta(st access.ApprovalStage) approvalStageBeta {
	timeout, escalation := wholeDays(st.DurationBeforeAutomaticDenial), minutesOf(st.DurationBeforeEscalation)
	vis := string(st.ApproverInformationVisibility)
	out := approvalStageBeta{
		ApprovalStageTimeOutInDays:      &timeout,
		IsApproverJustificationRequired: &st.IsApproverJustificationRequired,
		IsEscalationEnabled:             &st.IsEscalationEnabled,
		EscalationTimeInMinutes:         &escalation,
		PrimaryApprovers:                userSetsOut(st.PrimaryApprovers, st.FallbackPrimaryApprovers),
		EscalationApprovers:             userSetsOut(st.EscalationApprovers, st.FallbackEscalationApprovers),
		ApproverInformationVisibility:   &vis,
	}
	if st.Type == access.DynamicApprovalStage {
		out.ODataType = graphType(access.DynamicApprovalStage)
		out.CustomExtension = &extensionIDRef{ID: strPtr(st.CustomExtensionID)}
	}
	return out
}

// userSetsOut writes subject sets as userSets, the backups after the
// others with isBackup.
func userSetsOut(primary, backup []access.SubjectSet) []userSetWire {
	out := []userSetWire{}
	for i, s := range append(append([]access.SubjectSet{}, primary...), backup...) {
		isBackup := i >= len(primary)
		w := userSetWire{ODataType: graphType(s.Type), IsBackup: &isBackup}
		switch access.SubjectSetTypes[s.Type] {
		case "userId":
			w.ID = strPtr(s.UserID)
		case "groupId":
			w.ID = strPtr(s.GroupID)
		case "connectedOrganizationId":
			w.ID = strPtr(s.ConnectedOrganizationID)
		case "servicePrincipalId":
			w.ServicePrincipalID = strPtr(s.ServicePrincipalID)
		case "membershipRule":
			w.MembershipRule = strPtr(s.MembershipRule)
		}
		if s.ManagerLevel > 0 {
			level := s.ManagerLevel
			w.ManagerLevel = &level
		}
		if s.Description != "" || access.SubjectSetTypes[s.Type] != "" {
			w.Description = optional(s.Description)
		}
		out = append(out, w)
	}
	return out
}

// userSetsIn reads userSets into subject sets and, split off by isBackup,
// their fallbacks; backupsAllowed is false where beta has no backups.
func userSetsIn(path string, in []userSetWire, backupsAllowed bool) (primary, backup []access.SubjectSet, err error) {
	for i, w := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		if w.ODataType == "" {
			return nil, nil, access.Invalidf("property '%s.@odata.type' is required, e.g. #microsoft.graph.singleUser", at)
		}
		t := typeName(w.ODataType)
		need, known := access.SubjectSetTypes[t]
		if !known {
			return nil, nil, access.Invalidf("property '%s.@odata.type': %q is not a user set accessd supports", at, w.ODataType)
		}
		byID := need == "userId" || need == "groupId" || need == "connectedOrganizationId"
		for name, sent := range map[string]bool{"id": w.ID != nil && !byID, "servicePrincipalId": w.ServicePrincipalID != nil && need != "servicePrincipalId",
			"membershipRule": w.MembershipRule != nil && need != "membershipRule"} {
			if sent {
				return nil, nil, access.Invalidf("property '%s.%s' is not a property of %s", at, name, t)
			}
		}
		isManager := t == "requestorManager" || t == "targetManager"
		if w.ManagerLevel != nil && !isManager {
			return nil, nil, access.Invalidf("property '%s.managerLevel' is not a property of %s", at, t)
		}
		if boolean(w.IsBackup) && !backupsAllowed {
			return nil, nil, access.Invalidf("property '%s.isBackup': only approvers have backups", at)
		}
		s := access.SubjectSet{Type: t, ServicePrincipalID: str(w.ServicePrincipalID), MembershipRule: str(w.MembershipRule), Description: str(w.Description)}
		switch need {
		case "userId":
			s.UserID = str(w.ID)
		case "groupId":
			s.GroupID = str(w.ID)
		case "connectedOrganizationId":
			s.ConnectedOrganizationID = str(w.ID)
		}
		if isManager {
			s.ManagerLevel = 1
			if w.ManagerLevel != nil {
				s.ManagerLevel = *w.ManagerLevel
			}
		}
		if boolean(w.IsBackup) {
			backup = append(backup, s)
		} else {
			primary = append(primary, s)
		}
	}
	return primary, backup, nil
}

func questionsToBeta(in []access.Question) []questionBeta {
	out := []questionBeta{}
	for _, q := range in {
		w := questionBeta{ODataType: graphType(q.Type), ID: strPtr(q.ID), IsRequired: &q.IsRequired, IsAnswerEditable: &q.IsAnswerEditable,
			Sequence: &q.Sequence, Text: &localizedContentWire{DefaultText: strPtr(q.Text), LocalizedTexts: localizedOut(q.Localizations)}}
		if q.Type == access.TextInputQuestion {
			w.IsSingleLineQuestion, w.RegexPattern = &q.IsSingleLineQuestion, optional(q.RegexPattern)
		} else {
			choices := []choiceBeta{}
			for _, c := range q.Choices {
				choices = append(choices, choiceBeta{ActualValue: c.ActualValue,
					DisplayValue: localizedContentWire{DefaultText: optional(c.Text), LocalizedTexts: localizedOut(c.Localizations)}})
			}
			w.Choices, w.AllowsMultipleSelection = &choices, &q.IsMultipleSelectionAllowed
		}
		out = append(out, w)
	}
	return out
}

// toDomain reads a beta question through v1.0's reader, which checks it.
func (q questionBeta) toDomain(path string) (access.Question, error) {
	v1 := questionWire{ODataType: q.ODataType, ID: q.ID, Sequence: q.Sequence, IsRequired: q.IsRequired, IsAnswerEditable: q.IsAnswerEditable,
		IsSingleLineQuestion: q.IsSingleLineQuestion, RegexPattern: q.RegexPattern, IsMultipleSelectionAllowed: q.AllowsMultipleSelection}
	if q.Text != nil {
		v1.Text, v1.Localizations = q.Text.DefaultText, q.Text.LocalizedTexts
	}
	if q.Choices != nil {
		choices := []choiceWire{}
		for _, c := range *q.Choices {
			choices = append(choices, choiceWire{ActualValue: c.ActualValue, Text: c.DisplayValue.DefaultText, Localizations: c.DisplayValue.LocalizedTexts})
		}
		v1.Choices = &choices
	}
	return v1.toDomain(path)
}

// reviewSettingsToBeta reads the stored v1.0 reviewSettings into beta's
// accessReviewSettings; null when none are stored.
func reviewSettingsToBeta(raw json.RawMessage) json.RawMessage {
	if isNull(raw) {
		return jsonNull
	}
	var v1 struct {
		IsEnabled                       bool             `json:"isEnabled"`
		IsRecommendationEnabled         bool             `json:"isRecommendationEnabled"`
		IsReviewerJustificationRequired bool             `json:"isReviewerJustificationRequired"`
		IsSelfReview                    bool             `json:"isSelfReview"`
		ExpirationBehavior              *string          `json:"expirationBehavior"`
		Schedule                        *json.RawMessage `json:"schedule"`
		PrimaryReviewers                []subjectSetWire `json:"primaryReviewers"`
	}
	if err := json.Unmarshal(raw, &v1); err != nil {
		return jsonNull
	}
	out := reviewSettingsBeta{IsEnabled: v1.IsEnabled, IsAccessRecommendationEnabled: v1.IsRecommendationEnabled,
		IsApprovalJustificationRequired: v1.IsReviewerJustificationRequired, AccessReviewTimeoutBehavior: v1.ExpirationBehavior,
		Reviewers: []userSetWire{}}
	if v1.IsSelfReview {
		out.ReviewerType = strPtr("Self")
	} else if len(v1.PrimaryReviewers) > 0 {
		out.ReviewerType = strPtr("Reviewers")
	}
	if v1.Schedule != nil {
		var sch struct {
			StartDateTime *string `json:"startDateTime"`
		}
		if json.Unmarshal(*v1.Schedule, &sch) == nil {
			out.StartDateTime = sch.StartDateTime
		}
	}
	if sets, err := subjectSets("reviewSettings.primaryReviewers", v1.PrimaryReviewers); err == nil {
		out.Reviewers = userSetsOut(sets, nil)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return jsonNull
	}
	return b
}

// policyInputBeta is a beta policy as a client sends it (POST and PUT).
// Read-only properties sent back from a GET are accepted and ignored.
type policyInputBeta struct {
	ODataType                         string                 `json:"@odata.type"`
	ID                                ignored                `json:"id"`
	AccessPackageID                   *string                `json:"accessPackageId"`
	AccessPackage                     *packageRef            `json:"accessPackage"`
	DisplayName                       *string                `json:"displayName"`
	Description                       *string                `json:"description"`
	CanExtend                         *bool                  `json:"canExtend"`
	DurationInDays                    *int                   `json:"durationInDays"`
	ExpirationDateTime                *string                `json:"expirationDateTime"`
	RequestorSettings                 *requestorSettingsBeta `json:"requestorSettings"`
	RequestApprovalSettings           *approvalSettingsBeta  `json:"requestApprovalSettings"`
	AccessReviewSettings              json.RawMessage        `json:"accessReviewSettings"`
	Questions                         []questionBeta         `json:"questions"`
	VerifiableCredentialSettings      json.RawMessage        `json:"verifiableCredentialSettings"`
	AccessPackageNotificationSettings json.RawMessage        `json:"accessPackageNotificationSettings"`
	CustomExtensionStageSettings      []stageSettingInput    `json:"customExtensionStageSettings"`
	CustomExtensionHandlers           json.RawMessage        `json:"customExtensionHandlers"`
	AccessPackageCatalog              ignored                `json:"accessPackageCatalog"`
	CreatedBy                         ignored                `json:"createdBy"`
	CreatedDateTime                   ignored                `json:"createdDateTime"`
	ModifiedBy                        ignored                `json:"modifiedBy"`
	ModifiedDateTime                  ignored                `json:"modifiedDateTime"`
}

// applyTo writes the input onto p, the stored policy (or a new one), whose
// beta form before is what a GET showed. A property left out, or sent back
// as before showed it, keeps what p has.
func (in policyInputBeta) applyTo(p *access.AssignmentPolicy, before policyBeta) error {
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageAssignmentPolicy"); err != nil {
		return err
	}
	pkg := str(in.AccessPackageID)
	if in.AccessPackage != nil {
		var err error
		if pkg, err = oneID("accessPackageId", pkg, "accessPackage.id", str(in.AccessPackage.ID)); err != nil {
			return err
		}
	}
	if pkg != "" {
		p.AccessPackageID = pkg
	}
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.CanExtend != nil {
		p.RequestorSettings.EnableTargetsToSelfUpdateAccess = *in.CanExtend
	}
	if err := in.applyExpiration(p, before); err != nil {
		return err
	}
	if rs := in.RequestorSettings; rs != nil {
		if err := rs.applyTo(p, before.RequestorSettings); err != nil {
			return err
		}
	}
	if as := in.RequestApprovalSettings; as != nil {
		if err := as.applyTo(p, before.RequestApprovalSettings); err != nil {
			return err
		}
	}
	if err := applyReviewSettings(p, in.AccessReviewSettings); err != nil {
		return err
	}
	if !isNull(in.VerifiableCredentialSettings) {
		var vc struct {
			CredentialTypes []json.RawMessage `json:"credentialTypes"`
		}
		if err := json.Unmarshal(in.VerifiableCredentialSettings, &vc); err != nil || len(vc.CredentialTypes) > 0 {
			return access.Invalidf("property 'verifiableCredentialSettings': verified credentials are not supported; send null")
		}
	}
	if !isNull(in.AccessPackageNotificationSettings) {
		if bytes.TrimSpace(in.AccessPackageNotificationSettings)[0] != '{' {
			return access.Invalidf("property 'accessPackageNotificationSettings' must be an object")
		}
		p.NotificationSettings = in.AccessPackageNotificationSettings
	}
	if !isNull(in.CustomExtensionHandlers) && !bytes.Equal(bytes.TrimSpace(in.CustomExtensionHandlers), []byte("[]")) {
		return access.Invalidf("property 'customExtensionHandlers': the deprecated custom extension handlers are not supported; bind extensions with customExtensionStageSettings")
	}
	if in.CustomExtensionStageSettings != nil {
		bindings := []access.ExtensionBinding{}
		for i, b := range in.CustomExtensionStageSettings {
			path := fmt.Sprintf("customExtensionStageSettings[%d]", i)
			stage, err := enum(path+".stage", b.Stage, access.ParseStage)
			if err != nil {
				return err
			}
			binding := access.ExtensionBinding{ID: str(b.ID), Stage: stage}
			if b.CustomExtension != nil {
				binding.CustomExtensionID = str(b.CustomExtension.ID)
			}
			bindings = append(bindings, binding)
		}
		p.ExtensionBindings = bindings
	}
	if in.Questions != nil {
		questions := []access.Question{}
		for i, q := range in.Questions {
			question, err := q.toDomain(fmt.Sprintf("questions[%d]", i))
			if err != nil {
				return err
			}
			questions = append(questions, question)
		}
		p.Questions = questions
	}
	return nil
}

// applyExpiration reads durationInDays and expirationDateTime.
func (in policyInputBeta) applyExpiration(p *access.AssignmentPolicy, before policyBeta) error {
	if in.DurationInDays == nil && in.ExpirationDateTime == nil {
		return nil
	}
	days := 0
	if in.DurationInDays != nil {
		days = *in.DurationInDays
	}
	end, err := dateTime("expirationDateTime", in.ExpirationDateTime)
	if err != nil {
		return err
	}
	if days == before.DurationInDays && str(timeOutOf(end)) == str(before.ExpirationDateTime) && before.ID != "" {
		return nil // as a GET showed it: the stored expiration stays
	}
	switch {
	case days < 0:
		return access.Invalidf("property 'durationInDays' must not be negative")
	case days > 0 && end != nil:
		return access.Invalidf("properties 'durationInDays' and 'expirationDateTime' both say when access ends; send one")
	case days > 0:
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDuration, Duration: access.Duration{Days: days}}
	case end != nil:
		p.Expiration = access.Expiration{Type: access.ExpirationAfterDateTime, EndDateTime: end}
	default:
		p.Expiration = access.Expiration{Type: access.ExpirationNone}
	}
	return nil
}

func timeOutOf(t *time.Time) *string {
	if t == nil {
		return nil
	}
	return timeOut(*t)
}

func (rs requestorSettingsBeta) applyTo(p *access.AssignmentPolicy, before requestorSettingsBeta) error {
	unchanged := (rs.ScopeType == nil || strings.EqualFold(*rs.ScopeType, str(before.ScopeType))) &&
		(rs.AcceptRequests == nil || before.AcceptRequests != nil && *rs.AcceptRequests == *before.AcceptRequests)
	if rs.ScopeType != nil && !unchanged {
		scope, err := scopeTypeIn(*rs.ScopeType)
		if err != nil {
			return err
		}
		p.AllowedTargetScope = scope
	}
	if rs.AcceptRequests != nil && !unchanged {
		p.RequestorSettings.EnableTargetsToSelfAddAccess = *rs.AcceptRequests
	}
	if !unchanged && p.AllowedTargetScope == access.ScopeNotSpecified {
		// NoSubjects: administrators assign; nobody asks, whatever acceptRequests says.
		p.RequestorSettings.EnableTargetsToSelfAddAccess = false
	}
	if rs.AllowedRequestors != nil {
		sets, _, err := userSetsIn("requestorSettings.allowedRequestors", rs.AllowedRequestors, false)
		if err != nil {
			return err
		}
		p.SpecificAllowedTargets = sets
	}
	return nil
}

// approvalModes are beta's approvalMode values accessd runs.
var approvalModes = map[string]string{"noapproval": "NoApproval", "singlestage": "SingleStage", "serial": "Serial"}

// maxBetaApprovalStages is beta's limit; v1.0 allows three.
const maxBetaApprovalStages = 2

func (as approvalSettingsBeta) applyTo(p *access.AssignmentPolicy, before approvalSettingsBeta) error {
	s := &p.RequestApprovalSettings
	if as.IsApprovalRequired != nil {
		s.IsApprovalRequiredForAdd = *as.IsApprovalRequired
	}
	if as.IsApprovalRequiredForExtension != nil {
		s.IsApprovalRequiredForUpdate = *as.IsApprovalRequiredForExtension
	}
	if as.IsRequestorJustificationRequired != nil {
		s.IsRequestorJustificationRequired = *as.IsRequestorJustificationRequired
	}
	if as.ApprovalStages != nil {
		if n := len(as.ApprovalStages); n > maxBetaApprovalStages {
			return access.Invalidf("property 'requestApprovalSettings.approvalStages': beta allows at most %d approval stages, not %d; a third stage can be set through v1.0's assignmentPolicies", maxBetaApprovalStages, n)
		}
		stages := []access.ApprovalStage{}
		for i, st := range as.ApprovalStages {
			var stored *access.ApprovalStage
			var shown *approvalStageBeta
			if i < len(s.Stages) && i < len(before.ApprovalStages) {
				stored, shown = &s.Stages[i], &before.ApprovalStages[i]
			}
			stage, err := st.toDomain(fmt.Sprintf("requestApprovalSettings.approvalStages[%d]", i), stored, shown)
			if err != nil {
				return err
			}
			stages = append(stages, stage)
		}
		s.Stages = stages
	}
	if as.ApprovalMode != nil {
		mode, ok := approvalModes[strings.ToLower(*as.ApprovalMode)]
		n := len(s.Stages)
		switch {
		case strings.EqualFold(*as.ApprovalMode, "Parallel"):
			return access.Invalidf("property 'requestApprovalSettings.approvalMode': Parallel approval is not supported; stages are decided one after another (Serial)")
		case !ok:
			return access.Invalidf("property 'requestApprovalSettings.approvalMode': %q is not an approval mode; use NoApproval, SingleStage or Serial", *as.ApprovalMode)
		case mode == "NoApproval" && (s.ApprovalRequired() || n > 0):
			return access.Invalidf("property 'requestApprovalSettings.approvalMode': NoApproval, but approval is required or stages are given")
		case mode == "SingleStage" && n != 1:
			return access.Invalidf("property 'requestApprovalSettings.approvalMode': SingleStage needs exactly one approval stage, not %d", n)
		case mode == "Serial" && n != 2:
			return access.Invalidf("property 'requestApprovalSettings.approvalMode': Serial needs two approval stages, not %d", n)
		}
	}
	return nil
}

// toDomain reads a beta stage. stored and shown, when set, are the stored
// stage at the same place and its beta form as a GET showed it: a timeout
// sent back as shown keeps the stored duration, which may be finer.
func (st approvalStageBeta) toDomain(path string, stored *access.ApprovalStage, shown *approvalStageBeta) (access.ApprovalStage, error) {
	var out access.ApprovalStage
	if st.ODataType != "" {
		switch t := typeName(st.ODataType); {
		case strings.EqualFold(t, "approvalStage"), strings.EqualFold(t, "accessPackageApprovalStage"):
		case strings.EqualFold(t, access.DynamicApprovalStage):
			out.Type = access.DynamicApprovalStage
		default:
			return out, access.Invalidf("property '%s.@odata.type': %q is not supported; use approvalStage", path, st.ODataType)
		}
	}
	if x := st.CustomExtension; x != nil {
		out.CustomExtensionID = str(x.ID)
	}
	sameAs := func(sent, was *int) bool { return shown != nil && sent != nil && was != nil && *sent == *was }
	switch days := st.ApprovalStageTimeOutInDays; {
	case sameAs(days, shown.timeout()):
		out.DurationBeforeAutomaticDenial = stored.DurationBeforeAutomaticDenial
	case days != nil && *days < 0:
		return out, access.Invalidf("property '%s.approvalStageTimeOutInDays' must not be negative", path)
	case days != nil && *days > 0:
		out.DurationBeforeAutomaticDenial = access.Duration{Days: *days}
	}
	switch minutes := st.EscalationTimeInMinutes; {
	case sameAs(minutes, shown.escalation()):
		out.DurationBeforeEscalation = stored.DurationBeforeEscalation
	case minutes != nil && *minutes < 0:
		return out, access.Invalidf("property '%s.escalationTimeInMinutes' must not be negative", path)
	case minutes != nil && *minutes > 0:
		out.DurationBeforeEscalation = access.Duration{Clock: time.Duration(*minutes) * time.Minute}
	}
	out.IsApproverJustificationRequired = boolean(st.IsApproverJustificationRequired)
	out.IsEscalationEnabled = boolean(st.IsEscalationEnabled)
	var err error
	if out.ApproverInformationVisibility, err = enum(path+".approverInformationVisibility", st.ApproverInformationVisibility, access.ParseApproverVisibility); err != nil {
		return out, err
	}
	if out.PrimaryApprovers, out.FallbackPrimaryApprovers, err = userSetsIn(path+".primaryApprovers", st.PrimaryApprovers, true); err != nil {
		return out, err
	}
	if out.EscalationApprovers, out.FallbackEscalationApprovers, err = userSetsIn(path+".escalationApprovers", st.EscalationApprovers, true); err != nil {
		return out, err
	}
	return out, nil
}

func (st *approvalStageBeta) timeout() *int {
	if st == nil {
		return nil
	}
	return st.ApprovalStageTimeOutInDays
}

func (st *approvalStageBeta) escalation() *int {
	if st == nil {
		return nil
	}
	return st.EscalationTimeInMinutes
}

// applyReviewSettings reads accessReviewSettings: null, or reviews that are
// off, are accepted (a stored v1.0 reviewSettings is kept, switched off);
// enabled reviews are refused, as accessd runs no access reviews yet.
func applyReviewSettings(p *access.AssignmentPolicy, raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	var in struct {
		IsEnabled *bool `json:"isEnabled"`
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' || json.Unmarshal(raw, &in) != nil {
		return access.Invalidf("property 'accessReviewSettings' must be an object (assignmentReviewSettings)")
	}
	if boolean(in.IsEnabled) {
		return access.Invalidf("property 'accessReviewSettings.isEnabled': access reviews are not supported yet; send null or isEnabled false")
	}
	if isNull(p.ReviewSettings) {
		return nil
	}
	var stored map[string]json.RawMessage
	if err := json.Unmarshal(p.ReviewSettings, &stored); err != nil {
		return access.Internal(err)
	}
	stored["isEnabled"] = json.RawMessage("false")
	b, err := json.Marshal(stored)
	if err != nil {
		return access.Internal(err)
	}
	p.ReviewSettings = b
	return nil
}

// v1PolicyNames turns the v1.0 property paths the service names in its
// messages into beta's, so that a beta client reads its own names.
var v1PolicyNames = strings.NewReplacer(
	"requestApprovalSettings.stages", "requestApprovalSettings.approvalStages",
	"durationBeforeAutomaticDenial", "approvalStageTimeOutInDays",
	"durationBeforeEscalation", "escalationTimeInMinutes",
	"fallbackPrimaryApprovers", "primaryApprovers (isBackup)",
	"fallbackEscalationApprovers", "escalationApprovers (isBackup)",
	"specificAllowedTargets", "requestorSettings.allowedRequestors",
	"allowedTargetScope", "requestorSettings.scopeType",
	"accessPackage is required: give accessPackage.id", "accessPackageId is required",
	".userId", ".id", ".groupId", ".id", ".connectedOrganizationId", ".id",
)

func inBetaPolicyNames(err error) error {
	var e *access.Error
	if !errors.As(err, &e) || e.Kind != access.KindInvalid {
		return err
	}
	c := *e
	c.Message = v1PolicyNames.Replace(e.Message)
	return &c
}

// ---- routes ----

// policyExpandableBeta lists what $expand may name on a beta policy.
var policyExpandableBeta = []string{"accessPackage", "accessPackageCatalog", "customExtensionStageSettings", "customExtensionStageSettings/customExtension"}

// policyFieldsBeta are what $filter and $orderby may name on beta policies.
var policyFieldsBeta = policyFields.with(map[string]wireField{
	"accessPackageId":         {field: "AccessPackageID"},
	"accessPackageCatalog/id": {field: "CatalogID"},
})

func (s *Server) listPoliciesBeta() handler {
	return serveList(s, storedList[access.AssignmentPolicy]{
		fields:     policyFieldsBeta,
		expandable: policyExpandableBeta,
		context: func(r *http.Request) string {
			if id := r.PathValue("id"); id != "" {
				return s.emContext("beta", "accessPackages('"+id+"')/"+betaPolicies, false)
			}
			return s.emContext("beta", betaPolicies, false)
		},
		scope: underParent(asCaller(s.svc.AccessPackage), "AccessPackageID"),
		shape: func(r *http.Request, p access.AssignmentPolicy, expand expandSet) (any, error) {
			return s.policyBeta(r, p, expand)
		},
	})
}

// policyBeta writes a policy with the navigation properties $expand names.
func (s *Server) policyBeta(r *http.Request, p access.AssignmentPolicy, expand expandSet) (policyBeta, error) {
	out := policyToBeta(p)
	if expand.has("accessPackage") {
		pkg, err := s.svc.AccessPackage(r.Context(), callerOf(r), p.AccessPackageID)
		if err != nil {
			return out, err
		}
		pw := accessPackageToBeta(pkg)
		out.AccessPackage = &pw
	}
	if expand.has("accessPackageCatalog") {
		var err error
		if out.AccessPackageCatalog, err = s.catalogBetaOf(r, p.CatalogID); err != nil {
			return out, err
		}
	}
	if expand.has("customExtensionStageSettings") {
		// v1.0's policy writes them; beta's have the same shape.
		v1, err := s.policyV1(r, p, expandSet{"customExtensionStageSettings": expand["customExtensionStageSettings"]})
		if err != nil {
			return out, err
		}
		out.CustomExtensionStageSettings = v1.CustomExtensionStageSettings
	}
	return out, nil
}

func (s *Server) getPolicyBeta(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r, policyExpandableBeta...)
	if err != nil {
		return err
	}
	p, err := s.svc.AssignmentPolicy(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := s.policyBeta(r, p, q.expand)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusOK, s.emContext("beta", betaPolicies, true), out, q.selectSet)
}

// policyAnswerBeta is what POST and PUT return: the policy with its stage
// settings' extensions, so a client sees what it stored.
func (s *Server) policyAnswerBeta(r *http.Request, p access.AssignmentPolicy) (policyBeta, error) {
	return s.policyBeta(r, p, expandSet{"customExtensionStageSettings": expandSet{"customExtension": {}}})
}

func (s *Server) createPolicyBeta(w http.ResponseWriter, r *http.Request) error {
	var in policyInputBeta
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p := access.AssignmentPolicy{Expiration: access.Expiration{Type: access.ExpirationNone}}
	if err := in.applyTo(&p, policyBeta{}); err != nil {
		return err
	}
	p, err := s.svc.CreateAssignmentPolicy(r.Context(), callerOf(r), p)
	if err != nil {
		return inBetaPolicyNames(err)
	}
	out, err := s.policyAnswerBeta(r, p)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusCreated, s.emContext("beta", betaPolicies, true), out, nil)
}

// replacePolicyBeta is PUT. It writes the body onto the stored policy, so
// that what beta cannot express survives an edit made through beta.
func (s *Server) replacePolicyBeta(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	stored, err := s.svc.AssignmentPolicy(r.Context(), callerOf(r), id)
	if err != nil {
		return err
	}
	var in policyInputBeta
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	p := stored
	if err := in.applyTo(&p, policyToBeta(stored)); err != nil {
		return err
	}
	if p, err = s.svc.ReplaceAssignmentPolicy(r.Context(), callerOf(r), id, p); err != nil {
		return inBetaPolicyNames(err)
	}
	out, err := s.policyAnswerBeta(r, p)
	if err != nil {
		return err
	}
	return writeEntity(w, http.StatusOK, s.emContext("beta", betaPolicies, true), out, nil)
}

// packagePoliciesBeta is a beta package's expanded policies.
func (s *Server) packagePoliciesBeta(r *http.Request, packageID string, nested expandSet) ([]any, error) {
	policies, err := allOf[access.AssignmentPolicy](r.Context(), s.svc, access.NounPolicies, fieldEquals("AccessPackageID", packageID))
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, p := range policies {
		pw, err := s.policyBeta(r, p, nested)
		if err != nil {
			return nil, err
		}
		out = append(out, pw)
	}
	return out, nil
}
