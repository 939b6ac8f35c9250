package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
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

// newTestSecret makes a Standard Webhooks secret: whsec_ and 32 random bytes in base64.
func newTestSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// signedCallout is a launch-and-continue callout as accessd sends it to
// http://ext.test:9090/callout: its token, and Standard Webhooks headers
// with one signature per secret, made at the time given.
func signedCallout(t *testing.T, f *fakeAccessd, id string, at time.Time, body string, secrets ...string) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "http://ext.test:9090/callout", strings.NewReader(body))
	r.Header.Set("Authorization", "PoP "+f.sign(t, nil))
	var sigs []string
	for _, secret := range secrets {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := wh.Sign(id, at, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		sigs = append(sigs, sig)
	}
	r.Header.Set("webhook-id", id)
	r.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	r.Header.Set("webhook-signature", strings.Join(sigs, " "))
	return r
}

// With -webhook-secret a callout must carry a signature by that secret over
// exactly the body sent, at most five minutes old; a second callout with a
// webhook-id already taken is not acted on again.
func TestWebhookSignature(t *testing.T) {
	f := newFakeAccessd(t)
	secret, other := newTestSecret(t), newTestSecret(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	x := &extension{accessd: f.URL, keys: &keySet{issuer: f.URL, keys: map[string]*rsa.PublicKey{}}, webhook: wh, taken: newReplayWindow()}
	// A launch-and-continue callout: nothing to resume, so no accessd API is needed.
	body := func(id string) string {
		return `{"CustomExtensionStageInstanceId":"` + id + `","Stage":"assignmentRequestGranted","CallbackConfiguration":null}`
	}
	serve := func(r *http.Request) (int, string) {
		w := httptest.NewRecorder()
		x.ServeHTTP(w, r)
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	now := time.Now()
	tests := []struct {
		name    string
		request func(id string) *http.Request
		status  int
	}{
		{"signed", func(id string) *http.Request { return signedCallout(t, f, id, now, body(id), secret) }, http.StatusAccepted},
		{"signed with the old and the new secret of a rotation", func(id string) *http.Request {
			return signedCallout(t, f, id, now, body(id), other, secret)
		}, http.StatusAccepted},
		{"four minutes old", func(id string) *http.Request {
			return signedCallout(t, f, id, now.Add(-4*time.Minute), body(id), secret)
		}, http.StatusAccepted},
		{"no signature headers", func(id string) *http.Request {
			r := signedCallout(t, f, id, now, body(id), secret)
			r.Header.Del("webhook-signature")
			return r
		}, http.StatusUnauthorized},
		{"signed with another secret", func(id string) *http.Request { return signedCallout(t, f, id, now, body(id), other) }, http.StatusUnauthorized},
		{"a body changed after signing", func(id string) *http.Request {
			r := signedCallout(t, f, id, now, body(id), secret)
			changed := strings.Replace(body(id), "Granted", "Created", 1)
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(changed)), int64(len(changed))
			return r
		}, http.StatusUnauthorized},
		{"another webhook-id than the one signed", func(id string) *http.Request {
			r := signedCallout(t, f, id, now, body(id), secret)
			r.Header.Set("webhook-id", id+"-other")
			return r
		}, http.StatusUnauthorized},
		{"six minutes old", func(id string) *http.Request {
			return signedCallout(t, f, id, now.Add(-6*time.Minute), body(id), secret)
		}, http.StatusUnauthorized},
		{"six minutes ahead", func(id string) *http.Request {
			return signedCallout(t, f, id, now.Add(6*time.Minute), body(id), secret)
		}, http.StatusUnauthorized},
		{"signed but without accessd's token", func(id string) *http.Request {
			r := signedCallout(t, f, id, now, body(id), secret)
			r.Header.Del("Authorization")
			return r
		}, http.StatusUnauthorized},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "instance-" + strconv.Itoa(i)
			if status, answer := serve(tt.request(id)); status != tt.status {
				t.Fatalf("answered %d %q, want %d", status, answer, tt.status)
			}
		})
	}

	t.Run("a replay is not acted on again", func(t *testing.T) {
		first := signedCallout(t, f, "instance-replayed", now, body("instance-replayed"), secret)
		replay := first.Clone(t.Context())
		replay.Body = io.NopCloser(strings.NewReader(body("instance-replayed")))
		if status, answer := serve(first); status != http.StatusAccepted {
			t.Fatalf("the first delivery: %d %q, want 202", status, answer)
		}
		if status, answer := serve(replay); status != http.StatusOK || answer != "already received" {
			t.Fatalf("the same callout again: %d %q, want 200 already received", status, answer)
		}
		// accessd's own retry: the same webhook-id with a new timestamp.
		retry := signedCallout(t, f, "instance-replayed", now.Add(time.Second), body("instance-replayed"), secret)
		if status, answer := serve(retry); status != http.StatusOK || answer != "already received" {
			t.Fatalf("a resend of the same instance: %d %q, want 200 already received", status, answer)
		}
		// A refused callout was not taken: its id is still new.
		if status, _ := serve(signedCallout(t, f, "instance-refused-once", now, body("instance-refused-once"), other)); status != http.StatusUnauthorized {
			t.Fatal("a callout signed with another secret was accepted")
		}
		if status, answer := serve(signedCallout(t, f, "instance-refused-once", now, body("instance-refused-once"), secret)); status != http.StatusAccepted {
			t.Fatalf("a signed callout whose id was only refused before: %d %q, want 202", status, answer)
		}
	})
}

func TestReplayWindowForgetsAfterTenMinutes(t *testing.T) {
	w := newReplayWindow()
	start := time.Now()
	if !w.first("a", start) {
		t.Fatal("a new id is not first")
	}
	if w.first("a", start.Add(9*time.Minute)) {
		t.Fatal("an id taken nine minutes ago is first again")
	}
	if !w.first("a", start.Add(11*time.Minute)) {
		t.Fatal("an id taken eleven minutes ago is still remembered")
	}
}
