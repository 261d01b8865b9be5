package latchkey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey/mail"
)

// The account mails, by template kind.
const (
	mailPasswordChanged = mail.KindPasswordChanged
	mailEmailChanged    = mail.KindEmailChanged
)

// linkKinds are the mails that carry a link, by the purpose of its token.
var linkKinds = map[AccountPurpose]mail.Kind{
	PurposeResetPassword: mail.KindReset,
	PurposeVerifyEmail:   mail.KindVerify,
	PurposeChangeEmail:   mail.KindConfirmEmail,
}

// ErrTooManyMails: the mail budget of the address or the client is spent.
var ErrTooManyMails = errors.New("latchkey: too many mails")

// maxBackground bounds the mail work running after its requests answered.
const maxBackground = 64

// backgroundTimeout bounds one piece of background work.
const backgroundTimeout = 30 * time.Second

// chargeMail takes a token from the client's and the address's mail
// budgets (both keyed by what the client sent, so the answer says nothing
// about accounts), or returns a 429 with how long to wait.
func (a *Auth) chargeMail(ctx context.Context, ip, addr string) error {
	now := a.now()
	client, err := a.throttles.mailClient.spend(ctx, throttleKey("mail-client", clientKey(ip)), now, ErrTooManyMails)
	if err != nil {
		return err
	}
	if _, err := a.throttles.mailAddress.spend(ctx, throttleKey("mail-address", EmailKey(addr)), now, ErrTooManyMails); err != nil {
		client.refund(ctx, now)
		return err
	}
	return nil
}

// mailLink issues u a new token for purpose (replacing any earlier one),
// and mails the link to addr. A mail of the same kind went to u within
// Config.MailCooldown gives a 429.
func (a *Auth) mailLink(ctx context.Context, u *User, purpose AccountPurpose, addr string) error {
	key := throttleKey("mail-cooldown", fmt.Sprint(u.ID), string(linkKinds[purpose]))
	if _, err := a.throttles.mailCooldown.spend(ctx, key, a.now(), ErrTooManyMails); err != nil {
		return err
	}
	return a.issueAndMail(ctx, u, purpose, addr)
}

// issueAndMail issues u a link for purpose and mails it to addr.
func (a *Auth) issueAndMail(ctx context.Context, u *User, purpose AccountPurpose, addr string) error {
	link, err := a.issueLink(ctx, u, purpose, addr)
	if err != nil {
		return err
	}
	return a.send(ctx, linkKinds[purpose], u, addr, link)
}

// issueLink issues u a new token for purpose, for the address addr,
// replacing any earlier one, and returns the link that carries it.
func (a *Auth) issueLink(ctx context.Context, u *User, purpose AccountPurpose, addr string) (string, error) {
	now := a.now()
	ttl := a.cfg.VerifyTokenTTL
	if purpose == PurposeResetPassword {
		ttl = a.cfg.ResetTokenTTL
	}
	plain, hash := newAccountLinkToken(u.ID)
	t := &AccountToken{UserID: u.ID, Purpose: purpose, TokenHash: hash, Email: addr, UserEpoch: u.Epoch,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := timedErr(a.met.op(opIssueAccountToken), func() error { return a.accountTokens.IssueAccountToken(ctx, t) }); err != nil {
		return "", fmt.Errorf("issue %s link: %w", purpose, err)
	}
	route := linkKinds[purpose].Route()
	if a.cfg.LinkPages {
		route = a.cfg.PagesPrefix + linkPages[purpose]
	}
	return mail.Link(a.cfg.AppURL, route, plain)
}

// linkPages are the hosted pages that links open with Config.LinkPages.
var linkPages = map[AccountPurpose]string{
	PurposeResetPassword: PageReset,
	PurposeVerifyEmail:   PageVerify,
	PurposeChangeEmail:   PageConfirm,
}

// notify mails u a notice (no link) at addr; failures are only logged.
func (a *Auth) notify(ctx context.Context, u *User, kind mail.Kind, addr string) {
	if err := a.send(ctx, kind, u, addr, ""); err != nil {
		a.log.WarnContext(ctx, "notice not sent", "kind", string(kind), "user_id", u.ID, "err", err)
	}
}

// send renders a mail and hands it to the mailer, which queues it: the
// request never waits on the mail server, nor learns whether it took it.
func (a *Auth) send(ctx context.Context, kind mail.Kind, u *User, addr, link string) error {
	return a.sendData(ctx, kind, u, mail.Data{To: addr, Link: link})
}

// sendData is send for mails with more than a link (an email sign-in's
// code): d's product, app URL and username are filled in.
func (a *Auth) sendData(ctx context.Context, kind mail.Kind, u *User, d mail.Data) error {
	d.Product, d.AppURL, d.Username = a.cfg.ProductName, a.cfg.AppURL, u.Username
	m, err := a.cfg.MailTemplates.Render(kind, d)
	if err != nil {
		return fmt.Errorf("render %s mail: %w", kind, err)
	}
	if _, queued := a.cfg.Mailer.(*mail.Queue); queued {
		return a.cfg.Mailer.Send(ctx, m)
	}
	// A mailer that delivers as it is called (an embedder's SMTP) must not
	// hold the request: deliver in the background, bounded.
	a.background(ctx, func(ctx context.Context) {
		if err := a.met.mailed(a.cfg.Mailer.Send(ctx, m)); err != nil {
			a.log.WarnContext(ctx, "mail not sent", "kind", string(kind), "user_id", u.ID, "err", err)
		}
	})
	return nil
}

// background runs f after the request has answered, detached from its
// cancellation but bounded in time and in how many run at once (past that
// the work is dropped, with a log line).
func (a *Auth) background(ctx context.Context, f func(context.Context)) {
	select {
	case a.bgSem <- struct{}{}:
	default:
		a.log.ErrorContext(ctx, "too much mail work at once; dropped one")
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundTimeout)
	a.bgWait.Add(1)
	go func() {
		defer a.bgWait.Done()
		defer func() { <-a.bgSem }()
		defer cancel()
		f(ctx)
	}()
}

// Wait waits until the work that requests left running (issuing links and
// handing their mail to the Mailer) is done, or ctx ends. Call it after the
// HTTP server has stopped and before closing the Mailer's queue, so the
// last requests' mail is not lost.
func (a *Auth) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.bgWait.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("latchkey: background work still running: %w", ctx.Err())
	}
}
