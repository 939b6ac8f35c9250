package graph

import (
	"github.com/accessd/accessd/access"
)

// catalogV1 is accessPackageCatalog in v1.0.
type catalogV1 struct {
	ID                  string  `json:"id"`
	DisplayName         string  `json:"displayName"`
	Description         *string `json:"description"`
	CatalogType         string  `json:"catalogType"`
	State               string  `json:"state"`
	IsExternallyVisible bool    `json:"isExternallyVisible"`
	CreatedDateTime     *string `json:"createdDateTime"`
	ModifiedDateTime    *string `json:"modifiedDateTime"`
}

func catalogToV1(c access.Catalog) catalogV1 {
	return catalogV1{
		ID: c.ID, DisplayName: c.DisplayName, Description: optional(c.Description),
		CatalogType: string(c.CatalogType), State: string(c.State), IsExternallyVisible: c.IsExternallyVisible,
		CreatedDateTime: timeOut(c.CreatedDateTime), ModifiedDateTime: timeOut(c.ModifiedDateTime),
	}
}

// catalogFieldsV1 are what $filter and $orderby may name on v1.0 catalogs.
var catalogFieldsV1 = wireFields{noun: access.NounCatalogs, paths: map[string]wireField{
	"id":                  {field: "ID"},
	"displayName":         {field: "DisplayName"},
	"description":         {field: "Description"},
	"catalogType":         {field: "CatalogType", member: memberOf(access.ParseCatalogType)},
	"state":               {field: "State", member: memberOf(access.ParseCatalogState)},
	"isExternallyVisible": {field: "IsExternallyVisible"},
	"createdDateTime":     {field: "CreatedDateTime"},
	"modifiedDateTime":    {field: "ModifiedDateTime"},
}}

// catalogInput is a catalog as a client sends it, in either version: pointers
// tell PATCH which properties were sent.
type catalogInput struct {
	ODataType           string  `json:"@odata.type"`
	ID                  ignored `json:"id"`
	DisplayName         *string `json:"displayName"`
	Description         *string `json:"description"`
	CatalogType         *string `json:"catalogType"`
	State               *string `json:"state"`         // v1.0
	CatalogStatus       *string `json:"catalogStatus"` // beta
	IsExternallyVisible *bool   `json:"isExternallyVisible"`
	CreatedBy           ignored `json:"createdBy"`
	ModifiedBy          ignored `json:"modifiedBy"`
	CreatedDateTime     ignored `json:"createdDateTime"`
	ModifiedDateTime    ignored `json:"modifiedDateTime"`
}

// apply copies the sent properties onto c.
func (in catalogInput) apply(c *access.Catalog) error {
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackageCatalog"); err != nil {
		return err
	}
	if in.State != nil && in.CatalogStatus != nil {
		return access.Invalidf("properties 'state' (v1.0) and 'catalogStatus' (beta) name the same thing; send one")
	}
	if in.DisplayName != nil {
		c.DisplayName = *in.DisplayName
	}
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.IsExternallyVisible != nil {
		c.IsExternallyVisible = *in.IsExternallyVisible
	}
	if in.CatalogType != nil {
		t, err := enum("catalogType", in.CatalogType, access.ParseCatalogType)
		if err != nil {
			return err
		}
		c.CatalogType = t
	}
	for name, v := range map[string]*string{"state": in.State, "catalogStatus": in.CatalogStatus} {
		if v != nil {
			st, err := enum(name, v, access.ParseCatalogState)
			if err != nil {
				return err
			}
			c.State = st
		}
	}
	return nil
}

