package identity

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
)

// Paths under the issuer URL where the graph package serves the documents.
// The discovery path is fixed by OpenID Connect Discovery; the JWKS path is
// ours to choose, and the common one makes accessd easy to recognise.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/.well-known/jwks.json"
)

// Audiences of Microsoft Graph, as Entra writes them. accessd issues the first
// and accepts both, so tokens shaped for the real Graph work unchanged.
const (
	GraphAudience   = "https://graph.microsoft.com"
	GraphAudienceID = "00000003-0000-0000-c000-000000000000"
)

// Leeway is the clock skew allowed on nbf and exp.
const Leeway = 2 * time.Minute

// IssuerConfig says who the issuer is and what it signs with.
type IssuerConfig struct {
	URL      string // the public URL: the iss of every token, and the base of the JWKS URL
	TenantID string // the tid of every token
	Keys     *KeySet
	// Accepted are the other issuers whose tokens Verify accepts: the URLs
	// the database was served at before, or by other replicas. nil accepts
	// URL alone.
	Accepted *AcceptedIssuers
	Clock    access.Clock // nil means the system clock
}

// Issuer mints and verifies accessd's own tokens. It is safe for concurrent use.
type Issuer struct {
	url       string
	tenantID  string
	keys      *KeySet
	accepted  *AcceptedIssuers // nil: url alone
	clock     access.Clock
	parser    *jwt.Parser
	discovery []byte
	verified  verifiedTokens // tokens Verify has accepted, so it need not check them again
}

// NewIssuer builds an Issuer. cfg.Keys is required: an issuer without keys
// is a wiring mistake, reported at once rather than at the first token.
func NewIssuer(cfg IssuerConfig) *Issuer {
	if cfg.Keys == nil {
		panic("identity: NewIssuer needs Keys")
	}
	clock := cfg.Clock
	if clock == nil {
		clock = access.SystemClock{}
	}
	i := &Issuer{
		url:      cfg.URL,
		tenantID: cfg.TenantID,
		keys:     cfg.Keys,
		accepted: cfg.Accepted,
		clock:    clock,
		// One parser serves every call: its options never change and it
		// keeps no state between parses. It leaves iss to checkIssuer,
		// which accepts more than one.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithAudience(GraphAudience, GraphAudienceID),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(clock.Now),
		),
		verified: verifiedTokens{entries: make(map[string]verifiedToken)},
	}
	i.discovery = i.discoveryDocument()
	return i
}

// MintApp mints an application token for a service principal, with the
// application permissions in roles, valid for ttl from now.
func (i *Issuer) MintApp(sp access.ServicePrincipal, roles []string, ttl time.Duration) (string, error) {
	if sp.ID == "" || sp.AppID == "" {
		return "", access.Invalidf("an application token needs a service principal with an id and an appId")
	}
	claims, err := i.baseClaims(sp.ID, ttl)
	if err != nil {
		return "", err
	}
	if roles == nil {
		roles = []string{} // Entra's shape is a list, never null
	}
	claims["appid"] = sp.AppID
	claims["azp"] = sp.AppID
	claims["idtyp"] = "app"
	claims["roles"] = roles
	return i.Sign(claims)
}

// MintUser mints a delegated token for a user, with the delegated permissions
// in scopes, valid for ttl from now.
func (i *Issuer) MintUser(u access.User, scopes []string, ttl time.Duration) (string, error) {
	if u.ID == "" {
		return "", access.Invalidf("a user token needs a user with an id")
	}
	claims, err := i.baseClaims(u.ID, ttl)
	if err != nil {
		return "", err
	}
	claims["upn"] = u.UserPrincipalName
	claims["preferred_username"] = u.UserPrincipalName
	claims["name"] = u.DisplayName
	claims["idtyp"] = "user"
	claims["scp"] = strings.Join(scopes, " ") // space-separated, as Entra issues it
	return i.Sign(claims)
}

// baseClaims are the claims every minted token has.
func (i *Issuer) baseClaims(objectID string, ttl time.Duration) (jwt.MapClaims, error) {
	if ttl <= 0 {
		return nil, access.Invalidf("a token lifetime must be positive, not %s", ttl)
	}
	now := i.clock.Now()
	return jwt.MapClaims{
		"iss": i.url,
		"aud": GraphAudience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(ttl).Unix(),
		"tid": i.tenantID,
		"oid": objectID,
		"sub": objectID,
	}, nil
}

// Sign signs claims as they are with the current key (RS256, with its kid in
// the header). It adds nothing: callers that need iss, exp and so on set them.
// An RS256 signature costs about a millisecond, so callers that send the same
// token repeatedly should keep it rather than sign again.
func (i *Issuer) Sign(claims jwt.MapClaims) (string, error) {
	st := i.keys.state.Load()
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims) // sets typ: JWT
	t.Header["kid"] = st.kid
	s, err := t.SignedString(st.signer)
	if err != nil {
		return "", access.Internal(fmt.Errorf("sign token: %w", err))
	}
	return s, nil
}

// Discovery is the OpenID configuration document served at DiscoveryPath.
// It never changes for an Issuer; callers must not modify the slice.
func (i *Issuer) Discovery() []byte { return i.discovery }

// JWKS is the key set document served at JWKSPath, listing every key that
// verifies. It changes only when the keys are refreshed; callers must not
// modify the slice.
func (i *Issuer) JWKS() []byte { return i.keys.state.Load().jwks }

// JWKSURL is where verifiers fetch the keys.
func (i *Issuer) JWKSURL() string { return strings.TrimSuffix(i.url, "/") + JWKSPath }

// discoveryDocument holds what OpenID Connect Discovery requires. accessd has
// no authorization or token endpoint (tokens are minted by `accessd token`),
// so it names none; verifiers only need issuer and jwks_uri.
func (i *Issuer) discoveryDocument() []byte {
	doc := struct {
		Issuer                           string   `json:"issuer"`
		JWKSURI                          string   `json:"jwks_uri"`
		ResponseTypesSupported           []string `json:"response_types_supported"`
		SubjectTypesSupported            []string `json:"subject_types_supported"`
		IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
		ClaimsSupported                  []string `json:"claims_supported"`
	}{
		Issuer:  i.url,
		JWKSURI: i.JWKSURL(),
		// The only tokens accessd issues are access tokens.
		ResponseTypesSupported: []string{"token"},
		// sub is the object id, the same for every audience.
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{jwt.SigningMethodRS256.Alg()},
		ClaimsSupported: []string{
			"iss", "aud", "iat", "nbf", "exp", "tid", "oid", "sub",
			"appid", "azp", "idtyp", "roles", "upn", "preferred_username", "name", "scp",
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("identity: encode discovery document: %v", err)) // strings and lists of strings always encode
	}
	return b
}
