package client

import (
	"context"
	"net/http"

	"github.com/accessd/accessd/access"
)

// customExtensionWire is a custom workflow extension in v1.0, both ways.
// Every property is left out when empty: accessd refuses, for instance, a
// url on an httpRequestEndpoint even when it is null.
type customExtensionWire struct {
	ODataType                   string              `json:"@odata.type"`
	ID                          string              `json:"id,omitempty"`
	DisplayName                 string              `json:"displayName"`
	Description                 *string             `json:"description,omitempty"`
	EndpointConfiguration       *endpointWire       `json:"endpointConfiguration,omitempty"`
	AuthenticationConfiguration *authenticationWire `json:"authenticationConfiguration,omitempty"`
	ClientConfiguration         *clientConfigWire   `json:"clientConfiguration,omitempty"`
	CallbackConfiguration       *callbackConfigWire `json:"callbackConfiguration,omitempty"`
	CreatedBy                   *string             `json:"createdBy,omitempty"`
	CreatedDateTime             *string             `json:"createdDateTime,omitempty"`
	LastModifiedBy              *string             `json:"lastModifiedBy,omitempty"`
	LastModifiedDateTime        *string             `json:"lastModifiedDateTime,omitempty"`
}

type endpointWire struct {
	ODataType            string `json:"@odata.type"`
	SubscriptionID       string `json:"subscriptionId,omitempty"`
	ResourceGroupName    string `json:"resourceGroupName,omitempty"`
	LogicAppWorkflowName string `json:"logicAppWorkflowName,omitempty"`
	URL                  string `json:"url,omitempty"`
	TargetURL            string `json:"targetUrl,omitempty"`
}

type authenticationWire struct {
	ODataType  string `json:"@odata.type"`
	ResourceID string `json:"resourceId,omitempty"`
}

type clientConfigWire struct {
	ODataType             string `json:"@odata.type,omitempty"`
	TimeoutInMilliseconds *int   `json:"timeoutInMilliseconds,omitempty"`
	MaximumRetries        *int   `json:"maximumRetries,omitempty"`
}

type callbackConfigWire struct {
	ODataType       string  `json:"@odata.type,omitempty"`
	TimeoutDuration *string `json:"timeoutDuration,omitempty"`
}

func customExtensionOut(x access.CustomExtension) customExtensionWire {
	w := customExtensionWire{ODataType: graphType(string(x.Type)), DisplayName: x.DisplayName}
	if x.Description != "" {
		w.Description = &x.Description
	}
	if e := x.Endpoint; e.Type != "" {
		w.EndpointConfiguration = &endpointWire{ODataType: graphType(e.Type), SubscriptionID: e.SubscriptionID,
			ResourceGroupName: e.ResourceGroupName, LogicAppWorkflowName: e.LogicAppWorkflowName, URL: e.URL, TargetURL: e.TargetURL}
	}
	if a := x.Authentication; a.Type != "" {
		w.AuthenticationConfiguration = &authenticationWire{ODataType: graphType(a.Type), ResourceID: a.ResourceID}
	}
	if cc := x.Client; cc != nil {
		w.ClientConfiguration = &clientConfigWire{ODataType: graphType("customExtensionClientConfiguration"),
			TimeoutInMilliseconds: cc.TimeoutInMilliseconds, MaximumRetries: cc.MaximumRetries}
	}
	if cb := x.Callback; cb != nil {
		kind := cb.Type
		if kind == "" {
			kind = access.CallbackConfigurationType
		}
		w.CallbackConfiguration = &callbackConfigWire{ODataType: graphType(kind)}
		if !cb.TimeoutDuration.IsZero() {
			d := cb.TimeoutDuration.String()
			w.CallbackConfiguration.TimeoutDuration = &d
		}
	}
	return w
}

// toDomain reads an extension of the catalog catalogID, which the answer
// itself does not name.
func (w customExtensionWire) toDomain(catalogID string) (access.CustomExtension, error) {
	var r reader
	x := access.CustomExtension{ID: w.ID, CatalogID: catalogID, Type: access.ExtensionType(typeName(w.ODataType)),
		DisplayName: w.DisplayName, Description: str(w.Description),
		CreatedBy: str(w.CreatedBy), LastModifiedBy: str(w.LastModifiedBy),
		CreatedDateTime: r.time("createdDateTime", w.CreatedDateTime), LastModifiedDateTime: r.time("lastModifiedDateTime", w.LastModifiedDateTime)}
	if e := w.EndpointConfiguration; e != nil {
		x.Endpoint = access.Endpoint{Type: typeName(e.ODataType), SubscriptionID: e.SubscriptionID, ResourceGroupName: e.ResourceGroupName,
			LogicAppWorkflowName: e.LogicAppWorkflowName, URL: e.URL, TargetURL: e.TargetURL}
	}
	if a := w.AuthenticationConfiguration; a != nil {
		x.Authentication = access.Authentication{Type: typeName(a.ODataType), ResourceID: a.ResourceID}
	}
	if cc := w.ClientConfiguration; cc != nil {
		x.Client = &access.ClientConfiguration{TimeoutInMilliseconds: cc.TimeoutInMilliseconds, MaximumRetries: cc.MaximumRetries}
	}
	if cb := w.CallbackConfiguration; cb != nil {
		x.Callback = &access.CallbackConfiguration{Type: typeName(cb.ODataType),
			TimeoutDuration: r.duration("callbackConfiguration.timeoutDuration", cb.TimeoutDuration)}
	}
	return x, r.err
}

// CreateCustomExtension creates an extension in catalogID from the fields
// a client controls; x.CatalogID is not read. A nil x.Callback makes a
// launch-and-continue extension, a Callback with a TimeoutDuration a
// launch-and-wait one.
func (c *Client) CreateCustomExtension(ctx context.Context, catalogID string, x access.CustomExtension) (access.CustomExtension, error) {
	path, err := route(emPath+"/catalogs/%s/customWorkflowExtensions", catalogID)
	if err != nil {
		return access.CustomExtension{}, err
	}
	var w customExtensionWire
	if err := c.Do(ctx, http.MethodPost, path, customExtensionOut(x), &w); err != nil {
		return access.CustomExtension{}, err
	}
	return w.toDomain(catalogID)
}

func (c *Client) GetCustomExtension(ctx context.Context, catalogID, id string) (access.CustomExtension, error) {
	path, err := route(emPath+"/catalogs/%s/customWorkflowExtensions/%s", catalogID, id)
	if err != nil {
		return access.CustomExtension{}, err
	}
	var w customExtensionWire
	if err := c.Do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return access.CustomExtension{}, err
	}
	return w.toDomain(catalogID)
}

func (c *Client) ListCustomExtensions(ctx context.Context, catalogID string) ([]access.CustomExtension, error) {
	path, err := route(emPath+"/catalogs/%s/customWorkflowExtensions", catalogID)
	if err != nil {
		return nil, err
	}
	return list(ctx, c, path, nil, func(w customExtensionWire) (access.CustomExtension, error) { return w.toDomain(catalogID) })
}

func (c *Client) DeleteCustomExtension(ctx context.Context, catalogID, id string) error {
	path, err := route(emPath+"/catalogs/%s/customWorkflowExtensions/%s", catalogID, id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}
