package client

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/accessd/accessd/access"
)

// Assignment requests, their history, assignments, and the actions on a
// request: resume, reprocess and cancel. A v1.0 request names its package,
// its assignment and its requestor only through $expand; see GetRequest.

// requestExpand is what GetRequest and ListRequests ask accessd to name.
const requestExpand = "accessPackage($expand=catalog),requestor,assignment($expand=target,assignmentPolicy)"

// requestBody is a v1.0 create body.
type requestBody struct {
	RequestType   string          `json:"requestType"`
	Justification string          `json:"justification,omitempty"`
	Answers       []answerWire    `json:"answers,omitempty"`
	Schedule      *scheduleWire   `json:"schedule,omitempty"`
	Assignment    *assignmentBody `json:"assignment,omitempty"`
}

type assignmentBody struct {
	ID                 string      `json:"id,omitempty"`
	TargetID           string      `json:"targetId,omitempty"`
	AssignmentPolicyID string      `json:"assignmentPolicyId,omitempty"`
	AccessPackageID    string      `json:"accessPackageId,omitempty"`
	Target             *targetBody `json:"target,omitempty"`
}

// targetBody names a target known only by email.
type targetBody struct {
	Email string `json:"email"`
}

type answerWire struct {
	ODataType        string  `json:"@odata.type"`
	Value            string  `json:"value"`
	DisplayValue     *string `json:"displayValue,omitempty"`
	AnsweredQuestion idWire  `json:"answeredQuestion"`
}

func requestOut(in access.RequestInput) requestBody {
	b := requestBody{RequestType: string(in.Type), Justification: in.Justification}
	for _, a := range in.Answers {
		w := answerWire{ODataType: graphType("accessPackageAnswerString"), Value: a.Value, AnsweredQuestion: idWire{ID: a.QuestionID}}
		if a.DisplayValue != "" {
			w.DisplayValue = &a.DisplayValue
		}
		b.Answers = append(b.Answers, w)
	}
	if in.Schedule != nil {
		s := scheduleOut(*in.Schedule)
		b.Schedule = &s
	}
	a := assignmentBody{ID: in.AssignmentID, TargetID: in.TargetID, AssignmentPolicyID: in.PolicyID, AccessPackageID: in.AccessPackageID}
	if in.TargetEmail != "" {
		a.Target = &targetBody{Email: in.TargetEmail}
	}
	if a != (assignmentBody{}) {
		b.Assignment = &a
	}
	return b
}

// requestWire is accessPackageAssignmentRequest in v1.0 with what
// requestExpand names.
type requestWire struct {
	ID                              string                `json:"id"`
	RequestType                     string                `json:"requestType"`
	State                           string                `json:"state"`
	Status                          string                `json:"status"`
	CreatedDateTime                 *string               `json:"createdDateTime"`
	CompletedDateTime               *string               `json:"completedDateTime"`
	Justification                   *string               `json:"justification"`
	Schedule                        scheduleWire          `json:"schedule"`
	Answers                         []answerWire          `json:"answers"`
	CustomExtensionCalloutInstances []calloutInstanceWire `json:"customExtensionCalloutInstances"`
	AccessPackage                   *accessPackageWire    `json:"accessPackage"`
	Assignment                      *assignmentWire       `json:"assignment"`
	Requestor                       *subjectWire          `json:"requestor"`
}

// calloutInstanceWire is customExtensionCalloutInstance. v1.0 does not
// write the stage, so CalloutInstance.Stage stays empty.
type calloutInstanceWire struct {
	ID                    string  `json:"id"`
	CustomExtensionID     *string `json:"customExtensionId"`
	Detail                *string `json:"detail"`
	ExternalCorrelationID *string `json:"externalCorrelationId"`
	Status                *string `json:"status"`
}

