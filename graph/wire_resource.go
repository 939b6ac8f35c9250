package graph

import (
	"errors"
	"regexp"
	"strings"

	"github.com/accessd/accessd/access"
)

// Wire shapes of catalog resources, their roles and scopes, the role scopes
// a package grants and the requests that add and remove resources, in v1.0
// and beta. Navigation properties are `any`, as in wire_request.go: left
// out (nil), the object, or null (jsonNull) when it no longer exists.

// resourceNames is what each version calls the sets and navigation
// properties of resources; the handlers are shared and read the names here.
type resourceNames struct {
	beta             bool
	version          string
	catalogs         string // catalogs, accessPackageCatalogs
	resources        string // resources, accessPackageResources
	resourceRequests string // resourceRequests, accessPackageResourceRequests
	catalogRoles     string // a catalog's roles: resourceRoles, accessPackageResourceRoles
	catalogScopes    string // a catalog's scopes: resourceScopes, accessPackageResourceScopes
	roles, scopes    string // a resource's: roles and scopes, accessPackageResourceRoles and …Scopes
	resource         string // the resource of a role, a scope or a request: resource, accessPackageResource
	roleScopes       string // a package's: resourceRoleScopes, accessPackageResourceRoleScopes
	role, scope      string // a role scope's: role and scope, accessPackageResourceRole and …Scope
}

var (
	resourcesV1 = resourceNames{version: "v1.0", catalogs: "catalogs", resources: "resources", resourceRequests: "resourceRequests",
		catalogRoles: "resourceRoles", catalogScopes: "resourceScopes", roles: "roles", scopes: "scopes", resource: "resource",
		roleScopes: "resourceRoleScopes", role: "role", scope: "scope"}
	resourcesBeta = resourceNames{beta: true, version: "beta", catalogs: "accessPackageCatalogs", resources: "accessPackageResources",
		resourceRequests: "accessPackageResourceRequests", catalogRoles: "accessPackageResourceRoles", catalogScopes: "accessPackageResourceScopes",
		roles: "accessPackageResourceRoles", scopes: "accessPackageResourceScopes", resource: "accessPackageResource",
		roleScopes: "accessPackageResourceRoleScopes", role: "accessPackageResourceRole", scope: "accessPackageResourceScope"}
)

// resourceExpandable lists what $expand may name on a resource.
func (n resourceNames) resourceExpandable() []string { return []string{n.roles, n.scopes} }

// roleScopeExpandable lists what $expand may name on a role scope, under prefix.
func (n resourceNames) roleScopeExpandable(prefix string) []string {
	return []string{prefix + n.role, prefix + n.role + "/" + n.resource, prefix + n.scope, prefix + n.scope + "/" + n.resource}
}

// ---- resources ----

// resourceV1 is accessPackageResource in v1.0. accessd's groups and
// applications carry no attributes to collect, so attributes is always empty.
type resourceV1 struct {
	ID               string  `json:"id"`
	DisplayName      string  `json:"displayName"`
	Description      *string `json:"description"`
	OriginID         string  `json:"originId"`
	OriginSystem     string  `json:"originSystem"`
	Attributes       []any   `json:"attributes"`
	CreatedDateTime  *string `json:"createdDateTime"`
	ModifiedDateTime *string `json:"modifiedDateTime"`
	Roles            any     `json:"roles,omitempty"`
	Scopes           any     `json:"scopes,omitempty"`
}

// resourceBeta is accessPackageResource in beta: addedOn for the creation
// time, and resourceType naming what kind of object it is.
type resourceBeta struct {
	ID                  string  `json:"id"`
	DisplayName         string  `json:"displayName"`
	Description         *string `json:"description"`
	OriginID            string  `json:"originId"`
	OriginSystem        string  `json:"originSystem"`
	ResourceType        string  `json:"resourceType"`
	URL                 *string `json:"url"`
	AddedBy             *string `json:"addedBy"`
	AddedOn             *string `json:"addedOn"`
	IsPendingOnboarding bool    `json:"isPendingOnboarding"`
	Attributes          []any   `json:"attributes"`
	Roles               any     `json:"accessPackageResourceRoles,omitempty"`
	Scopes              any     `json:"accessPackageResourceScopes,omitempty"`
}

