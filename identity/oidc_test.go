package identity

import (
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity/oidctest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// oidcFixture is a verifier of a running test provider's tokens, over a real
// store (SQLite, or PostgreSQL with ACCESSD_TEST_STORE=postgres).
type oidcFixture struct {
	p     *oidctest.Provider
	clock *fakeClock
	svc   *access.Service
	oidc  *OIDC
}

func newOIDCFixture(t testing.TB, createPrincipals bool) *oidcFixture {
	t.Helper()
	clock := &fakeClock{now: testStart}
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: slog.New(slog.DiscardHandler)})
	f := &oidcFixture{p: oidctest.New(t), clock: clock, svc: access.NewService(store, clock, &access.TimeOrderedIDs{Clock: clock})}
	o, err := NewOIDC(t.Context(), OIDCConfig{
		Issuer: f.p.Issuer(), Audience: oidctest.Audience, TenantID: oidctest.Tenant,
		Directory: f.svc, CreatePrincipals: createPrincipals, Clock: clock,
	})
	if err != nil {
		t.Fatalf("NewOIDC: %v", err)
	}
	f.oidc = o
	return f
}

func (f *oidcFixture) app(oid string, roles ...string) jwt.MapClaims {
	return f.p.AppClaims(f.clock.Now(), oid, "app-"+oid, roles...)
}

func (f *oidcFixture) user(oid string, scopes ...string) jwt.MapClaims {
	return f.p.UserClaims(f.clock.Now(), oid, oid+"@contoso.test", "User "+oid, scopes...)
}

// wantJWKSHits fails the test unless the provider's JWKS has been fetched
// exactly want times.
func (f *oidcFixture) wantJWKSHits(t *testing.T, want int64, when string) {
	t.Helper()
	if got := f.p.JWKSHits(); got != want {
		t.Errorf("%s: the JWKS was fetched %d times, want %d", when, got, want)
	}
}

// Tokens as Entra's v2.0 endpoint issues them are read into the caller the
// same way as accessd's own: an application's roles and azp, a user's scopes
// and preferred_username; RS256 and ES256 both verify.
func TestOIDCAcceptsEntraTokens(t *testing.T) {
	f := newOIDCFixture(t, true)
	ctx := t.Context()
	f.wantJWKSHits(t, 1, "after start")
	if got := f.p.DiscoveryHits(); got != 1 {
		t.Errorf("the discovery document was fetched %d times, want 1", got)
	}

	app, err := f.oidc.Verify(ctx, f.p.Sign(t, f.app("sp-1", "EntitlementManagement.Read.All")))
	if err != nil {
		t.Fatalf("app token: %v", err)
	}
	if !app.IsApp || app.ObjectID != "sp-1" || app.AppID != "app-sp-1" || !slices.Equal(app.Roles, []string{"EntitlementManagement.Read.All"}) || app.Scopes != nil {
		t.Errorf("app caller %+v", app)
	}

	ec := f.p.ECKey()
	user, err := f.oidc.Verify(ctx, f.p.SignWith(t, ec, f.user("u-1", "EntitlementManagement.Read.All", "EntitlementMgmt-SubjectAccess.ReadWrite")))
	if err != nil {
		t.Fatalf("user token signed with ES256: %v", err)
	}
	if user.IsApp || user.ObjectID != "u-1" || user.UPN != "u-1@contoso.test" || user.DisplayName != "User u-1" ||
		!slices.Equal(user.Scopes, []string{"EntitlementManagement.Read.All", "EntitlementMgmt-SubjectAccess.ReadWrite"}) {
		t.Errorf("user caller %+v", user)
	}

	// Entra's v1.0 shape: appid and upn, and idtyp when the application
	// asked for it. An application token without roles is still an
	// application's: it has no scp.
	v1 := f.app("sp-2")
	delete(v1, "azp")
	delete(v1, "roles")
	v1["appid"] = "app-v1"
	if c, err := f.oidc.Verify(ctx, f.p.Sign(t, v1)); err != nil || !c.IsApp || c.AppID != "app-v1" || c.Roles != nil {
		t.Errorf("v1 app token without roles: %+v, %v", c, err)
	}
	v1user := f.user("u-2", "EntitlementManagement.Read.All")
	delete(v1user, "preferred_username")
	v1user["upn"] = "u-2@contoso.test"
	v1user["idtyp"] = "user"
	if c, err := f.oidc.Verify(ctx, f.p.Sign(t, v1user)); err != nil || c.IsApp || c.UPN != "u-2@contoso.test" {
		t.Errorf("v1 user token: %+v, %v", c, err)
	}
	f.wantJWKSHits(t, 1, "after tokens of known keys")
}

