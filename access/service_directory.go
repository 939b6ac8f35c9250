package access

import (
	"context"
	"slices"
	"strings"
)

// CreateUser stores a new user; userPrincipalName is unique, ignoring case.
func (s *Service) CreateUser(ctx context.Context, u User) (User, error) {
	if err := u.Validate(); err != nil {
		return User{}, err
	}
	u.ID = s.newID(u.ID)
	err := s.update(ctx, func(tx Tx) error {
		locks := []Lock{objectLock(u.ID)}
		if u.ManagerID != "" {
			locks = append(locks, managersLock)
		}
		if err := tx.Lock(locks...); err != nil {
			return err
		}
		if _, err := tx.User(u.ID); err == nil {
			return Conflictf("a user with id %q already exists", u.ID)
		}
		return s.putUser(tx, u)
	})
	return u, err
}

func (s *Service) putUser(tx Tx, u User) error {
	other, err := tx.UserByPrincipalName(u.UserPrincipalName)
	if err == nil && other.ID != u.ID {
		return Conflictf("another user already has userPrincipalName %q", u.UserPrincipalName)
	}
	if err != nil && !IsNotFound(err) {
		return err
	}
	if u.ManagerID != "" {
		if err := s.checkManager(tx, u.ID, u.ManagerID); err != nil {
			return err
		}
	}
	return tx.PutUser(u)
}

// checkManager refuses a manager that does not exist or that would make a
// cycle, because approvals walk the manager chain.
func (s *Service) checkManager(tx Tx, userID, managerID string) error {
	for id, depth := managerID, 0; id != ""; depth++ {
		if id == userID {
			return Invalidf("user %q cannot be their own manager, directly or through others", userID)
		}
		m, err := tx.User(id)
		if err := referenced(m, err); err != nil {
			return err
		}
		if depth > 100 {
			break
		}
		id = m.ManagerID
	}
	return nil
}

// User reads one user by id or, as Graph allows, by userPrincipalName.
func (s *Service) User(ctx context.Context, idOrUPN string) (User, error) {
	return get(ctx, s, func(tx Tx) (User, error) { return userByKey(tx, idOrUPN) })
}

// lockedUser reads a user by id or userPrincipalName with its lock taken,
// for a change: read again after the lock, it is as the last change left it.
func lockedUser(tx Tx, key string) (User, error) {
	u, err := userByKey(tx, key)
	if err != nil {
		return u, err
	}
	if err := tx.Lock(objectLock(u.ID)); err != nil {
		return u, err
	}
	return tx.User(u.ID)
}

func userByKey(tx Tx, key string) (User, error) {
	if strings.Contains(key, "@") {
		return tx.UserByPrincipalName(key)
	}
	return tx.User(key)
}

// Users lists one page of users.
func (s *Service) Users(ctx context.Context, p Page) ([]User, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]User, error) { return tx.Users(p) })
}

// UpdateUser applies a partial change (PATCH).
func (s *Service) UpdateUser(ctx context.Context, idOrUPN string, apply func(*User) error) (User, error) {
	var u User
	err := s.update(ctx, func(tx Tx) error {
		var err error
		if u, err = lockedUser(tx, idOrUPN); err != nil {
			return err
		}
		id, manager := u.ID, u.ManagerID
		if err := apply(&u); err != nil {
			return err
		}
		u.ID, u.ManagerID = id, manager // the manager changes only through /manager/$ref
		if err := u.Validate(); err != nil {
			return err
		}
		return s.putUser(tx, u)
	})
	return u, err
}

// DeleteUser removes a user, its memberships and its place as anyone's manager.
func (s *Service) DeleteUser(ctx context.Context, idOrUPN string) error {
	return s.update(ctx, func(tx Tx) error {
		u, err := lockedUser(tx, idOrUPN)
		if err != nil {
			return err
		}
		return tx.DeleteUser(u.ID)
	})
}

// Manager reads a user's manager; a user without one is not found, as in Graph.
func (s *Service) Manager(ctx context.Context, idOrUPN string) (User, error) {
	return get(ctx, s, func(tx Tx) (User, error) {
		u, err := userByKey(tx, idOrUPN)
		if err != nil {
			return User{}, err
		}
		if u.ManagerID == "" {
			return User{}, NotFoundf("user %q has no manager", u.ID)
		}
		return tx.User(u.ManagerID)
	})
}

