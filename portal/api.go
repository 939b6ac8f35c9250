package portal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/accessd/accessd/client"
)

// Every read and every action of the portal is one or more calls of
// accessd's v1.0 API with the signed-in user's delegated token. The portal
// decides nothing: what the API refuses, the page says it refused.

const em = "/v1.0/identityGovernance/entitlementManagement"

type tokenKey struct{}

func withToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// tokenOf is the client's TokenFunc: the token of the session the call is
// made for. A call without one goes out without a token, and the API
// answers 401.
func tokenOf(ctx context.Context) (string, error) {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t, nil
}

// apiError is what the API said when it refused.
func apiError(err error) (*client.Error, bool) {
	var e *client.Error
	ok := errors.As(err, &e)
	return e, ok
}

// absent says the API has no such function: the route is not there (404,
// 405) or does not take that parameter (400). The portal then asks the
// general question instead (see listOr).
func absent(err error) bool {
	e, ok := apiError(err)
	return ok && (e.Status == http.StatusNotFound || e.Status == http.StatusMethodNotAllowed || e.Status == http.StatusBadRequest)
}

// unauthorized says the API no longer accepts the session's token.
func unauthorized(err error) bool {
	e, ok := apiError(err)
	return ok && e.Status == http.StatusUnauthorized
}

// page is one page of a collection.
type page[T any] struct {
	Value []T    `json:"value"`
	Next  string `json:"@odata.nextLink"`
}

// maxPages bounds how far the portal follows nextLinks on one screen.
const maxPages = 20

// listAll reads a collection, following nextLink.
func listAll[T any](ctx context.Context, c *client.Client, path string, query url.Values) ([]T, error) {
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var out []T
	for range maxPages {
		var p page[T]
		if err := c.Do(ctx, http.MethodGet, path, nil, &p); err != nil {
			return nil, err
		}
		out = append(out, p.Value...)
		if p.Next == "" {
			break
		}
		path = p.Next
	}
	return out, nil
}

// listOr reads the first path, a function of the signed-in user such as
// filterByCurrentUser; where the API has no such function yet it reads
// the second. Either way the API decides what the caller sees.
func listOr[T any](ctx context.Context, c *client.Client, first, second string, query url.Values) ([]T, error) {
	out, err := listAll[T](ctx, c, first, query)
	if err != nil && absent(err) && second != "" {
		return listAll[T](ctx, c, second, query)
	}
	return out, err
}

// ---- the shapes the portal reads (v1.0 wire names) ----

type ref struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type subject struct {
	ObjectID      string `json:"objectId"`
	DisplayName   string `json:"displayName"`
	PrincipalName string `json:"principalName"`
	Email         string `json:"email"`
}

func (s *subject) Label() string {
	switch {
	case s == nil:
		return ""
	case s.DisplayName != "" && s.PrincipalName != "":
		return s.DisplayName + " (" + s.PrincipalName + ")"
	case s.DisplayName != "":
		return s.DisplayName
	case s.PrincipalName != "":
		return s.PrincipalName
	}
	return s.ObjectID
}

type catalogWire struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
	State       string `json:"state"`
	CatalogType string `json:"catalogType"`
	IsExternal  bool   `json:"isExternallyVisible"`
}

type packageWire struct {
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Description string       `json:"description"`
	IsHidden    bool         `json:"isHidden"`
	Catalog     *ref         `json:"catalog"`
	Policies    []policyWire `json:"assignmentPolicies"`
}

type choiceWire struct {
	ActualValue string `json:"actualValue"`
	Text        string `json:"text"`
}

type questionWire struct {
	ODataType    string       `json:"@odata.type"`
	ID           string       `json:"id"`
	Sequence     int          `json:"sequence"`
	IsRequired   bool         `json:"isRequired"`
	Text         string       `json:"text"`
	IsSingleLine bool         `json:"isSingleLineQuestion"`
	Choices      []choiceWire `json:"choices"`
	AllowsMany   bool         `json:"isMultipleSelectionAllowed"`
}

// IsChoice says whether the question offers choices rather than text.
func (q questionWire) IsChoice() bool {
	return strings.HasSuffix(q.ODataType, "accessPackageMultipleChoiceQuestion")
}

type stageSettingWire struct {
	Stage           string `json:"stage"`
	CustomExtension *ref   `json:"customExtension"`
}

type policyWire struct {
	ID                 string `json:"id"`
	DisplayName        string `json:"displayName"`
	Description        string `json:"description"`
	AllowedTargetScope string `json:"allowedTargetScope"`
	Expiration         struct {
		Type        string `json:"type"`
		Duration    string `json:"duration"`
		EndDateTime string `json:"endDateTime"`
	} `json:"expiration"`
	RequestorSettings struct {
		EnableTargetsToSelfAddAccess    bool `json:"enableTargetsToSelfAddAccess"`
		EnableTargetsToSelfUpdateAccess bool `json:"enableTargetsToSelfUpdateAccess"`
		EnableTargetsToSelfRemoveAccess bool `json:"enableTargetsToSelfRemoveAccess"`
		AllowCustomAssignmentSchedule   bool `json:"allowCustomAssignmentSchedule"`
	} `json:"requestorSettings"`
	RequestApprovalSettings struct {
		IsApprovalRequiredForAdd         bool `json:"isApprovalRequiredForAdd"`
		IsApprovalRequiredForUpdate      bool `json:"isApprovalRequiredForUpdate"`
		IsRequestorJustificationRequired bool `json:"isRequestorJustificationRequired"`
		Stages                           []struct {
			IsApproverJustificationRequired bool `json:"isApproverJustificationRequired"`
		} `json:"stages"`
	} `json:"requestApprovalSettings"`
	Questions                    []questionWire     `json:"questions"`
	CustomExtensionStageSettings []stageSettingWire `json:"customExtensionStageSettings"`
	AccessPackage                *ref               `json:"accessPackage"`
}

