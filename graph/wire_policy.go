package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/accessd/accessd/access"
)

// policyV1 is accessPackageAssignmentPolicy in v1.0. Navigation properties
// are pointers, present only when $expand asks for them.
type policyV1 struct {
	ID                           string               `json:"id"`
	DisplayName                  string               `json:"displayName"`
	Description                  *string              `json:"description"`
	AllowedTargetScope           string               `json:"allowedTargetScope"`
	SpecificAllowedTargets       []subjectSetWire     `json:"specificAllowedTargets"`
	Expiration                   expirationWire       `json:"expiration"`
	RequestorSettings            requestorWire        `json:"requestorSettings"`
	RequestApprovalSettings      approvalSettingsWire `json:"requestApprovalSettings"`
	ReviewSettings               json.RawMessage      `json:"reviewSettings"`
	NotificationSettings         json.RawMessage      `json:"notificationSettings"`
	CreatedDateTime              *string              `json:"createdDateTime"`
	ModifiedDateTime             *string              `json:"modifiedDateTime"`
	AccessPackage                *accessPackageV1     `json:"accessPackage,omitempty"`
	Catalog                      *catalogV1           `json:"catalog,omitempty"`
	CustomExtensionStageSettings *[]stageSettingWire  `json:"customExtensionStageSettings,omitempty"`
	Questions                    *[]questionWire      `json:"questions,omitempty"`
}

type expirationWire struct {
	EndDateTime *string `json:"endDateTime"`
	Duration    *string `json:"duration"`
	Type        *string `json:"type"`
}

type requestorWire struct {
	EnableTargetsToSelfAddAccess           *bool            `json:"enableTargetsToSelfAddAccess"`
	EnableTargetsToSelfUpdateAccess        *bool            `json:"enableTargetsToSelfUpdateAccess"`
	EnableTargetsToSelfRemoveAccess        *bool            `json:"enableTargetsToSelfRemoveAccess"`
	AllowCustomAssignmentSchedule          *bool            `json:"allowCustomAssignmentSchedule"`
	EnableOnBehalfRequestorsToAddAccess    *bool            `json:"enableOnBehalfRequestorsToAddAccess"`
	EnableOnBehalfRequestorsToUpdateAccess *bool            `json:"enableOnBehalfRequestorsToUpdateAccess"`
	EnableOnBehalfRequestorsToRemoveAccess *bool            `json:"enableOnBehalfRequestorsToRemoveAccess"`
	OnBehalfRequestors                     []subjectSetWire `json:"onBehalfRequestors"`
}

type approvalSettingsWire struct {
	IsApprovalRequiredForAdd         *bool               `json:"isApprovalRequiredForAdd"`
	IsApprovalRequiredForUpdate      *bool               `json:"isApprovalRequiredForUpdate"`
	IsRequestorJustificationRequired *bool               `json:"isRequestorJustificationRequired"`
	Stages                           []approvalStageWire `json:"stages"`
}

// approvalStageWire is accessPackageApprovalStage, or its subtype
// accessPackageDynamicApprovalStage, which names the custom extension that
// determines the stage's approvers and settings when a request reaches it.
// A plain stage is written without @odata.type, as before dynamic stages.
type approvalStageWire struct {
	ODataType                       string           `json:"@odata.type,omitempty"`
	CustomExtension                 *extensionIDRef  `json:"customExtension,omitempty"`
	DurationBeforeAutomaticDenial   *string          `json:"durationBeforeAutomaticDenial"`
	IsApproverJustificationRequired *bool            `json:"isApproverJustificationRequired"`
	IsEscalationEnabled             *bool            `json:"isEscalationEnabled"`
	DurationBeforeEscalation        *string          `json:"durationBeforeEscalation"`
	PrimaryApprovers                []subjectSetWire `json:"primaryApprovers"`
	FallbackPrimaryApprovers        []subjectSetWire `json:"fallbackPrimaryApprovers"`
	EscalationApprovers             []subjectSetWire `json:"escalationApprovers"`
	FallbackEscalationApprovers     []subjectSetWire `json:"fallbackEscalationApprovers"`
	ApproverInformationVisibility   *string          `json:"approverInformationVisibility"`
}

