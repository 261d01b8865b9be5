package jwtcookie_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey/jwtcookie"
)

var (
	secret  = []byte("0123456789abcdef0123456789abcdef-test-secret")
	secret2 = []byte("fedcba9876543210fedcba9876543210-old-secret!")
	t0      = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	b64     = base64.RawURLEncoding
)

func newSet(tb testing.TB, alg string, secrets ...[]byte) *jwtcookie.Set {
	tb.Helper()
	if len(secrets) == 0 {
		secrets = [][]byte{secret}
	}
	s, err := jwtcookie.FromSecrets(alg, secrets)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func claims(typ string) *jwtcookie.Claims {
	return &jwtcookie.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "https://auth.example.com",
			Subject:   "42",
			Audience:  jwt.ClaimStrings{"https://api.example.com"},
			ExpiresAt: jwt.NewNumericDate(t0.Add(15 * time.Minute)),
			NotBefore: jwt.NewNumericDate(t0),
			IssuedAt:  jwt.NewNumericDate(t0),
			ID:        "jti-1",
		},
		Type:       typ,
		CSRF:       "csrf-value",
		SessionID:  "family-1",
		Generation: 3,
		Username:   "alice",
	}
}

func expect(typ string, at time.Time) jwtcookie.Expect {
	return jwtcookie.Expect{Type: typ, Issuer: "https://auth.example.com", Audience: "https://api.example.com", Now: func() time.Time { return at }, Leeway: 5 * time.Second}
}

func sign(tb testing.TB, s *jwtcookie.Set, c *jwtcookie.Claims) string {
	tb.Helper()
	tok, err := s.Sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestRoundTrip(t *testing.T) {
	for _, alg := range []string{jwtcookie.EdDSA, jwtcookie.HS256} {
		for _, typ := range []string{jwtcookie.Access, jwtcookie.Refresh} {
			t.Run(alg+"/"+typ, func(t *testing.T) {
				s := newSet(t, alg)
				want := claims(typ)
				got, err := s.Parse(sign(t, s, want), expect(typ, t0.Add(time.Minute)))
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got.Subject != "42" || got.SessionID != "family-1" || got.Generation != 3 || got.CSRF != "csrf-value" || got.Username != "alice" || got.Type != typ {
					t.Errorf("claims = %+v, want those signed", got)
				}
			})
		}
	}
}

// Signing is deterministic (Ed25519 and HMAC both are), which the refresh
// grace window relies on to hand out the same pair twice.
func TestSignIsDeterministic(t *testing.T) {
	s := newSet(t, jwtcookie.EdDSA)
	if a, b := sign(t, s, claims(jwtcookie.Access)), sign(t, s, claims(jwtcookie.Access)); a != b {
		t.Errorf("two signatures of the same claims differ:\n%s\n%s", a, b)
	}
}

func TestKeyRotation(t *testing.T) {
	old := newSet(t, jwtcookie.EdDSA, secret2)
	rotated := newSet(t, jwtcookie.EdDSA, secret, secret2)
	tok := sign(t, old, claims(jwtcookie.Access))
	if _, err := rotated.Parse(tok, expect(jwtcookie.Access, t0)); err != nil {
		t.Errorf("a token of the old key after rotation: %v, want accepted", err)
	}
	if rotated.SigningKeyID() == old.SigningKeyID() {
		t.Error("the rotated set signs with the old key")
	}
	if _, err := newSet(t, jwtcookie.EdDSA, secret).Parse(tok, expect(jwtcookie.Access, t0)); !errors.Is(err, jwtcookie.ErrInvalid) {
		t.Errorf("a token of a retired key: %v, want ErrInvalid", err)
	}
}

func TestJWKSVerifiesTokens(t *testing.T) {
	s := newSet(t, jwtcookie.EdDSA, secret, secret2)
	var set struct {
		Keys []struct{ Kty, Crv, X, Kid, Alg, Use string } `json:"keys"`
	}
	if err := json.Unmarshal(s.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
	tok := sign(t, s, claims(jwtcookie.Access))
	// Verify as an outside service would: find the kid, use its x.
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.Kid == tk.Header["kid"] && k.Kty == "OKP" && k.Crv == "Ed25519" && k.Alg == "EdDSA" && k.Use == "sig" {
				x, err := b64.DecodeString(k.X)
				return ed25519.PublicKey(x), err
			}
		}
		return nil, errors.New("kid not in JWKS")
	}, jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(func() time.Time { return t0 }))
	if err != nil || !parsed.Valid {
		t.Fatalf("verifying with the published key: %v", err)
	}
	if hs := newSet(t, jwtcookie.HS256); string(hs.JWKS()) != `{"keys":[]}` {
		t.Errorf("HS256 JWKS = %s, want no keys published", hs.JWKS())
	}
}

