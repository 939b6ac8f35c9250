package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/accessd/accessd/access"
)

// Wire shapes of access package assignment requests, assignments, their
// subjects and the request history, in v1.0 and beta. Navigation properties
// are `any` so that a handler can leave them out (nil), write the object, or
// write null when $expand names one that does not exist (jsonNull).

// jsonNull is an expanded navigation property with nothing behind it.
var jsonNull = json.RawMessage("null")

// ---- shared parts ----

// scheduleWire is entitlementManagementSchedule (beta requestSchedule, the
// same three properties). accessd supports no recurrence: it is always null.
type scheduleWire struct {
	StartDateTime *string         `json:"startDateTime"`
	Expiration    expirationWire  `json:"expiration"`
	Recurrence    json.RawMessage `json:"recurrence"`
}

func scheduleOut(s access.Schedule) scheduleWire {
	out := scheduleWire{Recurrence: jsonNull}
	if s.StartDateTime != nil {
		out.StartDateTime = timeOut(*s.StartDateTime)
	}
	typ := s.Expiration.Type
	if typ == "" {
		typ = access.ExpirationNotSpecified
	}
	out.Expiration = expirationWire{Type: strPtr(string(typ)), Duration: durationOut(s.Expiration.Duration)}
	if e := s.Expiration.EndDateTime; e != nil {
		out.Expiration.EndDateTime = timeOut(*e)
	}
	return out
}

// assignmentScheduleOut is an assignment's schedule: as scheduleOut, with
// endDateTime telling when access ends also for an afterDuration expiration,
// so a client need not add the duration itself.
func assignmentScheduleOut(a access.Assignment) scheduleWire {
	out := scheduleOut(a.Schedule)
	if out.Expiration.EndDateTime == nil {
		if end := a.End(); end != nil {
			out.Expiration.EndDateTime = timeOut(*end)
		}
	}
	return out
}

// answerOut is accessPackageAnswerString, the one concrete answer type.
type answerOut struct {
	ODataType        string  `json:"@odata.type"`
	Value            string  `json:"value"`
	DisplayValue     *string `json:"displayValue"`
	AnsweredQuestion any     `json:"answeredQuestion"`
}

// answeredQuestionV1 is the question an answer answers, as it was asked:
// its type and text, so that whoever reads the request reads the question,
// without a role that reads the policy. Requests stored before accessd kept
// the question name it by id only (text null).
type answeredQuestionV1 struct {
	ODataType string  `json:"@odata.type,omitempty"`
	ID        string  `json:"id"`
	Text      *string `json:"text"`
}

// answeredQuestionBeta is the same in beta, whose question text is an
// accessPackageLocalizedContent.
type answeredQuestionBeta struct {
	ODataType string          `json:"@odata.type,omitempty"`
	ID        string          `json:"id"`
	Text      *localizedQText `json:"text"`
}

type localizedQText struct {
	DefaultText    string `json:"defaultText"`
	LocalizedTexts []any  `json:"localizedTexts"`
}

func answersOut(in []access.Answer, beta bool) []answerOut {
	out := []answerOut{}
	for _, a := range in {
		typ := ""
		if a.QuestionType != "" {
			typ = graphType(a.QuestionType)
		}
		var q any = answeredQuestionV1{ODataType: typ, ID: a.QuestionID, Text: optional(a.QuestionText)}
		if beta {
			bq := answeredQuestionBeta{ODataType: typ, ID: a.QuestionID}
			if a.QuestionText != "" {
				bq.Text = &localizedQText{DefaultText: a.QuestionText, LocalizedTexts: []any{}}
			}
			q = bq
		}
		out = append(out, answerOut{ODataType: graphType("accessPackageAnswerString"), Value: a.Value,
			DisplayValue: optional(a.DisplayValue), AnsweredQuestion: q})
	}
	return out
}

