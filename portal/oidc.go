package portal

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sign-in with an external OpenID provider: the authorization-code flow
// with PKCE (RFC 7636, S256). The provider's access token for accessd is
// what the session acts with, so the API checks it exactly as it checks
// any caller's token of that issuer; the ID token only confirms that the
// sign-in answered this browser's request (nonce) for this client (aud).

// OIDCConfig is sign-in with an external OpenID provider.
type OIDCConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty: a public client, PKCE alone
	Scopes       []string
	// Identify verifies an access token the provider issued, as the API
	// does, and says whose it is.
	Identify   func(ctx context.Context, accessToken string) (Person, error)
	HTTPClient *http.Client
}

// flowTTL bounds how long a person may take at the provider.
const flowTTL = 10 * time.Minute

type oidcFlow struct {
	cfg      OIDCConfig
	redirect string
	now      func() time.Time

	mu        sync.Mutex
	endpoints *oidcEndpoints
	pending   map[string]pendingSignIn // by state
}

type oidcEndpoints struct {
	Issuer        string `json:"issuer"`
	Authorization string `json:"authorization_endpoint"`
	Token         string `json:"token_endpoint"`
}

// pendingSignIn is one sign-in started in a browser and not yet back.
type pendingSignIn struct {
	session  string
	verifier string
	nonce    string
	expires  time.Time
}

func newOIDCFlow(cfg OIDCConfig, redirect string, now func() time.Time) (*oidcFlow, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.Identify == nil {
		return nil, errors.New("portal: OIDC sign-in needs an issuer, a client id and a way to identify tokens")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"openid", "profile"}
	}
	return &oidcFlow{cfg: cfg, redirect: redirect, now: now, pending: map[string]pendingSignIn{}}, nil
}

// origin is where the sign-in form's redirect goes, for the pages'
// Content-Security-Policy (form-action covers redirects too).
func (f *oidcFlow) origin() string {
	u, err := url.Parse(f.cfg.Issuer)
	if err != nil {
		return ""
	}
	origin := u.Scheme + "://" + u.Host
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.endpoints != nil {
		if a, err := url.Parse(f.endpoints.Authorization); err == nil && a.Scheme+"://"+a.Host != origin {
			origin += " " + a.Scheme + "://" + a.Host
		}
	}
	return origin
}

// discover reads the provider's endpoints once.
func (f *oidcFlow) discover(ctx context.Context) (oidcEndpoints, error) {
	f.mu.Lock()
	if f.endpoints != nil {
		e := *f.endpoints
		f.mu.Unlock()
		return e, nil
	}
	f.mu.Unlock()
	var e oidcEndpoints
	if err := f.getJSON(ctx, strings.TrimSuffix(f.cfg.Issuer, "/")+"/.well-known/openid-configuration", &e); err != nil {
		return e, err
	}
	if e.Issuer != f.cfg.Issuer || e.Authorization == "" || e.Token == "" {
		return e, fmt.Errorf("the discovery document of %s names issuer %q and no authorization or token endpoint", f.cfg.Issuer, e.Issuer)
	}
	f.mu.Lock()
	f.endpoints = &e
	f.mu.Unlock()
	return e, nil
}

