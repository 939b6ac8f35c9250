package access

import (
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// EntitlementManagementAppID is the application id Entra's entitlement
// management calls extensions as; existing trigger conditions check it.
const EntitlementManagementAppID = "810dcf14-1858-4bf2-8134-4c369fa3235b"

// CalloutPayload is the flat PascalCase object extensions receive, as real
// Logic Apps parse it (see the reference's callout wire format).
type CalloutPayload struct {
	AccessPackageAssignmentRequestID string            `json:"AccessPackageAssignmentRequestId"`
	CallbackURIPath                  *string           `json:"CallbackUriPath,omitempty"`
	CustomExtensionStageInstanceID   string            `json:"CustomExtensionStageInstanceId"`
	Stage                            Stage             `json:"Stage"`
	RequestType                      *string           `json:"RequestType,omitempty"`
	State                            *string           `json:"State,omitempty"`
	Status                           *string           `json:"Status,omitempty"`
	Answers                          *[]payloadAnswer  `json:"Answers,omitempty"`
	CallbackConfiguration            any               `json:"CallbackConfiguration,omitempty"` // null on request stages without a wait, absent on pre-expiration stages
	AccessPackage                    payloadNamed      `json:"AccessPackage"`
	AccessPackageCatalog             payloadNamed      `json:"AccessPackageCatalog"`
	Assignment                       payloadAssignment `json:"Assignment"`
	Requestor                        payloadSubject    `json:"Requestor"`
	VerifiedCredentialsData          any               `json:"VerifiedCredentialsData"`
}

type payloadNamed struct {
	ID          string `json:"Id"`
	DisplayName string `json:"DisplayName"`
	Description string `json:"Description"`
}

type payloadCallbackConfig struct {
	DurationBeforeTimeout string `json:"DurationBeforeTimeout"`
}

type payloadAnswer struct {
	Value            string          `json:"Value"`
	DisplayValue     string          `json:"DisplayValue"`
	AnsweredQuestion payloadQuestion `json:"AnsweredQuestion"`
}

type payloadQuestion struct {
	ID         string `json:"Id"`
	IsRequired bool   `json:"IsRequired"`
	Sequence   int    `json:"Sequence"`
	Text       struct {
		DefaultText    string `json:"DefaultText"`
		LocalizedTexts []any  `json:"LocalizedTexts"`
	} `json:"Text"`
}

type payloadSubject struct {
	ID                           string  `json:"Id"`
	ObjectID                     string  `json:"ObjectId"`
	DisplayName                  string  `json:"DisplayName"`
	PrincipalName                *string `json:"PrincipalName"`
	Email                        *string `json:"Email"`
	SubjectType                  string  `json:"SubjectType"`
	SubjectLifecycle             string  `json:"SubjectLifecycle"`
	Type                         string  `json:"Type"`
	ConnectedOrganization        any     `json:"ConnectedOrganization"`
	ConnectedOrganizationID      any     `json:"ConnectedOrganizationId"`
	OnPremisesSecurityIdentifier any     `json:"OnPremisesSecurityIdentifier"`
}

type payloadAssignment struct {
	ID                            *string        `json:"Id"`
	State                         *string        `json:"State"`
	Status                        *string        `json:"Status"`
	TargetID                      string         `json:"TargetId"`
	Target                        payloadSubject `json:"Target"`
	AssignmentPolicy              payloadPolicy  `json:"AssignmentPolicy"`
	AccessPackageAssignmentPolicy payloadPolicy  `json:"AccessPackageAssignmentPolicy"`
	AccessPackage                 any            `json:"AccessPackage"`
}

type payloadPolicy struct {
	ID          string `json:"Id"`
	DisplayName string `json:"DisplayName"`
}

// CalloutContext is everything a callout payload describes.
type CalloutContext struct {
	Work       Work
	Request    *Request    // nil for pre-expiration callouts
	Assignment *Assignment // nil before delivery
	Package    AccessPackage
	Catalog    Catalog
	Policy     AssignmentPolicy
	Extension  CustomExtension
}

func subjectPayload(s Subject) payloadSubject {
	p := payloadSubject{ID: s.ID, ObjectID: s.ID, DisplayName: s.DisplayName, SubjectType: string(s.Kind),
		SubjectLifecycle: "notDefined", Type: "User"}
	if s.Kind == SubjectServicePrincipal {
		p.Type = "ServicePrincipal"
	}
	if s.PrincipalName != "" {
		p.PrincipalName = &s.PrincipalName
	}
	if s.Email != "" {
		p.Email = &s.Email
	}
	return p
}

func ptr(s string) *string { return &s }

// Payload builds the callout body. Request-workflow stages describe the
// request; pre-expiration stages send no CallbackUriPath, Answers,
// RequestType or CallbackConfiguration.
func (c CalloutContext) Payload() CalloutPayload {
	policy := payloadPolicy{ID: c.Policy.ID, DisplayName: c.Policy.DisplayName}
	p := CalloutPayload{
		CustomExtensionStageInstanceID: c.Work.InstanceID,
		Stage:                          c.Work.Stage,
		AccessPackage:                  payloadNamed{ID: c.Package.ID, DisplayName: c.Package.DisplayName, Description: c.Package.Description},
		AccessPackageCatalog:           payloadNamed{ID: c.Catalog.ID, DisplayName: c.Catalog.DisplayName, Description: c.Catalog.Description},
		Assignment:                     payloadAssignment{AssignmentPolicy: policy, AccessPackageAssignmentPolicy: policy},
	}
	if a := c.Assignment; a != nil {
		p.Assignment.ID, p.Assignment.State, p.Assignment.Status = ptr(a.ID), ptr(string(a.State)), ptr(a.Status)
		p.Assignment.TargetID, p.Assignment.Target = a.Target.ID, subjectPayload(a.Target)
	}
	if r := c.Request; r != nil {
		p.AccessPackageAssignmentRequestID = r.ID
		p.CallbackURIPath = ptr("/identityGovernance/entitlementManagement/assignmentRequests/" + r.ID + "/resume")
		p.RequestType = ptr(string(r.Type))
		p.State, p.Status = ptr(string(c.Work.RequestState)), ptr(c.Work.RequestStatus)
		answers := []payloadAnswer{}
		for _, a := range r.Answers {
			pa := payloadAnswer{Value: a.Value, DisplayValue: a.DisplayValue}
			pa.AnsweredQuestion.ID = a.QuestionID
			pa.AnsweredQuestion.Text.LocalizedTexts = []any{}
			for _, q := range c.Policy.Questions {
				if q.ID == a.QuestionID {
					pa.AnsweredQuestion.IsRequired, pa.AnsweredQuestion.Sequence = q.IsRequired, q.Sequence
					pa.AnsweredQuestion.Text.DefaultText = q.Text
				}
			}
			answers = append(answers, pa)
		}
		p.Answers = &answers
		p.CallbackConfiguration = json.RawMessage("null")
		if b, ok := r.Policy.BindingOf(c.Work.Stage, c.Work.ExtensionID); ok && b.Waits {
			p.CallbackConfiguration = &payloadCallbackConfig{DurationBeforeTimeout: b.CallbackTimeout.String()}
		}
		if c.Assignment == nil || c.Assignment.ID == "" {
			p.Assignment.TargetID, p.Assignment.Target = r.Target.ID, subjectPayload(r.Target)
		}
		p.Requestor = subjectPayload(r.Requestor)
	} else if c.Assignment != nil {
		// A pre-expiration stage names the request that last delivered or extended the assignment.
		p.AccessPackageAssignmentRequestID = c.Assignment.LastRequestID
		p.Requestor = subjectPayload(c.Assignment.Target)
	}
	return p
}

// MarshalPayload encodes the payload as sent.
func (c CalloutContext) MarshalPayload() ([]byte, error) { return json.Marshal(c.Payload()) }

// CalloutTokenLifetime is how long a callout token is valid.
const CalloutTokenLifetime = 5 * time.Minute

// CalloutToken says which token a callout carries: its scheme (Bearer or
// PoP), its claims except the time claims, and a key under which a signed
// token may be reused for other callouts to the same endpoint.
type CalloutToken struct {
	Scheme   string
	Claims   map[string]any
	CacheKey string
}

// CalloutTokenFor builds the token a callout to x carries. issuer is
// accessd's issuer URL and appID the application id callouts come from.
func CalloutTokenFor(x CustomExtension, issuer, appID string) CalloutToken {
	claims := map[string]any{"iss": issuer, "appid": appID, "azp": appID}
	if x.Authentication.Type == BearerTokenAuthentication {
		claims["aud"] = x.Authentication.ResourceID
		return CalloutToken{Scheme: "Bearer", Claims: claims, CacheKey: "Bearer " + x.Authentication.ResourceID}
	}
	claims["m"] = "POST"
	if x.Endpoint.Type == LogicAppEndpoint {
		claims["u"] = "management.azure.com"
		claims["p"] = "/subscriptions/" + x.Endpoint.SubscriptionID + "/resourceGroups/" + x.Endpoint.ResourceGroupName +
			"/providers/Microsoft.Logic/workflows/" + x.Endpoint.LogicAppWorkflowName
		claims["aud"] = "https://management.azure.com"
	} else {
		u, _ := url.Parse(x.Endpoint.TargetURL)
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		host := strings.ToLower(u.Host)
		claims["u"] = host
		claims["p"] = path
		claims["aud"] = strings.ToLower(u.Scheme) + "://" + host
	}
	return CalloutToken{Scheme: "PoP", Claims: claims,
		CacheKey: "PoP " + claims["aud"].(string) + " " + claims["u"].(string) + " " + claims["p"].(string)}
}
