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
	if c.IsApp {
		return nil
	}
	_, err := get(ctx, s, func(tx Tx) (User, error) { return tx.User(c.ObjectID) })
	if IsNotFound(err) {
		return E(KindUnauthenticated, "the token's user %q (id %q) is not in the directory: it was deleted, or never existed", c.UPN, c.ObjectID)
	}
	return err
}
