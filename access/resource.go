package access

import (
	"strings"
	"time"
)

// Resources are what access packages grant: a group's membership or
// ownership, or an application's role. A resource is added to a catalog
// (by a resource request), offers roles, and a package names the roles it
// grants (resource role scopes). Delivering an assignment grants each role
// to the target in the directory; removing it takes the role away again.

// Origin systems of the resources accessd can provision.
const (
	OriginGroup       = "AadGroup"
	OriginApplication = "AadApplication"
)

// DefaultAccessRoleID is the app role every application offers when it
// defines none of its own: plain access to the application.
const DefaultAccessRoleID = "00000000-0000-0000-0000-000000000000"

// Resource is an accessPackageResource: a group or an application in a catalog.
type Resource struct {
	ID               string          `json:"ID"`
	CatalogID        string          `json:"CatalogID"`
	OriginID         string          `json:"OriginID"` // the group's or the service principal's id
	OriginSystem     string          `json:"OriginSystem"`
	DisplayName      string          `json:"DisplayName"`
	Description      string          `json:"Description"`
	Roles            []ResourceRole  `json:"Roles"`
	Scopes           []ResourceScope `json:"Scopes"`
	CreatedDateTime  time.Time       `json:"CreatedDateTime"`
	ModifiedDateTime time.Time       `json:"ModifiedDateTime"`
}

// ResourceRole is an accessPackageResourceRole: Member or Owner of a group,
// or one app role of an application.
type ResourceRole struct {
	ID          string `json:"ID"`
	OriginID    string `json:"OriginID"` // Member_{groupId}, Owner_{groupId}, or the app role's id
	DisplayName string `json:"DisplayName"`
	Description string `json:"Description"`
}

// ResourceScope is an accessPackageResourceScope. Groups and applications
// have one scope, the whole resource.
type ResourceScope struct {
	ID          string `json:"ID"`
	OriginID    string `json:"OriginID"`
	DisplayName string `json:"DisplayName"`
	Description string `json:"Description"`
	IsRootScope bool   `json:"IsRootScope"`
}

// Role finds one of the resource's roles by id or by origin id.
func (r Resource) Role(id, originID string) (ResourceRole, bool) {
	for _, role := range r.Roles {
		if (id != "" && role.ID == id) || (id == "" && originID != "" && strings.EqualFold(role.OriginID, originID)) {
			return role, true
		}
	}
	return ResourceRole{}, false
}

// Scope finds one of the resource's scopes by id or by origin id; with
// neither, the root scope.
func (r Resource) Scope(id, originID string) (ResourceScope, bool) {
	for _, s := range r.Scopes {
		switch {
		case id != "" && s.ID == id,
			id == "" && originID != "" && strings.EqualFold(s.OriginID, originID),
			id == "" && originID == "" && s.IsRootScope:
			return s, true
		}
	}
	return ResourceScope{}, false
}

// groupResource describes a group as a catalog resource.
func groupResource(g Group, newID func() string) Resource {
	return Resource{OriginID: g.ID, OriginSystem: OriginGroup, DisplayName: g.DisplayName, Description: g.Description,
		Roles: []ResourceRole{
			{ID: newID(), OriginID: "Member_" + g.ID, DisplayName: "Member"},
			{ID: newID(), OriginID: "Owner_" + g.ID, DisplayName: "Owner"},
		},
		Scopes: []ResourceScope{{ID: newID(), OriginID: g.ID, DisplayName: "Root", Description: "Root Scope", IsRootScope: true}},
	}
}

