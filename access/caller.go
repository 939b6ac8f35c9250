package access

import "slices"

// Caller is who makes an API call, as its token says.
type Caller struct {
	ObjectID    string // the user's or service principal's directory id
	IsApp       bool   // an application token rather than a signed-in user
	AppID       string
	DisplayName string
	UPN         string
	Scopes      []string // delegated permissions (scp)
	Roles       []string // application permissions (roles)

	// HeldRoles are the entitlement-management and directory roles the
	// caller's principal holds, read when the call comes in.
	HeldRoles []HeldRole
	// Rule is the rule of the route the call came in by; the Service
	// applies it to the objects the call touches (authorize.go).
	Rule Rule
}

// Name is how the caller is shown in createdBy and history.
func (c Caller) Name() string {
	if c.UPN != "" {
		return c.UPN
	}
	if c.DisplayName != "" {
		return c.DisplayName
	}
	return c.ObjectID
}

// Permission is satisfied by any one of the Graph permissions it lists.
type Permission []string

// Permissions of the API: the first check of every route (authorize.go).
var (
	ReadEntitlements  = Permission{"EntitlementManagement.Read.All", "EntitlementManagement.ReadWrite.All"}
	WriteEntitlements = Permission{"EntitlementManagement.ReadWrite.All"}
	// SelfService admits the routes a user calls for their own access:
	// submitting and cancelling their requests.
	SelfService = Permission{"EntitlementManagement.ReadWrite.All", SubjectAccess}
	// ReadOrSelfService admits what a user reads of their own: their
	// requests and assignments by id, filterByCurrentUser and
	// getApplicablePolicyRequirements.
	ReadOrSelfService = Permission{"EntitlementManagement.Read.All", "EntitlementManagement.ReadWrite.All", SubjectAccess}
	ReadUsers         = Permission{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	WriteUsers        = Permission{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	ReadGroups        = Permission{"Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	WriteGroups       = Permission{"Group.ReadWrite.All", "Directory.ReadWrite.All"}
	ReadApplications  = Permission{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	WriteApplications = Permission{"Application.ReadWrite.All", "Directory.ReadWrite.All"}
)

// SubjectAccess is the self-service permission: with it a signed-in user
// requests, and cancels, access for themselves. Graph grants it to users
// only; there is no application permission of that name.
const SubjectAccess = "EntitlementMgmt-SubjectAccess.ReadWrite"

// KnownPermissions are the names of every Graph permission accessd checks,
// sorted. A name not among them is a typo or a permission no route asks
// for: it would grant nothing, so `accessd token` refuses it.
func KnownPermissions() []string {
	var names []string
	for _, p := range []Permission{ReadEntitlements, WriteEntitlements, {SubjectAccess},
		ReadUsers, WriteUsers, ReadGroups, WriteGroups, ReadApplications, WriteApplications} {
		names = append(names, p...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// Has reports whether the caller holds the permission: through its roles for
// an application, through its scopes for a user.
func (c Caller) Has(p Permission) bool {
	held := c.Scopes
	if c.IsApp {
		held = c.Roles
	}
	for _, want := range p {
		if slices.Contains(held, want) {
			return true
		}
	}
	return false
}
