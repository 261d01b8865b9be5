package jwtcookie

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token types, in the "type" claim (Flask-JWT-Extended's) and, as media
// types, in the typ header, so neither can be used as the other.
const (
	Access  = "access"
	Refresh = "refresh"
)

var headerType = map[string]string{Access: "at+jwt", Refresh: "refresh+jwt"}

// MaxTokenBytes bounds what Parse looks at; ours are under 1 KiB.
const MaxTokenBytes = 4096

// Claims are what both tokens carry.
type Claims struct {
	jwt.RegisteredClaims
	// Type is Access or Refresh.
	Type string `json:"type"`
	// CSRF is the double-submit value the csrf_* cookies hold; a request
	// must echo it in a header, so a planted cookie is useless.
	CSRF string `json:"csrf"`
	// SessionID names the login (the token family) the token belongs to;
	// revoking it revokes every token descended from that login.
	SessionID string `json:"sid"`
	// Generation is the family's rotation count when the token was issued.
	Generation int64 `json:"gen"`
	// Username is for services that verify access tokens on their own.
	Username string `json:"name,omitempty"`
	// Roles are the user's roles when the token was signed, for the same
	// services; latchkey itself reads them from its store on each request.
	Roles []string `json:"roles,omitempty"`
}

// Validate checks the claims golang-jwt does not know; it runs after the
// signature and the registered claims have been verified.
func (c *Claims) Validate() error {
	switch {
	case c.Type != Access && c.Type != Refresh:
		return errors.New("unknown token type")
	case c.Subject == "" || c.ID == "" || c.SessionID == "" || c.CSRF == "":
		return errors.New("missing sub, jti, sid or csrf")
	case c.NotBefore == nil || c.IssuedAt == nil:
		return errors.New("missing nbf or iat")
	case c.Generation < 0:
		return errors.New("negative generation")
	}
	return nil
}

// Sign returns c signed with the Set's signing key, as a token of c.Type.
func (s *Set) Sign(c *Claims) (string, error) {
	typ, ok := headerType[c.Type]
	if !ok {
		return "", fmt.Errorf("jwtcookie: sign: unknown token type %q", c.Type)
	}
	t := jwt.NewWithClaims(s.method, c)
	t.Header["kid"] = s.signing.ID
	t.Header["typ"] = typ
	var key any = s.signing.private
	if s.alg == HS256 {
		key = s.signing.secret
	}
	tok, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("jwtcookie: sign: %w", err)
	}
	return tok, nil
}

// Expect is what Parse checks a token against.
type Expect struct {
	Type     string // Access or Refresh
	Issuer   string
	Audience string
	Now      func() time.Time
	// Leeway allows for clock skew between instances in exp, nbf and iat.
	Leeway time.Duration
}

// Errors from Parse.
var (
	// ErrInvalid: not one of our tokens, or not valid for this use.
	ErrInvalid = errors.New("jwtcookie: invalid token")
	// ErrExpired: an authentic token, valid in every other respect, whose
	// exp has passed. Parse returns its claims too.
	ErrExpired = errors.New("jwtcookie: token expired")
)

// Parse verifies tok and returns its claims. It returns ErrExpired, with
// the claims, for a token that is valid but for its expiry, and ErrInvalid
// (wrapping the reason) for anything else.
func (s *Set) Parse(tok string, want Expect) (*Claims, error) {
	if len(tok) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, MaxTokenBytes)
	}
	c, err := s.parse(tok, want, want.Now)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, jwt.ErrTokenExpired) || c == nil || c.ExpiresAt == nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	// Expired: is that all? Check again as of just before it expired.
	before := c.ExpiresAt.Add(-time.Second)
	if c, err = s.parse(tok, want, func() time.Time { return before }); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, ErrExpired
}

func (s *Set) parse(tok string, want Expect, now func() time.Time) (*Claims, error) {
	typ, ok := headerType[want.Type]
	if !ok {
		return nil, fmt.Errorf("unknown token type %q", want.Type)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods(s.methods),
		jwt.WithIssuer(want.Issuer),
		jwt.WithAudience(want.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(want.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	c := &Claims{}
	_, err := p.ParseWithClaims(tok, c, func(t *jwt.Token) (any, error) {
		for _, h := range [...]string{"jku", "jwk", "x5u", "x5c", "x5t", "crit"} {
			if _, ok := t.Header[h]; ok {
				return nil, fmt.Errorf("header %q refused: keys come from our key set only", h)
			}
		}
		if t.Header["typ"] != typ {
			return nil, fmt.Errorf("typ header %v, want %s", t.Header["typ"], typ)
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := s.byID[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		if t.Method != s.method {
			return nil, fmt.Errorf("algorithm %s refused", t.Method.Alg())
		}
		return k.verifier, nil
	})
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid) && !errors.Is(err, jwt.ErrTokenUnverifiable) && !errors.Is(err, jwt.ErrTokenMalformed) {
			return c, err
		}
		return nil, err
	}
	if c.Type != want.Type {
		return nil, fmt.Errorf("a %s token where a %s token is wanted", c.Type, want.Type)
	}
	return c, nil
}
