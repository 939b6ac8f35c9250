package access

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Catalog resources, the roles access packages grant from them, and the
// incompatibilities between packages: the use cases behind resourceRequests,
// resources, resourceRoleScopes, incompatibleAccessPackages and
// incompatibleGroups.

// ResourceRequestInput is a resource request as a client submits it.
type ResourceRequestInput struct {
	Type          string // adminAdd or adminRemove
	CatalogID     string
	ResourceID    string // adminRemove may name the resource by id
	OriginID      string
	OriginSystem  string
	Justification string
	// ValidationOnly checks the request and changes nothing (beta's isValidationOnly).
	ValidationOnly bool
}

// SubmitResourceRequest adds a group or an application to a catalog, or
// removes it, at once: the request is answered delivered / Fulfilled.
func (s *Service) SubmitResourceRequest(ctx context.Context, by Caller, in ResourceRequestInput) (ResourceRequest, error) {
	now := s.Now()
	req := ResourceRequest{ID: s.ids.NewID(), State: ResourceRequestDone, Status: StatusFulfilled, CatalogID: in.CatalogID,
		Justification: in.Justification, Requestor: callerSubject(by), CreatedDateTime: now}
	switch strings.ToLower(in.Type) {
	case "adminadd":
		req.Type = ResourceRequestAdd
	case "adminremove":
		req.Type = ResourceRequestRemove
	case "":
		return req, Invalidf("requestType is required: adminAdd or adminRemove")
	default:
		return req, Invalidf("requestType %q is not supported: use adminAdd or adminRemove", in.Type)
	}
	if in.CatalogID == "" {
		return req, Invalidf("catalog.id is required")
	}
	err := s.update(ctx, func(tx Tx) error {
		// A resource is removed only when no package of the catalog grants
		// its roles; role scopes are added under the same lock.
		if err := tx.Lock(catalogLock(in.CatalogID)); err != nil {
			return err
		}
		if _, err := catalogFor(tx, by, in.CatalogID); err != nil {
			return referencedAt("catalog.id", err)
		}
		if err := by.authorize(in.CatalogID); err != nil {
			return err
		}
		var err error
		if req.Type == ResourceRequestAdd {
			err = s.addResource(tx, &req, in, now)
		} else {
			err = s.removeResource(tx, &req, in)
		}
		if err != nil || in.ValidationOnly {
			return err
		}
		return tx.AddResourceRequest(req)
	})
	return req, err
}

func (s *Service) addResource(tx Tx, req *ResourceRequest, in ResourceRequestInput, now time.Time) error {
	if in.OriginID == "" {
		return Invalidf("resource.originId is required: the id of the group or service principal")
	}
	var res Resource
	switch {
	case strings.EqualFold(in.OriginSystem, OriginGroup):
		g, err := tx.Group(in.OriginID)
		if err != nil {
			return referencedAt("resource.originId", err)
		}
		res = groupResource(g, s.ids.NewID)
	case strings.EqualFold(in.OriginSystem, OriginApplication):
		sp, err := tx.ServicePrincipal(in.OriginID)
		if err != nil {
			return referencedAt("resource.originId", err)
		}
		res = applicationResource(sp, s.ids.NewID)
	default:
		return Invalidf("resource.originSystem %q is not supported: use %s or %s", in.OriginSystem, OriginGroup, OriginApplication)
	}
	if existing, err := tx.ResourceByOrigin(in.CatalogID, res.OriginSystem, res.OriginID); err == nil {
		return Conflictf("catalog %q already has this %s as resource %q", in.CatalogID, res.OriginSystem, existing.ID)
	} else if !IsNotFound(err) {
		return err
	}
	res.ID, res.CatalogID, res.CreatedDateTime, res.ModifiedDateTime = s.ids.NewID(), in.CatalogID, now, now
	req.ResourceID, req.OriginID, req.OriginSystem = res.ID, res.OriginID, res.OriginSystem
	if in.ValidationOnly {
		return nil
	}
	return tx.PutResource(res)
}

