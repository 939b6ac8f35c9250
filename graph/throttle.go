package graph

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/accessd/accessd/access"
)

// Throttle is how often callers may call one accessd process. Every call to
// a route that needs a token draws on one bucket: the caller's, keyed by the
// verified token's oid, when its token verifies; otherwise its client
// address's. A forged token therefore costs its address's bucket and
// never opens a fresh one. A zero rate leaves those calls unthrottled.
//
// What needs no token is never throttled: /healthz, which load balancers
// poll, and the discovery document and JWKS, which are a few bytes copied
// and which extensions need to verify callouts. Throttled, a flood of
// forged tokens from behind the same address (a NAT, or a load balancer
// without TrustedProxies) would cut extensions off from accessd's keys.
// Unknown paths and wrong methods are answered without being counted: they
// cost as little.
type Throttle struct {
	CallerRate     float64 // calls a second for each verified caller (oid)
	CallerBurst    int     // calls a caller may make at once after being idle
	AnonymousRate  float64 // calls a second for each client address, for calls without a valid token
	AnonymousBurst int
	// TrustedProxies are the peers whose X-Forwarded-For is believed. Any
	// other peer could write whatever address it likes there, and so get a
	// fresh bucket with every call.
	TrustedProxies []netip.Prefix
	// Clock is read for refilling buckets; nil is the machine's clock. It is
	// never the --dev virtual clock, whose jumps would refill every bucket.
	Clock access.Clock
}

// maxBuckets is how many buckets of each kind are kept: enough for every
// caller of a large installation, few enough (about 120 bytes each) that a
// flood from many addresses cannot grow the process without bound.
const maxBuckets = 100_000

// sweepInterval is how often buckets that have filled up again are dropped.
// A full bucket is what a new caller gets, so dropping it changes no answer.
const sweepInterval = time.Minute

// throttle applies a Throttle to calls.
type throttle struct {
	callers   *tokenBuckets // nil: unthrottled
	addresses *tokenBuckets // nil: unthrottled
	trusted   []netip.Prefix
	clock     access.Clock
}

func newThrottle(cfg Throttle) *throttle {
	t := &throttle{trusted: cfg.TrustedProxies, clock: cfg.Clock}
	if t.clock == nil {
		t.clock = access.SystemClock{}
	}
	if cfg.CallerRate > 0 {
		t.callers = newTokenBuckets(cfg.CallerRate, cfg.CallerBurst, maxBuckets)
	}
	if cfg.AnonymousRate > 0 {
		t.addresses = newTokenBuckets(cfg.AnonymousRate, cfg.AnonymousBurst, maxBuckets)
	}
	return t
}

// admitCaller takes a token from the bucket of a caller whose token has
// verified, or refuses the call with 429.
func (t *throttle) admitCaller(oid string) error {
	if t.callers == nil {
		return nil
	}
	wait, ok := t.callers.take(oid, t.clock.Now())
	if ok {
		return nil
	}
	return throttled(wait, "this caller has made too many requests (at most %g a second, in bursts of %d, on each server)",
		t.callers.rate, int(t.callers.burst))
}

// admitAddress takes a token from the bucket of the client address of a
// call without a valid token, or refuses the call with 429.
func (t *throttle) admitAddress(r *http.Request) error {
	if t.addresses == nil {
		return nil
	}
	wait, ok := t.addresses.take(clientAddress(r, t.trusted), t.clock.Now())
	if ok {
		return nil
	}
	return throttled(wait, "this client address has made too many requests without a valid token (at most %g a second, in bursts of %d, on each server)",
		t.addresses.rate, int(t.addresses.burst))
}

func throttled(wait time.Duration, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &access.Error{
		Kind:    access.KindThrottled,
		Message: fmt.Sprintf("%s; retry after %d s", msg, retryAfterSeconds(retryAfter(wait))),
		Err:     retryAfter(wait),
	}
}