// SetManager sets (managerID != "") or removes (managerID == "") a user's manager.
func (s *Service) SetManager(ctx context.Context, idOrUPN, managerID string) error {
	return s.update(ctx, func(tx Tx) error {
		// Two changes of manager chains at once could each find no cycle
		// and make one together.
		if err := tx.Lock(managersLock); err != nil {
			return err
		}
		u, err := lockedUser(tx, idOrUPN)
		if err != nil {
			return err
		}
		if managerID == "" && u.ManagerID == "" {
			return NotFoundf("user %q has no manager", u.ID)
		}
		if managerID != "" {
			if _, err := tx.User(managerID); err != nil {
				return err // the $ref names a user that does not exist: 404, as in Graph
			}
			if err := s.checkManager(tx, u.ID, managerID); err != nil {
				return err
			}
		}
		u.ManagerID = managerID
		return tx.PutUser(u)
	})
}

// CreateGroup stores a new group with optional first members and owners.
func (s *Service) CreateGroup(ctx context.Context, g Group, members, owners []string) (Group, error) {
	if err := g.Validate(); err != nil {
		return Group{}, err
	}
	g.ID = s.newID(g.ID)
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(g.ID)); err != nil {
			return err
		}
		if _, err := tx.Group(g.ID); err == nil {
			return Conflictf("a group with id %q already exists", g.ID)
		}
		if err := tx.PutGroup(g); err != nil {
			return err
		}
		return addAll(tx, g.ID, members, owners)
	})
	return g, err
}

func addAll(tx Tx, groupID string, members, owners []string) error {
	for _, id := range members {
		if err := addToGroup(tx, groupID, GroupMembers, id, true); err != nil {
			return err
		}
	}
	for _, id := range owners {
		if err := addToGroup(tx, groupID, GroupOwners, id, true); err != nil {
			return err
		}
	}
	return nil
}

// Group reads one group.
func (s *Service) Group(ctx context.Context, id string) (Group, error) {
	return get(ctx, s, func(tx Tx) (Group, error) { return tx.Group(id) })
}

// Groups lists one page of groups.
func (s *Service) Groups(ctx context.Context, p Page) ([]Group, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]Group, error) { return tx.Groups(p) })
}

// UpdateGroup applies a partial change (PATCH).
func (s *Service) UpdateGroup(ctx context.Context, id string, apply func(*Group) error) (Group, error) {
	var g Group
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(id)); err != nil {
			return err
		}
		var err error
		if g, err = tx.Group(id); err != nil {
			return err
		}
		if err := apply(&g); err != nil {
			return err
		}
		g.ID = id
		if err := g.Validate(); err != nil {
			return err
		}
		return tx.PutGroup(g)
	})
	return g, err
}

// DeleteGroup removes a group with its member and owner lists.
func (s *Service) DeleteGroup(ctx context.Context, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(id)); err != nil {
			return err
		}
		return tx.DeleteGroup(id)
	})
}

// GroupRelation lists a group's members or owners.
func (s *Service) GroupRelation(ctx context.Context, groupID string, rel GroupRelation, p Page) ([]DirectoryObject, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]DirectoryObject, error) {
		if _, err := tx.Group(groupID); err != nil {
			return nil, err
		}
		return tx.GroupRelation(groupID, rel, p)
	})
}

// AddToGroup adds a user, group or service principal as a member, or a user
// or service principal as an owner.
func (s *Service) AddToGroup(ctx context.Context, groupID string, rel GroupRelation, objectID string) error {
	return s.update(ctx, func(tx Tx) error { return addToGroup(tx, groupID, rel, objectID, false) })
}

