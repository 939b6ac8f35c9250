package access

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
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
		// Replicas that start with the same seed apply it one after the
		// other; the later ones find it applied.
		if err := tx.Lock(Lock{Name: "seed"}); err != nil {
			return err
		}
		return s.applySeed(tx, seed, &res)
	})
	return res, err
}

// seedNoun says how to apply one kind of seed item. Items are matched by id:
// prepare checks one and fills what the seed leaves out (old is the stored
// item when existed); same says whether the stored item already matches, so
// that an unchanged item is not written again; put writes it.
type seedNoun[T any] struct {
	set     string // the seed file's array, for messages
	id      func(T) string
	load    func(Tx, string) (T, error)
	prepare func(tx Tx, item *T, old T, existed bool) error
	same    func(old, item T) bool
	put     func(Tx, T) error
}

// applySeedNoun applies one kind of item and counts what it did; changed
// says, item by item, whether it was created or updated.
func applySeedNoun[T any](tx Tx, n seedNoun[T], items []T, res *SeedResult) (changed []bool, err error) {
	changed = make([]bool, len(items))
	for i, item := range items {
		id := n.id(item)
		if id == "" {
			return nil, Invalidf("seed: %s[%d].id is required", n.set, i)
		}
		where := fmt.Sprintf("seed: %s[%d] (%s)", n.set, i, id)
		old, err := n.load(tx, id)
		if err != nil && !IsNotFound(err) {
			return nil, err
		}
		existed := err == nil
		if err := n.prepare(tx, &item, old, existed); err != nil {
			return nil, inSeed(err, where)
		}
		if existed && n.same(old, item) {
			res.Unchanged++
			continue
		}
		if err := n.put(tx, item); err != nil {
			return nil, inSeed(err, where)
		}
		changed[i] = true
		if existed {
			res.Updated++
		} else {
			res.Created++
		}
	}
	return changed, nil
}

// seedAudit sets the created and modified fields of a seeded item: the seed
// made it now, unless it existed, in which case it keeps when and by whom it
// was first made.
func seedAudit(createdBy, modifiedBy *string, created, modified *time.Time, oldBy string, oldAt time.Time, existed bool, now time.Time) {
	*createdBy, *modifiedBy, *created, *modified = seedActor.Name(), seedActor.Name(), now, now
	if existed {
		*createdBy, *created = oldBy, oldAt
	}
}