func TestExplicitKeys(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	outPub, outPriv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := jwtcookie.NewEd25519([]ed25519.PrivateKey{priv}, []ed25519.PublicKey{outPub})
	if err != nil {
		t.Fatal(err)
	}
	outgoing, err := jwtcookie.NewEd25519([]ed25519.PrivateKey{outPriv}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Parse(sign(t, outgoing, claims(jwtcookie.Access)), expect(jwtcookie.Access, t0)); err != nil {
		t.Errorf("token of a verification-only key: %v", err)
	}
	if _, err := jwtcookie.NewEd25519(nil, nil); err == nil {
		t.Error("no signing key accepted")
	}
	if _, err := jwtcookie.NewEd25519([]ed25519.PrivateKey{priv[:10]}, nil); err == nil {
		t.Error("truncated key accepted")
	}
}

// forge builds a token from raw header and claims, signed by signer over
// the signing input (nil: no signature).
func forge(header, payload map[string]any, signer func(input string) []byte) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	var sig []byte
	if signer != nil {
		sig = signer(input)
	}
	return input + "." + b64.EncodeToString(sig)
}

func payloadOf(tb testing.TB, c *jwtcookie.Claims) map[string]any {
	tb.Helper()
	b, _ := json.Marshal(c)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

func headerOf(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	b, err := b64.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// ed25519Signer signs with priv, as a holder of that key would.
func ed25519Signer(priv ed25519.PrivateKey) func(string) []byte {
	return func(in string) []byte { return ed25519.Sign(priv, []byte(in)) }
}

func TestAttacks(t *testing.T) {
	s := newSet(t, jwtcookie.EdDSA)
	good := sign(t, s, claims(jwtcookie.Access))
	kid := s.SigningKeyID()
	var jwks struct {
		Keys []struct{ X string } `json:"keys"`
	}
	json.Unmarshal(s.JWKS(), &jwks)
	pub, _ := b64.DecodeString(jwks.Keys[0].X)
	attackerPub, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
	access := payloadOf(t, claims(jwtcookie.Access))
	edHeader := func(extra map[string]any) map[string]any {
		h := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
		for k, v := range extra {
			h[k] = v
		}
		return h
	}
	with := func(changes map[string]any) map[string]any {
		p := map[string]any{}
		for k, v := range access {
			p[k] = v
		}
		for k, v := range changes {
			if v == nil {
				delete(p, k)
			} else {
				p[k] = v
			}
		}
		return p
	}
	hmacWith := func(key []byte) func(string) []byte {
		return func(in string) []byte {
			sig, _ := jwt.SigningMethodHS256.Sign(in, key)
			return sig
		}
	}
	parts := strings.Split(good, ".")
	tamperedPayload := with(map[string]any{"sub": "1"})
	tp, _ := json.Marshal(tamperedPayload)

	cases := []struct {
		name string
		tok  string
	}{
		{"alg none", forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, access, nil)},
		{"alg none, our signature kept", forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": kid}, access, nil) + parts[2]},
		{"HS256 signed with the public key", forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, access, hmacWith(pub))},
		{"HS256 signed with the public key as JWK x", forge(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": kid}, access, hmacWith([]byte(jwks.Keys[0].X)))},
		{"unknown kid", forge(edHeader(map[string]any{"kid": "attacker"}), access, ed25519Signer(attackerPriv))},
		{"no kid", forge(map[string]any{"alg": "EdDSA", "typ": "at+jwt"}, access, ed25519Signer(attackerPriv))},
		{"kid of another type", forge(edHeader(map[string]any{"kid": 7}), access, ed25519Signer(attackerPriv))},
		{"kid path traversal", forge(edHeader(map[string]any{"kid": "../../dev/null"}), access, hmacWith(nil))},
		{"attacker key in jwk header", forge(edHeader(map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64.EncodeToString(attackerPub)}}), access, ed25519Signer(attackerPriv))},
		{"jku header", forge(edHeader(map[string]any{"jku": "https://evil.example/jwks.json"}), access, ed25519Signer(attackerPriv))},
		{"x5u header", forge(edHeader(map[string]any{"x5u": "https://evil.example/cert.pem"}), access, ed25519Signer(attackerPriv))},
		{"our kid, attacker key", forge(edHeader(nil), access, ed25519Signer(attackerPriv))},
		{"tampered payload", parts[0] + "." + b64.EncodeToString(tp) + "." + parts[2]},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"padded base64", parts[0] + "=." + parts[1] + "." + parts[2]},
		{"standard base64 alphabet", parts[0] + "." + parts[1] + "." + strings.NewReplacer("-", "+", "_", "/").Replace(parts[2]) + "+"},
		{"two parts", parts[0] + "." + parts[1]},
		{"four parts", good + "." + parts[2]},
		{"empty", ""},
		{"oversized", good + strings.Repeat("A", jwtcookie.MaxTokenBytes)},
		{"refresh token as access", sign(t, s, claims(jwtcookie.Refresh))},
		{"refresh typ header on access claims", forgeSigned(t, s, map[string]any{"typ": "refresh+jwt"}, access)},
		{"access typ header, refresh type claim", forgeSigned(t, s, nil, with(map[string]any{"type": "refresh"}))},
		{"wrong audience", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) { c.Audience = jwt.ClaimStrings{"https://other.example.com"} }))},
		{"empty audience list", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) { c.Audience = jwt.ClaimStrings{} }))},
		{"no audience", forgeSigned(t, s, nil, with(map[string]any{"aud": nil}))},
		{"wrong issuer", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) { c.Issuer = "https://evil.example" }))},
		{"no exp", forgeSigned(t, s, nil, with(map[string]any{"exp": nil}))},
		{"no sid", forgeSigned(t, s, nil, with(map[string]any{"sid": nil}))},
		{"no csrf", forgeSigned(t, s, nil, with(map[string]any{"csrf": nil}))},
		{"not yet valid", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) { c.NotBefore = jwt.NewNumericDate(t0.Add(time.Hour)) }))},
		{"issued in the future", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) { c.IssuedAt = jwt.NewNumericDate(t0.Add(time.Hour)) }))},
		{"expired and wrong audience", sign(t, s, withClaims(claims(jwtcookie.Access), func(c *jwtcookie.Claims) {
			c.Audience = jwt.ClaimStrings{"https://other.example.com"}
			c.ExpiresAt = jwt.NewNumericDate(t0.Add(-time.Hour))
			c.IssuedAt = jwt.NewNumericDate(t0.Add(-2 * time.Hour))
			c.NotBefore = c.IssuedAt
		}))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.Parse(tc.tok, expect(jwtcookie.Access, t0.Add(time.Minute)))
			if !errors.Is(err, jwtcookie.ErrInvalid) || c != nil {
				t.Errorf("Parse = %+v, %v; want nil, ErrInvalid", c, err)
			}
		})
	}
	// The valid token the attacks start from is accepted, so the cases
	// above fail for their own reason.
	if _, err := s.Parse(good, expect(jwtcookie.Access, t0.Add(time.Minute))); err != nil {
		t.Fatalf("the untampered token: %v", err)
	}
	if h := headerOf(t, good); h["alg"] != "EdDSA" || h["kid"] != kid || h["typ"] != "at+jwt" {
		t.Errorf("header = %v", h)
	}
}

