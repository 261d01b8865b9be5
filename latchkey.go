package latchkey

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/rs/cors"

	"github.com/latchkey/latchkey/internal/forward"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/password"
)

// Auth is latchkey's authentication service: the JSON API, the Require
// middleware and the session logic behind both. It is safe for concurrent use.
type Auth struct {
	cfg       Config
	users     UserStore
	sessions  SessionStore
	finder    SessionUserFinder // nil unless users and sessions are one store that has it
	log       *slog.Logger
	now       func() time.Time
	hasher    *password.Hasher
	keys      csrfKeys
	cop       *http.CrossOriginProtection
	hashSem   chan struct{}
	throttles *throttles
	cors      *cors.Cors // nil without AllowedOrigins
	refusals  *refusalLog
	// accountTokens keeps mailed links: the session store, if it can.
	accountTokens AccountTokenStore
	events        EventStore      // the user store's, else the session store's
	passkeys      *passkeyService // nil when no relying party is configured
	sessionIDKeys [][]byte        // for the public IDs of sessions (SessionInfo)
	bgSem         chan struct{}   // mail work running after its request
	bgWait        sync.WaitGroup
	tokens        *tokens // nil in session mode
	// Second factors: the user store's factors, the session store's
	// pending logins, the keys TOTP secrets are sealed with, the key of
	// pendingChallenge, and the methods of the second login step.
	factors      MFAStore
	pending      PendingLoginStore
	seal         *seal.Keys
	challengeKey []byte
	loginMethods []loginMethod
	// emailCodeKey keys the hashes of email sign-in codes (emaillogin.go).
	emailCodeKey []byte
	gateway      http.Handler
	handler      http.Handler
	met          *metrics // nil with Config.DisableMetrics

	// For the forms of the hosted pages: the keys that sign the flash
	// cookie (TakeFlash), and the origins besides this one that ReturnTo
	// accepts.
	flashKeys     [][]byte
	returnOrigins []string
}

