package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/forward"
	"github.com/latchkey/latchkey/openapi"
	"github.com/latchkey/latchkey/password"
)

// routes is the whole API at a glance.
func (a *Auth) routes() http.Handler {
	p := a.cfg.APIPrefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+p+"/ping", a.ping)
	mux.Handle("GET "+p+"/openapi.json", openapi.Handler())
	mux.Handle("GET "+p+"/getcsrf", a.read(a.getCSRF))
	mux.Handle("POST "+p+"/register", a.form(PageRegister, a.register))
	mux.Handle("POST "+p+"/login", a.form(PageLogin, a.login))
	mux.Handle("POST "+p+"/login/mfa", a.write(a.loginMFA))
	mux.Handle("POST "+p+"/login/email", a.write(a.emailLogin))
	mux.Handle("POST "+p+"/login/email/verify", a.write(a.emailLoginVerify))
	mux.Handle("GET "+p+"/getsession", a.resource(a.getSession))
	mux.Handle("GET "+p+"/data", a.resource(a.data))
	mux.Handle("POST "+p+"/logout", a.form(PageLogout, a.logout))
	mux.Handle("GET "+p+"/logout", a.read(a.logoutGET))
	mux.Handle("GET "+p+"/auth/verify", a.resource(a.verify))
	mux.Handle("POST "+p+"/password/change", a.write(a.changePassword))
	mux.Handle("POST "+p+"/password/forgot", a.form(PageForgot, a.forgotPassword))
	mux.Handle("POST "+p+"/password/reset", a.form(PageReset, a.resetPassword))
	mux.Handle("POST "+p+"/email/verify", a.form(PageVerify, a.linkFlow(a.VerifyEmail, "emailVerified")))
	mux.Handle("POST "+p+"/email/resend", a.write(a.resendVerification))
	mux.Handle("POST "+p+"/email/change", a.write(a.changeEmail))
	mux.Handle("POST "+p+"/email/confirm", a.form(PageConfirm, a.linkFlow(a.ConfirmEmail, "emailChanged")))
	mux.Handle("POST "+p+"/account/delete", a.write(a.deleteAccount))
	mux.Handle("GET "+p+"/account/activity", a.resource(a.activity))
	mux.Handle("GET "+p+"/mfa", a.read(a.mfaStatus))
	mux.Handle("POST "+p+"/mfa/totp/setup", a.write(a.setupTOTP))
	mux.Handle("POST "+p+"/mfa/totp/confirm", a.write(a.confirmTOTP))
	mux.Handle("POST "+p+"/mfa/totp/disable", a.write(a.disableTOTP))
	mux.Handle("POST "+p+"/mfa/recovery-codes", a.write(a.regenerateRecoveryCodes))
	mux.Handle("GET "+p+"/sessions", a.resource(a.listSessions))
	mux.Handle("DELETE "+p+"/sessions/{id}", a.write(a.revokeSession))
	mux.Handle("POST "+p+"/sessions/revoke-others", a.write(a.revokeOtherSessions))
	mux.Handle("GET "+p+"/passkeys", a.read(a.listPasskeys))
	mux.Handle("POST "+p+"/passkeys/register/begin", a.write(a.beginPasskeyRegistration))
	mux.Handle("POST "+p+"/passkeys/register/finish", a.write(a.finishPasskeyRegistration))
	mux.Handle("PATCH "+p+"/passkeys/{id}", a.write(a.renamePasskey))
	mux.Handle("DELETE "+p+"/passkeys/{id}", a.write(a.deletePasskey))
	mux.Handle("POST "+p+"/login/passkey/begin", a.write(a.beginPasskeyLogin))
	mux.Handle("POST "+p+"/login/passkey/finish", a.write(a.finishPasskeyLogin))
	mux.Handle("GET "+p+"/admin/users", a.adminRead(a.adminListUsers))
	mux.Handle("GET "+p+"/admin/users/{id}", a.adminRead(a.adminShowUser))
	mux.Handle("DELETE "+p+"/admin/users/{id}", a.adminWrite(a.adminDeleteUser))
	mux.Handle("POST "+p+"/admin/users/{id}/lock", a.adminWrite(adminAct(a.LockUser, true)))
	mux.Handle("POST "+p+"/admin/users/{id}/unlock", a.adminWrite(adminAct(a.UnlockUser, false)))
	mux.Handle("POST "+p+"/admin/users/{id}/logout", a.adminWrite(a.adminLogout))
	mux.Handle("POST "+p+"/admin/users/{id}/reset", a.adminWrite(a.adminReset))
	mux.Handle("PUT "+p+"/admin/users/{id}/roles", a.adminWrite(a.adminSetRoles))
	if a.tokens != nil {
		mux.Handle("POST "+p+"/auth/refresh", a.read(a.refreshTokens))
	}
	var h http.Handler = apiHeaders(a.jsonMuxErrors(mux))
	if a.cors != nil {
		h = a.logCORSRefusals(a.cors.Handler(h))
	}
	return a.met.instrument(a.recoverer(a.SecurityHeaders(h)))
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, cur *current) error