func (f *oidcFlow) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := f.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// begin records a sign-in for the session and returns the URL to send the
// browser to.
func (f *oidcFlow) begin(ctx context.Context, sessionID string) (string, error) {
	e, err := f.discover(ctx)
	if err != nil {
		return "", err
	}
	state, verifier, nonce := randomToken(), randomToken()+randomToken(), randomToken()
	sum := sha256.Sum256([]byte(verifier))
	f.mu.Lock()
	now := f.now()
	for k, p := range f.pending {
		if now.After(p.expires) {
			delete(f.pending, k)
		}
	}
	if len(f.pending) >= maxSessions {
		f.mu.Unlock()
		return "", errors.New("too many sign-ins in progress; try again in a few minutes")
	}
	f.pending[state] = pendingSignIn{session: sessionID, verifier: verifier, nonce: nonce, expires: now.Add(flowTTL)}
	f.mu.Unlock()
	q := url.Values{
		"response_type": {"code"}, "client_id": {f.cfg.ClientID}, "redirect_uri": {f.redirect},
		"scope": {strings.Join(f.cfg.Scopes, " ")}, "state": {state}, "nonce": {nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	sep := "?"
	if strings.Contains(e.Authorization, "?") {
		sep = "&"
	}
	return e.Authorization + sep + q.Encode(), nil
}

// take removes and returns the pending sign-in of state, if it is the
// session's and still fresh.
func (f *oidcFlow) take(state, sessionID string) (pendingSignIn, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pending[state]
	if !ok {
		return p, false
	}
	delete(f.pending, state)
	return p, p.session == sessionID && f.now().Before(p.expires)
}

type tokenAnswer struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// finish trades the code for tokens and says who signed in.
func (f *oidcFlow) finish(ctx context.Context, code string, p pendingSignIn) (Person, string, time.Time, error) {
	e, err := f.discover(ctx)
	if err != nil {
		return Person{}, "", time.Time{}, err
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {f.redirect},
		"client_id": {f.cfg.ClientID}, "code_verifier": {p.verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.Token, strings.NewReader(form.Encode()))
	if err != nil {
		return Person{}, "", time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if f.cfg.ClientSecret != "" {
		req.SetBasicAuth(url.QueryEscape(f.cfg.ClientID), url.QueryEscape(f.cfg.ClientSecret))
	}
	resp, err := f.cfg.HTTPClient.Do(req)
	if err != nil {
		return Person{}, "", time.Time{}, err
	}
	defer resp.Body.Close()
	var t tokenAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&t); err != nil {
		return Person{}, "", time.Time{}, fmt.Errorf("the token endpoint answered %s without JSON", resp.Status)
	}
	if resp.StatusCode != http.StatusOK || t.AccessToken == "" || t.IDToken == "" {
		return Person{}, "", time.Time{}, fmt.Errorf("the token endpoint refused: %s %s %s", resp.Status, t.Error, t.Description)
	}
	// The ID token came straight from the token endpoint over the channel
	// this client opened, which OpenID Connect Core (3.1.3.7) accepts in
	// place of checking its signature; its claims must still match.
	claims, err := unverifiedClaims(t.IDToken)
	if err != nil {
		return Person{}, "", time.Time{}, err
	}
	if err := f.checkIDToken(claims, p.nonce); err != nil {
		return Person{}, "", time.Time{}, err
	}
	person, err := f.cfg.Identify(ctx, t.AccessToken)
	if err != nil {
		return Person{}, "", time.Time{}, fmt.Errorf("accessd does not accept the access token the provider issued: %w", err)
	}
	if oid, _ := claims["oid"].(string); oid != "" && oid != person.ID {
		return Person{}, "", time.Time{}, errors.New("the ID token and the access token name different users")
	}
	expires := f.now().Add(time.Hour)
	if t.ExpiresIn > 0 {
		expires = f.now().Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	return person, t.AccessToken, expires, nil
}

func (f *oidcFlow) checkIDToken(c map[string]any, nonce string) error {
	if iss, _ := c["iss"].(string); iss != f.cfg.Issuer {
		return fmt.Errorf("the ID token's issuer is %q, not %q", iss, f.cfg.Issuer)
	}
	var auds []string
	switch a := c["aud"].(type) {
	case string:
		auds = []string{a}
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok {
				auds = append(auds, s)
			}
		}
	}
	if !slices.Contains(auds, f.cfg.ClientID) {
		return errors.New("the ID token is not for this client")
	}
	if n, _ := c["nonce"].(string); n != nonce {
		return errors.New("the ID token answers another sign-in (nonce)")
	}
	exp, _ := c["exp"].(float64)
	if f.now().After(time.Unix(int64(exp), 0).Add(2 * time.Minute)) {
		return errors.New("the ID token has expired")
	}
	return nil
}

// unverifiedClaims decodes a JWT's payload.
func unverifiedClaims(jwt string) (map[string]any, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("the ID token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("the ID token's payload is not base64url")
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errors.New("the ID token's payload is not JSON")
	}
	return c, nil
}

// oidcStart sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	sess := s.current(w, r)
	if !s.checkForm(w, r, sess) {
		return
	}
	if s.oidc == nil {
		http.Error(w, "Sign-in with an identity provider is not configured: see docs/portal.md.", http.StatusNotFound)
		return
	}
	to, err := s.oidc.begin(r.Context(), sess.id)
	if err != nil {
		s.cfg.Logger.Error("portal: start OIDC sign-in", "error", err.Error())
		s.sessions.setFlash(sess, "The identity provider cannot be reached: "+err.Error())
		http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// oidcCallback is where the provider sends the browser back.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	sess := s.current(w, r)
	if s.oidc == nil {
		http.Error(w, "Sign-in with an identity provider is not configured: see docs/portal.md.", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	fail := func(msg string) {
		s.sessions.setFlash(sess, "Sign-in failed: "+msg)
		http.Redirect(w, r, "/portal/signin", http.StatusSeeOther)
	}
	p, ok := s.oidc.take(q.Get("state"), sess.id)
	if !ok {
		fail("this sign-in was not started in this browser, or took longer than 10 minutes. Try again.")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(e + " " + q.Get("error_description"))
		return
	}
	person, token, expires, err := s.oidc.finish(r.Context(), q.Get("code"), p)
	if err != nil {
		s.cfg.Logger.Warn("portal: OIDC sign-in refused", "error", err.Error())
		fail(err.Error())
		return
	}
	fresh := s.sessions.signIn(sess, person, token, expires)
	setCookie(w, fresh, s.secure)
	s.cfg.Logger.Info("portal: signed in", "user", person.ID, "how", "oidc")
	http.Redirect(w, r, "/portal/", http.StatusSeeOther)
}
