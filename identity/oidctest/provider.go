// Package oidctest is an OpenID Connect issuer for tests: a real HTTP
// server on a loopback port that serves a discovery document and a JWKS
// shaped like Entra ID's, and signs tokens with its own RSA and EC keys.
// Tests rotate its keys and count how often its JWKS is fetched.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tenant is the tenant id the provider's issuer URL names, as Entra's do,
// and the tid of the claims it builds.
const Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// Audience is the aud of the claims the provider builds: the application
// id of accessd's registration in the issuer.
const Audience = "api://accessd-test"

// Provider is one running test issuer. It is safe for concurrent use.
type Provider struct {
	srv    *httptest.Server
	issuer string

	mu     sync.Mutex
	keys   map[string]*Key // by kid: every key the provider can sign with
	served []string        // kids the JWKS lists, in order
	signer string          // kid of the key that signs by default
	serial int

	jwksHits, discoveryHits atomic.Int64

	signIn *signIn // the authorization and token endpoints (signin.go)
}

// Key is one signing key of the provider.
type Key struct {
	Kid    string
	Alg    string // RS256 or ES256
	Signer crypto.Signer
}

// New starts a provider, stopped when the test ends. Its JWKS lists an RSA
// key (RS256), which signs by default, and an EC key (ES256).
func New(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{keys: map[string]*Key{}}
	mux := http.NewServeMux()
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	// Entra's v2.0 issuer has the tenant in its path, and its keys live
	// under another path; a provider shaped the same way checks that
	// accessd follows jwks_uri rather than guessing.
	p.issuer = p.srv.URL + "/" + Tenant + "/v2.0"
	jwksPath := "/" + Tenant + "/discovery/v2.0/keys"
	mux.HandleFunc("GET /"+Tenant+"/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryHits.Add(1)
		writeJSON(w, map[string]any{
			"issuer":                                p.issuer,
			"jwks_uri":                              p.srv.URL + jwksPath,
			"authorization_endpoint":                p.srv.URL + "/" + Tenant + "/oauth2/v2.0/authorize",
			"token_endpoint":                        p.srv.URL + "/" + Tenant + "/oauth2/v2.0/token",
			"response_types_supported":              []string{"code", "id_token", "token"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET "+jwksPath, func(w http.ResponseWriter, r *http.Request) {
		p.jwksHits.Add(1)
		writeJSON(w, p.jwks())
	})
	p.serveSignIn(t, mux)
	p.signer = p.AddRSA(t).Kid
	p.AddEC(t)
	return p
}

// Issuer is the provider's issuer URL: the iss of its tokens.
func (p *Provider) Issuer() string { return p.issuer }

// JWKSHits is how often the JWKS has been fetched.
func (p *Provider) JWKSHits() int64 { return p.jwksHits.Load() }

// DiscoveryHits is how often the discovery document has been fetched.
func (p *Provider) DiscoveryHits() int64 { return p.discoveryHits.Load() }

// AddRSA makes a new RSA key and publishes it.
func (p *Provider) AddRSA(t testing.TB) *Key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return p.add(&Key{Alg: "RS256", Signer: priv})
}

// AddEC makes a new P-256 key and publishes it.
func (p *Provider) AddEC(t testing.TB) *Key {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return p.add(&Key{Alg: "ES256", Signer: priv})
}

func (p *Provider) add(k *Key) *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serial++
	kind := "rsa"
	if k.Alg == "ES256" {
		kind = "ec"
	}
	k.Kid = fmt.Sprintf("%s-%d", kind, p.serial)
	p.keys[k.Kid] = k
	p.served = append(p.served, k.Kid)
	return k
}

// Rotate makes a new RSA key the one that signs, publishes it, and stops
// publishing every other key: the old keys' tokens stop verifying once a
// verifier fetches the JWKS again. It returns the new key.
func (p *Provider) Rotate(t testing.TB) *Key {
	t.Helper()
	k := p.AddRSA(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.served = []string{k.Kid}
	p.signer = k.Kid
	return k
}

// Signer is the key that signs by default.
func (p *Provider) Signer() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[p.signer]
}

// ECKey is the EC key New made, published unless a rotation withdrew it.
func (p *Provider) ECKey() *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.keys {
		if k.Alg == "ES256" {
			return k
		}
	}
	return nil
}

// Key returns the key with the given kid, published or not.
func (p *Provider) Key(kid string) *Key {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[kid]
}

// Sign signs claims with the default key.
func (p *Provider) Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	return p.SignWith(t, p.Signer(), claims)
}

// SignWith signs claims with k, naming its kid in the header.
func (p *Provider) SignWith(t testing.TB, k *Key, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), claims)
	tok.Header["kid"] = k.Kid
	s, err := tok.SignedString(k.Signer)
	if err != nil {
		t.Fatalf("sign a test token: %v", err)
	}
	return s
}

// AppClaims are the claims of an application token as Entra's v2.0
// endpoint issues it (no idtyp, no scp), valid for an hour from now.
func (p *Provider) AppClaims(now time.Time, oid, appID string, roles ...string) jwt.MapClaims {
	c := p.base(now, oid)
	c["azp"] = appID
	c["azpacr"] = "1"
	c["roles"] = roles
	return c
}

// UserClaims are the claims of a delegated token as Entra's v2.0 endpoint
// issues it, valid for an hour from now.
func (p *Provider) UserClaims(now time.Time, oid, upn, name string, scopes ...string) jwt.MapClaims {
	c := p.base(now, oid)
	c["azp"] = "04b07795-8ddb-461a-bbee-02f9e1bf7b46" // the client the user signed in with
	c["preferred_username"] = upn
	c["name"] = name
	c["scp"] = strings.Join(scopes, " ")
	return c
}

func (p *Provider) base(now time.Time, oid string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": p.issuer,
		"aud": Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"tid": Tenant,
		"oid": oid,
		"sub": "pairwise-" + oid, // Entra's sub differs from oid
		"ver": "2.0",
	}
}

// jwks is the JWKS document listing the published keys.
func (p *Provider) jwks() map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := []map[string]any{}
	for _, kid := range p.served {
		k := p.keys[kid]
		entry := map[string]any{"kid": k.Kid, "use": "sig", "alg": k.Alg}
		switch pub := k.Signer.Public().(type) {
		case *rsa.PublicKey:
			entry["kty"] = "RSA"
			entry["n"] = b64(pub.N.Bytes())
			entry["e"] = b64(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			ecdh, err := pub.ECDH()
			if err != nil {
				panic(err) // a P-256 key always converts
			}
			point := ecdh.Bytes() // 0x04 || X || Y, each 32 bytes
			entry["kty"] = "EC"
			entry["crv"] = "P-256"
			entry["x"] = b64(point[1:33])
			entry["y"] = b64(point[33:])
		}
		keys = append(keys, entry)
	}
	return map[string]any{"keys": keys}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func randomBytes(t testing.TB) []byte {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