// read adapts a handler that needs the browser's session state.
func (a *Auth) read(h handlerFunc) http.Handler { return a.adapt(a.load, h) }

// resource is read for routes that also accept API tokens (identify).
func (a *Auth) resource(h handlerFunc) http.Handler { return a.adapt(a.identify, h) }

func (a *Auth) adapt(load func(http.ResponseWriter, *http.Request) (*current, error), h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cur, err := load(w, r)
		if err == nil {
			err = h(w, r, cur)
		}
		if err != nil {
			a.writeError(w, r, err, "")
		}
	})
}

// write is read plus the CSRF check, for state-changing routes; login and
// register included, so an attacker cannot log a victim into his account.
func (a *Auth) write(h handlerFunc) http.Handler {
	return a.read(func(w http.ResponseWriter, r *http.Request, cur *current) error {
		if err := a.checkCSRF(r, cur); err != nil {
			return err
		}
		return h(w, a.withRequestClient(r), cur)
	})
}

// readLinkToken reads a JSON body (or form) with the "token" of a mailed
// link, as the pages such links open send it.
func (a *Auth) readLinkToken(w http.ResponseWriter, r *http.Request) (jsonObject, string, error) {
	obj, err := a.readFields(w, r)
	if err != nil {
		return nil, "", err
	}
	token, err := obj.str("token", true)
	return obj, token, err
}

// linkFlow adapts a flow that spends a mailed link's token and gives the
// user back: 200 {done: true, "user": …}.
func (a *Auth) linkFlow(flow func(context.Context, string) (*User, error), done string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, cur *current) error {
		_, token, err := a.readLinkToken(w, r)
		if err != nil {
			return err
		}
		u, err := flow(r.Context(), token)
		if err != nil {
			return err
		}
		a.respond(w, r, http.StatusOK, map[string]any{done: true, "user": publicUser(u)}, landing{PageLogin, linkNotices[done]})
		return nil
	}
}

// linkNotices are what the login page says after a link flow's form.
var linkNotices = map[string]string{
	"emailVerified": "Your email address is verified.",
	"emailChanged":  "Your new email address is confirmed.",
}

func (a *Auth) ping(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"ping": "pong!"})
}

func (a *Auth) getCSRF(w http.ResponseWriter, r *http.Request, cur *current) error {
	tok := a.issueCSRF(w, cur)
	writeJSON(w, http.StatusOK, map[string]string{"detail": "CSRF cookie set", "csrfToken": tok})
	return nil
}

// userJSON is how a user appears in responses; never the password hash.
type userJSON struct {
	ID            int64     `json:"id"`
	Username      string    `json:"username"`
	Email         string    `json:"email,omitempty"`
	EmailVerified bool      `json:"emailVerified"`
	Roles         []string  `json:"roles"`
	CreatedAt     time.Time `json:"createdAt"`
}

func publicUser(u *User) userJSON {
	roles := u.Roles
	if roles == nil {
		roles = []string{} // always an array, never null
	}
	return userJSON{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified, Roles: roles, CreatedAt: u.CreatedAt.UTC()}
}

// readCredentials reads a JSON body (or form) with the username and
// password that login and register both require.
func (a *Auth) readCredentials(w http.ResponseWriter, r *http.Request) (obj jsonObject, name, pw string, err error) {
	if obj, err = a.readFields(w, r); err != nil {
		return nil, "", "", err
	}
	if name, err = obj.str("username", true); err != nil {
		return nil, "", "", err
	}
	if pw, err = obj.str("password", true); err != nil {
		return nil, "", "", err
	}
	return obj, name, pw, nil
}

