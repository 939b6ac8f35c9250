package graph

import (
	"net/http"
	"strings"

	"github.com/accessd/accessd/access"
)

// The beta API serves the same catalogs, packages and extensions under beta
// names and shapes: strings in PascalCase where v1.0 has enums, ids where
// v1.0 has navigation properties.

// catalogBeta is accessPackageCatalog in beta.
type catalogBeta struct {
	ID                  string  `json:"id"`
	DisplayName         string  `json:"displayName"`
	Description         *string `json:"description"`
	CatalogType         string  `json:"catalogType"`
	CatalogStatus       string  `json:"catalogStatus"`
	IsExternallyVisible bool    `json:"isExternallyVisible"`
	CreatedBy           *string `json:"createdBy"`
	CreatedDateTime     *string `json:"createdDateTime"`
	ModifiedBy          *string `json:"modifiedBy"`
	ModifiedDateTime    *string `json:"modifiedDateTime"`
}

// pascal writes a v1.0 enum member as beta's strings do: userManaged → UserManaged.
func pascal(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func catalogToBeta(c access.Catalog) catalogBeta {
	return catalogBeta{
		ID: c.ID, DisplayName: c.DisplayName, Description: optional(c.Description),
		CatalogType: pascal(string(c.CatalogType)), CatalogStatus: pascal(string(c.State)), IsExternallyVisible: c.IsExternallyVisible,
		CreatedBy: optional(c.CreatedBy), CreatedDateTime: timeOut(c.CreatedDateTime),
		ModifiedBy: optional(c.ModifiedBy), ModifiedDateTime: timeOut(c.ModifiedDateTime),
	}
}

// catalogFieldsBeta are what $filter and $orderby may name on beta
// catalogs: beta's names, and v1.0's.
var catalogFieldsBeta = catalogFieldsV1.with(map[string]wireField{
	"catalogStatus": {field: "State", member: memberOf(access.ParseCatalogState)},
	"createdBy":     {field: "CreatedBy"},
	"modifiedBy":    {field: "ModifiedBy"},
})

// accessPackageBeta is accessPackage in beta.
type accessPackageBeta struct {
	ID                   string       `json:"id"`
	CatalogID            string       `json:"catalogId"`
	DisplayName          string       `json:"displayName"`
	Description          *string      `json:"description"`
	IsHidden             bool         `json:"isHidden"`
	IsRoleScopesVisible  bool         `json:"isRoleScopesVisible"`
	CreatedBy            *string      `json:"createdBy"`
	CreatedDateTime      *string      `json:"createdDateTime"`
	ModifiedBy           *string      `json:"modifiedBy"`
	ModifiedDateTime     *string      `json:"modifiedDateTime"`
	AccessPackageCatalog *catalogBeta `json:"accessPackageCatalog,omitempty"`

	AccessPackageResourceRoleScopes any `json:"accessPackageResourceRoleScopes,omitempty"`
	IncompatibleAccessPackages      any `json:"incompatibleAccessPackages,omitempty"`
	AccessPackagesIncompatibleWith  any `json:"accessPackagesIncompatibleWith,omitempty"`
	IncompatibleGroups              any `json:"incompatibleGroups,omitempty"`
	AccessPackageAssignmentPolicies any `json:"accessPackageAssignmentPolicies,omitempty"`
}

func accessPackageToBeta(p access.AccessPackage) accessPackageBeta {
	return accessPackageBeta{
		ID: p.ID, CatalogID: p.CatalogID, DisplayName: p.DisplayName, Description: optional(p.Description), IsHidden: p.IsHidden,
		CreatedBy: optional(p.CreatedBy), CreatedDateTime: timeOut(p.CreatedDateTime),
		ModifiedBy: optional(p.ModifiedBy), ModifiedDateTime: timeOut(p.ModifiedDateTime),
	}
}

// packageFieldsBeta are what $filter and $orderby may name on beta access
// packages: beta's names, and v1.0's.
var packageFieldsBeta = packageFieldsV1.with(map[string]wireField{
	"catalogId":               {field: "CatalogID"},
	"accessPackageCatalog/id": {field: "CatalogID"},
	"createdBy":               {field: "CreatedBy"},
	"modifiedBy":              {field: "ModifiedBy"},
})

// catalogBetaOf reads a catalog the caller may see, in beta's shape, for
// an expanded accessPackageCatalog.
func (s *Server) catalogBetaOf(r *http.Request, id string) (*catalogBeta, error) {
	c, err := s.svc.Catalog(r.Context(), callerOf(r), id)
	if err != nil {
		return nil, err
	}
	cw := catalogToBeta(c)
	return &cw, nil
}

func (s *Server) packageBeta(r *http.Request, p access.AccessPackage, expand expandSet) (accessPackageBeta, error) {
	out := accessPackageToBeta(p)
	if expand.has("accessPackageCatalog") {
		var err error
		if out.AccessPackageCatalog, err = s.catalogBetaOf(r, p.CatalogID); err != nil {
			return out, err
		}
	}
	if expand.has("accessPackageAssignmentPolicies") {
		policies, err := s.packagePoliciesBeta(r, p.ID, expand["accessPackageAssignmentPolicies"])
		if err != nil {
			return out, err
		}
		out.AccessPackageAssignmentPolicies = policies
	}
	links, err := s.packageLinksOf(r.Context(), resourcesBeta, p, expand)
	out.AccessPackageResourceRoleScopes, out.IncompatibleAccessPackages = links.roleScopes, links.incompatiblePackages
	out.AccessPackagesIncompatibleWith, out.IncompatibleGroups = links.packagesIncompatibleWith, links.incompatibleGroups
	return out, err
}
