package graph

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/accessd/accessd/access"
)

// seedFile is the --seed format: arrays of objects in their v1.0 shapes, each
// with a fixed id; extensions name their catalogId.
type seedFile struct {
	Users                    []json.RawMessage `json:"users"`
	Groups                   []json.RawMessage `json:"groups"`
	ServicePrincipals        []json.RawMessage `json:"servicePrincipals"`
	Catalogs                 []json.RawMessage `json:"catalogs"`
	AccessPackages           []json.RawMessage `json:"accessPackages"`
	CustomWorkflowExtensions []json.RawMessage `json:"customWorkflowExtensions"`
	AssignmentPolicies       []json.RawMessage `json:"assignmentPolicies"`
}

// seedExtension is an extension with the catalog it belongs to.
type seedExtension struct {
	customExtensionInput
	CatalogID string `json:"catalogId"`
}

// DecodeSeed reads a seed file with the same strict rules as the API, so a
// typo in a seed fails the start with the property named.
func DecodeSeed(r io.Reader) (access.Seed, error) {
	var seed access.Seed
	body, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return seed, err
	}
	var file seedFile
	if err := decodeJSON(body, &file); err != nil {
		return seed, err
	}
	each := func(set string, items []json.RawMessage, fn func(id string, raw []byte) error) error {
		for i, raw := range items {
			var key struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &key); err != nil || key.ID == "" {
				return access.Invalidf("%s[%d]: a string id is required in a seed", set, i)
			}
			if err := fn(key.ID, raw); err != nil {
				return access.Invalidf("%s[%d] (%s): %s", set, i, key.ID, messageOf(err))
			}
		}
		return nil
	}
	err = each("users", file.Users, func(id string, raw []byte) error {
		var in userInput
		var err error
		if in.nulls, err = decodeInput(raw, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		u := access.User{ID: id, AccountEnabled: true}
		if err := in.apply(&u); err != nil {
			return err
		}
		if in.ManagerBind != nil {
			m, err := refKey("manager@odata.bind", *in.ManagerBind)
			if err != nil {
				return err
			}
			u.ManagerID = m
		}
		seed.Users = append(seed.Users, u)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("groups", file.Groups, func(id string, raw []byte) error {
		var in groupInput
		var err error
		if in.nulls, err = decodeInput(raw, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		g := access.SeedGroup{Group: access.Group{ID: id, SecurityEnabled: true}}
		if err := in.apply(&g.Group); err != nil {
			return err
		}
		if g.Members, err = refKeys("members@odata.bind", in.MembersBind); err != nil {
			return err
		}
		if g.Owners, err = refKeys("owners@odata.bind", in.OwnersBind); err != nil {
			return err
		}
		seed.Groups = append(seed.Groups, g)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("servicePrincipals", file.ServicePrincipals, func(id string, raw []byte) error {
		var in servicePrincipalInput
		var err error
		if in.nulls, err = decodeInput(raw, &in); err != nil {
			return err
		}
		if err := in.check(); err != nil {
			return err
		}
		sp := access.ServicePrincipal{ID: id}
		if err := in.apply(&sp); err != nil {
			return err
		}
		seed.ServicePrincipals = append(seed.ServicePrincipals, sp)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("catalogs", file.Catalogs, func(id string, raw []byte) error {
		var in catalogInput
		if err := decodeJSON(raw, &in); err != nil {
			return err
		}
		c := access.Catalog{ID: id}
		if err := in.apply(&c); err != nil {
			return err
		}
		seed.Catalogs = append(seed.Catalogs, c)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("accessPackages", file.AccessPackages, func(id string, raw []byte) error {
		var in accessPackageInput
		if err := decodeJSON(raw, &in); err != nil {
			return err
		}
		p := access.AccessPackage{ID: id}
		if err := in.apply(&p); err != nil {
			return err
		}
		seed.AccessPackages = append(seed.AccessPackages, p)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("customWorkflowExtensions", file.CustomWorkflowExtensions, func(id string, raw []byte) error {
		var in seedExtension
		if err := decodeJSON(raw, &in); err != nil {
			return err
		}
		if in.CatalogID == "" {
			return access.Invalidf("catalogId is required in a seed")
		}
		x, err := in.toDomain()
		if err != nil {
			return err
		}
		x.ID, x.CatalogID = id, in.CatalogID
		seed.CustomExtensions = append(seed.CustomExtensions, x)
		return nil
	})
	if err != nil {
		return seed, err
	}
	err = each("assignmentPolicies", file.AssignmentPolicies, func(id string, raw []byte) error {
		var in policyInput
		if err := decodeJSON(raw, &in); err != nil {
			return err
		}
		p, err := in.toDomain()
		if err != nil {
			return err
		}
		p.ID = id
		seed.Policies = append(seed.Policies, p)
		return nil
	})
	return seed, err
}

func messageOf(err error) string {
	if e, ok := err.(*access.Error); ok {
		return e.Message
	}
	return fmt.Sprint(err)
}
