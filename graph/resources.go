package graph

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/accessd/accessd/access"
)

// Catalog resources, the roles and scopes they offer, the role scopes an
// access package grants, the requests that add and remove resources, and
// the incompatibilities between packages (separation of duties), in v1.0
// and beta. The service enforces every rule; handlers decode, call it and
// write the version's shape.

// pageInIDOrder cuts one page out of a list the service returns whole, in
// id order and after the last id seen, as the store's keyset paging does:
// a page still starts in the right place when the item the previous page
// ended with has gone since (unlike pageOf, for lists in their own order).
func pageInIDOrder[T any](items []T, id func(T) string, p access.Page) ([]T, bool) {
	sorted := inIDOrder(items, id)
	start := 0
	for start < len(sorted) && p.After != "" && id(sorted[start]) <= p.After {
		start++
	}
	end := min(start+p.Limit, len(sorted))
	return sorted[start:end], end < len(sorted)
}

// inIDOrder is a copy of items sorted by id: creation order, since ids are
// version 7 UUIDs.
func inIDOrder[T any](items []T, id func(T) string) []T {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	return sorted
}

// ---- resource requests ----

func (n resourceNames) resourceRequestExpandable() []string {
	nested := []string{n.resource, n.resource + "/" + n.roles, n.resource + "/" + n.scopes}
	if n.beta {
		return append(nested, "requestor")
	}
	return append(nested, "catalog")
}

func (s *Server) listResourceRequests(n resourceNames) handler {
	return serveList(s, storedList[access.ResourceRequest]{
		fields:     n.resourceRequestFields(),
		expandable: n.resourceRequestExpandable(),
		context:    fixedContext(s.emContext(n.version, n.resourceRequests, false)),
		shape: func(r *http.Request, rr access.ResourceRequest, expand expandSet) (any, error) {
			return s.resourceRequestOut(r.Context(), n, rr, false, expand)
		},
	})
}

func (s *Server) getResourceRequest(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.resourceRequestExpandable()...)
		if err != nil {
			return err
		}
		rr, err := s.svc.ResourceRequest(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out, err := s.resourceRequestOut(r.Context(), n, rr, false, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext(n.version, n.resourceRequests, true), out, q.selectSet)
	}
}

// submitResourceRequest is POST: 201 with the request, carried out already.
// A validation-only request (beta's isValidationOnly) is answered the same
// way and leaves nothing behind.
func (s *Server) submitResourceRequest(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		var body resourceRequestInput
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		in, err := body.toDomain()
		if err != nil {
			return err
		}
		rr, err := s.svc.SubmitResourceRequest(r.Context(), callerOf(r), in)
		if err != nil {
			if n.beta {
				return inBetaResourceNames(err)
			}
			return err
		}
		out, err := s.resourceRequestOut(r.Context(), n, rr, in.ValidationOnly, nil)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, s.emContext(n.version, n.resourceRequests, true), out, nil)
	}
}

// resourceRequestOut writes a resource request in the version's shape with
// what $expand names. Its resource is null once removed from the catalog.
func (s *Server) resourceRequestOut(ctx context.Context, n resourceNames, rr access.ResourceRequest, validationOnly bool, expand expandSet) (any, error) {
	var resource any
	if expand.has(n.resource) {
		res, err := s.svc.Resource(ctx, callerIn(ctx), "", rr.ResourceID)
		switch {
		case access.IsNotFound(err):
			resource = jsonNull
		case err != nil:
			return nil, err
		default:
			resource = resourceOut(n, res, expand[n.resource])
		}
	}
	if n.beta {
		out := resourceRequestBeta{ID: rr.ID, CatalogID: rr.CatalogID, RequestType: requestTypeOut(n, rr.Type),
			RequestState: pascal(rr.State), RequestStatus: rr.Status, Justification: optional(rr.Justification),
			IsValidationOnly: validationOnly, ExecuteImmediately: true, AccessPackageResource: resource}
		if expand.has("requestor") {
			sub, err := s.subjectNow(ctx, rr.Requestor)
			if err != nil {
				return nil, err
			}
			out.Requestor = subjectToBeta(sub)
		}
		return out, nil
	}
	out := resourceRequestV1{ID: rr.ID, RequestType: requestTypeOut(n, rr.Type), State: rr.State,
		CreatedDateTime: timeOut(rr.CreatedDateTime), Resource: resource}
	if expand.has("catalog") {
		c, err := s.svc.Catalog(ctx, callerIn(ctx), rr.CatalogID)
		switch {
		case access.IsNotFound(err):
			out.Catalog = jsonNull
		case err != nil:
			return nil, err
		default:
			out.Catalog = catalogToV1(c)
		}
	}
	return out, nil
}