// removeResource refuses a resource that a package of the catalog still grants.
func (s *Service) removeResource(tx Tx, req *ResourceRequest, in ResourceRequestInput) error {
	var res Resource
	var err error
	switch {
	case in.ResourceID != "":
		res, err = tx.Resource(in.ResourceID)
		if err == nil && res.CatalogID != in.CatalogID {
			err = NotFoundf("catalog %q has no resource %q", in.CatalogID, in.ResourceID)
		}
	case in.OriginID != "":
		system, ok := originSystem(in.OriginSystem)
		if !ok {
			return Invalidf("resource.originSystem %q is not supported: use %s or %s", in.OriginSystem, OriginGroup, OriginApplication)
		}
		res, err = tx.ResourceByOrigin(in.CatalogID, system, in.OriginID)
	default:
		return Invalidf("resource.id, or resource.originId and originSystem, are required to remove a resource")
	}
	if err != nil {
		return referencedAt("resource", err)
	}
	req.ResourceID, req.OriginID, req.OriginSystem = res.ID, res.OriginID, res.OriginSystem
	users, err := packagesGranting(tx, res.CatalogID, res.ID)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return Conflictf("resource %q is still granted by access package(s) %s; remove its role scopes first", res.ID, strings.Join(users, ", "))
	}
	if in.ValidationOnly {
		return nil
	}
	return tx.DeleteResource(res.ID)
}

// originSystem reads an origin system in any case.
func originSystem(s string) (string, bool) {
	for _, known := range []string{OriginGroup, OriginApplication} {
		if strings.EqualFold(s, known) {
			return known, true
		}
	}
	return "", false
}

// packagesGranting lists the packages of a catalog that grant a role of the resource.
func packagesGranting(tx Tx, catalogID, resourceID string) ([]string, error) {
	var out []string
	err := eachPage(func(p Page) ([]AccessPackage, error) { return tx.AccessPackages(catalogID, p) },
		func(p AccessPackage) string { return p.ID }, func(p AccessPackage) error {
			if slices.ContainsFunc(p.RoleScopes, func(rs RoleScope) bool { return rs.ResourceID == resourceID }) {
				out = append(out, p.ID)
			}
			return nil
		})
	return out, err
}

// errPageFull stops eachPage once a page has all it needs.
var errPageFull = errorString("page full")

// eachPage walks a whole list page by page, until fn returns an error.
func eachPage[T any](page func(Page) ([]T, error), id func(T) string, fn func(T) error) error {
	after := ""
	for {
		items, err := page(Page{After: after, Limit: 200})
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if len(items) < 200 {
			return nil
		}
		after = id(items[len(items)-1])
	}
}

// Resource reads one resource the caller may see; with catalogID, only that catalog's.
func (s *Service) Resource(ctx context.Context, by Caller, catalogID, id string) (Resource, error) {
	return get(ctx, s, func(tx Tx) (Resource, error) {
		r, err := tx.Resource(id)
		switch {
		case err != nil:
		case catalogID != "" && r.CatalogID != catalogID:
			err = NotFoundf("catalog %q has no resource %q", catalogID, id)
		case !by.Sees(r.CatalogID):
			err = NotFoundf("no resource with id %q", id)
		}
		return r, err
	})
}

// Resources lists one page of a catalog's resources, or of all when catalogID is "".
func (s *Service) Resources(ctx context.Context, catalogID string, p Page) ([]Resource, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]Resource, error) {
		if catalogID != "" {
			if _, err := tx.Catalog(catalogID); err != nil {
				return nil, err
			}
		}
		return tx.Resources(catalogID, p)
	})
}

// ResourceRequest reads one resource request the caller may see.
func (s *Service) ResourceRequest(ctx context.Context, by Caller, id string) (ResourceRequest, error) {
	return get(ctx, s, func(tx Tx) (ResourceRequest, error) {
		r, err := tx.ResourceRequest(id)
		if err == nil && !by.Sees(r.CatalogID) {
			err = NotFoundf("no resource request with id %q", id)
		}
		return r, err
	})
}

// ResourceRequests lists one page of resource requests.
func (s *Service) ResourceRequests(ctx context.Context, p Page) ([]ResourceRequest, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]ResourceRequest, error) { return tx.ResourceRequests(p) })
}

