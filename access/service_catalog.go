package access

import (
	"context"
	"errors"
)

// CreateCatalog stores a new catalog. Its creator becomes its owner, as in
// Entra, so that a Catalog creator may go on to fill it.
func (s *Service) CreateCatalog(ctx context.Context, by Caller, c Catalog) (Catalog, error) {
	c.Normalize()
	if err := c.Validate(); err != nil {
		return Catalog{}, err
	}
	now := s.Now()
	c.ID = s.newID(c.ID)
	c.CreatedBy, c.ModifiedBy = by.Name(), by.Name()
	c.CreatedDateTime, c.ModifiedDateTime = now, now
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(c.ID)); err != nil {
			return err
		}
		if _, err := tx.Catalog(c.ID); err == nil {
			return Conflictf("a catalog with id %q already exists", c.ID)
		}
		if err := tx.PutCatalog(c); err != nil {
			return err
		}
		if by.ObjectID == "" {
			return nil
		}
		return tx.AddRoleAssignment(RoleAssignment{ID: s.ids.NewID(), PrincipalID: by.ObjectID, RoleDefinitionID: RoleCatalogOwner,
			AppScopeID: CatalogRoleScope(c.ID), CatalogID: c.ID, CreatedDateTime: now})
	})
	return c, err
}

// Catalog reads one catalog the caller may see.
func (s *Service) Catalog(ctx context.Context, by Caller, id string) (Catalog, error) {
	return get(ctx, s, func(tx Tx) (Catalog, error) { return catalogFor(tx, by, id) })
}

// catalogFor reads a catalog the caller may see; others are not found.
func catalogFor(tx Tx, by Caller, id string) (Catalog, error) {
	c, err := tx.Catalog(id)
	if err == nil && !by.Sees(c.ID) {
		return Catalog{}, NotFoundf("no catalog with id %q", id)
	}
	return c, err
}

// packageFor reads an access package the caller may see; others are not found.
func packageFor(tx Tx, by Caller, id string) (AccessPackage, error) {
	p, err := tx.AccessPackage(id)
	if err == nil && !by.Sees(p.CatalogID) {
		return AccessPackage{}, NotFoundf("no access package with id %q", id)
	}
	return p, err
}

// Catalogs lists one page of catalogs; more is true when another page follows.
func (s *Service) Catalogs(ctx context.Context, p Page) (items []Catalog, more bool, err error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]Catalog, error) { return tx.Catalogs(p) })
}

// UpdateCatalog applies a partial change (PATCH) to a catalog.
// apply copies the sent properties onto the stored catalog inside the
// transaction; its error (a bad value) leaves the catalog as it was.
func (s *Service) UpdateCatalog(ctx context.Context, by Caller, id string, apply func(*Catalog) error) (Catalog, error) {
	var c Catalog
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(id)); err != nil {
			return err
		}
		var err error
		if c, err = catalogFor(tx, by, id); err != nil {
			return err
		}
		if err := by.authorize(c.ID); err != nil {
			return err
		}
		if err := apply(&c); err != nil {
			return err
		}
		c.ID = id
		c.Normalize()
		if err := c.Validate(); err != nil {
			return err
		}
		c.ModifiedBy, c.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutCatalog(c)
	})
	return c, err
}

// DeleteCatalog removes an empty catalog with its custom extensions, its
// resources and the roles held on it (the requests that added resources
// stay, as a record). A catalog that still has access packages is refused,
// as in Entra.
func (s *Service) DeleteCatalog(ctx context.Context, by Caller, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(id)); err != nil {
			return err
		}
		if _, err := catalogFor(tx, by, id); err != nil {
			return err
		}
		if err := by.authorize(id); err != nil {
			return err
		}
		n, err := tx.CountAccessPackages(id)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("catalog %q still has %d access package(s); delete them first", id, n)
		}
		for {
			xs, err := tx.CustomExtensions(id, Page{Limit: 100})
			if err != nil {
				return err
			}
			if len(xs) == 0 {
				break
			}
			for _, x := range xs {
				if err := tx.DeleteCustomExtension(x.ID); err != nil {
					return err
				}
			}
		}
		for {
			rs, err := tx.Resources(id, Page{Limit: 100})
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				break
			}
			for _, r := range rs {
				if err := tx.DeleteResource(r.ID); err != nil {
					return err
				}
			}
		}
		if err := tx.DeleteRoleAssignmentsOn(id); err != nil {
			return err
		}
		return tx.DeleteCatalog(id)
	})
}

