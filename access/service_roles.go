package access

import "context"

// CreateRoleAssignment gives a principal a role. directory is true for
// /roleManagement/directory, which gives the directory role only.
func (s *Service) CreateRoleAssignment(ctx context.Context, by Caller, directory bool, in RoleAssignmentInput) (RoleAssignment, error) {
	a, err := in.Assignment(directory)
	if err != nil {
		return a, err
	}
	a.ID, a.CreatedDateTime = s.ids.NewID(), s.Now()
	err = s.update(ctx, func(tx Tx) error {
		// A catalog's roles are deleted with it (DeleteCatalog): one given
		// meanwhile must not outlive it.
		locks := []Lock{objectLock(a.PrincipalID)} // nor its principal (DeleteUser)
		if a.CatalogID != "" {
			locks = append(locks, catalogLock(a.CatalogID))
		}
		if err := tx.Lock(locks...); err != nil {
			return err
		}
		if _, err := subjectOf(tx, a.PrincipalID); err != nil {
			return referencedAt("principalId", err)
		}
		if a.CatalogID != "" {
			missing := NotFoundf("no catalog with id %q", a.CatalogID)
			if _, err := tx.Catalog(a.CatalogID); err != nil {
				return referencedAt("appScopeId", err)
			}
			if !by.Sees(a.CatalogID) {
				return referencedAt("appScopeId", missing)
			}
		}
		if !by.mayAssign(a) {
			return E(KindForbidden, "roles on the catalog %q are given by its owners and by Identity Governance Administrators, with EntitlementManagement.ReadWrite.All", a.CatalogID)
		}
		return tx.AddRoleAssignment(a)
	})
	return a, err
}

// roleAssignmentIn reads a role assignment the caller may see, of the
// provider a route serves (the directory's or entitlement management's).
func roleAssignmentIn(tx Tx, by Caller, directory bool, id string) (RoleAssignment, error) {
	missing := NotFoundf("no role assignment with id %q", id)
	a, err := tx.RoleAssignment(id)
	if err != nil {
		return a, err
	}
	def, _ := RoleDefinitionByID(a.RoleDefinitionID)
	if def.Directory != directory || !by.SeesRoleAssignment(a) {
		return a, missing
	}
	return a, nil
}

// RoleAssignment reads one role assignment.
func (s *Service) RoleAssignment(ctx context.Context, by Caller, directory bool, id string) (RoleAssignment, error) {
	return get(ctx, s, func(tx Tx) (RoleAssignment, error) { return roleAssignmentIn(tx, by, directory, id) })
}

// DeleteRoleAssignment takes a role away, under the rules that give it.
func (s *Service) DeleteRoleAssignment(ctx context.Context, by Caller, directory bool, id string) error {
	return s.update(ctx, func(tx Tx) error {
		a, err := roleAssignmentIn(tx, by, directory, id)
		if err != nil {
			return err
		}
		if !by.mayAssign(a) {
			return E(KindForbidden, "roles on the catalog %q are taken away by its owners and by Identity Governance Administrators, with EntitlementManagement.ReadWrite.All", a.CatalogID)
		}
		return tx.DeleteRoleAssignment(id)
	})
}

// SeesRoleAssignment reports whether the caller may read a role
// assignment: its own, those on the catalogs it reads, and all of them for
// tenant-wide readers.
func (c Caller) SeesRoleAssignment(a RoleAssignment) bool {
	if c.TenantWide(false) || (c.ObjectID != "" && a.PrincipalID == c.ObjectID) {
		return true
	}
	return a.CatalogID != "" && c.Sees(a.CatalogID)
}

// Principal reads the user or service principal a role assignment names,
// for $expand=principal.
func (s *Service) Principal(ctx context.Context, id string) (DirectoryObject, error) {
	return get(ctx, s, func(tx Tx) (DirectoryObject, error) {
		if u, err := tx.User(id); err == nil {
			return DirectoryObject{Kind: ObjectUser, ID: u.ID, User: &u}, nil
		} else if !IsNotFound(err) {
			return DirectoryObject{}, err
		}
		sp, err := tx.ServicePrincipal(id)
		if err != nil {
			return DirectoryObject{}, err
		}
		return DirectoryObject{Kind: ObjectServicePrincipal, ID: sp.ID, ServicePrincipal: &sp}, nil
	})
}