func (a *Auth) register(w http.ResponseWriter, r *http.Request, cur *current) error {
	fail := func(err error) error { a.writeError(w, r, err, "register"); return nil }
	obj, name, pw, err := a.readCredentials(w, r)
	if err != nil {
		return fail(err)
	}
	email, err := obj.str("email", false)
	if err != nil {
		return fail(err)
	}
	if email == "" && a.cfg.RequireVerifiedEmail {
		return fail(&InputError{Code: "invalid_input", Field: "email", Message: "An email address is required: logins need a verified one."})
	}
	ctx := r.Context()
	if err := a.chargeRegistration(ctx, a.ClientIP(r), a.now()); err != nil {
		return fail(err)
	}
	u, err := a.CreateUser(ctx, name, pw, email)
	if err != nil {
		return fail(err)
	}
	a.log.InfoContext(ctx, "user registered", "user_id", u.ID)
	if u.Email != "" {
		ip := a.ClientIP(r)
		a.background(ctx, func(ctx context.Context) {
			if err := a.SendVerification(ctx, ip, u); err != nil {
				a.log.WarnContext(ctx, "verification link not sent at registration", "user_id", u.ID, "err", err)
			}
		})
	}
	if a.cfg.RequireVerifiedEmail {
		// No session until the address is verified; the link is on its way.
		a.respond(w, r, http.StatusCreated, map[string]any{"register": true, "user": publicUser(u), "emailVerificationRequired": true},
			landing{PageLogin, "Your account is created. Follow the link we sent to your email address to verify it, then log in."})
		return nil
	}
	if _, err := a.startSession(w, r, cur, u, false); err != nil {
		return fail(err)
	}
	a.respond(w, r, http.StatusCreated, map[string]any{"register": true, "user": publicUser(u)}, landing{})
	return nil
}

// checkNewPassword maps the password policy to API errors.
func checkNewPassword(username, pw string) error {
	err := password.Check(username, pw)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, password.ErrTooLong):
		return &InputError{Code: "invalid_input", Field: "password", Message: fmt.Sprintf("Password must be at most %d bytes.", password.MaxBytes)}
	default:
		msg := strings.TrimPrefix(err.Error(), "password: ")
		return &InputError{Code: "weak_password", Field: "password", Message: "Password " + msg + "."}
	}
}

func (a *Auth) login(w http.ResponseWriter, r *http.Request, cur *current) error {
	fail := func(err error) error { a.met.login(err); a.writeError(w, r, err, "login"); return nil }
	obj, name, pw, err := a.readCredentials(w, r)
	if err != nil {
		return fail(err)
	}
	remember, err := obj.boolean("remember")
	if err != nil {
		return fail(err)
	}
	ctx := r.Context()
	u, err := a.authenticate(ctx, a.ClientIP(r), name, pw)
	if errors.Is(err, ErrInvalidCredentials) {
		if u != nil {
			a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "wrong_password"})
		} else {
			a.record(ctx, Event{Type: EventLoginFailed, Detail: "unknown_user"})
		}
	}
	if err != nil {
		return fail(err)
	}
	if err := a.admit(w, r, cur, u, remember, "", false); err != nil {
		return fail(err)
	}
	return nil
}

