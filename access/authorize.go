package access

import "slices"

// Who may do what. A call passes two checks. The route's permission comes
// first (Caller.Admits): the Graph permission of the token, before anything
// is looked up. Then the route's Rule, applied by the Service to the objects
// the call touches: a caller who may not see an object is told it does not
// exist (404), one who sees it but may not change it is refused (403).
//
// The rules follow Entra: an application with EntitlementManagement.Read.All
// or ReadWrite.All (application permissions) reads or changes everything; a
// signed-in user needs the delegated scope and a role that covers the
// object (an entitlement-management role on its catalog, or the Identity
// Governance Administrator directory role); an application without the
// application permission acts through the roles its service principal
// holds. Self-service and approving need no role: the policy decides.

// Rule says whom a route admits beyond its permission, and what the Service
// checks on the objects a call touches. docs/permissions.md lists every
// route with its rule.
type Rule int

const (
	// RulePermission: the permission alone decides (the directory).
	RulePermission Rule = iota + 1
	// RuleReader: read a catalog's objects, with any role on the catalog.
	RuleReader
	// RuleCatalogCreator: create a catalog (the tenant-wide Catalog creator role).
	RuleCatalogCreator
	// RuleCatalogOwner: change or delete a catalog, its resources and its
	// custom extensions.
	RuleCatalogOwner
	// RulePackageManager: create, change and delete access packages, their
	// resource role scopes, incompatibilities and policies.
	RulePackageManager
	// RuleAssignmentManager: resume, reprocess and delete requests, and
	// reprocess assignments.
	RuleAssignmentManager
	// RuleRequestor: submit a request. Admin types need an assignment
	// manager of the package's catalog; user types need a policy that lets
	// the caller request.
	RuleRequestor
	// RuleReaderOrSubject: read one request or assignment, as a reader of
	// its catalog or as its target or requestor.
	RuleReaderOrSubject
	// RuleCanceller: cancel a request, one's own (as its target or
	// requestor) or, as an assignment manager, anyone's. Delegated only.
	RuleCanceller
	// RuleSubject: the self-service functions (filterByCurrentUser,
	// getApplicablePolicyRequirements): about the signed-in user only.
	// Delegated only.
	RuleSubject
	// RuleApprover: approvals, seen and decided by the approvers of the
	// request. Delegated only.
	RuleApprover
	// RuleRoleAdmin: assign and remove entitlement-management roles:
	// tenant-wide, as an Identity Governance Administrator or an application
	// with ReadWrite.All; on one catalog, also as its owner.
	RuleRoleAdmin
	// RuleTenantAdmin: tenant-wide changes: an Identity Governance
	// Administrator, or an application with ReadWrite.All (the directory
	// role assignments, --dev mode's routes).
	RuleTenantAdmin
)

var ruleNames = map[Rule]string{
	RulePermission:        "permission only",
	RuleReader:            "any role on the catalog",
	RuleCatalogCreator:    "Catalog creator",
	RuleCatalogOwner:      "Catalog owner",
	RulePackageManager:    "Access package manager",
	RuleAssignmentManager: "Access package assignment manager",
	RuleRequestor:         "admin types: Access package assignment manager; user types: the policy",
	RuleReaderOrSubject:   "any role on the catalog, or the request's target or requestor",
	RuleCanceller:         "the request's target or requestor, or Access package assignment manager",
	RuleSubject:           "the signed-in user, for themselves",
	RuleApprover:          "an approver of the request",
	RuleRoleAdmin:         "Identity Governance Administrator; Catalog owner for roles on their catalog",
	RuleTenantAdmin:       "Identity Governance Administrator",
}

func (r Rule) String() string {
	if n, ok := ruleNames[r]; ok {
		return n
	}
	return "no rule"
}

// DelegatedOnly is true for the rules about the signed-in user: Graph has
// no application permission for them, and refuses application tokens.
func (r Rule) DelegatedOnly() bool {
	return r == RuleCanceller || r == RuleSubject || r == RuleApprover
}

// Built-in role definitions, with the ids Entra gives them.
const (
	RoleIdentityGovernanceAdministrator = "45d8d3c5-c802-45c6-b32a-1d70b5e1e86e"
	RoleCatalogCreator                  = "ba92d953-d8e0-4e39-a797-0cbedb0a89e8"
	RoleCatalogOwner                    = "ae79f266-94d4-4dab-b730-feca7e132178"
	RoleCatalogReader                   = "44272f93-9762-48e8-af59-1b5351b1d6b3"
	RoleAccessPackageManager            = "7f480852-ebdc-47d4-87de-0d8498384a83"
	RoleAccessPackageAssignmentManager  = "e2182095-804a-4656-ae11-64734e9b7ae5"
)

