package access

import (
	"net/url"
	"strings"
	"time"
)

// ExtensionType says which workflow an extension serves; it is the concrete
// Graph type name of the customCalloutExtension.
type ExtensionType string

const (
	// RequestWorkflowExtension serves the four request stages and may wait for a callback.
	RequestWorkflowExtension ExtensionType = "accessPackageAssignmentRequestWorkflowExtension"
	// AssignmentWorkflowExtension serves the two pre-expiration stages and never waits.
	AssignmentWorkflowExtension ExtensionType = "accessPackageAssignmentWorkflowExtension"
)

var extensionTypes = []ExtensionType{RequestWorkflowExtension, AssignmentWorkflowExtension}

func ParseExtensionType(s string) (ExtensionType, bool) { return parseMember(extensionTypes, s) }

// Endpoint types and authentication types, by their Graph type names.
const (
	LogicAppEndpoint    = "logicAppTriggerEndpointConfiguration"
	HTTPRequestEndpoint = "httpRequestEndpoint"

	PopTokenAuthentication    = "azureAdPopTokenAuthentication"
	BearerTokenAuthentication = "azureAdTokenAuthentication"

	// CallbackConfigurationType is the base type; the entitlement-management subtype is accepted too.
	CallbackConfigurationType          = "customExtensionCallbackConfiguration"
	ApprovalStageCallbackConfiguration = "accessPackageRequestApprovalStageCallbackConfiguration"
)

// Limits of custom extensions, from the Graph documentation.
const (
	MinCalloutTimeout     = 200 * time.Millisecond
	MaxCalloutTimeout     = 2000 * time.Millisecond
	DefaultCalloutTimeout = 1000 * time.Millisecond
	MaxMaximumRetries     = 1
	MinCallbackTimeout    = 5 * time.Minute
	MaxCallbackTimeout    = 14 * 24 * time.Hour
)

// Endpoint is where a callout goes. Type is LogicAppEndpoint or HTTPRequestEndpoint.
type Endpoint struct {
	Type                 string `json:"Type"`
	SubscriptionID       string `json:"SubscriptionID"`
	ResourceGroupName    string `json:"ResourceGroupName"`
	LogicAppWorkflowName string `json:"LogicAppWorkflowName"`
	URL                  string `json:"URL"`       // Logic App trigger URL
	TargetURL            string `json:"TargetURL"` // httpRequestEndpoint
}

// CalloutURL is the address a callout is sent to.
func (e Endpoint) CalloutURL() string {
	if e.Type == HTTPRequestEndpoint {
		return e.TargetURL
	}
	return e.URL
}

// Authentication says which token accompanies a callout.
type Authentication struct {
	Type       string `json:"Type"`       // PopTokenAuthentication or BearerTokenAuthentication
	ResourceID string `json:"ResourceID"` // audience of a bearer token
}

// ClientConfiguration tunes the outbound HTTP call. Nil fields mean the default.
type ClientConfiguration struct {
	TimeoutInMilliseconds *int `json:"TimeoutInMilliseconds"`
	MaximumRetries        *int `json:"MaximumRetries"`
}

// Timeout is the HTTP timeout of one attempt.
func (c *ClientConfiguration) Timeout() time.Duration {
	if c == nil || c.TimeoutInMilliseconds == nil {
		return DefaultCalloutTimeout
	}
	return time.Duration(*c.TimeoutInMilliseconds) * time.Millisecond
}

// Attempts is 1 + maximumRetries; an absent value means one retry.
func (c *ClientConfiguration) Attempts() int {
	if c == nil || c.MaximumRetries == nil {
		return 2
	}
	return 1 + *c.MaximumRetries
}

// CallbackConfiguration makes an extension launch-and-wait.
type CallbackConfiguration struct {
	Type            string   `json:"Type"` // CallbackConfigurationType or ApprovalStageCallbackConfiguration
	TimeoutDuration Duration `json:"TimeoutDuration"`
}