// admit ends a successful sign-in of u (by password, or via something
// else: "passkey", "email link"): a locked account or, if required, an
// unverified address stops it here (said only to whoever proved to be u);
// a sign-in of one factor (twoFactors false) by a user with a second one
// gets the second step; otherwise a new session starts, and the answer is
// the login's.
func (a *Auth) admit(w http.ResponseWriter, r *http.Request, cur *current, u *User, remember bool, via string, twoFactors bool) error {
	ctx := r.Context()
	if u.Locked {
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "locked"})
		return ErrAccountLocked
	}
	if a.cfg.RequireVerifiedEmail && !u.EmailVerified {
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "unverified"})
		if u.Email != "" {
			if err := a.SendVerification(ctx, a.ClientIP(r), u); err != nil && !errors.Is(err, ErrTooManyMails) {
				a.log.WarnContext(ctx, "verification link not sent at login", "user_id", u.ID, "err", err)
			}
		}
		return ErrEmailUnverified
	}
	if !twoFactors {
		// A password or an email link is one factor: a user with a second
		// one gets a pending login, and POST /login/mfa makes the session.
		// (A passkey sign-in is two factors already.)
		if answer, err := a.beginSecondStep(w, r, cur, u, remember); err != nil || answer != nil {
			if err != nil {
				return err
			}
			if f := formPostFrom(ctx); f != nil && f.page {
				// The hosted pages have no second step yet: say so on the
				// login page rather than leave the browser half logged in.
				return &InputError{Code: "mfa_required", Message: "This account uses two-factor sign-in, which these pages do not offer: sign in through the app."}
			}
			writeJSON(w, http.StatusOK, answer)
			return nil
		}
	}
	if _, err := a.startSession(w, r, cur, u, remember); err != nil {
		return err
	}
	var detail []string
	if via != "" {
		detail = append(detail, via)
	}
	if remember {
		detail = append(detail, "remember me")
	}
	a.record(ctx, Event{Type: EventLoginSucceeded, UserID: u.ID, Detail: strings.Join(detail, ", ")})
	a.met.login(nil)
	a.respond(w, r, http.StatusOK, map[string]any{"login": true, "user": publicUser(u)}, landing{})
	return nil
}

// authenticate checks a username and password. Unknown usernames cost the
// same argon2id work as wrong passwords, so timing does not reveal which
// names exist. For a wrong password it returns the user with
// ErrInvalidCredentials, for the security event; never to the client. Each attempt takes its throttle tokens (see throttles) before
// any hashing, and gives them back unless the password was checked and
// wrong.
func (a *Auth) authenticate(ctx context.Context, ip, name, pw string) (*User, error) {
	_, key, nameErr := NormalizeUsername(name)
	if nameErr != nil {
		key = strings.ToLower(strings.TrimSpace(name))
	}
	spent, err := a.chargeLogin(ctx, ip, key, a.now())
	if err != nil {
		return nil, err
	}
	if len(pw) > password.MaxBytes {
		return nil, ErrInvalidCredentials
	}
	var u *User
	if nameErr == nil {
		found, err := timed(a.met.op(opUserByUsername), func() (*User, error) { return a.users.UserByUsernameKey(ctx, key) })
		if err != nil && !errors.Is(err, ErrNotFound) {
			spent.unchecked(ctx, a.now())
			return nil, err
		}
		u = found
	}
	release, err := a.acquireHashSlot(ctx)
	if err != nil {
		spent.unchecked(ctx, a.now())
		return nil, err
	}
	defer release()
	if u == nil {
		a.hasher.VerifyDummy(pw)
		return nil, ErrInvalidCredentials
	}
	if u.PasswordHash == noPassword {
		// An account made by email sign-in: no password is right.
		a.hasher.VerifyDummy(pw)
		return u, ErrInvalidCredentials
	}
	ok, rehash, err := a.hasher.Verify(u.PasswordHash, pw)
	if err != nil {
		a.log.ErrorContext(ctx, "stored password hash is unusable", "user_id", u.ID, "err", err)
	}
	if !ok {
		return u, ErrInvalidCredentials
	}
	if a.needsSecondFactor(ctx, u.ID) {
		// The password alone proves too little to wipe the username's
		// failures: the second step, which counts in the same buckets,
		// does that once it succeeds.
		spent.unchecked(ctx, a.now())
	} else {
		spent.succeeded(ctx, a.now())
	}
	if rehash {
		a.upgradeHash(ctx, u, pw)
	}
	return u, nil
}

// upgradeHash re-hashes a bcrypt or outdated argon2id hash with the current
// parameters. A failure only delays the upgrade to the next login.
func (a *Auth) upgradeHash(ctx context.Context, u *User, pw string) {
	hash, err := a.hasher.Hash(pw)
	if err == nil {
		err = timedErr(a.met.op(opUpdatePasswordHash), func() error { return a.users.UpdatePasswordHash(ctx, u.ID, hash, a.now()) })
	}
	if err != nil {
		a.log.WarnContext(ctx, "password hash upgrade failed", "user_id", u.ID, "err", err)
		return
	}
	u.PasswordHash = hash
	a.log.InfoContext(ctx, "password hash upgraded", "user_id", u.ID)
}