// calloutInstanceOut is customExtensionCalloutInstance. Graph names the
// extension by id only; accessd adds its displayName as an annotation of
// customExtensionId, so that the requestor, who may not read the catalog's
// extensions, can tell what their request waits for. Clients that do not
// know the annotation ignore it, as OData asks.
type calloutInstanceOut struct {
	ID                    string  `json:"id"`
	CustomExtensionID     *string `json:"customExtensionId"`
	ExtensionName         *string `json:"customExtensionId@accessd.displayName,omitempty"`
	Detail                *string `json:"detail"`
	ExternalCorrelationID *string `json:"externalCorrelationId"`
	Status                *string `json:"status"`
}

// calloutsOut writes callout instances; the name of an instance recorded
// before accessd kept it comes from the request's policy snapshot, if any.
func calloutsOut(in []access.CalloutInstance, snap access.PolicySnapshot) []calloutInstanceOut {
	out := []calloutInstanceOut{}
	for _, c := range in {
		name := c.ExtensionName
		if name == "" {
			if b, ok := snap.BindingOf(c.Stage, c.CustomExtensionID); ok && b.ExtensionID == c.CustomExtensionID {
				name = b.ExtensionName
			}
		}
		out = append(out, calloutInstanceOut{ID: c.ID, CustomExtensionID: optional(c.CustomExtensionID), ExtensionName: optional(name),
			Detail: optional(c.Detail), ExternalCorrelationID: optional(c.ExternalCorrelationID), Status: optional(string(c.Status))})
	}
	return out
}

// ---- subjects ----

// subjectV1 is accessPackageSubject in v1.0. accessd keeps no subject objects
// of its own: a subject's id is its directory object id.
type subjectV1 struct {
	ID                           *string `json:"id"`
	ObjectID                     *string `json:"objectId"`
	DisplayName                  *string `json:"displayName"`
	PrincipalName                *string `json:"principalName"`
	Email                        *string `json:"email"`
	SubjectType                  string  `json:"subjectType"`
	SubjectLifecycle             string  `json:"subjectLifecycle"`
	OnPremisesSecurityIdentifier *string `json:"onPremisesSecurityIdentifier"`
}

func subjectToV1(s access.Subject) subjectV1 {
	kind := string(s.Kind)
	if kind == "" {
		kind = "notSpecified"
	}
	return subjectV1{ID: optional(s.ID), ObjectID: optional(s.ID), DisplayName: optional(s.DisplayName),
		PrincipalName: optional(s.PrincipalName), Email: optional(s.Email), SubjectType: kind, SubjectLifecycle: "notDefined"}
}

// subjectBeta is accessPackageSubject in beta: `type` instead of subjectType.
type subjectBeta struct {
	ID                           *string `json:"id"`
	ObjectID                     *string `json:"objectId"`
	DisplayName                  *string `json:"displayName"`
	PrincipalName                *string `json:"principalName"`
	Email                        *string `json:"email"`
	Type                         *string `json:"type"`
	AltSecID                     *string `json:"altSecId"`
	ConnectedOrganizationID      *string `json:"connectedOrganizationId"`
	CleanupScheduledDateTime     *string `json:"cleanupScheduledDateTime"`
	OnPremisesSecurityIdentifier *string `json:"onPremisesSecurityIdentifier"`
}

func subjectToBeta(s access.Subject) subjectBeta {
	return subjectBeta{ID: optional(s.ID), ObjectID: optional(s.ID), DisplayName: optional(s.DisplayName),
		PrincipalName: optional(s.PrincipalName), Email: optional(s.Email), Type: optional(pascal(string(s.Kind)))}
}

// ---- requests ----

// requestV1 is accessPackageAssignmentRequest in v1.0.
type requestV1 struct {
	ID                              string               `json:"id"`
	RequestType                     string               `json:"requestType"`
	State                           string               `json:"state"`
	Status                          string               `json:"status"`
	CreatedDateTime                 *string              `json:"createdDateTime"`
	CompletedDateTime               *string              `json:"completedDateTime"`
	Justification                   *string              `json:"justification"`
	Schedule                        scheduleWire         `json:"schedule"`
	Answers                         []answerOut          `json:"answers"`
	CustomExtensionCalloutInstances []calloutInstanceOut `json:"customExtensionCalloutInstances"`
	AccessPackage                   any                  `json:"accessPackage,omitempty"`
	Assignment                      any                  `json:"assignment,omitempty"`
	Requestor                       any                  `json:"requestor,omitempty"`
}