// subjectSetWire is any subjectSet subtype; on output only the subtype's own
// properties are written.
type subjectSetWire struct {
	ODataType               string  `json:"@odata.type"`
	UserID                  *string `json:"userId,omitempty"`
	GroupID                 *string `json:"groupId,omitempty"`
	ServicePrincipalID      *string `json:"servicePrincipalId,omitempty"`
	ConnectedOrganizationID *string `json:"connectedOrganizationId,omitempty"`
	ManagerLevel            *int    `json:"managerLevel,omitempty"`
	MembershipRule          *string `json:"membershipRule,omitempty"`
	Description             *string `json:"description,omitempty"`
}

// extensionIDRef names a dynamic approval stage's extension by id; on
// output the id alone is written, as v1.0 writes the navigation property.
type extensionIDRef struct {
	ODataType string  `json:"@odata.type,omitempty"`
	ID        *string `json:"id"`
}

type stageSettingWire struct {
	ODataType       string              `json:"@odata.type,omitempty"`
	ID              string              `json:"id,omitempty"`
	Stage           string              `json:"stage"`
	CustomExtension *customExtensionOut `json:"customExtension,omitempty"`
}

// stageSettingInput names the extension by id; a whole extension as $expand
// returns it is accepted and only its id is read.
type stageSettingInput struct {
	ODataType       string        `json:"@odata.type"`
	ID              *string       `json:"id"`
	Stage           *string       `json:"stage"`
	CustomExtension *extensionRef `json:"customExtension"`
}

type extensionRef struct {
	customExtensionInput
	ID *string `json:"id"`
}

type questionWire struct {
	ODataType                  string              `json:"@odata.type"`
	ID                         *string             `json:"id"`
	Sequence                   *int                `json:"sequence"`
	IsRequired                 *bool               `json:"isRequired"`
	IsAnswerEditable           *bool               `json:"isAnswerEditable"`
	Text                       *string             `json:"text"`
	Localizations              []localizedTextWire `json:"localizations"`
	IsSingleLineQuestion       *bool               `json:"isSingleLineQuestion,omitempty"`
	RegexPattern               *string             `json:"regexPattern,omitempty"`
	Choices                    *[]choiceWire       `json:"choices,omitempty"`
	IsMultipleSelectionAllowed *bool               `json:"isMultipleSelectionAllowed,omitempty"`
}

type localizedTextWire struct {
	LanguageCode string `json:"languageCode"`
	Text         string `json:"text"`
}

type choiceWire struct {
	ActualValue   string              `json:"actualValue"`
	Text          *string             `json:"text"`
	Localizations []localizedTextWire `json:"localizations"`
}

// policyInput is a v1.0 policy as a client sends it (POST and PUT).
type policyInput struct {
	ODataType                    string                `json:"@odata.type"`
	ID                           ignored               `json:"id"`
	DisplayName                  *string               `json:"displayName"`
	Description                  *string               `json:"description"`
	AllowedTargetScope           *string               `json:"allowedTargetScope"`
	SpecificAllowedTargets       []subjectSetWire      `json:"specificAllowedTargets"`
	Expiration                   *expirationWire       `json:"expiration"`
	RequestorSettings            *requestorWire        `json:"requestorSettings"`
	RequestApprovalSettings      *approvalSettingsWire `json:"requestApprovalSettings"`
	ReviewSettings               json.RawMessage       `json:"reviewSettings"`
	NotificationSettings         json.RawMessage       `json:"notificationSettings"`
	AutomaticRequestSettings     json.RawMessage       `json:"automaticRequestSettings"`
	AccessPackage                *packageRef           `json:"accessPackage"`
	Catalog                      ignored               `json:"catalog"`
	CustomExtensionStageSettings []stageSettingInput   `json:"customExtensionStageSettings"`
	Questions                    []questionWire        `json:"questions"`
	CreatedDateTime              ignored               `json:"createdDateTime"`
	ModifiedDateTime             ignored               `json:"modifiedDateTime"`
}

