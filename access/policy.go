package access

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AssignmentPolicy says who may request an access package, who approves, how
// long access lasts and which extensions run at which stage. Requests copy
// what they need of it at submission, so editing a policy never changes
// requests in flight.
type AssignmentPolicy struct {
	ID                      string             `json:"ID"`
	AccessPackageID         string             `json:"AccessPackageID"`
	CatalogID               string             `json:"CatalogID"` // the package's catalog, kept for catalog-scoped checks
	DisplayName             string             `json:"DisplayName"`
	Description             string             `json:"Description"`
	AllowedTargetScope      AllowedTargetScope `json:"AllowedTargetScope"`
	SpecificAllowedTargets  []SubjectSet       `json:"SpecificAllowedTargets"`
	Expiration              Expiration         `json:"Expiration"`
	RequestorSettings       RequestorSettings  `json:"RequestorSettings"`
	RequestApprovalSettings ApprovalSettings   `json:"RequestApprovalSettings"`
	ReviewSettings          json.RawMessage    `json:"ReviewSettings"`       // stored and returned as given; accessd runs no reviews yet
	NotificationSettings    json.RawMessage    `json:"NotificationSettings"` // stored and returned as given; accessd sends no email
	ExtensionBindings       []ExtensionBinding `json:"ExtensionBindings"`
	Questions               []Question         `json:"Questions"`
	CreatedDateTime         time.Time          `json:"CreatedDateTime"`
	ModifiedDateTime        time.Time          `json:"ModifiedDateTime"`
}

// SubjectSet names a set of people: one user, a group's members, the
// requestor's manager and so on. Type is the Graph type name without its
// namespace prefix, e.g. "singleUser".
type SubjectSet struct {
	Type                    string `json:"Type"`
	UserID                  string `json:"UserID"`
	GroupID                 string `json:"GroupID"`
	ServicePrincipalID      string `json:"ServicePrincipalID"`
	ConnectedOrganizationID string `json:"ConnectedOrganizationID"`
	ManagerLevel            int    `json:"ManagerLevel"`
	Description             string `json:"Description"`
	MembershipRule          string `json:"MembershipRule"`
}

// SubjectSetTypes lists the subject sets accessd knows, with the one id field each needs.
var SubjectSetTypes = map[string]string{
	"singleUser":                          "userId",
	"groupMembers":                        "groupId",
	"singleServicePrincipal":              "servicePrincipalId",
	"connectedOrganizationMembers":        "connectedOrganizationId",
	"requestorManager":                    "",
	"targetManager":                       "",
	"internalSponsors":                    "",
	"externalSponsors":                    "",
	"targetUserSponsors":                  "",
	"targetApplicationOwners":             "",
	"targetAgentIdentitySponsorsOrOwners": "",
	"attributeRuleMembers":                "membershipRule",
}

// Validate checks one subject set; path names it in messages.
func (s SubjectSet) Validate(path string) error {
	need, known := SubjectSetTypes[s.Type]
	if !known {
		return Invalidf("%s: @odata.type %q is not a subject set accessd supports", path, s.Type)
	}
	have := map[string]string{"userId": s.UserID, "groupId": s.GroupID, "servicePrincipalId": s.ServicePrincipalID,
		"connectedOrganizationId": s.ConnectedOrganizationID, "membershipRule": s.MembershipRule}
	if need != "" && strings.TrimSpace(have[need]) == "" {
		return Invalidf("%s.%s is required for %s", path, need, s.Type)
	}
	if (s.Type == "requestorManager" || s.Type == "targetManager") && (s.ManagerLevel < 1 || s.ManagerLevel > 2) {
		return Invalidf("%s.managerLevel must be 1 or 2", path)
	}
	return nil
}

// Expiration is expirationPattern: when an assignment ends.
type Expiration struct {
	Type        ExpirationType `json:"Type"`
	EndDateTime *time.Time     `json:"EndDateTime"`
	Duration    Duration       `json:"Duration"`
}

