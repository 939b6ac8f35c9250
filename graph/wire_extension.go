package graph

import (
	"github.com/accessd/accessd/access"
)

// customExtensionOut is a custom workflow extension; v1.0 and beta share the shape.
type customExtensionOut struct {
	ODataType                   string             `json:"@odata.type"`
	ID                          string             `json:"id"`
	DisplayName                 string             `json:"displayName"`
	Description                 *string            `json:"description"`
	EndpointConfiguration       endpointWire       `json:"endpointConfiguration"`
	AuthenticationConfiguration authenticationWire `json:"authenticationConfiguration"`
	ClientConfiguration         *clientWire        `json:"clientConfiguration"`
	CallbackConfiguration       *callbackWire      `json:"callbackConfiguration"`
	CreatedBy                   *string            `json:"createdBy"`
	CreatedDateTime             *string            `json:"createdDateTime"`
	LastModifiedBy              *string            `json:"lastModifiedBy"`
	LastModifiedDateTime        *string            `json:"lastModifiedDateTime"`
}

type endpointWire struct {
	ODataType            string  `json:"@odata.type"`
	SubscriptionID       *string `json:"subscriptionId,omitempty"`
	ResourceGroupName    *string `json:"resourceGroupName,omitempty"`
	LogicAppWorkflowName *string `json:"logicAppWorkflowName,omitempty"`
	URL                  *string `json:"url,omitempty"`
	TargetURL            *string `json:"targetUrl,omitempty"`
}

type authenticationWire struct {
	ODataType  string  `json:"@odata.type"`
	ResourceID *string `json:"resourceId,omitempty"`
}

type clientWire struct {
	ODataType             string `json:"@odata.type,omitempty"`
	TimeoutInMilliseconds *int   `json:"timeoutInMilliseconds"`
	MaximumRetries        *int   `json:"maximumRetries"`
}

// callbackWire is emitted with timeoutDuration; durationBeforeTimeout, the
// name the documentation's examples use, is accepted on input.
type callbackWire struct {
	ODataType             string  `json:"@odata.type"`
	TimeoutDuration       *string `json:"timeoutDuration"`
	DurationBeforeTimeout *string `json:"durationBeforeTimeout,omitempty"`
}

func customExtensionToWire(x access.CustomExtension) customExtensionOut {
	out := customExtensionOut{
		ODataType: graphType(string(x.Type)), ID: x.ID, DisplayName: x.DisplayName, Description: optional(x.Description),
		EndpointConfiguration: endpointWire{ODataType: graphType(x.Endpoint.Type)},
		AuthenticationConfiguration: authenticationWire{ODataType: graphType(x.Authentication.Type),
			ResourceID: optional(x.Authentication.ResourceID)},
		CreatedBy: optional(x.CreatedBy), CreatedDateTime: timeOut(x.CreatedDateTime),
		LastModifiedBy: optional(x.LastModifiedBy), LastModifiedDateTime: timeOut(x.LastModifiedDateTime),
	}
	e := &out.EndpointConfiguration
	if x.Endpoint.Type == access.HTTPRequestEndpoint {
		e.TargetURL = optional(x.Endpoint.TargetURL)
	} else {
		// The trigger URL is a secret in Entra too (it carries the SAS signature) but Graph
		// returns it to administrators, and accessd's callers are administrators.
		e.SubscriptionID, e.ResourceGroupName = optional(x.Endpoint.SubscriptionID), optional(x.Endpoint.ResourceGroupName)
		e.LogicAppWorkflowName, e.URL = optional(x.Endpoint.LogicAppWorkflowName), optional(x.Endpoint.URL)
	}
	if c := x.Client; c != nil {
		out.ClientConfiguration = &clientWire{ODataType: graphType("customExtensionClientConfiguration"),
			TimeoutInMilliseconds: c.TimeoutInMilliseconds, MaximumRetries: c.MaximumRetries}
	}
	if cb := x.Callback; cb != nil {
		out.CallbackConfiguration = &callbackWire{ODataType: graphType(cb.Type), TimeoutDuration: durationOut(cb.TimeoutDuration)}
	}
	return out
}

// extensionFields are what $filter and $orderby may name on custom
// workflow extensions, in both versions.
var extensionFields = wireFields{noun: access.NounCustomExtensions, paths: map[string]wireField{
	"id":                   {field: "ID"},
	"displayName":          {field: "DisplayName"},
	"description":          {field: "Description"},
	"createdBy":            {field: "CreatedBy"},
	"createdDateTime":      {field: "CreatedDateTime"},
	"lastModifiedBy":       {field: "LastModifiedBy"},
	"lastModifiedDateTime": {field: "LastModifiedDateTime"},
}}

func strPtr(s string) *string { return &s }

