package access

import (
	"strings"
	"time"
)

// Catalog groups access packages, their resources and custom extensions, and
// is the unit that catalog roles are scoped to.
type Catalog struct {
	ID                  string       `json:"ID"`
	DisplayName         string       `json:"DisplayName"`
	Description         string       `json:"Description"`
	CatalogType         CatalogType  `json:"CatalogType"`
	State               CatalogState `json:"State"`
	IsExternallyVisible bool         `json:"IsExternallyVisible"`
	CreatedBy           string       `json:"CreatedBy"`
	ModifiedBy          string       `json:"ModifiedBy"`
	CreatedDateTime     time.Time    `json:"CreatedDateTime"`
	ModifiedDateTime    time.Time    `json:"ModifiedDateTime"`
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
	ID          string `json:"ID"`
	CatalogID   string `json:"CatalogID"`
	DisplayName string `json:"DisplayName"`
	Description string `json:"Description"`
	IsHidden    bool   `json:"IsHidden"`
	// RoleScopes are the resource roles the package grants.
	RoleScopes []RoleScope `json:"RoleScopes"`
	// IncompatiblePackages and IncompatibleGroups name what a target of this
	// package may not hold at the same time (separation of duties).
	IncompatiblePackages []string  `json:"IncompatiblePackages"`
	IncompatibleGroups   []string  `json:"IncompatibleGroups"`
	CreatedBy            string    `json:"CreatedBy"`
	ModifiedBy           string    `json:"ModifiedBy"`
	CreatedDateTime      time.Time `json:"CreatedDateTime"`
	ModifiedDateTime     time.Time `json:"ModifiedDateTime"`
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