// resourceTypeOf is beta's resourceType, in the words Entra uses.
func resourceTypeOf(originSystem string) string {
	if originSystem == access.OriginApplication {
		return "Application"
	}
	return "Security Group"
}

// resourceOut writes a resource with the roles and scopes $expand names.
func resourceOut(n resourceNames, res access.Resource, expand expandSet) any {
	var roles, scopes any
	if expand.has(n.roles) {
		out := []any{}
		for _, role := range res.Roles {
			out = append(out, roleOut(n, res, role, nil))
		}
		roles = out
	}
	if expand.has(n.scopes) {
		out := []any{}
		for _, scope := range res.Scopes {
			out = append(out, scopeOut(n, res, scope, nil))
		}
		scopes = out
	}
	if n.beta {
		return resourceBeta{ID: res.ID, DisplayName: res.DisplayName, Description: optional(res.Description), OriginID: res.OriginID,
			OriginSystem: res.OriginSystem, ResourceType: resourceTypeOf(res.OriginSystem), AddedOn: timeOut(res.CreatedDateTime),
			Attributes: []any{}, Roles: roles, Scopes: scopes}
	}
	return resourceV1{ID: res.ID, DisplayName: res.DisplayName, Description: optional(res.Description), OriginID: res.OriginID,
		OriginSystem: res.OriginSystem, Attributes: []any{}, CreatedDateTime: timeOut(res.CreatedDateTime),
		ModifiedDateTime: timeOut(res.ModifiedDateTime), Roles: roles, Scopes: scopes}
}

// resourceFieldsV1 are what $filter and $orderby may name on v1.0
// resources; the roles and scopes of a catalog filter by their resource's
// (resource/id names the resource's id there).
var resourceFieldsV1 = wireFields{noun: access.NounResources, paths: map[string]wireField{
	"id":               {field: "ID"},
	"displayName":      {field: "DisplayName"},
	"description":      {field: "Description"},
	"originId":         {field: "OriginID"},
	"originSystem":     {field: "OriginSystem"},
	"createdDateTime":  {field: "CreatedDateTime"},
	"modifiedDateTime": {field: "ModifiedDateTime"},
}}

// resourceFields is what $filter and $orderby may name on the version's resources.
func (n resourceNames) resourceFields() wireFields {
	if n.beta {
		return resourceFieldsBeta
	}
	return resourceFieldsV1
}

// resourceFieldsBeta are what $filter and $orderby may name on beta
// resources: beta's names, and v1.0's.
var resourceFieldsBeta = resourceFieldsV1.with(map[string]wireField{
	"addedOn": {field: "CreatedDateTime"},
})

// ---- roles and scopes ----

// resourceRoleWire is accessPackageResourceRole, the same in both versions
// but for the name of its resource.
type resourceRoleWire struct {
	ID                    string  `json:"id"`
	DisplayName           string  `json:"displayName"`
	Description           *string `json:"description"`
	OriginID              string  `json:"originId"`
	OriginSystem          string  `json:"originSystem"`
	Resource              any     `json:"resource,omitempty"`
	AccessPackageResource any     `json:"accessPackageResource,omitempty"`
}

// roleOut writes a role of res, with res itself when $expand names it.
func roleOut(n resourceNames, res access.Resource, role access.ResourceRole, expand expandSet) any {
	out := resourceRoleWire{ID: role.ID, DisplayName: role.DisplayName, Description: optional(role.Description),
		OriginID: role.OriginID, OriginSystem: res.OriginSystem}
	if expand.has(n.resource) {
		if n.beta {
			out.AccessPackageResource = resourceOut(n, res, nil)
		} else {
			out.Resource = resourceOut(n, res, nil)
		}
	}
	return out
}

// resourcePartFields is what $filter may name on a catalog's roles and
// scopes, which are listed from their resources: the resource's origin
// system and id (beta also reads accessPackageResource/id).
func (n resourceNames) resourcePartFields() wireFields {
	paths := map[string]wireField{"originSystem": {field: "OriginSystem"}, "resource/id": {field: "ID"}}
	if n.beta {
		paths["accessPackageResource/id"] = wireField{field: "ID"}
	}
	return wireFields{noun: access.NounResources, paths: paths}
}

