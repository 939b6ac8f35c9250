package graph

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
)

// manualClock is a clock the test moves by hand, so that a bucket refills
// without the test sleeping.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newThrottledAPI is the test API's service and issuer behind a second
// server that throttles as told, on a clock the test moves.
func newThrottledAPI(t *testing.T, throttle Throttle) (*testAPI, *manualClock) {
	t.Helper()
	a := newTestAPI(t)
	clock := &manualClock{now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	throttle.Clock = clock
	api := NewServer(Config{
		Service:             a.Svc,
		Auth:                a.Issuer,
		PublicURL:           a.URL,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		Clock:               access.SystemClock{},
		IDs:                 &access.TimeOrderedIDs{Clock: access.SystemClock{}},
		OpenIDConfiguration: a.Issuer.Discovery,
		JWKS:                a.Issuer.JWKS,
		JWKSPath:            identity.JWKSPath,
		Throttle:            throttle,
	})
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	throttled := *a
	throttled.URL, throttled.Server, throttled.client = ts.URL, api, ts.Client()
	return &throttled, clock
}

// forgedToken is token with another oid written into it: its signature no
// longer matches, as with any token a caller makes up.
func forgedToken(t *testing.T, token, oid string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["oid"] = oid
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
}

// wantThrottled checks a 429 in the Graph envelope with Graph's code and the
// Retry-After the bucket needs.
func wantThrottled(t *testing.T, resp *http.Response, retryAfter string) {
	t.Helper()
	if code, _ := convEnvelope(t, resp, http.StatusTooManyRequests); code != "activityLimitReached" {
		t.Errorf("code %q, want activityLimitReached", code)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
}

const catalogsPath = "/v1.0/identityGovernance/entitlementManagement/catalogs"

func TestThrottleCallerOverItsBurstWaitsAsTold(t *testing.T) {
	a, clock := newThrottledAPI(t, Throttle{CallerRate: 0.5, CallerBurst: 2})
	tok := a.appToken(t, "EntitlementManagement.ReadWrite.All")

	for range 2 { // at one instant: the burst admits both
		resp, _ := a.do(t, "GET", catalogsPath, tok, nil)
		wantStatus(t, resp, http.StatusOK)
	}
	updates, views := a.Txs.counts()
	resp, _ := a.do(t, "POST", catalogsPath, tok, map[string]any{"displayName": "Sales"})
	wantThrottled(t, resp, "2") // an empty bucket gains a token in 1/0.5 s
	if u, v := a.Txs.counts(); u != updates || v != views {
		t.Errorf("a throttled call ran %d updates and %d views; it must be refused before any work", u-updates, v-views)
	}

	clock.Advance(time.Second)
	resp, _ = a.do(t, "GET", catalogsPath, tok, nil)
	wantThrottled(t, resp, "1") // half a token in the bucket, one more second to go

	clock.Advance(time.Second)
	resp, _ = a.do(t, "POST", catalogsPath, tok, map[string]any{"displayName": "Sales"})
	wantStatus(t, resp, http.StatusCreated)
}

func TestThrottleCallersHaveSeparateBuckets(t *testing.T) {
	a, _ := newThrottledAPI(t, Throttle{CallerRate: 0.01, CallerBurst: 1})
	first := a.appTokenNamed(t, "first", "EntitlementManagement.ReadWrite.All")
	second := a.appTokenNamed(t, "second", "EntitlementManagement.ReadWrite.All")
	a.newUser(t, "alice@contoso.test")
	user := a.userToken(t, "alice@contoso.test", "EntitlementManagement.ReadWrite.All")

	resp, _ := a.do(t, "GET", catalogsPath, first, nil)
	wantStatus(t, resp, http.StatusOK)
	resp, _ = a.do(t, "GET", catalogsPath, first, nil)
	wantThrottled(t, resp, "100")
	// A second token of the same application is the same caller.
	again := a.appTokenNamed(t, "first", "EntitlementManagement.Read.All")
	resp, _ = a.do(t, "GET", catalogsPath, again, nil)
	wantThrottled(t, resp, "100")

	for name, tok := range map[string]string{"another application": second, "a user": user} {
		resp, _ := a.do(t, "GET", catalogsPath, tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s got %d after the first application used up its bucket: %s", name, resp.StatusCode, bodyOf(resp))
		}
	}
}

func TestThrottleForgedTokensShareTheirAddressBucket(t *testing.T) {
	a, clock := newThrottledAPI(t, Throttle{AnonymousRate: 0.25, AnonymousBurst: 3})
	valid := a.appToken(t, "EntitlementManagement.ReadWrite.All")

	// Each forged token claims a caller never seen before; none gets a
	// bucket of its own.
	for i := range 3 {
		resp, _ := a.do(t, "GET", catalogsPath, forgedToken(t, valid, fmt.Sprintf("forged-%d", i)), nil)
		if code, _ := convEnvelope(t, resp, http.StatusUnauthorized); code != "InvalidAuthenticationToken" {
			t.Fatalf("forged token %d: code %q", i, code)
		}
	}
	for _, tc := range []struct {
		name          string
		path, bearer  string
		authorization string
	}{
		{name: "a fourth forged token, with a new oid", path: catalogsPath, bearer: forgedToken(t, valid, "forged-3")},
		{name: "no token", path: catalogsPath},
		{name: "not a bearer token", path: catalogsPath, authorization: "Basic dXNlcjpwYXNz"},
		{name: "a forged token on another route", path: "/v1.0/users", bearer: forgedToken(t, valid, "forged-5")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := a.request(t, "GET", tc.path, tc.bearer, nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			resp, _ := a.send(t, req)
			wantThrottled(t, resp, "4")
		})
	}

	// The address is over its limit; a caller whose token verifies is not.
	resp, _ := a.do(t, "GET", catalogsPath, valid, nil)
	wantStatus(t, resp, http.StatusOK)

	clock.Advance(4 * time.Second)
	resp, _ = a.do(t, "GET", catalogsPath, forgedToken(t, valid, "forged-4"), nil)
	if code, _ := convEnvelope(t, resp, http.StatusUnauthorized); code != "InvalidAuthenticationToken" {
		t.Errorf("after the wait, a forged token got %q, want its 401", code)
	}
}

func TestThrottleAnonymousFloodLeavesCallersAlone(t *testing.T) {
	a, _ := newThrottledAPI(t, Throttle{CallerRate: 1, CallerBurst: 5, AnonymousRate: 1, AnonymousBurst: 1})
	tok := a.appToken(t, "EntitlementManagement.ReadWrite.All")

	throttled := 0
	for range 20 {
		if resp, _ := a.do(t, "GET", catalogsPath, "", nil); resp.StatusCode == http.StatusTooManyRequests {
			throttled++
		}
	}
	if throttled != 19 {
		t.Fatalf("%d of 20 calls without a token throttled, want 19 (a burst of 1)", throttled)
	}
	for i := range 5 {
		resp, _ := a.do(t, "GET", catalogsPath, tok, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("call %d of the caller's burst of 5 got %d during the flood: %s", i+1, resp.StatusCode, bodyOf(resp))
		}
	}
}

// What needs no token is never throttled, and does not use up the
// address's bucket either.
func TestThrottleNeverWhatNeedsNoToken(t *testing.T) {
	a, _ := newThrottledAPI(t, Throttle{CallerRate: 0.01, CallerBurst: 1, AnonymousRate: 0.01, AnonymousBurst: 1})
	tok := a.appToken(t, "EntitlementManagement.ReadWrite.All")
	unthrottled := []struct {
		path   string
		status int
	}{
		{"/healthz", http.StatusOK},
		{"/.well-known/openid-configuration", http.StatusOK},
		{identity.JWKSPath, http.StatusOK},
		{"/v1.0/nothingHere", http.StatusNotFound},
	}
	callAll := func(t *testing.T) {
		t.Helper()
		for _, bearer := range []string{"", tok, forgedToken(t, tok, "forged")} {
			for _, u := range unthrottled {
				for range 3 {
					resp, _ := a.do(t, "GET", u.path, bearer, nil)
					wantStatus(t, resp, u.status)
				}
			}
		}
	}
	callAll(t)
	resp, _ := a.do(t, "GET", catalogsPath, tok, nil)
	wantStatus(t, resp, http.StatusOK) // the caller's one call
	resp, _ = a.do(t, "GET", catalogsPath, "", nil)
	wantError(t, resp, http.StatusUnauthorized, "InvalidAuthenticationToken") // the address's one call
	resp, _ = a.do(t, "GET", catalogsPath, "", nil)
	wantThrottled(t, resp, "100")
	callAll(t) // with the address over its limit
}

func TestThrottleBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		// status of a call from 203.0.113.8 after 203.0.113.7 used up its bucket
		otherClient int
	}{
		{"no trusted proxies: the header is the client's word", nil, http.StatusTooManyRequests},
		{"the loopback peer is a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newThrottledAPI(t, Throttle{AnonymousRate: 0.01, AnonymousBurst: 1, TrustedProxies: tc.trusted})
			from := func(client string) *http.Response {
				req := a.request(t, "GET", catalogsPath, "", nil)
				req.Header.Set("X-Forwarded-For", client)
				resp, _ := a.send(t, req)
				return resp
			}
			wantStatus(t, from("203.0.113.7"), http.StatusUnauthorized)
			wantStatus(t, from("203.0.113.7"), http.StatusTooManyRequests)
			wantStatus(t, from("203.0.113.8"), tc.otherClient)
		})
	}
}

