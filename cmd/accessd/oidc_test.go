package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/client"
	"github.com/accessd/accessd/graph"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/identity/oidctest"
	"github.com/accessd/accessd/sqlstore"
	"github.com/accessd/accessd/sqlstore/storetest"
	"github.com/golang-jwt/jwt/v5"
)

// oidcAPI is the real API on a real store (SQLite, or PostgreSQL with
// ACCESSD_TEST_STORE=postgres), over HTTP, with the token check serve
// builds from the given flags.
type oidcAPI struct {
	url    string
	svc    *access.Service
	issuer *identity.Issuer // the built-in one
}

// servedParts are what serve wires for the flags args, on a store of the
// test's backend: its config, service, clock, ids, tenant id, keys and a
// quiet logger.
func servedParts(t *testing.T, args ...string) (Config, *access.Service, access.SystemClock, *access.TimeOrderedIDs, string, *identity.KeySet, *slog.Logger) {
	t.Helper()
	ctx := t.Context()
	cfg, err := parseServeConfig(args, io.Discard, func(string) string { return "" })
	if err != nil {
		t.Fatalf("flags %v: %v", args, err)
	}
	quiet := slog.New(slog.DiscardHandler)
	store := storetest.OpenStore(t, storetest.Backend(), sqlstore.Options{Logger: quiet})
	clock := access.SystemClock{}
	ids := &access.TimeOrderedIDs{Clock: clock}
	svc := access.NewService(store, clock, ids)
	svc.RecordCallouts(cfg.RecordCallouts)
	tid, err := serveTenant(ctx, store, ids, cfg.TenantID, quiet)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := identity.LoadKeys(ctx, store, clock)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, svc, clock, ids, tid, keys, quiet
}

