package latchkey

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/username"
)

// Signing in by email: POST /login/email mails a link and a 6-digit code,
// and POST /login/email/verify signs in with either, through admit, as one
// factor. Both are account tokens of the session store, issued together
// and spent together: the link's (PurposeEmailLogin) is the usual 256-bit
// link token; the code's (PurposeEmailCode) is an HMAC of the user's id and
// the code under a key derived from the first secret, since a SHA-256 of
// six digits would be searched in a second by whoever reads the store.

const (
	// emailLoginTTL is how long a sign-in link and its code live.
	emailLoginTTL = 15 * time.Minute
	// maxEmailCodeTries is how many codes one sign-in mail's code takes.
	maxEmailCodeTries = 5
	// emailCodeDigits is the length of the code.
	emailCodeDigits = 6
)

// SendEmailLogin mails a sign-in link and code to the account whose
// verified address is addr, if there is one. Its answer is the same
// whether or not there is: the request only checks the address's form and
// takes from the mail budgets (429, keyed by what was asked for); the
// lookup, the tokens and the mail happen in the background. An account
// whose address is not verified gets nothing: whoever typed that address
// at registration may not own it.
func (a *Auth) SendEmailLogin(ctx context.Context, ip, addr string) error {
	addr = strings.TrimSpace(addr)
	if addr == "" || ValidateEmail(addr) != nil {
		return &InputError{Code: "invalid_input", Field: "email", Message: "Enter your email address."}
	}
	if err := a.chargeMail(ctx, ip, addr); err != nil {
		return err
	}
	// As for forgot-password, the cool-down is keyed by the address asked
	// for and holds back silently, so it tells nothing either.
	_, wait, err := a.throttles.mailCooldown.take(ctx, throttleKey("email-login-cooldown", EmailKey(addr)), a.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return nil
	}
	a.background(ctx, func(ctx context.Context) {
		if err := a.mailEmailLogin(ctx, addr); err != nil {
			a.log.WarnContext(ctx, "email sign-in not sent", "err", err)
		}
	})
	return nil
}

// emailLoginUser returns the user whose verified address is addr, or with
// Config.EmailLoginSignUp an account that email sign-in made for addr and
// that has not signed in yet; otherwise ErrNotFound.
func (a *Auth) emailLoginUser(ctx context.Context, addr string) (*User, error) {
	u, err := timed(a.met.op(opUserByEmail), func() (*User, error) { return a.users.UserByEmail(ctx, addr) })
	if err != nil {
		return nil, err
	}
	if EmailKey(u.Email) != EmailKey(addr) || !u.EmailVerified && !a.pendingSignUp(u) {
		return nil, ErrNotFound
	}
	return u, nil
}

// noPassword is the PasswordHash of accounts that email sign-in made: no
// hash, so no password matches it (authenticate checks for it first).
const noPassword = "!email-sign-up"

// pendingSignUp reports whether u is an account that email sign-in made
// (Config.EmailLoginSignUp) whose address no sign-in has proved yet. Only
// such an unverified account may sign in by email: any other's address was
// only typed at registration, by someone who may not own it.
func (a *Auth) pendingSignUp(u *User) bool {
	return a.cfg.EmailLoginSignUp && !u.EmailVerified && u.PasswordHash == noPassword
}

// signUpByEmail creates an account for addr, with no password, its address
// unverified, and a username made from the address's local part, unique.
func (a *Auth) signUpByEmail(ctx context.Context, addr string) (*User, error) {
	base := usernameFromEmail(addr)
	for i := 0; ; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s%d", base, 1000+randomBelow(9000))
		}
		display, key, err := NormalizeUsername(name)
		if err != nil {
			return nil, err
		}
		now := a.now()
		u := &User{Username: display, UsernameKey: key, UsernameSkeleton: username.Skeleton(display),
			Email: addr, PasswordHash: noPassword, CreatedAt: now, UpdatedAt: now}
		err = timedErr(a.met.op(opCreateUser), func() error { return a.users.CreateUser(ctx, u) })
		if errors.Is(err, ErrUsernameTaken) && i < 8 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("create user by email: %w", err)
		}
		a.log.InfoContext(ctx, "user created by email sign-in", "user_id", u.ID)
		return u, nil
	}
}

// usernameFromEmail is the local part of addr kept to letters, digits,
// dots, dashes and underscores, cut to 40 characters, or "user" when less
// than 3 are left.
func usernameFromEmail(addr string) string {
	local, _, _ := strings.Cut(addr, "@")
	local, _, _ = strings.Cut(local, "+")
	var b strings.Builder
	for _, r := range local {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') && b.Len() < 40 {
			b.WriteRune(r)
		}
	}
	if b.Len() < MinUsernameLen {
		return "user"
	}
	return b.String()
}

// randomBelow returns a uniform random number in [0, n).
func randomBelow(n uint64) uint64 {
	var b [8]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]); v < ^uint64(0)-^uint64(0)%n {
			return v % n
		}
	}
}

