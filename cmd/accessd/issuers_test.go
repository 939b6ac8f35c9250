package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/accessd/accessd/sqlstore/storetest"
)

// issuerOf reads the iss claim of a token.
func issuerOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWT", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Iss
}

// wantStatus calls GET catalogs on the server at url with token and checks
// the status, and for a refusal that the message contains wantMessage.
func wantStatus(t *testing.T, url, token string, want int, wantMessage string) {
	t.Helper()
	resp := raw(t, apiClient(t, url, token), "GET", emPath+"/catalogs", nil)
	if resp.Status != want {
		t.Errorf("GET catalogs at %s with a token of issuer %s: %d %s, want %d", url, issuerOf(t, token), resp.Status, resp.Body, want)
	}
	if !strings.Contains(string(resp.Body), wantMessage) {
		t.Errorf("GET catalogs at %s: answer %s does not say %q", url, resp.Body, wantMessage)
	}
}

// A server restarted on another port accepts the tokens minted before, and
// mints and publishes for its new URL; a URL it was never served at is
// refused.
func TestTokensSurviveARestartOnAnotherPort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	bin := buildBinary(t)
	db := storetest.DSN(t, storetest.Backend())
	permissions := []string{"--app", "restart", "--roles", "EntitlementManagement.Read.All"}

	first := startServer(t, bin, "--database", db)
	before := mintToken(t, bin, db, permissions...)
	if got := issuerOf(t, before); got != first.url {
		t.Fatalf("a token minted while %s serves names issuer %s", first.url, got)
	}
	first.stop(t)

	second := startServer(t, bin, "--database", db)
	if second.url == first.url {
		t.Fatalf("both servers listen on %s; the test needs two URLs", second.url)
	}
	after := mintToken(t, bin, db, permissions...)
	if got := issuerOf(t, after); got != second.url {
		t.Errorf("a token minted after the restart names issuer %s, want the current URL %s", got, second.url)
	}
	never := mintToken(t, bin, db, append([]string{"--public-url", "http://never.test"}, permissions...)...)

	wantStatus(t, second.url, before, http.StatusOK, "")
	wantStatus(t, second.url, after, http.StatusOK, "")
	wantStatus(t, second.url, never, http.StatusUnauthorized, `token issuer \"http://never.test\" is not accepted`)

	resp := raw(t, apiClient(t, second.url, ""), "GET", "/.well-known/openid-configuration", nil)
	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(resp.Body, &discovery); err != nil {
		t.Fatalf("discovery %d %s: %v", resp.Status, resp.Body, err)
	}
	if discovery.Issuer != second.url || discovery.JWKSURI != second.url+"/.well-known/jwks.json" {
		t.Errorf("discovery names issuer %s and JWKS %s, want the current URL %s", discovery.Issuer, discovery.JWKSURI, second.url)
	}
}

// Replicas on one PostgreSQL database, each with a public URL of its own,
// accept each other's tokens, also those of a replica that started later.
func TestReplicasAcceptEachOthersIssuers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real processes")
	}
	dsn := storetest.DSN(t, storetest.Postgres) // skips without PostgreSQL, fails under CI=true
	bin := buildBinary(t)
	first := startServer(t, bin, "--database", dsn, "--public-url", "http://first.test")
	second := startServer(t, bin, "--database", dsn, "--public-url", "http://second.test")
	permissions := []string{"--app", "replicas", "--roles", "EntitlementManagement.Read.All"}

	ofSecond := mintToken(t, bin, dsn, permissions...)
	if got := issuerOf(t, ofSecond); got != "http://second.test" {
		t.Fatalf("a token minted without --public-url names issuer %s, want the URL of the replica started last", got)
	}
	ofFirst := mintToken(t, bin, dsn, append([]string{"--public-url", "http://first.test"}, permissions...)...)
	never := mintToken(t, bin, dsn, append([]string{"--public-url", "http://never.test"}, permissions...)...)

	for _, replica := range []*server{first, second} {
		wantStatus(t, replica.url, ofFirst, http.StatusOK, "")
		wantStatus(t, replica.url, ofSecond, http.StatusOK, "") // the first replica read the list before the second started
		wantStatus(t, replica.url, never, http.StatusUnauthorized, `token issuer \"http://never.test\" is not accepted`)
	}
}
