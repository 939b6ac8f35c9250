package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// ExternalAlgorithms are the signing algorithms accepted from an external
// issuer: asymmetric ones only. A symmetric algorithm (HS256) would let
// anyone who has the published key, which is everyone, sign tokens, and
// "none" signs nothing.
var ExternalAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// fetchTimeout bounds one fetch of the discovery document or the JWKS,
// and maxDocumentBytes what is read of either: both are a few kilobytes.
const (
	fetchTimeout     = 10 * time.Second
	maxDocumentBytes = 1 << 20
)

// jwksRefreshEvery is how often the JWKS is fetched again regardless of
// unknown key ids, so that a key the issuer has withdrawn stops verifying
// within that time even if no token names a new one.
const jwksRefreshEvery = time.Hour

// Directory is the part of the service the external issuer needs: callers
// are looked up by object id and, when allowed, created. *access.Service
// implements it.
type Directory interface {
	User(ctx context.Context, idOrUPN string) (access.User, error)
	CreateUser(ctx context.Context, u access.User) (access.User, error)
	ServicePrincipal(ctx context.Context, id string) (access.ServicePrincipal, error)
	CreateServicePrincipal(ctx context.Context, sp access.ServicePrincipal) (access.ServicePrincipal, error)
}

// OIDCConfig says which external issuer's tokens to accept.
type OIDCConfig struct {
	Issuer   string // the iss of its tokens; the discovery document is under it
	Audience string // the aud its tokens must name: accessd's application
	TenantID string // the tid its tokens must carry
	// Directory is where callers are looked up; CreatePrincipals lets a
	// caller the directory does not know be added on its first call.
	Directory        Directory
	CreatePrincipals bool
	Clock            access.Clock // for exp and nbf, and the refetch limit; nil means the system clock
	Client           *http.Client // for the discovery document and the JWKS; nil means NewFetchClient()
	Logger           *slog.Logger // nil discards
}

// OIDC verifies the tokens of an external OpenID Connect issuer (Entra ID,
// Keycloak, …) by the keys its JWKS publishes. It is safe for concurrent use.
type OIDC struct {
	issuer, audience, tenantID string
	dir                        Directory
	create                     bool
	clock                      access.Clock
	log                        *slog.Logger
	parser                     *jwt.Parser

	// jwks holds the keys as last fetched; keys reads them and, through
	// jwks's unknown-kid path, fetches them again.
	jwks jwkset.Storage
	keys keyfunc.Keyfunc

	refreshMu   sync.Mutex // one refetch at a time; others wait and find the key
	lastRefresh time.Time  // of the last refetch for an unknown kid; guarded by refreshMu
}

// NewOIDC fetches the issuer's discovery document and JWKS; an issuer that
// cannot be reached, or whose documents are wrong, is an error. ctx bounds
// the life of the verifier: the JWKS is fetched again every hour until it
// ends.
func NewOIDC(ctx context.Context, cfg OIDCConfig) (*OIDC, error) {
	if cfg.Directory == nil {
		panic("identity: NewOIDC needs a Directory")
	}
	if err := CheckIssuerURL(cfg.Issuer); err != nil {
		return nil, err
	}
	if cfg.Audience == "" || cfg.TenantID == "" {
		return nil, errors.New("an external issuer needs an audience and a tenant id")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = access.SystemClock{}
	}
	client := cfg.Client
	if client == nil {
		client = NewFetchClient()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	jwksURL, err := discoverJWKS(ctx, client, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	inner, err := jwkset.NewStorageFromHTTP(jwksURL, jwkset.HTTPClientStorageOptions{
		Client:          client,
		Ctx:             ctx,
		HTTPTimeout:     fetchTimeout,
		RefreshInterval: jwksRefreshEvery,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("fetching the external issuer's JWKS failed; the keys fetched before stay", "jwks_uri", jwksURL, "error", err.Error())
		},
	})
	if err != nil {
		return nil, fmt.Errorf("external issuer %s: JWKS %s: %w", cfg.Issuer, jwksURL, err)
	}
	// The library refetches on an unknown kid; keyFor decides whether it may
	// (by the injected clock, and without making anyone wait), so its own
	// limiter lets every such call through.
	storage, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{jwksURL: inner},
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
		RateLimitWaitMax:  fetchTimeout, // also bounds the refetch itself
	})
	if err != nil {
		return nil, fmt.Errorf("external issuer %s: %w", cfg.Issuer, err)
	}
	keys, err := keyfunc.New(keyfunc.Options{
		Ctx:     ctx,
		Storage: storage,
		// Keys for encryption never verify a signature; keys that do not
		// say what they are for are common and count as signing keys.
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("external issuer %s: %w", cfg.Issuer, err)
	}
	return &OIDC{
		issuer: cfg.Issuer, audience: cfg.Audience, tenantID: cfg.TenantID,
		dir: cfg.Directory, create: cfg.CreatePrincipals, clock: clock, log: log,
		parser: jwt.NewParser(
			jwt.WithValidMethods(ExternalAlgorithms),
			jwt.WithAudience(cfg.Audience),
			jwt.WithIssuer(cfg.Issuer),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(clock.Now),
		),
		jwks: inner,
		keys: keys,
	}, nil
}

