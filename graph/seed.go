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
	if seed.Users, err = seedItems("users", file.Users, seedUser); err != nil {
		return seed, err
	}
	if seed.Groups, err = seedItems("groups", file.Groups, seedGroup); err != nil {
		return seed, err
	}
	if seed.ServicePrincipals, err = seedItems("servicePrincipals", file.ServicePrincipals, seedServicePrincipal); err != nil {
		return seed, err
	}
	if seed.Catalogs, err = seedItems("catalogs", file.Catalogs, seedCatalog); err != nil {
		return seed, err
	}
	if seed.AccessPackages, err = seedItems("accessPackages", file.AccessPackages, seedAccessPackage); err != nil {
		return seed, err
	}
	if seed.CustomExtensions, err = seedItems("customWorkflowExtensions", file.CustomWorkflowExtensions, seedCustomExtension); err != nil {
		return seed, err
	}
	seed.Policies, err = seedItems("assignmentPolicies", file.AssignmentPolicies, seedPolicy)
	return seed, err
}

// seedItems reads one array of a seed file: each item must carry a string
// id, and read turns it into the domain type, naming the item when it fails.
func seedItems[T any](set string, items []json.RawMessage, read func(id string, raw []byte) (T, error)) ([]T, error) {
	out := make([]T, 0, len(items))
	for i, raw := range items {
		var key struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &key); err != nil || key.ID == "" {
			return nil, access.Invalidf("%s[%d]: a string id is required in a seed", set, i)
		}
		item, err := read(key.ID, raw)
		if err != nil {
			return nil, access.Invalidf("%s[%d] (%s): %s", set, i, key.ID, messageOf(err))
		}
		out = append(out, item)
	}
	return out, nil
}

func seedUser(id string, raw []byte) (access.User, error) {
	var in userInput
	var err error
	u := access.User{ID: id, AccountEnabled: true}
	if in.nulls, err = decodeInput(raw, &in); err != nil {
		return u, err
	}
	if err := in.apply(&u); err != nil {
		return u, err
	}
	if in.ManagerBind != nil {
		u.ManagerID, err = refKey("manager@odata.bind", *in.ManagerBind)
	}
	return u, err
}

func seedGroup(id string, raw []byte) (access.SeedGroup, error) {
	var in groupInput
	var err error
	g := access.SeedGroup{Group: access.Group{ID: id, SecurityEnabled: true}}
	if in.nulls, err = decodeInput(raw, &in); err != nil {
		return g, err
	}
	if err := in.apply(&g.Group); err != nil {
		return g, err
	}
	if g.Members, err = refKeys("members@odata.bind", in.MembersBind); err != nil {
		return g, err
	}
	g.Owners, err = refKeys("owners@odata.bind", in.OwnersBind)
	return g, err
}

func seedServicePrincipal(id string, raw []byte) (access.ServicePrincipal, error) {
	var in servicePrincipalInput
	var err error
	sp := access.ServicePrincipal{ID: id}
	if in.nulls, err = decodeInput(raw, &in); err != nil {
		return sp, err
	}
	return sp, in.apply(&sp)
}

func seedCatalog(id string, raw []byte) (access.Catalog, error) {
	var in catalogInput
	c := access.Catalog{ID: id}
	if err := decodeJSON(raw, &in); err != nil {
		return c, err
	}
	return c, in.apply(&c)
}

func seedAccessPackage(id string, raw []byte) (access.AccessPackage, error) {
	var in accessPackageInput
	p := access.AccessPackage{ID: id}
	if err := decodeJSON(raw, &in); err != nil {
		return p, err
	}
	return p, in.apply(&p)
}

func seedCustomExtension(id string, raw []byte) (access.CustomExtension, error) {
	var in seedExtension
	if err := decodeJSON(raw, &in); err != nil {
		return access.CustomExtension{}, err
	}
	if in.CatalogID == "" {
		return access.CustomExtension{}, access.Invalidf("catalogId is required in a seed")
	}
	x, err := in.toDomain()
	x.ID, x.CatalogID = id, in.CatalogID
	return x, err
}

func seedPolicy(id string, raw []byte) (access.AssignmentPolicy, error) {
	var in policyInput
	if err := decodeJSON(raw, &in); err != nil {
		return access.AssignmentPolicy{}, err
	}
	p, err := in.toDomain()
	p.ID = id
	return p, err
}

func messageOf(err error) string {
	if e, ok := err.(*access.Error); ok {
		return e.Message
	}
	return fmt.Sprint(err)
}