// packageRef names an access package; a whole package as $expand returns it is accepted.
type packageRef struct {
	accessPackageInput
	ID *string `json:"id"`
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// toDomain converts the input, checking enums, durations and subtypes with
// the property path in every message. Rules between fields are the domain's.
func (in policyInput) toDomain() (access.AssignmentPolicy, error) {
	var p access.AssignmentPolicy
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageAssignmentPolicy"); err != nil {
		return p, err
	}
	if !isNull(in.AutomaticRequestSettings) {
		return p, access.Invalidf("property 'automaticRequestSettings': automatic assignment policies are not supported yet; send a request-based policy")
	}
	for name, raw := range map[string]json.RawMessage{"reviewSettings": in.ReviewSettings, "notificationSettings": in.NotificationSettings} {
		if !isNull(raw) && bytes.TrimSpace(raw)[0] != '{' {
			return p, access.Invalidf("property '%s' must be an object", name)
		}
	}
	if !isNull(in.ReviewSettings) {
		p.ReviewSettings = in.ReviewSettings
	}
	if !isNull(in.NotificationSettings) {
		p.NotificationSettings = in.NotificationSettings
	}
	p.DisplayName, p.Description = str(in.DisplayName), str(in.Description)
	if in.AccessPackage != nil {
		p.AccessPackageID = str(in.AccessPackage.ID)
	}
	var err error
	if p.AllowedTargetScope, err = enum("allowedTargetScope", in.AllowedTargetScope, access.ParseAllowedTargetScope); err != nil {
		return p, err
	}
	if p.SpecificAllowedTargets, err = subjectSets("specificAllowedTargets", in.SpecificAllowedTargets); err != nil {
		return p, err
	}
	if e := in.Expiration; e != nil {
		if p.Expiration.Type, err = enum("expiration.type", e.Type, access.ParseExpirationType); err != nil {
			return p, err
		}
		if p.Expiration.EndDateTime, err = dateTime("expiration.endDateTime", e.EndDateTime); err != nil {
			return p, err
		}
		if p.Expiration.Duration, err = duration("expiration.duration", e.Duration); err != nil {
			return p, err
		}
	}
	if rs := in.RequestorSettings; rs != nil {
		p.RequestorSettings = access.RequestorSettings{
			EnableTargetsToSelfAddAccess:           boolean(rs.EnableTargetsToSelfAddAccess),
			EnableTargetsToSelfUpdateAccess:        boolean(rs.EnableTargetsToSelfUpdateAccess),
			EnableTargetsToSelfRemoveAccess:        boolean(rs.EnableTargetsToSelfRemoveAccess),
			AllowCustomAssignmentSchedule:          boolean(rs.AllowCustomAssignmentSchedule),
			EnableOnBehalfRequestorsToAddAccess:    boolean(rs.EnableOnBehalfRequestorsToAddAccess),
			EnableOnBehalfRequestorsToUpdateAccess: boolean(rs.EnableOnBehalfRequestorsToUpdateAccess),
			EnableOnBehalfRequestorsToRemoveAccess: boolean(rs.EnableOnBehalfRequestorsToRemoveAccess),
		}
		if p.RequestorSettings.OnBehalfRequestors, err = subjectSets("requestorSettings.onBehalfRequestors", rs.OnBehalfRequestors); err != nil {
			return p, err
		}
	}
	if as := in.RequestApprovalSettings; as != nil {
		p.RequestApprovalSettings = access.ApprovalSettings{
			IsApprovalRequiredForAdd:         boolean(as.IsApprovalRequiredForAdd),
			IsApprovalRequiredForUpdate:      boolean(as.IsApprovalRequiredForUpdate),
			IsRequestorJustificationRequired: boolean(as.IsRequestorJustificationRequired),
		}
		for i, st := range as.Stages {
			stage, err := st.toDomain(fmt.Sprintf("requestApprovalSettings.stages[%d]", i))
			if err != nil {
				return p, err
			}
			p.RequestApprovalSettings.Stages = append(p.RequestApprovalSettings.Stages, stage)
		}
	}
	for i, b := range in.CustomExtensionStageSettings {
		path := fmt.Sprintf("customExtensionStageSettings[%d]", i)
		stage, err := enum(path+".stage", b.Stage, access.ParseStage)
		if err != nil {
			return p, err
		}
		binding := access.ExtensionBinding{ID: str(b.ID), Stage: stage}
		if b.CustomExtension != nil {
			binding.CustomExtensionID = str(b.CustomExtension.ID)
		}
		p.ExtensionBindings = append(p.ExtensionBindings, binding)
	}
	for i, q := range in.Questions {
		question, err := q.toDomain(fmt.Sprintf("questions[%d]", i))
		if err != nil {
			return p, err
		}
		p.Questions = append(p.Questions, question)
	}
	return p, nil
}