// Issuer is the issuer URL whose tokens o verifies.
func (o *OIDC) Issuer() string { return o.issuer }

// NewFetchClient is the HTTP client that fetches an external issuer's
// documents: it gives up after fetchTimeout, reads at most
// maxDocumentBytes, and follows redirects only to URLs CheckIssuerURL
// accepts. It honours HTTPS_PROXY and the like, as issuers on the internet
// are often reached through a proxy.
func NewFetchClient() *http.Client {
	return &http.Client{
		Timeout:   fetchTimeout,
		Transport: cappedTransport{base: http.DefaultTransport},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return CheckIssuerURL(req.URL.String())
		},
	}
}

// cappedTransport stops reading an answer after maxDocumentBytes.
type cappedTransport struct{ base http.RoundTripper }

func (c cappedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = http.MaxBytesReader(nil, resp.Body, maxDocumentBytes)
	return resp, nil
}

// CheckIssuerURL accepts an https URL, or an http one on a loopback
// address (a test or development issuer on the same machine): keys fetched
// over plain http from elsewhere could be anyone's.
func CheckIssuerURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an https URL without a query, such as https://login.microsoftonline.com/TENANT/v2.0", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must be https: plain http is accepted only on a loopback address (localhost, 127.0.0.1, ::1)", raw)
	}
	return fmt.Errorf("%q is not an https URL", raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discoverJWKS reads the issuer's discovery document and returns its JWKS
// URL. The document must name the issuer exactly, as OpenID Connect
// Discovery requires: otherwise the keys could be another issuer's.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	where := strings.TrimSuffix(issuer, "/") + DiscoveryPath
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return "", fmt.Errorf("external issuer %s: %w", issuer, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("external issuer %s: fetch the discovery document: %w", issuer, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("external issuer %s: the discovery document %s answered %s", issuer, where, resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return "", fmt.Errorf("external issuer %s: the discovery document %s is not valid JSON: %w", issuer, where, err)
	}
	if doc.Issuer != issuer {
		return "", fmt.Errorf("external issuer %s: the discovery document %s names issuer %q; they must be the same URL, character for character", issuer, where, doc.Issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("external issuer %s: the discovery document %s has no jwks_uri", issuer, where)
	}
	if err := CheckIssuerURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("external issuer %s: jwks_uri: %w", issuer, err)
	}
	return doc.JWKSURI, nil
}

// Verify checks a bearer token of the external issuer and says who calls:
// signed with an asymmetric algorithm by a key of the issuer's JWKS, for the
// configured audience and tenant, with an exp, within Leeway of the clock.
// A caller the directory does not know is added (with CreatePrincipals) or
// refused. Every refusal is a KindUnauthenticated *access.Error.
func (o *OIDC) Verify(ctx context.Context, raw string) (access.Caller, error) {
	if raw == "" {
		return access.Caller{}, refuse("token is missing")
	}
	if len(raw) > maxTokenBytes {
		return access.Caller{}, refuse("token is malformed: it is longer than %d bytes", maxTokenBytes)
	}
	// The issuer is checked before any key is looked up, so that tokens of
	// other issuers never make the JWKS be fetched again.
	if err := o.checkIssuer(raw); err != nil {
		return access.Caller{}, err
	}
	claims := jwt.MapClaims{}
	tok, err := o.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) { return o.keyFor(ctx, t) })
	if err != nil {
		return access.Caller{}, o.refusal(tok, claims, err)
	}
	tid, err := stringClaim(claims, "tid")
	switch {
	case err != nil:
		return access.Caller{}, err
	case tid == "":
		return access.Caller{}, refuse("token has no tid claim")
	case tid != o.tenantID:
		return access.Caller{}, refuse("token tenant %s is not accepted: expected %q", quote(tid), o.tenantID)
	}
	c, err := externalCaller(claims)
	if err != nil {
		return access.Caller{}, err
	}
	if err := o.admit(ctx, c, claims); err != nil {
		return access.Caller{}, err
	}
	return c, nil
}