// RoleScopeInput names a resource role (and scope) to add to a package:
// by the role's and scope's ids, or by their origin ids and the resource's
// (its id, or its originId and originSystem), as Graph's examples do.
type RoleScopeInput struct {
	RoleID, RoleOriginID   string
	ScopeID, ScopeOriginID string
	ResourceID             string
	ResourceOriginID       string
	OriginSystem           string
}

// AddRoleScope lets a package grant a role of a resource of its catalog.
// The same role twice is a conflict.
func (s *Service) AddRoleScope(ctx context.Context, by Caller, packageID string, in RoleScopeInput) (RoleScope, error) {
	var rs RoleScope
	err := s.update(ctx, func(tx Tx) error {
		pkg, err := packageToChange(tx, by, packageID)
		if err != nil {
			return err
		}
		res, err := roleScopeResource(tx, pkg.CatalogID, in)
		if err != nil {
			return err
		}
		role, ok := res.Role(in.RoleID, in.RoleOriginID)
		if !ok {
			return Invalidf("property 'role': resource %q has no role %q", res.ID, in.RoleID+in.RoleOriginID)
		}
		scope, ok := res.Scope(in.ScopeID, in.ScopeOriginID)
		if !ok {
			return Invalidf("property 'scope': resource %q has no scope %q", res.ID, in.ScopeID+in.ScopeOriginID)
		}
		if slices.ContainsFunc(pkg.RoleScopes, func(x RoleScope) bool { return x.RoleID == role.ID && x.ScopeID == scope.ID }) {
			return Conflictf("access package %q already grants role %q of resource %q", pkg.ID, role.DisplayName, res.ID)
		}
		rs = RoleScope{ID: s.ids.NewID(), ResourceID: res.ID, RoleID: role.ID, ScopeID: scope.ID, CreatedDateTime: s.Now()}
		pkg.RoleScopes = append(slices.Clone(pkg.RoleScopes), rs)
		pkg.ModifiedBy, pkg.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutAccessPackage(pkg)
	})
	return rs, err
}

// roleScopeResource finds the resource a role scope names, in the package's catalog.
func roleScopeResource(tx Tx, catalogID string, in RoleScopeInput) (Resource, error) {
	switch {
	case in.ResourceID != "":
		res, err := tx.Resource(in.ResourceID)
		if err == nil && res.CatalogID != catalogID {
			return res, Invalidf("property 'role.resource.id': resource %q is not in the access package's catalog", in.ResourceID)
		}
		return res, referencedAt("role.resource.id", err)
	case in.ResourceOriginID != "":
		system, ok := originSystem(in.OriginSystem)
		if !ok {
			return Resource{}, Invalidf("property 'role.resource.originSystem': %q is not supported: use %s or %s", in.OriginSystem, OriginGroup, OriginApplication)
		}
		res, err := tx.ResourceByOrigin(catalogID, system, in.ResourceOriginID)
		return res, referencedAt("role.resource.originId", err)
	case in.RoleID != "":
		// Only a role id: find the catalog resource that offers it.
		var found *Resource
		err := eachPage(func(p Page) ([]Resource, error) { return tx.Resources(catalogID, p) },
			func(r Resource) string { return r.ID }, func(r Resource) error {
				if _, ok := r.Role(in.RoleID, ""); ok && found == nil {
					found = &r
				}
				return nil
			})
		if err != nil {
			return Resource{}, err
		}
		if found == nil {
			return Resource{}, Invalidf("property 'role.id': no resource of the access package's catalog has role %q", in.RoleID)
		}
		return *found, nil
	}
	return Resource{}, Invalidf("property 'role' must name the role by id, or by originId with its resource")
}