// resourceScopeV1 is accessPackageResourceScope in v1.0.
type resourceScopeV1 struct {
	ID           string  `json:"id"`
	DisplayName  string  `json:"displayName"`
	Description  *string `json:"description"`
	OriginID     string  `json:"originId"`
	OriginSystem string  `json:"originSystem"`
	IsRootScope  bool    `json:"isRootScope"`
	Resource     any     `json:"resource,omitempty"`
}

// resourceScopeBeta is accessPackageResourceScope in beta. The scopes of
// groups and applications belong to no one role, and have no URL.
type resourceScopeBeta struct {
	ID                    string  `json:"id"`
	DisplayName           string  `json:"displayName"`
	Description           *string `json:"description"`
	OriginID              string  `json:"originId"`
	OriginSystem          string  `json:"originSystem"`
	IsRootScope           bool    `json:"isRootScope"`
	RoleOriginID          *string `json:"roleOriginId"`
	URL                   *string `json:"url"`
	AccessPackageResource any     `json:"accessPackageResource,omitempty"`
}

// scopeOut writes a scope of res, with res itself when $expand names it.
func scopeOut(n resourceNames, res access.Resource, scope access.ResourceScope, expand expandSet) any {
	var resource any
	if expand.has(n.resource) {
		resource = resourceOut(n, res, nil)
	}
	if n.beta {
		return resourceScopeBeta{ID: scope.ID, DisplayName: scope.DisplayName, Description: optional(scope.Description),
			OriginID: scope.OriginID, OriginSystem: res.OriginSystem, IsRootScope: scope.IsRootScope, AccessPackageResource: resource}
	}
	return resourceScopeV1{ID: scope.ID, DisplayName: scope.DisplayName, Description: optional(scope.Description),
		OriginID: scope.OriginID, OriginSystem: res.OriginSystem, IsRootScope: scope.IsRootScope, Resource: resource}
}

// ---- role scopes ----

// roleScopeV1 is accessPackageResourceRoleScope in v1.0.
type roleScopeV1 struct {
	ID              string  `json:"id"`
	CreatedDateTime *string `json:"createdDateTime"`
	Role            any     `json:"role,omitempty"`
	Scope           any     `json:"scope,omitempty"`
}

// roleScopeBeta is accessPackageResourceRoleScope in beta. A role scope is
// never changed once made, so it was last modified when it was created;
// accessd does not record who made it.
type roleScopeBeta struct {
	ID               string  `json:"id"`
	CreatedBy        *string `json:"createdBy"`
	CreatedDateTime  *string `json:"createdDateTime"`
	ModifiedBy       *string `json:"modifiedBy"`
	ModifiedDateTime *string `json:"modifiedDateTime"`
	Role             any     `json:"accessPackageResourceRole,omitempty"`
	Scope            any     `json:"accessPackageResourceScope,omitempty"`
}

// roleScopeOut writes a role scope with its role and scope when $expand
// names them; null when the resource they belong to is gone.
func roleScopeOut(n resourceNames, v access.RoleScopeView, expand expandSet) any {
	var role, scope any
	if expand.has(n.role) {
		role = jsonNull
		if v.Role.ID != "" {
			role = roleOut(n, v.Resource, v.Role, expand[n.role])
		}
	}
	if expand.has(n.scope) {
		scope = jsonNull
		if v.Scope.ID != "" {
			scope = scopeOut(n, v.Resource, v.Scope, expand[n.scope])
		}
	}
	if n.beta {
		return roleScopeBeta{ID: v.ID, CreatedDateTime: timeOut(v.CreatedDateTime), ModifiedDateTime: timeOut(v.CreatedDateTime),
			Role: role, Scope: scope}
	}
	return roleScopeV1{ID: v.ID, CreatedDateTime: timeOut(v.CreatedDateTime), Role: role, Scope: scope}
}

// ---- resource requests ----