// Every token that is not exactly right is refused as unauthenticated, with
// a message saying what is wrong.
func TestOIDCRefusals(t *testing.T) {
	f := newOIDCFixture(t, true)
	pub, ok := f.p.Signer().Signer.Public().(*rsa.PublicKey)
	if !ok {
		t.Fatal("the default key is not RSA")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	kid := f.p.Signer().Kid

	tests := []struct {
		name  string
		token func() string
		want  string
	}{
		{"another tenant", func() string {
			c := f.app("sp-1")
			c["tid"] = "00000000-0000-0000-0000-000000000001"
			return f.p.Sign(t, c)
		}, `token tenant "00000000-0000-0000-0000-000000000001" is not accepted: expected "` + oidctest.Tenant + `"`},
		{"no tenant", func() string {
			c := f.app("sp-1")
			delete(c, "tid")
			return f.p.Sign(t, c)
		}, "token has no tid claim"},
		{"another audience", func() string {
			c := f.app("sp-1")
			c["aud"] = GraphAudience
			return f.p.Sign(t, c)
		}, `token audience "https://graph.microsoft.com" is not accepted: expected "` + oidctest.Audience + `"`},
		{"no audience", func() string {
			c := f.app("sp-1")
			delete(c, "aud")
			return f.p.Sign(t, c)
		}, "token has no aud claim"},
		{"expired beyond the leeway", func() string {
			c := f.app("sp-1")
			c["exp"] = f.clock.Now().Add(-Leeway - time.Second).Unix()
			return f.p.Sign(t, c)
		}, "token is expired"},
		{"not valid yet", func() string {
			c := f.app("sp-1")
			c["nbf"] = f.clock.Now().Add(Leeway + time.Minute).Unix()
			return f.p.Sign(t, c)
		}, "token is not valid yet"},
		{"no exp", func() string {
			c := f.app("sp-1")
			delete(c, "exp")
			return f.p.Sign(t, c)
		}, "token has no exp claim"},
		{"an unknown issuer", func() string {
			c := f.app("sp-1")
			c["iss"] = "https://login.example.com/other/v2.0"
			return f.p.Sign(t, c)
		}, `token issuer "https://login.example.com/other/v2.0" is not accepted`},
		{"alg none", func() string {
			return handBuilt(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, f.app("sp-1"), func(string) []byte { return nil })
		}, "alg none is not accepted"},
		{"HS256 with the public key as the secret", func() string {
			return handBuilt(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, f.app("sp-1"), func(input string) []byte {
				m := hmac.New(sha256.New, publicPEM)
				m.Write([]byte(input))
				return m.Sum(nil)
			})
		}, `alg "HS256" is not accepted`},
		{"a signature that does not match", func() string {
			tok := f.p.Sign(t, f.app("sp-1"))
			other := f.p.Sign(t, f.app("sp-2"))
			return tok[:strings.LastIndex(tok, ".")] + other[strings.LastIndex(other, "."):]
		}, "token signature is invalid"},
		{"no kid", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, f.app("sp-1"))
			s, err := tok.SignedString(f.p.Signer().Signer)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "token header has no kid"},
		{"ES256 claimed for an RSA key", func() string {
			// Signed by the EC key, but naming the RSA key's kid.
			ec := *f.p.ECKey()
			ec.Kid = kid
			return f.p.SignWith(t, &ec, f.app("sp-1"))
		}, "token cannot be verified"},
		{"no oid", func() string {
			c := f.app("sp-1")
			delete(c, "oid")
			return f.p.Sign(t, c)
		}, "token has no oid claim"},
		{"an oid that is no object id", func() string {
			return f.p.Sign(t, f.app("../users/x"))
		}, "is not accepted: an object id"},
		{"an application token without appid or azp", func() string {
			c := f.app("sp-1")
			delete(c, "azp")
			return f.p.Sign(t, c)
		}, "neither an appid nor an azp claim"},
		{"garbage", func() string { return "not.a.token" }, "token is malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.oidc.Verify(t.Context(), tt.token())
			wantRefusal(t, err, tt.want)
		})
	}
	// None of them named a kid the JWKS does not list, so none made it be
	// fetched again.
	f.wantJWKSHits(t, 1, "after the refusals")
}

