package access

import "time"

// RequestType is accessPackageRequestType: what a request asks for and who asks.
type RequestType string

const (
	RequestAdminAdd     RequestType = "adminAdd"
	RequestUserAdd      RequestType = "userAdd"
	RequestAdminUpdate  RequestType = "adminUpdate"
	RequestUserUpdate   RequestType = "userUpdate"
	RequestAdminRemove  RequestType = "adminRemove"
	RequestUserRemove   RequestType = "userRemove"
	RequestSystemAdd    RequestType = "systemAdd"
	RequestSystemRemove RequestType = "systemRemove"
)

var requestTypes = []RequestType{RequestAdminAdd, RequestUserAdd, RequestAdminUpdate, RequestUserUpdate,
	RequestAdminRemove, RequestUserRemove, RequestSystemAdd, RequestSystemRemove}

// ParseRequestType reads a request type in any case; beta's UserExtend means userUpdate.
func ParseRequestType(s string) (RequestType, bool) {
	if s == "UserExtend" || s == "userExtend" {
		return RequestUserUpdate, true
	}
	return parseMember(requestTypes, s)
}

// IsAdd, IsUpdate and IsRemove group the types by what they do to an assignment.
func (t RequestType) IsAdd() bool {
	return t == RequestAdminAdd || t == RequestUserAdd || t == RequestSystemAdd
}
func (t RequestType) IsUpdate() bool {
	return t == RequestAdminUpdate || t == RequestUserUpdate
}
func (t RequestType) IsRemove() bool {
	return t == RequestAdminRemove || t == RequestUserRemove || t == RequestSystemRemove
}

// IsSelfService is true for the types an end user sends for their own access.
func (t RequestType) IsSelfService() bool {
	return t == RequestUserAdd || t == RequestUserUpdate || t == RequestUserRemove
}

// RequestState is accessPackageRequestState.
type RequestState string

const (
	StateSubmitted          RequestState = "submitted"
	StatePendingApproval    RequestState = "pendingApproval"
	StateScheduled          RequestState = "scheduled"
	StateDelivering         RequestState = "delivering"
	StateDelivered          RequestState = "delivered"
	StatePartiallyDelivered RequestState = "partiallyDelivered"
	StateDeliveryFailed     RequestState = "deliveryFailed"
	StateDenied             RequestState = "denied"
	StateCanceled           RequestState = "canceled"
)

var requestStates = []RequestState{StateSubmitted, StatePendingApproval, StateScheduled, StateDelivering, StateDelivered,
	StatePartiallyDelivered, StateDeliveryFailed, StateDenied, StateCanceled}

func ParseRequestState(s string) (RequestState, bool) { return parseMember(requestStates, s) }

// IsFinal is true once a request will not change any more.
func (s RequestState) IsFinal() bool {
	switch s {
	case StateDelivered, StatePartiallyDelivered, StateDeliveryFailed, StateDenied, StateCanceled:
		return true
	}
	return false
}

// Request statuses: free text in Graph; these are the values accessd writes.
const (
	StatusAccepted           = "Accepted"
	StatusPendingApproval    = "PendingApproval"
	StatusScheduled          = "Scheduled"
	StatusDelivering         = "Delivering"
	StatusDelivered          = "Delivered"
	StatusDeliveryFailed     = "DeliveryFailed"
	StatusPartiallyDelivered = "PartiallyDelivered"
	StatusDenied             = "Denied"
	StatusCanceled           = "Canceled"
	StatusExpired            = "Expired"
	// StatusExpiredNotified is an assignment's status once it expired at its end.
	StatusExpiredNotified       = "ExpiredNotificationTriggered"
	StatusWaitingForCallback    = "WaitingForCallback"
	StatusCallbackTimedOut      = "CallbackTimedOut"
	StatusCalloutFailed         = "CalloutFailed"
	StatusCustomExtensionFailed = "CustomExtensionFailed"
)

// Schedule is entitlementManagementSchedule: when access starts and ends.
type Schedule struct {
	StartDateTime *time.Time `json:"StartDateTime"`
	Expiration    Expiration `json:"Expiration"`
}

// EndDateTime is when access under the schedule ends, counted from start; nil when it never does.
func (s Schedule) EndDateTime(start time.Time) *time.Time {
	switch s.Expiration.Type {
	case ExpirationAfterDateTime:
		return s.Expiration.EndDateTime
	case ExpirationAfterDuration:
		end := s.Expiration.Duration.AddTo(start)
		return &end
	}
	return nil
}