// New returns an Auth serving cfg with the given stores.
func New(cfg Config, users UserStore, sessions SessionStore) (*Auth, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if users == nil || sessions == nil {
		return nil, errors.New("latchkey: New needs a user store and a session store")
	}
	keys, err := newCSRFKeys(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	a := &Auth{
		cfg:       cfg,
		users:     users,
		sessions:  sessions,
		log:       cfg.Logger,
		now:       cfg.Now,
		hasher:    password.New(cfg.Argon2),
		keys:      keys,
		cop:       http.NewCrossOriginProtection(),
		hashSem:   make(chan struct{}, cfg.MaxConcurrentHashes),
		throttles: newThrottles(cfg, sessions),
		refusals:  newRefusalLog(cfg.Logger, cfg.Now),
	}
	if len(cfg.AllowedOrigins) > 0 {
		// Exact origins only (ParseOrigin refused wildcards and null); the
		// methods and headers are those the API and clients actually use.
		a.cors = cors.New(cors.Options{
			AllowedOrigins:   cfg.AllowedOrigins,
			AllowCredentials: true,
			AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   append([]string{"Content-Type"}, csrfHeaders[:]...),
			// The rotated token, and how long to wait after a 429 or 503:
			// neither is CORS-safelisted, so scripts would not see them.
			ExposedHeaders: []string{"X-CSRFToken", "Retry-After"},
			MaxAge:         600,
		})
		for _, o := range cfg.AllowedOrigins {
			if err := a.cop.AddTrustedOrigin(o); err != nil {
				return nil, fmt.Errorf("latchkey: trusted origin %s: %w", o, err)
			}
		}
	}
	if cfg.TokenMode == TokenModeJWT {
		if a.tokens, err = newTokens(cfg); err != nil {
			return nil, err
		}
	}
	if cfg.Upstream != nil {
		a.gateway = a.newGateway(cfg.Upstream)
	}
	var ok bool
	if a.accountTokens, ok = sessions.(AccountTokenStore); !ok {
		return nil, fmt.Errorf("%w: %T; the account flows (password reset, email verification) keep their links there", ErrAccountTokensUnsupported, sessions)
	}
	if a.events, ok = users.(EventStore); !ok {
		if a.events, ok = sessions.(EventStore); !ok {
			return nil, fmt.Errorf("latchkey: neither %T nor %T keeps security events (EventStore)", users, sessions)
		}
	}
	if a.factors, ok = users.(MFAStore); !ok {
		return nil, fmt.Errorf("%w: %T is no MFAStore; users who set up a second factor must never log in without it", ErrMFAUnsupported, users)
	}
	if a.pending, ok = sessions.(PendingLoginStore); !ok {
		return nil, fmt.Errorf("%w: %T is no PendingLoginStore; the second login step keeps its state there", ErrMFAUnsupported, sessions)
	}
	if a.seal, err = seal.New(cfg.Secrets, "latchkey totp secret v1"); err != nil {
		return nil, err
	}
	challengeKeys, err := deriveKeys(cfg.Secrets[:1], "latchkey pending login challenge v1")
	if err != nil {
		return nil, err
	}
	a.challengeKey = challengeKeys[0]
	emailCodeKeys, err := deriveKeys(cfg.Secrets[:1], "latchkey email sign-in code v1")
	if err != nil {
		return nil, err
	}
	a.emailCodeKey = emailCodeKeys[0]
	a.loginMethods = defaultLoginMethods()
	if a.sessionIDKeys, err = deriveKeys(cfg.Secrets, "latchkey session id v1"); err != nil {
		return nil, err
	}
	if a.passkeys, err = newPasskeyService(cfg, users, sessions); err != nil {
		return nil, err
	}
	a.bgSem = make(chan struct{}, maxBackground)
	if f, ok := sessions.(SessionUserFinder); ok && sameStore(users, sessions) {
		a.finder = f
	}
	if a.flashKeys, err = newFlashKeys(cfg.Secrets); err != nil {
		return nil, err
	}
	a.returnOrigins = returnOrigins(cfg)
	a.met = newMetrics(a)
	a.handler = a.routes()
	return a, nil
}

// Handler returns the JSON API, serving paths under Config.APIPrefix.
// Mount it as mux.Handle(cfg.APIPrefix+"/", auth.Handler()).
func (a *Auth) Handler() http.Handler { return a.handler }

// Ready reports whether the stores can be reached, for /readyz.
func (a *Auth) Ready(ctx context.Context) error {
	for _, s := range []any{a.users, a.sessions} {
		if p, ok := s.(Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
			}
		}
	}
	return nil
}

type ctxKey int

const (
	userKey ctxKey = iota
	sessionKey
	apiTokenKey
)

// UserFromContext returns the logged-in user that Require or Optional put in
// the request's context.
func UserFromContext(ctx context.Context) (*User, bool) {
	u, ok := ctx.Value(userKey).(*User)
	return u, ok && u != nil
}

// SessionFromContext returns the session that Require or Optional loaded.
func SessionFromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(sessionKey).(*Session)
	return s, ok && s != nil
}

// Require lets only logged-in requests through to next, answering others
// with 401 JSON; requests that can change state also need a valid CSRF token
// and must not come from another origin, nor may WebSocket handshakes
// (403). The user is in the context.
func (a *Auth) Require(next http.Handler) http.Handler {
	return a.guard(next, true)
}

// Optional loads the session, if any, into the context and enforces CSRF on
// state-changing requests that carry one, and the Origin check on WebSocket
// handshakes; anonymous requests pass through.
func (a *Auth) Optional(next http.Handler) http.Handler {
	return a.guard(next, false)
}