func (st approvalStageWire) toDomain(path string) (access.ApprovalStage, error) {
	var out access.ApprovalStage
	var err error
	if st.ODataType != "" {
		switch t := typeName(st.ODataType); {
		case strings.EqualFold(t, "accessPackageApprovalStage"):
		case strings.EqualFold(t, access.DynamicApprovalStage):
			out.Type = access.DynamicApprovalStage
		default:
			return out, access.Invalidf("property '%s.@odata.type': %q is not supported; use accessPackageApprovalStage or %s",
				path, st.ODataType, access.DynamicApprovalStage)
		}
	}
	if x := st.CustomExtension; x != nil {
		if x.ODataType != "" {
			if _, ok := access.ParseExtensionType(typeName(x.ODataType)); !ok {
				return out, access.Invalidf("property '%s.customExtension.@odata.type': %q is not a custom extension type", path, x.ODataType)
			}
		}
		out.CustomExtensionID = str(x.ID)
	}
	if out.DurationBeforeAutomaticDenial, err = duration(path+".durationBeforeAutomaticDenial", st.DurationBeforeAutomaticDenial); err != nil {
		return out, err
	}
	if out.DurationBeforeEscalation, err = duration(path+".durationBeforeEscalation", st.DurationBeforeEscalation); err != nil {
		return out, err
	}
	out.IsApproverJustificationRequired = boolean(st.IsApproverJustificationRequired)
	out.IsEscalationEnabled = boolean(st.IsEscalationEnabled)
	if out.ApproverInformationVisibility, err = enum(path+".approverInformationVisibility", st.ApproverInformationVisibility, access.ParseApproverVisibility); err != nil {
		return out, err
	}
	lists := []struct {
		name string
		in   []subjectSetWire
		out  *[]access.SubjectSet
	}{
		{"primaryApprovers", st.PrimaryApprovers, &out.PrimaryApprovers},
		{"fallbackPrimaryApprovers", st.FallbackPrimaryApprovers, &out.FallbackPrimaryApprovers},
		{"escalationApprovers", st.EscalationApprovers, &out.EscalationApprovers},
		{"fallbackEscalationApprovers", st.FallbackEscalationApprovers, &out.FallbackEscalationApprovers},
	}
	for _, l := range lists {
		if *l.out, err = subjectSets(path+"."+l.name, l.in); err != nil {
			return out, err
		}
	}
	return out, nil
}

// subjectSets converts subject sets; @odata.type is required, and a property
// of another subtype is refused rather than dropped.
func subjectSets(path string, in []subjectSetWire) ([]access.SubjectSet, error) {
	var out []access.SubjectSet
	for i, w := range in {
		at := fmt.Sprintf("%s[%d]", path, i)
		if w.ODataType == "" {
			return nil, access.Invalidf("property '%s.@odata.type' is required, e.g. #microsoft.graph.singleUser", at)
		}
		t := typeName(w.ODataType)
		need, known := access.SubjectSetTypes[t]
		if !known {
			return nil, access.Invalidf("property '%s.@odata.type': %q is not a subject set accessd supports", at, w.ODataType)
		}
		sent := map[string]bool{"userId": w.UserID != nil, "groupId": w.GroupID != nil, "servicePrincipalId": w.ServicePrincipalID != nil,
			"connectedOrganizationId": w.ConnectedOrganizationID != nil, "membershipRule": w.MembershipRule != nil}
		for name, was := range sent {
			if was && name != need {
				return nil, access.Invalidf("property '%s.%s' is not a property of %s", at, name, t)
			}
		}
		isManager := t == "requestorManager" || t == "targetManager"
		if w.ManagerLevel != nil && !isManager {
			return nil, access.Invalidf("property '%s.managerLevel' is not a property of %s", at, t)
		}
		s := access.SubjectSet{Type: t, UserID: str(w.UserID), GroupID: str(w.GroupID), ServicePrincipalID: str(w.ServicePrincipalID),
			ConnectedOrganizationID: str(w.ConnectedOrganizationID), MembershipRule: str(w.MembershipRule), Description: str(w.Description)}
		if isManager {
			s.ManagerLevel = 1
			if w.ManagerLevel != nil {
				s.ManagerLevel = *w.ManagerLevel
			}
		}
		out = append(out, s)
	}
	return out, nil
}