// checkIssuer reads the iss of a token not yet verified.
func (o *OIDC) checkIssuer(raw string) error {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return &access.Error{Kind: access.KindUnauthenticated, Message: err.Error()}
	}
	iss, err := claims.GetIssuer()
	switch {
	case err != nil:
		return refuse("token is malformed: claim iss has the wrong type")
	case iss == "":
		return refuse("token has no iss claim")
	case iss != o.issuer:
		return refuse("token issuer %s is not accepted: expected %q", quote(iss), o.issuer)
	}
	return nil
}

// keyFor finds the key that verifies t. A kid the JWKS does not list makes
// it fetch the JWKS again, unless that was done less than refreshInterval
// ago (by the clock): every token with an invented kid would otherwise
// cost a fetch from the issuer. Within that time such tokens are refused at
// once rather than made to wait.
func (o *OIDC) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, refuse("token header has no kid")
	}
	if !o.knows(ctx, kid) {
		if err := o.refreshFor(ctx, kid); err != nil {
			return nil, err
		}
	}
	key, err := o.keys.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, refuse("token cannot be verified with key %s: %v", quote(kid), err)
	}
	return key, nil
}

func (o *OIDC) knows(ctx context.Context, kid string) bool {
	_, err := o.jwks.KeyRead(ctx, kid)
	return err == nil
}

func (o *OIDC) refreshFor(ctx context.Context, kid string) error {
	o.refreshMu.Lock()
	defer o.refreshMu.Unlock()
	if o.knows(ctx, kid) { // fetched while this call waited
		return nil
	}
	now := o.clock.Now()
	if !o.lastRefresh.IsZero() && !now.Before(o.lastRefresh) && now.Sub(o.lastRefresh) < refreshInterval {
		return refuse("token is signed with key %s, which the issuer's JWKS does not list (it is fetched again at most every %s)", quote(kid), refreshInterval)
	}
	// A failed fetch counts too: an issuer in trouble should not be asked
	// again by every request.
	o.lastRefresh = now
	if _, err := o.keys.Storage().KeyRead(ctx, kid); err != nil {
		return refuse("token is signed with key %s, which the issuer's JWKS does not list", quote(kid))
	}
	o.log.Info("fetched the external issuer's JWKS again for a new key id", "issuer", o.issuer, "kid", kid)
	return nil
}

// refusal turns a parse error from jwt into one specific message.
func (o *OIDC) refusal(tok *jwt.Token, claims jwt.MapClaims, err error) error {
	var ae *access.Error
	if errors.As(err, &ae) { // from keyFor: already specific
		return ae
	}
	if errors.Is(err, jwt.ErrTokenMalformed) {
		return &access.Error{Kind: access.KindUnauthenticated, Message: err.Error()}
	}
	if tok != nil {
		switch alg, _ := tok.Header["alg"].(string); {
		case alg == "":
			return refuse("token header has no alg")
		case strings.EqualFold(alg, "none"):
			return refuse("alg none is not accepted")
		case !slices.Contains(ExternalAlgorithms, alg):
			return refuse("alg %s is not accepted: tokens must be signed with one of %s", quote(alg), strings.Join(ExternalAlgorithms, ", "))
		}
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return refuse("token signature is invalid")
	}
	aud, _ := claims.GetAudience()
	switch {
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && claims["exp"] == nil:
		return refuse("token has no exp claim")
	case (errors.Is(err, jwt.ErrTokenRequiredClaimMissing) || errors.Is(err, jwt.ErrTokenInvalidAudience)) && (len(aud) == 0 || len(aud) == 1 && aud[0] == ""):
		return refuse("token has no aud claim")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse("token audience %s is not accepted: expected %q", quote(strings.Join(aud, " ")), o.audience)
	case errors.Is(err, jwt.ErrTokenExpired):
		exp, _ := claims.GetExpirationTime()
		return refuse("token is expired: exp %s, now %s, leeway %s", stamp(exp.Time), stamp(o.clock.Now()), Leeway)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		nbf, _ := claims.GetNotBefore()
		return refuse("token is not valid yet: nbf %s, now %s, leeway %s", stamp(nbf.Time), stamp(o.clock.Now()), Leeway)
	}
	return &access.Error{Kind: access.KindUnauthenticated, Message: "token is not valid: " + err.Error(), Err: err}
}