// RemoveRoleScope stops a package from granting a role. Assignments
// delivered already keep what they were given until they end.
func (s *Service) RemoveRoleScope(ctx context.Context, by Caller, packageID, roleScopeID string) error {
	return s.update(ctx, func(tx Tx) error {
		pkg, err := packageToChange(tx, by, packageID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(pkg.RoleScopes, func(rs RoleScope) bool { return rs.ID == roleScopeID })
		if i < 0 {
			return NotFoundf("access package %q has no resource role scope %q", packageID, roleScopeID)
		}
		pkg.RoleScopes = slices.Delete(slices.Clone(pkg.RoleScopes), i, i+1)
		pkg.ModifiedBy, pkg.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutAccessPackage(pkg)
	})
}

// RoleScopeView is a role scope with the role and scope it names, for $expand.
type RoleScopeView struct {
	RoleScope
	Resource Resource
	Role     ResourceRole
	Scope    ResourceScope
}

// packageToChange reads a package the caller may see and change under its rule.
func packageToChange(tx Tx, by Caller, id string) (AccessPackage, error) {
	if err := lockPackage(tx, id); err != nil {
		return AccessPackage{}, err
	}
	pkg, err := packageFor(tx, by, id)
	if err != nil {
		return pkg, err
	}
	return pkg, by.authorize(pkg.CatalogID)
}

// RoleScopes lists the role scopes of a package with their resources.
func (s *Service) RoleScopes(ctx context.Context, by Caller, packageID string) ([]RoleScopeView, error) {
	return get(ctx, s, func(tx Tx) ([]RoleScopeView, error) {
		pkg, err := packageFor(tx, by, packageID)
		if err != nil {
			return nil, err
		}
		out := []RoleScopeView{}
		for _, rs := range pkg.RoleScopes {
			v := RoleScopeView{RoleScope: rs}
			if v.Resource, err = tx.Resource(rs.ResourceID); err != nil && !IsNotFound(err) {
				return nil, err
			}
			v.Role, _ = v.Resource.Role(rs.RoleID, "")
			v.Scope, _ = v.Resource.Scope(rs.ScopeID, "")
			out = append(out, v)
		}
		return out, nil
	})
}

// Incompatibility says which list of a package an incompatibility changes.
type Incompatibility string

const (
	IncompatiblePackage Incompatibility = "incompatibleAccessPackages"
	IncompatibleGroup   Incompatibility = "incompatibleGroups"
)

// AddIncompatible makes a package incompatible with another package or a
// group: a target who holds one may not get the other.
func (s *Service) AddIncompatible(ctx context.Context, by Caller, packageID string, kind Incompatibility, otherID string) error {
	return s.update(ctx, func(tx Tx) error {
		pkg, err := packageToChange(tx, by, packageID)
		if err != nil {
			return err
		}
		list := &pkg.IncompatiblePackages
		if kind == IncompatibleGroup {
			list = &pkg.IncompatibleGroups
			if _, err := tx.Group(otherID); err != nil {
				return err // a $ref to nothing: 404, as in Graph
			}
		} else {
			if otherID == packageID {
				return Invalidf("an access package cannot be incompatible with itself")
			}
			if _, err := packageFor(tx, by, otherID); err != nil {
				return err
			}
		}
		if slices.Contains(*list, otherID) {
			return Conflictf("%q is already among the %s of access package %q", otherID, kind, packageID)
		}
		*list = append(slices.Clone(*list), otherID)
		pkg.ModifiedBy, pkg.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutAccessPackage(pkg)
	})
}

// RemoveIncompatible undoes AddIncompatible.
func (s *Service) RemoveIncompatible(ctx context.Context, by Caller, packageID string, kind Incompatibility, otherID string) error {
	return s.update(ctx, func(tx Tx) error {
		pkg, err := packageToChange(tx, by, packageID)
		if err != nil {
			return err
		}
		list := &pkg.IncompatiblePackages
		if kind == IncompatibleGroup {
			list = &pkg.IncompatibleGroups
		}
		i := slices.Index(*list, otherID)
		if i < 0 {
			return NotFoundf("%q is not among the %s of access package %q", otherID, kind, packageID)
		}
		*list = slices.Delete(slices.Clone(*list), i, i+1)
		pkg.ModifiedBy, pkg.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutAccessPackage(pkg)
	})
}

// IncompatiblePackages lists the packages a package names as incompatible
// (or, with reverse, the packages that name it), those of catalogs the
// caller does not see left out. The list is whole (a package names few),
// so it is paged after the rule has been applied.
func (s *Service) IncompatiblePackages(ctx context.Context, by Caller, packageID string, reverse bool) ([]AccessPackage, error) {
	return get(ctx, s, func(tx Tx) ([]AccessPackage, error) {
		pkg, err := packageFor(tx, by, packageID)
		if err != nil {
			return nil, err
		}
		ids := pkg.IncompatiblePackages
		if reverse {
			if ids, err = tx.PackagesIncompatibleWith(packageID); err != nil {
				return nil, err
			}
		}
		out := []AccessPackage{}
		for _, id := range ids {
			p, err := packageFor(tx, by, id)
			if IsNotFound(err) {
				continue // deleted since, or in a catalog the caller does not see
			}
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		return out, nil
	})
}

// IncompatibleGroups lists the groups a package names as incompatible.
func (s *Service) IncompatibleGroups(ctx context.Context, by Caller, packageID string) ([]Group, error) {
	return get(ctx, s, func(tx Tx) ([]Group, error) {
		pkg, err := packageFor(tx, by, packageID)
		if err != nil {
			return nil, err
		}
		out := []Group{}
		for _, id := range pkg.IncompatibleGroups {
			g, err := tx.Group(id)
			if IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, g)
		}
		return out, nil
	})
}

// checkIncompatible refuses a request for pkg when its target holds, or
// has an open request for, a package incompatible with it (in either
// direction), or is a member of a group pkg names as incompatible.
func checkIncompatible(tx Tx, pkg AccessPackage, targetID string) error {
	reverse, err := tx.PackagesIncompatibleWith(pkg.ID)
	if err != nil {
		return err
	}
	others := append(slices.Clone(pkg.IncompatiblePackages), reverse...)
	slices.Sort(others)
	for _, other := range slices.Compact(others) {
		held, err := tx.CountAssignments(AssignmentFilter{TargetID: targetID, AccessPackageID: other, Active: true})
		if err != nil {
			return err
		}
		open, err := tx.CountOpenRequests(RequestFilter{TargetID: targetID, AccessPackageID: other})
		if err != nil {
			return err
		}
		if held+open > 0 {
			name := other
			if p, err := tx.AccessPackage(other); err == nil {
				name = p.DisplayName + " (" + other + ")"
			}
			return Conflictf("target %q holds or has requested access package %s, which is incompatible with %q", targetID, name, pkg.DisplayName)
		}
	}
	for _, groupID := range pkg.IncompatibleGroups {
		in, err := tx.InGroup(groupID, GroupMembers, targetID)
		if err != nil {
			return err
		}
		if in {
			name := groupID
			if g, err := tx.Group(groupID); err == nil {
				name = g.DisplayName + " (" + groupID + ")"
			}
			return Conflictf("target %q is a member of group %s, which is incompatible with access package %q", targetID, name, pkg.DisplayName)
		}
	}
	return nil
}

// AdditionalAccess lists the active assignments of accessPackageID whose
// targets also hold an active assignment of incompatibleID: who holds both
// sides of an incompatibility (assignments/additionalAccess).
//
// Both packages must be ones the caller sees. The assignments listed are of
// the first, in its catalog; the second is only asked about.
func (s *Service) AdditionalAccess(ctx context.Context, by Caller, accessPackageID, incompatibleID string, p Page) ([]Assignment, bool, error) {
	var out []Assignment
	err := s.view(ctx, func(tx Tx) error {
		out = nil
		for _, id := range []string{accessPackageID, incompatibleID} {
			if _, err := packageFor(tx, by, id); err != nil {
				return err
			}
		}
		return eachPage(func(pg Page) ([]Assignment, error) {
			return tx.Assignments(AssignmentFilter{AccessPackageID: accessPackageID, Active: true}, pg)
		}, func(a Assignment) string { return a.ID }, func(a Assignment) error {
			if a.ID <= p.After {
				return nil
			}
			if len(out) > p.Limit {
				return errPageFull
			}
			n, err := tx.CountAssignments(AssignmentFilter{TargetID: a.Target.ID, AccessPackageID: incompatibleID, Active: true})
			if err == nil && n > 0 {
				out = append(out, a)
			}
			return err
		})
	})
	if err != nil && err != errPageFull {
		return nil, false, err
	}
	more := len(out) > p.Limit
	if more {
		out = out[:p.Limit]
	}
	return out, more, nil
}