// CustomExtension is a customCalloutExtension defined on a catalog.
type CustomExtension struct {
	ID                   string                 `json:"ID"`
	CatalogID            string                 `json:"CatalogID"`
	Type                 ExtensionType          `json:"Type"`
	DisplayName          string                 `json:"DisplayName"`
	Description          string                 `json:"Description"`
	Endpoint             Endpoint               `json:"Endpoint"`
	Authentication       Authentication         `json:"Authentication"`
	Client               *ClientConfiguration   `json:"Client"`
	Callback             *CallbackConfiguration `json:"Callback"` // nil: launch and continue
	CreatedBy            string                 `json:"CreatedBy"`
	LastModifiedBy       string                 `json:"LastModifiedBy"`
	CreatedDateTime      time.Time              `json:"CreatedDateTime"`
	LastModifiedDateTime time.Time              `json:"LastModifiedDateTime"`
}

// Waits reports whether the extension pauses a request until resume.
func (x CustomExtension) Waits() bool { return x.Callback != nil }

// Serves reports whether the extension's type fits a stage.
func (x CustomExtension) Serves(s Stage) bool {
	if x.Type == AssignmentWorkflowExtension {
		return s == StageFourteenDaysBeforeExpiry || s == StageOneDayBeforeExpiry
	}
	return s.IsRequestStage()
}

// Validate checks an extension as a client sends it.
func (x CustomExtension) Validate() error {
	if x.Type != RequestWorkflowExtension && x.Type != AssignmentWorkflowExtension {
		return Invalidf("@odata.type is required: #microsoft.graph.%s or #microsoft.graph.%s", RequestWorkflowExtension, AssignmentWorkflowExtension)
	}
	if strings.TrimSpace(x.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	if err := x.Endpoint.validate(); err != nil {
		return err
	}
	switch x.Authentication.Type {
	case PopTokenAuthentication:
	case BearerTokenAuthentication:
		if strings.TrimSpace(x.Authentication.ResourceID) == "" {
			return Invalidf("authenticationConfiguration.resourceId is required for %s", BearerTokenAuthentication)
		}
	case "":
		return Invalidf("authenticationConfiguration is required")
	default:
		return Invalidf("authenticationConfiguration: unknown type %q", x.Authentication.Type)
	}
	if c := x.Client; c != nil {
		if t := c.TimeoutInMilliseconds; t != nil {
			if d := time.Duration(*t) * time.Millisecond; d < MinCalloutTimeout || d > MaxCalloutTimeout {
				return Invalidf("clientConfiguration.timeoutInMilliseconds must be between 200 and 2000, not %d", *t)
			}
		}
		if r := c.MaximumRetries; r != nil && (*r < 0 || *r > MaxMaximumRetries) {
			return Invalidf("clientConfiguration.maximumRetries must be 0 or 1, not %d", *r)
		}
	}
	if cb := x.Callback; cb != nil {
		if x.Type == AssignmentWorkflowExtension {
			return Invalidf("callbackConfiguration is not supported on %s: pre-expiration extensions never wait", AssignmentWorkflowExtension)
		}
		if cb.TimeoutDuration.IsZero() {
			return Invalidf("callbackConfiguration.timeoutDuration is required")
		}
		if d := cb.TimeoutDuration.Approx(); d < MinCallbackTimeout || d > MaxCallbackTimeout {
			return Invalidf("callbackConfiguration.timeoutDuration must be between PT5M and P14D, not %s", cb.TimeoutDuration)
		}
	}
	return nil
}

func (e Endpoint) validate() error {
	switch e.Type {
	case LogicAppEndpoint:
		if strings.TrimSpace(e.URL) == "" {
			return Invalidf("endpointConfiguration.url is required: accessd calls the Logic App trigger URL directly")
		}
		return checkCalloutURL("endpointConfiguration.url", e.URL)
	case HTTPRequestEndpoint:
		if strings.TrimSpace(e.TargetURL) == "" {
			return Invalidf("endpointConfiguration.targetUrl is required")
		}
		return checkCalloutURL("endpointConfiguration.targetUrl", e.TargetURL)
	case "":
		return Invalidf("endpointConfiguration is required")
	default:
		return Invalidf("endpointConfiguration: unknown type %q", e.Type)
	}
}

func checkCalloutURL(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Invalidf("%s must be an absolute http or https URL, not %q", name, raw)
	}
	return nil
}