func (q questionWire) toDomain(path string) (access.Question, error) {
	if q.ODataType == "" {
		return access.Question{}, access.Invalidf("property '%s.@odata.type' is required: #microsoft.graph.%s or #microsoft.graph.%s", path, access.TextInputQuestion, access.MultipleChoiceQuestion)
	}
	t := typeName(q.ODataType)
	if t != access.TextInputQuestion && t != access.MultipleChoiceQuestion {
		return access.Question{}, access.Invalidf("property '%s.@odata.type': %q is not a question type", path, q.ODataType)
	}
	out := access.Question{ID: str(q.ID), Type: t, Text: str(q.Text), IsRequired: boolean(q.IsRequired),
		IsAnswerEditable: boolean(q.IsAnswerEditable), Localizations: localizedIn(q.Localizations)}
	if q.Sequence != nil {
		out.Sequence = *q.Sequence
	}
	if t == access.TextInputQuestion {
		if q.Choices != nil || q.IsMultipleSelectionAllowed != nil {
			return out, access.Invalidf("property '%s': choices belong to %s", path, access.MultipleChoiceQuestion)
		}
		out.IsSingleLineQuestion, out.RegexPattern = boolean(q.IsSingleLineQuestion), str(q.RegexPattern)
		return out, nil
	}
	if q.IsSingleLineQuestion != nil || q.RegexPattern != nil {
		return out, access.Invalidf("property '%s': isSingleLineQuestion and regexPattern belong to %s", path, access.TextInputQuestion)
	}
	out.IsMultipleSelectionAllowed = boolean(q.IsMultipleSelectionAllowed)
	if q.Choices != nil {
		for _, c := range *q.Choices {
			out.Choices = append(out.Choices, access.AnswerChoice{ActualValue: c.ActualValue, Text: str(c.Text), Localizations: localizedIn(c.Localizations)})
		}
	}
	return out, nil
}

func localizedIn(in []localizedTextWire) []access.LocalizedText {
	var out []access.LocalizedText
	for _, l := range in {
		out = append(out, access.LocalizedText{LanguageCode: l.LanguageCode, Text: l.Text})
	}
	return out
}

func localizedOut(in []access.LocalizedText) []localizedTextWire {
	out := []localizedTextWire{}
	for _, l := range in {
		out = append(out, localizedTextWire{LanguageCode: l.LanguageCode, Text: l.Text})
	}
	return out
}

// policyToV1 writes a policy without navigation properties; the handler adds
// the ones $expand asks for.
func policyToV1(p access.AssignmentPolicy) policyV1 {
	out := policyV1{
		ID: p.ID, DisplayName: p.DisplayName, Description: optional(p.Description),
		AllowedTargetScope:     string(p.AllowedTargetScope),
		SpecificAllowedTargets: subjectSetsOut(p.SpecificAllowedTargets),
		Expiration:             expirationWire{Type: optional(string(p.Expiration.Type)), Duration: durationOut(p.Expiration.Duration)},
		RequestorSettings: requestorWire{
			EnableTargetsToSelfAddAccess:           &p.RequestorSettings.EnableTargetsToSelfAddAccess,
			EnableTargetsToSelfUpdateAccess:        &p.RequestorSettings.EnableTargetsToSelfUpdateAccess,
			EnableTargetsToSelfRemoveAccess:        &p.RequestorSettings.EnableTargetsToSelfRemoveAccess,
			AllowCustomAssignmentSchedule:          &p.RequestorSettings.AllowCustomAssignmentSchedule,
			EnableOnBehalfRequestorsToAddAccess:    &p.RequestorSettings.EnableOnBehalfRequestorsToAddAccess,
			EnableOnBehalfRequestorsToUpdateAccess: &p.RequestorSettings.EnableOnBehalfRequestorsToUpdateAccess,
			EnableOnBehalfRequestorsToRemoveAccess: &p.RequestorSettings.EnableOnBehalfRequestorsToRemoveAccess,
			OnBehalfRequestors:                     subjectSetsOut(p.RequestorSettings.OnBehalfRequestors),
		},
		RequestApprovalSettings: approvalSettingsWire{
			IsApprovalRequiredForAdd:         &p.RequestApprovalSettings.IsApprovalRequiredForAdd,
			IsApprovalRequiredForUpdate:      &p.RequestApprovalSettings.IsApprovalRequiredForUpdate,
			IsRequestorJustificationRequired: &p.RequestApprovalSettings.IsRequestorJustificationRequired,
			Stages:                           []approvalStageWire{},
		},
		ReviewSettings:       rawOrNull(p.ReviewSettings),
		NotificationSettings: rawOrNull(p.NotificationSettings),
		CreatedDateTime:      timeOut(p.CreatedDateTime), ModifiedDateTime: timeOut(p.ModifiedDateTime),
	}
	if p.Expiration.EndDateTime != nil {
		out.Expiration.EndDateTime = timeOut(*p.Expiration.EndDateTime)
	}
	for _, st := range p.RequestApprovalSettings.Stages {
		out.RequestApprovalSettings.Stages = append(out.RequestApprovalSettings.Stages, approvalStageToWire(st))
	}
	return out
}

