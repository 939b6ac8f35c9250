package access

import "time"

// Provisioner gives a target a resource role and takes it away again: the
// step where an assignment becomes real access. The built-in directory is
// the first; an outside system (a SaaS application, a ticket queue) would be
// another. It is called inside the transaction that records the outcome, so
// that for the built-in directory the access and the assignment's record of
// it change together. An error of kind NotFound means the resource is gone
// (the grant fails at once); an internal error is accessd's own failure
// (the store), and the engine retries the whole work; any other error
// (throttled, a conflict) is retried with backoff for the delivery retry
// window, after which the grant fails.
type Provisioner interface {
	// Holds reports whether the target holds the role already.
	Holds(tx Tx, target Subject, g Grant) (bool, error)
	Grant(tx Tx, target Subject, g Grant) error
	Revoke(tx Tx, target Subject, g Grant) error
}

// DirectoryProvisioner provisions accessd's own directory: group members
// and owners, and application roles.
type DirectoryProvisioner struct {
	Clock Clock
	IDs   IDSource
}

func (p DirectoryProvisioner) Holds(tx Tx, target Subject, g Grant) (bool, error) {
	switch g.OriginSystem {
	case OriginGroup:
		// The group is not deleted before the grant that follows commits
		// (DeleteGroup takes the same lock).
		if err := tx.Lock(objectLock(g.ResourceOriginID)); err != nil {
			return false, err
		}
		if _, err := tx.Group(g.ResourceOriginID); err != nil {
			return false, err
		}
		return tx.InGroup(g.ResourceOriginID, g.GroupRole(), target.ID)
	case OriginApplication:
		_, found, err := p.appRoleAssignment(tx, target, g)
		return found, err
	}
	return false, Invalidf("resources of origin system %q cannot be provisioned", g.OriginSystem)
}

func (p DirectoryProvisioner) Grant(tx Tx, target Subject, g Grant) error {
	switch g.OriginSystem {
	case OriginGroup:
		kind := ObjectUser
		if target.Kind == SubjectServicePrincipal {
			kind = ObjectServicePrincipal
		}
		err := tx.AddToGroup(g.ResourceOriginID, g.GroupRole(), kind, target.ID)
		if KindOf(err) == KindConflict {
			return nil // held already
		}
		return err
	case OriginApplication:
		sp, err := tx.ServicePrincipal(g.ResourceOriginID)
		if err != nil {
			return err
		}
		principalType := "User"
		if target.Kind == SubjectServicePrincipal {
			principalType = "ServicePrincipal"
		}
		err = tx.AddAppRoleAssignment(AppRoleAssignment{ID: p.IDs.NewID(), AppRoleID: g.RoleOriginID, PrincipalID: target.ID,
			PrincipalType: principalType, PrincipalDisplayName: target.DisplayName, ResourceID: sp.ID,
			ResourceDisplayName: sp.DisplayName, CreatedDateTime: p.Clock.Now().UTC().Truncate(time.Millisecond)})
		if KindOf(err) == KindConflict {
			return nil
		}
		return err
	}
	return Invalidf("resources of origin system %q cannot be provisioned", g.OriginSystem)
}

func (p DirectoryProvisioner) Revoke(tx Tx, target Subject, g Grant) error {
	switch g.OriginSystem {
	case OriginGroup:
		err := tx.RemoveFromGroup(g.ResourceOriginID, g.GroupRole(), target.ID)
		if IsNotFound(err) {
			return nil // gone already: nothing to take away
		}
		return err
	case OriginApplication:
		a, found, err := p.appRoleAssignment(tx, target, g)
		if err != nil || !found {
			return err
		}
		return tx.DeleteAppRoleAssignment(a.ID)
	}
	return Invalidf("resources of origin system %q cannot be provisioned", g.OriginSystem)
}

func (p DirectoryProvisioner) appRoleAssignment(tx Tx, target Subject, g Grant) (AppRoleAssignment, bool, error) {
	after := ""
	for {
		page, err := tx.AppRoleAssignments(g.ResourceOriginID, target.ID, Page{After: after, Limit: 100})
		if err != nil {
			return AppRoleAssignment{}, false, err
		}
		for _, a := range page {
			if a.AppRoleID == g.RoleOriginID {
				return a, true, nil
			}
		}
		if len(page) < 100 {
			return AppRoleAssignment{}, false, nil
		}
		after = page[len(page)-1].ID
	}
}