func calloutsOf(in []calloutInstanceWire) []access.CalloutInstance {
	var out []access.CalloutInstance
	for _, c := range in {
		out = append(out, access.CalloutInstance{ID: c.ID, CustomExtensionID: str(c.CustomExtensionID), Detail: str(c.Detail),
			ExternalCorrelationID: str(c.ExternalCorrelationID), Status: access.CalloutStatus(str(c.Status))})
	}
	return out
}

// subjectWire is accessPackageSubject in v1.0.
type subjectWire struct {
	ObjectID      *string `json:"objectId"`
	DisplayName   *string `json:"displayName"`
	PrincipalName *string `json:"principalName"`
	Email         *string `json:"email"`
	SubjectType   string  `json:"subjectType"`
}

func (w *subjectWire) toDomain() access.Subject {
	if w == nil {
		return access.Subject{}
	}
	s := access.Subject{ID: str(w.ObjectID), DisplayName: str(w.DisplayName), PrincipalName: str(w.PrincipalName), Email: str(w.Email)}
	if w.SubjectType != "notSpecified" {
		s.Kind = access.SubjectKind(w.SubjectType)
	}
	return s
}

func (w requestWire) toDomain() (access.Request, error) {
	var r reader
	req := access.Request{ID: w.ID, Type: access.RequestType(w.RequestType), State: access.RequestState(w.State), Status: w.Status,
		CreatedDateTime:   r.time("createdDateTime", w.CreatedDateTime),
		CompletedDateTime: r.timePtr("completedDateTime", w.CompletedDateTime),
		Justification:     str(w.Justification), Schedule: w.Schedule.toDomain(&r, "schedule"),
		Requestor: w.Requestor.toDomain(), Callouts: calloutsOf(w.CustomExtensionCalloutInstances)}
	for _, a := range w.Answers {
		req.Answers = append(req.Answers, access.Answer{QuestionID: a.AnsweredQuestion.ID, Value: a.Value, DisplayValue: str(a.DisplayValue)})
	}
	if p := w.AccessPackage; p != nil {
		req.AccessPackageID = p.ID
		if p.Catalog != nil {
			req.CatalogID = p.Catalog.ID
		}
	}
	if a := w.Assignment; a != nil {
		req.AssignmentID, req.Target = a.ID, a.Target.toDomain()
		if a.AssignmentPolicy != nil {
			req.PolicyID = a.AssignmentPolicy.ID
		}
	}
	return req, r.err
}

// SubmitRequest posts a request. accessd answers, as Graph does, with the
// request as accepted (submitted, Accepted), naming no ids but its own, so
// AccessPackageID, PolicyID, Target.ID and AssignmentID of the result are
// the ones sent (accessd refuses ids that do not exist). Processing has
// already begun when the answer comes: read it again with GetRequest for
// where it stands, and for its assignment once delivered.
func (c *Client) SubmitRequest(ctx context.Context, in access.RequestInput) (access.Request, error) {
	var w requestWire
	if err := c.Do(ctx, http.MethodPost, emPath+"/assignmentRequests", requestOut(in), &w); err != nil {
		return access.Request{}, err
	}
	req, err := w.toDomain()
	req.AccessPackageID, req.PolicyID, req.Target.ID, req.AssignmentID = in.AccessPackageID, in.PolicyID, in.TargetID, in.AssignmentID
	if req.Target.ID == "" {
		req.Target.Email = in.TargetEmail
	}
	return req, err
}

// GetRequest reads a request with its package, catalog and requestor and,
// once delivery has made one, its assignment. v1.0 names a request's target
// and policy only through the assignment, so before delivery, and for a
// request denied or canceled before it, Target and PolicyID are empty.
// Nor does v1.0 write a callout instance's stage: Callouts[i].Stage is empty.
func (c *Client) GetRequest(ctx context.Context, id string) (access.Request, error) {
	path, err := route(emPath+"/assignmentRequests/%s", id)
	if err != nil {
		return access.Request{}, err
	}
	var w requestWire
	query := url.Values{"$expand": {requestExpand}}
	if err := c.Do(ctx, http.MethodGet, path+"?"+query.Encode(), nil, &w); err != nil {
		return access.Request{}, err
	}
	return w.toDomain()
}

