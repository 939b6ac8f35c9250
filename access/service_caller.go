package access

import "context"

// CheckSignedInUser refuses a delegated caller whose user is not in the
// directory: deleted since its token was minted, or never there. Entra
// refuses a deleted account's tokens too. An application's token stays
// bound to its key and expiry alone: deleting service principals (a --dev
// reset deletes them all) must not lock out the automation that holds it.
//
// The user is read on every delegated call, a point read by id, rather than
// remembered: a cache would let other replicas accept a deleted user's
// token until it ran out, and the calls that come in numbers (extensions,
// automation) carry application tokens, which skip the read.
func (s *Service) CheckSignedInUser(ctx context.Context, c Caller) error {
	_, err := s.Identify(ctx, c, false)
	return err
}

// Identify completes a caller as its call comes in, in one read at most:
// it refuses a delegated caller whose user is gone (CheckSignedInUser) and,
// with roles reads the roles the caller's principal holds. An application
// with ReadWrite.All needs no roles, since every rule lets it through, so
// the calls that come in numbers (extensions resuming, automation) read
// nothing.
func (s *Service) Identify(ctx context.Context, c Caller, roles bool) (Caller, error) {
	roles = roles && !(c.IsApp && c.Has(WriteEntitlements)) && c.ObjectID != ""
	if c.IsApp && !roles {
		return c, nil
	}
	err := s.view(ctx, func(tx Tx) error {
		if !c.IsApp {
			if _, err := tx.User(c.ObjectID); IsNotFound(err) {
				return E(KindUnauthenticated, "the token's user %q (id %q) is not in the directory: it was deleted, or never existed", c.UPN, c.ObjectID)
			} else if err != nil {
				return err
			}
		}
		if !roles {
			return nil
		}
		var err error
		c.HeldRoles, err = tx.RolesHeld(c.ObjectID)
		return err
	})
	return c, err
}