func requestToV1(r access.Request) requestV1 {
	out := requestV1{
		ID: r.ID, RequestType: string(r.Type), State: string(r.State), Status: r.Status,
		CreatedDateTime: timeOut(r.CreatedDateTime), Justification: optional(r.Justification),
		Schedule: scheduleOut(r.Schedule), Answers: answersOut(r.Answers, false), CustomExtensionCalloutInstances: calloutsOut(r.Callouts, r.Policy),
	}
	if r.CompletedDateTime != nil {
		out.CompletedDateTime = timeOut(*r.CompletedDateTime)
	}
	return out
}

// requestBeta is accessPackageAssignmentRequest in beta: PascalCase strings
// for type and state, completedDate, and accessPackageAssignment.
type requestBeta struct {
	ID                              string               `json:"id"`
	RequestType                     string               `json:"requestType"`
	RequestState                    string               `json:"requestState"`
	RequestStatus                   string               `json:"requestStatus"`
	CreatedDateTime                 *string              `json:"createdDateTime"`
	CompletedDate                   *string              `json:"completedDate"`
	ExpirationDateTime              *string              `json:"expirationDateTime"`
	IsValidationOnly                bool                 `json:"isValidationOnly"`
	Justification                   *string              `json:"justification"`
	Schedule                        scheduleWire         `json:"schedule"`
	Answers                         []answerOut          `json:"answers"`
	CustomExtensionCalloutInstances []calloutInstanceOut `json:"customExtensionCalloutInstances"`
	AccessPackage                   any                  `json:"accessPackage,omitempty"`
	AccessPackageAssignment         any                  `json:"accessPackageAssignment,omitempty"`
	Requestor                       any                  `json:"requestor,omitempty"`
}

func requestToBeta(r access.Request) requestBeta {
	out := requestBeta{
		ID: r.ID, RequestType: pascal(string(r.Type)), RequestState: pascal(string(r.State)), RequestStatus: r.Status,
		CreatedDateTime: timeOut(r.CreatedDateTime), Justification: optional(r.Justification),
		Schedule: scheduleOut(r.Schedule), Answers: answersOut(r.Answers, true), CustomExtensionCalloutInstances: calloutsOut(r.Callouts, r.Policy),
	}
	if r.CompletedDateTime != nil {
		out.CompletedDate = timeOut(*r.CompletedDateTime)
	}
	return out
}

// requestFieldsV1 are what $filter and $orderby may name on v1.0 requests:
// their properties, and the ids of what they name through navigation
// properties (accessPackage/id, assignment/target/objectId, …).
var requestFieldsV1 = wireFields{noun: access.NounRequests, paths: map[string]wireField{
	"id":                             {field: "ID"},
	"requestType":                    {field: "Type", member: memberOf(access.ParseRequestType)},
	"state":                          {field: "State", member: memberOf(access.ParseRequestState)},
	"status":                         {field: "Status"},
	"createdDateTime":                {field: "CreatedDateTime"},
	"completedDateTime":              {field: "CompletedDateTime"},
	"justification":                  {field: "Justification"},
	"accessPackage/id":               {field: "AccessPackageID"},
	"accessPackage/catalog/id":       {field: "CatalogID"},
	"assignmentPolicy/id":            {field: "PolicyID"},
	"assignment/id":                  {field: "AssignmentID"},
	"assignment/accessPackage/id":    {field: "AccessPackageID"},
	"assignment/assignmentPolicy/id": {field: "PolicyID"},
	"assignment/target/id":           {field: "Target.ID"},
	"assignment/target/objectId":     {field: "Target.ID"},
	"requestor/id":                   {field: "Requestor.ID"},
	"requestor/objectId":             {field: "Requestor.ID"},
	"requestor/displayName":          {field: "Requestor.DisplayName"},
	"target/id":                      {field: "Target.ID"},
	"target/objectId":                {field: "Target.ID"},
	"target/displayName":             {field: "Target.DisplayName"},
	"target/principalName":           {field: "Target.PrincipalName"},
	"target/email":                   {field: "Target.Email"},
}}

