package latchkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Every throttle is a token bucket per key, kept as one instant: when the
// bucket will be full again (GCRA's "theoretical arrival time"). The bucket
// then holds burst - (full-now)/refill tokens; taking one moves full one
// refill later, from now if it had passed. One instant per key is what makes
// a shared bucket cheap: a store changes it in one atomic step, and may drop
// the key at full, when it no longer means anything.

// maxAttemptSpan bounds AttemptSpan, so that now plus a span fits every
// store's time type; a bucket that large never throttles anyone anyway.
const maxAttemptSpan = 100 * 365 * 24 * time.Hour

// AttemptSpan is how far ahead of now a bucket's full instant may lie while
// the bucket still holds a whole token: burst-1 refills (a burst below 1
// counts as 1), at most 100 years. A store decides AttemptTake with it: take
// if full <= now + span; otherwise the wait is full - now - span.
func AttemptSpan(burst int, refill time.Duration) time.Duration {
	spare := max(burst-1, 0)
	if refill <= 0 || spare == 0 {
		return 0
	}
	if int64(spare) > int64(maxAttemptSpan/refill) {
		return maxAttemptSpan
	}
	return time.Duration(spare) * refill
}

// AttemptBucketWait returns how long to wait before the next attempt (0:
// now) under a bucket of burst tokens, refilled at one per refill, that is
// full again at full: until it holds a whole token. A zero full is a full
// bucket, a refill of zero or less never throttles, and a burst below 1
// counts as 1. It is the arithmetic every AttemptLimiter shares.
func AttemptBucketWait(full time.Time, burst int, refill time.Duration, now time.Time) time.Duration {
	ahead := full.Sub(now)
	if refill <= 0 || ahead <= 0 {
		return 0
	}
	return max(ahead-AttemptSpan(burst, refill), 0)
}

// throttle is one budget: a bucket per key of Config's burst and refill. It
// counts in the session store when that is an AttemptLimiter, so all
// instances sharing the store count together, and otherwise in memory.
//
// When the store fails, what happens depends on how. If it is unavailable,
// the request gets 503 store_unavailable at once: it could not start a
// session in that store anyway, and going on would spend a hash to tell an
// attacker whether the password was right (503) or wrong (401), with only
// this instance counting. Any other error (a bug, odd data under the key) is
// logged and that request is counted in memory instead, so a broken
// throttle neither lets attempts through uncounted nor locks everybody out.
type throttle struct {
	what   string         // names it in logs
	shared AttemptLimiter // nil: memory only
	local  memoryAttempts
	burst  int
	refill time.Duration
	log    *slog.Logger
	met    *throttleMetrics // nil without metrics
}

// token is one that a request took from a throttle's bucket.
type token struct {
	t     *throttle
	key   string
	local bool // taken in memory, after the store failed
}

// take takes a token from key's bucket, or reports how long until it holds
// one. Its only error is the store's ErrStoreUnavailable.
func (t *throttle) take(ctx context.Context, key string, now time.Time) (token, time.Duration, error) {
	tok := token{t: t, key: key}
	if t.shared != nil {
		wait, err := timed(t.met.op(opAttemptTake), func() (time.Duration, error) { return t.shared.AttemptTake(ctx, key, t.burst, t.refill, now) })
		if err == nil || errors.Is(err, ErrStoreUnavailable) {
			return tok, wait, err
		}
		t.log.ErrorContext(ctx, t.what+" throttle: the store failed; counting this request in memory", "err", err)
	}
	tok.local = true
	wait, _ := t.local.AttemptTake(ctx, key, t.burst, t.refill, now)
	return tok, wait, nil
}

// spend is take for a request that needs the token: an empty bucket is a
// retryError of limit that says how long to wait.
func (t *throttle) spend(ctx context.Context, key string, now time.Time, limit error) (token, error) {
	tok, wait, err := t.take(ctx, key, now)
	if err != nil {
		return token{}, err
	}
	if wait > 0 {
		t.met.refused()
		return token{}, &retryError{err: limit, after: wait}
	}
	return tok, nil
}

// refund gives the token back to the bucket it came from. It runs after
// the request's own work, so a client that hung up still gets it; if the
// store fails now, the token stays spent, which errs on the safe side.
func (k token) refund(ctx context.Context, now time.Time) {
	ctx = context.WithoutCancel(ctx)
	if k.local {
		k.t.local.AttemptRefund(ctx, k.key, k.t.refill, now)
		return
	}
	if err := timedErr(k.t.met.op(opAttemptRefund), func() error { return k.t.shared.AttemptRefund(ctx, k.key, k.t.refill, now) }); err != nil {
		k.t.log.WarnContext(ctx, k.t.what+" throttle: the store could not give a token back", "err", err)
	}
}