// hash computes a new password hash within the concurrency bound.
func (a *Auth) hash(ctx context.Context, pw string) (string, error) {
	release, err := a.acquireHashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return a.hasher.Hash(pw)
}

// acquireHashSlot waits up to HashQueueTimeout for one of the
// MaxConcurrentHashes slots; each argon2id hash holds its memory cost.
func (a *Auth) acquireHashSlot(ctx context.Context) (release func(), err error) {
	release = func() { <-a.hashSem }
	select {
	case a.hashSem <- struct{}{}:
		return release, nil
	default:
	}
	a.met.hashWaiting(1)
	defer a.met.hashWaiting(-1)
	t := time.NewTimer(a.cfg.HashQueueTimeout)
	defer t.Stop()
	select {
	case a.hashSem <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, &retryError{err: ErrBusy, after: time.Second}
	case <-ctx.Done():
		return nil, &retryError{err: ErrBusy, after: time.Second}
	}
}

func (a *Auth) getSession(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.expired || cur.bearer && cur.user == nil {
		return cur.unauthenticated()
	}
	if cur.user == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"login": false})
		return nil
	}
	if t := cur.apiToken; t != nil {
		tok := map[string]any{"id": t.ID, "name": t.Name}
		if !t.ExpiresAt.IsZero() {
			tok["expiresAt"] = t.ExpiresAt.UTC()
		}
		writeJSON(w, http.StatusOK, map[string]any{"login": true, "user": publicUser(cur.user), "apiToken": tok})
		return nil
	}
	writeJSON(w, http.StatusOK, sessionJSON{
		Login:         true,
		User:          publicUser(cur.user),
		ExpiresAt:     cur.session.ExpiresAt.UTC(),
		IdleExpiresAt: cur.session.IdleExpiresAt.UTC(),
		Fresh:         cur.session.Fresh,
		Remember:      cur.session.Remember,
	})
	return nil
}

type sessionJSON struct {
	Login         bool      `json:"login"`
	User          userJSON  `json:"user"`
	ExpiresAt     time.Time `json:"expiresAt"`
	IdleExpiresAt time.Time `json:"idleExpiresAt"`
	Fresh         bool      `json:"fresh"`
	Remember      bool      `json:"remember"`
}

func (a *Auth) data(w http.ResponseWriter, r *http.Request, cur *current) error {
	if cur.user == nil {
		return cur.unauthenticated()
	}
	writeJSON(w, http.StatusOK, publicUser(cur.user))
	return nil
}

func (a *Auth) logout(w http.ResponseWriter, r *http.Request, cur *current) error {
	u := cur.user
	if err := a.endSession(w, r, cur); err != nil {
		return err
	}
	if u != nil {
		a.record(r.Context(), Event{Type: EventLogout, UserID: u.ID})
	}
	if len(a.cfg.ClearSiteData) > 0 {
		w.Header().Set("Clear-Site-Data", clearSiteDataHeader(a.cfg.ClearSiteData))
	}
	a.respond(w, r, http.StatusOK, map[string]bool{"logout": true}, landing{PageLogin, "You are logged out."})
	return nil
}

// logoutGET serves old frontends that log out with a GET. A GET carries no
// CSRF token, so it is refused when the browser says it comes from another
// site or origin (Fetch Metadata, else Origin).
func (a *Auth) logoutGET(w http.ResponseWriter, r *http.Request, cur *current) error {
	if err := a.crossOrigin(r, http.MethodPost); err != nil {
		return &csrfError{"cross-site logout refused"}
	}
	return a.logout(w, a.withRequestClient(r), cur)
}