// proveSignUp marks the address of an account that email sign-in made
// verified, now that a link or code mailed to it was used.
func (a *Auth) proveSignUp(ctx context.Context, u *User) error {
	if u.EmailVerified {
		return nil
	}
	err := timedErr(a.met.op(opUpdateEmail), func() error { return a.users.UpdateEmail(ctx, u.ID, u.Email, u.Email, true, a.now()) })
	if errors.Is(err, ErrConflict) {
		return ErrInvalidToken // the address changed since it was read
	}
	if err != nil {
		return fmt.Errorf("verify email at sign-in: %w", err) // ErrEmailTaken: another account verified it first
	}
	u.EmailVerified = true
	a.record(ctx, Event{Type: EventEmailVerified, UserID: u.ID})
	return nil
}

// mailEmailLogin issues the sign-in tokens of the account that has addr
// verified, replacing earlier ones, and mails them. Without such an
// account it does the same work, less the mail, for user 0 (see
// decoyLink).
func (a *Auth) mailEmailLogin(ctx context.Context, addr string) error {
	u, err := a.emailLoginUser(ctx, addr)
	if errors.Is(err, ErrNotFound) && a.cfg.EmailLoginSignUp {
		if _, taken := timed(a.met.op(opUserByEmail), func() (*User, error) { return a.users.UserByEmail(ctx, addr) }); errors.Is(taken, ErrNotFound) {
			u, err = a.signUpByEmail(ctx, addr)
		}
	}
	decoy := errors.Is(err, ErrNotFound)
	if decoy {
		u = &User{Username: "nobody"}
	} else if err != nil {
		return err
	}
	link, code, err := a.issueEmailLogin(ctx, u)
	if err != nil || decoy {
		return err
	}
	return a.sendData(ctx, mail.KindEmailLogin, u, mail.Data{To: u.Email, Link: link, Code: code})
}

// issueEmailLogin issues u a new sign-in link and code, which void the
// earlier ones, and gives the code its tries afresh.
func (a *Auth) issueEmailLogin(ctx context.Context, u *User) (link, code string, err error) {
	now := a.now()
	plain, hash := newAccountLinkToken(u.ID)
	code = newEmailCode()
	for _, t := range []*AccountToken{
		{UserID: u.ID, Purpose: PurposeEmailLogin, TokenHash: hash},
		{UserID: u.ID, Purpose: PurposeEmailCode, TokenHash: a.emailCodeHash(u.ID, code)},
	} {
		t.Email, t.UserEpoch, t.CreatedAt, t.ExpiresAt = u.Email, u.Epoch, now, now.Add(emailLoginTTL)
		if err := timedErr(a.met.op(opIssueAccountToken), func() error { return a.accountTokens.IssueAccountToken(ctx, t) }); err != nil {
			return "", "", fmt.Errorf("issue %s token: %w", t.Purpose, err)
		}
	}
	a.emailCodeTries(u.ID).forget(ctx)
	link, err = mail.Link(a.cfg.AppURL, mail.KindEmailLogin.Route(), plain)
	return link, code, err
}

// newEmailCode returns 6 random digits, uniformly drawn.
func newEmailCode() string {
	return fmt.Sprintf("%0*d", emailCodeDigits, randomBelow(1_000_000))
}

// emailCodeHash is what the store keeps of a user's code.
func (a *Auth) emailCodeHash(userID int64, code string) []byte {
	m := hmac.New(sha256.New, a.emailCodeKey)
	m.Write([]byte(strconv.FormatInt(userID, 10)))
	m.Write([]byte{0})
	m.Write([]byte(code))
	return m.Sum(nil)
}

// emailCodeTries is the bucket that counts the tries of u's current code:
// maxEmailCodeTries, refilled one per emailLoginTTL, and emptied afresh
// when a new code is issued. It lives in the session store when that is an
// AttemptLimiter, so instances count together.
func (a *Auth) emailCodeTries(userID int64) token {
	return token{t: &a.throttles.emailCode, key: throttleKey("email-code", strconv.FormatInt(userID, 10))}
}

// parseEmailCode reads a code as typed: six ASCII digits, spaces and
// dashes between them ignored.
func parseEmailCode(s string) (string, bool) {
	if len(s) > 32 {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == ' ' || c == '-':
		default:
			return "", false
		}
	}
	if b.Len() != emailCodeDigits {
		return "", false
	}
	return b.String(), true
}

// ErrInvalidEmailCode: the code is wrong, used, superseded, expired or out
// of tries, or no account has the address verified.
var ErrInvalidEmailCode = &proofError{field: "code", detail: "email_code"}

