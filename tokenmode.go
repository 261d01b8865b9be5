package latchkey

import (
	"context"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/latchkey/latchkey/jwtcookie"
)

// TokenMode is how a logged-in browser is recognised.
type TokenMode string

const (
	// TokenModeSession keeps a server-side session referenced by one
	// HttpOnly cookie. The default.
	TokenModeSession TokenMode = "session"
	// TokenModeJWT keeps a short-lived signed access token and a
	// single-use refresh token in HttpOnly cookies, with CSRF by double
	// submit (Flask-JWT-Extended's cookies and header). Each login is a
	// token family, recorded as a Session, so logout and reuse detection
	// revoke it everywhere.
	TokenModeJWT TokenMode = "jwt"
)

// JWTConfig configures TokenModeJWT.
type JWTConfig struct {
	// Algorithm is jwtcookie.EdDSA (default) or jwtcookie.HS256. EdDSA
	// public keys are published at /.well-known/jwks.json.
	Algorithm string
	// SigningKeys are Ed25519 keys: the first signs, all verify. Default:
	// keys derived from Secrets (first signs, all verify), so instances that
	// share the secret share the keys.
	SigningKeys []ed25519.PrivateKey
	// VerificationKeys verify but never sign: keys being rotated in or out.
	VerificationKeys []ed25519.PublicKey
	// Issuer is the iss claim. Default PublicURL, else "latchkey".
	Issuer string
	// Audience is the aud claim of access tokens, which services that
	// verify them check. Default Issuer. Refresh tokens have their own
	// audience, the refresh endpoint, so one cannot pass for the other.
	Audience string
	// AccessTTL is how long an access token is valid. Default 15m.
	AccessTTL time.Duration
	// RefreshTTL is how long a login lasts: its refresh tokens expire this
	// long after the password was entered, however often they rotate.
	// Default 30 days.
	RefreshTTL time.Duration
	// ReuseGrace is how long after a rotation the refresh token it consumed
	// still yields the same new pair, so concurrent refreshes from several
	// tabs all succeed. Reuse after it revokes the family. It is counted in
	// whole seconds, as token timestamps are: at least ReuseGrace, less
	// than a second more. Default 10s; negative for none, which makes
	// concurrent refreshes from several tabs end the login.
	ReuseGrace time.Duration
	// Leeway allows for clock skew between instances in exp, nbf and iat.
	// Default 1s.
	Leeway time.Duration
}

// Token-mode cookie names are Flask-JWT-Extended's, so its frontends work.
// The HttpOnly ones get __Host-/__Secure- when cookies are Secure; the
// csrf_* ones never do, as scripts read them by name (a planted one is
// useless: the value must match a claim of the signed token).
const (
	accessCookie      = "access_token_cookie"
	refreshCookie     = "refresh_token_cookie"
	csrfAccessCookie  = "csrf_access_token"
	csrfRefreshCookie = "csrf_refresh_token"
	securePrefix      = "__Secure-"
)

