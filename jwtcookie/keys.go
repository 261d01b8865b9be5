// Package jwtcookie signs and verifies the JWTs of latchkey's token mode:
// short-lived access tokens and single-use refresh tokens, both kept in
// HttpOnly cookies. It holds the keys (Ed25519 by default, HS256 as an
// option), publishes the public ones as a JWK Set, and parses with an
// explicit algorithm allow-list, a required kid that names one of our keys,
// and the type, issuer, audience and time claims all checked. Headers that
// ask the verifier to fetch or trust a key (jku, jwk, x5u, x5c) are refused
// outright: keys come from the Set only.
//
// The flows (rotation, reuse detection, revocation) live in package
// latchkey, which owns the stores.
package jwtcookie

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms a Set can use.
const (
	EdDSA = "EdDSA" // Ed25519 signatures; public keys can be published
	HS256 = "HS256" // HMAC-SHA256; only latchkey can verify
)

// Key is one signing or verification key.
type Key struct {
	ID      string
	public  ed25519.PublicKey
	private ed25519.PrivateKey // nil for verification-only keys
	secret  []byte             // HS256
	// verifier is public or secret as the interface value jwt's Keyfunc
	// returns, boxed once here rather than on every Parse.
	verifier any
}

// Set is the keys of one algorithm: the first signs, all verify. It is safe
// for concurrent use; it never changes after construction.
type Set struct {
	alg     string
	methods []string // {alg}, for jwt.WithValidMethods
	method  jwt.SigningMethod
	signing Key
	byID    map[string]Key
	jwks    []byte
}

// FromSecrets derives one key per secret (each at least 32 bytes) with
// HKDF, so every instance that shares latchkey's secret signs with the same
// keys and rotating the secret rotates them; the first secret's key signs.
func FromSecrets(alg string, secrets [][]byte) (*Set, error) {
	if len(secrets) == 0 {
		return nil, errors.New("jwtcookie: no secret to derive keys from")
	}
	keys := make([]Key, 0, len(secrets))
	for _, s := range secrets {
		switch alg {
		case EdDSA:
			seed, err := hkdf.Key(sha256.New, s, nil, "latchkey jwt ed25519 v1", ed25519.SeedSize)
			if err != nil {
				return nil, fmt.Errorf("jwtcookie: derive key: %w", err)
			}
			keys = append(keys, ed25519Key(ed25519.NewKeyFromSeed(seed)))
		case HS256:
			k, err := hkdf.Key(sha256.New, s, nil, "latchkey jwt hs256 v1", 32)
			if err != nil {
				return nil, fmt.Errorf("jwtcookie: derive key: %w", err)
			}
			keys = append(keys, hmacKey(k))
		default:
			return nil, fmt.Errorf("jwtcookie: algorithm %q: want %s or %s", alg, EdDSA, HS256)
		}
	}
	return newSet(alg, keys)
}

// NewEd25519 makes an EdDSA Set from explicit keys: signing[0] signs, and
// every signing key and every verifyOnly key verifies (keys being rotated
// in or out).
func NewEd25519(signing []ed25519.PrivateKey, verifyOnly []ed25519.PublicKey) (*Set, error) {
	if len(signing) == 0 {
		return nil, errors.New("jwtcookie: no signing key")
	}
	keys := make([]Key, 0, len(signing)+len(verifyOnly))
	for _, k := range signing {
		if len(k) != ed25519.PrivateKeySize {
			return nil, errors.New("jwtcookie: malformed Ed25519 private key")
		}
		keys = append(keys, ed25519Key(k))
	}
	for _, pub := range verifyOnly {
		if len(pub) != ed25519.PublicKeySize {
			return nil, errors.New("jwtcookie: malformed Ed25519 public key")
		}
		keys = append(keys, Key{ID: thumbprint(pub), public: pub})
	}
	return newSet(EdDSA, keys)
}

func ed25519Key(priv ed25519.PrivateKey) Key {
	pub := priv.Public().(ed25519.PublicKey)
	return Key{ID: thumbprint(pub), public: pub, private: priv}
}

func hmacKey(secret []byte) Key {
	// The kid must not reveal the key: a domain-separated hash of it.
	h := sha256.Sum256(append([]byte("latchkey hs256 kid\x00"), secret...))
	return Key{ID: b64.EncodeToString(h[:16]), secret: secret}
}

var b64 = base64.RawURLEncoding

// thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key, a
// kid that anyone holding the key can recompute.
func thumbprint(pub ed25519.PublicKey) string {
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64.EncodeToString(pub) + `"}`))
	return b64.EncodeToString(h[:])
}

func newSet(alg string, keys []Key) (*Set, error) {
	s := &Set{alg: alg, methods: []string{alg}, signing: keys[0], byID: make(map[string]Key, len(keys))}
	switch alg {
	case EdDSA:
		s.method = jwt.SigningMethodEdDSA
	case HS256:
		s.method = jwt.SigningMethodHS256
	}
	type jwk struct {
		Kty string `json:"kty"`
		Crv string `json:"crv"`
		X   string `json:"x"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		Use string `json:"use"`
	}
	pub := []jwk{} // an HS256 Set publishes no keys: they are secret
	for _, k := range keys {
		if _, dup := s.byID[k.ID]; dup {
			continue
		}
		k.verifier = k.public
		if alg == HS256 {
			k.verifier = k.secret
		}
		s.byID[k.ID] = k
		if alg == EdDSA {
			pub = append(pub, jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k.public), Kid: k.ID, Alg: EdDSA, Use: "sig"})
		}
	}
	b, err := json.Marshal(map[string]any{"keys": pub})
	if err != nil {
		return nil, fmt.Errorf("jwtcookie: encode JWKS: %w", err)
	}
	s.jwks = b
	return s, nil
}

// Algorithm returns the Set's algorithm, EdDSA or HS256.
func (s *Set) Algorithm() string { return s.alg }

// SigningKeyID returns the kid new tokens carry.
func (s *Set) SigningKeyID() string { return s.signing.ID }

// JWKS returns the public keys as an RFC 7517 JWK Set (JSON), for
// /.well-known/jwks.json; for HS256 the set is empty.
func (s *Set) JWKS() []byte { return s.jwks }