// Answer is an accessPackageAnswerString: a requestor's answer to a policy question.
type Answer struct {
	QuestionID   string `json:"QuestionID"`
	Value        string `json:"Value"`
	DisplayValue string `json:"DisplayValue"`
	// The question as it was asked when the request was made, so that the
	// request shows it to whoever may read the request, without a role
	// that reads the policy. Empty on requests stored before accessd kept it.
	QuestionType string `json:"QuestionType,omitempty"`
	QuestionText string `json:"QuestionText,omitempty"`
}

// SubjectKind says whether a target or requestor is a user or a service principal.
type SubjectKind string

const (
	SubjectUser             SubjectKind = "user"
	SubjectServicePrincipal SubjectKind = "servicePrincipal"
)

// Subject is an accessPackageSubject: a target or a requestor as a request records it.
type Subject struct {
	ID            string      `json:"ID"`
	Kind          SubjectKind `json:"Kind"`
	DisplayName   string      `json:"DisplayName"`
	PrincipalName string      `json:"PrincipalName"`
	Email         string      `json:"Email"`
}

// PolicySnapshot is what a request copies from its policy at submission, so
// that editing the policy never changes requests in flight.
type PolicySnapshot struct {
	DisplayName      string          `json:"DisplayName"`
	ApprovalRequired bool            `json:"ApprovalRequired"`
	ApprovalStages   []ApprovalStage `json:"ApprovalStages"`
	Expiration       Expiration      `json:"Expiration"`
	Bindings         []StageBinding  `json:"Bindings"`
}

// StageBinding is an extension bound to a stage, with what the request needs
// to know of it for good: whether it waits, and how long.
type StageBinding struct {
	Stage           Stage    `json:"Stage"`
	ExtensionID     string   `json:"ExtensionID"`
	ExtensionName   string   `json:"ExtensionName,omitempty"` // its displayName when the request was made
	Waits           bool     `json:"Waits"`
	CallbackTimeout Duration `json:"CallbackTimeout"`
}

// BindingOf finds how an extension serves a stage on this request: a
// dynamic approval stage's extension is found by the stage and its id,
// since several such stages may call different extensions.
func (p PolicySnapshot) BindingOf(s Stage, extensionID string) (StageBinding, bool) {
	for _, b := range p.Bindings {
		if b.Stage == s && (s != StageDeterminingApproval || b.ExtensionID == extensionID) {
			return b, true
		}
	}
	return StageBinding{}, false
}

// Binding finds the extension bound to a stage, if any.
func (p PolicySnapshot) Binding(s Stage) (StageBinding, bool) {
	for _, b := range p.Bindings {
		if b.Stage == s {
			return b, true
		}
	}
	return StageBinding{}, false
}

// CalloutStatus is customExtensionCalloutInstanceStatus.
type CalloutStatus string

const (
	CalloutSent        CalloutStatus = "calloutSent"
	CallbackReceived   CalloutStatus = "callbackReceived"
	CalloutFailedState CalloutStatus = "calloutFailed"
	CallbackTimedOut   CalloutStatus = "callbackTimedOut"
	WaitingForCallback CalloutStatus = "waitingForCallback"
)

// CalloutInstance is a customExtensionCalloutInstance: one call of an extension at one stage.
type CalloutInstance struct {
	ID                string `json:"ID"`
	CustomExtensionID string `json:"CustomExtensionID"`
	// ExtensionName is the extension's displayName when it was called, so
	// that the request names it to its requestor, who may not read the catalog.
	ExtensionName         string          `json:"ExtensionName,omitempty"`
	Stage                 Stage           `json:"Stage"`
	Status                CalloutStatus   `json:"Status"`
	Detail                string          `json:"Detail"`
	ExternalCorrelationID string          `json:"ExternalCorrelationID"`
	Waits                 bool            `json:"Waits"`   // launch and wait: the request pauses until the callback
	Outcome               CallbackOutcome `json:"Outcome"` // what the accepted callback decided, to recognise repeats
}

