package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/latchkey/latchkey/mail"
)

// ErrInvalidToken: a mailed link's token is unknown, used, superseded,
// expired, or for another purpose or user.
var ErrInvalidToken = errors.New("latchkey: invalid or expired link")

// ForgotPassword mails a password reset link to the account that login
// names (an email address, or a username), if there is one with an
// address. Its answer is the same whether or not there is: the lookup is
// all it does in the request; the token and the mail are made in the
// background. Its errors are the client's budget (429) and the store's
// ErrStoreUnavailable, which say nothing about the account.
func (a *Auth) ForgotPassword(ctx context.Context, ip, login string) error {
	login = strings.TrimSpace(login)
	if login == "" {
		return &InputError{Code: "invalid_input", Field: "email", Message: "Enter your email address or username."}
	}
	if err := a.chargeMail(ctx, ip, login); err != nil {
		return err
	}
	// The cool-down is keyed by what was asked for, not by an account, and
	// holds back both branches below alike: silently, since a 429 here
	// would tell that the name is an account's.
	_, wait, err := a.throttles.mailCooldown.take(ctx, throttleKey("forgot-cooldown", EmailKey(login)), a.now())
	if err != nil {
		return err
	}
	if wait > 0 {
		return nil
	}
	var u *User
	if strings.Contains(login, "@") {
		u, err = timed(a.met.op(opUserByEmail), func() (*User, error) { return a.users.UserByEmail(ctx, login) })
	} else {
		u, err = a.LookupUser(ctx, login)
	}
	if errors.Is(err, ErrNotFound) || err == nil && u.Email == "" {
		a.log.InfoContext(ctx, "password reset asked for an account without an address; nothing sent")
		// The same work as for an account, less the mail, so the server's
		// load does not tell either.
		a.background(ctx, a.decoyLink)
		return nil
	}
	if err != nil {
		return err
	}
	a.record(ctx, Event{Type: EventResetRequested, UserID: u.ID})
	a.background(ctx, func(ctx context.Context) {
		if err := a.issueAndMail(ctx, u, PurposeResetPassword, u.Email); err != nil {
			a.log.WarnContext(ctx, "password reset link not sent", "user_id", u.ID, "err", err)
		}
	})
	return nil
}

// decoyLink does what mailing a reset link does but send it: a link is
// issued for user 0, which no account has and no link can name (ids in
// links start at 1), and its mail rendered.
func (a *Auth) decoyLink(ctx context.Context) {
	nobody := &User{Username: "nobody"}
	link, err := a.issueLink(ctx, nobody, PurposeResetPassword, "nobody@invalid")
	if err != nil {
		a.log.DebugContext(ctx, "decoy reset link", "err", err)
		return
	}
	a.cfg.MailTemplates.Render(mail.KindReset, mail.Data{To: "nobody@invalid", Product: a.cfg.ProductName, AppURL: a.cfg.AppURL, Link: link, Username: nobody.Username})
}

// ResetPassword sets a new password with a token from a reset link: the
// token must be the user's newest, unused, unexpired, and from before any
// password change since. The new password is held to the policy before the
// token is spent, so a refused password leaves the link working. Every
// session of the user ends; the user is not logged in (the SPA sends them
// to log in), and a notice is mailed.
func (a *Auth) ResetPassword(ctx context.Context, token, pw string) (*User, error) {
	u, hash, err := a.linkOwner(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := checkNewPassword(u.Username, pw); err != nil {
		return nil, err
	}
	t, err := a.useAccountToken(ctx, u, PurposeResetPassword, hash)
	if err != nil {
		return nil, err
	}
	if t.Email != u.Email {
		return nil, ErrInvalidToken // the address changed since the link went out
	}
	if err := a.setPassword(ctx, u, pw); err != nil {
		return nil, err
	}
	a.record(ctx, Event{Type: EventPasswordReset, UserID: u.ID})
	return u, nil
}

// setPassword is replacePassword, then a notice to u's address.
func (a *Auth) setPassword(ctx context.Context, u *User, pw string) error {
	if err := a.replacePassword(ctx, u, pw); err != nil {
		return err
	}
	if u.Email != "" {
		a.notify(ctx, u, mailPasswordChanged, u.Email)
	}
	return nil
}

// replacePassword hashes pw, stores it, then ends every session of u,
// advancing its epoch, which also voids mailed reset links. After the new
// hash, never before: a login that read the old hash made its session in
// the old epoch, which this ends.
func (a *Auth) replacePassword(ctx context.Context, u *User, pw string) error {
	hash, err := a.hash(ctx, pw)
	if err != nil {
		return err
	}
	if err := timedErr(a.met.op(opUpdatePasswordHash), func() error { return a.users.UpdatePasswordHash(ctx, u.ID, hash, a.now()) }); err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	epoch, _, err := a.endUserSessions(ctx, u.ID)
	if err != nil {
		return err
	}
	u.PasswordHash, u.Epoch = hash, epoch
	return nil
}

func (a *Auth) forgotPassword(w http.ResponseWriter, r *http.Request, cur *current) error {
	obj, err := a.readFields(w, r)
	if err != nil {
		return err
	}
	login, err := obj.str("email", false)
	if err != nil {
		return err
	}
	if login == "" {
		if login, err = obj.str("username", false); err != nil {
			return err
		}
	}
	if err := a.ForgotPassword(r.Context(), a.ClientIP(r), login); err != nil {
		return err
	}
	const detail = "If an account has that address or name, a link to reset its password is on its way."
	a.respond(w, r, http.StatusAccepted, map[string]any{"sent": true, "detail": detail}, landing{PageLogin, detail})
	return nil
}

func (a *Auth) resetPassword(w http.ResponseWriter, r *http.Request, cur *current) error {
	obj, token, err := a.readLinkToken(w, r)
	if err != nil {
		return err
	}
	pw, err := obj.str("password", true)
	if err != nil {
		return err
	}
	u, err := a.ResetPassword(r.Context(), token, pw)
	if err != nil {
		return err
	}
	loggedOut := cur.user != nil && cur.user.ID == u.ID
	if loggedOut {
		// This browser's session ended with the rest: say so to it.
		if err := a.endSession(w, r, cur); err != nil {
			return err
		}
	}
	a.respond(w, r, http.StatusOK, map[string]any{"reset": true, "loggedOut": loggedOut},
		landing{PageLogin, "Your password is changed. Log in with the new one."})
	return nil
}