// ListRequests lists requests as GetRequest reads them. filter is an OData
// $filter such as "state eq 'delivered'" (accessd reads state,
// accessPackage/id, target/objectId and assignment/id); "" lists all.
func (c *Client) ListRequests(ctx context.Context, filter string) ([]access.Request, error) {
	query := url.Values{"$expand": {requestExpand}}
	if filter != "" {
		query.Set("$filter", filter)
	}
	return list(ctx, c, emPath+"/assignmentRequests", query, requestWire.toDomain)
}

// historyWire is one entry of a request's history.
type historyWire struct {
	ID       string  `json:"id"`
	DateTime *string `json:"dateTime"`
	Action   string  `json:"action"`
	Stage    *string `json:"stage"`
	Actor    struct {
		ID          *string `json:"id"`
		DisplayName *string `json:"displayName"`
	} `json:"actor"`
	Source  *string `json:"source"`
	Type    *string `json:"type"`
	Detail  *string `json:"detail"`
	Outcome *string `json:"outcome"`
	State   *string `json:"state"`
	Status  *string `json:"status"`
}

func (w historyWire) toDomain(requestID string) (access.HistoryEntry, error) {
	var r reader
	h := access.HistoryEntry{ID: w.ID, RequestID: requestID, At: r.time("dateTime", w.DateTime),
		ActorID: str(w.Actor.ID), ActorName: str(w.Actor.DisplayName), Action: w.Action, Stage: access.Stage(str(w.Stage)),
		Source: str(w.Source), Type: str(w.Type), Detail: str(w.Detail), Outcome: str(w.Outcome),
		State: access.RequestState(str(w.State)), Status: str(w.Status)}
	return h, r.err
}

// RequestHistory lists a request's audit trail, oldest first: every
// transition, callout and callback.
func (c *Client) RequestHistory(ctx context.Context, requestID string) ([]access.HistoryEntry, error) {
	path, err := route(emPath+"/assignmentRequests/%s/history", requestID)
	if err != nil {
		return nil, err
	}
	return list(ctx, c, path, nil, func(w historyWire) (access.HistoryEntry, error) { return w.toDomain(requestID) })
}

// assignmentExpand is what GetAssignment and ListAssignments ask accessd
// to name: v1.0 writes an assignment's neighbours only through $expand.
const assignmentExpand = "target,accessPackage($expand=catalog),assignmentPolicy"

// assignmentWire is accessPackageAssignment in v1.0 with what
// assignmentExpand names.
type assignmentWire struct {
	ID                              string                `json:"id"`
	State                           string                `json:"state"`
	Status                          string                `json:"status"`
	ExpiredDateTime                 *string               `json:"expiredDateTime"`
	Schedule                        scheduleWire          `json:"schedule"`
	CustomExtensionCalloutInstances []calloutInstanceWire `json:"customExtensionCalloutInstances"`
	Target                          *subjectWire          `json:"target"`
	AccessPackage                   *accessPackageWire    `json:"accessPackage"`
	AssignmentPolicy                *idWire               `json:"assignmentPolicy"`
}

// toDomain reads an assignment. accessd writes endDateTime into the
// schedule's expiration also for an afterDuration one, so Schedule carries
// both the duration and the end it leads to. v1.0 does not write when the
// assignment was created: CreatedDateTime stays zero.
func (w assignmentWire) toDomain() (access.Assignment, error) {
	var r reader
	a := access.Assignment{ID: w.ID, State: access.AssignmentState(w.State), Status: w.Status, Target: w.Target.toDomain(),
		Schedule: w.Schedule.toDomain(&r, "schedule"), ExpiredDateTime: r.timePtr("expiredDateTime", w.ExpiredDateTime),
		Callouts: calloutsOf(w.CustomExtensionCalloutInstances)}
	if p := w.AccessPackage; p != nil {
		a.AccessPackageID = p.ID
		if p.Catalog != nil {
			a.CatalogID = p.Catalog.ID
		}
	}
	if w.AssignmentPolicy != nil {
		a.PolicyID = w.AssignmentPolicy.ID
	}
	return a, r.err
}

