package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
)

// maxTokenBytes bounds what Verify will parse. accessd's tokens are well under
// 2 KiB; the bound only keeps a hostile header from costing much.
const maxTokenBytes = 32 << 10

// Verify checks a bearer token issued by this Issuer and says who calls.
// It accepts RS256 only, from this issuer or one of the accepted ones, for
// Microsoft Graph, with an exp, within Leeway of the Issuer's clock, signed
// by a known key. Every refusal is a KindUnauthenticated *access.Error whose
// message says what is wrong; only a store that cannot be read gives another
// kind (internal).
//
// A token accepted once is accepted again from a cache, without checking its
// signature, while it is still within its exp and nbf, for at most
// verifiedMaxAge, and while its key is still known (see verifiedTokens).
func (i *Issuer) Verify(ctx context.Context, raw string) (access.Caller, error) {
	if raw == "" {
		return access.Caller{}, refuse("token is missing")
	}
	if len(raw) > maxTokenBytes {
		return access.Caller{}, refuse("token is malformed: it is longer than %d bytes", maxTokenBytes)
	}
	now := i.clock.Now()
	if c, ok := i.verified.get(raw, now, i.keys); ok {
		return c, nil
	}
	v, err := i.verify(ctx, raw)
	if err != nil {
		return access.Caller{}, err
	}
	i.verified.put(raw, v, now)
	return v.caller, nil
}

// verify is the full check of a token, signature included, and what it
// proved: who calls, the key that signed, and the token's exp and nbf.
func (i *Issuer) verify(ctx context.Context, raw string) (verifiedToken, error) {
	claims := jwt.MapClaims{}
	tok, err := i.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		kid, ok := t.Header["kid"].(string)
		if !ok || kid == "" {
			return nil, refuse("token header has no kid")
		}
		return i.keys.verificationKey(ctx, kid)
	})
	if err != nil {
		return verifiedToken{}, i.refusal(ctx, tok, claims, err)
	}
	// The signature is good, so only a holder of the database's keys can
	// make the issuer check read the store.
	if err := i.checkIssuer(ctx, claims); err != nil {
		return verifiedToken{}, err
	}
	caller, err := callerFrom(claims)
	if err != nil {
		return verifiedToken{}, err
	}
	// The parser has checked both dates are well formed and that exp is
	// there; the nil check keeps a change of its options from panicking here.
	exp, _ := claims.GetExpirationTime()
	if exp == nil {
		return verifiedToken{}, refuse("token has no exp claim")
	}
	v := verifiedToken{caller: caller, exp: exp.Time}
	if nbf, _ := claims.GetNotBefore(); nbf != nil {
		v.nbf = nbf.Time
	}
	v.kid, _ = tok.Header["kid"].(string) // a non-empty string: the key lookup checked
	return v, nil
}

// refusal turns a parse error from jwt into one specific message. jwt reports
// claim problems together; the most fundamental one is named.
func (i *Issuer) refusal(ctx context.Context, tok *jwt.Token, claims jwt.MapClaims, err error) error {
	var ae *access.Error
	if errors.As(err, &ae) { // from our key lookup: already specific
		return ae
	}
	if errors.Is(err, jwt.ErrTokenMalformed) {
		// jwt's message names the part that did not decode.
		return &access.Error{Kind: access.KindUnauthenticated, Message: err.Error()}
	}
	// jwt only reaches the algorithm once the header has decoded; refusing
	// anything but RS256 is what defeats alg none and key confusion.
	if tok != nil {
		switch alg, _ := tok.Header["alg"].(string); {
		case alg == "":
			return refuse("token header has no alg")
		case strings.EqualFold(alg, "none"):
			return refuse("alg none is not accepted")
		case alg != jwt.SigningMethodRS256.Alg():
			return refuse("alg %s is not accepted: tokens must be signed with RS256", quote(alg))
		}
	}
	if errors.Is(err, jwt.ErrTokenSignatureInvalid) {
		return refuse("token signature is invalid")
	}
	if errors.Is(err, jwt.ErrTokenInvalidClaims) {
		return i.claimsRefusal(ctx, claims, err)
	}
	return &access.Error{Kind: access.KindUnauthenticated, Message: "token is not valid", Err: err}
}