// requestFieldsBeta are what $filter and $orderby may name on beta
// requests: beta's names, and v1.0's.
var requestFieldsBeta = requestFieldsV1.with(map[string]wireField{
	"requestState":                                             {field: "State", member: memberOf(access.ParseRequestState)},
	"requestStatus":                                            {field: "Status"},
	"completedDate":                                            {field: "CompletedDateTime"},
	"accessPackage/accessPackageCatalog/id":                    {field: "CatalogID"},
	"accessPackageAssignment/id":                               {field: "AssignmentID"},
	"accessPackageAssignment/accessPackageId":                  {field: "AccessPackageID"},
	"accessPackageAssignment/accessPackage/id":                 {field: "AccessPackageID"},
	"accessPackageAssignment/assignmentPolicyId":               {field: "PolicyID"},
	"accessPackageAssignment/accessPackageAssignmentPolicy/id": {field: "PolicyID"},
	"accessPackageAssignment/catalogId":                        {field: "CatalogID"},
	"accessPackageAssignment/targetId":                         {field: "Target.ID"},
	"accessPackageAssignment/target/id":                        {field: "Target.ID"},
	"accessPackageAssignment/target/objectId":                  {field: "Target.ID"},
})

// ---- assignments ----

// assignmentV1 is accessPackageAssignment in v1.0.
type assignmentV1 struct {
	ID                              string               `json:"id"`
	State                           string               `json:"state"`
	Status                          string               `json:"status"`
	ExpiredDateTime                 *string              `json:"expiredDateTime"`
	Schedule                        scheduleWire         `json:"schedule"`
	CustomExtensionCalloutInstances []calloutInstanceOut `json:"customExtensionCalloutInstances"`
	Target                          any                  `json:"target,omitempty"`
	AccessPackage                   any                  `json:"accessPackage,omitempty"`
	AssignmentPolicy                any                  `json:"assignmentPolicy,omitempty"`
}

func assignmentToV1(a access.Assignment) assignmentV1 {
	out := assignmentV1{ID: a.ID, State: string(a.State), Status: a.Status, Schedule: assignmentScheduleOut(a),
		CustomExtensionCalloutInstances: calloutsOut(a.Callouts, access.PolicySnapshot{})}
	if a.ExpiredDateTime != nil {
		out.ExpiredDateTime = timeOut(*a.ExpiredDateTime)
	}
	return out
}

// assignmentBeta is accessPackageAssignment in beta: ids of its neighbours
// as properties, PascalCase state.
type assignmentBeta struct {
	ID                              string               `json:"id"`
	AccessPackageID                 string               `json:"accessPackageId"`
	AssignmentPolicyID              string               `json:"assignmentPolicyId"`
	CatalogID                       string               `json:"catalogId"`
	TargetID                        string               `json:"targetId"`
	AssignmentState                 string               `json:"assignmentState"`
	AssignmentStatus                string               `json:"assignmentStatus"`
	IsExtended                      bool                 `json:"isExtended"`
	ExpiredDateTime                 *string              `json:"expiredDateTime"`
	Schedule                        scheduleWire         `json:"schedule"`
	CustomExtensionCalloutInstances []calloutInstanceOut `json:"customExtensionCalloutInstances"`
	AccessPackage                   any                  `json:"accessPackage,omitempty"`
	AccessPackageAssignmentPolicy   any                  `json:"accessPackageAssignmentPolicy,omitempty"`
	Target                          any                  `json:"target,omitempty"`
}

func assignmentToBeta(a access.Assignment) assignmentBeta {
	out := assignmentBeta{ID: a.ID, AccessPackageID: a.AccessPackageID, AssignmentPolicyID: a.PolicyID, CatalogID: a.CatalogID,
		TargetID: a.Target.ID, AssignmentState: pascal(string(a.State)), AssignmentStatus: a.Status, Schedule: assignmentScheduleOut(a),
		CustomExtensionCalloutInstances: calloutsOut(a.Callouts, access.PolicySnapshot{})}
	if a.ExpiredDateTime != nil {
		out.ExpiredDateTime = timeOut(*a.ExpiredDateTime)
	}
	return out
}

