package identity

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

// cached returns the cache's entry for raw, if it has one.
func (f *fixture) cached(raw string) (verifiedToken, bool) {
	f.issuer.verified.mu.RLock()
	defer f.issuer.verified.mu.RUnlock()
	v, ok := f.issuer.verified.entries[raw]
	return v, ok
}

func TestVerifyAcceptsACachedTokenAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw, err := f.issuer.MintApp(access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}, []string{"R1", "R2"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := access.Caller{ObjectID: "sp-1", IsApp: true, AppID: "app-1", Roles: []string{"R1", "R2"}}

	first, err := f.issuer.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("first Verify: %v", err)
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("first caller (-want +got):\n%s", diff)
	}
	entry, ok := f.cached(raw)
	if !ok || !entry.added.Equal(testStart) {
		t.Fatalf("after the first Verify the cache has %+v, %v; want an entry added at %v", entry, ok, testStart)
	}

	f.clock.Advance(time.Minute)
	first.Roles[0] = "changed by the caller" // must not reach the cache
	second, err := f.issuer.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("second Verify: %v", err)
	}
	if diff := cmp.Diff(want, second); diff != "" {
		t.Errorf("second caller (-want +got):\n%s", diff)
	}
	if entry, _ := f.cached(raw); !entry.added.Equal(testStart) {
		t.Errorf("the second Verify checked the token again (entry added at %v), want it served from the cache", entry.added)
	}
	second.Roles[1] = "changed again"
	third, err := f.issuer.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("third Verify: %v", err)
	}
	if diff := cmp.Diff(want, third); diff != "" {
		t.Errorf("third caller (-want +got):\n%s", diff)
	}
}

// A cached token is served only while the token itself is valid, and an
// entry is checked again once it is verifiedMaxAge old.
func TestVerifyCacheFollowsTheClock(t *testing.T) {
	type step struct {
		advance   time.Duration
		want      string // part of the refusal; "" means accepted
		fromCache bool   // accepted without a new check
	}
	tests := []struct {
		name   string
		claims map[string]time.Duration // app claims set to the case's start plus this
		steps  []step
	}{
		{
			name:   "exp ends a cached entry, with the leeway",
			claims: map[string]time.Duration{"exp": time.Minute},
			steps: []step{
				{0, "", false},
				{time.Minute + Leeway - time.Second, "", true},
				{time.Second, "token is expired", false},
				{time.Hour, "token is expired", false},
			},
		},
		{
			name:   "an entry lasts verifiedMaxAge, then the token is checked again",
			claims: map[string]time.Duration{"exp": time.Hour},
			steps: []step{
				{0, "", false},
				{verifiedMaxAge - time.Second, "", true},
				{time.Second, "", false},
				{verifiedMaxAge - time.Second, "", true},
				{time.Second, "", false},
			},
		},
		{
			name:   "a clock set back before nbf refuses a cached token",
			claims: map[string]time.Duration{"nbf": Leeway, "exp": time.Hour},
			steps: []step{
				{0, "", false}, // nbf is exactly Leeway away
				{time.Second, "", true},
				{-2 * time.Second, "token is not valid yet", false},
				{time.Second, "", true}, // back where it was cached
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			claims := f.appClaims()
			for k, d := range tt.claims {
				claims[k] = f.clock.Now().Add(d).Unix()
			}
			raw := f.sign(t, claims)
			for n, s := range tt.steps {
				f.clock.Advance(s.advance)
				before, _ := f.cached(raw)
				caller, err := f.issuer.Verify(ctx, raw)
				if s.want != "" {
					if err == nil {
						t.Fatalf("step %d: accepted as %+v, want %q", n, caller, s.want)
					}
					wantRefusal(t, err, s.want)
					continue
				}
				if err != nil {
					t.Fatalf("step %d: Verify: %v", n, err)
				}
				if caller.ObjectID != "sp-1" {
					t.Errorf("step %d: caller %+v, want sp-1", n, caller)
				}
				after, ok := f.cached(raw)
				if !ok {
					t.Fatalf("step %d: an accepted token is not cached", n)
				}
				wantAdded := f.clock.Now()
				if s.fromCache {
					wantAdded = before.added
				}
				if !after.added.Equal(wantAdded) {
					t.Errorf("step %d: entry added at %v, want %v (from cache: %v)", n, after.added, wantAdded, s.fromCache)
				}
			}
		})
	}
}