func (a *Auth) guard(next http.Handler, required bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, err := a.identify(w, r)
		if err == nil && cur.apiToken == nil && forward.IsUpgrade(r) {
			err = a.checkUpgrade(r)
		}
		if err == nil && required && cur.user == nil {
			err = cur.unauthenticated()
		}
		if err == nil && cur.bearer && cur.user == nil {
			err = ErrUnauthorized // a bad bearer token is refused even where login is optional
		}
		if err == nil && unsafeMethod(r.Method) && (cur.user != nil || required) {
			err = a.checkCSRF(r, cur)
		}
		if err != nil {
			a.writeError(w, r, err, "")
			return
		}
		next.ServeHTTP(w, r.WithContext(cur.context(r.Context())))
	})
}

// current is what one request knows about its browser.
type current struct {
	session *Session
	user    *User
	anonID  []byte // the anonymous CSRF cookie tokens are issued for, if any
	// anonAlt are further well-formed anonymous cookies of the same name
	// (one tossed beside ours): a token bound to any of them is accepted,
	// so a planted one cannot lock the browser out of logging in.
	anonAlt [][]byte
	cookies cookieWriter
	now     time.Time

	// Token mode: the CSRF value the access token is bound to; whether
	// that token is authentic but expired; and its family's store key,
	// known even when it has expired, so logout can revoke it.
	csrfClaim  string
	expired    bool
	familyHash []byte

	// bearer is set when the request carried an Authorization: Bearer
	// header; apiToken is the token, when it was valid.
	bearer   bool
	apiToken *APIToken
}

// unauthenticated is the error for a request that needs a login and has
// none: token_expired when an expired access token can be refreshed.
func (c *current) unauthenticated() error {
	if c.expired {
		return ErrTokenExpired
	}
	return ErrUnauthorized
}

func (c *current) context(ctx context.Context) context.Context {
	if c.user == nil {
		return ctx
	}
	ctx = context.WithValue(ctx, userKey, c.user)
	if c.apiToken != nil {
		return context.WithValue(ctx, apiTokenKey, c.apiToken)
	}
	return context.WithValue(ctx, sessionKey, c.session)
}

// load reads the session and anonymous cookies of r. A missing, malformed,
// unknown or expired session reads as logged out (and a bad cookie is
// cleared); only store failures are errors. When several cookies carry the
// session cookie's name, each is tried: one planted beside ours must not log
// the user out, so the valid one is used and nothing is cleared that could
// delete it.
func (a *Auth) load(w http.ResponseWriter, r *http.Request) (*current, error) {
	secure := a.Secure(r)
	now := a.now()
	cur := &current{now: now, cookies: cookieWriter{secure: secure, sameSite: a.cfg.SameSite, domain: a.cfg.CookieDomain, partitioned: a.cfg.Partitioned, now: now}}
	anon := tokenCookies(r, cookieName(anonCookie, secure))
	for _, id := range anon.list() {
		if cur.anonID == nil {
			cur.anonID = id[:]
		} else {
			cur.anonAlt = append(cur.anonAlt, id[:])
		}
	}
	if a.tokens != nil {
		return cur, a.loadJWT(r.Context(), w, r, cur)
	}
	cands := tokenCookies(r, cookieName(sessionCookie, secure))
	if !cands.present {
		return cur, nil
	}
	ctx := r.Context()
	var s *Session
	var u *User
	for _, tok := range cands.list() {
		cs, cu, err := a.sessionUser(ctx, hashToken(tok), now)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("load session: %w", err)
		}
		if s != nil && u.ID != cu.ID {
			// Valid sessions of two users: one was planted to log this
			// browser into the planter's account. Use neither, clear none.
			a.log.WarnContext(ctx, "session cookies of two users in one request; treated as logged out", "ip", a.ClientIP(r))
			return cur, nil
		}
		if s == nil {
			s, u = cs, cu
		}
	}
	if s == nil {
		if cands.all {
			cur.cookies.clear(w, sessionCookie, true) // none of them is any good
		}
		return cur, nil
	}
	if ok, err := a.refresh(ctx, s, r.UserAgent(), now); err != nil || !ok {
		if err == nil && cands.n == 1 && cands.all {
			cur.cookies.clear(w, sessionCookie, true)
		}
		return cur, err
	}
	cur.session, cur.user = s, u
	return cur, nil
}