func (e Expiration) validate(path string) error {
	switch e.Type {
	case ExpirationAfterDateTime:
		if e.EndDateTime == nil {
			return Invalidf("%s.endDateTime is required when type is afterDateTime", path)
		}
	case ExpirationAfterDuration:
		if e.Duration.Approx() <= 0 {
			return Invalidf("%s.duration is required when type is afterDuration", path)
		}
	}
	return nil
}

// checkEnd refuses an afterDuration that, counted from now, would end after
// the year 9999: no assignment may end on a date Graph cannot write.
func (e Expiration) checkEnd(path string, now time.Time) error {
	if e.Type != ExpirationAfterDuration {
		return nil
	}
	if _, ok := e.Duration.AddWithin(now); !ok {
		return Invalidf("%s.duration %s would end an assignment after the year 9999", path, e.Duration)
	}
	return nil
}

// RequestorSettings is accessPackageAssignmentRequestorSettings.
type RequestorSettings struct {
	EnableTargetsToSelfAddAccess           bool         `json:"EnableTargetsToSelfAddAccess"`
	EnableTargetsToSelfUpdateAccess        bool         `json:"EnableTargetsToSelfUpdateAccess"`
	EnableTargetsToSelfRemoveAccess        bool         `json:"EnableTargetsToSelfRemoveAccess"`
	AllowCustomAssignmentSchedule          bool         `json:"AllowCustomAssignmentSchedule"`
	EnableOnBehalfRequestorsToAddAccess    bool         `json:"EnableOnBehalfRequestorsToAddAccess"`
	EnableOnBehalfRequestorsToUpdateAccess bool         `json:"EnableOnBehalfRequestorsToUpdateAccess"`
	EnableOnBehalfRequestorsToRemoveAccess bool         `json:"EnableOnBehalfRequestorsToRemoveAccess"`
	OnBehalfRequestors                     []SubjectSet `json:"OnBehalfRequestors"`
}

// ApprovalSettings is accessPackageAssignmentApprovalSettings.
type ApprovalSettings struct {
	IsApprovalRequiredForAdd         bool            `json:"IsApprovalRequiredForAdd"`
	IsApprovalRequiredForUpdate      bool            `json:"IsApprovalRequiredForUpdate"`
	IsRequestorJustificationRequired bool            `json:"IsRequestorJustificationRequired"`
	Stages                           []ApprovalStage `json:"Stages"`
}

// MaxApprovalStages is the v1.0 limit.
const MaxApprovalStages = 3

// DefaultAutomaticDenial applies when a stage names no durationBeforeAutomaticDenial.
var DefaultAutomaticDenial = Duration{Days: 14}

// ApprovalStage is one stage of approval (accessPackageApprovalStage), or,
// with Type DynamicApprovalStage, a stage whose approvers and settings the
// custom extension CustomExtensionID determines when a request reaches it.
type ApprovalStage struct {
	Type                            string             `json:"Type"` // "" or DynamicApprovalStage
	CustomExtensionID               string             `json:"CustomExtensionID"`
	DurationBeforeAutomaticDenial   Duration           `json:"DurationBeforeAutomaticDenial"`
	IsApproverJustificationRequired bool               `json:"IsApproverJustificationRequired"`
	IsEscalationEnabled             bool               `json:"IsEscalationEnabled"`
	DurationBeforeEscalation        Duration           `json:"DurationBeforeEscalation"`
	PrimaryApprovers                []SubjectSet       `json:"PrimaryApprovers"`
	FallbackPrimaryApprovers        []SubjectSet       `json:"FallbackPrimaryApprovers"`
	EscalationApprovers             []SubjectSet       `json:"EscalationApprovers"`
	FallbackEscalationApprovers     []SubjectSet       `json:"FallbackEscalationApprovers"`
	ApproverInformationVisibility   ApproverVisibility `json:"ApproverInformationVisibility"`
}

// ExtensionBinding is a customExtensionStageSetting: which extension runs at which stage.
type ExtensionBinding struct {
	ID                string `json:"ID"`
	Stage             Stage  `json:"Stage"`
	CustomExtensionID string `json:"CustomExtensionID"`
}