// Each condition of usable, at its edges.
func TestVerifiedTokenUsable(t *testing.T) {
	at := func(d time.Duration) time.Time { return testStart.Add(d) }
	v := verifiedToken{added: at(0), nbf: at(Leeway), exp: at(time.Minute)}
	noNbf := verifiedToken{added: at(0), exp: at(time.Hour)}
	tests := []struct {
		name  string
		entry verifiedToken
		now   time.Time
		want  bool
	}{
		{"when added", v, at(0), true},
		{"before added", v, at(-time.Nanosecond), false},
		{"just before exp plus leeway", v, at(time.Minute + Leeway - time.Nanosecond), true},
		{"at exp plus leeway", v, at(time.Minute + Leeway), false},
		{"no nbf", noNbf, at(time.Minute), true},
		{"just before the cap", noNbf, at(verifiedMaxAge - time.Nanosecond), true},
		{"at the cap", noNbf, at(verifiedMaxAge), false},
		{"before nbf less leeway", verifiedToken{added: at(-time.Minute), nbf: at(Leeway), exp: at(time.Hour)}, at(-time.Nanosecond), false},
		{"at nbf less leeway", verifiedToken{added: at(-time.Minute), nbf: at(Leeway), exp: at(time.Hour)}, at(0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.entry.usable(tt.now); got != tt.want {
				t.Errorf("usable(%v) = %v, want %v", tt.now, got, tt.want)
			}
		})
	}
}

// The cache is keyed by the whole token: any change to it misses and is
// checked in full, however long the genuine token has been cached.
func TestVerifyRefusesATamperedTokenWhileTheGenuineIsCached(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	genuine := f.sign(t, f.appClaims())
	otherClaims := f.appClaims()
	otherClaims["roles"] = []string{"EntitlementManagement.ReadWrite.All"}
	other := f.sign(t, otherClaims)
	if _, err := f.issuer.Verify(ctx, genuine); err != nil {
		t.Fatalf("genuine token refused: %v", err)
	}
	g, o := strings.Split(genuine, "."), strings.Split(other, ".")

	tests := []struct {
		name  string
		token string
	}{
		{"signature changed", g[0] + "." + g[1] + "." + changeMiddle(g[2])},
		{"payload changed under the genuine signature", g[0] + "." + o[1] + "." + g[2]},
		{"signature of another token", g[0] + "." + g[1] + "." + o[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			caller, err := f.issuer.Verify(ctx, tt.token)
			if err == nil {
				t.Fatalf("tampered token accepted as %+v", caller)
			}
			wantRefusal(t, err, "token signature is invalid")
			if _, ok := f.cached(tt.token); ok {
				t.Errorf("the tampered token is cached")
			}
			if _, err := f.issuer.Verify(ctx, genuine); err != nil {
				t.Errorf("genuine token refused after the tampered one: %v", err)
			}
		})
	}
}

// changeMiddle changes one character in the middle of a base64url segment.
// (The last character would not do: its low bits may not count.)
func changeMiddle(s string) string {
	mid := len(s) / 2
	c := byte('A')
	if s[mid] == c {
		c = 'B'
	}
	return s[:mid] + string(c) + s[mid+1:]
}

// A refusal is never cached: a token refused because its nbf is ahead is
// refused until the clock reaches it, and accepted from then.
func TestVerifyDoesNotCacheRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	claims := f.appClaims()
	claims["nbf"] = f.clock.Now().Add(Leeway + time.Minute).Unix() // valid from a minute on
	raw := f.sign(t, claims)

	steps := []struct {
		advance time.Duration
		want    string // part of the refusal; "" means accepted
	}{
		{0, "token is not valid yet"},
		{30 * time.Second, "token is not valid yet"},
		{30*time.Second - time.Second, "token is not valid yet"},
		{time.Second, ""},
		{time.Second, ""},
		{-2 * time.Second, "token is not valid yet"}, // a clock set back: cached, yet not served
	}
	accepted := false
	for n, s := range steps {
		f.clock.Advance(s.advance)
		_, err := f.issuer.Verify(ctx, raw)
		if s.want == "" {
			if err != nil {
				t.Fatalf("step %d at %v: Verify: %v, want accepted", n, f.clock.Now(), err)
			}
			accepted = true
			continue
		}
		if err == nil {
			t.Fatalf("step %d at %v: accepted, want %q", n, f.clock.Now(), s.want)
		}
		wantRefusal(t, err, s.want)
		if _, ok := f.cached(raw); ok && !accepted {
			t.Errorf("step %d: the refused token is cached", n)
		}
	}
}