// catalogRoles lists the roles on a catalog that satisfy a rule there.
// Every catalog role reads the whole catalog; tenant-wide callers (see
// TenantWide) satisfy every rule without one.
func (r Rule) catalogRoles() []string {
	switch r {
	case RuleReader, RuleReaderOrSubject:
		return []string{RoleCatalogOwner, RoleCatalogReader, RoleAccessPackageManager, RoleAccessPackageAssignmentManager}
	case RuleCatalogOwner, RuleRoleAdmin:
		return []string{RoleCatalogOwner}
	case RulePackageManager:
		return []string{RoleCatalogOwner, RoleAccessPackageManager}
	case RuleAssignmentManager, RuleRequestor, RuleCanceller:
		return []string{RoleCatalogOwner, RoleAccessPackageManager, RoleAccessPackageAssignmentManager}
	}
	return nil
}

// HeldRole is a role a principal holds: on one catalog, or tenant-wide
// when CatalogID is "" (Catalog creator, Identity Governance Administrator).
type HeldRole struct {
	RoleID    string
	CatalogID string
}

// holds reports whether the caller holds a role tenant-wide.
func (c Caller) holds(roleID string) bool {
	return slices.Contains(c.HeldRoles, HeldRole{RoleID: roleID})
}

// holdsOn reports whether the caller holds one of roles on a catalog.
func (c Caller) holdsOn(catalogID string, roles []string) bool {
	if catalogID == "" {
		return false
	}
	for _, h := range c.HeldRoles {
		if h.CatalogID == catalogID && slices.Contains(roles, h.RoleID) {
			return true
		}
	}
	return false
}

// hasEntitlementRole reports whether the caller holds any
// entitlement-management role, tenant-wide or on a catalog.
func (c Caller) hasEntitlementRole() bool { return len(c.HeldRoles) > 0 }

// Admits is a route's first check, made before anything is looked up: the
// caller's token carries one of the route's permissions. An application
// without it is let through when it holds an entitlement-management role,
// since roles are how Entra lets an application act without the
// application permission. Application tokens are refused where only a
// signed-in user may call. The rules that touch no object (creating a
// catalog, the tenant-wide changes) are applied here too.
func (c Caller) Admits(need Permission, r Rule) error {
	if c.IsApp && r.DelegatedOnly() {
		return E(KindForbidden, "this call acts for a signed-in user (%s); application tokens cannot make it", r)
	}
	if !c.Has(need) && !(c.IsApp && r != RulePermission && c.hasEntitlementRole()) {
		return E(KindForbidden, "the token lacks the permission for this call: it needs one of %s", joinNames(need))
	}
	if (r == RuleCatalogCreator || r == RuleTenantAdmin) && !c.May(r, "") {
		return E(KindForbidden, "this call needs the role %s, with EntitlementManagement.ReadWrite.All", r)
	}
	return nil
}