func (s *Service) applySeed(tx Tx, seed Seed, res *SeedResult) error {
	now := s.Now()
	if _, err := applySeedNoun(tx, seedNoun[User]{set: "users", id: func(u User) string { return u.ID }, load: Tx.User,
		prepare: func(tx Tx, u *User, _ User, _ bool) error {
			if err := u.Validate(); err != nil {
				return err
			}
			if other, err := tx.UserByPrincipalName(u.UserPrincipalName); err == nil && other.ID != u.ID {
				return Conflictf("another user already has userPrincipalName %q", u.UserPrincipalName)
			}
			return nil
		},
		same: func(old, u User) bool { return old == u }, put: Tx.PutUser,
	}, seed.Users, res); err != nil {
		return err
	}
	for _, u := range seed.Users { // managers may be listed after the users they manage
		if u.ManagerID != "" {
			if err := s.checkManager(tx, u.ID, u.ManagerID); err != nil {
				return inSeed(err, fmt.Sprintf("seed: user %s", u.ID))
			}
		}
	}
	if _, err := applySeedNoun(tx, seedNoun[ServicePrincipal]{set: "servicePrincipals", id: func(sp ServicePrincipal) string { return sp.ID },
		load: Tx.ServicePrincipal,
		prepare: func(_ Tx, sp *ServicePrincipal, _ ServicePrincipal, _ bool) error {
			if sp.AppID == "" {
				sp.AppID = sp.ID
			}
			return sp.Validate()
		},
		same: func(old, sp ServicePrincipal) bool { return reflect.DeepEqual(old, sp) }, put: putServicePrincipal,
	}, seed.ServicePrincipals, res); err != nil {
		return err
	}
	groups, err := applySeedNoun(tx, seedNoun[SeedGroup]{set: "groups", id: func(g SeedGroup) string { return g.ID },
		load:    func(tx Tx, id string) (SeedGroup, error) { g, err := tx.Group(id); return SeedGroup{Group: g}, err },
		prepare: func(_ Tx, g *SeedGroup, _ SeedGroup, _ bool) error { return g.Validate() },
		same:    func(old, g SeedGroup) bool { return old.Group == g.Group },
		put:     func(tx Tx, g SeedGroup) error { return tx.PutGroup(g.Group) },
	}, seed.Groups, res)
	if err != nil {
		return err
	}
	for i, g := range seed.Groups { // members may be groups listed later
		changedMembers, err := syncRelation(tx, g.ID, GroupMembers, g.Members)
		if err != nil {
			return err
		}
		changedOwners, err := syncRelation(tx, g.ID, GroupOwners, g.Owners)
		if err != nil {
			return err
		}
		if !groups[i] && (changedMembers || changedOwners) { // counted unchanged, yet its lists changed
			res.Unchanged--
			res.Updated++
		}
	}
	if _, err := applySeedNoun(tx, seedNoun[Catalog]{set: "catalogs", id: func(c Catalog) string { return c.ID }, load: Tx.Catalog,
		prepare: func(_ Tx, c *Catalog, old Catalog, existed bool) error {
			c.Normalize()
			seedAudit(&c.CreatedBy, &c.ModifiedBy, &c.CreatedDateTime, &c.ModifiedDateTime, old.CreatedBy, old.CreatedDateTime, existed, now)
			return c.Validate()
		},
		same: func(old, c Catalog) bool {
			return sameExceptAudit(old, c, func(from Catalog, to *Catalog) {
				to.ModifiedBy, to.ModifiedDateTime = from.ModifiedBy, from.ModifiedDateTime
			})
		},
		put: Tx.PutCatalog,
	}, seed.Catalogs, res); err != nil {
		return err
	}
	if _, err := applySeedNoun(tx, seedNoun[AccessPackage]{set: "accessPackages", id: func(p AccessPackage) string { return p.ID }, load: Tx.AccessPackage,
		prepare: func(tx Tx, p *AccessPackage, old AccessPackage, existed bool) error {
			if err := p.Validate(); err != nil {
				return err
			}
			if err := referenced(tx.Catalog(p.CatalogID)); err != nil {
				return err
			}
			if existed && old.CatalogID != p.CatalogID {
				return Invalidf("an access package stays in its catalog")
			}
			// What a seed file cannot say (the roles a package grants, its
			// incompatibilities) stays as the API set it.
			p.RoleScopes, p.IncompatiblePackages, p.IncompatibleGroups = old.RoleScopes, old.IncompatiblePackages, old.IncompatibleGroups
			seedAudit(&p.CreatedBy, &p.ModifiedBy, &p.CreatedDateTime, &p.ModifiedDateTime, old.CreatedBy, old.CreatedDateTime, existed, now)
			return nil
		},
		same: func(old, p AccessPackage) bool {
			return sameExceptAudit(old, p, func(from AccessPackage, to *AccessPackage) {
				to.ModifiedBy, to.ModifiedDateTime = from.ModifiedBy, from.ModifiedDateTime
			})
		},
		put: Tx.PutAccessPackage,
	}, seed.AccessPackages, res); err != nil {
		return err
	}
	if _, err := applySeedNoun(tx, seedNoun[CustomExtension]{set: "customWorkflowExtensions", id: func(x CustomExtension) string { return x.ID },
		load: Tx.CustomExtension,
		prepare: func(tx Tx, x *CustomExtension, old CustomExtension, existed bool) error {
			if err := x.Validate(); err != nil {
				return err
			}
			if err := referenced(tx.Catalog(x.CatalogID)); err != nil {
				return err
			}
			if existed && (old.Type != x.Type || old.CatalogID != x.CatalogID) {
				return Invalidf("an extension keeps its @odata.type and its catalog; policies bind it as it is")
			}
			seedAudit(&x.CreatedBy, &x.LastModifiedBy, &x.CreatedDateTime, &x.LastModifiedDateTime, old.CreatedBy, old.CreatedDateTime, existed, now)
			return nil
		},
		same: func(old, x CustomExtension) bool {
			return sameExceptAudit(old, x, func(from CustomExtension, to *CustomExtension) {
				to.LastModifiedBy, to.LastModifiedDateTime = from.LastModifiedBy, from.LastModifiedDateTime
			})
		},
		put: Tx.PutCustomExtension,
	}, seed.CustomExtensions, res); err != nil {
		return err
	}
	_, err = applySeedNoun(tx, seedNoun[AssignmentPolicy]{set: "assignmentPolicies", id: func(p AssignmentPolicy) string { return p.ID },
		load: Tx.AssignmentPolicy,
		prepare: func(_ Tx, p *AssignmentPolicy, old AssignmentPolicy, existed bool) error {
			*p = p.withOwnSlices()
			p.CreatedDateTime, p.ModifiedDateTime = now, now
			if !existed {
				return nil
			}
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
			return nil
		},
		same: func(old, p AssignmentPolicy) bool {
			candidate := p.withOwnSlices() // as putPolicy would store it
			candidate.Normalize()
			candidate.CatalogID = old.CatalogID
			return sameExceptAudit(old, candidate, func(from AssignmentPolicy, to *AssignmentPolicy) { to.ModifiedDateTime = from.ModifiedDateTime })
		},
		put: func(tx Tx, p AssignmentPolicy) error { return s.putPolicy(tx, &p) },
	}, seed.Policies, res)
	return err
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
