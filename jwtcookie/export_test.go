package jwtcookie

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
)

// DerivedEd25519Key is the signing key FromSecrets derives from secret,
// for tests that forge tokens a key holder could sign.
func DerivedEd25519Key(secret []byte) ed25519.PrivateKey {
	seed, err := hkdf.Key(sha256.New, secret, nil, "latchkey jwt ed25519 v1", ed25519.SeedSize)
	if err != nil {
		panic(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}