// sessionUser reads the session (or token family) with this hash and its
// user. It returns ErrNotFound when the session is gone or expired at now,
// or its user was deleted, in which case what is left of the session goes
// too.
func (a *Auth) sessionUser(ctx context.Context, hash []byte, now time.Time) (*Session, *User, error) {
	s, u, err := a.findSession(ctx, hash)
	if err != nil {
		return nil, nil, err
	}
	if s.Expired(now) {
		return nil, nil, ErrNotFound
	}
	if u == nil {
		u, err = a.userByID(ctx, s.UserID)
		if errors.Is(err, ErrNotFound) {
			_ = a.deleteSession(ctx, s.TokenHash, endUncounted)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("load user: %w", err)
		}
	}
	if s.UserEpoch != u.Epoch {
		// Made before the user's credentials last changed (a login that
		// raced a password change, say): dead, whatever the store says.
		_ = a.deleteSession(ctx, s.TokenHash, endUncounted)
		return nil, nil, fmt.Errorf("session from user epoch %d, now %d: %w", s.UserEpoch, u.Epoch, ErrNotFound)
	}
	if u.Locked {
		// LockUser ends the sessions too; this holds if that failed.
		return nil, nil, fmt.Errorf("user %d locked: %w", u.ID, ErrNotFound)
	}
	return s, u, nil
}

// createSession stores a new session (or token family) of its user, then
// ends the user's oldest ones past Config.MaxSessionsPerUser.
func (a *Auth) createSession(ctx context.Context, s *Session) error {
	if err := timedErr(a.met.op(opCreateSession), func() error { return a.sessions.CreateSession(ctx, s) }); err != nil {
		return err
	}
	a.met.sessionCreated()
	if a.cfg.MaxSessionsPerUser < 0 {
		return nil
	}
	live, err := timed(a.met.op(opListUserSessions), func() ([]Session, error) { return a.sessions.ListUserSessions(ctx, s.UserID) }) // newest first
	if err != nil {
		a.log.WarnContext(ctx, "session cap: cannot list the user's sessions", "user_id", s.UserID, "err", err)
		return nil // the new session is good; the cap applies at the next login
	}
	for _, old := range live[min(len(live), a.cfg.MaxSessionsPerUser):] {
		if bytes.Equal(old.TokenHash, s.TokenHash) {
			continue // a clock step could sort it last; never end the one just made
		}
		if err := a.deleteSession(ctx, old.TokenHash, endCapped); err != nil {
			a.log.WarnContext(ctx, "session cap: cannot end an old session", "user_id", s.UserID, "err", err)
		}
	}
	return nil
}

// sameStore reports whether users and sessions are the same pointer, the
// only case where comparing them cannot panic.
func sameStore(users UserStore, sessions SessionStore) bool {
	t := reflect.TypeOf(sessions)
	return t.Kind() == reflect.Pointer && t == reflect.TypeOf(users) && any(users) == any(sessions)
}

// findSession reads the session with this token hash and, when the store
// can read both at once (SessionUserFinder), its user; u is nil otherwise.
func (a *Auth) findSession(ctx context.Context, tokenHash []byte) (s *Session, u *User, err error) {
	if a.finder != nil {
		return timed2(a.met.op(opFindSessionUser), func() (*Session, *User, error) { return a.finder.FindSessionUser(ctx, tokenHash) })
	}
	s, err = timed(a.met.op(opFindSession), func() (*Session, error) { return a.sessions.FindSession(ctx, tokenHash) })
	return s, nil, err
}

