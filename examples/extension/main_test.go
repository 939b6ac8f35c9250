package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// fakeAccessd serves a discovery document and a JWKS with one RSA key, and
// counts how often the JWKS is fetched.
type fakeAccessd struct {
	*httptest.Server
	key     *rsa.PrivateKey
	fetches atomic.Int32
}

func newFakeAccessd(t *testing.T) *fakeAccessd {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeAccessd{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"issuer":"` + f.URL + `","jwks_uri":"` + f.URL + `/.well-known/jwks.json"}`))
	})
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		f.fetches.Add(1)
		n := base64.RawURLEncoding.EncodeToString(key.N.Bytes())
		e := base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes())
		w.Write([]byte(`{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"k1","n":"` + n + `","e":"` + e + `"}]}`))
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// sign makes a token like accessd's callout token for POST http://ext.test:9090/callout.
func (f *fakeAccessd) sign(t *testing.T, change func(jwt.MapClaims, *jwt.Token)) string {
	now := time.Now()
	claims := jwt.MapClaims{"iss": f.URL, "appid": entitlementManagementAppID, "azp": entitlementManagementAppID,
		"aud": "http://ext.test:9090", "m": "POST", "u": "ext.test:9090", "p": "/callout",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "k1"
	if change != nil {
		change(claims, tok)
	}
	s, err := tok.SignedString(f.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerify(t *testing.T) {
	f := newFakeAccessd(t)
	x := &extension{accessd: f.URL, keys: &keySet{issuer: f.URL, keys: map[string]*rsa.PublicKey{}}}
	callout := func(auth string) *http.Request {
		r := httptest.NewRequest("POST", "http://EXT.test:9090/callout", strings.NewReader("{}"))
		r.Header.Set("Authorization", auth)
		return r
	}
	for _, tc := range []struct {
		name   string
		auth   func() string
		reason string // empty: accepted
	}{
		{"PoP", func() string { return "PoP " + f.sign(t, nil) }, ""},
		{"Bearer", func() string { return "Bearer " + f.sign(t, nil) }, ""},
		{"expired within the leeway", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
		}, ""},
		{"no header", func() string { return "" }, "no PoP or Bearer"},
		{"other scheme", func() string { return "Basic " + f.sign(t, nil) }, "no PoP or Bearer"},
		{"expired", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["exp"] = time.Now().Add(-3 * time.Minute).Unix() })
		}, "expired"},
		{"not yet valid", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["nbf"] = time.Now().Add(3 * time.Minute).Unix() })
		}, "not valid yet"},
		{"other issuer", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["iss"] = "https://sts.windows.net/x/" })
		}, "iss"},
		{"other app", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["appid"] = "someone-else" })
		}, "appid"},
		{"other method", func() string { return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["m"] = "GET" }) }, "PoP m"},
		{"other host", func() string {
			return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["u"] = "evil.test:9090" })
		}, "PoP u"},
		{"other path", func() string { return "PoP " + f.sign(t, func(c jwt.MapClaims, _ *jwt.Token) { c["p"] = "/other" }) }, "PoP p"},
		{"garbage", func() string { return "PoP not.a.jwt" }, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := x.verify(callout(tc.auth()))
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.reason != "" && (err == nil || !strings.Contains(err.Error(), tc.reason)):
				t.Fatalf("got %v, want a refusal naming %q", err, tc.reason)
			}
		})
	}
	t.Run("HS256 is refused", func(t *testing.T) {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": f.URL, "exp": time.Now().Add(time.Minute).Unix()})
		s, _ := tok.SignedString([]byte("secret"))
		if err := x.verify(callout("PoP " + s)); err == nil {
			t.Fatal("accepted an HS256 token")
		}
	})
	t.Run("unknown kids fetch the JWKS at most once per 10 s", func(t *testing.T) {
		before := f.fetches.Load()
		x.keys.fetched = time.Time{} // as if the last fetch were long ago
		for range 5 {
			if err := x.verify(callout("PoP " + f.sign(t, func(_ jwt.MapClaims, tok *jwt.Token) { tok.Header["kid"] = "forged" }))); err == nil {
				t.Fatal("accepted an unknown kid")
			}
		}
		if n := f.fetches.Load() - before; n != 1 {
			t.Fatalf("%d JWKS fetches for 5 unknown kids, want 1", n)
		}
		if err := x.verify(callout("PoP " + f.sign(t, nil))); err != nil {
			t.Fatalf("the known kid after unknown ones: %v", err)
		}
	})
}

func TestDecide(t *testing.T) {
	x := &extension{denySuffix: "@Contractor.test", ignore: "@slow.test"}
	for _, tc := range []struct {
		upn, stage, callback, want string
	}{
		{"alice@contoso.test", "assignmentRequestCreated", `{"DurationBeforeTimeout":"PT1H"}`, "continue"},
		{"bob@contractor.TEST", "assignmentRequestCreated", `{"DurationBeforeTimeout":"PT1H"}`, "deny"},
		{"bob@contractor.test", "assignmentRequestGranted", `{"DurationBeforeTimeout":"PT1H"}`, "continue"},
		{"carol@slow.test", "assignmentRequestCreated", `{"DurationBeforeTimeout":"PT1H"}`, "ignore"},
		{"alice@contoso.test", "assignmentRequestCreated", `null`, "none"},
	} {
		c := callout{Stage: tc.stage, CallbackURIPath: "/identityGovernance/entitlementManagement/assignmentRequests/r/resume",
			CallbackConfiguration: []byte(tc.callback)}
		c.Assignment.Target.PrincipalName = tc.upn
		if got := x.decide(c); got != tc.want {
			t.Errorf("%s at %s with %s: %s, want %s", tc.upn, tc.stage, tc.callback, got, tc.want)
		}
	}
}