// When the provider rotates its keys, a token with the new kid makes the
// JWKS be fetched again and verifies; tokens of the withdrawn key are then
// refused.
func TestOIDCKeyRotation(t *testing.T) {
	f := newOIDCFixture(t, true)
	ctx := t.Context()
	old := f.p.Sign(t, f.app("sp-1", "EntitlementManagement.Read.All"))
	if _, err := f.oidc.Verify(ctx, old); err != nil {
		t.Fatalf("token of the first key: %v", err)
	}

	newKey := f.p.Rotate(t)
	fresh := f.p.Sign(t, f.app("sp-1", "EntitlementManagement.Read.All"))
	if _, err := f.oidc.Verify(ctx, fresh); err != nil {
		t.Fatalf("token of the new key %s: %v", newKey.Kid, err)
	}
	f.wantJWKSHits(t, 2, "after the first token of the new key")

	_, err := f.oidc.Verify(ctx, old)
	wantRefusal(t, err, "which the issuer's JWKS does not list")
	if _, err := f.oidc.Verify(ctx, fresh); err != nil {
		t.Errorf("the new key's token, again: %v", err)
	}
	f.wantJWKSHits(t, 2, "after the old key's token was refused")
}

// Tokens naming kids the JWKS does not list make it be fetched again at
// most once every 10 seconds by the clock, however many arrive at once;
// within that time they are refused without waiting.
func TestOIDCRefetchLimit(t *testing.T) {
	f := newOIDCFixture(t, true)
	ctx := t.Context()
	stranger := oidctest.New(t) // its keys are nobody the verifier trusts
	var forged []string
	for i := range 20 {
		k := stranger.Signer()
		k2 := *k
		k2.Kid = fmt.Sprintf("invented-%d", i)
		forged = append(forged, stranger.SignWith(t, &k2, f.app("sp-1")))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(forged))
	for i, tok := range forged {
		wg.Go(func() { _, errs[i] = f.oidc.Verify(ctx, tok) })
	}
	wg.Wait()
	for i, err := range errs {
		wantRefusal(t, err, fmt.Sprintf(`key "invented-%d", which the issuer's JWKS does not list`, i))
	}
	f.wantJWKSHits(t, 2, "after 20 tokens with invented kids at once")

	// A key the provider publishes now is not fetched for until 10
	// seconds have passed since the last fetch.
	added := f.p.AddRSA(t)
	tok := f.p.SignWith(t, added, f.app("sp-1"))
	f.clock.Advance(refreshInterval - time.Second)
	_, err := f.oidc.Verify(ctx, tok)
	wantRefusal(t, err, "fetched again at most every 10s")
	f.wantJWKSHits(t, 2, "9 seconds after the last fetch")
	f.clock.Advance(time.Second)
	if _, err := f.oidc.Verify(ctx, tok); err != nil {
		t.Fatalf("10 seconds after the last fetch: %v", err)
	}
	f.wantJWKSHits(t, 3, "10 seconds after the last fetch")
	for _, tok := range forged {
		f.oidc.Verify(ctx, tok)
	}
	f.wantJWKSHits(t, 3, "after the invented kids again, right after a fetch")
}

