package latchkey

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/latchkey/latchkey/internal/qr"
	"github.com/latchkey/latchkey/totp"
)

// TOTP: an authenticator app as a second factor. Setting one up shows a
// fresh secret (as an otpauth:// URI, a QR code of it and the base32 text)
// kept as a FactorTOTPSetup until the user confirms it with a first code;
// it then becomes their FactorTOTP, and they get recovery codes. Secrets
// are sealed under Config.Secrets (internal/seal) and never shown again.
// A code works once: the factor's Counter is the last time step accepted,
// advanced by compare-and-set in the store, so a code replayed, even on
// another instance or at the same moment, is refused.

// totpSetupTTL is how long a secret shown at set-up waits for its code.
const totpSetupTTL = 15 * time.Minute

// totpFactorID is the ID of a user's one TOTP factor (and set-up).
const totpFactorID = "totp"

// ErrMFAEnabled: the user has an authenticator app already.
var ErrMFAEnabled = errors.New("latchkey: an authenticator app is set up already")

// ErrMFANotEnabled: the user has no second factor (to remove, or to make
// recovery codes for).
var ErrMFANotEnabled = errors.New("latchkey: no second factor is set up")

// ErrTOTPSetupExpired: no set-up is waiting for a code (none was started,
// or it is older than 15 minutes).
var ErrTOTPSetupExpired = errors.New("latchkey: no authenticator set-up is waiting for a code")

var totpLoginMethod = loginMethod{
	name:     "totp",
	field:    "code",
	primary:  true,
	enrolled: func(fs []Factor) bool { return hasKind(fs, FactorTOTP) },
	parse:    stringProof("code"),
	verify:   verifyTOTPLogin,
}

// totpAD binds a sealed secret to its user: copied into another user's
// record, it does not open.
func totpAD(userID int64) []byte { return []byte("totp\x00" + strconv.FormatInt(userID, 10)) }

// factorOf returns the user's factor of kind with id, or nil.
func factorOf(fs []Factor, kind FactorKind, id string) *Factor {
	for i := range fs {
		if fs[i].Kind == kind && fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
}

// verifyTOTPLogin is the TOTP method's verify: the code of a step within
// one of now's, after the last step accepted, which it then records.
func verifyTOTPLogin(ctx context.Context, a *Auth, at *mfaAttempt, proof any) error {
	code := proof.(string)
	f := factorOf(at.factors, FactorTOTP, totpFactorID)
	if f == nil {
		return &proofError{field: "code", detail: "totp_not_enrolled"}
	}
	return a.useTOTPCode(ctx, at.user.ID, f, code)
}

// useTOTPCode accepts code for the TOTP factor f of the user once: it
// records the code's step, and refuses a code of that step or an earlier
// one (a replay), atomically across instances.
func (a *Auth) useTOTPCode(ctx context.Context, userID int64, f *Factor, code string) error {
	secret, err := a.seal.Open(f.Secret, totpAD(userID))
	if err != nil {
		return fmt.Errorf("open the TOTP secret of user %d (were the secrets changed?): %w", userID, err)
	}
	now := a.now()
	step, ok := totp.Verify(secret, code, now, f.Counter)
	if !ok {
		if _, any := totp.Verify(secret, code, now, math.MinInt64); any {
			return &proofError{field: "code", detail: "totp_replayed"}
		}
		return &proofError{field: "code", detail: "totp_wrong_code"}
	}
	err = timedErr(a.met.op(opAdvanceFactorCounter), func() error { return a.factors.AdvanceFactorCounter(ctx, userID, FactorTOTP, f.ID, step, now) })
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
		// Another request took this step (or a later one) first, or the
		// factor was removed meanwhile.
		return &proofError{field: "code", detail: "totp_replayed"}
	}
	return err
}

// TOTPSetup is a secret shown to a user setting up an authenticator app.
type TOTPSetup struct {
	// Secret is the base32 secret, for typing into the app.
	Secret string
	// URI is the otpauth:// URI apps read from QRCode.
	URI string
	// QRCode is the URI as a QR code: an SVG image as a data: URI.
	QRCode string
}

// SetupTOTP starts setting up an authenticator app for u: a fresh secret,
// replacing any set-up not yet confirmed. It returns ErrMFAEnabled if u has
// one already: remove it first.
func (a *Auth) SetupTOTP(ctx context.Context, u *User) (*TOTPSetup, error) {
	fs, err := a.userFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if hasKind(fs, FactorTOTP) {
		return nil, ErrMFAEnabled
	}
	secret := totp.NewSecret()
	f := Factor{UserID: u.ID, Kind: FactorTOTPSetup, ID: totpFactorID, Secret: a.seal.Seal(secret, totpAD(u.ID)), CreatedAt: a.now()}
	if err := timedErr(a.met.op(opReplaceFactors), func() error { return a.factors.ReplaceFactors(ctx, u.ID, FactorTOTPSetup, []Factor{f}) }); err != nil {
		return nil, fmt.Errorf("store TOTP set-up: %w", err)
	}
	uri := totp.URI(a.cfg.ProductName, u.Username, secret)
	img, err := qr.DataURI(uri)
	if err != nil {
		return nil, err
	}
	return &TOTPSetup{Secret: totp.EncodeSecret(secret), URI: uri, QRCode: img}, nil
}