// resourceRequestV1 is accessPackageResourceRequest in v1.0.
type resourceRequestV1 struct {
	ID              string  `json:"id"`
	RequestType     string  `json:"requestType"`
	State           string  `json:"state"`
	CreatedDateTime *string `json:"createdDateTime"`
	Catalog         any     `json:"catalog,omitempty"`
	Resource        any     `json:"resource,omitempty"`
}

// resourceRequestBeta is accessPackageResourceRequest in beta: PascalCase
// strings, the catalog by id. accessd carries a request out at once, so
// executeImmediately is always true.
type resourceRequestBeta struct {
	ID                    string  `json:"id"`
	CatalogID             string  `json:"catalogId"`
	RequestType           string  `json:"requestType"`
	RequestState          string  `json:"requestState"`
	RequestStatus         string  `json:"requestStatus"`
	Justification         *string `json:"justification"`
	IsValidationOnly      bool    `json:"isValidationOnly"`
	ExecuteImmediately    bool    `json:"executeImmediately"`
	ExpirationDateTime    *string `json:"expirationDateTime"`
	AccessPackageResource any     `json:"accessPackageResource,omitempty"`
	Requestor             any     `json:"requestor,omitempty"`
}

// resourceRequestFieldsV1 are what $filter and $orderby may name on v1.0
// resource requests, with the ids of the catalog and the resource through
// their navigation properties.
var resourceRequestFieldsV1 = wireFields{noun: access.NounResourceRequests, paths: map[string]wireField{
	"id":                    {field: "ID"},
	"requestType":           {field: "Type", member: resourceRequestTypeOf},
	"state":                 {field: "State", member: resourceRequestStateOf},
	"createdDateTime":       {field: "CreatedDateTime"},
	"catalog/id":            {field: "CatalogID"},
	"resource/id":           {field: "ResourceID"},
	"resource/originId":     {field: "OriginID"},
	"resource/originSystem": {field: "OriginSystem"},
}}

// resourceRequestFields is what $filter and $orderby may name on the
// version's resource requests.
func (n resourceNames) resourceRequestFields() wireFields {
	if n.beta {
		return resourceRequestFieldsBeta
	}
	return resourceRequestFieldsV1
}

// resourceRequestFieldsBeta are what $filter and $orderby may name on beta
// resource requests: beta's names, and v1.0's.
var resourceRequestFieldsBeta = resourceRequestFieldsV1.with(map[string]wireField{
	"catalogId":                          {field: "CatalogID"},
	"requestState":                       {field: "State", member: resourceRequestStateOf},
	"requestStatus":                      {field: "Status"},
	"justification":                      {field: "Justification"},
	"accessPackageResource/id":           {field: "ResourceID"},
	"accessPackageResource/originId":     {field: "OriginID"},
	"accessPackageResource/originSystem": {field: "OriginSystem"},
	"requestor/id":                       {field: "Requestor.ID"},
	"requestor/objectId":                 {field: "Requestor.ID"},
})

// resourceRequestTypeOf and resourceRequestStateOf read the members of a
// resource request's type and state in any case, as stored.
func resourceRequestTypeOf(s string) (string, bool) {
	return memberIn([]string{access.ResourceRequestAdd, access.ResourceRequestRemove}, s)
}

func resourceRequestStateOf(s string) (string, bool) {
	return memberIn([]string{access.ResourceRequestDone}, s)
}

func memberIn(members []string, s string) (string, bool) {
	for _, m := range members {
		if strings.EqualFold(m, s) {
			return m, true
		}
	}
	return "", false
}

// ---- create bodies ----

// resourceRequestInput is a resource request as a client sends it, with the
// v1.0 or the beta names. Read-only properties copied from a GET are
// accepted and ignored.
type resourceRequestInput struct {
	ODataType     string         `json:"@odata.type"`
	RequestType   *string        `json:"requestType"`
	Justification *string        `json:"justification"`
	Resource      *resourceInput `json:"resource"` // v1.0
	Catalog       *catalogRef    `json:"catalog"`  // v1.0
	// beta
	AccessPackageResource *resourceInput `json:"accessPackageResource"`
	CatalogID             *string        `json:"catalogId"`
	IsValidationOnly      *bool          `json:"isValidationOnly"`
	ExecuteImmediately    *bool          `json:"executeImmediately"` // accessd always does
	ID                    ignored        `json:"id"`
	State                 ignored        `json:"state"`
	CreatedDateTime       ignored        `json:"createdDateTime"`
	RequestState          ignored        `json:"requestState"`
	RequestStatus         ignored        `json:"requestStatus"`
	ExpirationDateTime    ignored        `json:"expirationDateTime"`
	Requestor             ignored        `json:"requestor"`
}