// A caller the directory does not know is added on its first call with
// CreatePrincipals, and refused without it.
func TestOIDCUnknownCallers(t *testing.T) {
	t.Run("refused without CreatePrincipals", func(t *testing.T) {
		f := newOIDCFixture(t, false)
		_, err := f.oidc.Verify(t.Context(), f.p.Sign(t, f.user("u-new", "EntitlementManagement.Read.All")))
		wantRefusal(t, err, `the token's user "u-new@contoso.test" (id "u-new") is not in the directory, and principals are not created on first sight`)
		_, err = f.oidc.Verify(t.Context(), f.p.Sign(t, f.app("sp-new")))
		wantRefusal(t, err, `the token's application "app-sp-new" (service principal id "sp-new") is not in the directory`)
		if _, err := f.svc.User(t.Context(), "u-new"); !access.IsNotFound(err) {
			t.Errorf("the refused user was created: %v", err)
		}
		// Once an administrator adds them, they are let in.
		if _, err := f.svc.CreateServicePrincipal(t.Context(), access.ServicePrincipal{ID: "sp-new", AppID: "app-sp-new", DisplayName: "Automation"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.oidc.Verify(t.Context(), f.p.Sign(t, f.app("sp-new"))); err != nil {
			t.Errorf("the application after it was added: %v", err)
		}
	})
	t.Run("created with CreatePrincipals", func(t *testing.T) {
		f := newOIDCFixture(t, true)
		ctx := t.Context()
		claims := f.user("u-new", "EntitlementManagement.Read.All")
		claims["email"] = "alice@mail.contoso.test"
		if _, err := f.oidc.Verify(ctx, f.p.Sign(t, claims)); err != nil {
			t.Fatal(err)
		}
		u, err := f.svc.User(ctx, "u-new")
		if err != nil {
			t.Fatalf("the user was not created: %v", err)
		}
		want := access.User{ID: "u-new", DisplayName: "User u-new", UserPrincipalName: "u-new@contoso.test", Mail: "alice@mail.contoso.test", MailNickname: "u-new", AccountEnabled: true}
		if u != want {
			t.Errorf("created user %+v, want %+v", u, want)
		}
		if _, err := f.oidc.Verify(ctx, f.p.Sign(t, f.app("sp-new"))); err != nil {
			t.Fatal(err)
		}
		sp, err := f.svc.ServicePrincipal(ctx, "sp-new")
		if err != nil || sp.AppID != "app-sp-new" || sp.DisplayName != "app-sp-new" {
			t.Errorf("created service principal %+v, %v", sp, err)
		}

		// A user whose userPrincipalName another user has is refused,
		// naming the conflict: it is not merged into that user.
		if _, err := f.svc.CreateUser(ctx, access.User{ID: "seeded", DisplayName: "Bob", UserPrincipalName: "bob@contoso.test", AccountEnabled: true}); err != nil {
			t.Fatal(err)
		}
		bob := f.p.UserClaims(f.clock.Now(), "entra-bob", "bob@contoso.test", "Bob", "EntitlementManagement.Read.All")
		_, err = f.oidc.Verify(ctx, f.p.Sign(t, bob))
		wantRefusal(t, err, `another user already has userPrincipalName "bob@contoso.test"`)

		// A user token that names no alias@domain cannot make a user.
		bare := f.p.UserClaims(f.clock.Now(), "kc-user", "carol", "Carol", "EntitlementManagement.Read.All")
		_, err = f.oidc.Verify(ctx, f.p.Sign(t, bare))
		wantRefusal(t, err, "none of upn, preferred_username and email has the form alias@domain")
	})
	t.Run("first calls at once", func(t *testing.T) {
		f := newOIDCFixture(t, true)
		ctx := t.Context()
		tokens := []string{f.p.Sign(t, f.user("u-race", "EntitlementManagement.Read.All")), f.p.Sign(t, f.app("sp-race"))}
		const each = 8
		errs := make(chan error, each*len(tokens))
		var wg sync.WaitGroup
		for range each {
			for _, tok := range tokens {
				wg.Go(func() {
					_, err := f.oidc.Verify(ctx, tok)
					errs <- err
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("a first call failed: %v", err)
			}
		}
		users, _, err := f.svc.Users(ctx, access.Page{Limit: 10})
		if err != nil || len(users) != 1 || users[0].ID != "u-race" {
			t.Errorf("users after %d first calls at once: %+v, %v", each, users, err)
		}
		sps, _, err := f.svc.ServicePrincipals(ctx, access.Page{Limit: 10})
		if err != nil || len(sps) != 1 || sps[0].ID != "sp-race" {
			t.Errorf("service principals after %d first calls at once: %+v, %v", each, sps, err)
		}
	})
}

// The discovery document must name the issuer it was fetched for, and the
// issuer and its jwks_uri must be https unless on a loopback address.
func TestOIDCDiscovery(t *testing.T) {
	liar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":"https://login.example.com/","jwks_uri":"https://login.example.com/keys"}`)
	}))
	t.Cleanup(liar.Close)
	svc := access.NewService(storetest.Open(t, storetest.Backend()), access.SystemClock{}, &access.TimeOrderedIDs{Clock: access.SystemClock{}})
	_, err := NewOIDC(t.Context(), OIDCConfig{Issuer: liar.URL, Audience: "a", TenantID: "t", Directory: svc})
	if err == nil || !strings.Contains(err.Error(), `names issuer "https://login.example.com/"; they must be the same URL`) {
		t.Errorf("a discovery document naming another issuer: %v", err)
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	if _, err := NewOIDC(t.Context(), OIDCConfig{Issuer: gone.URL, Audience: "a", TenantID: "t", Directory: svc}); err == nil ||
		!strings.Contains(err.Error(), "fetch the discovery document") {
		t.Errorf("an issuer that cannot be reached: %v", err)
	}

	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0", true},
		{"https://keycloak.example.com/realms/corp", true},
		{"http://127.0.0.1:8081/realms/dev", true},
		{"http://localhost:8081", true},
		{"http://[::1]:8081", true},
		{"http://keycloak.example.com/realms/corp", false},
		{"http://10.0.0.5/realms/corp", false},
		{"ftp://login.example.com", false},
		{"login.example.com", false},
		{"https://login.example.com/?tenant=x", false},
		{"https://user:pass@login.example.com", false},
	} {
		if err := CheckIssuerURL(tt.url); (err == nil) != tt.ok {
			t.Errorf("CheckIssuerURL(%q) = %v, want ok %t", tt.url, err, tt.ok)
		}
	}
}

// The Verifier sends each token to the check of the issuer it names; with
// one issuer only, the other's tokens are refused without a key lookup.
func TestVerifierModes(t *testing.T) {
	f := newOIDCFixture(t, true)
	builtin := newFixture(t)
	ctx := t.Context()
	builtinToken := builtin.sign(t, builtin.appClaims())
	externalToken := f.p.Sign(t, f.app("sp-1", "EntitlementManagement.Read.All"))

	both := NewVerifier(builtin.issuer, f.oidc)
	if c, err := both.Verify(ctx, builtinToken); err != nil || c.ObjectID != "sp-1" || c.AppID != "app-1" {
		t.Errorf("both, built-in token: %+v, %v", c, err)
	}
	if c, err := both.Verify(ctx, externalToken); err != nil || c.ObjectID != "sp-1" || c.AppID != "app-sp-1" {
		t.Errorf("both, external token: %+v, %v", c, err)
	}

	_, err := NewVerifier(nil, f.oidc).Verify(ctx, builtinToken)
	wantRefusal(t, err, `token issuer "`+testURL+`" is not accepted: expected "`+f.p.Issuer()+`"`)
	// The built-in check looks for the key first, as it always has.
	_, err = NewVerifier(builtin.issuer, nil).Verify(ctx, externalToken)
	wantRefusal(t, err, `token signing key "`+f.p.Signer().Kid+`" is not known`)
	f.wantJWKSHits(t, 1, "after the tokens of the other issuer")
}

// BenchmarkOIDCVerify is the cost of one external token's full check:
// signature, claims and the directory read of its caller.
func BenchmarkOIDCVerify(b *testing.B) {
	for _, tt := range []struct {
		name  string
		token func(f *oidcFixture) string
	}{
		{"RS256 app", func(f *oidcFixture) string { return f.p.Sign(b, f.app("sp-1", "EntitlementManagement.Read.All")) }},
		{"ES256 user", func(f *oidcFixture) string {
			return f.p.SignWith(b, f.p.ECKey(), f.user("u-1", "EntitlementManagement.Read.All"))
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			f := newOIDCFixture(b, true)
			tok := tt.token(f)
			if _, err := f.oidc.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := f.oidc.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
