package access

import (
	"time"
)

// Delivery: the engine's work of granting an assignment's resource roles
// and taking them away, through the service's Provisioner. A role that
// another delivered assignment of the same target still grants, or that
// the target held before accessd granted it, is never taken away.

// DefaultDeliveryRetryFor is how long a role the provisioner fails to grant
// (or take away) is tried again before it counts as failed; Entra retries
// delivery for hours before it gives up.
const DefaultDeliveryRetryFor = time.Hour

// SetProvisioner replaces the built-in directory as what grants and takes
// away resource roles (tests inject failures through it).
func (s *Service) SetProvisioner(p Provisioner) { s.provisioner = p }

// SetDeliveryRetryFor sets how long failing grants are retried.
func (s *Service) SetDeliveryRetryFor(d time.Duration) { s.deliveryRetryFor = d }

// deliverWork grants an assignment's pending roles, then finishes the
// delivery, or, while some failed in a way worth retrying, tries again later.
func (s *Service) deliverWork(tx Tx, w Work, env Env) (bool, error) {
	return s.provisionWork(tx, w, env, StepDeliver, GrantPending, FinishDelivery, s.grant)
}

// revokeWork takes an ending assignment's roles away, then finishes the removal.
func (s *Service) revokeWork(tx Tx, w Work, env Env) (bool, error) {
	return s.provisionWork(tx, w, env, StepRemove, GrantRemoving, FinishRemoval, s.revoke)
}

func (s *Service) provisionWork(tx Tx, w Work, env Env, step Step, todo string,
	finish func(Request, Assignment, Env) Transition, do func(Tx, Subject, *Grant, string, Env) error) (bool, error) {
	return s.transitionIn(tx, w.RequestID, env, func(tx Tx, r Request, env Env) (*Transition, error) {
		if r.Step != step || r.State != StateDelivering {
			return nil, nil // moved on meanwhile
		}
		// Whether another assignment of the target grants the same role
		// is read, and acted on, by one transaction at a time (locks.go).
		if err := tx.Lock(targetLock(r.Target.ID)); err != nil {
			return nil, err
		}
		a, err := tx.Assignment(w.AssignmentID)
		if err != nil {
			return nil, err
		}
		a.Grants = append([]Grant(nil), a.Grants...)
		waiting := false
		for i := range a.Grants {
			if a.Grants[i].Status != todo {
				continue
			}
			if err := do(tx, a.Target, &a.Grants[i], a.ID, env); err != nil {
				return nil, err
			}
			waiting = waiting || a.Grants[i].Status == todo
		}
		if waiting {
			again := Work{ID: env.NewID(), Kind: w.Kind, RequestID: r.ID, AssignmentID: a.ID, DueAt: env.Now.Add(Backoff(w.Attempt + 1)),
				Attempt: w.Attempt + 1}
			return &Transition{Request: r, Assignment: &a, Work: []Work{again}}, nil
		}
		t := finish(r, a, env)
		return &t, nil
	})
}

// grant gives one role. Held already, it counts as delivered, and is
// remembered as held before unless another assignment of accessd's holds it.
// A resource that is gone fails at once; other failures are retried until
// the retry window has passed. Only an error of the store itself is
// returned, which fails the whole work (the engine retries it).
func (s *Service) grant(tx Tx, target Subject, g *Grant, assignmentID string, env Env) error {
	held, err := s.provisioner.Holds(tx, target, *g)
	if err == nil && held {
		other, found, err := otherGrant(tx, target, *g, assignmentID)
		if err != nil {
			return err
		}
		g.Status, g.Error, g.HeldBefore = GrantDelivered, "", !found || other.HeldBefore
		return nil
	}
	if err == nil {
		err = s.provisioner.Grant(tx, target, *g)
	}
	return s.settle(g, err, GrantDelivered, GrantFailed, env)
}

// revoke takes one role away, unless another active assignment of the
// target still grants it or the target held it before accessd granted it.
// A role that cannot be taken away stays delivered: the target still holds it.
func (s *Service) revoke(tx Tx, target Subject, g *Grant, assignmentID string, env Env) error {
	_, found, err := otherGrant(tx, target, *g, assignmentID)
	if err != nil {
		return err
	}
	if found || g.HeldBefore {
		g.Status, g.Error = GrantRemoved, ""
		return nil
	}
	err = s.provisioner.Revoke(tx, target, *g)
	if IsNotFound(err) {
		err = nil // nothing left to take away
	}
	return s.settle(g, err, GrantRemoved, GrantDelivered, env)
}

// settle records how an attempt went: done, failed for good (the resource
// is gone, or the retry window has passed), or to be tried again.
func (s *Service) settle(g *Grant, err error, done, failed string, env Env) error {
	switch {
	case err == nil:
		g.Status, g.Error = done, ""
		return nil
	case KindOf(err) == KindInternal:
		return err // accessd's own failure (the store): the engine retries the work
	}
	g.Error = errorText(err)
	if IsNotFound(err) {
		g.Status = failed
		return nil
	}
	if g.FirstAttemptAt == nil {
		first := env.Now
		g.FirstAttemptAt = &first
	}
	if env.Now.Sub(*g.FirstAttemptAt) >= s.deliveryRetryFor {
		g.Status = failed
	}
	return nil
}

// errorText is what a grant's record keeps of an error: the client-safe
// message of accessd's errors, the text of others.
func errorText(err error) string {
	if e, ok := err.(*Error); ok && e.Kind != KindInternal {
		return e.Message
	}
	return err.Error()
}

// otherGrant finds a delivered grant of the same role to the same target
// by another active assignment.
func otherGrant(tx Tx, target Subject, g Grant, assignmentID string) (Grant, bool, error) {
	after := ""
	for {
		page, err := tx.Assignments(AssignmentFilter{TargetID: target.ID, Active: true}, Page{After: after, Limit: 100})
		if err != nil {
			return Grant{}, false, err
		}
		for _, a := range page {
			if a.ID == assignmentID {
				continue
			}
			for _, other := range a.Grants {
				if other.Key() == g.Key() && other.Status == GrantDelivered {
					return other, true, nil
				}
			}
		}
		if len(page) < 100 {
			return Grant{}, false, nil
		}
		after = page[len(page)-1].ID
	}
}

// preExpiryWork marks an assignment near its end at a pre-expiration stage
// no extension is bound to.
func (s *Service) preExpiryWork(tx Tx, w Work, _ Env) (bool, error) {
	a, err := tx.Assignment(w.AssignmentID)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil || !PreExpiry(&a, w.Stage) {
		return false, err
	}
	return false, tx.PutAssignment(a)
}

// Grants is what delivery asks of the catalog while a transition is built:
// the resource roles a package grants now.
func (d *storeDirectory) Grants(packageID string) []Grant {
	if d.err != nil {
		return nil
	}
	pkg, err := d.tx.AccessPackage(packageID)
	if err != nil {
		if !IsNotFound(err) {
			d.err = err
		}
		return nil
	}
	var out []Grant
	for _, rs := range pkg.RoleScopes {
		res, err := d.tx.Resource(rs.ResourceID)
		if IsNotFound(err) {
			continue
		}
		if err != nil {
			d.err = err
			return nil
		}
		role, ok := res.Role(rs.RoleID, "")
		if !ok {
			continue
		}
		out = append(out, Grant{ResourceID: res.ID, OriginSystem: res.OriginSystem, ResourceOriginID: res.OriginID, RoleOriginID: role.OriginID})
	}
	return out
}