// resourceInput names a resource: by id, or by originId and originSystem.
// A whole resource as a GET returns it (either version) is accepted.
type resourceInput struct {
	ODataType           ignored `json:"@odata.type"`
	ID                  *string `json:"id"`
	OriginID            *string `json:"originId"`
	OriginSystem        *string `json:"originSystem"`
	DisplayName         ignored `json:"displayName"`
	Description         ignored `json:"description"`
	Attributes          ignored `json:"attributes"`
	CreatedDateTime     ignored `json:"createdDateTime"`
	ModifiedDateTime    ignored `json:"modifiedDateTime"`
	ResourceType        ignored `json:"resourceType"`
	URL                 ignored `json:"url"`
	AddedBy             ignored `json:"addedBy"`
	AddedOn             ignored `json:"addedOn"`
	IsPendingOnboarding ignored `json:"isPendingOnboarding"`
	Roles               ignored `json:"roles"`
	Scopes              ignored `json:"scopes"`
	BetaRoles           ignored `json:"accessPackageResourceRoles"`
	BetaScopes          ignored `json:"accessPackageResourceScopes"`
}

// toDomain maps a body onto access.ResourceRequestInput, refusing a body
// that names one thing by its v1.0 and its beta name at once.
func (in resourceRequestInput) toDomain() (access.ResourceRequestInput, error) {
	var out access.ResourceRequestInput
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageResourceRequest"); err != nil {
		return out, err
	}
	if in.Resource != nil && in.AccessPackageResource != nil {
		return out, access.Invalidf("properties 'resource' (v1.0) and 'accessPackageResource' (beta) name the same thing; send one")
	}
	if in.Catalog != nil && in.CatalogID != nil {
		return out, access.Invalidf("properties 'catalog' (v1.0) and 'catalogId' (beta) name the same thing; send one")
	}
	out.Type, out.Justification = str(in.RequestType), str(in.Justification)
	out.ValidationOnly = boolean(in.IsValidationOnly)
	out.CatalogID = str(in.CatalogID)
	if in.Catalog != nil {
		id, ok := in.Catalog.ID.(string)
		if !ok {
			return out, access.Invalidf("property 'catalog.id' must be a string naming the catalog")
		}
		out.CatalogID = id
	}
	res := in.Resource
	if res == nil {
		res = in.AccessPackageResource
	}
	if res != nil {
		out.ResourceID, out.OriginID, out.OriginSystem = str(res.ID), str(res.OriginID), str(res.OriginSystem)
	}
	return out, nil
}

// roleScopeInput is a role scope as Graph's create examples send it: the
// role (by id, or by originId with its resource) and the scope (by id or
// originId; the root scope when absent), with v1.0 or beta names.
type roleScopeInput struct {
	ODataType                  string              `json:"@odata.type"`
	Role                       *resourceRoleInput  `json:"role"`                       // v1.0
	Scope                      *resourceScopeInput `json:"scope"`                      // v1.0
	AccessPackageResourceRole  *resourceRoleInput  `json:"accessPackageResourceRole"`  // beta
	AccessPackageResourceScope *resourceScopeInput `json:"accessPackageResourceScope"` // beta
	ID                         ignored             `json:"id"`
	CreatedDateTime            ignored             `json:"createdDateTime"`
	CreatedBy                  ignored             `json:"createdBy"`
	ModifiedBy                 ignored             `json:"modifiedBy"`
	ModifiedDateTime           ignored             `json:"modifiedDateTime"`
}

type resourceRoleInput struct {
	ODataType             ignored        `json:"@odata.type"`
	ID                    *string        `json:"id"`
	OriginID              *string        `json:"originId"`
	OriginSystem          *string        `json:"originSystem"`
	Resource              *resourceInput `json:"resource"`              // v1.0
	AccessPackageResource *resourceInput `json:"accessPackageResource"` // beta
	DisplayName           ignored        `json:"displayName"`
	Description           ignored        `json:"description"`
	Type                  ignored        `json:"type"`
}