// applicationResource describes a service principal as a catalog resource:
// its enabled app roles that users may hold, or default access when it has none.
func applicationResource(sp ServicePrincipal, newID func() string) Resource {
	r := Resource{OriginID: sp.ID, OriginSystem: OriginApplication, DisplayName: sp.DisplayName,
		Scopes: []ResourceScope{{ID: newID(), OriginID: sp.ID, DisplayName: "Root", Description: "Root Scope", IsRootScope: true}}}
	for _, ar := range sp.AppRoles {
		if ar.IsEnabled && (len(ar.AllowedMemberTypes) == 0 || containsString(ar.AllowedMemberTypes, "User")) {
			r.Roles = append(r.Roles, ResourceRole{ID: newID(), OriginID: ar.ID, DisplayName: ar.DisplayName, Description: ar.Description})
		}
	}
	if len(r.Roles) == 0 {
		r.Roles = []ResourceRole{{ID: newID(), OriginID: DefaultAccessRoleID, DisplayName: "Default Access"}}
	}
	return r
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ResourceRequest is an accessPackageResourceRequest: adding a resource to
// a catalog or removing it. accessd carries it out at once.
type ResourceRequest struct {
	ID              string    `json:"ID"`
	Type            string    `json:"Type"` // adminAdd or adminRemove
	State           string    `json:"State"`
	Status          string    `json:"Status"`
	CatalogID       string    `json:"CatalogID"`
	ResourceID      string    `json:"ResourceID"`
	OriginID        string    `json:"OriginID"`
	OriginSystem    string    `json:"OriginSystem"`
	Justification   string    `json:"Justification"`
	Requestor       Subject   `json:"Requestor"`
	CreatedDateTime time.Time `json:"CreatedDateTime"`
}

// Resource request types and the state a carried-out request ends in.
const (
	ResourceRequestAdd    = "adminAdd"
	ResourceRequestRemove = "adminRemove"
	ResourceRequestDone   = "delivered"
	StatusFulfilled       = "Fulfilled"
)

// RoleScope is an accessPackageResourceRoleScope: a resource role (and its
// scope) that an access package grants.
type RoleScope struct {
	ID              string    `json:"ID"`
	ResourceID      string    `json:"ResourceID"`
	RoleID          string    `json:"RoleID"`
	ScopeID         string    `json:"ScopeID"`
	CreatedDateTime time.Time `json:"CreatedDateTime"`
}

// Grant is one resource role an assignment gives its target, and how
// giving it (or taking it away) went.
type Grant struct {
	ResourceID       string `json:"ResourceID"`
	OriginSystem     string `json:"OriginSystem"`
	ResourceOriginID string `json:"ResourceOriginID"` // the group or service principal
	RoleOriginID     string `json:"RoleOriginID"`     // Member_{id}, Owner_{id} or an app role id
	Status           string `json:"Status"`           // GrantPending, GrantDelivered, GrantFailed, GrantRemoved
	// HeldBefore is true when the target already held the role when this
	// assignment granted it, outside accessd: removing the assignment then
	// leaves the role alone.
	HeldBefore     bool       `json:"HeldBefore"`
	Error          string     `json:"Error"`
	FirstAttemptAt *time.Time `json:"FirstAttemptAt"`
}

// Grant statuses.
const (
	GrantPending   = "pending"   // to be granted
	GrantDelivered = "delivered" // granted, and held (also when taking it away failed)
	GrantFailed    = "failed"    // could not be granted
	GrantRemoving  = "removing"  // to be taken away
	GrantRemoved   = "removed"   // taken away, left to another assignment that grants it too, or never granted
)

// Key names the role a grant gives, the same for every assignment that
// grants it; an assignment still holding a key keeps the role in place.
func (g Grant) Key() string { return g.OriginSystem + "/" + g.ResourceOriginID + "/" + g.RoleOriginID }

// GroupRole says which member list of a group a grant puts its target on.
func (g Grant) GroupRole() GroupRelation {
	if strings.HasPrefix(g.RoleOriginID, "Owner_") {
		return GroupOwners
	}
	return GroupMembers
}

// AppRoleAssignment is an application role held by a user, a group or a
// service principal (Graph's appRoleAssignment).
type AppRoleAssignment struct {
	ID                   string    `json:"ID"`
	AppRoleID            string    `json:"AppRoleID"`
	PrincipalID          string    `json:"PrincipalID"`
	PrincipalType        string    `json:"PrincipalType"` // User, Group or ServicePrincipal
	PrincipalDisplayName string    `json:"PrincipalDisplayName"`
	ResourceID           string    `json:"ResourceID"` // the service principal whose role it is
	ResourceDisplayName  string    `json:"ResourceDisplayName"`
	CreatedDateTime      time.Time `json:"CreatedDateTime"`
}
