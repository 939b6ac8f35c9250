// Package identity is accessd's built-in token issuer: the RSA keys it signs
// with, the OpenID discovery document and JWKS that let others trust it, the
// minting of application and user tokens, and their verification. It also
// verifies the tokens of an external OpenID Connect issuer (OIDC), and
// Verifier chooses between the two.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessd/accessd/access"
)

// keyBits is the size of a new signing key: RS256 with 2048 bits is what Entra
// issues and what every JWT library accepts.
const keyBits = 2048

// refreshInterval is the least time between two reads of the stored keys.
// A token naming an unknown kid triggers a read; without a limit, anyone could
// make every request cost a database round trip by inventing kids.
const refreshInterval = 10 * time.Second

// KeySet holds accessd's signing keys as the database has them. The newest key
// signs; every key verifies, so tokens signed before a rotation stay valid
// until they expire. It is safe for concurrent use.
type KeySet struct {
	store access.Store // where an unknown kid is looked for again
	clock access.Clock

	state atomic.Pointer[keyState] // replaced whole on refresh; readers never lock

	refreshMu   sync.Mutex // one refresh at a time; others wait and find it fresh
	lastRefresh time.Time  // guarded by refreshMu
}

// keyState is one immutable snapshot of the stored keys, with everything
// derived from them computed once.
type keyState struct {
	kid    string          // of the key that signs
	signer *rsa.PrivateKey // the newest key
	public map[string]*rsa.PublicKey
	jwks   []byte // the JWKS document listing every key
}

// LoadKeys reads the signing keys from the store, creating the first one when
// there is none. It inserts only if absent and then uses what the store holds,
// so replicas starting together on an empty database all end up with the one
// key that won.
func LoadKeys(ctx context.Context, store access.Store, clock access.Clock) (*KeySet, error) {
	var stored []access.SigningKey
	err := store.Update(ctx, func(tx access.Tx) error {
		keys, err := tx.SigningKeys()
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			k, err := generateKey(clock.Now())
			if err != nil {
				return err
			}
			if err := tx.InsertSigningKeyIfAbsent(k); err != nil {
				return err
			}
			if keys, err = tx.SigningKeys(); err != nil {
				return err
			}
		}
		stored = keys
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	st, err := newKeyState(stored)
	if err != nil {
		return nil, err
	}
	k := &KeySet{store: store, clock: clock}
	k.state.Store(st)
	return k, nil
}

// Refresh reads the stored keys again and replaces the set with them, so a
// replica learns of a key another replica created. It reads at most once per
// 10 seconds (by the KeySet's clock) and returns nil without reading when
// called sooner; when the read fails, the set is left as it was.
func (k *KeySet) Refresh(ctx context.Context, store access.Store) error {
	k.refreshMu.Lock()
	defer k.refreshMu.Unlock()

	now := k.clock.Now()
	if !k.lastRefresh.IsZero() && !now.Before(k.lastRefresh) && now.Sub(k.lastRefresh) < refreshInterval {
		return nil
	}
	// A failed read counts too: a database in trouble should not be asked
	// again by every request that names an unknown kid.
	k.lastRefresh = now

	var stored []access.SigningKey
	err := store.View(ctx, func(tx access.Tx) error {
		var err error
		stored, err = tx.SigningKeys()
		return err
	})
	if err != nil {
		return fmt.Errorf("refresh signing keys: %w", err)
	}
	st, err := newKeyState(stored)
	if err != nil {
		return err
	}
	k.state.Store(st)
	return nil
}

// KeyID names the key that signs new tokens.
func (k *KeySet) KeyID() string { return k.state.Load().kid }

// verificationKey finds the public key for kid, reading the store again
// (within the refresh limit) when kid is not known. An unknown kid is a
// refusal; a store that cannot be read is an internal error.
func (k *KeySet) verificationKey(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	if pub, ok := k.state.Load().public[kid]; ok {
		return pub, nil
	}
	if err := k.Refresh(ctx, k.store); err != nil {
		return nil, access.Internal(err)
	}
	if pub, ok := k.state.Load().public[kid]; ok {
		return pub, nil
	}
	return nil, refuse("token signing key %s is not known", quote(kid))
}

// knows reports whether kid is among the keys as last read, without reading
// the store: the cache of verified tokens asks it on every hit.
func (k *KeySet) knows(kid string) bool {
	_, ok := k.state.Load().public[kid]
	return ok
}

// generateKey makes a new RSA key, named by its RFC 7638 thumbprint so that
// the kid says which key it is and cannot collide by chance.
func generateKey(now time.Time) (access.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return access.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return access.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	return access.SigningKey{
		ID:         thumbprint(&priv.PublicKey),
		PrivatePEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		CreatedAt:  now,
	}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of an RSA
// public key: the hash of its required members in lexicographic order.
func thumbprint(pub *rsa.PublicKey) string {
	canonical := `{"e":"` + b64(exponentBytes(pub)) + `","kty":"RSA","n":"` + b64(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return b64(sum[:])
}

// newKeyState parses stored keys. A key that does not parse stops the load:
// signing with a different key than the database names would split replicas.
func newKeyState(stored []access.SigningKey) (*keyState, error) {
	if len(stored) == 0 {
		return nil, errors.New("no signing key is stored")
	}
	st := &keyState{public: make(map[string]*rsa.PublicKey, len(stored))}
	var newest time.Time
	keys := make([]jwk, 0, len(stored))
	for _, sk := range stored {
		priv, err := parsePrivateKey(sk.PrivatePEM)
		if err != nil {
			return nil, fmt.Errorf("signing key %q: %w", sk.ID, err)
		}
		st.public[sk.ID] = &priv.PublicKey
		keys = append(keys, jwk{
			Kty: "RSA", Use: "sig", Kid: sk.ID, Alg: "RS256",
			N: b64(priv.N.Bytes()), E: b64(exponentBytes(&priv.PublicKey)),
		})
		// The store lists oldest first; ">=" also makes the later of two
		// keys with equal times win.
		if st.signer == nil || !sk.CreatedAt.Before(newest) {
			st.signer, st.kid, newest = priv, sk.ID, sk.CreatedAt
		}
	}
	jwks, err := json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{keys})
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	st.jwks = jwks
	return st, nil
}

// jwk is one key of the JWKS document, with the members verifiers need.
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func parsePrivateKey(pemBytes []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PKCS#8 PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	priv, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an RSA key", key)
	}
	return priv, nil
}

func exponentBytes(pub *rsa.PublicKey) []byte { return big.NewInt(int64(pub.E)).Bytes() }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