func (c JWTConfig) withDefaults(publicURL string) JWTConfig {
	if c.Algorithm == "" {
		c.Algorithm = jwtcookie.EdDSA
	}
	if c.Issuer == "" {
		c.Issuer = publicURL
	}
	if c.Issuer == "" {
		c.Issuer = "latchkey"
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	for _, d := range []struct {
		p *time.Duration
		v time.Duration
	}{{&c.AccessTTL, 15 * time.Minute}, {&c.RefreshTTL, 30 * 24 * time.Hour}, {&c.ReuseGrace, 10 * time.Second}, {&c.Leeway, time.Second}} {
		if *d.p == 0 {
			*d.p = d.v
		}
	}
	return c
}

func (c JWTConfig) validate() []error {
	var errs []error
	if c.AccessTTL < time.Second || c.RefreshTTL < c.AccessTTL {
		errs = append(errs, errors.New("JWT lifetimes: the access token must live at least 1s and no longer than the refresh token"))
	}
	if c.Leeway < 0 || c.ReuseGrace > time.Minute {
		errs = append(errs, errors.New("JWT reuse grace must be at most 1m, and leeway not negative"))
	}
	if len(c.SigningKeys) > 0 && c.Algorithm != jwtcookie.EdDSA {
		errs = append(errs, errors.New("JWT signing keys are Ed25519: use the EdDSA algorithm"))
	}
	return errs
}

// tokens is what token mode adds to an Auth.
type tokens struct {
	cfg        JWTConfig
	keys       *jwtcookie.Set
	derive     []byte // HMAC key for the jti and csrf values, which must repeat within the grace window
	refreshAud string
	refreshURL string // the refresh cookie's Path
}

func newTokens(cfg Config) (*tokens, error) {
	var keys *jwtcookie.Set
	var err error
	if len(cfg.JWT.SigningKeys) > 0 {
		keys, err = jwtcookie.NewEd25519(cfg.JWT.SigningKeys, cfg.JWT.VerificationKeys)
	} else {
		keys, err = jwtcookie.FromSecrets(cfg.JWT.Algorithm, cfg.Secrets)
	}
	if err != nil {
		return nil, fmt.Errorf("latchkey: JWT keys: %w", err)
	}
	derive, err := hkdf.Key(sha256.New, cfg.Secrets[0], nil, "latchkey jwt values v1", 32)
	if err != nil {
		return nil, fmt.Errorf("latchkey: derive JWT key: %w", err)
	}
	refreshURL := cfg.APIPrefix + "/auth/refresh"
	return &tokens{cfg: cfg.JWT, keys: keys, derive: derive, refreshURL: refreshURL, refreshAud: cfg.JWT.Issuer + refreshURL}, nil
}

func (t *tokens) expect(typ string, now time.Time) jwtcookie.Expect {
	aud := t.cfg.Audience
	if typ == jwtcookie.Refresh {
		aud = t.refreshAud
	}
	return jwtcookie.Expect{Type: typ, Issuer: t.cfg.Issuer, Audience: aud, Now: func() time.Time { return now }, Leeway: t.cfg.Leeway}
}

// value derives a jti or CSRF value from the family and generation, so
// that the grace window can hand out the same pair again without storing it.
func (t *tokens) value(what, sid string, gen int64) string {
	m := hmac.New(sha256.New, t.derive)
	m.Write([]byte(what + "\x00" + sid + "\x00" + strconv.FormatInt(gen, 10)))
	return b64.EncodeToString(m.Sum(nil))
}

// familyHash is the store key of a token family. The prefix keeps it apart
// from session-token hashes, so a family id is never a session cookie.
func familyHash(sid string) []byte {
	const prefix = "latchkey jwt family\x00"
	var buf [len(prefix) + 64]byte // on the stack: sids are 43 bytes
	h := sha256.Sum256(append(append(buf[:0], prefix...), sid...))
	return h[:]
}

// subjectIs reports whether a token's sub claim is the user id id, in the
// decimal form pair writes, without allocating that form.
func subjectIs(sub string, id int64) bool {
	var buf [20]byte
	return string(strconv.AppendInt(buf[:0], id, 10)) == sub
}

// pair mints the access and refresh tokens of s's current generation. It
// is a pure function of s (and the keys), so within the grace window a
// second refresh gets the very same pair.
func (t *tokens) pair(s *Session, sid string, u *User) (access, refresh string, c jwtcookie.Claims, err error) {
	iat := s.RotatedAt.Truncate(time.Second)
	c = jwtcookie.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.cfg.Issuer,
			Subject:   strconv.FormatInt(u.ID, 10),
			Audience:  jwt.ClaimStrings{t.cfg.Audience},
			ExpiresAt: jwt.NewNumericDate(minTime(iat.Add(t.cfg.AccessTTL), s.ExpiresAt)),
			NotBefore: jwt.NewNumericDate(iat),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        t.value("access jti", sid, s.Generation),
		},
		Type:       jwtcookie.Access,
		CSRF:       t.value("csrf", sid, s.Generation),
		SessionID:  sid,
		Generation: s.Generation,
		Username:   u.Username,
		Roles:      u.Roles,
	}
	if access, err = t.keys.Sign(&c); err != nil {
		return "", "", c, err
	}
	rc := c
	rc.Type = jwtcookie.Refresh
	rc.Audience = jwt.ClaimStrings{t.refreshAud}
	rc.ExpiresAt = jwt.NewNumericDate(s.ExpiresAt)
	rc.ID = t.value("refresh jti", sid, s.Generation)
	if refresh, err = t.keys.Sign(&rc); err != nil {
		return "", "", c, err
	}
	return access, refresh, c, nil
}

// jwtCookies returns the non-empty values of the cookies named name, at
// most maxCookieCandidates (all reports whether that is every one). Callers
// try each: a cookie planted beside ours must not log the user out.
func jwtCookies(r *http.Request, name string) (vals []string, all bool) {
	all = true
	for _, c := range r.CookiesNamed(name) {
		if c.Value == "" || slices.Contains(vals, c.Value) {
			continue
		}
		if len(vals) == maxCookieCandidates {
			return vals, false
		}
		vals = append(vals, c.Value)
	}
	return vals, all
}

func accessCookieName(secure bool) string { return cookieName(accessCookie, secure) }

func refreshCookieName(secure bool) string {
	if secure {
		return securePrefix + refreshCookie // __Host- forbids the Path it needs
	}
	return refreshCookie
}

