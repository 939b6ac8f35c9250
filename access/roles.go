package access

import (
	"strings"
	"time"
)

// RoleDefinition is a built-in role (Graph's unifiedRoleDefinition). The
// entitlement-management roles are listed at
// /roleManagement/entitlementManagement/roleDefinitions; Identity
// Governance Administrator is an Entra directory role.
type RoleDefinition struct {
	ID          string
	DisplayName string
	Description string
	// Directory is true for the directory role, assigned through
	// /roleManagement/directory/roleAssignments.
	Directory bool
	// PerCatalog is true for the roles assigned on one catalog; the others
	// are tenant-wide.
	PerCatalog bool
}

var roleDefinitions = []RoleDefinition{
	{ID: RoleCatalogCreator, DisplayName: "Catalog creator",
		Description: "Creates catalogs, and becomes the owner of each catalog it creates."},
	{ID: RoleCatalogOwner, DisplayName: "Catalog owner", PerCatalog: true,
		Description: "Edits and deletes the catalog, its resources and custom extensions; manages its access packages, policies and assignments; assigns roles on it."},
	{ID: RoleCatalogReader, DisplayName: "Catalog reader", PerCatalog: true,
		Description: "Reads the catalog's access packages, policies, requests and assignments."},
	{ID: RoleAccessPackageManager, DisplayName: "Access package manager", PerCatalog: true,
		Description: "Creates, edits and deletes the catalog's access packages, their resource role scopes and policies; manages assignments."},
	{ID: RoleAccessPackageAssignmentManager, DisplayName: "Access package assignment manager", PerCatalog: true,
		Description: "Assigns and removes access in the catalog's access packages; reads, cancels, reprocesses and resumes their requests."},
	{ID: RoleIdentityGovernanceAdministrator, DisplayName: "Identity Governance Administrator", Directory: true,
		Description: "Manages all of entitlement management, in every catalog."},
}

// EntitlementRoleDefinitions are the roles of entitlement management, in
// the order Graph lists them; the directory role is not among them.
func EntitlementRoleDefinitions() []RoleDefinition {
	var out []RoleDefinition
	for _, d := range roleDefinitions {
		if !d.Directory {
			out = append(out, d)
		}
	}
	return out
}

// RoleDefinitionByID finds a built-in role, entitlement-management or
// directory.
func RoleDefinitionByID(id string) (RoleDefinition, bool) {
	for _, d := range roleDefinitions {
		if strings.EqualFold(d.ID, id) {
			return d, true
		}
	}
	return RoleDefinition{}, false
}

// CatalogScopePrefix starts the appScopeId of a role on one catalog.
const CatalogScopePrefix = "/AccessPackageCatalog/"

// RoleAssignment is a role held by a principal (Graph's
// unifiedRoleAssignment): tenant-wide (DirectoryScopeID "/") or on one
// catalog (AppScopeID /AccessPackageCatalog/{catalogId}).
type RoleAssignment struct {
	ID               string    `json:"ID"`
	PrincipalID      string    `json:"PrincipalID"`
	RoleDefinitionID string    `json:"RoleDefinitionID"`
	DirectoryScopeID string    `json:"DirectoryScopeID"` // "/" for a tenant-wide role, else ""
	AppScopeID       string    `json:"AppScopeID"`       // the catalog's scope for a catalog role, else ""
	CatalogID        string    `json:"CatalogID"`        // the catalog a catalog role is on, else ""
	CreatedDateTime  time.Time `json:"CreatedDateTime"`
}

// Held is the role as a caller holds it.
func (a RoleAssignment) Held() HeldRole {
	return HeldRole{RoleID: a.RoleDefinitionID, CatalogID: a.CatalogID}
}

// RoleAssignmentInput is a role assignment as a client posts it. The
// scopes are nil when the body leaves them out.
type RoleAssignmentInput struct {
	PrincipalID      string
	RoleDefinitionID string
	DirectoryScopeID *string
	AppScopeID       *string
}

// CatalogRoleScope is the appScopeId of a role on a catalog.
func CatalogRoleScope(catalogID string) string { return CatalogScopePrefix + catalogID }

// Assignment checks a posted role assignment and reads its scope. directory
// is true for /roleManagement/directory, which assigns only the directory
// role; the entitlement-management provider assigns only its own roles.
// Exactly one scope is given, as Graph requires: directoryScopeId "/" for a
// tenant-wide role, appScopeId /AccessPackageCatalog/{id} for a catalog role.
func (in RoleAssignmentInput) Assignment(directory bool) (RoleAssignment, error) {
	a := RoleAssignment{PrincipalID: strings.TrimSpace(in.PrincipalID)}
	if a.PrincipalID == "" {
		return a, Invalidf("property 'principalId' is required: the user or service principal that holds the role")
	}
	if in.RoleDefinitionID == "" {
		return a, Invalidf("property 'roleDefinitionId' is required")
	}
	def, ok := RoleDefinitionByID(in.RoleDefinitionID)
	switch {
	case !ok || def.Directory != directory:
		if directory {
			return a, Invalidf("property 'roleDefinitionId': %q is not a directory role accessd knows; the one it assigns is Identity Governance Administrator (%s)", in.RoleDefinitionID, RoleIdentityGovernanceAdministrator)
		}
		return a, Invalidf("property 'roleDefinitionId': %q is not an entitlement-management role; list them at /roleManagement/entitlementManagement/roleDefinitions", in.RoleDefinitionID)
	case in.DirectoryScopeID != nil && in.AppScopeID != nil:
		return a, Invalidf("give one of directoryScopeId and appScopeId, not both")
	}
	a.RoleDefinitionID = def.ID
	if !def.PerCatalog {
		if in.AppScopeID != nil || in.DirectoryScopeID == nil || *in.DirectoryScopeID != "/" {
			return a, Invalidf("%s is a tenant-wide role: give directoryScopeId \"/\"", def.DisplayName)
		}
		a.DirectoryScopeID = "/"
		return a, nil
	}
	if in.AppScopeID == nil {
		return a, Invalidf("%s is a role on one catalog: give appScopeId \"%s{catalogId}\"", def.DisplayName, CatalogScopePrefix)
	}
	id, ok := strings.CutPrefix(*in.AppScopeID, CatalogScopePrefix)
	if !ok || id == "" || strings.Contains(id, "/") {
		return a, Invalidf("property 'appScopeId': %q does not name a catalog; write %s{catalogId}", *in.AppScopeID, CatalogScopePrefix)
	}
	a.AppScopeID, a.CatalogID = CatalogRoleScope(id), id
	return a, nil
}

// mayAssign applies RuleRoleAdmin to an assignment: tenant-wide roles are
// given by tenant-wide administrators, roles on a catalog also by its
// owners.
func (c Caller) mayAssign(a RoleAssignment) bool {
	if a.CatalogID == "" {
		return c.TenantWide(true)
	}
	return c.May(RuleRoleAdmin, a.CatalogID)
}