// EmailLoginByLink spends a sign-in link's token and returns its user, if
// the address it went to is still the user's, verified.
func (a *Auth) EmailLoginByLink(ctx context.Context, token string) (*User, error) {
	u, t, err := a.linkUser(ctx, token, PurposeEmailLogin)
	if err != nil {
		return nil, err
	}
	a.dropEmailLogin(ctx, u.ID, PurposeEmailCode)
	if !u.EmailVerified && !a.pendingSignUp(u) || EmailKey(t.Email) != EmailKey(u.Email) {
		return nil, ErrInvalidToken // the address changed since the link went out
	}
	if err := a.proveSignUp(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// EmailLoginByCode spends the code mailed to addr and returns its user.
// Each try takes one of the code's maxEmailCodeTries; past them the code is
// deleted. Tries also count in the login throttle per client and address,
// and per client, as passwords do. A wrong code, an unknown address and an
// unverified one are all ErrInvalidEmailCode.
func (a *Auth) EmailLoginByCode(ctx context.Context, ip, addr, code string) (*User, error) {
	addr = strings.TrimSpace(addr)
	code, ok := parseEmailCode(code)
	if !ok {
		return nil, &InputError{Code: "invalid_input", Field: "code", Message: fmt.Sprintf("Enter the %d-digit code from the email.", emailCodeDigits)}
	}
	spent, err := a.chargeLogin(ctx, ip, "email:"+EmailKey(addr), a.now())
	if err != nil {
		return nil, err
	}
	u, err := a.emailLoginUser(ctx, addr)
	if errors.Is(err, ErrNotFound) {
		// The store work of a wrong code, for user 0 (no account, no
		// code), so the time does not tell whether the address is one.
		nobody := a.emailCodeTries(0)
		nobody.t.take(ctx, nobody.key, a.now())
		a.useAccountToken(ctx, &User{}, PurposeEmailCode, a.emailCodeHash(0, code))
		a.record(ctx, Event{Type: EventLoginFailed, Detail: "email_code"})
		return nil, ErrInvalidEmailCode
	}
	if err != nil {
		spent.unchecked(ctx, a.now())
		return nil, err
	}
	tries := a.emailCodeTries(u.ID)
	_, wait, err := tries.t.take(ctx, tries.key, a.now())
	if err != nil {
		spent.unchecked(ctx, a.now())
		return nil, err
	}
	if wait > 0 {
		// Out of tries: the code dies, right or not.
		tries.t.met.refused()
		a.dropEmailLogin(ctx, u.ID, PurposeEmailCode)
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "email_code"})
		return nil, ErrInvalidEmailCode
	}
	t, err := a.useAccountToken(ctx, u, PurposeEmailCode, a.emailCodeHash(u.ID, code))
	if errors.Is(err, ErrInvalidToken) || err == nil && EmailKey(t.Email) != EmailKey(u.Email) {
		a.record(ctx, Event{Type: EventLoginFailed, UserID: u.ID, Detail: "email_code"})
		return nil, ErrInvalidEmailCode
	}
	if err != nil {
		spent.unchecked(ctx, a.now())
		return nil, err
	}
	a.dropEmailLogin(ctx, u.ID, PurposeEmailLogin)
	tries.forget(ctx)
	spent.succeeded(ctx, a.now())
	if err := a.proveSignUp(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// dropEmailLogin deletes the other half of a spent sign-in mail, so the
// link and the code work once between them. A failure is only logged: the
// other half still expires within emailLoginTTL.
func (a *Auth) dropEmailLogin(ctx context.Context, userID int64, purpose AccountPurpose) {
	if err := timedErr(a.met.op(opDeleteAccountTokens), func() error { return a.accountTokens.DeleteAccountTokens(ctx, userID, purpose) }); err != nil {
		a.log.WarnContext(ctx, "email sign-in token not deleted", "user_id", userID, "purpose", string(purpose), "err", err)
	}
}

func (a *Auth) emailLogin(w http.ResponseWriter, r *http.Request, cur *current) error {
	obj, err := a.readFields(w, r)
	if err != nil {
		return err
	}
	addr, err := obj.str("email", true)
	if err != nil {
		return err
	}
	if err := a.SendEmailLogin(r.Context(), a.ClientIP(r), addr); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"sent": true,
		"detail": "If an account has that address verified, a sign-in link and code are on their way."})
	return nil
}

func (a *Auth) emailLoginVerify(w http.ResponseWriter, r *http.Request, cur *current) error {
	fail := func(err error) error {
		if errors.Is(err, ErrInvalidMFACode) || errors.Is(err, ErrInvalidToken) {
			a.met.login(ErrInvalidCredentials) // a wrong code or a dead link: the password's outcome
		} else {
			a.met.login(err)
		}
		a.writeError(w, r, err, "login")
		return nil
	}
	obj, err := a.readFields(w, r)
	if err != nil {
		return fail(err)
	}
	remember, err := obj.boolean("remember")
	if err != nil {
		return fail(err)
	}
	token, err := obj.str("token", false)
	if err != nil {
		return fail(err)
	}
	ctx := r.Context()
	var u *User
	via := "email link"
	if token != "" {
		u, err = a.EmailLoginByLink(ctx, token)
	} else {
		var addr, code string
		if addr, err = obj.str("email", true); err != nil {
			return fail(err)
		}
		if code, err = obj.str("code", true); err != nil {
			return fail(err)
		}
		via = "email code"
		u, err = a.EmailLoginByCode(ctx, a.ClientIP(r), addr, code)
	}
	if err != nil {
		return fail(err)
	}
	if err := a.admit(w, r, cur, u, remember, via, false); err != nil {
		return fail(err)
	}
	return nil
}
