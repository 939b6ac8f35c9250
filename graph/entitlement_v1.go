package graph

import (
	"context"
	"net/http"

	"github.com/accessd/accessd/access"
)

const emRoot = "/identityGovernance/entitlementManagement"

// emContext is @odata.context for an entitlement-management set.
func (s *Server) emContext(version, set string, entity bool) string {
	return contextURL(s.cfg.PublicURL, version, "identityGovernance/entitlementManagement/"+set, entity)
}

// catalogVersion is what differs between the v1.0 and beta catalog routes:
// the set's name, what its lists may be filtered on and the shape a catalog
// is written in.
type catalogVersion struct {
	version string // "v1.0" or "beta"
	set     string // catalogs, or beta's accessPackageCatalogs
	fields  wireFields
	shape   func(access.Catalog) any
}

var (
	catalogsV1 = catalogVersion{version: "v1.0", set: "catalogs", fields: catalogFieldsV1,
		shape: func(c access.Catalog) any { return catalogToV1(c) }}
	catalogsBeta = catalogVersion{version: "beta", set: "accessPackageCatalogs", fields: catalogFieldsBeta,
		shape: func(c access.Catalog) any { return catalogToBeta(c) }}
)

func (s *Server) listCatalogs(cv catalogVersion) handler {
	return serveList(s, storedList[access.Catalog]{
		fields:  cv.fields,
		context: fixedContext(s.emContext(cv.version, cv.set, false)),
		shape:   func(_ *http.Request, c access.Catalog, _ expandSet) (any, error) { return cv.shape(c), nil },
	})
}

func (s *Server) getCatalog(cv catalogVersion) handler {
	return getHandler(s.emContext(cv.version, cv.set, true), asCaller(s.svc.Catalog), cv.shape)
}

func (s *Server) createCatalog(cv catalogVersion) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := decodeCatalog(r)
		if err != nil {
			return err
		}
		if c, err = s.svc.CreateCatalog(r.Context(), callerOf(r), c); err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, s.emContext(cv.version, cv.set, true), cv.shape(c), nil)
	}
}

func decodeCatalog(r *http.Request) (access.Catalog, error) {
	var in catalogInput
	if err := decodeBody(r, &in); err != nil {
		return access.Catalog{}, err
	}
	var c access.Catalog
	err := in.apply(&c)
	return c, err
}

