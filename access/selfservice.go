package access

import "context"

// Self-service: what a policy lets a signed-in user ask for, for themselves
// (requestorSettings.enableTargetsToSelf…) or for others
// (enableOnBehalfRequestorsTo… and onBehalfRequestors), with no role at all.

// Change is what a self-service request does to access.
type Change int

const (
	ChangeAdd Change = iota
	ChangeUpdate
	ChangeRemove
)

// changeOf is the change a request type makes.
func changeOf(t RequestType) Change {
	switch {
	case t.IsUpdate():
		return ChangeUpdate
	case t.IsRemove():
		return ChangeRemove
	}
	return ChangeAdd
}

func (c Change) String() string {
	return [...]string{"request", "extend", "remove"}[c]
}

// SelfAllowed reports whether the policy lets targets make the change to
// their own access.
func (s RequestorSettings) SelfAllowed(c Change) bool {
	switch c {
	case ChangeUpdate:
		return s.EnableTargetsToSelfUpdateAccess
	case ChangeRemove:
		return s.EnableTargetsToSelfRemoveAccess
	}
	return s.EnableTargetsToSelfAddAccess
}

// OnBehalfAllowed reports whether the policy lets its on-behalf requestors
// make the change for others.
func (s RequestorSettings) OnBehalfAllowed(c Change) bool {
	switch c {
	case ChangeUpdate:
		return s.EnableOnBehalfRequestorsToUpdateAccess
	case ChangeRemove:
		return s.EnableOnBehalfRequestorsToRemoveAccess
	}
	return s.EnableOnBehalfRequestorsToAddAccess
}

// checkRequestor applies a policy's requestor settings to a self-service
// request by, for target. A request for someone else needs the on-behalf
// settings and the caller among onBehalfRequestors: a user (singleUser), a
// member of a group (groupMembers), or the target's manager
// (targetManager, at level 1).
func checkRequestor(tx Tx, p AssignmentPolicy, c Change, by Caller, target Subject) error {
	if target.ID == by.ObjectID {
		if !p.RequestorSettings.SelfAllowed(c) {
			return E(KindForbidden, "policy %q does not let users %s this access for themselves", p.ID, c)
		}
		return nil
	}
	if !p.RequestorSettings.OnBehalfAllowed(c) {
		return E(KindForbidden, "policy %q does not let users %s this access for others", p.ID, c)
	}
	in, err := isOnBehalfRequestor(tx, p.RequestorSettings.OnBehalfRequestors, by, target)
	if err != nil {
		return err
	}
	if !in {
		return E(KindForbidden, "the signed-in user is not among the onBehalfRequestors of policy %q", p.ID)
	}
	return nil
}

func isOnBehalfRequestor(tx Tx, sets []SubjectSet, by Caller, target Subject) (bool, error) {
	if in, err := inSubjectSets(tx, sets, callerSubject(by)); in || err != nil {
		return in, err
	}
	for _, set := range sets {
		if set.Type != "targetManager" || (set.ManagerLevel != 0 && set.ManagerLevel != 1) || target.Kind != SubjectUser {
			continue
		}
		u, err := tx.User(target.ID)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, err
		}
		if u.ManagerID != "" && u.ManagerID == by.ObjectID {
			return true, nil
		}
	}
	return false, nil
}

// mayAddThrough reports whether a policy lets the caller request its
// package: for themselves, within the policy's targets, or for others.
func (s *Service) mayAddThrough(tx Tx, p AssignmentPolicy, by Caller) (bool, error) {
	if by.IsApp || by.ObjectID == "" {
		return false, nil
	}
	if p.RequestorSettings.EnableTargetsToSelfAddAccess {
		me, err := subjectOf(tx, by.ObjectID)
		if err != nil && !IsNotFound(err) {
			return false, err
		}
		if err == nil {
			scopeErr := s.checkTargetScope(tx, p, me)
			if scopeErr == nil {
				return true, nil
			}
			if KindOf(scopeErr) != KindInvalid {
				return false, scopeErr
			}
		}
	}
	if p.RequestorSettings.EnableOnBehalfRequestorsToAddAccess {
		return isOnBehalfRequestor(tx, p.RequestorSettings.OnBehalfRequestors, by, Subject{})
	}
	return false, nil
}

// RequestablePackages is filterByCurrentUser(on='allowedRequestor'): the
// packages, not hidden, with a policy that lets the caller request them.
// The list is whole, in id order; every policy is looked at once.
func (s *Service) RequestablePackages(ctx context.Context, by Caller) ([]AccessPackage, error) {
	var out []AccessPackage
	err := s.view(ctx, func(tx Tx) error {
		out = nil
		seen := map[string]bool{}
		return eachPage(func(p Page) ([]AssignmentPolicy, error) { return tx.AssignmentPolicies("", p) },
			func(p AssignmentPolicy) string { return p.ID }, func(p AssignmentPolicy) error {
				if seen[p.AccessPackageID] {
					return nil
				}
				ok, err := s.mayAddThrough(tx, p, by)
				if err != nil || !ok {
					return err
				}
				seen[p.AccessPackageID] = true
				pkg, err := tx.AccessPackage(p.AccessPackageID)
				if IsNotFound(err) || (err == nil && pkg.IsHidden) {
					return nil
				}
				if err == nil {
					out = append(out, pkg)
				}
				return err
			})
	})
	return out, err
}

// ApplicablePolicies is getApplicablePolicyRequirements: the policies of a
// package the caller may request it through. A package the caller neither
// sees nor may request is not found.
func (s *Service) ApplicablePolicies(ctx context.Context, by Caller, packageID string) ([]AssignmentPolicy, error) {
	var out []AssignmentPolicy
	err := s.view(ctx, func(tx Tx) error {
		out = []AssignmentPolicy{}
		pkg, err := tx.AccessPackage(packageID)
		if err != nil {
			return err
		}
		err = eachPage(func(p Page) ([]AssignmentPolicy, error) { return tx.AssignmentPolicies(packageID, p) },
			func(p AssignmentPolicy) string { return p.ID }, func(p AssignmentPolicy) error {
				ok, err := s.mayAddThrough(tx, p, by)
				if ok {
					out = append(out, p)
				}
				return err
			})
		if err == nil && len(out) == 0 && !by.Sees(pkg.CatalogID) {
			return NotFoundf("no access package with id %q", packageID)
		}
		return err
	})
	return out, err
}
