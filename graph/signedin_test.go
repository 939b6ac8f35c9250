package graph

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accessd/accessd/access"
)

// A delegated token is refused once its user is no longer in the directory,
// and so is one minted for a user who never was; an application's token
// needs no service principal. The refusal is 401, and comes before the
// permission check (403).
func TestDelegatedTokensNeedTheirUser(t *testing.T) {
	a := newTestAPI(t)
	admin := a.appToken(t, "User.ReadWrite.All")
	kept := a.newUser(t, "kept@contoso.test")
	deleted := a.newUser(t, "deleted@contoso.test")
	keptTok := a.userToken(t, kept.ID, "EntitlementManagement.Read.All")
	deletedTok := a.userToken(t, deleted.ID, "EntitlementManagement.Read.All")
	a.noContent(t, "DELETE", "/v1.0/users/"+deleted.ID, admin, nil)

	mintUser := func(u access.User, scopes ...string) string {
		tok, err := a.Issuer.MintUser(u, scopes, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ghost := access.User{ID: "5d6f1e0a-0000-4000-8000-00000000dead", UserPrincipalName: "ghost@contoso.test"}
	app, err := a.Issuer.MintApp(access.ServicePrincipal{ID: "no-such-sp", AppID: "no-such-app"}, []string{"EntitlementManagement.Read.All"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		token  string
		status int
		names  string // in the refusal's message
	}{
		{"a user in the directory", keptTok, http.StatusOK, ""},
		{"a deleted user", deletedTok, http.StatusUnauthorized, `"deleted@contoso.test" (id "` + deleted.ID + `") is not in the directory`},
		{"a user never in the directory", mintUser(ghost, "EntitlementManagement.Read.All"), http.StatusUnauthorized, `"ghost@contoso.test" (id "` + ghost.ID + `") is not in the directory`},
		{"a user never in the directory, without the permission", mintUser(ghost), http.StatusUnauthorized, "is not in the directory"},
		{"an application without a service principal", app, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := a.do(t, "GET", emV1+"/catalogs", tt.token, nil)
			if tt.status == http.StatusOK {
				wantStatus(t, resp, http.StatusOK)
				return
			}
			if msg := wantError(t, resp, tt.status, "InvalidAuthenticationToken"); !strings.Contains(msg, tt.names) {
				t.Errorf("message %q does not say %q", msg, tt.names)
			}
		})
	}

	// A user created again under the same id is signed in again.
	if _, err := a.Svc.CreateUser(context.Background(), access.User{ID: deleted.ID, DisplayName: "back", UserPrincipalName: "back@contoso.test", AccountEnabled: true}); err != nil {
		t.Fatal(err)
	}
	resp, _ := a.do(t, "GET", emV1+"/catalogs", deletedTok, nil)
	wantStatus(t, resp, http.StatusOK)
}

// BenchmarkSignedInCall is one small protected call with a delegated token,
// which reads its user, and with an application token, which does not.
func BenchmarkSignedInCall(b *testing.B) {
	a := newTestAPI(b)
	u := a.newUser(b, "reader@contoso.test")
	for _, c := range []struct{ name, token string }{
		{"user", a.userToken(b, u.ID, "EntitlementManagement.Read.All")},
		{"app", a.appToken(b, "EntitlementManagement.Read.All")},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				resp, _ := a.do(b, "GET", emV1+"/catalogs", c.token, nil)
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d: %s", resp.StatusCode, bodyOf(resp))
				}
			}
		})
	}
}
