package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/accessd/accessd/identity"
	"github.com/accessd/accessd/portal"
)

// portalScopes are the delegated permissions of the tokens the portal acts
// with: the self-service permission, to request and cancel one's own
// access, and the entitlement-management one, without which Graph lets a
// delegated caller use none of its roles (approver, catalog owner and so
// on). What the user may then do is the API's to decide: the scopes open
// the door as far as a user's own token from Entra for My Access would.
var portalScopes = []string{access.SubjectAccess, "EntitlementManagement.ReadWrite.All"}

// tokenVerifier checks the external issuer's access tokens.
type tokenVerifier interface {
	Verify(ctx context.Context, raw string) (access.Caller, error)
}

// portalTokenTTL is how long a --dev sign-in lasts: a working day.
const portalTokenTTL = 8 * time.Hour

// newPortal builds the portal over the API handler. The user picker is
// offered in --dev only; sign-in with the external issuer when
// --oidc-client-id is set.
func newPortal(cfg Config, api http.Handler, publicURL string, svc *access.Service, issuer *identity.Issuer,
	external tokenVerifier, log *slog.Logger) (*portal.Server, error) {
	pc := portal.Config{API: api, PublicURL: publicURL, Logger: log}
	if cfg.Dev {
		pc.Dev = &portal.DevSignIn{
			Users: func(ctx context.Context) ([]portal.Person, error) { return directoryPeople(ctx, svc) },
			Mint: func(ctx context.Context, userID string) (string, time.Time, error) {
				u, err := svc.User(ctx, userID)
				if err != nil {
					return "", time.Time{}, err
				}
				token, err := issuer.MintUser(u, portalScopes, portalTokenTTL)
				return token, time.Now().Add(portalTokenTTL), err
			},
		}
	}
	if cfg.OIDCClientID != "" && external != nil {
		pc.OIDC = &portal.OIDCConfig{
			Issuer: cfg.OIDCIssuer, ClientID: cfg.OIDCClientID, ClientSecret: cfg.OIDCClientSecret,
			Scopes: oidcScopes(cfg.OIDCAudience),
			Identify: func(ctx context.Context, accessToken string) (portal.Person, error) {
				c, err := external.Verify(ctx, accessToken)
				if err != nil {
					return portal.Person{}, err
				}
				return portal.Person{ID: c.ObjectID, Name: c.DisplayName, UPN: c.UPN}, nil
			},
			HTTPClient: identity.NewFetchClient(),
		}
	}
	return portal.New(pc)
}

// oidcScopes are what the portal asks the external issuer for: an ID
// token, and an access token for accessd (the audience's .default scope,
// as Entra names "every permission the app was granted on that API").
func oidcScopes(audience string) []string {
	return []string{"openid", "profile", strings.TrimSuffix(audience, "/") + "/.default"}
}

// directoryPeople are the directory's users, for the --dev picker: the
// first thousand, which is more than a development directory holds.
func directoryPeople(ctx context.Context, svc *access.Service) ([]portal.Person, error) {
	var out []portal.Person
	after := ""
	for len(out) < 1000 {
		users, more, err := svc.Users(ctx, access.Page{After: after, Limit: 200})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			out = append(out, portal.Person{ID: u.ID, Name: u.DisplayName, UPN: u.UserPrincipalName})
			after = u.ID
		}
		if !more || len(users) == 0 {
			break
		}
	}
	return out, nil
}

// withPortal serves /portal and below from the portal, the rest from the API.
func withPortal(api, p http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/portal" || strings.HasPrefix(r.URL.Path, "/portal/") {
			p.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