// assignmentFieldsV1 are what $filter and $orderby may name on v1.0
// assignments: their properties, and the ids of what they name through
// navigation properties.
var assignmentFieldsV1 = wireFields{noun: access.NounAssignments, paths: map[string]wireField{
	"id":              {field: "ID"},
	"state":           {field: "State", member: memberOf(access.ParseAssignmentState)},
	"status":          {field: "Status"},
	"expiredDateTime": {field: "ExpiredDateTime"},
	// An assignment's schedule starts when it is made (deliver sets both
	// from one clock reading, and nothing moves either later), so the start
	// is asked of the creation time, which the store keeps in an indexed
	// column: ordering a package's assignments by it reads the index.
	"schedule/startDateTime":   {field: "CreatedDateTime"},
	"accessPackage/id":         {field: "AccessPackageID"},
	"accessPackage/catalog/id": {field: "CatalogID"},
	"assignmentPolicy/id":      {field: "PolicyID"},
	"target/id":                {field: "Target.ID"},
	"target/objectId":          {field: "Target.ID"},
	"target/displayName":       {field: "Target.DisplayName"},
	"target/principalName":     {field: "Target.PrincipalName"},
	"target/email":             {field: "Target.Email"},
}}

// assignmentFieldsBeta are what $filter and $orderby may name on beta
// assignments: beta's names, and v1.0's.
var assignmentFieldsBeta = assignmentFieldsV1.with(map[string]wireField{
	"accessPackageId":                       {field: "AccessPackageID"},
	"assignmentPolicyId":                    {field: "PolicyID"},
	"catalogId":                             {field: "CatalogID"},
	"targetId":                              {field: "Target.ID"},
	"assignmentState":                       {field: "State", member: memberOf(access.ParseAssignmentState)},
	"assignmentStatus":                      {field: "Status"},
	"accessPackageAssignmentPolicy/id":      {field: "PolicyID"},
	"accessPackage/accessPackageCatalog/id": {field: "CatalogID"},
})

// ---- history ----

// historyOut is one entry of a request's audit trail (accessd's own type).
// state follows the version: camelCase in v1.0, PascalCase in beta.
type historyOut struct {
	ID       string   `json:"id"`
	DateTime *string  `json:"dateTime"`
	Action   string   `json:"action"`
	Stage    *string  `json:"stage"`
	Actor    actorOut `json:"actor"`
	Source   *string  `json:"source"`
	Type     *string  `json:"type"`
	Detail   *string  `json:"detail"`
	Outcome  *string  `json:"outcome"`
	State    *string  `json:"state"`
	Status   *string  `json:"status"`
}

type actorOut struct {
	ID          *string `json:"id"`
	DisplayName *string `json:"displayName"`
}

func historyToWire(h access.HistoryEntry, beta bool) historyOut {
	state := string(h.State)
	if beta {
		state = pascal(state)
	}
	return historyOut{ID: h.ID, DateTime: timeOut(h.At), Action: h.Action, Stage: optional(string(h.Stage)),
		Actor:  actorOut{ID: optional(h.ActorID), DisplayName: optional(h.ActorName)},
		Source: optional(h.Source), Type: optional(h.Type), Detail: optional(h.Detail), Outcome: optional(h.Outcome),
		State: optional(state), Status: optional(h.Status)}
}

// ---- create bodies ----

// requestInputCommon holds what both versions' create bodies share.
// Read-only properties a client copies from a GET are accepted and ignored.
type requestInputCommon struct {
	ODataType       string         `json:"@odata.type"`
	RequestType     *string        `json:"requestType"`
	Justification   *string        `json:"justification"`
	Answers         []answerInput  `json:"answers"`
	Schedule        *scheduleInput `json:"schedule"`
	ID              ignored        `json:"id"`
	CreatedDateTime ignored        `json:"createdDateTime"`
	Callouts        ignored        `json:"customExtensionCalloutInstances"`
}