type resourceScopeInput struct {
	ODataType             ignored `json:"@odata.type"`
	ID                    *string `json:"id"`
	OriginID              *string `json:"originId"`
	OriginSystem          ignored `json:"originSystem"`
	DisplayName           ignored `json:"displayName"`
	Description           ignored `json:"description"`
	IsRootScope           ignored `json:"isRootScope"`
	RoleOriginID          ignored `json:"roleOriginId"`
	URL                   ignored `json:"url"`
	Resource              ignored `json:"resource"`
	AccessPackageResource ignored `json:"accessPackageResource"`
}

// toDomain maps a body onto access.RoleScopeInput. The resource's own
// originSystem wins over the role's, which clients often send alone.
func (in roleScopeInput) toDomain() (access.RoleScopeInput, error) {
	var out access.RoleScopeInput
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageResourceRoleScope"); err != nil {
		return out, err
	}
	if in.Role != nil && in.AccessPackageResourceRole != nil {
		return out, access.Invalidf("properties 'role' (v1.0) and 'accessPackageResourceRole' (beta) name the same thing; send one")
	}
	if in.Scope != nil && in.AccessPackageResourceScope != nil {
		return out, access.Invalidf("properties 'scope' (v1.0) and 'accessPackageResourceScope' (beta) name the same thing; send one")
	}
	role, scope := in.Role, in.Scope
	if role == nil {
		role = in.AccessPackageResourceRole
	}
	if scope == nil {
		scope = in.AccessPackageResourceScope
	}
	if role == nil {
		return out, access.Invalidf("property 'role' is required: the resource role to grant, by id, or by originId with its resource")
	}
	if role.Resource != nil && role.AccessPackageResource != nil {
		return out, access.Invalidf("properties 'role.resource' (v1.0) and 'role.accessPackageResource' (beta) name the same thing; send one")
	}
	out.RoleID, out.RoleOriginID, out.OriginSystem = str(role.ID), str(role.OriginID), str(role.OriginSystem)
	res := role.Resource
	if res == nil {
		res = role.AccessPackageResource
	}
	if res != nil {
		out.ResourceID, out.ResourceOriginID = str(res.ID), str(res.OriginID)
		if res.OriginSystem != nil {
			out.OriginSystem = *res.OriginSystem
		}
	}
	if scope != nil {
		out.ScopeID, out.ScopeOriginID = str(scope.ID), str(scope.OriginID)
	}
	return out, nil
}

// betaResourcePaths matches the v1.0 property paths the service names in
// its messages about resource requests and role scopes.
var betaResourcePaths = []struct {
	v1   *regexp.Regexp
	beta string
}{
	{regexp.MustCompile(`'role\.resource\b`), "'accessPackageResourceRole.accessPackageResource"},
	{regexp.MustCompile(`'role\b`), "'accessPackageResourceRole"},
	{regexp.MustCompile(`'scope\b`), "'accessPackageResourceScope"},
	{regexp.MustCompile(`(^|[\s'])resource([.'])`), "${1}accessPackageResource${2}"},
	{regexp.MustCompile(`(^|[\s'])catalog\.id\b`), "${1}catalogId"},
}

// inBetaResourceNames rewrites an error about a v1.0 body into beta's names,
// as inBetaNames does for assignment requests.
func inBetaResourceNames(err error) error {
	var e *access.Error
	if !errors.As(err, &e) || e.Kind != access.KindInvalid {
		return err
	}
	c := *e
	for _, p := range betaResourcePaths {
		c.Message = p.v1.ReplaceAllString(c.Message, p.beta)
	}
	return &c
}

// requestTypeOut writes a resource request's type in the version's form:
// adminAdd in v1.0, AdminAdd in beta.
func requestTypeOut(n resourceNames, t string) string {
	if n.beta {
		return pascal(t)
	}
	return t
}

// ---- app role assignments ----

