package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

func TestVerifyRefusals(t *testing.T) {
	f := newFixture(t)
	kid := f.keys.KeyID()
	now := f.clock.Now()

	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// with changes app claims: nil deletes a claim.
	with := func(changes map[string]any) jwt.MapClaims {
		c := f.appClaims()
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	signed := func(changes map[string]any) func(t *testing.T) string {
		return func(t *testing.T) string { return f.sign(t, with(changes)) }
	}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  string // part of the refusal's message; "" means accepted
	}{
		{"valid", signed(nil), ""},
		{"empty", func(*testing.T) string { return "" }, "token is missing"},
		{"garbage", func(*testing.T) string { return "not a token" }, "token is malformed"},
		{"two segments", func(*testing.T) string { return "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiJ4In0" }, "token is malformed"},
		{"bad base64 header", func(*testing.T) string { return "!!!.eyJvaWQiOiJ4In0.c2ln" }, "token is malformed"},
		{"bad base64 payload", func(t *testing.T) string {
			return segment(t, map[string]any{"alg": "RS256", "kid": kid}) + ".%%%.c2ln"
		}, "token is malformed"},
		{"header not JSON", func(*testing.T) string { return "bm90IGpzb24.eyJvaWQiOiJ4In0.c2ln" }, "token is malformed"},
		{"bad base64 signature", func(t *testing.T) string { return f.sign(t, f.appClaims()) + "!" }, "token is malformed"},
		{"too long", func(*testing.T) string { return string(make([]byte, maxTokenBytes+1)) }, "token is malformed"},

		{"expired beyond leeway", signed(map[string]any{"exp": now.Add(-Leeway - time.Second).Unix()}), "token is expired"},
		{"expired within leeway", signed(map[string]any{"exp": now.Add(-Leeway + time.Second).Unix()}), ""},
		{"not valid yet beyond leeway", signed(map[string]any{"nbf": now.Add(Leeway + time.Second).Unix()}), "token is not valid yet"},
		{"not valid yet within leeway", signed(map[string]any{"nbf": now.Add(Leeway - time.Second).Unix()}), ""},
		{"missing exp", signed(map[string]any{"exp": nil}), "token has no exp claim"},
		{"exp of the wrong type", signed(map[string]any{"exp": "tomorrow"}), "claim exp has the wrong type"},

		{"signed by another key with the same kid", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, f.appClaims())
			tok.Header["kid"] = kid
			raw, err := tok.SignedString(otherKey)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, "token signature is invalid"},
		{"payload swapped under a valid signature", func(t *testing.T) string {
			real := strings.Split(f.sign(t, f.appClaims()), ".")
			forged := strings.Split(f.sign(t, with(map[string]any{"roles": []string{"EntitlementManagement.ReadWrite.All"}})), ".")
			return real[0] + "." + forged[1] + "." + real[2]
		}, "token signature is invalid"},
		{"unknown kid", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, f.appClaims())
			tok.Header["kid"] = "someone-elses-key"
			raw, err := tok.SignedString(otherKey)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, `token signing key "someone-elses-key" is not known`},
		{"no kid", func(t *testing.T) string {
			raw, err := jwt.NewWithClaims(jwt.SigningMethodRS256, f.appClaims()).SignedString(otherKey)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, "token header has no kid"},

		{"wrong audience", signed(map[string]any{"aud": "api://something-else"}), `token audience "api://something-else" is not accepted`},
		{"alternate Graph audience", signed(map[string]any{"aud": GraphAudienceID}), ""},
		{"audience list naming Graph", signed(map[string]any{"aud": []string{"api://x", GraphAudience}}), ""},
		{"missing audience", signed(map[string]any{"aud": nil}), "token has no aud claim"},
		{"wrong issuer", signed(map[string]any{"iss": "https://sts.windows.net/x/"}), `token issuer "https://sts.windows.net/x/" is not accepted`},
		{"missing issuer", signed(map[string]any{"iss": nil}), "token has no iss claim"},
		{"issuer of the wrong type", signed(map[string]any{"iss": 5}), "claim iss has the wrong type"},
		{"wrong issuer, expired too: the issuer is named", signed(map[string]any{"iss": "https://x.test", "exp": now.Add(-time.Hour).Unix()}),
			`token issuer "https://x.test" is not accepted`},

		{"alg none", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, f.appClaims(),
				func(string) []byte { return nil })
		}, "alg none is not accepted"},
		{"alg None", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"alg": "None", "kid": kid}, f.appClaims(),
				func(string) []byte { return nil })
		}, "alg none is not accepted"},
		{"no alg", func(t *testing.T) string {
			return handBuilt(t, map[string]any{"kid": kid}, f.appClaims(), func(string) []byte { return []byte("x") })
		}, "token header has no alg"},
		{"HS256 keyed with the public key (key confusion)", func(t *testing.T) string {
			der, err := x509.MarshalPKIXPublicKey(&f.keys.state.Load().signer.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return handBuilt(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, f.appClaims(),
				func(input string) []byte {
					sig, err := jwt.SigningMethodHS256.Sign(input, pubPEM)
					if err != nil {
						t.Fatal(err)
					}
					return sig
				})
		}, `alg "HS256" is not accepted`},
		{"RS512 with the right key", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS512, f.appClaims())
			tok.Header["kid"] = kid
			raw, err := tok.SignedString(f.keys.state.Load().signer)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}, `alg "RS512" is not accepted`},

		{"missing oid", signed(map[string]any{"oid": nil}), "token has no oid claim"},
		{"roles not a list", signed(map[string]any{"roles": "EntitlementManagement.Read.All"}), "claim roles has the wrong type"},
		{"unknown idtyp", signed(map[string]any{"idtyp": "device"}), `token idtyp "device" is not accepted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := tt.token(t)
			caller, err := f.issuer.Verify(context.Background(), raw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v, want accepted", err)
				}
				if caller.ObjectID != "sp-1" {
					t.Errorf("caller = %+v, want sp-1", caller)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the token as %+v, want %q", caller, tt.want)
			}
			wantRefusal(t, err, tt.want)
			if _, ok := f.cached(raw); ok {
				t.Errorf("the refused token is cached")
			}
		})
	}
}

// Tokens shaped by other issuers (Entra omits idtyp in v1 tokens, and names
// the user only in preferred_username in some) read the same way.
func TestVerifyReadsEntraShapes(t *testing.T) {
	f := newFixture(t)
	base := func() jwt.MapClaims {
		now := f.clock.Now()
		return jwt.MapClaims{"iss": testURL, "aud": GraphAudience, "exp": now.Add(time.Hour).Unix(), "oid": "o-1"}
	}
	tests := []struct {
		name  string
		extra map[string]any
		want  access.Caller
	}{
		{"roles without scp is an application", map[string]any{"roles": []string{"R"}, "azp": "a-1"},
			access.Caller{ObjectID: "o-1", IsApp: true, AppID: "a-1", Roles: []string{"R"}}},
		{"scp without roles is a user", map[string]any{"scp": "S1 S2", "preferred_username": "bob@contoso.test", "name": "Bob"},
			access.Caller{ObjectID: "o-1", UPN: "bob@contoso.test", DisplayName: "Bob", Scopes: []string{"S1", "S2"}}},
		{"roles and scp is a user", map[string]any{"scp": "S", "roles": []string{"R"}},
			access.Caller{ObjectID: "o-1", Scopes: []string{"S"}, Roles: []string{"R"}}},
		{"appid wins over azp, upn over preferred_username", map[string]any{
			"idtyp": "user", "appid": "a-1", "azp": "a-2", "upn": "u@x.test", "preferred_username": "p@x.test", "scp": "S"},
			access.Caller{ObjectID: "o-1", AppID: "a-1", UPN: "u@x.test", Scopes: []string{"S"}}},
		{"scp with extra spaces", map[string]any{"idtyp": "user", "scp": " A  B "},
			access.Caller{ObjectID: "o-1", Scopes: []string{"A", "B"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims := base()
			for k, v := range tt.extra {
				claims[k] = v
			}
			got, err := f.issuer.Verify(context.Background(), f.sign(t, claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("caller (-want +got):\n%s", diff)
			}
		})
	}
}

// The clock Verify reads is the injected one, so the virtual clock of --dev
// mode expires tokens too.
func TestVerifyFollowsTheClock(t *testing.T) {
	f := newFixture(t)
	raw, err := f.issuer.MintApp(access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.issuer.Verify(context.Background(), raw); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	f.clock.Advance(time.Hour + Leeway - time.Second)
	if _, err := f.issuer.Verify(context.Background(), raw); err != nil {
		t.Fatalf("token refused within the leeway: %v", err)
	}
	f.clock.Advance(2 * time.Second)
	_, err = f.issuer.Verify(context.Background(), raw)
	wantRefusal(t, err, "token is expired: exp 2026-11-29T13:00:00Z, now 2026-11-29T13:02:01Z, leeway 2m0s")
}

// benchToken mints an app token for the Verify benchmarks.
func benchToken(b *testing.B) (*fixture, string) {
	b.Helper()
	f := newFixture(b)
	raw, err := f.issuer.MintApp(access.ServicePrincipal{ID: "sp-1", AppID: "app-1"},
		[]string{"EntitlementManagement.ReadWrite.All"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return f, raw
}

// BenchmarkVerify is the first sight of a token: the full check, signature
// included, and storing the result in the cache.
func BenchmarkVerify(b *testing.B) {
	f, raw := benchToken(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		clear(f.issuer.verified.entries) // so the token is new every time
		if _, err := f.issuer.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is every later call with the same token: served from
// the cache.
func BenchmarkVerifyCached(b *testing.B) {
	f, raw := benchToken(b)
	ctx := context.Background()
	if _, err := f.issuer.Verify(ctx, raw); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.Verify(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMintApp(b *testing.B) {
	f := newFixture(b)
	sp := access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}
	roles := []string{"EntitlementManagement.ReadWrite.All"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.MintApp(sp, roles, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
