package identity

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/google/go-cmp/cmp"
)

func TestMintRoundTrip(t *testing.T) {
	f := newFixture(t)
	now := float64(testStart.Unix())
	sp := access.ServicePrincipal{ID: "sp-1", AppID: "app-1", DisplayName: "Automation"}
	user := access.User{ID: "user-1", DisplayName: "Alice Adams", UserPrincipalName: "alice@contoso.test"}

	tests := []struct {
		name        string
		mint        func() (string, error)
		wantPayload map[string]any
		wantCaller  access.Caller
	}{
		{
			name: "app",
			mint: func() (string, error) {
				return f.issuer.MintApp(sp, []string{"EntitlementManagement.ReadWrite.All", "User.Read.All"}, time.Hour)
			},
			wantPayload: map[string]any{
				"iss": testURL, "aud": GraphAudience,
				"iat": now, "nbf": now, "exp": now + 3600,
				"tid": testTenant, "oid": "sp-1", "sub": "sp-1",
				"appid": "app-1", "azp": "app-1", "idtyp": "app",
				"roles": []any{"EntitlementManagement.ReadWrite.All", "User.Read.All"},
			},
			wantCaller: access.Caller{
				ObjectID: "sp-1", IsApp: true, AppID: "app-1",
				Roles: []string{"EntitlementManagement.ReadWrite.All", "User.Read.All"},
			},
		},
		{
			name: "app without roles",
			mint: func() (string, error) { return f.issuer.MintApp(sp, nil, time.Minute) },
			wantPayload: map[string]any{
				"iss": testURL, "aud": GraphAudience,
				"iat": now, "nbf": now, "exp": now + 60,
				"tid": testTenant, "oid": "sp-1", "sub": "sp-1",
				"appid": "app-1", "azp": "app-1", "idtyp": "app",
				"roles": []any{},
			},
			wantCaller: access.Caller{ObjectID: "sp-1", IsApp: true, AppID: "app-1"},
		},
		{
			name: "user",
			mint: func() (string, error) {
				return f.issuer.MintUser(user, []string{"EntitlementManagement.Read.All", "EntitlementMgmt-SubjectAccess.ReadWrite"}, 2*time.Hour)
			},
			wantPayload: map[string]any{
				"iss": testURL, "aud": GraphAudience,
				"iat": now, "nbf": now, "exp": now + 7200,
				"tid": testTenant, "oid": "user-1", "sub": "user-1",
				"upn": "alice@contoso.test", "preferred_username": "alice@contoso.test",
				"name": "Alice Adams", "idtyp": "user",
				"scp": "EntitlementManagement.Read.All EntitlementMgmt-SubjectAccess.ReadWrite",
			},
			wantCaller: access.Caller{
				ObjectID: "user-1", DisplayName: "Alice Adams", UPN: "alice@contoso.test",
				Scopes: []string{"EntitlementManagement.Read.All", "EntitlementMgmt-SubjectAccess.ReadWrite"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.mint()
			if err != nil {
				t.Fatalf("mint: %v", err)
			}
			header, payload := decodeToken(t, raw)
			wantHeader := map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.keys.KeyID()}
			if diff := cmp.Diff(wantHeader, header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPayload, payload); diff != "" {
				t.Errorf("payload (-want +got):\n%s", diff)
			}
			caller, err := f.issuer.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.wantCaller, caller); diff != "" {
				t.Errorf("caller (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMintRefusesIncompleteInput(t *testing.T) {
	f := newFixture(t)
	sp := access.ServicePrincipal{ID: "sp-1", AppID: "app-1"}
	user := access.User{ID: "user-1", UserPrincipalName: "a@b.test"}
	tests := []struct {
		name string
		mint func() (string, error)
	}{
		{"app without id", func() (string, error) { return f.issuer.MintApp(access.ServicePrincipal{AppID: "x"}, nil, time.Hour) }},
		{"app without appId", func() (string, error) { return f.issuer.MintApp(access.ServicePrincipal{ID: "x"}, nil, time.Hour) }},
		{"app with zero lifetime", func() (string, error) { return f.issuer.MintApp(sp, nil, 0) }},
		{"user without id", func() (string, error) {
			return f.issuer.MintUser(access.User{UserPrincipalName: "a@b.test"}, nil, time.Hour)
		}},
		{"user with negative lifetime", func() (string, error) { return f.issuer.MintUser(user, nil, -time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := tt.mint()
			if access.KindOf(err) != access.KindInvalid {
				t.Fatalf("mint = %q, %v; want a KindInvalid error", raw, err)
			}
		})
	}
}

// A token signed with Sign carries exactly the given claims, as the engine's
// callout tokens need.
func TestSignKeepsClaimsAsGiven(t *testing.T) {
	f := newFixture(t)
	claims := map[string]any{
		"iss": testURL, "aud": "https://management.azure.com",
		"appid": "810dcf14-1858-4bf2-8134-4c369fa3235b", "m": "POST", "u": "management.azure.com", "p": "/subscriptions/s",
		"exp": float64(testStart.Add(5 * time.Minute).Unix()),
	}
	raw := f.sign(t, claims)
	header, payload := decodeToken(t, raw)
	if diff := cmp.Diff(map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.keys.KeyID()}, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(claims, payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	// Not for Graph, so not a key to the API.
	_, err := f.issuer.Verify(context.Background(), raw)
	wantRefusal(t, err, `token audience "https://management.azure.com" is not accepted`)
}

func TestDiscovery(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		url         string
		wantJWKSURI string
	}{
		{"https://accessd.test", "https://accessd.test/.well-known/jwks.json"},
		{"http://localhost:8080/", "http://localhost:8080/.well-known/jwks.json"},
		{"https://example.test/tenant-a", "https://example.test/tenant-a/.well-known/jwks.json"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			iss := NewIssuer(IssuerConfig{URL: tt.url, TenantID: testTenant, Keys: f.keys, Clock: f.clock})
			var got map[string]any
			if err := json.Unmarshal(iss.Discovery(), &got); err != nil {
				t.Fatalf("discovery is not JSON: %v", err)
			}
			want := map[string]any{
				"issuer":                                tt.url,
				"jwks_uri":                              tt.wantJWKSURI,
				"response_types_supported":              []any{"token"},
				"subject_types_supported":               []any{"public"},
				"id_token_signing_alg_values_supported": []any{"RS256"},
				"claims_supported": []any{
					"iss", "aud", "iat", "nbf", "exp", "tid", "oid", "sub",
					"appid", "azp", "idtyp", "roles", "upn", "preferred_username", "name", "scp",
				},
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("discovery (-want +got):\n%s", diff)
			}
		})
	}
}
