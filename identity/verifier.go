package identity

import (
	"context"
	"fmt"

	"github.com/accessd/accessd/access"
	"github.com/golang-jwt/jwt/v5"
)

// Mode says whose tokens accessd accepts from API callers.
type Mode string

const (
	ModeBuiltin Mode = "builtin" // accessd's own, minted by `accessd token`
	ModeOIDC    Mode = "oidc"    // the external issuer's only
	ModeBoth    Mode = "both"    // either, told apart by iss
)

// Modes lists the modes in the order the documentation gives them.
var Modes = []Mode{ModeBuiltin, ModeOIDC, ModeBoth}

// Verifier verifies API callers' tokens for one Mode. The built-in issuer
// keeps signing callout tokens and serving its JWKS whatever the mode:
// extensions verify those tokens, accessd never does.
type Verifier struct {
	builtin  *Issuer // nil: its tokens are refused
	external *OIDC   // nil: there is none
}

// NewVerifier accepts the tokens of builtin (when not nil) and of external
// (when not nil). It needs at least one.
func NewVerifier(builtin *Issuer, external *OIDC) *Verifier {
	if builtin == nil && external == nil {
		panic("identity: NewVerifier needs an issuer")
	}
	return &Verifier{builtin: builtin, external: external}
}

// Verify sends a token with the external issuer's iss to that issuer's
// check and every other to the built-in one's. With only one of them, that
// one refuses the tokens of the other.
func (v *Verifier) Verify(ctx context.Context, raw string) (access.Caller, error) {
	switch {
	case v.external == nil:
		return v.builtin.Verify(ctx, raw)
	case v.builtin == nil || unverifiedIssuer(raw) == v.external.Issuer():
		return v.external.Verify(ctx, raw)
	}
	return v.builtin.Verify(ctx, raw)
}

// unverifiedIssuer is the iss a token claims, "" when it has none that
// reads; only for choosing which check to run.
func unverifiedIssuer(raw string) string {
	if len(raw) > maxTokenBytes {
		return ""
	}
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, claims); err != nil {
		return ""
	}
	iss, _ := claims.GetIssuer()
	return iss
}

// ParseMode reads a mode by name.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	return "", fmt.Errorf("%q is not builtin, oidc or both", s)
}