// addToGroup resolves what objectID is; inBody says whether an unknown id
// came from a request body (400) or a $ref URL (404 is kept for the group).
func addToGroup(tx Tx, groupID string, rel GroupRelation, objectID string, inBody bool) error {
	// Neither the group nor the object may be deleted between the check
	// that both exist and the new relation's commit.
	if err := tx.Lock(objectLock(groupID), objectLock(objectID)); err != nil {
		return err
	}
	if _, err := tx.Group(groupID); err != nil {
		return err
	}
	kind, err := objectKind(tx, objectID)
	if err != nil {
		if inBody && IsNotFound(err) {
			return referenced(0, err)
		}
		return err
	}
	if kind == ObjectGroup && objectID == groupID {
		return Invalidf("a group cannot be a member of itself")
	}
	if rel == GroupOwners && kind == ObjectGroup {
		return Invalidf("a group cannot own a group; owners are users or service principals")
	}
	return tx.AddToGroup(groupID, rel, kind, objectID)
}

// objectKind finds which directory collection holds id.
func objectKind(tx Tx, id string) (DirectoryObjectKind, error) {
	if _, err := tx.User(id); err == nil {
		return ObjectUser, nil
	} else if !IsNotFound(err) {
		return "", err
	}
	if _, err := tx.Group(id); err == nil {
		return ObjectGroup, nil
	} else if !IsNotFound(err) {
		return "", err
	}
	if _, err := tx.ServicePrincipal(id); err == nil {
		return ObjectServicePrincipal, nil
	} else if !IsNotFound(err) {
		return "", err
	}
	return "", NotFoundf("no directory object with id %q", id)
}

// RemoveFromGroup removes a member or an owner.
func (s *Service) RemoveFromGroup(ctx context.Context, groupID string, rel GroupRelation, objectID string) error {
	return s.update(ctx, func(tx Tx) error {
		if _, err := tx.Group(groupID); err != nil {
			return err
		}
		return tx.RemoveFromGroup(groupID, rel, objectID)
	})
}

// CreateServicePrincipal stores a new service principal; appId is generated
// when absent and unique when given.
func (s *Service) CreateServicePrincipal(ctx context.Context, sp ServicePrincipal) (ServicePrincipal, error) {
	if err := sp.Validate(); err != nil {
		return ServicePrincipal{}, err
	}
	sp.ID = s.newID(sp.ID)
	if sp.AppID == "" {
		sp.AppID = s.ids.NewID()
	}
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(sp.ID)); err != nil {
			return err
		}
		if _, err := tx.ServicePrincipal(sp.ID); err == nil {
			return Conflictf("a service principal with id %q already exists", sp.ID)
		}
		return putServicePrincipal(tx, sp)
	})
	return sp, err
}

func putServicePrincipal(tx Tx, sp ServicePrincipal) error {
	other, err := tx.ServicePrincipalByAppID(sp.AppID)
	if err == nil && other.ID != sp.ID {
		return Conflictf("another service principal already has appId %q", sp.AppID)
	}
	if err != nil && !IsNotFound(err) {
		return err
	}
	return tx.PutServicePrincipal(sp)
}

// EnsureServicePrincipal returns the service principal named name, creating
// it when absent; `accessd token --app NAME` uses it.
func (s *Service) EnsureServicePrincipal(ctx context.Context, name string) (ServicePrincipal, error) {
	var sp ServicePrincipal
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(idLock("servicePrincipalName", name)); err != nil {
			return err
		}
		var err error
		sp, err = tx.ServicePrincipalByName(name)
		if !IsNotFound(err) {
			return err
		}
		sp = ServicePrincipal{ID: s.ids.NewID(), AppID: s.ids.NewID(), DisplayName: name}
		if err := sp.Validate(); err != nil {
			return err
		}
		return tx.PutServicePrincipal(sp)
	})
	return sp, err
}

// ServicePrincipal reads one service principal.
func (s *Service) ServicePrincipal(ctx context.Context, id string) (ServicePrincipal, error) {
	return get(ctx, s, func(tx Tx) (ServicePrincipal, error) { return tx.ServicePrincipal(id) })
}

// ServicePrincipals lists one page of service principals.
func (s *Service) ServicePrincipals(ctx context.Context, p Page) ([]ServicePrincipal, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]ServicePrincipal, error) { return tx.ServicePrincipals(p) })
}