// requestInputV1 is a v1.0 create body.
type requestInputV1 struct {
	requestInputCommon
	Assignment        *assignmentInput `json:"assignment"`
	State             ignored          `json:"state"`
	Status            ignored          `json:"status"`
	CompletedDateTime ignored          `json:"completedDateTime"`
}

// requestInputBeta is a beta create body.
type requestInputBeta struct {
	requestInputCommon
	AccessPackageAssignment *assignmentInput `json:"accessPackageAssignment"`
	IsValidationOnly        *bool            `json:"isValidationOnly"`
	RequestState            ignored          `json:"requestState"`
	RequestStatus           ignored          `json:"requestStatus"`
	CompletedDate           ignored          `json:"completedDate"`
	ExpirationDateTime      ignored          `json:"expirationDateTime"`
	HandlerInstances        ignored          `json:"customExtensionHandlerInstances"`
}

// assignmentInput is the assignment a request asks for (add), or names by id
// (update, remove). Both versions use the same inner names.
type assignmentInput struct {
	ODataType          string         `json:"@odata.type"`
	ID                 *string        `json:"id"`
	TargetID           *string        `json:"targetId"`
	AssignmentPolicyID *string        `json:"assignmentPolicyId"`
	AccessPackageID    *string        `json:"accessPackageId"`
	Target             *targetInput   `json:"target"`
	Schedule           *scheduleInput `json:"schedule"`
	// The navigation forms of accessPackageId and assignmentPolicyId, which
	// the Graph SDKs' typed models send: {"accessPackage": {"id": …}}.
	AccessPackage                 *packageRef `json:"accessPackage"`
	AssignmentPolicy              *policyRef  `json:"assignmentPolicy"`              // v1.0
	AccessPackageAssignmentPolicy *policyRef  `json:"accessPackageAssignmentPolicy"` // beta
	State                         ignored     `json:"state"`
	Status                        ignored     `json:"status"`
	AssignmentState               ignored     `json:"assignmentState"`
	AssignmentStatus              ignored     `json:"assignmentStatus"`
	CatalogID                     ignored     `json:"catalogId"`
	IsExtended                    ignored     `json:"isExtended"`
	ExpiredDateTime               ignored     `json:"expiredDateTime"`
	Callouts                      ignored     `json:"customExtensionCalloutInstances"`
}

// targetInput is an accessPackageSubject named as a target: by objectId, or
// by email alone for someone outside the directory.
type targetInput struct {
	ODataType                    string  `json:"@odata.type"`
	ObjectID                     *string `json:"objectId"`
	Email                        *string `json:"email"`
	ConnectedOrganizationID      *string `json:"connectedOrganizationId"`
	ID                           ignored `json:"id"`
	DisplayName                  ignored `json:"displayName"`
	PrincipalName                ignored `json:"principalName"`
	SubjectType                  ignored `json:"subjectType"`
	Type                         ignored `json:"type"`
	SubjectLifecycle             ignored `json:"subjectLifecycle"`
	OnPremisesSecurityIdentifier ignored `json:"onPremisesSecurityIdentifier"`
	AltSecID                     ignored `json:"altSecId"`
	CleanupScheduledDateTime     ignored `json:"cleanupScheduledDateTime"`
}

type scheduleInput struct {
	ODataType     ignored          `json:"@odata.type"`
	StartDateTime *string          `json:"startDateTime"`
	Expiration    *expirationInput `json:"expiration"`
	Recurrence    json.RawMessage  `json:"recurrence"`
}

type expirationInput struct {
	ODataType   ignored `json:"@odata.type"`
	EndDateTime *string `json:"endDateTime"`
	Duration    *string `json:"duration"`
	Type        *string `json:"type"`
}

// answerInput is an accessPackageAnswer; only accessPackageAnswerString exists.
type answerInput struct {
	ODataType        *string                `json:"@odata.type"`
	Value            *string                `json:"value"`
	DisplayValue     *string                `json:"displayValue"`
	AnsweredQuestion *answeredQuestionInput `json:"answeredQuestion"`
}