// loadJWT reads the access token into cur. An authentic but expired token
// leaves the browser logged out with cur.expired set (so the answer is
// token_expired, and logout can still revoke its family); anything else
// invalid, or a revoked family, reads as logged out and clears the cookies.
func (a *Auth) loadJWT(ctx context.Context, w http.ResponseWriter, r *http.Request, cur *current) error {
	raws, all := jwtCookies(r, accessCookieName(cur.cookies.secure))
	var (
		s       *Session
		u       *User
		claims  *jwtcookie.Claims
		expired *jwtcookie.Claims // an authentic but expired token, if no live one
	)
	for _, raw := range raws {
		c, err := a.tokens.keys.Parse(raw, a.tokens.expect(jwtcookie.Access, cur.now))
		if errors.Is(err, jwtcookie.ErrExpired) {
			if expired == nil {
				expired = c
			}
			continue
		}
		if err != nil {
			continue
		}
		cs, cu, err := a.sessionUser(ctx, familyHash(c.SessionID), cur.now)
		if errors.Is(err, ErrNotFound) || err == nil && !subjectIs(c.Subject, cs.UserID) {
			continue // revoked: logged out, or reuse was detected
		}
		if err != nil {
			return fmt.Errorf("load token family: %w", err)
		}
		if s != nil && u.ID != cu.ID {
			a.log.WarnContext(ctx, "access tokens of two users in one request; treated as logged out", "ip", a.ClientIP(r))
			return nil
		}
		if s == nil {
			s, u, claims = cs, cu, c
		}
	}
	switch {
	case s != nil:
		cur.session, cur.user, cur.csrfClaim, cur.familyHash = s, u, claims.CSRF, s.TokenHash
	case expired != nil:
		cur.expired, cur.csrfClaim, cur.familyHash = true, expired.CSRF, familyHash(expired.SessionID)
	case len(raws) > 0 && all:
		a.clearTokenCookies(w, cur) // none of them is any good
	}
	return nil
}

// startFamily is startSession for token mode: a new family, generation 0,
// replacing any the browser had.
func (a *Auth) startFamily(w http.ResponseWriter, r *http.Request, cur *current, u *User, remember bool) (string, error) {
	ctx := r.Context()
	if cur.familyHash != nil {
		if err := a.deleteSession(ctx, cur.familyHash, endReplaced); err != nil {
			return "", fmt.Errorf("drop old token family: %w", err)
		}
	}
	now := cur.now
	id := newToken()
	sid := encodeToken(id)
	s := &Session{
		TokenHash:     familyHash(sid),
		UserID:        u.ID,
		CreatedAt:     now,
		LastSeenAt:    now,
		IdleExpiresAt: now.Add(a.tokens.cfg.RefreshTTL),
		ExpiresAt:     now.Add(a.tokens.cfg.RefreshTTL),
		Remember:      remember,
		Fresh:         true,
		UserAgent:     truncateUA(r.UserAgent()),
		IP:            a.ClientIP(r),
		RotatedAt:     now.Truncate(time.Second),
		UserEpoch:     u.Epoch,
	}
	if err := a.createSession(ctx, s); err != nil {
		return "", fmt.Errorf("create token family: %w", err)
	}
	// The anonymous cookie stays, as in session mode (see startSession).
	if err := a.setTokenCookies(w, cur, s, sid, u); err != nil {
		return "", err
	}
	return cur.csrfClaim, nil
}

// setTokenCookies mints s's pair and sets the four cookies and the
// X-CSRFToken header. Cookies persist until the family's end for "remember
// me", else for the browser session; the access cookie lives as long as
// the refresh cookie so an expired token still arrives and gets the
// token_expired answer that makes clients refresh.
func (a *Auth) setTokenCookies(w http.ResponseWriter, cur *current, s *Session, sid string, u *User) error {
	access, refresh, c, err := a.tokens.pair(s, sid, u)
	if err != nil {
		return err
	}
	var expires time.Time
	if s.Remember {
		expires = s.ExpiresAt
	}
	cw := cur.cookies
	cw.setNamed(w, accessCookieName(cw.secure), "/", access, true, expires)
	cw.setNamed(w, refreshCookieName(cw.secure), a.tokens.refreshURL, refresh, true, expires)
	cw.setNamed(w, csrfAccessCookie, "/", c.CSRF, false, expires)
	cw.setNamed(w, csrfRefreshCookie, "/", c.CSRF, false, expires)
	w.Header()["X-CSRFToken"] = []string{c.CSRF}
	cur.session, cur.user, cur.csrfClaim, cur.familyHash, cur.expired = s, u, c.CSRF, s.TokenHash, false
	return nil
}

func (a *Auth) clearTokenCookies(w http.ResponseWriter, cur *current) {
	cw := cur.cookies
	cw.clearNamed(w, accessCookieName(cw.secure), "/", true)
	cw.clearNamed(w, refreshCookieName(cw.secure), a.tokens.refreshURL, true)
	cw.clearNamed(w, csrfAccessCookie, "/", false)
	cw.clearNamed(w, csrfRefreshCookie, "/", false)
}