// refresh applies session protection and renews the idle deadline, writing
// to the store only when something changed and at most once per
// TouchInterval. It reports false when the session is no longer valid.
func (a *Auth) refresh(ctx context.Context, s *Session, userAgent string, now time.Time) (bool, error) {
	changed := false
	if a.cfg.Protection != ProtectionOff && s.UserAgent != truncateUA(userAgent) {
		if a.cfg.Protection == ProtectionStrong {
			if err := a.deleteSession(ctx, s.TokenHash, endProtection); err != nil {
				return false, fmt.Errorf("delete session: %w", err)
			}
			return false, nil
		}
		changed = s.Fresh
		s.Fresh = false
	}
	if now.Sub(s.LastSeenAt) >= a.cfg.TouchInterval {
		idle := a.cfg.IdleTimeout
		if s.Remember {
			idle = a.cfg.RememberIdleTimeout
		}
		s.LastSeenAt = now
		s.IdleExpiresAt = minTime(now.Add(idle), s.ExpiresAt)
		changed = true
	}
	if !changed {
		return true, nil
	}
	err := timedErr(a.met.op(opUpdateSession), func() error { return a.sessions.UpdateSession(ctx, s) })
	if errors.Is(err, ErrNotFound) {
		return false, nil // deleted meanwhile, e.g. by a logout in another tab
	}
	if err != nil {
		return false, fmt.Errorf("touch session: %w", err)
	}
	return true, nil
}

// checkCSRF is the CSRF decision for a state-changing request: it must not
// be cross-origin by Fetch Metadata or Origin, and it must carry a token
// bound to this browser's session, or to its anonymous cookie if it has no
// session.
func (a *Auth) checkCSRF(r *http.Request, cur *current) error {
	if cur.apiToken != nil {
		return nil // a bearer token is not ambient authority: nothing to forge
	}
	if err := a.crossOrigin(r, r.Method); err != nil {
		return &csrfError{"cross-origin request refused"}
	}
	tok, ok := csrfTokenOf(r)
	if !ok {
		return &csrfError{"missing or ambiguous token; send it in the X-CSRFToken header (get one from GET " + a.cfg.APIPrefix + "/getcsrf)"}
	}
	if cur.csrfClaim != "" {
		// Token mode, logged in: double submit of the value the signed
		// access token carries.
		if subtle.ConstantTimeCompare([]byte(tok), []byte(cur.csrfClaim)) != 1 {
			return &csrfError{"wrong token; send the csrf_access_token cookie's value in the X-CSRF-TOKEN header"}
		}
		return nil
	}
	kind, binding := bindAnon, cur.anonID
	if cur.session != nil {
		kind, binding = bindSession, cur.session.TokenHash
	}
	if binding == nil {
		return &csrfError{"no CSRF cookie; get a token from GET " + a.cfg.APIPrefix + "/getcsrf first"}
	}
	if a.keys.valid(tok, kind, binding) {
		return nil
	}
	if kind == bindAnon {
		for _, alt := range cur.anonAlt {
			if a.keys.valid(tok, kind, alt) {
				return nil
			}
		}
	}
	return &csrfError{"invalid or stale token; get a new one from GET " + a.cfg.APIPrefix + "/getcsrf"}
}

// issueCSRF gives the browser a token: for its session if it has one (and
// for the browser too, so the same token still logs in again after a
// logout), else for the browser alone. The browser is its anonymous cookie,
// created if needed. The token goes in the X-CSRFToken header and the
// JS-readable XSRF-TOKEN cookie.
func (a *Auth) issueCSRF(w http.ResponseWriter, cur *current) string {
	if cur.csrfClaim != "" {
		w.Header()["X-CSRFToken"] = []string{cur.csrfClaim}
		return cur.csrfClaim
	}
	if cur.anonID == nil {
		id := newToken()
		cur.anonID = id[:]
		cur.cookies.set(w, anonCookie, encodeToken(id), true, time.Time{})
	}
	var tok string
	if cur.session != nil {
		tok = a.keys.issue(bindSession, cur.session.TokenHash, cur.anonID)
	} else {
		tok = a.keys.issue(bindAnon, cur.anonID, nil)
	}
	w.Header()["X-CSRFToken"] = []string{tok} // Flask-WTF's exact spelling
	cur.cookies.set(w, xsrfCookie, tok, false, time.Time{})
	return tok
}