// policyFields are what $filter and $orderby may name on policies, with
// the ids of the package and catalog through their navigation properties.
var policyFields = wireFields{noun: access.NounPolicies, paths: map[string]wireField{
	"id":                       {field: "ID"},
	"displayName":              {field: "DisplayName"},
	"description":              {field: "Description"},
	"allowedTargetScope":       {field: "AllowedTargetScope", member: memberOf(access.ParseAllowedTargetScope)},
	"createdDateTime":          {field: "CreatedDateTime"},
	"modifiedDateTime":         {field: "ModifiedDateTime"},
	"accessPackage/id":         {field: "AccessPackageID"},
	"catalog/id":               {field: "CatalogID"},
	"accessPackage/catalog/id": {field: "CatalogID"},
}}

func approvalStageToWire(st access.ApprovalStage) approvalStageWire {
	vis := string(st.ApproverInformationVisibility)
	out := approvalStageWire{
		DurationBeforeAutomaticDenial:   durationOut(st.DurationBeforeAutomaticDenial),
		IsApproverJustificationRequired: &st.IsApproverJustificationRequired,
		IsEscalationEnabled:             &st.IsEscalationEnabled,
		DurationBeforeEscalation:        durationOut(st.DurationBeforeEscalation),
		PrimaryApprovers:                subjectSetsOut(st.PrimaryApprovers),
		FallbackPrimaryApprovers:        subjectSetsOut(st.FallbackPrimaryApprovers),
		EscalationApprovers:             subjectSetsOut(st.EscalationApprovers),
		FallbackEscalationApprovers:     subjectSetsOut(st.FallbackEscalationApprovers),
		ApproverInformationVisibility:   &vis,
	}
	if st.Type == access.DynamicApprovalStage {
		out.ODataType = graphType(access.DynamicApprovalStage)
		out.CustomExtension = &extensionIDRef{ID: strPtr(st.CustomExtensionID)}
	}
	return out
}

func rawOrNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

func subjectSetsOut(in []access.SubjectSet) []subjectSetWire {
	out := []subjectSetWire{}
	for _, s := range in {
		w := subjectSetWire{ODataType: graphType(s.Type)}
		switch access.SubjectSetTypes[s.Type] {
		case "userId":
			w.UserID = strPtr(s.UserID)
		case "groupId":
			w.GroupID = strPtr(s.GroupID)
		case "servicePrincipalId":
			w.ServicePrincipalID = strPtr(s.ServicePrincipalID)
		case "connectedOrganizationId":
			w.ConnectedOrganizationID = strPtr(s.ConnectedOrganizationID)
		case "membershipRule":
			w.MembershipRule = strPtr(s.MembershipRule)
		}
		if s.ManagerLevel > 0 {
			level := s.ManagerLevel
			w.ManagerLevel = &level
		}
		if s.Description != "" || strings.HasPrefix(s.Type, "single") || s.Type == "groupMembers" {
			w.Description = optional(s.Description)
		}
		out = append(out, w)
	}
	return out
}

func questionsOut(in []access.Question) []questionWire {
	out := []questionWire{}
	for _, q := range in {
		q := q
		w := questionWire{ODataType: graphType(q.Type), ID: strPtr(q.ID), Sequence: &q.Sequence, IsRequired: &q.IsRequired,
			IsAnswerEditable: &q.IsAnswerEditable, Text: strPtr(q.Text), Localizations: localizedOut(q.Localizations)}
		if q.Type == access.TextInputQuestion {
			w.IsSingleLineQuestion, w.RegexPattern = &q.IsSingleLineQuestion, optional(q.RegexPattern)
		} else {
			choices := []choiceWire{}
			for _, c := range q.Choices {
				choices = append(choices, choiceWire{ActualValue: c.ActualValue, Text: optional(c.Text), Localizations: localizedOut(c.Localizations)})
			}
			w.Choices, w.IsMultipleSelectionAllowed = &choices, &q.IsMultipleSelectionAllowed
		}
		out = append(out, w)
	}
	return out
}