// Once the key set no longer knows the key that signed a token, the cache
// no longer serves the token.
func TestVerifyCacheDropsTokensOfAForgottenKey(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	ctx := context.Background()
	raw := f.sign(t, f.appClaims())
	if _, err := f.issuer.Verify(ctx, raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// As if the key were deleted and another stored: the set now holds only
	// the other deployment's key.
	if err := f.keys.Refresh(ctx, other.store); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	_, err := f.issuer.Verify(ctx, raw)
	wantRefusal(t, err, "is not known")
}

func TestVerifiedTokensStayBounded(t *testing.T) {
	now := testStart
	live := verifiedToken{exp: now.Add(time.Hour)}
	expired := verifiedToken{exp: now.Add(-time.Hour)}
	key := func(prefix string, n int) string { return fmt.Sprintf("%s-%d", prefix, n) }

	tests := []struct {
		name     string
		fill     func(c *verifiedTokens) // to verifiedCap entries
		put      string
		wantLen  int
		wantKept string // a key that must still be there; "" for none
	}{
		{
			name: "full of live entries: starts over",
			fill: func(c *verifiedTokens) {
				for n := range verifiedCap {
					c.put(key("live", n), live, now)
				}
			},
			put:     "new",
			wantLen: 1,
		},
		{
			name: "expired entries make room, live ones stay",
			fill: func(c *verifiedTokens) {
				for n := range verifiedCap / 2 {
					c.put(key("expired", n), expired, now)
					c.put(key("live", n), live, now)
				}
			},
			put:      "new",
			wantLen:  verifiedCap/2 + 1,
			wantKept: key("live", 0),
		},
		{
			name: "entries as old as the cap make room",
			fill: func(c *verifiedTokens) {
				for n := range verifiedCap / 2 {
					c.put(key("old", n), live, now.Add(-verifiedMaxAge))
					c.put(key("live", n), live, now)
				}
			},
			put:      "new",
			wantLen:  verifiedCap/2 + 1,
			wantKept: key("live", 0),
		},
		{
			name: "a token already cached takes no room",
			fill: func(c *verifiedTokens) {
				for n := range verifiedCap {
					c.put(key("live", n), live, now)
				}
			},
			put:      key("live", 7),
			wantLen:  verifiedCap,
			wantKept: key("live", 8),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &verifiedTokens{entries: make(map[string]verifiedToken)}
			tt.fill(c)
			if len(c.entries) != verifiedCap {
				t.Fatalf("filled to %d entries, want %d", len(c.entries), verifiedCap)
			}
			c.put(tt.put, live, now)
			if len(c.entries) != tt.wantLen {
				t.Errorf("%d entries, want %d", len(c.entries), tt.wantLen)
			}
			if _, ok := c.entries[tt.put]; !ok {
				t.Errorf("the new entry %q is missing", tt.put)
			}
			if _, ok := c.entries[tt.wantKept]; tt.wantKept != "" && !ok {
				t.Errorf("entry %q was dropped", tt.wantKept)
			}
		})
	}

	t.Run("never above the bound", func(t *testing.T) {
		c := &verifiedTokens{entries: make(map[string]verifiedToken)}
		for n := range 3 * verifiedCap {
			c.put(key("t", n), live, now)
			if len(c.entries) > verifiedCap {
				t.Fatalf("after %d puts: %d entries, above %d", n+1, len(c.entries), verifiedCap)
			}
		}
	})
}

// Many requests verifying the same tokens at once, while the clock moves;
// run with -race.
func TestVerifyCacheConcurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	second := f.appClaims()
	second["oid"] = "sp-2"
	tokens := []string{f.sign(t, f.appClaims()), f.sign(t, second)}
	want := []string{"sp-1", "sp-2"}

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				k := (g + n) % len(tokens)
				c, err := f.issuer.Verify(ctx, tokens[k])
				if err != nil {
					t.Errorf("Verify: %v", err)
					return
				}
				if c.ObjectID != want[k] {
					t.Errorf("caller %q, want %q", c.ObjectID, want[k])
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			f.clock.Advance(10 * time.Second) // across verifiedMaxAge, within exp
		}
	})
	wg.Wait()
}