// ---- resources ----

func resourceID(res access.Resource) string { return res.ID }

// listResources lists every catalog's resources, or one catalog's when the
// route names it ({id}).
func (s *Server) listResources(n resourceNames) handler {
	return serveList(s, storedList[access.Resource]{
		fields:     n.resourceFields(),
		expandable: n.resourceExpandable(),
		context: func(r *http.Request) string {
			if id := r.PathValue("id"); id != "" {
				return s.emContext(n.version, n.catalogs+"('"+id+"')/"+n.resources, false)
			}
			return s.emContext(n.version, n.resources, false)
		},
		scope: underParent(asCaller(s.svc.Catalog), "CatalogID"),
		shape: func(_ *http.Request, res access.Resource, expand expandSet) (any, error) {
			return resourceOut(n, res, expand), nil
		},
	})
}

func (s *Server) getResource(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.resourceExpandable()...)
		if err != nil {
			return err
		}
		catalogID := r.PathValue("id")
		res, err := s.svc.Resource(r.Context(), callerOf(r), catalogID, r.PathValue("rid"))
		if err != nil {
			return err
		}
		set := n.resources
		if catalogID != "" {
			set = n.catalogs + "('" + catalogID + "')/" + n.resources
		}
		return writeEntity(w, http.StatusOK, s.emContext(n.version, set, true), resourceOut(n, res, q.expand), q.selectSet)
	}
}

// listRolesOfResource lists the roles one resource offers.
func (s *Server) listRolesOfResource(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.resource)
		if err != nil {
			return err
		}
		res, err := s.svc.Resource(r.Context(), callerOf(r), "", r.PathValue("rid"))
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(res.Roles, func(x access.ResourceRole) string { return x.ID }, q.page())
		out := make([]any, len(page))
		for i, role := range page {
			out[i] = roleOut(n, res, role, q.expand)
		}
		return s.writeList(w, r, s.emContext(n.version, n.resources+"('"+res.ID+"')/"+n.roles, false), out,
			lastID(page, func(x access.ResourceRole) string { return x.ID }), more, q.selectSet)
	}
}

// listScopesOfResource lists the scopes of one resource.
func (s *Server) listScopesOfResource(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.resource)
		if err != nil {
			return err
		}
		res, err := s.svc.Resource(r.Context(), callerOf(r), "", r.PathValue("rid"))
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(res.Scopes, func(x access.ResourceScope) string { return x.ID }, q.page())
		out := make([]any, len(page))
		for i, scope := range page {
			out[i] = scopeOut(n, res, scope, q.expand)
		}
		return s.writeList(w, r, s.emContext(n.version, n.resources+"('"+res.ID+"')/"+n.scopes, false), out,
			lastID(page, func(x access.ResourceScope) string { return x.ID }), more, q.selectSet)
	}
}

// catalogResources reads the query of a catalog's roles or scopes, and
// the catalog's resources that its $filter keeps: roles and scopes are
// listed from their resources, so the filter (originSystem and the
// resource's id) is the resources' own. They are paged in memory, by id.
func (s *Server) catalogResources(r *http.Request, n resourceNames) (query, []access.Resource, error) {
	opts, err := readOptions(r, []string{"$filter", "$top", "$skiptoken", "$expand", "$select"}, "on this resource")
	if err != nil {
		return query{}, nil, err
	}
	var filter *access.Cond
	if v, ok := opts["$filter"]; ok {
		if filter, err = parseFilter(v, n.resourcePartFields()); err != nil {
			return query{}, nil, err
		}
	}
	q, err := opts.query([]string{n.resource})
	if err != nil {
		return q, nil, err
	}
	catalogID := r.PathValue("id")
	if _, err := s.svc.Catalog(r.Context(), callerOf(r), catalogID); err != nil {
		return q, nil, err
	}
	scope := fieldEquals("CatalogID", catalogID)
	if filter != nil {
		scope = &access.Cond{Op: access.OpAnd, Args: []*access.Cond{scope, filter}}
	}
	resources, err := allOf[access.Resource](r.Context(), s.svc, access.NounResources, scope)
	return q, resources, err
}

// resourceRole is a role with the resource that offers it.
type resourceRole struct {
	resource access.Resource
	role     access.ResourceRole
}