func TestClientAddress(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name       string
		remoteAddr string
		forwarded  []string // X-Forwarded-For lines
		trusted    []netip.Prefix
		want       string
	}{
		{"the peer", "192.0.2.1:1234", nil, nil, "192.0.2.1"},
		{"an IPv6 peer counts by its /64", "[2001:db8::1]:443", nil, nil, "2001:db8::/64"},
		{"another address of the same /64", "[2001:db8::ffff:2]:443", nil, nil, "2001:db8::/64"},
		{"an IPv4 peer written as IPv6", "[::ffff:192.0.2.1]:1", nil, nil, "192.0.2.1"},
		{"an untrusted peer's header is ignored", "192.0.2.1:1234", []string{"203.0.113.9"}, proxies, "192.0.2.1"},
		{"without trusted proxies every header is ignored", "10.0.0.1:1234", []string{"203.0.113.9"}, nil, "10.0.0.1"},
		{"a trusted proxy names the client", "10.0.0.1:1234", []string{"203.0.113.9"}, proxies, "203.0.113.9"},
		{"what the client wrote itself is skipped", "10.0.0.1:1234", []string{"198.51.100.1, 203.0.113.9"}, proxies, "203.0.113.9"},
		{"a chain of trusted proxies", "10.0.0.1:1234", []string{"203.0.113.9, 10.0.0.2"}, proxies, "203.0.113.9"},
		{"the header over several lines", "10.0.0.1:1234", []string{"198.51.100.1", "203.0.113.9", "10.0.0.2"}, proxies, "203.0.113.9"},
		{"an entry with a port", "10.0.0.1:1234", []string{"203.0.113.9:5555"}, proxies, "203.0.113.9"},
		{"an IPv6 entry counts by its /64", "[fd00::1]:1234", []string{"[2001:db8::7]:5555"}, proxies, "2001:db8::/64"},
		{"an unreadable entry: the last proxy's address", "10.0.0.1:1234", []string{"203.0.113.9, unknown"}, proxies, "10.0.0.1"},
		{"a trusted proxy without the header", "10.0.0.1:1234", nil, proxies, "10.0.0.1"},
		{"every entry a trusted proxy", "10.0.0.1:1234", []string{"10.0.0.3, 10.0.0.2"}, proxies, "10.0.0.3"},
		{"not an IP connection", "@", nil, nil, "@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remoteAddr
			for _, line := range tc.forwarded {
				r.Header.Add("X-Forwarded-For", line)
			}
			if got := clientAddress(r, tc.trusted); got != tc.want {
				t.Errorf("clientAddress = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTokenBucketsForgetOnlyBucketsThatFilledUp(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tb := newTokenBuckets(0.01, 1, 100) // a token every 100 s
	tb.take("idle", t0)
	tb.take("busy", t0.Add(50*time.Second))

	// At 100 s "idle" is full again and "busy" half; the sweep that is due
	// runs with the next call.
	tb.take("new", t0.Add(100*time.Second))
	if _, ok := tb.byKey["idle"]; ok {
		t.Errorf("the bucket that filled up again is still kept")
	}
	if len(tb.byKey) != 2 {
		t.Errorf("%d buckets kept, want busy and new: %v", len(tb.byKey), tb.byKey)
	}
	// Forgetting must not refill what is not full: busy still waits 50 s.
	wait, ok := tb.take("busy", t0.Add(100*time.Second))
	if ok || wait != 50*time.Second {
		t.Errorf("busy after the sweep: ok %v, wait %s; want refused for 50s", ok, wait)
	}
}

func TestTokenBucketsStayWithinTheirLimit(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tb := newTokenBuckets(1, 1, 2)
	tb.take("a", t0)
	tb.take("b", t0.Add(900*time.Millisecond))

	// At 1 s, a is full again and b is not: a new key takes a's place.
	tb.take("c", t0.Add(time.Second))
	if _, ok := tb.byKey["a"]; ok || len(tb.byKey) != 2 {
		t.Errorf("buckets %v; want b and c, a being the full one", tb.byKey)
	}
	// None is full now: the one idle the longest, b, makes room.
	tb.take("d", t0.Add(time.Second))
	_, hasC := tb.byKey["c"]
	_, hasD := tb.byKey["d"]
	if !hasC || !hasD || len(tb.byKey) != 2 {
		t.Errorf("buckets %v; want c and d", tb.byKey)
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{retryAfter(0), 1},
		{retryAfter(300 * time.Millisecond), 1},
		{retryAfter(time.Second), 1},
		{retryAfter(time.Second + time.Millisecond), 2},
		{&access.Error{Kind: access.KindThrottled, Message: "slow down", Err: retryAfter(100 * time.Second)}, 100},
		{access.E(access.KindThrottled, "slow down, with no wait given"), 1},
		{errors.New("not throttled at all"), 1},
	} {
		if got := retryAfterSeconds(tc.err); got != tc.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
