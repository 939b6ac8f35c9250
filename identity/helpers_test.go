package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/sqlstore"
	"github.com/golang-jwt/jwt/v5"
)

const (
	testURL    = "https://accessd.test"
	testTenant = "11111111-2222-3333-4444-555555555555"
)

var testStart = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openStore opens and migrates a real SQLite store at path, closed when the test ends.
func openStore(t testing.TB, path string) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, path, sqlstore.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// countingStore is the real store, counting the read transactions it runs,
// so tests can see when the key set reads the keys again.
type countingStore struct {
	access.Store
	views atomic.Int64
}

func (s *countingStore) View(ctx context.Context, fn func(access.Tx) error) error {
	s.views.Add(1)
	return s.Store.View(ctx, fn)
}

// fixture is an issuer on a fresh database with a clock the test controls.
type fixture struct {
	store  *countingStore
	clock  *fakeClock
	keys   *KeySet
	issuer *Issuer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{
		store: &countingStore{Store: openStore(t, filepath.Join(t.TempDir(), "accessd.db"))},
		clock: &fakeClock{now: testStart},
	}
	keys, err := LoadKeys(context.Background(), f.store, f.clock)
	if err != nil {
		t.Fatalf("LoadKeys: %v", err)
	}
	f.keys = keys
	f.issuer = NewIssuer(IssuerConfig{URL: testURL, TenantID: testTenant, Keys: keys, Clock: f.clock})
	return f
}

// appClaims are the claims of a valid application token at the fixture's time.
func (f *fixture) appClaims() jwt.MapClaims {
	now := f.clock.Now()
	return jwt.MapClaims{
		"iss":   testURL,
		"aud":   GraphAudience,
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"tid":   testTenant,
		"oid":   "sp-1",
		"sub":   "sp-1",
		"appid": "app-1",
		"azp":   "app-1",
		"idtyp": "app",
		"roles": []string{"EntitlementManagement.Read.All"},
	}
}

// sign signs claims with the fixture's issuer, failing the test on error.
func (f *fixture) sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := f.issuer.Sign(claims)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// handBuilt assembles a token from a header, claims and a signature function,
// for the tokens jwt refuses to make (alg none, a forged HS256).
func handBuilt(t testing.TB, header, claims map[string]any, sign func(signingInput string) []byte) string {
	t.Helper()
	input := segment(t, header) + "." + segment(t, claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(sign(input))
}

func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken returns a token's header and payload as plain JSON values.
func decodeToken(t testing.TB, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	decode := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decode segment: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("unmarshal segment: %v", err)
		}
		return m
	}
	return decode(parts[0]), decode(parts[1])
}

// wantRefusal checks that err is an unauthenticated *access.Error whose
// message contains want.
func wantRefusal(t testing.TB, err error, want string) {
	t.Helper()
	var ae *access.Error
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v (%T), want an *access.Error", err, err)
	}
	if ae.Kind != access.KindUnauthenticated {
		t.Errorf("kind = %v, want unauthenticated (message %q)", ae.Kind, ae.Message)
	}
	if !strings.Contains(ae.Message, want) {
		t.Errorf("message = %q, want it to contain %q", ae.Message, want)
	}
}