// customExtensionInput is an extension as a client sends it.
type customExtensionInput struct {
	ODataType                   *string             `json:"@odata.type"`
	ID                          ignored             `json:"id"`
	DisplayName                 *string             `json:"displayName"`
	Description                 *string             `json:"description"`
	EndpointConfiguration       *endpointInput      `json:"endpointConfiguration"`
	AuthenticationConfiguration *authenticationWire `json:"authenticationConfiguration"`
	ClientConfiguration         *clientWire         `json:"clientConfiguration"`
	CallbackConfiguration       *callbackWire       `json:"callbackConfiguration"`
	CreatedBy                   ignored             `json:"createdBy"`
	CreatedDateTime             ignored             `json:"createdDateTime"`
	LastModifiedBy              ignored             `json:"lastModifiedBy"`
	LastModifiedDateTime        ignored             `json:"lastModifiedDateTime"`
}

type endpointInput struct {
	ODataType            *string `json:"@odata.type"`
	SubscriptionID       *string `json:"subscriptionId"`
	ResourceGroupName    *string `json:"resourceGroupName"`
	LogicAppWorkflowName *string `json:"logicAppWorkflowName"`
	URL                  *string `json:"url"`
	TargetURL            *string `json:"targetUrl"`
}

// toDomain converts the input; the @odata.type of the extension and of its
// endpoint and authentication are required, since their base types are abstract.
func (in customExtensionInput) toDomain() (access.CustomExtension, error) {
	var x access.CustomExtension
	if in.ODataType == nil || *in.ODataType == "" {
		return x, access.Invalidf("property '@odata.type' is required: #microsoft.graph.%s or #microsoft.graph.%s",
			access.RequestWorkflowExtension, access.AssignmentWorkflowExtension)
	}
	t, ok := access.ParseExtensionType(typeName(*in.ODataType))
	if !ok {
		return x, access.Invalidf("property '@odata.type': %q is not a custom workflow extension type; use #microsoft.graph.%s or #microsoft.graph.%s",
			*in.ODataType, access.RequestWorkflowExtension, access.AssignmentWorkflowExtension)
	}
	x.Type, x.DisplayName, x.Description = t, str(in.DisplayName), str(in.Description)
	if e := in.EndpointConfiguration; e != nil {
		if e.ODataType == nil {
			return x, access.Invalidf("property 'endpointConfiguration.@odata.type' is required: #microsoft.graph.%s or #microsoft.graph.%s",
				access.LogicAppEndpoint, access.HTTPRequestEndpoint)
		}
		x.Endpoint = access.Endpoint{Type: typeName(*e.ODataType), SubscriptionID: str(e.SubscriptionID),
			ResourceGroupName: str(e.ResourceGroupName), LogicAppWorkflowName: str(e.LogicAppWorkflowName),
			URL: str(e.URL), TargetURL: str(e.TargetURL)}
		if x.Endpoint.Type == access.HTTPRequestEndpoint && (e.URL != nil || e.SubscriptionID != nil || e.ResourceGroupName != nil || e.LogicAppWorkflowName != nil) {
			return x, access.Invalidf("property 'endpointConfiguration': %s takes only targetUrl", access.HTTPRequestEndpoint)
		}
		if x.Endpoint.Type == access.LogicAppEndpoint && e.TargetURL != nil {
			return x, access.Invalidf("property 'endpointConfiguration.targetUrl' belongs to %s, not %s", access.HTTPRequestEndpoint, access.LogicAppEndpoint)
		}
	}
	if a := in.AuthenticationConfiguration; a != nil {
		if a.ODataType == "" {
			return x, access.Invalidf("property 'authenticationConfiguration.@odata.type' is required: #microsoft.graph.%s or #microsoft.graph.%s",
				access.PopTokenAuthentication, access.BearerTokenAuthentication)
		}
		x.Authentication = access.Authentication{Type: typeName(a.ODataType), ResourceID: str(a.ResourceID)}
		if x.Authentication.Type == access.PopTokenAuthentication && a.ResourceID != nil {
			return x, access.Invalidf("property 'authenticationConfiguration.resourceId' belongs to %s, not %s", access.BearerTokenAuthentication, access.PopTokenAuthentication)
		}
	}
	if c := in.ClientConfiguration; c != nil {
		x.Client = &access.ClientConfiguration{TimeoutInMilliseconds: c.TimeoutInMilliseconds, MaximumRetries: c.MaximumRetries}
	}
	if cb := in.CallbackConfiguration; cb != nil {
		kind := access.CallbackConfigurationType
		if cb.ODataType != "" {
			kind = typeName(cb.ODataType)
			if kind != access.CallbackConfigurationType && kind != access.ApprovalStageCallbackConfiguration {
				return x, access.Invalidf("property 'callbackConfiguration.@odata.type': %q is not a callback configuration of entitlement management", cb.ODataType)
			}
		}
		raw := cb.TimeoutDuration
		if raw == nil {
			raw = cb.DurationBeforeTimeout
		} else if cb.DurationBeforeTimeout != nil && *cb.DurationBeforeTimeout != *raw {
			return x, access.Invalidf("properties 'callbackConfiguration.timeoutDuration' and 'durationBeforeTimeout' disagree; send one")
		}
		d, err := duration("callbackConfiguration.timeoutDuration", raw)
		if err != nil {
			return x, err
		}
		x.Callback = &access.CallbackConfiguration{Type: kind, TimeoutDuration: d}
	}
	return x, nil
}