// externalCaller reads who calls from the claims of a verified token, as
// Entra issues them: oid, scp (delegated scopes, space-separated), roles
// (application permissions), upn or preferred_username, appid or azp.
// Entra marks application tokens with idtyp only when asked to; without it,
// a token with no scp is an application's, as delegated tokens always
// carry scp.
func externalCaller(claims jwt.MapClaims) (access.Caller, error) {
	c, err := callerFrom(claims)
	if err != nil {
		return access.Caller{}, err
	}
	if !validObjectID(c.ObjectID) {
		return access.Caller{}, refuse("token oid %s is not accepted: an object id is 1 to 128 letters, digits, '-', '_' or '.'", quote(c.ObjectID))
	}
	if idtyp, _ := stringClaim(claims, "idtyp"); idtyp == "" {
		_, hasScp := claims["scp"]
		c.IsApp = !hasScp
	}
	if c.IsApp && c.AppID == "" {
		return access.Caller{}, refuse("an application token has neither an appid nor an azp claim")
	}
	return c, nil
}

// validObjectID keeps an oid usable as a directory id in a URL path.
func validObjectID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// admit makes sure the caller is in the directory: a user for a delegated
// token, a service principal for an application token. One the directory
// does not know is added when CreatePrincipals is on, and refused
// otherwise. Two first calls at once may both try to add it: the one that
// loses finds the winner's and goes on.
func (o *OIDC) admit(ctx context.Context, c access.Caller, claims jwt.MapClaims) error {
	exists := func() (bool, error) {
		var err error
		if c.IsApp {
			_, err = o.dir.ServicePrincipal(ctx, c.ObjectID)
		} else {
			_, err = o.dir.User(ctx, c.ObjectID)
		}
		if access.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	}
	ok, err := exists()
	if ok || err != nil {
		return err
	}
	who := fmt.Sprintf("user %q (id %q)", c.UPN, c.ObjectID)
	if c.IsApp {
		who = fmt.Sprintf("application %q (service principal id %q)", c.AppID, c.ObjectID)
	}
	if !o.create {
		return refuse("the token's %s is not in the directory, and principals are not created on first sight", who)
	}
	var name string
	if c.IsApp {
		name, _ = stringClaim(claims, "app_displayname") // in Entra's v1 tokens, when asked for
		if strings.TrimSpace(name) == "" {
			name = c.AppID
		}
		_, err = o.dir.CreateServicePrincipal(ctx, access.ServicePrincipal{ID: c.ObjectID, AppID: c.AppID, DisplayName: name})
	} else {
		u, uerr := newUser(c, claims)
		if uerr != nil {
			return uerr
		}
		name = u.UserPrincipalName
		_, err = o.dir.CreateUser(ctx, u)
	}
	if err != nil {
		return o.settle(err, exists, who)
	}
	o.log.Info("added a caller of the external issuer to the directory", "object_id", c.ObjectID, "app", c.IsApp, "name", name)
	return nil
}

// settle decides what a failed creation means: nothing when the principal
// is there after all (another first call made it), a refusal when the
// directory will not take it (its name is another's), an internal error
// otherwise.
func (o *OIDC) settle(err error, exists func() (bool, error), who string) error {
	if err == nil {
		return nil
	}
	if ok, readErr := exists(); ok {
		return nil
	} else if readErr != nil {
		return readErr
	}
	var ae *access.Error
	if errors.As(err, &ae) && (ae.Kind == access.KindConflict || ae.Kind == access.KindInvalid) {
		return refuse("the token's %s is not in the directory and cannot be added: %s", who, ae.Message)
	}
	return err
}

// newUser is the directory user of a delegated caller seen for the first
// time. Its userPrincipalName is the first of upn, preferred_username and
// email that has the form alias@domain (Keycloak's preferred_username is a
// bare user name).
func newUser(c access.Caller, claims jwt.MapClaims) (access.User, error) {
	email, _ := stringClaim(claims, "email")
	var upn string
	for _, name := range []string{"upn", "preferred_username", "email"} {
		if v, _ := stringClaim(claims, name); strings.Contains(v, "@") {
			upn = v
			break
		}
	}
	if upn == "" {
		return access.User{}, refuse("the token's user (id %q) is not in the directory and cannot be added: none of upn, preferred_username and email has the form alias@domain", c.ObjectID)
	}
	name := c.DisplayName
	if strings.TrimSpace(name) == "" {
		name = upn
	}
	alias, _, _ := strings.Cut(upn, "@")
	return access.User{ID: c.ObjectID, DisplayName: name, UserPrincipalName: upn, Mail: email, MailNickname: alias, AccountEnabled: true}, nil
}
