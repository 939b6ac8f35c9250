package identity

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accessd/accessd/access"
)

// verifiedCap bounds how many verified tokens an Issuer remembers. A token is
// about a kilobyte, so a full cache holds a few megabytes.
const verifiedCap = 4096

// verifiedMaxAge is the longest one signature check vouches for a token.
//
// Why a cap: the cache answers without asking the key set which key signed.
// accessd itself never rotates or deletes keys; it creates one when the
// database has none and keeps it. An operator can still revoke a key by
// deleting its row. The key set lets go of it at its next Refresh (which a
// token naming an unknown kid triggers, at most every 10 seconds); until then
// full checks accept the key too, and from then the cache serves none of its
// tokens, because get checks the kid is still known. The cap bounds what that
// check cannot see, such as a row replaced with another key under the same
// kid: without it an entry would last as long as its token, up to an hour.
const verifiedMaxAge = 5 * time.Minute

// verifiedTokens remembers the tokens Verify has accepted. Clients send the
// same token on every call for up to an hour, and the RS256 check was a
// noticeable share of the server's CPU; with the cache a token is checked
// once, then again only when its entry runs out.
//
// Entries are keyed by the exact token string, so a token that differs in any
// byte (a changed signature, a swapped payload) misses and is checked in
// full. Refused tokens are never stored: a refusal can stop applying (a token
// sent before its nbf), and storing refusals would let anyone fill the cache
// with junk. It is safe for concurrent use.
type verifiedTokens struct {
	mu      sync.RWMutex
	entries map[string]verifiedToken
}

// verifiedToken is what one accepted token proved.
type verifiedToken struct {
	caller access.Caller
	kid    string    // the key that signed it
	exp    time.Time // the token's exp
	nbf    time.Time // the token's nbf; zero when it has none
	added  time.Time // when it was checked, by the Issuer's clock
}

// usable reports whether the entry may stand in for a full check at now: the
// token is still valid by its exp and nbf, with the Leeway the parser allows
// and compared the way the parser compares, and the entry is younger than
// verifiedMaxAge. A clock that moved back to before the entry was added
// misses too, so an entry never serves for longer than verifiedMaxAge.
func (v verifiedToken) usable(now time.Time) bool {
	return now.Before(v.exp.Add(Leeway)) &&
		(v.nbf.IsZero() || !now.Before(v.nbf.Add(-Leeway))) &&
		!now.Before(v.added) && now.Before(v.added.Add(verifiedMaxAge))
}

// get returns the caller of raw when raw was accepted before, its entry is
// usable at now, and keys still knows the key that signed it.
func (c *verifiedTokens) get(raw string, now time.Time, keys *KeySet) (access.Caller, bool) {
	c.mu.RLock()
	v, ok := c.entries[raw]
	c.mu.RUnlock()
	if !ok || !v.usable(now) || !keys.knows(v.kid) {
		return access.Caller{}, false
	}
	return cloneCaller(v.caller), true
}

// put remembers that raw was accepted at now. When the cache is full it first
// drops the entries that can no longer be served, and if that frees nothing
// it starts over empty: simple, and it costs one sweep per verifiedCap new
// tokens at worst.
func (c *verifiedTokens) put(raw string, v verifiedToken, now time.Time) {
	v.added = now
	v.caller = cloneCaller(v.caller) // the cache's own copy; Verify returns the other
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[raw]; !ok && len(c.entries) >= verifiedCap {
		for k, old := range c.entries {
			if !old.usable(now) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= verifiedCap {
			clear(c.entries)
		}
	}
	// A copy, so the cache does not pin a larger string raw may be part of.
	c.entries[strings.Clone(raw)] = v
}

// cloneCaller copies the slices of c, so that no caller of Verify can change
// what the cache hands to the next one.
func cloneCaller(c access.Caller) access.Caller {
	c.Roles = slices.Clone(c.Roles)
	c.Scopes = slices.Clone(c.Scopes)
	return c
}