// claimsRefusal explains why the registered claims of a correctly signed
// token are refused.
func (i *Issuer) claimsRefusal(ctx context.Context, claims jwt.MapClaims, err error) error {
	// A claim of the wrong type: find which, in the order jwt checks them.
	for _, c := range []struct {
		name string
		get  func() error
	}{
		{"exp", func() error { _, err := claims.GetExpirationTime(); return err }},
		{"nbf", func() error { _, err := claims.GetNotBefore(); return err }},
		{"aud", func() error { _, err := claims.GetAudience(); return err }},
		{"iss", func() error { _, err := claims.GetIssuer(); return err }},
	} {
		if c.get() != nil {
			return refuse("token is malformed: claim %s has the wrong type", c.name)
		}
	}

	if claims["exp"] == nil {
		return refuse("token has no exp claim")
	}
	if err := i.checkIssuer(ctx, claims); err != nil {
		return err
	}
	aud, _ := claims.GetAudience()
	switch {
	case len(aud) == 0 || len(aud) == 1 && aud[0] == "":
		return refuse("token has no aud claim")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return refuse("token audience %s is not accepted: expected %q", quote(strings.Join(aud, " ")), GraphAudience)
	case errors.Is(err, jwt.ErrTokenExpired):
		exp, _ := claims.GetExpirationTime()
		return refuse("token is expired: exp %s, now %s, leeway %s", stamp(exp.Time), stamp(i.clock.Now()), Leeway)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		nbf, _ := claims.GetNotBefore()
		return refuse("token is not valid yet: nbf %s, now %s, leeway %s", stamp(nbf.Time), stamp(i.clock.Now()), Leeway)
	}
	return &access.Error{Kind: access.KindUnauthenticated, Message: "token claims are not valid", Err: err}
}

// checkIssuer refuses a token whose iss is neither this issuer's URL nor
// one of the accepted issuers.
func (i *Issuer) checkIssuer(ctx context.Context, claims jwt.MapClaims) error {
	iss, err := claims.GetIssuer()
	switch {
	case err != nil:
		return refuse("token is malformed: claim iss has the wrong type")
	case iss == "":
		return refuse("token has no iss claim")
	case iss == i.url:
		return nil
	case i.accepted == nil:
		return refuse("token issuer %s is not accepted: expected %q", quote(iss), i.url)
	}
	ok, err := i.accepted.accepts(ctx, iss)
	if err != nil {
		return err
	}
	if !ok {
		return refuse("token issuer %s is not accepted: it is none of the last %d URLs this database was served at (now %q)", quote(iss), MaxIssuers, i.url)
	}
	return nil
}

// callerFrom reads who calls from verified claims. The claims are Entra's, so
// a token from a real tenant reads the same way.
func callerFrom(claims jwt.MapClaims) (access.Caller, error) {
	var c access.Caller
	var idtyp, scp string
	var err error
	for _, s := range []struct {
		into *string
		name string
	}{
		{&c.ObjectID, "oid"},
		{&idtyp, "idtyp"},
		{&c.AppID, "appid"},
		{&c.UPN, "upn"},
		{&c.DisplayName, "name"},
		{&scp, "scp"},
	} {
		if *s.into, err = stringClaim(claims, s.name); err != nil {
			return access.Caller{}, err
		}
	}
	if c.ObjectID == "" {
		return access.Caller{}, refuse("token has no oid claim")
	}
	if c.AppID == "" {
		if c.AppID, err = stringClaim(claims, "azp"); err != nil {
			return access.Caller{}, err
		}
	}
	if c.UPN == "" {
		if c.UPN, err = stringClaim(claims, "preferred_username"); err != nil {
			return access.Caller{}, err
		}
	}
	if c.Roles, err = rolesClaim(claims); err != nil {
		return access.Caller{}, err
	}
	if scp != "" {
		c.Scopes = strings.Fields(scp)
	}

	switch idtyp {
	case "app":
		c.IsApp = true
	case "user":
	case "":
		// Tokens without the optional idtyp claim: an application has
		// roles and no scp.
		_, hasRoles := claims["roles"]
		_, hasScp := claims["scp"]
		c.IsApp = hasRoles && !hasScp
	default:
		return access.Caller{}, refuse("token idtyp %s is not accepted: expected \"app\" or \"user\"", quote(idtyp))
	}
	return c, nil
}

// stringClaim reads an optional string claim.
func stringClaim(claims jwt.MapClaims, name string) (string, error) {
	v, ok := claims[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", refuse("token is malformed: claim %s has the wrong type", name)
	}
	return s, nil
}

// rolesClaim reads the optional roles claim, a list of strings.
func rolesClaim(claims jwt.MapClaims) ([]string, error) {
	v, ok := claims["roles"]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, refuse("token is malformed: claim roles has the wrong type")
	}
	var roles []string // nil when empty, like Scopes
	for _, r := range list {
		s, ok := r.(string)
		if !ok {
			return nil, refuse("token is malformed: claim roles has the wrong type")
		}
		roles = append(roles, s)
	}
	return roles, nil
}

// refuse builds the error of every refused token.
func refuse(format string, args ...any) *access.Error {
	return access.E(access.KindUnauthenticated, format, args...)
}

// quote shows a value taken from a token in a message, shortened: the token
// is the caller's input and may be long.
func quote(s string) string {
	const limit = 100
	if r := []rune(s); len(r) > limit {
		return fmt.Sprintf("%q…", string(r[:limit]))
	}
	return fmt.Sprintf("%q", s)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