// UpdateServicePrincipal applies a partial change (PATCH); appId never changes.
func (s *Service) UpdateServicePrincipal(ctx context.Context, id string, apply func(*ServicePrincipal) error) (ServicePrincipal, error) {
	var sp ServicePrincipal
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(id)); err != nil {
			return err
		}
		var err error
		if sp, err = tx.ServicePrincipal(id); err != nil {
			return err
		}
		appID := sp.AppID
		if err := apply(&sp); err != nil {
			return err
		}
		if sp.AppID != appID {
			return Invalidf("appId cannot change")
		}
		sp.ID = id
		if err := sp.Validate(); err != nil {
			return err
		}
		return tx.PutServicePrincipal(sp)
	})
	return sp, err
}

// DeleteServicePrincipal removes a service principal and its memberships.
func (s *Service) DeleteServicePrincipal(ctx context.Context, id string) error {
	return s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(id)); err != nil {
			return err
		}
		return tx.DeleteServicePrincipal(id)
	})
}

// AppRoleAssignedTo lists who holds the app roles of a service principal.
func (s *Service) AppRoleAssignedTo(ctx context.Context, servicePrincipalID string, p Page) ([]AppRoleAssignment, bool, error) {
	return list(ctx, s, p, func(tx Tx, p Page) ([]AppRoleAssignment, error) {
		if _, err := tx.ServicePrincipal(servicePrincipalID); err != nil {
			return nil, err
		}
		return tx.AppRoleAssignments(servicePrincipalID, "", p)
	})
}

// AssignAppRole gives a user, group or service principal one of a service
// principal's app roles directly (not through an access package).
func (s *Service) AssignAppRole(ctx context.Context, servicePrincipalID, principalID, appRoleID string) (AppRoleAssignment, error) {
	var a AppRoleAssignment
	err := s.update(ctx, func(tx Tx) error {
		if err := tx.Lock(objectLock(servicePrincipalID), objectLock(principalID)); err != nil {
			return err
		}
		sp, err := tx.ServicePrincipal(servicePrincipalID)
		if err != nil {
			return err
		}
		kind, err := objectKind(tx, principalID)
		if err != nil {
			return referencedAt("principalId", err)
		}
		if appRoleID != DefaultAccessRoleID {
			i := slices.IndexFunc(sp.AppRoles, func(r AppRole) bool { return r.ID == appRoleID })
			if i < 0 {
				return Invalidf("property 'appRoleId': service principal %q has no app role %q", sp.ID, appRoleID)
			}
			role := sp.AppRoles[i]
			memberType := "User" // users and groups hold roles for users
			if kind == ObjectServicePrincipal {
				memberType = "Application"
			}
			if !role.IsEnabled || (len(role.AllowedMemberTypes) > 0 && !slices.Contains(role.AllowedMemberTypes, memberType)) {
				return Invalidf("property 'appRoleId': app role %q of %q is disabled or not for a %s", appRoleID, sp.ID, kind)
			}
		}
		a = AppRoleAssignment{ID: s.ids.NewID(), AppRoleID: appRoleID, PrincipalID: principalID, ResourceID: sp.ID,
			ResourceDisplayName: sp.DisplayName, CreatedDateTime: s.Now()}
		switch kind {
		case ObjectUser:
			u, _ := tx.User(principalID)
			a.PrincipalType, a.PrincipalDisplayName = "User", u.DisplayName
		case ObjectGroup:
			g, _ := tx.Group(principalID)
			a.PrincipalType, a.PrincipalDisplayName = "Group", g.DisplayName
		default:
			other, _ := tx.ServicePrincipal(principalID)
			a.PrincipalType, a.PrincipalDisplayName = "ServicePrincipal", other.DisplayName
		}
		return tx.AddAppRoleAssignment(a)
	})
	return a, err
}

// RemoveAppRoleAssignment deletes one app role assignment of a service principal's roles.
func (s *Service) RemoveAppRoleAssignment(ctx context.Context, servicePrincipalID, id string) error {
	return s.update(ctx, func(tx Tx) error {
		found := false
		err := eachPage(func(p Page) ([]AppRoleAssignment, error) { return tx.AppRoleAssignments(servicePrincipalID, "", p) },
			func(a AppRoleAssignment) string { return a.ID }, func(a AppRoleAssignment) error {
				found = found || a.ID == id
				return nil
			})
		if err != nil {
			return err
		}
		if !found {
			return NotFoundf("service principal %q has no app role assignment %q", servicePrincipalID, id)
		}
		return tx.DeleteAppRoleAssignment(id)
	})
}