// startSession logs the browser in as u with a brand-new session, dropping
// whatever session it had, so a planted session id is never promoted
// (fixation). It returns the new CSRF token.
func (a *Auth) startSession(w http.ResponseWriter, r *http.Request, cur *current, u *User, remember bool) (string, error) {
	if a.tokens != nil {
		return a.startFamily(w, r, cur, u, remember)
	}
	ctx := r.Context()
	if cur.session != nil {
		if err := a.deleteSession(ctx, cur.session.TokenHash, endReplaced); err != nil {
			return "", fmt.Errorf("drop old session: %w", err)
		}
	}
	idle, abs := a.cfg.IdleTimeout, a.cfg.AbsoluteTimeout
	if remember {
		idle, abs = a.cfg.RememberIdleTimeout, a.cfg.RememberAbsoluteTimeout
	}
	now := cur.now
	tok := newToken()
	s := &Session{
		TokenHash:     hashToken(tok),
		UserID:        u.ID,
		CreatedAt:     now,
		LastSeenAt:    now,
		IdleExpiresAt: now.Add(idle),
		ExpiresAt:     now.Add(abs),
		Remember:      remember,
		Fresh:         true,
		UserAgent:     truncateUA(r.UserAgent()),
		IP:            a.ClientIP(r),
		UserEpoch:     u.Epoch,
	}
	if err := a.createSession(ctx, s); err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	var expires time.Time // a browser-session cookie unless "remember me"
	if remember {
		expires = s.ExpiresAt
	}
	cur.cookies.set(w, sessionCookie, encodeToken(tok), true, expires)
	// The browser's anonymous cookie stays: tokens bound to it alone never
	// pass for the session, and it lets the next login after a logout use
	// the token the page already has.
	cur.session, cur.user = s, u
	return a.issueCSRF(w, cur), nil
}

// endSession deletes the browser's session, clears its cookie and gives it
// a token for logging in again; the token it had works for that too.
func (a *Auth) endSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	if a.tokens != nil {
		if cur.familyHash != nil {
			if err := a.deleteSession(r.Context(), cur.familyHash, endLogout); err != nil {
				return fmt.Errorf("revoke token family: %w", err)
			}
		}
		a.clearTokenCookies(w, cur)
		cur.csrfClaim, cur.expired, cur.familyHash = "", false, nil
	} else {
		if cur.session != nil {
			if err := a.deleteSession(r.Context(), cur.session.TokenHash, endLogout); err != nil {
				return fmt.Errorf("delete session: %w", err)
			}
		}
		cur.cookies.clear(w, sessionCookie, true)
	}
	cur.session, cur.user = nil, nil
	a.issueCSRF(w, cur) // for the browser, whose cookie stays: created if it had none
	return nil
}

func truncateUA(ua string) string {
	if len(ua) <= MaxUserAgentBytes {
		return ua
	}
	return ua[:MaxUserAgentBytes]
}

// crossOrigin runs http.CrossOriginProtection on r as if its method were
// method, against the Host the browser used (X-Forwarded-Host from a
// trusted proxy).
func (a *Auth) crossOrigin(r *http.Request, method string) error {
	if host := a.originalHost(r); method != r.Method || host != r.Host {
		r = r.Clone(r.Context())
		r.Method, r.Host = method, host
	}
	return a.cop.Check(r)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// CSRFToken returns a CSRF token for the browser making r and sets the
// cookies it is bound to, as GET /api/getcsrf does. Server-rendered pages
// use it, and the SPA handler injects it as <meta name="csrf-token">.
func (a *Auth) CSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	cur, err := a.load(w, r)
	if err != nil {
		return "", err
	}
	return a.issueCSRF(w, cur), nil
}

// Config returns the effective configuration, after defaults and the
// choices New made (SameSite, normalised origins), without the secrets.
func (a *Auth) Config() Config {
	c := a.cfg
	c.Secrets = nil
	c.JWT.SigningKeys = nil
	return c
}
