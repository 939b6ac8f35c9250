package graph

import "github.com/accessd/accessd/access"

// route is one row of the route table: who may call a method on a path,
// and what answers.
type route struct {
	method string
	path   string            // an http.ServeMux path pattern
	need   access.Permission // the token's permission: checked before anything is looked up
	rule   access.Rule       // who else, on the objects the call touches (access/authorize.go)
	h      handler
	list   bool // a stored list: its /$count segment is a route too, with the same rule
}

// Short names that keep the table on a screen or two.
var (
	read, write   = access.ReadEntitlements, access.WriteEntitlements
	self, readOwn = access.SelfService, access.ReadOrSelfService
)

const (
	perm     = access.RulePermission
	reader   = access.RuleReader
	creator  = access.RuleCatalogCreator
	owner    = access.RuleCatalogOwner
	pkgMgr   = access.RulePackageManager
	asgMgr   = access.RuleAssignmentManager
	submit   = access.RuleRequestor
	ownRead  = access.RuleReaderOrSubject
	canceler = access.RuleCanceller
	subject  = access.RuleSubject
	approver = access.RuleApprover
	roleAdm  = access.RuleRoleAdmin
	tenant   = access.RuleTenantAdmin
)

// routes is every route of the API but the public ones (health, readiness,
// metrics and the issuer's keys, which need no token). Paths are matched
// after ServeHTTP has rewritten OData key syntax (catalogs('id')) and the
// names of actions and functions (Cancel, microsoft.graph.cancel,
// filterByCurrentUser(on='…')) to the forms written here.
func (s *Server) routes() []route {
	v1, beta := "/v1.0"+emRoot, "/beta"+emRoot
	nestedRequests := requestSet{beta: true, name: "accessPackageAssignmentRequests"}
	rt := []route{
		// Catalogs, their packages and custom extensions: v1.0.
		{"GET", v1 + "/catalogs", read, reader, s.listCatalogs(catalogsV1), true},
		{"POST", v1 + "/catalogs", write, creator, s.createCatalog(catalogsV1), false},
		{"GET", v1 + "/catalogs/{id}", read, reader, s.getCatalog(catalogsV1), false},
		{"PATCH", v1 + "/catalogs/{id}", write, owner, s.patchCatalog, false},
		{"DELETE", v1 + "/catalogs/{id}", write, owner, s.deleteCatalog, false},
		{"GET", v1 + "/catalogs/{id}/accessPackages", read, reader, s.listPackages(packagesV1), true},
		{"GET", v1 + "/catalogs/{id}/customWorkflowExtensions", read, reader, s.listExtensions(extensionsV1), true},
		{"POST", v1 + "/catalogs/{id}/customWorkflowExtensions", write, owner, s.createExtension(extensionsV1), false},
		{"GET", v1 + "/catalogs/{id}/customWorkflowExtensions/{xid}", read, reader, s.getExtension(extensionsV1), false},
		{"PUT", v1 + "/catalogs/{id}/customWorkflowExtensions/{xid}", write, owner, s.replaceExtension(extensionsV1), false},
		{"DELETE", v1 + "/catalogs/{id}/customWorkflowExtensions/{xid}", write, owner, s.deleteExtension, false},
		// The same in beta.
		{"GET", beta + "/accessPackageCatalogs", read, reader, s.listCatalogs(catalogsBeta), true},
		{"POST", beta + "/accessPackageCatalogs", write, creator, s.createCatalog(catalogsBeta), false},
		{"GET", beta + "/accessPackageCatalogs/{id}", read, reader, s.getCatalog(catalogsBeta), false},
		{"PATCH", beta + "/accessPackageCatalogs/{id}", write, owner, s.patchCatalog, false},
		{"DELETE", beta + "/accessPackageCatalogs/{id}", write, owner, s.deleteCatalog, false},
		{"GET", beta + "/accessPackageCatalogs/{id}/accessPackages", read, reader, s.listPackages(packagesBeta), true},
		{"GET", beta + "/accessPackageCatalogs/{id}/accessPackageCustomWorkflowExtensions", read, reader, s.listExtensions(extensionsBeta), true},
		{"POST", beta + "/accessPackageCatalogs/{id}/accessPackageCustomWorkflowExtensions", write, owner, s.createExtension(extensionsBeta), false},
		{"GET", beta + "/accessPackageCatalogs/{id}/accessPackageCustomWorkflowExtensions/{xid}", read, reader, s.getExtension(extensionsBeta), false},
		{"PUT", beta + "/accessPackageCatalogs/{id}/accessPackageCustomWorkflowExtensions/{xid}", write, owner, s.replaceExtension(extensionsBeta), false},
		{"DELETE", beta + "/accessPackageCatalogs/{id}/accessPackageCustomWorkflowExtensions/{xid}", write, owner, s.deleteExtension, false},

		// Access packages and policies (beta has no policies yet).
		{"GET", v1 + "/accessPackages", read, reader, s.listPackages(packagesV1), true},
		{"POST", v1 + "/accessPackages", write, pkgMgr, s.createPackage(packagesV1), false},
		{"GET", v1 + "/accessPackages/{id}", read, reader, s.getPackage(packagesV1), false},
		{"PATCH", v1 + "/accessPackages/{id}", write, pkgMgr, s.patchPackage, false},
		{"DELETE", v1 + "/accessPackages/{id}", write, pkgMgr, s.deletePackage, false},
		{"GET", v1 + "/accessPackages/{id}/assignmentPolicies", read, reader, s.listPoliciesV1(), true},
		{"GET", v1 + "/accessPackages/filterByCurrentUser", readOwn, subject, s.packagesByCurrentUser(packagesV1), true},
		{"POST", v1 + "/accessPackages/{id}/getApplicablePolicyRequirements", readOwn, subject, s.applicablePolicyRequirements(packagesV1), false},
		{"GET", beta + "/accessPackages", read, reader, s.listPackages(packagesBeta), true},
		{"POST", beta + "/accessPackages", write, pkgMgr, s.createPackage(packagesBeta), false},
		{"GET", beta + "/accessPackages/{id}", read, reader, s.getPackage(packagesBeta), false},
		{"PATCH", beta + "/accessPackages/{id}", write, pkgMgr, s.patchPackage, false},
		{"DELETE", beta + "/accessPackages/{id}", write, pkgMgr, s.deletePackage, false},
		{"GET", beta + "/accessPackages/filterByCurrentUser", readOwn, subject, s.packagesByCurrentUser(packagesBeta), true},
		{"POST", beta + "/accessPackages/{id}/getApplicablePolicyRequirements", readOwn, subject, s.applicablePolicyRequirements(packagesBeta), false},
		// Beta's policies, a view of the stored policy (policy_beta.go).
		{"GET", beta + "/accessPackages/{id}/" + betaPolicies, read, reader, s.listPoliciesBeta(), true},
		{"GET", beta + "/" + betaPolicies, read, reader, s.listPoliciesBeta(), true},
		{"POST", beta + "/" + betaPolicies, write, pkgMgr, s.createPolicyBeta, false},
		{"GET", beta + "/" + betaPolicies + "/{id}", read, reader, s.getPolicyBeta, false},
		{"PUT", beta + "/" + betaPolicies + "/{id}", write, pkgMgr, s.replacePolicyBeta, false},
		{"DELETE", beta + "/" + betaPolicies + "/{id}", write, pkgMgr, s.deletePolicy, false},
		{"GET", v1 + "/assignmentPolicies", read, reader, s.listPoliciesV1(), true},
		{"POST", v1 + "/assignmentPolicies", write, pkgMgr, s.createPolicyV1, false},
		{"GET", v1 + "/assignmentPolicies/{id}", read, reader, s.getPolicyV1, false},
		{"PUT", v1 + "/assignmentPolicies/{id}", write, pkgMgr, s.replacePolicyV1, false},
		{"DELETE", v1 + "/assignmentPolicies/{id}", write, pkgMgr, s.deletePolicy, false},
	}
	for _, n := range []resourceNames{resourcesV1, resourcesBeta} {
		em, pkg, pv := "/"+n.version+emRoot, "/"+n.version+emRoot+"/accessPackages/{id}/", n.packages()
		rt = append(rt, []route{
			// Resources, and the requests that add them to catalogs and remove them.
			{"GET", em + "/" + n.resourceRequests, read, reader, s.listResourceRequests(n), true},
			{"POST", em + "/" + n.resourceRequests, write, owner, s.submitResourceRequest(n), false},
			{"GET", em + "/" + n.resourceRequests + "/{id}", read, reader, s.getResourceRequest(n), false},
			{"GET", em + "/" + n.resources, read, reader, s.listResources(n), true},
			{"GET", em + "/" + n.resources + "/{rid}", read, reader, s.getResource(n), false},
			{"GET", em + "/" + n.resources + "/{rid}/" + n.roles, read, reader, s.listRolesOfResource(n), false},
			{"GET", em + "/" + n.resources + "/{rid}/" + n.scopes, read, reader, s.listScopesOfResource(n), false},
			{"GET", em + "/" + n.catalogs + "/{id}/" + n.resources, read, reader, s.listResources(n), true},
			{"GET", em + "/" + n.catalogs + "/{id}/" + n.resources + "/{rid}", read, reader, s.getResource(n), false},
			{"GET", em + "/" + n.catalogs + "/{id}/" + n.catalogRoles, read, reader, s.listCatalogRoles(n), false},
			{"GET", em + "/" + n.catalogs + "/{id}/" + n.catalogScopes, read, reader, s.listCatalogScopes(n), false},
			// A package's resource role scopes and incompatibilities.
			{"GET", pkg + n.roleScopes, read, reader, s.listRoleScopes(n), false},
			{"POST", pkg + n.roleScopes, write, pkgMgr, s.addRoleScope(n), false},
			{"DELETE", pkg + n.roleScopes + "/{rsid}", write, pkgMgr, s.removeRoleScope, false},
			{"GET", pkg + "incompatibleAccessPackages", read, reader, s.listIncompatiblePackages(pv, false), false},
			{"GET", pkg + "accessPackagesIncompatibleWith", read, reader, s.listIncompatiblePackages(pv, true), false},
			{"POST", pkg + "incompatibleAccessPackages/$ref", write, pkgMgr, s.addIncompatible(access.IncompatiblePackage), false},
			{"DELETE", pkg + "incompatibleAccessPackages/{otherId}/$ref", write, pkgMgr, s.removeIncompatible(access.IncompatiblePackage), false},
			{"GET", pkg + "incompatibleGroups", read, reader, s.listIncompatibleGroups(n), false},
			{"POST", pkg + "incompatibleGroups/$ref", write, pkgMgr, s.addIncompatible(access.IncompatibleGroup), false},
			{"DELETE", pkg + "incompatibleGroups/{otherId}/$ref", write, pkgMgr, s.removeIncompatible(access.IncompatibleGroup), false},
		}...)
	}
	// Requests: v1.0's assignmentRequests, beta's accessPackageAssignmentRequests and assignmentRequests.
	for _, rs := range []requestSet{{beta: false, name: "assignmentRequests"}, {beta: true, name: "accessPackageAssignmentRequests"}, {beta: true, name: "assignmentRequests"}} {
		base := "/" + rs.version() + emRoot + "/" + rs.name
		rt = append(rt, []route{
			{"GET", base, read, reader, s.listRequests(rs), true},
			{"POST", base, self, submit, s.submitRequest(rs), false},
			{"GET", base + "/filterByCurrentUser", readOwn, subject, s.requestsByCurrentUser(rs), true},
			{"GET", base + "/{id}", readOwn, ownRead, s.getRequest(rs), false},
			{"DELETE", base + "/{id}", write, asgMgr, s.deleteRequest, false},
			{"GET", base + "/{id}/history", readOwn, ownRead, s.requestHistory(rs), false},
			{"POST", base + "/{id}/cancel", self, canceler, s.cancelRequest, false},
			{"POST", base + "/{id}/resume", write, asgMgr, s.resumeRequest, false},
			{"POST", base + "/{id}/reprocess", write, asgMgr, s.reprocessRequest, false},
		}...)
	}
	rt = append(rt, []route{
		// The v1.0 alias real integrations call, and beta's resume under an assignment.
		{"POST", v1 + "/accessPackageAssignmentRequests/{id}/cancel", self, canceler, s.cancelRequest, false},
		{"POST", v1 + "/accessPackageAssignmentRequests/{id}/resume", write, asgMgr, s.resumeRequest, false},
		{"POST", v1 + "/accessPackageAssignmentRequests/{id}/reprocess", write, asgMgr, s.reprocessRequest, false},
		// Beta's requests of one assignment, contained in it.
		{"GET", beta + "/accessPackageAssignments/{assignmentId}/accessPackageAssignmentRequests", read, reader, s.listRequestsOfAssignment(nestedRequests), true},
		{"GET", beta + "/accessPackageAssignments/{assignmentId}/accessPackageAssignmentRequests/{id}", readOwn, ownRead, s.getRequestOfAssignment(nestedRequests), false},
		{"POST", beta + "/accessPackageAssignments/{assignmentId}/accessPackageAssignmentRequests/{id}/cancel", self, canceler, s.cancelRequestOfAssignment, false},
		{"POST", beta + "/accessPackageAssignments/{assignmentId}/accessPackageAssignmentRequests/{id}/resume", write, asgMgr, s.resumeRequest, false},
		{"POST", beta + "/accessPackageAssignments/{assignmentId}/accessPackageAssignmentRequests/{id}/reprocess", write, asgMgr, s.reprocessRequestOfAssignment, false},
		{"GET", beta + "/accessPackageAssignments/{id}/accessPackageAssignmentResourceRoles", readOwn, ownRead, s.listAssignmentResourceRoles, false},
	}...)
	// Assignments.
	for _, as := range []assignmentSet{{beta: false}, {beta: true}} {
		base := "/" + as.version() + emRoot + "/" + as.name()
		rt = append(rt, []route{
			{"GET", base, read, reader, s.listAssignments(as), true},
			{"GET", base + "/filterByCurrentUser", readOwn, subject, s.assignmentsByCurrentUser(as), true},
			{"GET", base + "/additionalAccess", read, reader, s.listAdditionalAccess(as), false},
			{"GET", base + "/{id}", readOwn, ownRead, s.getAssignment(as), false},
		}...)
	}
	// Approvals: the approvers' own, with the delegated scope and no role.
	for _, as := range []approvalSet{approvalsV1, approvalsBeta} {
		base := "/" + as.version + emRoot + "/" + approvalsSet
		rt = append(rt, []route{
			{"GET", base + "/filterByCurrentUser", read, approver, s.approvalsByCurrentUser(as), true},
			{"GET", base + "/{id}", read, approver, s.getApproval(as), false},
			{"GET", base + "/{id}/" + as.children, read, approver, s.listApprovalStages(as), false},
			{"GET", base + "/{id}/" + as.children + "/{stageId}", read, approver, s.getApprovalStage(as), false},
			{"PATCH", base + "/{id}/" + as.children + "/{stageId}", write, approver, s.decideApprovalStage(as), false},
		}...)
	}
	// Roles: entitlement management's, on catalogs or tenant-wide, and the
	// directory's Identity Governance Administrator.
	for _, version := range []string{"v1.0", "beta"} {
		em, dir := roleProvider{version, "entitlementManagement", false}, roleProvider{version, "directory", true}
		base := "/" + version + "/roleManagement/"
		rt = append(rt, []route{
			{"GET", base + "entitlementManagement/roleDefinitions", read, perm, s.listRoleDefinitions(em), false},
			{"GET", base + "entitlementManagement/roleDefinitions/{id}", read, perm, s.getRoleDefinition(em), false},
			{"GET", base + "entitlementManagement/roleAssignments", read, reader, s.listRoleAssignments(em), true},
			{"POST", base + "entitlementManagement/roleAssignments", write, roleAdm, s.createRoleAssignment(em), false},
			{"GET", base + "entitlementManagement/roleAssignments/{id}", read, reader, s.getRoleAssignment(em), false},
			{"DELETE", base + "entitlementManagement/roleAssignments/{id}", write, roleAdm, s.deleteRoleAssignment(em), false},
			{"GET", base + "directory/roleAssignments", read, reader, s.listRoleAssignments(dir), true},
			{"POST", base + "directory/roleAssignments", write, tenant, s.createRoleAssignment(dir), false},
			{"GET", base + "directory/roleAssignments/{id}", read, reader, s.getRoleAssignment(dir), false},
			{"DELETE", base + "directory/roleAssignments/{id}", write, tenant, s.deleteRoleAssignment(dir), false},
		}...)
	}
	// The directory, the same in both versions, with Graph's own permissions.
	for _, version := range []string{"v1.0", "beta"} {
		d, p := directory{s: s, version: version}, "/"+version
		ru, wu, rg, wg, ra, wa := access.ReadUsers, access.WriteUsers, access.ReadGroups, access.WriteGroups, access.ReadApplications, access.WriteApplications
		rt = append(rt, []route{
			{"GET", p + "/users", ru, perm, directoryList(s, userFields, d.context("users", false), userShape), true},
			{"POST", p + "/users", wu, perm, d.createUser, false},
			{"GET", p + "/users/{id}", ru, perm, getHandler(d.context("users", true), s.svc.User, userShape), false},
			{"PATCH", p + "/users/{id}", wu, perm, d.updateUser, false},
			{"DELETE", p + "/users/{id}", wu, perm, d.deleteUser, false},
			{"GET", p + "/users/{id}/manager", ru, perm, d.getManager, false},
			{"PUT", p + "/users/{id}/manager/$ref", wu, perm, d.setManager, false},
			{"DELETE", p + "/users/{id}/manager/$ref", wu, perm, d.removeManager, false},
			{"GET", p + "/groups", rg, perm, directoryList(s, groupFields, d.context("groups", false), groupShape), true},
			{"POST", p + "/groups", wg, perm, d.createGroup, false},
			{"GET", p + "/groups/{id}", rg, perm, getHandler(d.context("groups", true), s.svc.Group, groupShape), false},
			{"PATCH", p + "/groups/{id}", wg, perm, d.updateGroup, false},
			{"DELETE", p + "/groups/{id}", wg, perm, d.deleteGroup, false},
			{"GET", p + "/groups/{id}/members", rg, perm, d.listRelation(access.GroupMembers), false},
			{"POST", p + "/groups/{id}/members/$ref", wg, perm, d.addRelation(access.GroupMembers), false},
			{"DELETE", p + "/groups/{id}/members/{objectId}/$ref", wg, perm, d.removeRelation(access.GroupMembers), false},
			{"DELETE", p + "/groups/{id}/members/$ref", wg, perm, d.removeRelation(access.GroupMembers), false}, // ?$id=<url>
			{"GET", p + "/groups/{id}/owners", rg, perm, d.listRelation(access.GroupOwners), false},
			{"POST", p + "/groups/{id}/owners/$ref", wg, perm, d.addRelation(access.GroupOwners), false},
			{"DELETE", p + "/groups/{id}/owners/{objectId}/$ref", wg, perm, d.removeRelation(access.GroupOwners), false},
			{"DELETE", p + "/groups/{id}/owners/$ref", wg, perm, d.removeRelation(access.GroupOwners), false}, // ?$id=<url>
			{"GET", p + "/servicePrincipals", ra, perm, directoryList(s, servicePrincipalFields, d.context("servicePrincipals", false), servicePrincipalShape), true},
			{"POST", p + "/servicePrincipals", wa, perm, d.createServicePrincipal, false},
			{"GET", p + "/servicePrincipals/{id}", ra, perm, getHandler(d.context("servicePrincipals", true), s.svc.ServicePrincipal, servicePrincipalShape), false},
			{"PATCH", p + "/servicePrincipals/{id}", wa, perm, d.updateServicePrincipal, false},
			{"DELETE", p + "/servicePrincipals/{id}", wa, perm, d.deleteServicePrincipal, false},
			{"GET", p + "/servicePrincipals/{id}/appRoleAssignedTo", ra, perm, d.listAppRoleAssignedTo, false},
			{"POST", p + "/servicePrincipals/{id}/appRoleAssignedTo", wa, perm, d.assignAppRole, false},
			{"DELETE", p + "/servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}", wa, perm, d.removeAppRoleAssignment, false},
		}...)
	}
	if s.svc.RecordsCallouts() {
		// The recorded attempts of one extension (--dev, --record-callouts).
		rt = append(rt, route{"GET", "/_accessd/catalogs/{id}/customWorkflowExtensions/{xid}/calloutAttempts", read, reader, s.listExtensionCallouts, false})
	}
	if s.cfg.Dev {
		// --dev mode: the virtual clock, the callout attempts and a reset.
		rt = append(rt, []route{
			{"POST", "/_accessd/clock", write, tenant, s.moveClock, false},
			{"GET", "/_accessd/callouts", write, tenant, s.listCallouts, false},
			{"POST", "/_accessd/reset", write, tenant, s.reset, false},
		}...)
	}
	return rt
}