func joinNames(p Permission) string {
	out := ""
	for i, n := range p {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}

// TenantWide reports whether the caller reads (or, with write, changes)
// every catalog: an application with the application permission, or an
// Identity Governance Administrator (a signed-in one with the scope too).
func (c Caller) TenantWide(write bool) bool {
	p := ReadEntitlements
	if write {
		p = WriteEntitlements
	}
	if c.IsApp && c.Has(p) {
		return true
	}
	return c.holds(RoleIdentityGovernanceAdministrator) && (c.IsApp || c.Has(p))
}

// Sees reports whether the caller may read the objects of a catalog.
func (c Caller) Sees(catalogID string) bool {
	if c.TenantWide(false) {
		return true
	}
	if !c.IsApp && !c.Has(ReadEntitlements) {
		return false
	}
	return c.holdsOn(catalogID, RuleReader.catalogRoles())
}

// May reports whether the caller may do what rule r covers on the objects
// of a catalog ("" for tenant-wide rules).
func (c Caller) May(r Rule, catalogID string) bool {
	switch r {
	case RuleReader, RuleReaderOrSubject:
		return c.Sees(catalogID)
	case RulePermission:
		return true
	}
	if c.TenantWide(true) {
		return true
	}
	if !c.IsApp && !c.Has(WriteEntitlements) {
		return false
	}
	switch r {
	case RuleCatalogCreator:
		return c.holds(RoleCatalogCreator)
	case RuleTenantAdmin:
		return false
	}
	return c.holdsOn(catalogID, r.catalogRoles())
}

// authorize applies the caller's rule to an object of a catalog that it
// sees (catalogFor, packageFor and the like have told it is absent
// otherwise): one it may not change is forbidden.
func (c Caller) authorize(catalogID string) error {
	if !c.May(c.Rule, catalogID) {
		return E(KindForbidden, "this call needs the role %s on the catalog %q, or the Identity Governance Administrator role, with EntitlementManagement.ReadWrite.All", c.Rule, catalogID)
	}
	return nil
}

// authorizeRequest applies the caller's rule to a request: one it may not
// see is not found; its own (as target or requestor) it may cancel under
// RuleCanceller; otherwise it needs the rule on the request's catalog.
func (c Caller) authorizeRequest(r Request) error {
	if !c.SeesRequest(r) {
		return NotFoundf("no assignment request with id %q", r.ID)
	}
	own := c.ObjectID != "" && (r.Target.ID == c.ObjectID || r.Requestor.ID == c.ObjectID)
	if c.Rule == RuleCanceller && own {
		return nil
	}
	if !c.May(c.Rule, r.CatalogID) {
		if c.Rule == RuleCanceller {
			return E(KindForbidden, "a user cancels their own requests; others' need the role %s on their catalog, with EntitlementManagement.ReadWrite.All", RuleAssignmentManager)
		}
		return c.authorize(r.CatalogID)
	}
	return nil
}

// FieldCatalogRoleOf is a field of every noun that lives in a catalog (and
// of catalogs themselves) that is no property: compared with eq and a
// principal's id, it holds when the principal holds a role on the item's
// catalog. It is how the visibility of Caller.Visible runs inside the
// store's query, before anything is counted or paged.
const FieldCatalogRoleOf Field = "CatalogRoleOf"

// nothing is a condition no item meets: every item has an id.
var nothing = &Cond{Op: OpEq, Field: "ID", Value: Value{Kind: ValueNull}}

// Visible is the condition an item of a list must meet for the caller to
// see it, nil when the caller sees everything: the items of catalogs on
// which it holds a role, and its own requests and assignments.
func (c Caller) Visible(noun Noun) *Cond {
	if c.TenantWide(false) {
		return nil
	}
	me := Value{Kind: ValueString, S: c.ObjectID}
	var any []*Cond
	if c.IsApp || c.Has(ReadEntitlements) {
		any = append(any, &Cond{Op: OpEq, Field: FieldCatalogRoleOf, Value: me})
	}
	switch noun {
	case NounRequests:
		any = append(any, &Cond{Op: OpEq, Field: "Target.ID", Value: me}, &Cond{Op: OpEq, Field: "Requestor.ID", Value: me})
	case NounAssignments:
		any = append(any, &Cond{Op: OpEq, Field: "Target.ID", Value: me})
	case NounRoleAssignments:
		any = append(any, &Cond{Op: OpEq, Field: "PrincipalID", Value: me})
	}
	switch len(any) {
	case 0:
		return nothing
	case 1:
		return any[0]
	}
	return &Cond{Op: OpOr, Args: any}
}

// ListScope is what a list shows the caller under its route's rule: what
// it may see (Visible), except on the lists an address already limits to
// the caller's own items (filterByCurrentUser, an approver's approvals)
// and on the directory's, which no role limits.
func (c Caller) ListScope(noun Noun) *Cond {
	switch c.Rule {
	case RulePermission, RuleSubject, RuleApprover:
		return nil
	}
	return c.Visible(noun)
}

// SeesRequest is Visible for one request.
func (c Caller) SeesRequest(r Request) bool {
	return c.Sees(r.CatalogID) || (c.ObjectID != "" && (r.Target.ID == c.ObjectID || r.Requestor.ID == c.ObjectID))
}

// SeesAssignment is Visible for one assignment.
func (c Caller) SeesAssignment(a Assignment) bool {
	return c.Sees(a.CatalogID) || (c.ObjectID != "" && a.Target.ID == c.ObjectID)
}