// appRoleAssignmentWire is Graph's appRoleAssignment.
type appRoleAssignmentWire struct {
	ID                   string  `json:"id"`
	AppRoleID            string  `json:"appRoleId"`
	PrincipalID          string  `json:"principalId"`
	PrincipalType        string  `json:"principalType"`
	PrincipalDisplayName *string `json:"principalDisplayName"`
	ResourceID           string  `json:"resourceId"`
	ResourceDisplayName  *string `json:"resourceDisplayName"`
	CreatedDateTime      *string `json:"createdDateTime"`
}

func appRoleAssignmentOut(a access.AppRoleAssignment) any {
	return appRoleAssignmentWire{ID: a.ID, AppRoleID: a.AppRoleID, PrincipalID: a.PrincipalID, PrincipalType: a.PrincipalType,
		PrincipalDisplayName: optional(a.PrincipalDisplayName), ResourceID: a.ResourceID,
		ResourceDisplayName: optional(a.ResourceDisplayName), CreatedDateTime: timeOut(a.CreatedDateTime)}
}

// appRoleAssignmentInput is the body of POST …/appRoleAssignedTo.
type appRoleAssignmentInput struct {
	ODataType            *string `json:"@odata.type"`
	PrincipalID          *string `json:"principalId"`
	ResourceID           *string `json:"resourceId"`
	AppRoleID            *string `json:"appRoleId"`
	ID                   ignored `json:"id"`
	PrincipalType        ignored `json:"principalType"`
	PrincipalDisplayName ignored `json:"principalDisplayName"`
	ResourceDisplayName  ignored `json:"resourceDisplayName"`
	CreatedDateTime      ignored `json:"createdDateTime"`
	DeletedDateTime      ignored `json:"deletedDateTime"`
}

// check reads the body for the service principal of the route: resourceId,
// when sent, must name it.
func (in appRoleAssignmentInput) check(servicePrincipalID string) (principalID, appRoleID string, err error) {
	if err := checkODataType("@odata.type", in.ODataType, "appRoleAssignment"); err != nil {
		return "", "", err
	}
	if strings.TrimSpace(str(in.PrincipalID)) == "" {
		return "", "", access.Invalidf("property 'principalId' is required: the user, group or service principal to assign the role to")
	}
	if strings.TrimSpace(str(in.AppRoleID)) == "" {
		return "", "", access.Invalidf("property 'appRoleId' is required: the id of one of the service principal's app roles, or %s for default access", access.DefaultAccessRoleID)
	}
	if in.ResourceID != nil && *in.ResourceID != servicePrincipalID {
		return "", "", access.Invalidf("property 'resourceId': %q is not the service principal of this address (%s)", *in.ResourceID, servicePrincipalID)
	}
	return *in.PrincipalID, *in.AppRoleID, nil
}

// ---- delivered roles ----

// assignmentResourceRoleWire is beta's accessPackageAssignmentResourceRole:
// one resource role an assignment grants. accessd keeps it as part of the
// assignment, so its id is made of the assignment's, the resource's and the
// role's.
type assignmentResourceRoleWire struct {
	ID           string `json:"id"`
	OriginID     string `json:"originId"`
	OriginSystem string `json:"originSystem"`
	Status       string `json:"status"`
}

// grantStatuses are the status strings of a grant: Graph documents
// PendingFulfillment and Fulfilled; the others are accessd's. Failed is a
// role that could not be granted, or could not be taken away.
var grantStatuses = map[string]string{
	access.GrantPending:   "PendingFulfillment",
	access.GrantDelivered: "Fulfilled",
	access.GrantFailed:    "Failed",
	access.GrantRemoving:  "PendingRemoval",
	access.GrantRemoved:   "Removed",
}

func assignmentResourceRoleOut(assignmentID string, g access.Grant) assignmentResourceRoleWire {
	return assignmentResourceRoleWire{ID: assignmentID + "_" + g.ResourceID + "_" + g.RoleOriginID, OriginID: g.RoleOriginID,
		OriginSystem: g.OriginSystem, Status: grantStatuses[g.Status]}
}

// packages is the access package routes of the same version.
func (n resourceNames) packages() packageVersion {
	if n.beta {
		return packagesBeta
	}
	return packagesV1
}