// CreateAccessPackage stores a new access package in an existing catalog.
func (s *Service) CreateAccessPackage(ctx context.Context, by Caller, p AccessPackage) (AccessPackage, error) {
	if err := p.Validate(); err != nil {
		return AccessPackage{}, err
	}
	now := s.Now()
	p.ID = s.newID(p.ID)
	p.CreatedBy, p.ModifiedBy = by.Name(), by.Name()
	p.CreatedDateTime, p.ModifiedDateTime = now, now
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(catalogLock(p.CatalogID), packageLock(p.ID, false)); err != nil {
			return err
		}
		if _, err := catalogFor(tx, by, p.CatalogID); err != nil {
			return referencedAt("catalog.id", err)
		}
		if err := by.authorize(p.CatalogID); err != nil {
			return err
		}
		if _, err := tx.AccessPackage(p.ID); err == nil {
			return Conflictf("an access package with id %q already exists", p.ID)
		}
		return tx.PutAccessPackage(p)
	})
	return p, err
}

// AccessPackage reads one access package the caller may see.
func (s *Service) AccessPackage(ctx context.Context, by Caller, id string) (AccessPackage, error) {
	return get(ctx, s, func(tx Tx) (AccessPackage, error) { return packageFor(tx, by, id) })
}

// AccessPackages lists the packages of one catalog, or all when catalogID is "".
func (s *Service) AccessPackages(ctx context.Context, catalogID string, p Page) ([]AccessPackage, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]AccessPackage, error) {
		if catalogID != "" {
			if _, err := tx.Catalog(catalogID); err != nil {
				return nil, err
			}
		}
		return tx.AccessPackages(catalogID, p)
	})
}

// UpdateAccessPackage applies a partial change (PATCH). Moving a package to
// another catalog is a separate action (moveToCatalog), so the catalog stays.
func (s *Service) UpdateAccessPackage(ctx context.Context, by Caller, id string, apply func(*AccessPackage) error) (AccessPackage, error) {
	var p AccessPackage
	err := s.update(ctx, func(tx Tx) error {
		if err := lockPackage(tx, id); err != nil {
			return err
		}
		var err error
		if p, err = packageFor(tx, by, id); err != nil {
			return err
		}
		if err := by.authorize(p.CatalogID); err != nil {
			return err
		}
		catalog := p.CatalogID
		if err := apply(&p); err != nil {
			return err
		}
		p.ID = id
		if p.CatalogID != catalog {
			return Invalidf("catalog cannot be changed by PATCH; an access package stays in its catalog")
		}
		if err := p.Validate(); err != nil {
			return err
		}
		p.ModifiedBy, p.ModifiedDateTime = by.Name(), s.Now()
		return tx.PutAccessPackage(p)
	})
	return p, err
}

// DeleteAccessPackage removes a package that no policy refers to any more.
func (s *Service) DeleteAccessPackage(ctx context.Context, by Caller, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := lockPackage(tx, id); err != nil {
			return err
		}
		p, err := packageFor(tx, by, id)
		if err != nil {
			return err
		}
		if err := by.authorize(p.CatalogID); err != nil {
			return err
		}
		n, err := tx.CountAssignmentPolicies(id)
		if err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("access package %q still has %d assignment polic(ies); delete them first", id, n)
		}
		if n, err = tx.CountAssignments(AssignmentFilter{AccessPackageID: id, Active: true}); err != nil {
			return err
		}
		if n > 0 {
			return Conflictf("access package %q still has %d active assignment(s)", id, n)
		}
		return tx.DeleteAccessPackage(id)
	})
}

// referenced turns "not found" on an id named in a body into a 400: the
// request is wrong, not the URL.
func referenced[T any](_ T, err error) error { return referencedAt("", err) }

// referencedAt is referenced with the property that named the id.
func referencedAt(path string, err error) error {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindNotFound {
		if path == "" {
			return Invalidf("%s", e.Message)
		}
		return Invalidf("property '%s': %s", path, e.Message)
	}
	return err
}
