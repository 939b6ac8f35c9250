package oidctest

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The provider's sign-in: an authorization endpoint that signs in at once,
// without a login page, whoever SignInAs named, and a token endpoint that
// trades the code for an ID token and an access token, checking the PKCE
// verifier, the redirect URI and, for a confidential client, its secret.

// Client is an application registered at the provider for sign-in.
type Client struct {
	ID          string
	Secret      string // empty: a public client
	RedirectURI string
}

// SignedIn is who the authorization endpoint signs in.
type SignedIn struct {
	OID, UPN, Name string
	Scopes         []string // the access token's scp
}

type grant struct {
	client, redirect, challenge, nonce string
	who                                SignedIn
	issued                             time.Time
}

type signIn struct {
	mu      sync.Mutex
	clients map[string]Client
	who     *SignedIn
	codes   map[string]grant
	tokens  int
}

// Register registers a client for sign-in.
func (p *Provider) Register(c Client) {
	p.signIn.mu.Lock()
	defer p.signIn.mu.Unlock()
	p.signIn.clients[c.ID] = c
}

// SignInAs makes the authorization endpoint sign in who.
func (p *Provider) SignInAs(who SignedIn) {
	p.signIn.mu.Lock()
	defer p.signIn.mu.Unlock()
	p.signIn.who = &who
}

// TokensIssued is how many codes the token endpoint has traded.
func (p *Provider) TokensIssued() int {
	p.signIn.mu.Lock()
	defer p.signIn.mu.Unlock()
	return p.signIn.tokens
}

func (p *Provider) serveSignIn(t testing.TB, mux *http.ServeMux) {
	p.signIn = &signIn{clients: map[string]Client{}, codes: map[string]grant{}}
	mux.HandleFunc("GET /"+Tenant+"/oauth2/v2.0/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		s := p.signIn
		s.mu.Lock()
		c, known := s.clients[q.Get("client_id")]
		who := s.who
		s.mu.Unlock()
		switch {
		case !known || q.Get("redirect_uri") != c.RedirectURI:
			http.Error(w, "unknown client or redirect_uri", http.StatusBadRequest)
			return
		case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
			http.Error(w, "the code flow with PKCE S256 is required", http.StatusBadRequest)
			return
		}
		back := url.Values{"state": {q.Get("state")}}
		if who == nil {
			back.Set("error", "access_denied")
			back.Set("error_description", "nobody signs in")
		} else {
			code := b64(randomBytes(t))
			s.mu.Lock()
			s.codes[code] = grant{client: c.ID, redirect: c.RedirectURI, challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), who: *who, issued: time.Now()}
			s.mu.Unlock()
			back.Set("code", code)
		}
		http.Redirect(w, r, c.RedirectURI+"?"+back.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /"+Tenant+"/oauth2/v2.0/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
			tokenError(w, "unsupported_grant_type")
			return
		}
		s := p.signIn
		s.mu.Lock()
		g, ok := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code")) // a code is good once
		c := s.clients[g.client]
		s.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		id, secret, basic := r.BasicAuth()
		if basic {
			id, _ = url.QueryUnescape(id)
			secret, _ = url.QueryUnescape(secret)
		} else {
			id = r.PostForm.Get("client_id")
		}
		switch {
		case !ok || time.Since(g.issued) > 5*time.Minute || id != g.client || r.PostForm.Get("redirect_uri") != g.redirect:
			tokenError(w, "invalid_grant")
			return
		case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			tokenError(w, "invalid_grant") // the PKCE verifier does not match
			return
		case c.Secret != "" && secret != c.Secret:
			tokenError(w, "invalid_client")
			return
		}
		now := time.Now()
		access := p.UserClaims(now, g.who.OID, g.who.UPN, g.who.Name, g.who.Scopes...)
		idClaims := jwt.MapClaims{"iss": p.issuer, "aud": g.client, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"sub": g.who.OID, "oid": g.who.OID, "tid": Tenant, "nonce": g.nonce, "name": g.who.Name, "preferred_username": g.who.UPN}
		s.mu.Lock()
		s.tokens++
		s.mu.Unlock()
		writeJSON(w, map[string]any{"token_type": "Bearer", "expires_in": 3600,
			"access_token": p.Sign(t, access), "id_token": p.Sign(t, idClaims)})
	})
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"error":"` + code + `"}`))
}