func (c *Client) GetAssignment(ctx context.Context, id string) (access.Assignment, error) {
	path, err := route(emPath+"/assignments/%s", id)
	if err != nil {
		return access.Assignment{}, err
	}
	var w assignmentWire
	query := url.Values{"$expand": {assignmentExpand}}
	if err := c.Do(ctx, http.MethodGet, path+"?"+query.Encode(), nil, &w); err != nil {
		return access.Assignment{}, err
	}
	return w.toDomain()
}

// ListAssignments lists assignments; filter is an OData $filter such as
// "state eq 'delivered'" (accessd reads state, accessPackage/id,
// target/objectId and assignmentPolicy/id); "" lists all.
func (c *Client) ListAssignments(ctx context.Context, filter string) ([]access.Assignment, error) {
	query := url.Values{"$expand": {assignmentExpand}}
	if filter != "" {
		query.Set("$filter", filter)
	}
	return list(ctx, c, emPath+"/assignments", query, assignmentWire.toDomain)
}

// resumeBody is the resume action's body; data is present only when the
// callback has data, even when all of data's properties are empty.
type resumeBody struct {
	Source string        `json:"source,omitempty"`
	Type   string        `json:"type,omitempty"`
	Data   *callbackData `json:"data,omitempty"`
}

type callbackData struct {
	ODataType       string             `json:"@odata.type,omitempty"`
	Stage           string             `json:"stage,omitempty"`
	InstanceID      string             `json:"customExtensionStageInstanceId,omitempty"`
	Detail          string             `json:"customExtensionStageInstanceDetail,omitempty"`
	State           string             `json:"state,omitempty"`
	OperationStatus string             `json:"operationStatus,omitempty"`
	ApprovalStage   *approvalStageBody `json:"approvalStage,omitempty"`
}

// approvalStageBody is an accessPackageApprovalStage as the extension of a
// dynamic approval stage sends it: only what is set is written.
type approvalStageBody struct {
	DurationBeforeAutomaticDenial   string           `json:"durationBeforeAutomaticDenial,omitempty"`
	IsApproverJustificationRequired bool             `json:"isApproverJustificationRequired"`
	IsEscalationEnabled             bool             `json:"isEscalationEnabled"`
	DurationBeforeEscalation        string           `json:"durationBeforeEscalation,omitempty"`
	PrimaryApprovers                []subjectSetBody `json:"primaryApprovers,omitempty"`
	FallbackPrimaryApprovers        []subjectSetBody `json:"fallbackPrimaryApprovers,omitempty"`
	EscalationApprovers             []subjectSetBody `json:"escalationApprovers,omitempty"`
	FallbackEscalationApprovers     []subjectSetBody `json:"fallbackEscalationApprovers,omitempty"`
	ApproverInformationVisibility   string           `json:"approverInformationVisibility,omitempty"`
}

// subjectSetBody is a subjectSet subtype with its own properties only, as
// accessd refuses a property of another subtype.
type subjectSetBody struct {
	ODataType               string `json:"@odata.type"`
	UserID                  string `json:"userId,omitempty"`
	GroupID                 string `json:"groupId,omitempty"`
	ServicePrincipalID      string `json:"servicePrincipalId,omitempty"`
	ConnectedOrganizationID string `json:"connectedOrganizationId,omitempty"`
	ManagerLevel            int    `json:"managerLevel,omitempty"`
	MembershipRule          string `json:"membershipRule,omitempty"`
	Description             string `json:"description,omitempty"`
}