// ExtensionReference is one place where a policy names a custom extension:
// a stage it is bound to, or an approval stage it determines.
type ExtensionReference struct {
	Place       string // a Stage, or "approvalStage<n>"
	ExtensionID string
}

// ExtensionReferences lists every place the policy names an extension, so
// that an extension still in use cannot be deleted.
func (p AssignmentPolicy) ExtensionReferences() []ExtensionReference {
	var refs []ExtensionReference
	for _, b := range p.ExtensionBindings {
		refs = append(refs, ExtensionReference{Place: string(b.Stage), ExtensionID: b.CustomExtensionID})
	}
	for i, st := range p.RequestApprovalSettings.Stages {
		if st.Type == DynamicApprovalStage {
			refs = append(refs, ExtensionReference{Place: "approvalStage" + strconv.Itoa(i+1), ExtensionID: st.CustomExtensionID})
		}
	}
	return refs
}

// MaxExtensionsPerPolicy is the documented service limit.
const MaxExtensionsPerPolicy = 5

// Question kinds by their Graph type names.
const (
	TextInputQuestion      = "accessPackageTextInputQuestion"
	MultipleChoiceQuestion = "accessPackageMultipleChoiceQuestion"
)

// Question is asked of requestors; answers travel on the request and in callouts.
type Question struct {
	ID                         string          `json:"ID"`
	Type                       string          `json:"Type"` // TextInputQuestion or MultipleChoiceQuestion
	Text                       string          `json:"Text"`
	Localizations              []LocalizedText `json:"Localizations"`
	Sequence                   int             `json:"Sequence"`
	IsRequired                 bool            `json:"IsRequired"`
	IsAnswerEditable           bool            `json:"IsAnswerEditable"`
	IsSingleLineQuestion       bool            `json:"IsSingleLineQuestion"`
	RegexPattern               string          `json:"RegexPattern"`
	Choices                    []AnswerChoice  `json:"Choices"`
	IsMultipleSelectionAllowed bool            `json:"IsMultipleSelectionAllowed"`
}

// LocalizedText is accessPackageLocalizedText.
type LocalizedText struct {
	LanguageCode string `json:"LanguageCode"`
	Text         string `json:"Text"`
}

// AnswerChoice is one choice of a multiple-choice question.
type AnswerChoice struct {
	ActualValue   string          `json:"ActualValue"`
	Text          string          `json:"Text"`
	Localizations []LocalizedText `json:"Localizations"`
}

// Normalize fills defaults that a client may leave out, so stored policies are explicit.
func (p *AssignmentPolicy) Normalize() {
	if p.AllowedTargetScope == "" {
		p.AllowedTargetScope = ScopeNotSpecified
	}
	if p.Expiration.Type == "" {
		p.Expiration.Type = ExpirationNotSpecified
	}
	for i := range p.RequestApprovalSettings.Stages {
		p.RequestApprovalSettings.Stages[i].Normalize()
	}
	for i := range p.Questions {
		if p.Questions[i].Type == "" {
			p.Questions[i].Type = TextInputQuestion
		}
	}
}

// ApprovalRequired reports whether any request type needs approval.
func (s ApprovalSettings) ApprovalRequired() bool {
	return s.IsApprovalRequiredForAdd || s.IsApprovalRequiredForUpdate
}