// Request is an accessPackageAssignmentRequest.
type Request struct {
	ID                string            `json:"ID"`
	Type              RequestType       `json:"Type"`
	State             RequestState      `json:"State"`
	Status            string            `json:"Status"`
	CreatedDateTime   time.Time         `json:"CreatedDateTime"`
	CompletedDateTime *time.Time        `json:"CompletedDateTime"`
	Justification     string            `json:"Justification"`
	Answers           []Answer          `json:"Answers"`
	Schedule          Schedule          `json:"Schedule"` // as requested (or for removes, unused)
	AccessPackageID   string            `json:"AccessPackageID"`
	PolicyID          string            `json:"PolicyID"`
	CatalogID         string            `json:"CatalogID"`
	Target            Subject           `json:"Target"`
	Requestor         Subject           `json:"Requestor"`
	AssignmentID      string            `json:"AssignmentID"` // the assignment made, changed or removed
	Policy            PolicySnapshot    `json:"Policy"`
	Callouts          []CalloutInstance `json:"Callouts"`
	Approval          []ApprovalStep    `json:"Approval"` // its approval stages, once approval began
	Step              Step              `json:"Step"`     // where in its lifecycle the request is; see lifecycle.go
}

// Callout finds one of the request's callout instances.
func (r Request) Callout(id string) (CalloutInstance, int, bool) {
	for i, c := range r.Callouts {
		if c.ID == id {
			return c, i, true
		}
	}
	return CalloutInstance{}, -1, false
}

// AssignmentState is accessPackageAssignmentState.
type AssignmentState string

const (
	AssignmentDelivering         AssignmentState = "delivering"
	AssignmentDelivered          AssignmentState = "delivered"
	AssignmentPartiallyDelivered AssignmentState = "partiallyDelivered"
	AssignmentDeliveryFailed     AssignmentState = "deliveryFailed"
	AssignmentExpired            AssignmentState = "expired"
)

var assignmentStates = []AssignmentState{AssignmentDelivering, AssignmentDelivered, AssignmentPartiallyDelivered,
	AssignmentDeliveryFailed, AssignmentExpired}

func ParseAssignmentState(s string) (AssignmentState, bool) { return parseMember(assignmentStates, s) }

// IsActive is true while the assignment grants (or is about to grant) access.
func (s AssignmentState) IsActive() bool {
	return s == AssignmentDelivering || s == AssignmentDelivered || s == AssignmentPartiallyDelivered
}

// Assignment is an accessPackageAssignment: a target holding a package under a policy.
type Assignment struct {
	ID              string            `json:"ID"`
	AccessPackageID string            `json:"AccessPackageID"`
	PolicyID        string            `json:"PolicyID"`
	CatalogID       string            `json:"CatalogID"`
	Target          Subject           `json:"Target"`
	State           AssignmentState   `json:"State"`
	Status          string            `json:"Status"`
	Schedule        Schedule          `json:"Schedule"` // StartDateTime is set; Expiration says when it ends
	ExpiredDateTime *time.Time        `json:"ExpiredDateTime"`
	Callouts        []CalloutInstance `json:"Callouts"` // pre-expiration callouts
	// Grants are the resource roles the assignment gives its target.
	Grants []Grant `json:"Grants"`
	// LastRequestID is the request that last delivered or extended the
	// assignment, which its pre-expiration callouts name.
	LastRequestID string `json:"LastRequestID"`
	// RequestorID is who asked for the assignment: the requestor of the
	// request that made it (filterByCurrentUser(on='createdBy')).
	RequestorID     string    `json:"RequestorID"`
	CreatedDateTime time.Time `json:"CreatedDateTime"`
}

// End is when the assignment's access ends; nil when it never does.
func (a Assignment) End() *time.Time {
	if a.Schedule.StartDateTime == nil {
		return nil
	}
	return a.Schedule.EndDateTime(*a.Schedule.StartDateTime)
}

// HistoryEntry is one line of a request's audit trail.
type HistoryEntry struct {
	ID        string       `json:"ID"`
	RequestID string       `json:"RequestID"`
	At        time.Time    `json:"At"`
	ActorID   string       `json:"ActorID"`
	ActorName string       `json:"ActorName"`
	Action    string       `json:"Action"` // submitted, transition, calloutSent, calloutFailed, callback, canceled, …
	Stage     Stage        `json:"Stage"`
	Source    string       `json:"Source"`
	Type      string       `json:"Type"`
	Detail    string       `json:"Detail"`
	Outcome   string       `json:"Outcome"`
	State     RequestState `json:"State"`
	Status    string       `json:"Status"`
}