// accessPackageV1 is accessPackage in v1.0; its navigation properties
// appear only with $expand.
type accessPackageV1 struct {
	ID                             string     `json:"id"`
	DisplayName                    string     `json:"displayName"`
	Description                    *string    `json:"description"`
	IsHidden                       bool       `json:"isHidden"`
	CreatedDateTime                *string    `json:"createdDateTime"`
	ModifiedDateTime               *string    `json:"modifiedDateTime"`
	Catalog                        *catalogV1 `json:"catalog,omitempty"`
	ResourceRoleScopes             any        `json:"resourceRoleScopes,omitempty"`
	IncompatibleAccessPackages     any        `json:"incompatibleAccessPackages,omitempty"`
	AccessPackagesIncompatibleWith any        `json:"accessPackagesIncompatibleWith,omitempty"`
	IncompatibleGroups             any        `json:"incompatibleGroups,omitempty"`
	AssignmentPolicies             any        `json:"assignmentPolicies,omitempty"`
}

func accessPackageToV1(p access.AccessPackage) accessPackageV1 {
	return accessPackageV1{
		ID: p.ID, DisplayName: p.DisplayName, Description: optional(p.Description), IsHidden: p.IsHidden,
		CreatedDateTime: timeOut(p.CreatedDateTime), ModifiedDateTime: timeOut(p.ModifiedDateTime),
	}
}

// packageFieldsV1 are what $filter and $orderby may name on v1.0 access
// packages, with the catalog's id through its navigation property.
var packageFieldsV1 = wireFields{noun: access.NounAccessPackages, paths: map[string]wireField{
	"id":               {field: "ID"},
	"displayName":      {field: "DisplayName"},
	"description":      {field: "Description"},
	"isHidden":         {field: "IsHidden"},
	"createdDateTime":  {field: "CreatedDateTime"},
	"modifiedDateTime": {field: "ModifiedDateTime"},
	"catalog/id":       {field: "CatalogID"},
}}

// accessPackageInput is an access package as a client sends it, in either version.
type accessPackageInput struct {
	ODataType            string      `json:"@odata.type"`
	ID                   ignored     `json:"id"`
	DisplayName          *string     `json:"displayName"`
	Description          *string     `json:"description"`
	IsHidden             *bool       `json:"isHidden"`
	Catalog              *catalogRef `json:"catalog"`              // v1.0
	CatalogID            *string     `json:"catalogId"`            // beta
	AccessPackageCatalog *catalogRef `json:"accessPackageCatalog"` // beta navigation, accepted like catalog
	IsRoleScopesVisible  ignored     `json:"isRoleScopesVisible"`
	CreatedBy            ignored     `json:"createdBy"`
	ModifiedBy           ignored     `json:"modifiedBy"`
	CreatedDateTime      ignored     `json:"createdDateTime"`
	ModifiedDateTime     ignored     `json:"modifiedDateTime"`
}

// catalogRef is a catalog named inside another object; a whole catalog as
// returned by $expand is accepted, and only its id is read.
type catalogRef struct {
	catalogInput
}

func (in accessPackageInput) apply(p *access.AccessPackage) error {
	if err := checkODataType("@odata.type", nonEmpty(in.ODataType), "accessPackage"); err != nil {
		return err
	}
	sent := 0
	for _, given := range []bool{in.Catalog != nil, in.CatalogID != nil, in.AccessPackageCatalog != nil} {
		if given {
			sent++
		}
	}
	if sent > 1 {
		return access.Invalidf("properties 'catalog' (v1.0), 'catalogId' and 'accessPackageCatalog' (beta) name the same thing; send one")
	}
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	if in.IsHidden != nil {
		p.IsHidden = *in.IsHidden
	}
	if in.CatalogID != nil {
		p.CatalogID = *in.CatalogID
	}
	for name, ref := range map[string]*catalogRef{"catalog": in.Catalog, "accessPackageCatalog": in.AccessPackageCatalog} {
		if ref != nil {
			id, ok := ref.ID.(string)
			if !ok {
				return access.Invalidf("property '%s.id' must be a string naming the catalog", name)
			}
			p.CatalogID = id
		}
	}
	return nil
}

// nonEmpty turns "" into nil, for optional @odata.type values.
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
