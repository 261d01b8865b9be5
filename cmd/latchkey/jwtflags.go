package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
)

// jwtOptions are the token-mode flags.
type jwtOptions struct {
	mode        string
	keyFiles    []string
	verifyFiles []string
}

func (j *jwtOptions) register(fs *flag.FlagSet, cfg *latchkey.Config) {
	fs.StringVar(&j.mode, "token-mode", "session", "session (server-side session cookie) or jwt (access + refresh JWTs in HttpOnly cookies)")
	fs.StringVar(&cfg.JWT.Algorithm, "jwt-alg", "EdDSA", "jwt mode: EdDSA (public keys at /.well-known/jwks.json) or HS256")
	fs.DurationVar(&cfg.JWT.AccessTTL, "jwt-access-ttl", 15*time.Minute, "jwt mode: access token lifetime")
	fs.DurationVar(&cfg.JWT.RefreshTTL, "jwt-refresh-ttl", 30*24*time.Hour, "jwt mode: how long a login lasts (refresh tokens expire this long after it)")
	fs.DurationVar(&cfg.JWT.ReuseGrace, "jwt-reuse-grace", 10*time.Second, "jwt mode: how long a just-used refresh token still gets the same new pair (concurrent tabs); 0 for none")
	fs.StringVar(&cfg.JWT.Issuer, "jwt-issuer", "", "jwt mode: iss claim (default: the public URL)")
	fs.StringVar(&cfg.JWT.Audience, "jwt-audience", "", "jwt mode: aud claim of access tokens (default: the issuer)")
	fs.Func("jwt-key-file", "jwt mode: PEM file with an Ed25519 private key (PKCS #8, e.g. from 'openssl genpkey -algorithm ed25519'); repeat to rotate, the first signs (default: keys derived from the secret)", func(s string) error {
		j.keyFiles = append(j.keyFiles, s)
		return nil
	})
	fs.Func("jwt-verify-key-file", "jwt mode: PEM file with an Ed25519 public key that verifies but never signs; repeatable", func(s string) error {
		j.verifyFiles = append(j.verifyFiles, s)
		return nil
	})
}

func (j *jwtOptions) apply(cfg *latchkey.Config) error {
	cfg.TokenMode = latchkey.TokenMode(strings.ToLower(j.mode))
	if cfg.JWT.ReuseGrace == 0 {
		cfg.JWT.ReuseGrace = -1 // asked for none; zero means the default in Config
	}
	if cfg.TokenMode != latchkey.TokenModeJWT && (len(j.keyFiles) > 0 || len(j.verifyFiles) > 0) {
		return errors.New("--jwt-key-file and --jwt-verify-key-file need --token-mode jwt")
	}
	for _, f := range j.keyFiles {
		k, err := readPEMKey(f, true)
		if err != nil {
			return fmt.Errorf("--jwt-key-file: %w", err)
		}
		cfg.JWT.SigningKeys = append(cfg.JWT.SigningKeys, k.(ed25519.PrivateKey))
	}
	for _, f := range j.verifyFiles {
		k, err := readPEMKey(f, false)
		if err != nil {
			return fmt.Errorf("--jwt-verify-key-file: %w", err)
		}
		cfg.JWT.VerificationKeys = append(cfg.JWT.VerificationKeys, k.(ed25519.PublicKey))
	}
	return nil
}

// readPEMKey reads one Ed25519 key, private (PKCS #8) or public (PKIX).
func readPEMKey(path string, private bool) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var k any
	if private {
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	} else {
		k, err = x509.ParsePKIXPublicKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch k.(type) {
	case ed25519.PrivateKey:
		if private {
			return k, nil
		}
	case ed25519.PublicKey:
		if !private {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s: not an Ed25519 %s key", path, map[bool]string{true: "private", false: "public"}[private])
}