// listCatalogRoles lists the roles of a catalog's resources, with the
// $filter Graph's documentation has clients send (originSystem and
// resource/id, each optional).
func (s *Server) listCatalogRoles(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, resources, err := s.catalogResources(r, n)
		if err != nil {
			return err
		}
		var roles []resourceRole
		for _, res := range resources {
			for _, role := range res.Roles {
				roles = append(roles, resourceRole{res, role})
			}
		}
		id := func(x resourceRole) string { return x.role.ID }
		page, more := pageInIDOrder(roles, id, q.page())
		out := make([]any, len(page))
		for i, x := range page {
			out[i] = roleOut(n, x.resource, x.role, q.expand)
		}
		return s.writeList(w, r, s.emContext(n.version, n.catalogs+"('"+r.PathValue("id")+"')/"+n.catalogRoles, false), out,
			lastID(page, id), more, q.selectSet)
	}
}

// resourceScope is a scope with the resource it belongs to.
type resourceScope struct {
	resource access.Resource
	scope    access.ResourceScope
}

// listCatalogScopes lists the scopes of a catalog's resources, with the
// same $filter as its roles.
func (s *Server) listCatalogScopes(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, resources, err := s.catalogResources(r, n)
		if err != nil {
			return err
		}
		var scopes []resourceScope
		for _, res := range resources {
			for _, scope := range res.Scopes {
				scopes = append(scopes, resourceScope{res, scope})
			}
		}
		id := func(x resourceScope) string { return x.scope.ID }
		page, more := pageInIDOrder(scopes, id, q.page())
		out := make([]any, len(page))
		for i, x := range page {
			out[i] = scopeOut(n, x.resource, x.scope, q.expand)
		}
		return s.writeList(w, r, s.emContext(n.version, n.catalogs+"('"+r.PathValue("id")+"')/"+n.catalogScopes, false), out,
			lastID(page, id), more, q.selectSet)
	}
}

// ---- role scopes ----

func roleScopeID(v access.RoleScopeView) string { return v.ID }

func (s *Server) listRoleScopes(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.roleScopeExpandable("")...)
		if err != nil {
			return err
		}
		views, err := s.svc.RoleScopes(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(views, roleScopeID, q.page())
		out := make([]any, len(page))
		for i, v := range page {
			out[i] = roleScopeOut(n, v, q.expand)
		}
		return s.writeList(w, r, s.emContext(n.version, "accessPackages('"+r.PathValue("id")+"')/"+n.roleScopes, false), out,
			lastID(page, roleScopeID), more, q.selectSet)
	}
}

// addRoleScope is POST: 201 with the new role scope, as Graph answers it
// (id and createdDateTime); $expand adds its role and scope.
func (s *Server) addRoleScope(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, n.roleScopeExpandable("")...)
		if err != nil {
			return err
		}
		var body roleScopeInput
		if err := decodeBody(r, &body); err != nil {
			return err
		}
		in, err := body.toDomain()
		if err != nil {
			return err
		}
		pkgID := r.PathValue("id")
		rs, err := s.svc.AddRoleScope(r.Context(), callerOf(r), pkgID, in)
		if err != nil {
			if n.beta {
				return inBetaResourceNames(err)
			}
			return err
		}
		view := access.RoleScopeView{RoleScope: rs}
		if len(q.expand) > 0 {
			views, err := s.svc.RoleScopes(r.Context(), callerOf(r), pkgID)
			if err != nil {
				return err
			}
			if i := slices.IndexFunc(views, func(v access.RoleScopeView) bool { return v.ID == rs.ID }); i >= 0 {
				view = views[i]
			}
		}
		return writeEntity(w, http.StatusCreated, s.emContext(n.version, "accessPackages('"+pkgID+"')/"+n.roleScopes, true),
			roleScopeOut(n, view, q.expand), nil)
	}
}

func (s *Server) removeRoleScope(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RemoveRoleScope(r.Context(), callerOf(r), r.PathValue("id"), r.PathValue("rsid")); err != nil {
		return err
	}
	return writeNoContent(w)
}

// ---- incompatibilities ----

func packageID(p access.AccessPackage) string { return p.ID }

// listIncompatiblePackages lists the packages a package names as
// incompatible, or with reverse the packages that name it
// (accessPackagesIncompatibleWith).
func (s *Server) listIncompatiblePackages(pv packageVersion, reverse bool) handler {
	nav := "incompatibleAccessPackages"
	if reverse {
		nav = "accessPackagesIncompatibleWith"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, pv.expandable...)
		if err != nil {
			return err
		}
		pkgs, err := s.svc.IncompatiblePackages(r.Context(), callerOf(r), r.PathValue("id"), reverse)
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(pkgs, packageID, q.page())
		out := make([]any, len(page))
		for i, p := range page {
			if out[i], err = pv.shape(s, r, p, q.expand); err != nil {
				return err
			}
		}
		return s.writeList(w, r, s.emContext(pv.version, "accessPackages('"+r.PathValue("id")+"')/"+nav, false), out,
			lastID(page, packageID), more, q.selectSet)
	}
}