// forget resets the token's key, in memory too: attempts counted there
// while the store was failing must not outlive a success.
func (k token) forget(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if k.t.shared != nil {
		if err := timedErr(k.t.met.op(opAttemptReset), func() error { return k.t.shared.AttemptReset(ctx, k.key) }); err != nil {
			k.t.log.WarnContext(ctx, k.t.what+" throttle: the store could not reset a key after a successful login", "err", err)
		}
	}
	k.t.local.AttemptReset(ctx, k.key)
}

// throttles are Auth's three budgets, each with keys of its own:
//   - failed logins per client and username (Config.LoginBurst), against
//     guessing one account's password;
//   - failed logins per client across usernames (Config.LoginIPBurst),
//     against trying a few common passwords on many accounts (spraying);
//   - registrations per client (Config.RegisterBurst), against sign-up
//     floods, which both make accounts and hold hashing slots.
//
// Login tokens are taken before the password is hashed, so concurrent
// guesses get no more checks than the buckets hold, and given back when the
// attempt does not count as a failure.
type throttles struct {
	login, loginIP, register throttle
	// Account mail: per address, per client, and one mail of a kind per
	// user per cool-down.
	mailAddress, mailClient, mailCooldown throttle
	// ceremony spends a WebAuthn challenge: one use, shared by instances.
	ceremony throttle
	// emailCode counts the tries of a user's email sign-in code.
	emailCode throttle
}

func newThrottles(cfg Config, sessions SessionStore) *throttles {
	shared, _ := sessions.(AttemptLimiter)
	mk := func(what string, burst int, refill time.Duration) throttle {
		return throttle{what: what, shared: shared, burst: burst, refill: refill, log: cfg.Logger}
	}
	return &throttles{
		login:    mk("login", cfg.LoginBurst, cfg.LoginRefill),
		loginIP:  mk("login per client", cfg.LoginIPBurst, cfg.LoginIPRefill),
		register: mk("registration", cfg.RegisterBurst, cfg.RegisterRefill),

		mailAddress:  mk("mail per address", cfg.MailAddressBurst, cfg.MailAddressRefill),
		mailClient:   mk("mail per client", cfg.MailClientBurst, cfg.MailClientRefill),
		mailCooldown: mk("mail cool-down", 1, cfg.MailCooldown),
		ceremony:     mk("passkey challenge", 1, ceremonyTTL),
		emailCode:    mk("email sign-in code", maxEmailCodeTries, emailLoginTTL),
	}
}

// clientKey is what a client's throttles key on: its IPv4 address, or the
// /64 of its IPv6 address, since one subscriber usually holds a whole /64
// and could otherwise take a fresh address for every attempt.
func clientKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// throttleKey is the key of a purpose and its parts: hashed, so no store
// holds addresses or names for it, and prefixed by purpose, so budgets
// never share a bucket.
func throttleKey(purpose string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(purpose))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// loginTokens are what one login attempt took before its password was
// checked; a failure keeps both spent.
type loginTokens struct{ user, client token }

// chargeLogin takes a token for the client and username, then one for the
// client, before any password is hashed. If either bucket is empty,
// nothing stays spent and the error is a 429 with how long to wait. Its
// other error is the store's ErrStoreUnavailable.
func (a *Auth) chargeLogin(ctx context.Context, ip, usernameKey string, now time.Time) (loginTokens, error) {
	client := clientKey(ip)
	user, err := a.throttles.login.spend(ctx, throttleKey("login", client, usernameKey), now, ErrTooManyAttempts)
	if err != nil {
		return loginTokens{}, err
	}
	cl, err := a.throttles.loginIP.spend(ctx, throttleKey("login-client", client), now, ErrTooManyAttempts)
	if err != nil {
		user.refund(ctx, now)
		return loginTokens{}, err
	}
	return loginTokens{user: user, client: cl}, nil
}

// succeeded is for a right password. It forgets the username's count, as
// before, but gives the client's budget back only this attempt's token:
// one account of a sprayer's own must not wipe his count.
func (l loginTokens) succeeded(ctx context.Context, now time.Time) {
	l.user.forget(ctx)
	l.client.refund(ctx, now)
}

// unchecked gives both tokens back when the password was never checked (a
// store error, no hashing slot): the attempt taught nobody anything.
func (l loginTokens) unchecked(ctx context.Context, now time.Time) {
	l.user.refund(ctx, now)
	l.client.refund(ctx, now)
}

// chargeRegistration takes a token from the client's registration budget.
// Every attempt counts, successful or not, and none is given back: the
// budget is against floods of sign-ups, not guesses.
func (a *Auth) chargeRegistration(ctx context.Context, ip string, now time.Time) error {
	_, err := a.throttles.register.spend(ctx, throttleKey("register", clientKey(ip)), now, ErrTooManyRegistrations)
	return err
}