// patchCatalog answers 204 No Content, as Graph's update methods do, in
// both versions.
func (s *Server) patchCatalog(w http.ResponseWriter, r *http.Request) error {
	var in catalogInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if _, err := s.svc.UpdateCatalog(r.Context(), callerOf(r), r.PathValue("id"), in.apply); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deleteCatalog(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteCatalog(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// lastID is the id of a page's last item, where the next page starts.
func lastID[T any](items []T, id func(T) string) string {
	if len(items) == 0 {
		return ""
	}
	return id(items[len(items)-1])
}

// packageV1 writes a package with the navigation properties $expand asks for.
func (s *Server) packageV1(r *http.Request, p access.AccessPackage, expand expandSet) (accessPackageV1, error) {
	out := accessPackageToV1(p)
	if expand.has("catalog") {
		c, err := s.svc.Catalog(r.Context(), callerOf(r), p.CatalogID)
		if err != nil {
			return out, err
		}
		cw := catalogToV1(c)
		out.Catalog = &cw
	}
	if expand.has("assignmentPolicies") {
		policies, err := s.packagePolicies(r, p.ID, expand["assignmentPolicies"])
		if err != nil {
			return out, err
		}
		out.AssignmentPolicies = policies
	}
	links, err := s.packageLinksOf(r.Context(), resourcesV1, p, expand)
	out.ResourceRoleScopes, out.IncompatibleAccessPackages = links.roleScopes, links.incompatiblePackages
	out.AccessPackagesIncompatibleWith, out.IncompatibleGroups = links.packagesIncompatibleWith, links.incompatibleGroups
	return out, err
}

// packagePolicies is a v1.0 package's expanded policies, each with what
// the nested $expand names.
func (s *Server) packagePolicies(r *http.Request, packageID string, nested expandSet) ([]any, error) {
	policies, err := allOf[access.AssignmentPolicy](r.Context(), s.svc, access.NounPolicies, fieldEquals("AccessPackageID", packageID))
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, p := range policies {
		pw, err := s.policyV1(r, p, nested)
		if err != nil {
			return nil, err
		}
		out = append(out, pw)
	}
	return out, nil
}

// packageLinks are the navigation properties of a package, other than its
// catalog, that $expand may name; nil when it does not.
type packageLinks struct {
	roleScopes, incompatiblePackages, packagesIncompatibleWith, incompatibleGroups any
}

// packageLinksOf reads what $expand names of a package's role scopes (with
// their roles and scopes, as nested $expand says) and incompatibilities.
// The packages and groups are written without navigation properties.
func (s *Server) packageLinksOf(ctx context.Context, n resourceNames, p access.AccessPackage, expand expandSet) (packageLinks, error) {
	var links packageLinks
	if expand.has(n.roleScopes) {
		views, err := s.svc.RoleScopes(ctx, callerIn(ctx), p.ID)
		if err != nil {
			return links, err
		}
		out := []any{}
		for _, v := range inIDOrder(views, roleScopeID) {
			out = append(out, roleScopeOut(n, v, expand[n.roleScopes]))
		}
		links.roleScopes = out
	}
	for _, nav := range []struct {
		name    string
		reverse bool
		dst     *any
	}{{"incompatibleAccessPackages", false, &links.incompatiblePackages}, {"accessPackagesIncompatibleWith", true, &links.packagesIncompatibleWith}} {
		if !expand.has(nav.name) {
			continue
		}
		pkgs, err := s.svc.IncompatiblePackages(ctx, callerIn(ctx), p.ID, nav.reverse)
		if err != nil {
			return links, err
		}
		out := []any{}
		for _, other := range inIDOrder(pkgs, packageID) {
			if n.beta {
				out = append(out, accessPackageToBeta(other))
			} else {
				out = append(out, accessPackageToV1(other))
			}
		}
		*nav.dst = out
	}
	if expand.has("incompatibleGroups") {
		groups, err := s.svc.IncompatibleGroups(ctx, callerIn(ctx), p.ID)
		if err != nil {
			return links, err
		}
		items, _ := pageItems(inIDOrder(groups, groupID), groupShape, groupID)
		links.incompatibleGroups = items
	}
	return links, nil
}

// packageVersion is what differs between the v1.0 and beta access package
// routes: the names of the catalog set and navigation, what lists may be
// filtered on, and the shape.
type packageVersion struct {
	version    string // "v1.0" or "beta"
	catalogSet string // catalogs, or beta's accessPackageCatalogs
	fields     wireFields
	expandable []string // the navigation properties $expand may name
	shape      func(s *Server, r *http.Request, p access.AccessPackage, expand expandSet) (any, error)
}

var (
	packagesV1 = packageVersion{version: "v1.0", catalogSet: "catalogs", fields: packageFieldsV1, expandable: packageExpandable("catalog", "assignmentPolicies", resourcesV1),
		shape: func(s *Server, r *http.Request, p access.AccessPackage, e expandSet) (any, error) {
			return s.packageV1(r, p, e)
		}}
	packagesBeta = packageVersion{version: "beta", catalogSet: "accessPackageCatalogs", fields: packageFieldsBeta,
		expandable: packageExpandable("accessPackageCatalog", "accessPackageAssignmentPolicies", resourcesBeta),
		shape: func(s *Server, r *http.Request, p access.AccessPackage, e expandSet) (any, error) {
			return s.packageBeta(r, p, e)
		}}
)

// packageExpandable lists what $expand may name on a package of one
// version: catalog and policies are what the version calls them.
func packageExpandable(catalog, policies string, n resourceNames) []string {
	out := append([]string{catalog, policies, n.roleScopes, "incompatibleAccessPackages", "accessPackagesIncompatibleWith", "incompatibleGroups"},
		n.roleScopeExpandable(n.roleScopes+"/")...)
	for _, nested := range policyExpandable {
		out = append(out, policies+"/"+nested)
	}
	return out
}

// listPackages lists all packages, or a catalog's when the route names one ({id}).
func (s *Server) listPackages(pv packageVersion) handler {
	return serveList(s, storedList[access.AccessPackage]{
		fields:     pv.fields,
		expandable: pv.expandable,
		context: func(r *http.Request) string {
			if id := r.PathValue("id"); id != "" {
				return s.emContext(pv.version, pv.catalogSet+"('"+id+"')/accessPackages", false)
			}
			return s.emContext(pv.version, "accessPackages", false)
		},
		scope: underParent(asCaller(s.svc.Catalog), "CatalogID"),
		shape: func(r *http.Request, p access.AccessPackage, expand expandSet) (any, error) {
			return pv.shape(s, r, p, expand)
		},
	})
}

func (s *Server) getPackage(pv packageVersion) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseQuery(r, pv.expandable...)
		if err != nil {
			return err
		}
		p, err := s.svc.AccessPackage(r.Context(), callerOf(r), r.PathValue("id"))
		if err != nil {
			return err
		}
		out, err := pv.shape(s, r, p, q.expand)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusOK, s.emContext(pv.version, "accessPackages", true), out, q.selectSet)
	}
}

// createPackage answers with the package as created, without navigation properties.
func (s *Server) createPackage(pv packageVersion) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := decodePackage(r)
		if err != nil {
			return err
		}
		if p, err = s.svc.CreateAccessPackage(r.Context(), callerOf(r), p); err != nil {
			return err
		}
		out, err := pv.shape(s, r, p, nil)
		if err != nil {
			return err
		}
		return writeEntity(w, http.StatusCreated, s.emContext(pv.version, "accessPackages", true), out, nil)
	}
}

func decodePackage(r *http.Request) (access.AccessPackage, error) {
	var in accessPackageInput
	if err := decodeBody(r, &in); err != nil {
		return access.AccessPackage{}, err
	}
	var p access.AccessPackage
	err := in.apply(&p)
	return p, err
}

func (s *Server) patchPackage(w http.ResponseWriter, r *http.Request) error {
	var in accessPackageInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if _, err := s.svc.UpdateAccessPackage(r.Context(), callerOf(r), r.PathValue("id"), in.apply); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) deletePackage(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteAccessPackage(r.Context(), callerOf(r), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