// refreshTokens rotates the browser's refresh token: the token of generation g
// of a family yields generation g+1 once (a compare-and-swap in the store,
// so one winner across all instances). Within ReuseGrace of that rotation
// the same token yields the same g+1 pair again, for concurrent tabs; any
// other reuse means the token was copied, and the whole family is revoked.
func (a *Auth) refreshTokens(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := a.crossOrigin(r, r.Method); err != nil {
		return &csrfError{"cross-origin request refused"}
	}
	c, err := a.refreshClaims(w, r, cur)
	if err != nil {
		return err
	}
	ctx := r.Context()
	fh := familyHash(c.SessionID)
	for range 3 {
		s, u, err := a.sessionUser(ctx, fh, cur.now)
		if errors.Is(err, ErrNotFound) || err == nil && !subjectIs(c.Subject, s.UserID) {
			a.clearTokenCookies(w, cur)
			return ErrUnauthorized
		}
		if err != nil {
			return fmt.Errorf("load token family: %w", err)
		}
		switch {
		case c.Generation == s.Generation:
			next := *s
			next.Generation++
			next.RotatedAt = cur.now.Truncate(time.Second)
			next.LastSeenAt = cur.now
			next.Fresh = false // only a password makes a login fresh
			err := timedErr(a.met.op(opRotateSession), func() error { return a.sessions.RotateSession(ctx, &next, s.Generation) })
			if errors.Is(err, ErrConflict) {
				continue // another refresh won; see what it made
			}
			if errors.Is(err, ErrNotFound) {
				a.clearTokenCookies(w, cur)
				return ErrUnauthorized
			}
			if err != nil {
				return fmt.Errorf("rotate token family: %w", err)
			}
			return a.refreshed(w, cur, &next, c.SessionID, u)
		case c.Generation == s.Generation-1 && a.tokens.cfg.ReuseGrace >= 0 && !cur.now.Truncate(time.Second).After(s.RotatedAt.Add(a.tokens.cfg.ReuseGrace)):
			// RotatedAt is whole seconds, so "now" is too: else a rotation
			// late in its second would shorten the grace by up to 1s.
			return a.refreshed(w, cur, s, c.SessionID, u)
		default:
			if err := a.deleteSession(ctx, fh, endReused); err != nil {
				return fmt.Errorf("revoke token family: %w", err)
			}
			a.record(WithClient(ctx, a.ClientIP(r), r.UserAgent()), Event{Type: EventRefreshTokenReuse, UserID: s.UserID,
				Detail: fmt.Sprintf("generation %d used after %d: that login was ended", c.Generation, s.Generation)})
			a.clearTokenCookies(w, cur)
			return ErrTokenReused
		}
	}
	return &retryError{err: ErrBusy, after: time.Second}
}

// refreshClaims finds the refresh token to rotate: of the refresh cookies
// sent (one planted beside ours must not get in the way), the authentic one
// whose CSRF value the request's header carries.
func (a *Auth) refreshClaims(w http.ResponseWriter, r *http.Request, cur *current) (*jwtcookie.Claims, error) {
	raws, all := jwtCookies(r, refreshCookieName(cur.cookies.secure))
	if len(raws) == 0 {
		return nil, ErrUnauthorized
	}
	tok, hasTok := requestCSRFToken(r)
	authentic := false
	for _, raw := range raws {
		c, err := a.tokens.keys.Parse(raw, a.tokens.expect(jwtcookie.Refresh, cur.now))
		if err != nil {
			continue
		}
		authentic = true
		if hasTok && subtle.ConstantTimeCompare([]byte(tok), []byte(c.CSRF)) == 1 {
			return c, nil
		}
	}
	if !authentic {
		if all {
			a.clearTokenCookies(w, cur)
		}
		return nil, ErrUnauthorized
	}
	return nil, &csrfError{"missing or wrong token; send the csrf_refresh_token cookie's value in the X-CSRF-TOKEN header"}
}

func (a *Auth) refreshed(w http.ResponseWriter, cur *current, s *Session, sid string, u *User) error {
	if err := a.setTokenCookies(w, cur, s, sid, u); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"refresh": true, "user": publicUser(u)})
	return nil
}

// JWKSHandler serves the public keys that verify access tokens, as a JWK
// Set, for /.well-known/jwks.json; other services fetch it. In session
// mode, or with HS256, the set is empty.
func (a *Auth) JWKSHandler() http.Handler {
	body := []byte(`{"keys":[]}`)
	if a.tokens != nil {
		body = a.tokens.keys.JWKS()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("Access-Control-Allow-Origin", "*") // public keys, for any verifier
		h.Set("X-Content-Type-Options", "nosniff")
		w.Write(body)
	})
}