// Validate checks the policy on its own. Rules that need other objects (the
// extensions it binds, the users it names) are in ValidateBindings and the
// service.
func (p AssignmentPolicy) Validate() error {
	if strings.TrimSpace(p.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	if p.AccessPackageID == "" {
		return Invalidf("accessPackage is required: give accessPackage.id")
	}
	if p.AllowedTargetScope.IsSpecific() && len(p.SpecificAllowedTargets) == 0 {
		return Invalidf("specificAllowedTargets must name at least one subject set when allowedTargetScope is %s", p.AllowedTargetScope)
	}
	if err := validateSubjectSets("specificAllowedTargets", p.SpecificAllowedTargets); err != nil {
		return err
	}
	if err := p.Expiration.validate("expiration"); err != nil {
		return err
	}
	if err := validateSubjectSets("requestorSettings.onBehalfRequestors", p.RequestorSettings.OnBehalfRequestors); err != nil {
		return err
	}
	if err := p.RequestApprovalSettings.validate(); err != nil {
		return err
	}
	if err := validateBindingShape(p.ExtensionBindings); err != nil {
		return err
	}
	return validateQuestions(p.Questions)
}

func (s ApprovalSettings) validate() error {
	n := len(s.Stages)
	if !s.ApprovalRequired() && n > 0 {
		return Invalidf("requestApprovalSettings.stages must be empty when approval is not required")
	}
	if s.ApprovalRequired() && (n < 1 || n > MaxApprovalStages) {
		return Invalidf("requestApprovalSettings.stages must have 1 to %d stages when approval is required, not %d", MaxApprovalStages, n)
	}
	for i, st := range s.Stages {
		if err := st.Validate("requestApprovalSettings.stages[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	return nil
}

// Normalize fills the defaults a client may leave out.
func (st *ApprovalStage) Normalize() {
	if st.Type == "" && st.DurationBeforeAutomaticDenial.IsZero() {
		st.DurationBeforeAutomaticDenial = DefaultAutomaticDenial
	}
	if st.ApproverInformationVisibility == "" {
		st.ApproverInformationVisibility = "default"
	}
}

// Validate checks one stage; path names it in messages. A dynamic stage
// names only its extension: the extension sends the rest when a request
// reaches it.
func (st ApprovalStage) Validate(path string) error {
	switch st.Type {
	case "":
	case DynamicApprovalStage:
		if strings.TrimSpace(st.CustomExtensionID) == "" {
			return Invalidf("%s.customExtension.id is required for an %s", path, DynamicApprovalStage)
		}
		if len(st.PrimaryApprovers)+len(st.FallbackPrimaryApprovers)+len(st.EscalationApprovers)+len(st.FallbackEscalationApprovers) > 0 || st.IsEscalationEnabled {
			return Invalidf("%s: an %s takes its approvers from its custom extension; name none", path, DynamicApprovalStage)
		}
		return nil
	default:
		return Invalidf("%s.@odata.type %q is not an approval stage accessd supports", path, st.Type)
	}
	if st.CustomExtensionID != "" {
		return Invalidf("%s.customExtension belongs only to an %s", path, DynamicApprovalStage)
	}
	if len(st.PrimaryApprovers) == 0 {
		return Invalidf("%s.primaryApprovers must name at least one approver", path)
	}
	if d := st.DurationBeforeAutomaticDenial.Approx(); d < 24*time.Hour || d > 14*24*time.Hour {
		return Invalidf("%s.durationBeforeAutomaticDenial must be between P1D and P14D, not %s", path, st.DurationBeforeAutomaticDenial)
	}
	if st.IsEscalationEnabled {
		if len(st.EscalationApprovers) == 0 {
			return Invalidf("%s.escalationApprovers must name at least one approver when escalation is enabled", path)
		}
		if e := st.DurationBeforeEscalation.Approx(); e <= 0 || e >= st.DurationBeforeAutomaticDenial.Approx() {
			return Invalidf("%s.durationBeforeEscalation must be positive and shorter than durationBeforeAutomaticDenial", path)
		}
	}
	for _, l := range []struct {
		name string
		sets []SubjectSet
	}{{"primaryApprovers", st.PrimaryApprovers}, {"fallbackPrimaryApprovers", st.FallbackPrimaryApprovers},
		{"escalationApprovers", st.EscalationApprovers}, {"fallbackEscalationApprovers", st.FallbackEscalationApprovers}} {
		if err := validateSubjectSets(path+"."+l.name, l.sets); err != nil {
			return err
		}
	}
	return nil
}

func validateSubjectSets(path string, sets []SubjectSet) error {
	for i, s := range sets {
		if err := s.Validate(path + "[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	return nil
}

func validateBindingShape(bs []ExtensionBinding) error {
	if len(bs) > MaxExtensionsPerPolicy {
		return Invalidf("customExtensionStageSettings: a policy binds at most %d extensions, not %d", MaxExtensionsPerPolicy, len(bs))
	}
	seen := map[Stage]bool{}
	for i, b := range bs {
		path := "customExtensionStageSettings[" + strconv.Itoa(i) + "]"
		if b.Stage == "" {
			return Invalidf("%s.stage is required", path)
		}
		if b.CustomExtensionID == "" {
			return Invalidf("%s.customExtension.id is required", path)
		}
		if b.Stage == StageDeterminingApproval {
			return Invalidf("%s.stage: %s is not bound here; name the extension on an %s in requestApprovalSettings.stages", path, b.Stage, DynamicApprovalStage)
		}
		if seen[b.Stage] {
			return Invalidf("%s: stage %s is bound twice; a policy binds one extension per stage", path, b.Stage)
		}
		seen[b.Stage] = true
	}
	return nil
}

// ValidateBindings checks the extensions a policy binds against the extensions
// themselves: they exist in the package's catalog and their type fits the stage.
// extensions holds every extension the bindings name that exists.
func (p AssignmentPolicy) ValidateBindings(extensions map[string]CustomExtension) error {
	for i, b := range p.ExtensionBindings {
		path := "customExtensionStageSettings[" + strconv.Itoa(i) + "]"
		x, ok := extensions[b.CustomExtensionID]
		if !ok {
			return Invalidf("%s.customExtension: no custom extension with id %q", path, b.CustomExtensionID)
		}
		if x.CatalogID != p.CatalogID {
			return Invalidf("%s.customExtension: extension %q belongs to another catalog than the access package", path, x.ID)
		}
		if !x.Serves(b.Stage) {
			if x.Type == AssignmentWorkflowExtension {
				return Invalidf("%s: %s serves only the pre-expiration stages, not %s", path, x.Type, b.Stage)
			}
			return Invalidf("%s: %s serves only the request stages, not %s", path, x.Type, b.Stage)
		}
	}
	for i, st := range p.RequestApprovalSettings.Stages {
		if st.Type != DynamicApprovalStage {
			continue
		}
		path := "requestApprovalSettings.stages[" + strconv.Itoa(i) + "].customExtension"
		x, ok := extensions[st.CustomExtensionID]
		switch {
		case !ok:
			return Invalidf("%s: no custom extension with id %q", path, st.CustomExtensionID)
		case x.CatalogID != p.CatalogID:
			return Invalidf("%s: extension %q belongs to another catalog than the access package", path, x.ID)
		case x.Type != RequestWorkflowExtension || x.Callback == nil:
			return Invalidf("%s: extension %q must be an %s with a callbackConfiguration: the request waits for the approvers it determines", path, x.ID, RequestWorkflowExtension)
		}
	}
	return nil
}

func validateQuestions(qs []Question) error {
	ids := map[string]bool{}
	for i, q := range qs {
		path := "questions[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(q.Text) == "" {
			return Invalidf("%s.text is required", path)
		}
		if q.ID != "" {
			if ids[q.ID] {
				return Invalidf("%s.id %q appears twice", path, q.ID)
			}
			ids[q.ID] = true
		}
		switch q.Type {
		case TextInputQuestion:
			if q.RegexPattern != "" {
				if _, err := regexp.Compile(q.RegexPattern); err != nil {
					return Invalidf("%s.regexPattern is not a valid regular expression: %v", path, err)
				}
			}
		case MultipleChoiceQuestion:
			if len(q.Choices) == 0 {
				return Invalidf("%s.choices must offer at least one choice", path)
			}
			values := map[string]bool{}
			for j, c := range q.Choices {
				if c.ActualValue == "" {
					return Invalidf("%s.choices[%d].actualValue is required", path, j)
				}
				if values[c.ActualValue] {
					return Invalidf("%s.choices[%d].actualValue %q appears twice", path, j, c.ActualValue)
				}
				values[c.ActualValue] = true
			}
		default:
			return Invalidf("%s: @odata.type %q is not a question type", path, q.Type)
		}
	}
	return nil
}