// answeredQuestionInput names a question by id; a whole question as a GET of
// the policy returns it (either version) is accepted and only its id read.
type answeredQuestionInput struct {
	ODataType                  ignored `json:"@odata.type"`
	ID                         *string `json:"id"`
	Text                       ignored `json:"text"`
	Sequence                   ignored `json:"sequence"`
	IsRequired                 ignored `json:"isRequired"`
	IsAnswerEditable           ignored `json:"isAnswerEditable"`
	Localizations              ignored `json:"localizations"`
	IsSingleLineQuestion       ignored `json:"isSingleLineQuestion"`
	RegexPattern               ignored `json:"regexPattern"`
	Choices                    ignored `json:"choices"`
	IsMultipleSelectionAllowed ignored `json:"isMultipleSelectionAllowed"`
	AllowsMultipleSelection    ignored `json:"allowsMultipleSelection"`
}

func (in requestInputV1) toDomain() (access.RequestInput, error) {
	return in.requestInputCommon.toDomain("assignment", in.Assignment)
}

func (in requestInputBeta) toDomain() (access.RequestInput, error) {
	if in.IsValidationOnly != nil && *in.IsValidationOnly {
		return access.RequestInput{}, access.Invalidf("property 'isValidationOnly': validation-only requests are not supported yet; leave it out or send false")
	}
	return in.requestInputCommon.toDomain("accessPackageAssignment", in.AccessPackageAssignment)
}

// toDomain maps a create body onto access.RequestInput; name is what the
// version calls the assignment, for messages.
func (in requestInputCommon) toDomain(name string, a *assignmentInput) (access.RequestInput, error) {
	var out access.RequestInput
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageAssignmentRequest"); err != nil {
		return out, err
	}
	if in.RequestType == nil || strings.TrimSpace(*in.RequestType) == "" {
		return out, access.Invalidf("property 'requestType' is required: adminAdd, userAdd, adminUpdate, userUpdate, adminRemove or userRemove")
	}
	t, ok := parseRequestType(*in.RequestType)
	if !ok {
		return out, access.Invalidf("property 'requestType': %q is not a request type; use adminAdd, userAdd, adminUpdate, userUpdate, adminRemove or userRemove", *in.RequestType)
	}
	out.Type = t
	out.Justification = str(in.Justification)
	for i, an := range in.Answers {
		answer, err := an.toDomain(fmt.Sprintf("answers[%d]", i))
		if err != nil {
			return out, err
		}
		out.Answers = append(out.Answers, answer)
	}
	var err error
	if out.Schedule, err = in.Schedule.toDomain("schedule"); err != nil {
		return out, err
	}
	if a == nil {
		return out, nil // the service says what the request type lacks
	}
	if err := checkODataType(name+".@odata.type", nonEmpty(a.ODataType), "accessPackageAssignment"); err != nil {
		return out, err
	}
	out.AssignmentID, out.TargetID = str(a.ID), str(a.TargetID)
	out.PolicyID, out.AccessPackageID = str(a.AssignmentPolicyID), str(a.AccessPackageID)
	if a.AccessPackage != nil {
		if out.AccessPackageID, err = oneID(name+".accessPackageId", out.AccessPackageID, name+".accessPackage.id", str(a.AccessPackage.ID)); err != nil {
			return out, err
		}
	}
	for _, nav := range []struct {
		name string
		ref  *policyRef
	}{{"assignmentPolicy", a.AssignmentPolicy}, {"accessPackageAssignmentPolicy", a.AccessPackageAssignmentPolicy}} {
		if nav.ref == nil {
			continue
		}
		if out.PolicyID, err = oneID(name+".assignmentPolicyId", out.PolicyID, name+"."+nav.name+".id", str(nav.ref.ID)); err != nil {
			return out, err
		}
	}
	if tg := a.Target; tg != nil {
		if err := checkODataType(name+".target.@odata.type", nonEmpty(tg.ODataType), "accessPackageSubject"); err != nil {
			return out, err
		}
		if str(tg.ConnectedOrganizationID) != "" {
			return out, access.Invalidf("property '%s.target.connectedOrganizationId': connected organisations are not supported yet", name)
		}
		if id := str(tg.ObjectID); id != "" {
			if out.TargetID != "" && out.TargetID != id {
				return out, access.Invalidf("properties '%s.targetId' and '%s.target.objectId' name different targets; send one", name, name)
			}
			out.TargetID = id
		}
		out.TargetEmail = str(tg.Email)
	}
	if a.Schedule != nil {
		if in.Schedule != nil {
			return out, access.Invalidf("properties 'schedule' and '%s.schedule' both give a schedule; send one", name)
		}
		if out.Schedule, err = a.Schedule.toDomain(name + ".schedule"); err != nil {
			return out, err
		}
	}
	return out, nil
}

