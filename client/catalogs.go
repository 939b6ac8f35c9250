package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/accessd/accessd/access"
)

// emPath is the root of the v1.0 entitlement-management routes.
const emPath = "/v1.0/identityGovernance/entitlementManagement"

// catalogWire is accessPackageCatalog in v1.0, both ways. v1.0 writes no
// createdBy or modifiedBy, so those fields of access.Catalog stay empty.
type catalogWire struct {
	ID                  string  `json:"id,omitempty"`
	DisplayName         string  `json:"displayName"`
	Description         *string `json:"description,omitempty"`
	CatalogType         string  `json:"catalogType,omitempty"`
	State               string  `json:"state,omitempty"`
	IsExternallyVisible bool    `json:"isExternallyVisible"`
	CreatedDateTime     *string `json:"createdDateTime,omitempty"`
	ModifiedDateTime    *string `json:"modifiedDateTime,omitempty"`
}

func catalogOut(c access.Catalog) catalogWire {
	w := catalogWire{DisplayName: c.DisplayName, CatalogType: string(c.CatalogType), State: string(c.State),
		IsExternallyVisible: c.IsExternallyVisible}
	if c.Description != "" {
		w.Description = &c.Description
	}
	return w
}

func (w catalogWire) toDomain() (access.Catalog, error) {
	var r reader
	c := access.Catalog{ID: w.ID, DisplayName: w.DisplayName, Description: str(w.Description),
		CatalogType: access.CatalogType(w.CatalogType), State: access.CatalogState(w.State), IsExternallyVisible: w.IsExternallyVisible,
		CreatedDateTime: r.time("createdDateTime", w.CreatedDateTime), ModifiedDateTime: r.time("modifiedDateTime", w.ModifiedDateTime)}
	return c, r.err
}

// CreateCatalog creates a catalog from the fields a client controls:
// displayName, description, catalogType, state and isExternallyVisible.
func (c *Client) CreateCatalog(ctx context.Context, catalog access.Catalog) (access.Catalog, error) {
	var w catalogWire
	if err := c.Do(ctx, http.MethodPost, emPath+"/catalogs", catalogOut(catalog), &w); err != nil {
		return access.Catalog{}, err
	}
	return w.toDomain()
}

func (c *Client) GetCatalog(ctx context.Context, id string) (access.Catalog, error) {
	path, err := route(emPath+"/catalogs/%s", id)
	if err != nil {
		return access.Catalog{}, err
	}
	var w catalogWire
	if err := c.Do(ctx, http.MethodGet, path, nil, &w); err != nil {
		return access.Catalog{}, err
	}
	return w.toDomain()
}

func (c *Client) ListCatalogs(ctx context.Context) ([]access.Catalog, error) {
	return list(ctx, c, emPath+"/catalogs", nil, catalogWire.toDomain)
}

// UpdateCatalog sends changes as a PATCH, with v1.0 property names
// ({"displayName": "Sales EMEA"}): a map, since a struct cannot tell a
// property left alone from one set to its zero value.
func (c *Client) UpdateCatalog(ctx context.Context, id string, changes map[string]any) error {
	path, err := route(emPath+"/catalogs/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPatch, path, changes, nil)
}

func (c *Client) DeleteCatalog(ctx context.Context, id string) error {
	path, err := route(emPath+"/catalogs/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}

// accessPackageWire is accessPackage in v1.0, both ways. The catalog is
// sent as a reference and read back through $expand=catalog.
type accessPackageWire struct {
	ID               string  `json:"id,omitempty"`
	DisplayName      string  `json:"displayName"`
	Description      *string `json:"description,omitempty"`
	IsHidden         bool    `json:"isHidden"`
	Catalog          *idWire `json:"catalog,omitempty"`
	CreatedDateTime  *string `json:"createdDateTime,omitempty"`
	ModifiedDateTime *string `json:"modifiedDateTime,omitempty"`
}

// idWire is an object named by its id alone, or read only for its id.
type idWire struct {
	ID string `json:"id"`
}

func accessPackageOut(p access.AccessPackage) accessPackageWire {
	w := accessPackageWire{DisplayName: p.DisplayName, IsHidden: p.IsHidden}
	if p.Description != "" {
		w.Description = &p.Description
	}
	if p.CatalogID != "" {
		w.Catalog = &idWire{ID: p.CatalogID}
	}
	return w
}

func (w accessPackageWire) toDomain() (access.AccessPackage, error) {
	var r reader
	p := access.AccessPackage{ID: w.ID, DisplayName: w.DisplayName, Description: str(w.Description), IsHidden: w.IsHidden,
		CreatedDateTime: r.time("createdDateTime", w.CreatedDateTime), ModifiedDateTime: r.time("modifiedDateTime", w.ModifiedDateTime)}
	if w.Catalog != nil {
		p.CatalogID = w.Catalog.ID
	}
	return p, r.err
}

// withCatalog is the query that makes accessd name a package's catalog.
func withCatalog() url.Values { return url.Values{"$expand": {"catalog"}} }

// CreateAccessPackage creates a package in pkg.CatalogID. accessd's answer
// to the POST does not name the catalog, so CatalogID is the one sent
// (accessd refuses a catalog that does not exist).
func (c *Client) CreateAccessPackage(ctx context.Context, pkg access.AccessPackage) (access.AccessPackage, error) {
	var w accessPackageWire
	if err := c.Do(ctx, http.MethodPost, emPath+"/accessPackages", accessPackageOut(pkg), &w); err != nil {
		return access.AccessPackage{}, err
	}
	created, err := w.toDomain()
	if created.CatalogID == "" {
		created.CatalogID = pkg.CatalogID
	}
	return created, err
}

func (c *Client) GetAccessPackage(ctx context.Context, id string) (access.AccessPackage, error) {
	path, err := route(emPath+"/accessPackages/%s", id)
	if err != nil {
		return access.AccessPackage{}, err
	}
	var w accessPackageWire
	if err := c.Do(ctx, http.MethodGet, path+"?"+withCatalog().Encode(), nil, &w); err != nil {
		return access.AccessPackage{}, err
	}
	return w.toDomain()
}

// ListAccessPackages lists every package, or a catalog's when catalogID is
// not empty.
func (c *Client) ListAccessPackages(ctx context.Context, catalogID string) ([]access.AccessPackage, error) {
	path := emPath + "/accessPackages"
	if catalogID != "" {
		var err error
		if path, err = route(emPath+"/catalogs/%s/accessPackages", catalogID); err != nil {
			return nil, err
		}
	}
	return list(ctx, c, path, withCatalog(), accessPackageWire.toDomain)
}

// UpdateAccessPackage sends changes as a PATCH, with v1.0 property names;
// see UpdateCatalog for why it is a map.
func (c *Client) UpdateAccessPackage(ctx context.Context, id string, changes map[string]any) error {
	path, err := route(emPath+"/accessPackages/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodPatch, path, changes, nil)
}

func (c *Client) DeleteAccessPackage(ctx context.Context, id string) error {
	path, err := route(emPath+"/accessPackages/%s", id)
	if err != nil {
		return err
	}
	return c.Do(ctx, http.MethodDelete, path, nil, nil)
}