// verify answers nginx auth_request subrequests: 204 with the user's
// identity in headers for a valid session, 401 otherwise (to a page load,
// with the login page in X-Latchkey-Login). nginx sends the
// original request's headers; when it also sends X-Original-Method and that
// method changes state, the CSRF check runs as it would on the original,
// and when it passes Upgrade, the WebSocket Origin check. A request
// carrying headers that nginx would pass to the backend in latchkey's name
// (reservedHeader) is refused with 403.
func (a *Auth) verify(w http.ResponseWriter, r *http.Request, cur *current) error {
	// nginx answers the client itself and drops the body of a refusal; the
	// header lets it still say which, e.g. token_expired, which makes
	// clients refresh.
	refuse := func(err error) error {
		_, body, _ := errorResponse(err)
		w.Header().Set(HeaderError, body.Code)
		return err
	}
	if cur.user == nil {
		if !scriptRequest(r) {
			// A page load: nginx can send the browser to log in, and back.
			w.Header().Set(HeaderLogin, a.loginURL(r.Header.Get("X-Original-URI")))
		}
		return refuse(cur.unauthenticated())
	}
	if name, ok := reservedHeader(r.Header); ok {
		return refuse(fmt.Errorf("%w: %s", ErrReservedHeader, name))
	}
	if cur.apiToken == nil && forward.IsUpgrade(r) {
		if err := a.checkUpgrade(r); err != nil {
			return refuse(err)
		}
	}
	if m := r.Header.Get("X-Original-Method"); m != "" && unsafeMethod(m) {
		orig := r.Clone(r.Context())
		orig.Method = m
		if err := a.checkCSRF(orig, cur); err != nil {
			return refuse(err)
		}
	}
	setIdentityHeaders(w.Header(), cur.user)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Identity headers that verify and the gateway send to backends.
const (
	HeaderUserID   = "X-Latchkey-User-Id"
	HeaderUsername = "X-Latchkey-Username"
	// HeaderRoles lists the user's roles, comma-separated; it is absent for
	// a user without roles. See ValidRole for what a role may contain.
	HeaderRoles = "X-Latchkey-Roles"
	// HeaderError carries the error code of a 401 from verify, for proxies
	// that answer the client themselves (nginx auth_request).
	HeaderError = "X-Latchkey-Error"
	// HeaderLogin is set on verify's 401 to a page load (see
	// scriptRequest): the login page's path, with the original request's
	// X-Original-URI as its next, for nginx to redirect the browser to.
	HeaderLogin = "X-Latchkey-Login"
)

// replacedByProxy are the headers that a proxy asking verify must set, or
// clear, on the request it passes on, replacing the client's, as
// deploy/nginx/auth-request.conf does. The proxy can only be relied on to
// replace these exact names (nginx drops names with '_'); verify refuses a
// request carrying any other header that forward.Owned names, since the
// proxy would pass it to the backend.
var replacedByProxy = []string{HeaderUserID, HeaderUsername, HeaderRoles, "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Real-Ip"}

// reservedHeader returns the name of a header in h that the client may not
// send through a proxy asking verify.
func reservedHeader(h http.Header) (string, bool) {
	for name := range h {
		if forward.Owned(name) && !slices.Contains(replacedByProxy, name) {
			return name, true
		}
	}
	return "", false
}

func setIdentityHeaders(h http.Header, u *User) {
	h.Set(HeaderUserID, strconv.FormatInt(u.ID, 10))
	h.Set(HeaderUsername, headerSafe(u.Username))
	if len(u.Roles) > 0 {
		h.Set(HeaderRoles, strings.Join(u.Roles, ","))
	} else {
		h.Del(HeaderRoles) // absent means none, as nginx passes an empty value
	}
}

// headerSafe percent-encodes '%' and every byte outside printable ASCII, so
// a Unicode username survives any proxy; ASCII names pass unchanged.
func headerSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// retryError asks the client to retry after a delay (429, 503).
type retryError struct {
	err   error
	after time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// writeError writes err as JSON through errorResponse. For login and
// register, flag names the operation so the body also says "flag": false,
// as tutorial frontends expect. A form post from a browser tab (see form)
// is sent back to its page with the error instead.
func (a *Auth) writeError(w http.ResponseWriter, r *http.Request, err error, flag string) {
	status, body, known := errorResponse(err)
	if !known {
		a.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		a.logRefusal(r, status, body)
	}
	if f := formPostFrom(r.Context()); f != nil && f.page {
		a.redirectBack(w, r, f, body)
		return
	}
	if re, ok := errors.AsType[*retryError](err); ok {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int((re.after+time.Second-1)/time.Second))))
	}
	resp := map[string]any{"error": body}
	if flag != "" {
		resp[flag] = false
	}
	writeJSON(w, status, resp)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshalJSON(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal_error","message":"Something went wrong on the server."}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