// policyRef names a policy by id; a whole policy as a GET returns it is
// accepted and only its id read.
type policyRef struct {
	policyInput
	ID *string `json:"id"`
}

// oneID merges an id given in two ways: either may be empty, but two that
// differ are refused rather than one of them dropped.
func oneID(name, id, otherName, other string) (string, error) {
	switch {
	case other == "":
		return id, nil
	case id == "" || id == other:
		return other, nil
	}
	return "", access.Invalidf("properties '%s' and '%s' name different objects; send one", name, otherName)
}

// parseRequestType reads a request type in any case; beta's UserExtend is userUpdate.
func parseRequestType(s string) (access.RequestType, bool) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "userExtend") {
		return access.RequestUserUpdate, true
	}
	return access.ParseRequestType(s)
}

func (in *scheduleInput) toDomain(path string) (*access.Schedule, error) {
	if in == nil {
		return nil, nil
	}
	if !isNull(in.Recurrence) {
		return nil, access.Invalidf("property '%s.recurrence': recurring schedules are not supported; leave it out or send null", path)
	}
	var s access.Schedule
	var err error
	if s.StartDateTime, err = dateTime(path+".startDateTime", in.StartDateTime); err != nil {
		return nil, err
	}
	if e := in.Expiration; e != nil {
		if s.Expiration.Type, err = enum(path+".expiration.type", e.Type, access.ParseExpirationType); err != nil {
			return nil, err
		}
		if s.Expiration.EndDateTime, err = dateTime(path+".expiration.endDateTime", e.EndDateTime); err != nil {
			return nil, err
		}
		if s.Expiration.Duration, err = duration(path+".expiration.duration", e.Duration); err != nil {
			return nil, err
		}
	}
	return &s, nil
}

func (in answerInput) toDomain(path string) (access.Answer, error) {
	if in.ODataType == nil {
		return access.Answer{}, access.Invalidf("property '%s.@odata.type' is required: #microsoft.graph.accessPackageAnswerString", path)
	}
	if !strings.EqualFold(typeName(*in.ODataType), "accessPackageAnswerString") {
		return access.Answer{}, access.Invalidf("property '%s.@odata.type': %q is not supported; answers are #microsoft.graph.accessPackageAnswerString", path, *in.ODataType)
	}
	if in.AnsweredQuestion == nil || str(in.AnsweredQuestion.ID) == "" {
		return access.Answer{}, access.Invalidf("property '%s.answeredQuestion.id' is required: it names the policy's question", path)
	}
	if in.Value == nil {
		return access.Answer{}, access.Invalidf("property '%s.value' is required", path)
	}
	return access.Answer{QuestionID: *in.AnsweredQuestion.ID, Value: *in.Value, DisplayValue: str(in.DisplayValue)}, nil
}

// v1AssignmentPath matches the v1.0 property paths the service names in its
// messages ("assignment.targetId"), so beta answers can name their own.
var v1AssignmentPath = regexp.MustCompile(`\bassignment\.`)

// inBetaNames rewrites an error about a v1.0 create body into beta's names.
func inBetaNames(err error) error {
	var e *access.Error
	if !errors.As(err, &e) || e.Kind != access.KindInvalid {
		return err
	}
	c := *e
	c.Message = v1AssignmentPath.ReplaceAllString(e.Message, "accessPackageAssignment.")
	return &c
}
