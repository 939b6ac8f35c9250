package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/accessd/accessd/access"
)

// Assignment policies are the one noun the client does not write from a
// domain type: their body (subject sets, approval stages, questions) is
// large, and callers have it as JSON already (a seed file, the Graph
// documentation's examples). So a policy goes in as any JSON body and
// comes back as the part of access.AssignmentPolicy that reads back
// plainly; GetAssignmentPolicy says which part.

// withPolicyNeighbours makes accessd name a policy's package and catalog
// and the extension of each stage setting, which a plain GET leaves out.
func withPolicyNeighbours() url.Values {
	return url.Values{"$expand": {"accessPackage,catalog,customExtensionStageSettings($expand=customExtension)"}}
}

// policyWire is the part of a v1.0 accessPackageAssignmentPolicy the
// client reads; see GetAssignmentPolicy.
type policyWire struct {
	ID                 string         `json:"id"`
	DisplayName        string         `json:"displayName"`
	Description        *string        `json:"description"`
	AllowedTargetScope string         `json:"allowedTargetScope"`
	Expiration         expirationWire `json:"expiration"`
	RequestorSettings  struct {
		EnableTargetsToSelfAddAccess           bool `json:"enableTargetsToSelfAddAccess"`
		EnableTargetsToSelfUpdateAccess        bool `json:"enableTargetsToSelfUpdateAccess"`
		EnableTargetsToSelfRemoveAccess        bool `json:"enableTargetsToSelfRemoveAccess"`
		AllowCustomAssignmentSchedule          bool `json:"allowCustomAssignmentSchedule"`
		EnableOnBehalfRequestorsToAddAccess    bool `json:"enableOnBehalfRequestorsToAddAccess"`
		EnableOnBehalfRequestorsToUpdateAccess bool `json:"enableOnBehalfRequestorsToUpdateAccess"`
		EnableOnBehalfRequestorsToRemoveAccess bool `json:"enableOnBehalfRequestorsToRemoveAccess"`
	} `json:"requestorSettings"`
	RequestApprovalSettings struct {
		IsApprovalRequiredForAdd         bool `json:"isApprovalRequiredForAdd"`
		IsApprovalRequiredForUpdate      bool `json:"isApprovalRequiredForUpdate"`
		IsRequestorJustificationRequired bool `json:"isRequestorJustificationRequired"`
	} `json:"requestApprovalSettings"`
	ReviewSettings               json.RawMessage `json:"reviewSettings"`
	NotificationSettings         json.RawMessage `json:"notificationSettings"`
	AccessPackage                *idWire         `json:"accessPackage"`
	Catalog                      *idWire         `json:"catalog"`
	CustomExtensionStageSettings []struct {
		ID              string  `json:"id"`
		Stage           string  `json:"stage"`
		CustomExtension *idWire `json:"customExtension"`
	} `json:"customExtensionStageSettings"`
	CreatedDateTime  *string `json:"createdDateTime"`
	ModifiedDateTime *string `json:"modifiedDateTime"`
}