// sortedQuestions are the policy's questions in their sequence.
func (p policyWire) sortedQuestions() []questionWire {
	qs := slices.Clone(p.Questions)
	slices.SortStableFunc(qs, func(a, b questionWire) int { return a.Sequence - b.Sequence })
	return qs
}

type answerWire struct {
	Value        string `json:"value"`
	DisplayValue string `json:"displayValue"`
	// AnsweredQuestion is the question as it was asked: the API carries
	// its text with the request, for readers who may not read the policy.
	AnsweredQuestion struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	} `json:"answeredQuestion"`
}

type calloutWire struct {
	ID                string `json:"id"`
	CustomExtensionID string `json:"customExtensionId"`
	// ExtensionName is accessd's annotation naming the extension, which
	// the requestor may not be able to read.
	ExtensionName string `json:"customExtensionId@accessd.displayName"`
	Detail        string `json:"detail"`
	Status        string `json:"status"`
}

type scheduleWire struct {
	StartDateTime string `json:"startDateTime"`
	Expiration    struct {
		Type        string `json:"type"`
		Duration    string `json:"duration"`
		EndDateTime string `json:"endDateTime"`
	} `json:"expiration"`
}

type assignmentWire struct {
	ID               string        `json:"id"`
	State            string        `json:"state"`
	Status           string        `json:"status"`
	ExpiredDateTime  string        `json:"expiredDateTime"`
	Schedule         scheduleWire  `json:"schedule"`
	Callouts         []calloutWire `json:"customExtensionCalloutInstances"`
	Target           *subject      `json:"target"`
	AccessPackage    *packageWire  `json:"accessPackage"`
	AssignmentPolicy *policyWire   `json:"assignmentPolicy"`
}

type requestWire struct {
	ID                string          `json:"id"`
	RequestType       string          `json:"requestType"`
	State             string          `json:"state"`
	Status            string          `json:"status"`
	CreatedDateTime   string          `json:"createdDateTime"`
	CompletedDateTime string          `json:"completedDateTime"`
	Justification     string          `json:"justification"`
	Schedule          scheduleWire    `json:"schedule"`
	Answers           []answerWire    `json:"answers"`
	Callouts          []calloutWire   `json:"customExtensionCalloutInstances"`
	AccessPackage     *packageWire    `json:"accessPackage"`
	Assignment        *assignmentWire `json:"assignment"`
	Requestor         *subject        `json:"requestor"`
}

// target is who the request is for: v1.0 names it through the assignment.
func (r requestWire) target() *subject {
	if r.Assignment != nil && r.Assignment.Target != nil {
		return r.Assignment.Target
	}
	return nil
}

func (r requestWire) PackageName() string {
	if r.AccessPackage != nil {
		return r.AccessPackage.DisplayName
	}
	return ""
}

func (r requestWire) open() bool {
	switch r.State {
	case "submitted", "pendingApproval", "delivering", "scheduled", "accepted":
		return true
	}
	return false
}

type historyWire struct {
	ID       string `json:"id"`
	DateTime string `json:"dateTime"`
	Action   string `json:"action"`
	Stage    string `json:"stage"`
	Actor    struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
	} `json:"actor"`
	Source  string `json:"source"`
	Type    string `json:"type"`
	Detail  string `json:"detail"`
	Outcome string `json:"outcome"`
	State   string `json:"state"`
	Status  string `json:"status"`
}

type approvalStageWire struct {
	ID               string `json:"id"`
	DisplayName      string `json:"displayName"`
	Status           string `json:"status"`
	AssignedToMe     bool   `json:"assignedToMe"`
	ReviewResult     string `json:"reviewResult"`
	ReviewedDateTime string `json:"reviewedDateTime"`
	Justification    string `json:"justification"`
	ReviewedBy       *ref   `json:"reviewedBy"`
}

type approvalWire struct {
	ID     string              `json:"id"`
	Stages []approvalStageWire `json:"stages"`
}

// Name is the extension's name, or its id when the API names none.
func (c calloutWire) Name() string {
	if c.ExtensionName != "" {
		return c.ExtensionName
	}
	return c.CustomExtensionID
}

// attemptWire is one recorded HTTP call of a callout, as
// /_accessd/…/calloutAttempts lists them.
type attemptWire struct {
	ID             string `json:"id"`
	RequestID      string `json:"requestId"`
	InstanceID     string `json:"instanceId"`
	Stage          string `json:"stage"`
	Attempt        int    `json:"attempt"`
	SentDateTime   string `json:"sentDateTime"`
	DurationMillis int64  `json:"durationInMilliseconds"`
	ResponseStatus int    `json:"responseStatus"`
	ResponseBody   string `json:"responseBody"`
	Error          string `json:"error"`
}

type extensionWire struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Description string `json:"description"`
	Endpoint    struct {
		TargetURL string `json:"targetUrl"`
	} `json:"endpointConfiguration"`
	Callback *struct {
		TimeoutDuration string `json:"timeoutDuration"`
	} `json:"callbackConfiguration"`
	ODataType string `json:"@odata.type"`
}
