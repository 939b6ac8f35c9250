package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/identity/oidctest"
)

// portalSite is the API and the portal as serve wires them, on a real
// port, with the token checks the flags ask for.
func portalSite(t *testing.T, args ...string) (string, *access.Service) {
	t.Helper()
	ctx := t.Context()
	cfg, svc, clock, ids, tid, keys, quiet := servedParts(t, args...)
	var site http.Handler // set before the first request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { site.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: ts.URL, TenantID: tid, Keys: keys, Clock: clock})
	verifier, external, err := newVerifiers(ctx, cfg, issuer, svc, tid, quiet)
	if err != nil {
		t.Fatal(err)
	}
	api := graph.NewServer(graph.Config{Service: svc, Auth: verifier, PublicURL: ts.URL, Logger: quiet, Clock: clock, IDs: ids,
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath, Dev: cfg.Dev})
	var ext tokenVerifier
	if external != nil {
		ext = external
	}
	web, err := newPortal(cfg, api, ts.URL, svc, issuer, ext, quiet)
	if err != nil {
		t.Fatal(err)
	}
	site = withPortal(api, web)
	return ts.URL, svc
}

var portalCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// startOIDCSignIn opens the sign-in page in a fresh browser (cookies,
// redirects followed) and presses the provider's button. It returns the
// final page.
func startOIDCSignIn(t *testing.T, site string, jar http.CookieJar) (int, string) {
	t.Helper()
	c := &http.Client{Jar: jar}
	resp, err := c.Get(site + "/portal/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := portalCSRF.FindStringSubmatch(string(page))
	if m == nil || !strings.Contains(string(page), `action="/portal/signin/oidc"`) {
		t.Fatalf("the sign-in page offers no identity provider:\n%s", page)
	}
	resp, err = c.PostForm(site+"/portal/signin/oidc", url.Values{"csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Sign-in with the external issuer: the authorization-code flow with PKCE
// through a real provider, the user created on first sight, and the portal
// acting with the provider's access token; a wrong client secret, or a
// callback for a sign-in another browser started, signs nobody in.
func TestPortalSignInWithTheExternalIssuer(t *testing.T) {
	p := oidctest.New(t)
	scopes := []string{access.SubjectAccess, "EntitlementManagement.ReadWrite.All"}
	p.SignInAs(oidctest.SignedIn{OID: "u-dana", UPN: "dana@contoso.test", Name: "Dana Sign-in", Scopes: scopes})

	t.Run("public client", func(t *testing.T) {
		site, svc := portalSite(t, oidcFlags(p, "oidc", "--oidc-create-principals", "--oidc-client-id", "portal-public")...)
		p.Register(oidctest.Client{ID: "portal-public", RedirectURI: site + "/portal/callback"})
		jar, _ := cookiejar.New(nil)
		before := p.TokensIssued()
		status, page := startOIDCSignIn(t, site, jar)
		if status != http.StatusOK || !strings.Contains(page, "Dana Sign-in") || !strings.Contains(page, "My Access") {
			t.Fatalf("after signing in: %d\n%s", status, page)
		}
		if p.TokensIssued() != before+1 {
			t.Error("the portal did not trade the code at the token endpoint")
		}
		if u, err := svc.User(t.Context(), "u-dana"); err != nil || u.UserPrincipalName != "dana@contoso.test" {
			t.Errorf("the user after signing in: %+v, %v", u, err)
		}
		for _, c := range jar.Cookies(mustURL(t, site+"/portal/")) {
			if strings.Count(c.Value, ".") == 2 {
				t.Error("a token is in a cookie; the browser should hold only the session id")
			}
		}

		// A callback for a sign-in started in another browser is refused.
		other, _ := cookiejar.New(nil)
		stolen := &http.Client{Jar: other, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := stolen.Get(site + "/portal/callback?state=not-mine&code=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = (&http.Client{Jar: other}).Get(site + "/portal/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), "Sign-in failed") || strings.Contains(string(body), "Dana Sign-in") {
			t.Errorf("a foreign callback:\n%s", body)
		}
	})

	t.Run("confidential client with the wrong secret", func(t *testing.T) {
		site, _ := portalSite(t, oidcFlags(p, "both", "--oidc-create-principals", "--oidc-client-id", "portal-secret", "--oidc-client-secret", "wrong")...)
		p.Register(oidctest.Client{ID: "portal-secret", Secret: "right", RedirectURI: site + "/portal/callback"})
		jar, _ := cookiejar.New(nil)
		_, page := startOIDCSignIn(t, site, jar)
		if !strings.Contains(page, "Sign-in failed") || strings.Contains(page, "Dana Sign-in") {
			t.Fatalf("with a wrong secret:\n%s", page)
		}
	})

	t.Run("confidential client", func(t *testing.T) {
		site, _ := portalSite(t, oidcFlags(p, "both", "--oidc-create-principals", "--oidc-client-id", "portal-conf", "--oidc-client-secret", "s3cret")...)
		p.Register(oidctest.Client{ID: "portal-conf", Secret: "s3cret", RedirectURI: site + "/portal/callback"})
		jar, _ := cookiejar.New(nil)
		if _, page := startOIDCSignIn(t, site, jar); !strings.Contains(page, "Dana Sign-in") {
			t.Fatalf("with the right secret:\n%s", page)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Without --dev and without --oidc-client-id the portal says how to sign in.
func TestPortalWithoutSignInSaysHow(t *testing.T) {
	site, _ := portalSite(t)
	resp, err := http.Get(site + "/portal/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(page), "Sign-in is not enabled") {
		t.Fatalf("%s", page)
	}
}
