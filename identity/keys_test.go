package identity

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestLoadKeysCreatesAndStoresOneKey(t *testing.T) {
	f := newFixture(t)
	var stored []access.SigningKey
	err := f.store.View(context.Background(), func(tx access.Tx) error {
		var err error
		stored, err = tx.SigningKeys()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 {
		t.Fatalf("stored %d keys, want 1", len(stored))
	}
	k := stored[0]
	if k.ID != f.keys.KeyID() {
		t.Errorf("stored kid %q, key set signs with %q", k.ID, f.keys.KeyID())
	}
	if !strings.HasPrefix(string(k.PrivatePEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("stored key is not PKCS#8 PEM: %.40q", k.PrivatePEM)
	}
	priv, err := parsePrivateKey(k.PrivatePEM)
	if err != nil {
		t.Fatal(err)
	}
	if bits := priv.N.BitLen(); bits != 2048 {
		t.Errorf("key has %d bits, want 2048", bits)
	}
	if got := thumbprint(&priv.PublicKey); got != k.ID {
		t.Errorf("kid %q is not the key's thumbprint %q", k.ID, got)
	}
	if !k.CreatedAt.Equal(testStart) {
		t.Errorf("created at %v, want the clock's %v", k.CreatedAt, testStart)
	}
}

// Two processes starting together on one empty database agree on one key,
// and a later start uses it too.
func TestLoadKeysAgreeOnOneKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	first, second := openStore(t, path), openStore(t, path)
	clock := &fakeClock{now: testStart}

	var wg sync.WaitGroup
	kids := make([]string, 2)
	for i, s := range []access.Store{first, second} {
		wg.Go(func() {
			keys, err := LoadKeys(context.Background(), s, clock)
			if err != nil {
				t.Errorf("LoadKeys %d: %v", i, err)
				return
			}
			kids[i] = keys.KeyID()
		})
	}
	wg.Wait()
	if kids[0] == "" || kids[0] != kids[1] {
		t.Fatalf("processes signed with kids %q and %q, want one", kids[0], kids[1])
	}

	later, err := LoadKeys(context.Background(), openStore(t, path), clock)
	if err != nil {
		t.Fatal(err)
	}
	if later.KeyID() != kids[0] {
		t.Errorf("a later start signs with %q, want %q", later.KeyID(), kids[0])
	}
}

func TestLoadKeysRefusesAKeyItCannotRead(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "bad.db"))
	err := s.Update(context.Background(), func(tx access.Tx) error {
		return tx.InsertSigningKeyIfAbsent(access.SigningKey{ID: "broken", PrivatePEM: []byte("not pem"), CreatedAt: testStart})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(context.Background(), s, &fakeClock{now: testStart}); err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Fatalf("LoadKeys = %v, want an error naming the broken key", err)
	}
}

// What the JWKS publishes is enough for anyone to verify accessd's tokens:
// the same check an extension makes on a callout token.
func TestJWKSVerifiesMintedToken(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(f.issuer.JWKS(), &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS lists %d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	members := map[string]string{"kty": "RSA", "use": "sig", "kid": f.keys.KeyID(), "alg": "RS256", "n": k["n"], "e": "AQAB"}
	if diff := cmp.Diff(members, k); diff != "" {
		t.Errorf("JWKS key (-want +got):\n%s", diff)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(mustB64(t, k["n"])), E: int(new(big.Int).SetBytes(mustB64(t, k["e"])).Int64())}

	raw, err := f.issuer.MintApp(access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}, []string{"R"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse(raw, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k["kid"] {
			t.Errorf("token kid %v is not the JWKS kid %q", tok.Header["kid"], k["kid"])
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(f.clock.Now))
	if err != nil || !tok.Valid {
		t.Fatalf("the JWKS key does not verify a minted token: %v", err)
	}
}

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("JWKS member %q is not base64url: %v", s, err)
	}
	return b
}

// A token naming an unknown kid makes the key set read the store again, at
// most once per 10 seconds however many such tokens arrive.
func TestUnknownKidRefreshesAtMostEvery10s(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t) // another deployment, whose kid this one does not know
	foreign, err := other.issuer.Sign(f.appClaims())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	tests := []struct {
		name      string
		advance   time.Duration
		wantReads int64
	}{
		{"first unknown kid reads the store", 0, 1},
		{"again at once does not", 0, 1},
		{"9 s later still does not", 9 * time.Second, 1},
		{"10 s after the read it reads again", time.Second, 2},
	}
	for _, tt := range tests {
		f.clock.Advance(tt.advance)
		_, err := f.issuer.Verify(ctx, foreign)
		wantRefusal(t, err, "is not known")
		if got := f.store.views.Load(); got != tt.wantReads {
			t.Errorf("%s: %d store reads, want %d", tt.name, got, tt.wantReads)
		}
	}
	// A known kid never reads the store.
	if _, err := f.issuer.Verify(ctx, f.sign(t, f.appClaims())); err != nil {
		t.Fatal(err)
	}
	if got := f.store.views.Load(); got != 2 {
		t.Errorf("verifying a known kid read the store: %d reads, want 2", got)
	}
}

// Refresh replaces the keys with what the store holds, and the JWKS with them.
func TestRefreshTakesWhatIsStored(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	foreign, err := other.issuer.Sign(f.appClaims())
	if err != nil {
		t.Fatal(err)
	}
	before := f.issuer.JWKS()

	if err := f.keys.Refresh(context.Background(), other.store); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if f.keys.KeyID() != other.keys.KeyID() {
		t.Errorf("after refresh the kid is %q, want the stored %q", f.keys.KeyID(), other.keys.KeyID())
	}
	if _, err := f.issuer.Verify(context.Background(), foreign); err != nil {
		t.Errorf("a token of the refreshed key is refused: %v", err)
	}
	if string(f.issuer.JWKS()) == string(before) || string(f.issuer.JWKS()) != string(other.issuer.JWKS()) {
		t.Errorf("JWKS did not follow the refresh")
	}
}

// With several keys the newest signs and every one verifies, so a rotation
// does not cut off tokens already issued.
func TestNewestKeySignsAllVerify(t *testing.T) {
	f := newFixture(t)
	older, err := generateKey(testStart.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := generateKey(testStart)
	if err != nil {
		t.Fatal(err)
	}
	st, err := newKeyState([]access.SigningKey{older, newer})
	if err != nil {
		t.Fatal(err)
	}
	f.keys.state.Store(st)
	if f.keys.KeyID() != newer.ID {
		t.Errorf("signing kid %q, want the newer %q", f.keys.KeyID(), newer.ID)
	}

	olderPriv, err := parsePrivateKey(older.PrivatePEM)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, f.appClaims())
	tok.Header["kid"] = older.ID
	fromOlder, err := tok.SignedString(olderPriv)
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"older": fromOlder, "newer": f.sign(t, f.appClaims())} {
		if _, err := f.issuer.Verify(context.Background(), raw); err != nil {
			t.Errorf("token of the %s key refused: %v", name, err)
		}
	}

	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(f.issuer.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 || doc.Keys[0].Kid != older.ID || doc.Keys[1].Kid != newer.ID {
		t.Errorf("JWKS lists %+v, want the older then the newer key", doc.Keys)
	}
}

// The kid is the RFC 7638 thumbprint; this is the RFC's own example (§3.1).
func TestThumbprintRFC7638(t *testing.T) {
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(mustB64(t, n)), E: 65537}
	if got, want := thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint = %q, want %q", got, want)
	}
}