func newOIDCAPI(t *testing.T, args ...string) *oidcAPI {
	t.Helper()
	ctx := t.Context()
	cfg, svc, clock, ids, tid, keys, quiet := servedParts(t, args...)
	var api *graph.Server // set before the first request
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { api.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	issuer := identity.NewIssuer(identity.IssuerConfig{URL: ts.URL, TenantID: tid, Keys: keys, Clock: clock})
	verifier, err := newVerifier(ctx, cfg, issuer, svc, tid, quiet)
	if err != nil {
		t.Fatalf("newVerifier: %v", err)
	}
	api = graph.NewServer(graph.Config{
		Service: svc, Auth: verifier, PublicURL: ts.URL, Logger: quiet, Clock: clock, IDs: ids,
		OpenIDConfiguration: issuer.Discovery, JWKS: issuer.JWKS, JWKSPath: identity.JWKSPath,
	})
	return &oidcAPI{url: ts.URL, svc: svc, issuer: issuer}
}

// builtinToken mints one of accessd's own application tokens.
func (a *oidcAPI) builtinToken(t *testing.T, name string, roles ...string) string {
	t.Helper()
	sp, err := a.svc.EnsureServicePrincipal(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.issuer.MintApp(sp, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantRefused checks that GET catalogs with token is 401 in the Graph
// envelope, with code InvalidAuthenticationToken and a message containing
// want.
func wantRefused(t *testing.T, url, token, want string) {
	t.Helper()
	resp := raw(t, apiClient(t, url, token), "GET", emPath+"/catalogs", nil)
	var body struct {
		Error struct {
			Code, Message string
			InnerError    map[string]any
		}
	}
	if err := json.Unmarshal(resp.Body, &body); err != nil || resp.Status != http.StatusUnauthorized ||
		body.Error.Code != "InvalidAuthenticationToken" || body.Error.InnerError == nil {
		t.Errorf("GET catalogs: %d %s, want 401 InvalidAuthenticationToken in the Graph envelope", resp.Status, resp.Body)
	}
	if !strings.Contains(body.Error.Message, want) {
		t.Errorf("refusal %q does not say %q", body.Error.Message, want)
	}
}

// oidcFlags are the flags of an external issuer served by p.
func oidcFlags(p *oidctest.Provider, mode string, more ...string) []string {
	return append([]string{"--auth", mode, "--oidc-issuer", p.Issuer(), "--oidc-audience", oidctest.Audience, "--tenant-id", oidctest.Tenant}, more...)
}

// The external issuer's tokens work through the real API, beside accessd's
// own with --auth both; a caller seen first is added to the directory; every
// token that is not exactly right gets the Graph 401; a rotation of the
// issuer's keys is followed.
func TestOIDCThroughTheAPI(t *testing.T) {
	p := oidctest.New(t)
	a := newOIDCAPI(t, oidcFlags(p, "both", "--oidc-create-principals")...)
	ctx := t.Context()
	now := time.Now()

	admin := p.Sign(t, p.AppClaims(now, "sp-admin", "app-admin", "EntitlementManagement.ReadWrite.All", "Directory.ReadWrite.All"))
	api := apiClient(t, a.url, admin)
	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	must(t, err, "create a catalog with the external issuer's app token")
	if sp, err := a.svc.ServicePrincipal(ctx, "sp-admin"); err != nil || sp.AppID != "app-admin" {
		t.Errorf("the application after its first call: %+v, %v", sp, err)
	}

	// A user seen for the first time is in the directory after; as a
	// Catalog reader of the catalog, given by the application, they read it.
	reader := p.Sign(t, p.UserClaims(now, "u-alice", "alice@contoso.test", "Alice", "EntitlementManagement.Read.All"))
	wantStatus(t, a.url, reader, http.StatusOK, `"value":[]`)
	makeCatalogReader(t, api, "u-alice", catalog.ID)
	wantStatus(t, a.url, reader, http.StatusOK, catalog.ID)
	alice, err := api.GetUser(ctx, "u-alice")
	if err != nil || alice.UserPrincipalName != "alice@contoso.test" || alice.DisplayName != "Alice" {
		t.Errorf("the user after the first call: %+v, %v", alice, err)
	}
	// accessd's own tokens still work with --auth both.
	wantStatus(t, a.url, a.builtinToken(t, "builtin-reader", "EntitlementManagement.Read.All"), http.StatusOK, catalog.ID)

	pub := p.Signer().Signer.Public().(*rsa.PublicKey)
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := p.AppClaims(now, "sp-admin", "app-admin", "EntitlementManagement.ReadWrite.All")
		edit(c)
		return c
	}
	for _, tt := range []struct {
		name, token, want string
	}{
		{"another tenant", p.Sign(t, claims(func(c jwt.MapClaims) { c["tid"] = "00000000-0000-0000-0000-00000000000f" })), "token tenant"},
		{"another audience", p.Sign(t, claims(func(c jwt.MapClaims) { c["aud"] = "api://someone-else" })), `token audience "api://someone-else" is not accepted`},
		{"expired", p.Sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), "token is expired"},
		// With --auth both an unknown issuer goes to the built-in check.
		{"an unknown issuer", p.Sign(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://sts.example.com/" })), "is not known"},
		{"alg none", unsigned(t, "none", p.Signer().Kid, claims(func(jwt.MapClaims) {}), nil), "alg none is not accepted"},
		{"HS256 with the public key as the secret", unsigned(t, "HS256", p.Signer().Kid, claims(func(jwt.MapClaims) {}), publicPEM), `alg "HS256" is not accepted`},
	} {
		t.Run(tt.name, func(t *testing.T) { wantRefused(t, a.url, tt.token, tt.want) })
	}

	// The provider rotates its keys: the first token of the new key makes
	// the JWKS be fetched once more, and the old key's tokens are refused.
	hits := p.JWKSHits()
	p.Rotate(t)
	rotated := p.Sign(t, p.AppClaims(now, "sp-admin", "app-admin", "EntitlementManagement.ReadWrite.All"))
	wantStatus(t, a.url, rotated, http.StatusOK, catalog.ID)
	wantRefused(t, a.url, admin, "which the issuer's JWKS does not list")
	if got := p.JWKSHits() - hits; got != 1 {
		t.Errorf("the JWKS was fetched %d times for the rotation, want 1", got)
	}
}

// unsigned builds a token that jwt refuses to sign: alg none (no
// signature), or HS256 keyed with secret.
func unsigned(t *testing.T, alg, kid string, claims jwt.MapClaims, secret []byte) string {
	t.Helper()
	seg := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := seg(map[string]any{"alg": alg, "typ": "JWT", "kid": kid}) + "." + seg(claims)
	var sig []byte
	if secret != nil {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// With --auth oidc accessd's own tokens are refused, while its discovery
// document and JWKS, which extensions need for callout tokens, are still
// served. Without --oidc-create-principals a caller the directory does not
// know is refused until it is added.
func TestOIDCOnly(t *testing.T) {
	p := oidctest.New(t)
	a := newOIDCAPI(t, oidcFlags(p, "oidc")...)
	now := time.Now()

	wantRefused(t, a.url, a.builtinToken(t, "builtin-reader", "EntitlementManagement.Read.All"),
		`token issuer "`+a.url+`" is not accepted: expected "`+p.Issuer()+`"`)
	for path, want := range map[string]string{identity.DiscoveryPath: `"issuer":"` + a.url + `"`, identity.JWKSPath: `"kty":"RSA"`} {
		if resp := raw(t, apiClient(t, a.url, ""), "GET", path, nil); resp.Status != http.StatusOK || !bytes.Contains(resp.Body, []byte(want)) {
			t.Errorf("GET %s: %d %s, want 200 with %s", path, resp.Status, resp.Body, want)
		}
	}

	app := p.Sign(t, p.AppClaims(now, "sp-reader", "app-reader", "EntitlementManagement.Read.All"))
	wantRefused(t, a.url, app, `the token's application "app-reader" (service principal id "sp-reader") is not in the directory`)
	user := p.Sign(t, p.UserClaims(now, "u-bob", "bob@contoso.test", "Bob", "EntitlementManagement.Read.All"))
	wantRefused(t, a.url, user, `the token's user "bob@contoso.test" (id "u-bob") is not in the directory`)
	if _, err := a.svc.User(t.Context(), "u-bob"); !access.IsNotFound(err) {
		t.Errorf("a refused caller was added: %v", err)
	}

	if _, err := a.svc.CreateServicePrincipal(t.Context(), access.ServicePrincipal{ID: "sp-reader", AppID: "app-reader", DisplayName: "Reader"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.svc.CreateUser(t.Context(), access.User{ID: "u-bob", DisplayName: "Bob", UserPrincipalName: "bob@contoso.test", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.url, app, http.StatusOK, "")
	wantStatus(t, a.url, user, http.StatusOK, "")
}

// An external issuer that cannot be reached stops serve before it listens,
// naming the issuer.
func TestServeRefusesAnUnreachableIssuer(t *testing.T) {
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	var out, errOut bytes.Buffer
	args := []string{"serve", "--addr", "127.0.0.1:0", "--database", filepath.Join(t.TempDir(), "a.db"),
		"--auth", "oidc", "--oidc-issuer", gone.URL, "--oidc-audience", "api://accessd", "--tenant-id", entraTenant}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if code := run(ctx, args, &out, &errOut, func(string) string { return "" }); code != 1 {
		t.Fatalf("exit code %d, want 1; stderr %q", code, errOut.String())
	}
	if want := "--oidc-issuer: external issuer " + gone.URL + ": fetch the discovery document"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q: it must stop before listening", out.String())
	}
}

// The real binary on a real port, with an external issuer: --auth both
// takes both issuers' tokens and adds callers seen first; after a restart
// with --auth oidc, accessd's own tokens are refused and the external
// issuer's still work.
func TestOIDCEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	p := oidctest.New(t)
	srv := startServer(t, bin, append([]string{"--database", db}, oidcFlags(p, "both", "--oidc-create-principals")...)...)
	ctx := t.Context()
	now := time.Now()

	admin := p.Sign(t, p.AppClaims(now, "sp-admin", "app-admin", "EntitlementManagement.ReadWrite.All", "Directory.ReadWrite.All"))
	api := apiClient(t, srv.url, admin)
	catalog, err := api.CreateCatalog(ctx, access.Catalog{DisplayName: "Sales"})
	must(t, err, "create a catalog with the external issuer's token")
	reader := p.Sign(t, p.UserClaims(now, "u-alice", "alice@contoso.test", "Alice", "EntitlementManagement.Read.All"))
	wantStatus(t, srv.url, reader, http.StatusOK, `"value":[]`) // seen first, without a role yet
	makeCatalogReader(t, api, "u-alice", catalog.ID)
	wantStatus(t, srv.url, reader, http.StatusOK, catalog.ID)
	if u, err := api.GetUser(ctx, "u-alice"); err != nil || u.UserPrincipalName != "alice@contoso.test" {
		t.Errorf("the user seen first: %+v, %v", u, err)
	}
	builtin := mintToken(t, bin, db, "--app", "e2e", "--roles", "EntitlementManagement.Read.All")
	wantStatus(t, srv.url, builtin, http.StatusOK, catalog.ID)
	if _, payload, ok := strings.Cut(builtin, "."); ok {
		seg, _, _ := strings.Cut(payload, ".")
		b, _ := base64.RawURLEncoding.DecodeString(seg)
		var c struct{ Tid string }
		if json.Unmarshal(b, &c); c.Tid != oidctest.Tenant {
			t.Errorf("accessd's own token has tid %q, want the configured tenant %q", c.Tid, oidctest.Tenant)
		}
	}
	srv.stop(t)

	srv = startServer(t, bin, append([]string{"--database", db}, oidcFlags(p, "oidc")...)...)
	wantRefused(t, srv.url, builtin, "is not accepted")
	wantStatus(t, srv.url, reader, http.StatusOK, catalog.ID)
	if resp := raw(t, apiClient(t, srv.url, ""), "GET", identity.JWKSPath, nil); resp.Status != http.StatusOK || !bytes.Contains(resp.Body, []byte(`"kty":"RSA"`)) {
		t.Errorf("accessd's JWKS with --auth oidc: %d %s", resp.Status, resp.Body)
	}
	srv.stop(t)
}

// makeCatalogReader gives a principal the Catalog reader role on a catalog
// through the API, as the application api calls with.
func makeCatalogReader(t *testing.T, api *client.Client, principalID, catalogID string) {
	t.Helper()
	resp := raw(t, api, "POST", "/v1.0/roleManagement/entitlementManagement/roleAssignments", map[string]any{
		"principalId": principalID, "roleDefinitionId": access.RoleCatalogReader, "appScopeId": access.CatalogRoleScope(catalogID)})
	if resp.Status != http.StatusCreated {
		t.Fatalf("give %s the Catalog reader role: %d %s", principalID, resp.Status, resp.Body)
	}
}