func (s *Server) listIncompatibleGroups(n resourceNames) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r)
		if err != nil {
			return err
		}
		groups, err := s.svc.IncompatibleGroups(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		page, more := pageInIDOrder(groups, groupID, q.page())
		items, last := pageItems(page, groupShape, groupID)
		return s.writeList(w, r, s.emContext(n.version, "accessPackages('"+r.PathValue("id")+"')/incompatibleGroups", false), items,
			last, more, q.selectSet)
	}
}

// addIncompatible is POST …/$ref with the URL of the other package or group.
func (s *Server) addIncompatible(kind access.Incompatibility) handler {
	example := "https://graph.microsoft.com/v1.0/identityGovernance/entitlementManagement/accessPackages/{id}"
	if kind == access.IncompatibleGroup {
		example = "https://graph.microsoft.com/v1.0/groups/{id}"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		otherID, err := refIDTo(body, example)
		if err != nil {
			return err
		}
		if err := s.svc.AddIncompatible(r.Context(), callerOf(r), r.PathValue("id"), kind, otherID); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}

func (s *Server) removeIncompatible(kind access.Incompatibility) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := s.svc.RemoveIncompatible(r.Context(), callerOf(r), r.PathValue("id"), kind, r.PathValue("otherId")); err != nil {
			return err
		}
		return writeNoContent(w)
	}
}

// ---- additionalAccess ----

// listAdditionalAccess is the function additionalAccess(accessPackageId=…,
// incompatibleAccessPackageId=…) on assignments: the assignments of the
// first package whose targets also hold the second.
func (s *Server) listAdditionalAccess(as assignmentSet) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		params, _, err := functionCall(callSegment(r, "additionalAccess"), "additionalAccess")
		if err != nil {
			return err
		}
		return s.additionalAccess(w, r, as, params)
	}
}

func (s *Server) additionalAccess(w http.ResponseWriter, r *http.Request, as assignmentSet, params map[string]string) error {
	const usage = "additionalAccess takes two parameters, as in additionalAccess(accessPackageId='…',incompatibleAccessPackageId='…')"
	for name := range params {
		if name != "accessPackageId" && name != "incompatibleAccessPackageId" {
			return access.Invalidf("additionalAccess has no parameter %q; %s", name, usage)
		}
	}
	pkgID, otherID := params["accessPackageId"], params["incompatibleAccessPackageId"]
	if pkgID == "" || otherID == "" {
		return access.Invalidf("%s", usage)
	}
	q, err := parseQuery(r, as.expandable()...)
	if err != nil {
		return err
	}
	for _, id := range []string{pkgID, otherID} {
		if _, err := s.svc.AccessPackage(r.Context(), callerOf(r), id); err != nil {
			return err
		}
	}
	items, more, err := s.svc.AdditionalAccess(r.Context(), callerOf(r), pkgID, otherID, q.page())
	if err != nil {
		return err
	}
	out, err := s.assignmentsOut(r, as, items, q.expand)
	if err != nil {
		return err
	}
	return s.writeList(w, r, contextURL(s.cfg.PublicURL, as.version(), "Collection(microsoft.graph.accessPackageAssignment)", false), out,
		lastID(items, func(a access.Assignment) string { return a.ID }), more, q.selectSet)
}

// ---- delivered roles ----

// listAssignmentResourceRoles is beta's accessPackageAssignmentResourceRoles
// of one assignment: the resource roles it grants and how far each got.
func (s *Server) listAssignmentResourceRoles(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	a, err := s.svc.Assignment(r.Context(), callerOf(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	roles := make([]assignmentResourceRoleWire, len(a.Grants))
	for i, g := range a.Grants {
		roles[i] = assignmentResourceRoleOut(a.ID, g)
	}
	id := func(x assignmentResourceRoleWire) string { return x.ID }
	page, more := pageInIDOrder(roles, id, q.page())
	out := make([]any, len(page))
	for i, x := range page {
		out[i] = x
	}
	return s.writeList(w, r, s.emContext("beta", "accessPackageAssignments('"+a.ID+"')/accessPackageAssignmentResourceRoles", false), out,
		lastID(page, id), more, q.selectSet)
}