// ConfirmTOTP finishes setting up u's authenticator app with its first
// code: the app becomes u's second factor, every later login needs it,
// and u gets a new set of recovery codes, which it returns. A wrong code
// is an InputError (invalid_code, field "code"); no set-up waiting is
// ErrTOTPSetupExpired. The code is spent: it cannot log in.
func (a *Auth) ConfirmTOTP(ctx context.Context, u *User, code string) ([]string, error) {
	fs, err := a.userFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if hasKind(fs, FactorTOTP) {
		return nil, ErrMFAEnabled
	}
	setup := factorOf(fs, FactorTOTPSetup, totpFactorID)
	now := a.now()
	if setup == nil || now.Sub(setup.CreatedAt) >= totpSetupTTL {
		return nil, ErrTOTPSetupExpired
	}
	secret, err := a.seal.Open(setup.Secret, totpAD(u.ID))
	if err != nil {
		return nil, fmt.Errorf("open the TOTP set-up of user %d: %w", u.ID, err)
	}
	step, ok := totp.Verify(secret, code, now, 0)
	if !ok {
		return nil, &InputError{Code: "invalid_code", Field: "code", Message: "That code is wrong or has expired: enter the one your app shows now."}
	}
	f := *setup
	f.Kind, f.Counter, f.CreatedAt, f.LastUsedAt = FactorTOTP, step, now, now
	if err := timedErr(a.met.op(opReplaceFactors), func() error { return a.factors.ReplaceFactors(ctx, u.ID, FactorTOTP, []Factor{f}) }); err != nil {
		return nil, fmt.Errorf("store TOTP factor: %w", err)
	}
	if _, err := timed(a.met.op(opDeleteFactors), func() (int, error) { return a.factors.DeleteFactors(ctx, u.ID, FactorTOTPSetup) }); err != nil {
		a.log.WarnContext(ctx, "a confirmed TOTP set-up stays stored", "user_id", u.ID, "err", err)
	}
	codes, err := a.newRecoveryCodes(ctx, u)
	if err != nil {
		return nil, err
	}
	a.record(ctx, Event{Type: EventMFAEnabled, UserID: u.ID, Detail: "totp"})
	a.notifyMFA(ctx, u, mailMFAEnabled)
	return codes, nil
}

// DisableTOTP removes u's authenticator app, and u's recovery codes with
// it unless another second factor remains. It returns ErrMFANotEnabled if
// u has none. Callers check that the person is the owner first (reauth).
func (a *Auth) DisableTOTP(ctx context.Context, u *User) error {
	n, err := timed(a.met.op(opDeleteFactors), func() (int, error) { return a.factors.DeleteFactors(ctx, u.ID, FactorTOTP) })
	if err != nil {
		return fmt.Errorf("delete TOTP factor: %w", err)
	}
	if _, err := timed(a.met.op(opDeleteFactors), func() (int, error) { return a.factors.DeleteFactors(ctx, u.ID, FactorTOTPSetup) }); err != nil {
		return fmt.Errorf("delete TOTP set-up: %w", err)
	}
	if n == 0 {
		return ErrMFANotEnabled
	}
	if err := a.dropOrphanRecoveryCodes(ctx, u.ID); err != nil {
		return err
	}
	a.record(ctx, Event{Type: EventMFADisabled, UserID: u.ID, Detail: "totp"})
	a.notifyMFA(ctx, u, mailMFADisabled)
	return nil
}

// loggedInUser is the user of a request that needs a session.
func loggedInUser(cur *current) (*User, error) {
	if cur.user == nil {
		return nil, cur.unauthenticated()
	}
	return cur.user, nil
}

// readReauth reads a body with an optional "password" and checks it, or
// the login's freshness (see reauth).
func (a *Auth) readReauth(w http.ResponseWriter, r *http.Request, cur *current) error {
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	pw, err := obj.str("password", false)
	if err != nil {
		return err
	}
	return a.reauth(r.Context(), a.ClientIP(r), cur, pw, "password")
}

// setupTOTP serves POST /mfa/totp/setup. Adding a factor needs a fresh
// login or the password, like removing one: whoever found a session open
// must not lock its owner out behind an app of theirs.
func (a *Auth) setupTOTP(w http.ResponseWriter, r *http.Request, cur *current) error {
	u, err := loggedInUser(cur)
	if err != nil {
		return err
	}
	if err := a.readReauth(w, r, cur); err != nil {
		return err
	}
	s, err := a.SetupTOTP(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]string{"secret": s.Secret, "uri": s.URI, "qrCode": s.QRCode})
	return nil
}

// confirmTOTP serves POST /mfa/totp/confirm.
func (a *Auth) confirmTOTP(w http.ResponseWriter, r *http.Request, cur *current) error {
	u, err := loggedInUser(cur)
	if err != nil {
		return err
	}
	obj, err := readJSONObject(w, r, a.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	code, err := obj.str("code", true)
	if err != nil {
		return err
	}
	codes, err := a.ConfirmTOTP(r.Context(), u, code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "recoveryCodes": codes})
	return nil
}

// disableTOTP serves POST /mfa/totp/disable.
func (a *Auth) disableTOTP(w http.ResponseWriter, r *http.Request, cur *current) error {
	u, err := loggedInUser(cur)
	if err != nil {
		return err
	}
	if err := a.readReauth(w, r, cur); err != nil {
		return err
	}
	if err := a.DisableTOTP(r.Context(), u); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]bool{"disabled": true})
	return nil
}