// anonymous answers a call that has no valid token: 429 once its address
// is over its limit, and otherwise refusal, the answer it has earned.
func (s *Server) anonymous(r *http.Request, refusal error) error {
	if err := s.throttle.admitAddress(r); err != nil {
		return err
	}
	return refusal
}

// clientAddress is the bucket key of a call's client: the peer's address,
// or, when the peer is a trusted proxy, the address X-Forwarded-For names
// nearest to it that is not itself a trusted proxy. Each proxy appends the
// address it was called from, so the entries to the right of that one were
// written by proxies we trust, and those to the left by the client itself.
// IPv6 addresses count by their /64, which one host usually holds whole.
func clientAddress(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return r.RemoteAddr // not an IP connection: one bucket per peer name
	}
	peer = peer.Unmap().WithZone("")
	if !isTrusted(peer, trusted) {
		return addressKey(peer)
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break // a proxy we trust wrote no address we can read: stay with the last one we can
		}
		peer = hop
		if !isTrusted(peer, trusted) {
			break
		}
	}
	return addressKey(peer)
}

// parseHop reads one X-Forwarded-For entry, which some proxies write with
// a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func addressKey(a netip.Addr) string {
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// tokenBuckets keeps a token bucket for each key: it holds up to burst
// tokens, gains rate tokens a second, and each call takes one. It is a few
// lines of arithmetic under the one lock that guards the map, which is why
// accessd does not use a rate.Limiter per key (each has a lock of its own).
type tokenBuckets struct {
	rate  float64 // tokens gained a second
	burst float64 // tokens a bucket holds at most
	limit int     // buckets kept at most

	mu        sync.Mutex
	byKey     map[string]bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was counted
}

func newTokenBuckets(rate float64, burst, limit int) *tokenBuckets {
	return &tokenBuckets{rate: rate, burst: float64(max(burst, 1)), limit: limit, byKey: map[string]bucket{}}
}

// take takes a token from key's bucket. When it is empty, it says how long
// until it holds one again.
func (tb *tokenBuckets) take(key string, now time.Time) (wait time.Duration, ok bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if now.Sub(tb.lastSweep) >= sweepInterval {
		tb.dropFull(now)
		tb.lastSweep = now
	}
	b, known := tb.byKey[key]
	if !known {
		if len(tb.byKey) >= tb.limit {
			tb.dropOne(now)
		}
		b = bucket{tokens: tb.burst, at: now}
	}
	b = tb.refill(b, now)
	if b.tokens < 1 {
		tb.byKey[key] = b
		return time.Duration((1 - b.tokens) / tb.rate * float64(time.Second)), false
	}
	b.tokens--
	tb.byKey[key] = b
	return 0, true
}

// refill adds what b gained since it was counted. A clock that stepped
// back adds nothing rather than taking tokens away.
func (tb *tokenBuckets) refill(b bucket, now time.Time) bucket {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = min(tb.burst, b.tokens+elapsed.Seconds()*tb.rate)
		b.at = now
	}
	return b
}

func (tb *tokenBuckets) full(b bucket, now time.Time) bool {
	return tb.refill(b, now).tokens >= tb.burst
}

// dropFull forgets every bucket that has filled up again.
func (tb *tokenBuckets) dropFull(now time.Time) {
	for key, b := range tb.byKey {
		if tb.full(b, now) {
			delete(tb.byKey, key)
		}
	}
}

// dropOne makes room for a new key when the map is at its limit. It looks
// at a few buckets (Go visits a map from a random place) and forgets the
// first that is full, which changes no answer, or else the one idle the
// longest: its key will start again from a full bucket, the price of a
// bounded map.
func (tb *tokenBuckets) dropOne(now time.Time) {
	const sample = 16
	victim, oldest, seen := "", time.Time{}, 0
	for key, b := range tb.byKey {
		if tb.full(b, now) {
			delete(tb.byKey, key)
			return
		}
		if seen == 0 || b.at.Before(oldest) {
			victim, oldest = key, b.at
		}
		if seen++; seen == sample {
			break
		}
	}
	delete(tb.byKey, victim)
}