func subjectSetsOut(in []access.SubjectSet) []subjectSetBody {
	var out []subjectSetBody
	for _, s := range in {
		out = append(out, subjectSetBody{ODataType: graphType(s.Type), UserID: s.UserID, GroupID: s.GroupID,
			ServicePrincipalID: s.ServicePrincipalID, ConnectedOrganizationID: s.ConnectedOrganizationID,
			ManagerLevel: s.ManagerLevel, MembershipRule: s.MembershipRule, Description: s.Description})
	}
	return out
}

func approvalStageOut(st access.ApprovalStage) *approvalStageBody {
	b := &approvalStageBody{IsApproverJustificationRequired: st.IsApproverJustificationRequired, IsEscalationEnabled: st.IsEscalationEnabled,
		PrimaryApprovers: subjectSetsOut(st.PrimaryApprovers), FallbackPrimaryApprovers: subjectSetsOut(st.FallbackPrimaryApprovers),
		EscalationApprovers: subjectSetsOut(st.EscalationApprovers), FallbackEscalationApprovers: subjectSetsOut(st.FallbackEscalationApprovers),
		ApproverInformationVisibility: string(st.ApproverInformationVisibility)}
	if !st.DurationBeforeAutomaticDenial.IsZero() {
		b.DurationBeforeAutomaticDenial = st.DurationBeforeAutomaticDenial.String()
	}
	if !st.DurationBeforeEscalation.IsZero() {
		b.DurationBeforeEscalation = st.DurationBeforeEscalation.String()
	}
	return b
}

func resumeOut(cb access.Callback) resumeBody {
	b := resumeBody{Source: cb.Source, Type: cb.Type}
	if cb.HasData {
		b.Data = &callbackData{Stage: cb.Stage, InstanceID: cb.InstanceID, Detail: cb.Detail, State: cb.State, OperationStatus: cb.OperationStatus}
		if cb.DataType != "" {
			b.Data.ODataType = graphType(cb.DataType)
		}
		if cb.ApprovalStage != nil {
			b.Data.ApprovalStage = approvalStageOut(*cb.ApprovalStage)
		}
	}
	return b
}

// Resume answers a launch-and-wait callout of a request, as an extension
// does: cb.DataType is a type name without "#microsoft.graph." (such as
// access.CallbackDataRequest), and only the fields that are set are sent.
// At a dynamic approval stage, cb.ApprovalStage is the stage the extension
// determined (sent as data.approvalStage, with DataType
// access.CallbackDataApprovalStage).
func (c *Client) Resume(ctx context.Context, requestID string, cb access.Callback) error {
	path, err := route("/identityGovernance/entitlementManagement/assignmentRequests/%s/resume", requestID)
	if err != nil {
		return err
	}
	return c.ResumeAt(ctx, path, cb)
}

// ResumeAt is Resume on the CallbackUriPath a callout names, which is how
// Logic Apps and other extensions find the route: it posts to
// /v1.0{callbackURIPath}.
func (c *Client) ResumeAt(ctx context.Context, callbackURIPath string, cb access.Callback) error {
	if !strings.HasPrefix(callbackURIPath, "/") {
		return errors.New("client: a CallbackUriPath starts with /, such as /identityGovernance/entitlementManagement/assignmentRequests/{id}/resume")
	}
	return c.Do(ctx, http.MethodPost, "/v1.0"+callbackURIPath, resumeOut(cb), nil)
}

// Reprocess runs the failed step of a deliveryFailed or partiallyDelivered
// request again. accessd answers at once (202) and works in the background:
// a failed callout goes out again as a new instance.
func (c *Client) Reprocess(ctx context.Context, requestID string) error {
	path, err := route(emPath+"/assignmentRequests/%s/reprocess", requestID)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, nil, nil)
}

func (c *Client) CancelRequest(ctx context.Context, requestID string) error {
	path, err := route(emPath+"/assignmentRequests/%s/cancel", requestID)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPost, path, nil, nil)
}
