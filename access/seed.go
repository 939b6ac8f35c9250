package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Seed is the content of a --seed file: objects with fixed ids that refer to
// each other. Applying it creates what is missing and updates what differs,
// so applying the same seed twice changes nothing.
type Seed struct {
	Users             []User
	Groups            []SeedGroup
	ServicePrincipals []ServicePrincipal
	Catalogs          []Catalog
	AccessPackages    []AccessPackage
	CustomExtensions  []CustomExtension
	Policies          []AssignmentPolicy
}

// SeedGroup is a group with the exact member and owner lists it should have.
type SeedGroup struct {
	Group
	Members []string
	Owners  []string
}

// SeedResult counts what applying a seed did.
type SeedResult struct {
	Created, Updated, Unchanged int
}

// seedActor is the name recorded as creator of seeded objects.
var seedActor = Caller{DisplayName: "accessd seed"}

// ApplySeed applies a seed in one transaction: all of it or none of it.
func (s *Service) ApplySeed(ctx context.Context, seed Seed) (SeedResult, error) {
	var res SeedResult
	err := s.update(ctx, func(tx Tx) error {
		res = SeedResult{}
		return s.applySeed(tx, seed, &res)
	})
	return res, err
}

func (s *Service) applySeed(tx Tx, seed Seed, res *SeedResult) error {
	now := s.Now()
	// upsert writes obj when it is new or differs from what is stored.
	count := func(existed, changed bool) bool {
		switch {
		case !existed:
			res.Created++
		case changed:
			res.Updated++
		default:
			res.Unchanged++
		}
		return !existed || changed
	}
	for i, u := range seed.Users {
		if u.ID == "" {
			return Invalidf("seed: users[%d].id is required", i)
		}
		if err := u.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: users[%d] (%s)", i, u.ID))
		}
		old, err := tx.User(u.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if count(err == nil, old != u) {
			if other, err := tx.UserByPrincipalName(u.UserPrincipalName); err == nil && other.ID != u.ID {
				return Conflictf("seed: users[%d]: another user already has userPrincipalName %q", i, u.UserPrincipalName)
			}
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
	}
	for _, u := range seed.Users { // managers may be listed after the users they manage
		if u.ManagerID != "" {
			if err := s.checkManager(tx, u.ID, u.ManagerID); err != nil {
				return inSeed(err, fmt.Sprintf("seed: user %s", u.ID))
			}
		}
	}
	for i, sp := range seed.ServicePrincipals {
		if sp.ID == "" {
			return Invalidf("seed: servicePrincipals[%d].id is required", i)
		}
		if sp.AppID == "" {
			sp.AppID = sp.ID
		}
		if err := sp.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: servicePrincipals[%d]", i))
		}
		old, err := tx.ServicePrincipal(sp.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if count(err == nil, !sameExceptAudit(old, sp, func(ServicePrincipal, *ServicePrincipal) {})) {
			if err := putServicePrincipal(tx, sp); err != nil {
				return err
			}
		}
	}
	written := map[string]bool{} // groups created or updated, already counted
	for i, g := range seed.Groups {
		if g.ID == "" {
			return Invalidf("seed: groups[%d].id is required", i)
		}
		if err := g.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: groups[%d]", i))
		}
		old, err := tx.Group(g.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if err == nil && old == g.Group {
			continue // counted once its members and owners are compared too
		}
		if err := tx.PutGroup(g.Group); err != nil {
			return err
		}
		if err == nil {
			res.Updated++
		} else {
			res.Created++
		}
		written[g.ID] = true
	}
	for _, g := range seed.Groups { // members may be groups listed later
		changedMembers, err := syncRelation(tx, g.ID, GroupMembers, g.Members)
		if err != nil {
			return err
		}
		changedOwners, err := syncRelation(tx, g.ID, GroupOwners, g.Owners)
		if err != nil {
			return err
		}
		switch {
		case written[g.ID]:
		case changedMembers || changedOwners:
			res.Updated++
		default:
			res.Unchanged++
		}
	}
	for i, c := range seed.Catalogs {
		if c.ID == "" {
			return Invalidf("seed: catalogs[%d].id is required", i)
		}
		c.Normalize()
		if err := c.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: catalogs[%d]", i))
		}
		old, err := tx.Catalog(c.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		c.CreatedBy, c.ModifiedBy, c.CreatedDateTime, c.ModifiedDateTime = seedActor.Name(), seedActor.Name(), now, now
		same := err == nil && sameExceptAudit(old, c, func(from Catalog, to *Catalog) {
			to.CreatedBy, to.ModifiedBy, to.CreatedDateTime, to.ModifiedDateTime = from.CreatedBy, from.ModifiedBy, from.CreatedDateTime, from.ModifiedDateTime
		})
		if err == nil {
			c.CreatedBy, c.CreatedDateTime = old.CreatedBy, old.CreatedDateTime
		}
		if count(err == nil, !same) {
			if err := tx.PutCatalog(c); err != nil {
				return err
			}
		}
	}
	for i, p := range seed.AccessPackages {
		if p.ID == "" {
			return Invalidf("seed: accessPackages[%d].id is required", i)
		}
		if err := p.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: accessPackages[%d]", i))
		}
		if err := referenced(tx.Catalog(p.CatalogID)); err != nil {
			return inSeed(err, fmt.Sprintf("seed: accessPackages[%d]", i))
		}
		old, err := tx.AccessPackage(p.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if err == nil && old.CatalogID != p.CatalogID {
			return Invalidf("seed: accessPackages[%d] (%s): an access package stays in its catalog", i, p.ID)
		}
		p.CreatedBy, p.ModifiedBy, p.CreatedDateTime, p.ModifiedDateTime = seedActor.Name(), seedActor.Name(), now, now
		same := err == nil && sameExceptAudit(old, p, func(from AccessPackage, to *AccessPackage) {
			to.CreatedBy, to.ModifiedBy, to.CreatedDateTime, to.ModifiedDateTime = from.CreatedBy, from.ModifiedBy, from.CreatedDateTime, from.ModifiedDateTime
		})
		if err == nil {
			p.CreatedBy, p.CreatedDateTime = old.CreatedBy, old.CreatedDateTime
		}
		if count(err == nil, !same) {
			if err := tx.PutAccessPackage(p); err != nil {
				return err
			}
		}
	}
	for i, x := range seed.CustomExtensions {
		if x.ID == "" {
			return Invalidf("seed: customWorkflowExtensions[%d].id is required", i)
		}
		if err := x.Validate(); err != nil {
			return inSeed(err, fmt.Sprintf("seed: customWorkflowExtensions[%d]", i))
		}
		if err := referenced(tx.Catalog(x.CatalogID)); err != nil {
			return inSeed(err, fmt.Sprintf("seed: customWorkflowExtensions[%d]", i))
		}
		old, err := tx.CustomExtension(x.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		if err == nil && (old.Type != x.Type || old.CatalogID != x.CatalogID) {
			return Invalidf("seed: customWorkflowExtensions[%d] (%s): an extension keeps its @odata.type and its catalog; policies bind it as it is", i, x.ID)
		}
		x.CreatedBy, x.LastModifiedBy, x.CreatedDateTime, x.LastModifiedDateTime = seedActor.Name(), seedActor.Name(), now, now
		same := err == nil && sameExceptAudit(old, x, func(from CustomExtension, to *CustomExtension) {
			to.CreatedBy, to.LastModifiedBy, to.CreatedDateTime, to.LastModifiedDateTime = from.CreatedBy, from.LastModifiedBy, from.CreatedDateTime, from.LastModifiedDateTime
		})
		if err == nil {
			x.CreatedBy, x.CreatedDateTime = old.CreatedBy, old.CreatedDateTime
		}
		if count(err == nil, !same) {
			if err := tx.PutCustomExtension(x); err != nil {
				return err
			}
		}
	}
	for i, p := range seed.Policies {
		p = p.withOwnSlices()
		if p.ID == "" {
			return Invalidf("seed: assignmentPolicies[%d].id is required", i)
		}
		old, err := tx.AssignmentPolicy(p.ID)
		if err != nil && !IsNotFound(err) {
			return err
		}
		existed := err == nil
		p.CreatedDateTime, p.ModifiedDateTime = now, now
		if existed {
			p.CreatedDateTime = old.CreatedDateTime
			// Generated ids of bindings and questions are kept when the seed gives none.
			for j := range p.ExtensionBindings {
				if p.ExtensionBindings[j].ID == "" && j < len(old.ExtensionBindings) {
					p.ExtensionBindings[j].ID = old.ExtensionBindings[j].ID
				}
			}
			for j := range p.Questions {
				if p.Questions[j].ID == "" && j < len(old.Questions) {
					p.Questions[j].ID = old.Questions[j].ID
				}
			}
		}
		candidate := p.withOwnSlices()
		candidate.Normalize()
		candidate.CatalogID = old.CatalogID
		same := existed && sameExceptAudit(old, candidate, func(from AssignmentPolicy, to *AssignmentPolicy) {
			to.CreatedDateTime, to.ModifiedDateTime = from.CreatedDateTime, from.ModifiedDateTime
		})
		if count(existed, !same) {
			if err := s.putPolicy(tx, &p); err != nil {
				return inSeed(err, fmt.Sprintf("seed: assignmentPolicies[%d] (%s)", i, p.ID))
			}
		}
	}
	return nil
}

// syncRelation makes a group's member or owner list exactly want, and
// reports whether it changed anything.
func syncRelation(tx Tx, groupID string, rel GroupRelation, want []string) (bool, error) {
	var have []string
	after := ""
	for {
		page, err := tx.GroupRelation(groupID, rel, Page{After: after, Limit: 500})
		if err != nil {
			return false, err
		}
		for _, o := range page {
			have = append(have, o.ID)
		}
		if len(page) < 500 {
			break
		}
		after = page[len(page)-1].ID
	}
	changed := false
	for _, id := range have {
		if !slices.Contains(want, id) {
			changed = true
			if err := tx.RemoveFromGroup(groupID, rel, id); err != nil {
				return false, err
			}
		}
	}
	for _, id := range want {
		if !slices.Contains(have, id) {
			changed = true
			if err := addToGroup(tx, groupID, rel, id, true); err != nil {
				return false, inSeed(err, fmt.Sprintf("seed: group %s %s", groupID, rel))
			}
		}
	}
	return changed, nil
}

// inSeed says where in the seed a rule was broken; other errors pass unchanged.
func inSeed(err error, where string) error {
	var e *Error
	if errors.As(err, &e) && (e.Kind == KindInvalid || e.Kind == KindNotFound) {
		return Invalidf("%s: %s", where, e.Message)
	}
	return err
}
