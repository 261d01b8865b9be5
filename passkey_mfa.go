package latchkey

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// A passkey as the second login step: with two-factor sign-in on (an
// authenticator app), a user who has passkeys may prove the second factor
// with one instead of a code. Having passkeys does not turn the second step
// on by itself: a user who loses the device would have no recovery codes
// to fall back on. (A passkey alone signs in as two factors anyway, at
// POST /login/passkey/finish.)

// FactorPasskey marks a user's passkeys among their factors (userFactors
// adds one per passkey; they are kept in the PasskeyStore, not the
// MFAStore).
const FactorPasskey FactorKind = "passkey"

var passkeyLoginMethod = loginMethod{
	name:     "webauthn",
	field:    "webauthn",
	enrolled: func(fs []Factor) bool { return hasKind(fs, FactorPasskey) },
	challenge: func(ctx context.Context, a *Auth, u *User, _ []Factor, p *PendingLogin) (any, error) {
		opts, _, _, err := a.secondFactorLogin(ctx, u, p)
		return opts, err
	},
	parse: func(raw json.RawMessage) (any, error) {
		if len(raw) == 0 || raw[0] != '{' {
			return nil, &InputError{Code: "invalid_input", Field: "webauthn", Message: `The field "webauthn" must be the PublicKeyCredential as JSON.`}
		}
		return []byte(raw), nil
	},
	verify: verifyPasskeyLogin,
}

// passkeyFactors are the user's passkeys as factors, for loginMethodsOf.
func (a *Auth) passkeyFactors(ctx context.Context, userID int64) ([]Factor, error) {
	if a.passkeys == nil {
		return nil, nil
	}
	list, err := timed(a.met.op(opListPasskeys), func() ([]Passkey, error) { return a.passkeys.store.ListPasskeys(ctx, userID) })
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	out := make([]Factor, len(list))
	for i, p := range list {
		out[i] = Factor{UserID: userID, Kind: FactorPasskey, ID: hex.EncodeToString(p.CredentialID), Name: p.Name,
			CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt}
	}
	return out, nil
}

// secondFactorLogin is the assertion request for u's passkeys, with the
// challenge the pending login p derives: made again, identical, when the
// answer comes, so nothing is stored between the two. User verification is
// not asked for: the password was the first factor.
func (a *Auth) secondFactorLogin(ctx context.Context, u *User, p *PendingLogin) (*protocol.CredentialAssertion, *waUser, *webauthn.SessionData, error) {
	w, err := a.webauthnUser(ctx, u)
	if err != nil {
		return nil, nil, nil, err
	}
	opts, session, err := a.passkeys.wa.BeginLogin(w,
		webauthn.WithChallenge(a.pendingChallenge(p)),
		webauthn.WithUserVerification(protocol.VerificationDiscouraged))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("passkey challenge: %w", err)
	}
	return opts, w, session, nil
}

// verifyPasskeyLogin is the passkey method's verify: an assertion by one
// of the user's passkeys, over this pending login's challenge. The pending
// login is single-use, so the assertion is too.
func verifyPasskeyLogin(ctx context.Context, a *Auth, at *mfaAttempt, proof any) error {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(proof.([]byte))
	if err != nil {
		return &proofError{field: "webauthn", detail: "passkey_malformed"}
	}
	_, w, session, err := a.secondFactorLogin(ctx, at.user, at.pending)
	if err != nil {
		return err
	}
	cred, err := a.passkeys.wa.ValidateLogin(w, *session, parsed)
	if err != nil {
		if errors.Is(err, ErrStoreUnavailable) {
			return err
		}
		return &proofError{field: "webauthn", detail: "passkey_invalid"}
	}
	a.notePasskeyUse(ctx, w, cred)
	at.detail = "passkey"
	return nil
}