func (w policyWire) toDomain() (access.AssignmentPolicy, error) {
	var r reader
	rs := w.RequestorSettings
	as := w.RequestApprovalSettings
	p := access.AssignmentPolicy{
		ID: w.ID, DisplayName: w.DisplayName, Description: str(w.Description),
		AllowedTargetScope: access.AllowedTargetScope(w.AllowedTargetScope),
		Expiration:         w.Expiration.toDomain(&r, "expiration"),
		RequestorSettings: access.RequestorSettings{
			EnableTargetsToSelfAddAccess:           rs.EnableTargetsToSelfAddAccess,
			EnableTargetsToSelfUpdateAccess:        rs.EnableTargetsToSelfUpdateAccess,
			EnableTargetsToSelfRemoveAccess:        rs.EnableTargetsToSelfRemoveAccess,
			AllowCustomAssignmentSchedule:          rs.AllowCustomAssignmentSchedule,
			EnableOnBehalfRequestorsToAddAccess:    rs.EnableOnBehalfRequestorsToAddAccess,
			EnableOnBehalfRequestorsToUpdateAccess: rs.EnableOnBehalfRequestorsToUpdateAccess,
			EnableOnBehalfRequestorsToRemoveAccess: rs.EnableOnBehalfRequestorsToRemoveAccess,
		},
		RequestApprovalSettings: access.ApprovalSettings{
			IsApprovalRequiredForAdd:         as.IsApprovalRequiredForAdd,
			IsApprovalRequiredForUpdate:      as.IsApprovalRequiredForUpdate,
			IsRequestorJustificationRequired: as.IsRequestorJustificationRequired,
		},
		ReviewSettings:       rawOrNil(w.ReviewSettings),
		NotificationSettings: rawOrNil(w.NotificationSettings),
		CreatedDateTime:      r.time("createdDateTime", w.CreatedDateTime),
		ModifiedDateTime:     r.time("modifiedDateTime", w.ModifiedDateTime),
	}
	if w.AccessPackage != nil {
		p.AccessPackageID = w.AccessPackage.ID
	}
	if w.Catalog != nil {
		p.CatalogID = w.Catalog.ID
	}
	for _, s := range w.CustomExtensionStageSettings {
		b := access.ExtensionBinding{ID: s.ID, Stage: access.Stage(s.Stage)}
		if s.CustomExtension != nil {
			b.CustomExtensionID = s.CustomExtension.ID
		}
		p.ExtensionBindings = append(p.ExtensionBindings, b)
	}
	return p, r.err
}

// rawOrNil is nil for an absent or null JSON value, as the domain keeps
// settings that were never given.
func rawOrNil(raw json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return raw
}

// CreateAssignmentPolicy posts body, a v1.0 accessPackageAssignmentPolicy
// as a map, a struct of your own or json.RawMessage, and returns the policy
// as GetAssignmentPolicy reads it: that is a second call, because the
// answer to the POST does not name the package or the catalog.
func (c *Client) CreateAssignmentPolicy(ctx context.Context, body any) (access.AssignmentPolicy, error) {
	var created idWire
	if err := c.Do(ctx, http.MethodPost, emPath+"/assignmentPolicies", body, &created); err != nil {
		return access.AssignmentPolicy{}, err
	}
	return c.GetAssignmentPolicy(ctx, created.ID)
}

// GetAssignmentPolicy reads the part of a policy that maps plainly onto
// access.AssignmentPolicy: ids (with the package and catalog), names, the
// target scope, the expiration, the requestor and approval switches, the
// review and notification settings as given, the extension bindings and
// the times. Subject sets (specificAllowedTargets, onBehalfRequestors),
// approval stages and questions are left empty; read those with Do into a
// type of your own.
func (c *Client) GetAssignmentPolicy(ctx context.Context, id string) (access.AssignmentPolicy, error) {
	path, err := route(emPath+"/assignmentPolicies/%s", id)
	if err != nil {
		return access.AssignmentPolicy{}, err
	}
	var w policyWire
	if err := c.Do(ctx, http.MethodGet, path+"?"+withPolicyNeighbours().Encode(), nil, &w); err != nil {
		return access.AssignmentPolicy{}, err
	}
	return w.toDomain()
}

// ListAssignmentPolicies lists every policy, or an access package's when
// accessPackageID is not empty, read as GetAssignmentPolicy reads one.
func (c *Client) ListAssignmentPolicies(ctx context.Context, accessPackageID string) ([]access.AssignmentPolicy, error) {
	path := emPath + "/assignmentPolicies"
	if accessPackageID != "" {
		var err error
		if path, err = route(emPath+"/accessPackages/%s/assignmentPolicies", accessPackageID); err != nil {
			return nil, err
		}
	}
	return list(ctx, c, path, withPolicyNeighbours(), policyWire.toDomain)
}

func (c *Client) DeleteAssignmentPolicy(ctx context.Context, id string) error {
	path, err := route(emPath+"/assignmentPolicies/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}
