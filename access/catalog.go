package access

import (
	"strings"
	"time"
)

// Catalog groups access packages, their resources and custom extensions, and
// is the unit that catalog roles are scoped to.
type Catalog struct {
	ID                  string
	DisplayName         string
	Description         string
	CatalogType         CatalogType
	State               CatalogState
	IsExternallyVisible bool
	CreatedBy           string
	ModifiedBy          string
	CreatedDateTime     time.Time
	ModifiedDateTime    time.Time
}

// Normalize fills the defaults a client may leave out.
func (c *Catalog) Normalize() {
	if c.CatalogType == "" {
		c.CatalogType = CatalogUserManaged
	}
	if c.State == "" {
		c.State = CatalogPublished
	}
}

// Validate checks the fields a client controls.
func (c Catalog) Validate() error {
	if strings.TrimSpace(c.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	return nil
}

// AccessPackage is what people request: a bundle of resource roles in one catalog.
type AccessPackage struct {
	ID               string
	CatalogID        string
	DisplayName      string
	Description      string
	IsHidden         bool
	CreatedBy        string
	ModifiedBy       string
	CreatedDateTime  time.Time
	ModifiedDateTime time.Time
}

func (p AccessPackage) Validate() error {
	if strings.TrimSpace(p.DisplayName) == "" {
		return Invalidf("displayName is required")
	}
	if p.CatalogID == "" {
		return Invalidf("catalog is required: give catalog.id (beta: catalogId)")
	}
	return nil
}