// HS256 sets refuse EdDSA tokens and the reverse.
func TestAlgorithmAllowList(t *testing.T) {
	ed, hs := newSet(t, jwtcookie.EdDSA), newSet(t, jwtcookie.HS256)
	if _, err := hs.Parse(sign(t, ed, claims(jwtcookie.Access)), expect(jwtcookie.Access, t0)); !errors.Is(err, jwtcookie.ErrInvalid) {
		t.Errorf("EdDSA token on an HS256 set: %v", err)
	}
	if _, err := ed.Parse(sign(t, hs, claims(jwtcookie.Access)), expect(jwtcookie.Access, t0)); !errors.Is(err, jwtcookie.ErrInvalid) {
		t.Errorf("HS256 token on an EdDSA set: %v", err)
	}
	if _, err := jwtcookie.FromSecrets("RS256", [][]byte{secret}); err == nil {
		t.Error("RS256 accepted as an algorithm")
	}
}

func TestExpiry(t *testing.T) {
	s := newSet(t, jwtcookie.EdDSA)
	tok := sign(t, s, claims(jwtcookie.Access))
	exp := t0.Add(15 * time.Minute)
	if _, err := s.Parse(tok, expect(jwtcookie.Access, exp.Add(4*time.Second))); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	c, err := s.Parse(tok, expect(jwtcookie.Access, exp.Add(time.Hour)))
	if !errors.Is(err, jwtcookie.ErrExpired) || c == nil || c.SessionID != "family-1" {
		t.Errorf("an hour after expiry: %+v, %v; want the claims and ErrExpired", c, err)
	}
	if _, err := s.Parse(tok, expect(jwtcookie.Refresh, exp.Add(time.Hour))); !errors.Is(err, jwtcookie.ErrInvalid) {
		t.Errorf("expired access token parsed as refresh: %v, want ErrInvalid", err)
	}
	other := newSet(t, jwtcookie.EdDSA, secret2)
	if _, err := other.Parse(tok, expect(jwtcookie.Access, exp.Add(time.Hour))); !errors.Is(err, jwtcookie.ErrInvalid) {
		t.Errorf("expired token of a foreign key: %v, want ErrInvalid, not ErrExpired", err)
	}
}

func withClaims(c *jwtcookie.Claims, f func(*jwtcookie.Claims)) *jwtcookie.Claims {
	f(c)
	return c
}

// forgeSigned signs an arbitrary payload with the set's real key through a
// second set derived from the same secret, to show that validation, not
// just the signature, refuses it.
func forgeSigned(tb testing.TB, s *jwtcookie.Set, header map[string]any, payload map[string]any) string {
	tb.Helper()
	seedSet := s
	h := map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": seedSet.SigningKeyID()}
	for k, v := range header {
		h[k] = v
	}
	priv := derivedKey(tb)
	return forge(h, payload, ed25519Signer(priv))
}

// derivedKey recomputes the Ed25519 key FromSecrets derives from secret.
func derivedKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	return jwtcookie.DerivedEd25519Key(secret)
}
