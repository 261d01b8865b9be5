package latchkey

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/latchkey/latchkey/internal/recoverycode"
)

// Recovery codes: ten single-use codes that stand in for the second
// factor when it is lost, made when the first factor is confirmed and on
// request (a fresh login), shown once. Each is a FactorRecoveryCode whose
// ID is the code's SHA-256; using one deletes it, which the store does for
// one request only. Using one is a security event and a mail.

var recoveryLoginMethod = loginMethod{
	name:     "recovery_code",
	field:    "recoveryCode",
	enrolled: func(fs []Factor) bool { return hasKind(fs, FactorRecoveryCode) },
	parse:    stringProof("recoveryCode"),
	verify:   verifyRecoveryLogin,
}

// recoveryCodeID is the factor ID of a normalized code of the user.
func recoveryCodeID(userID int64, norm string) string {
	return hex.EncodeToString(recoverycode.Hash(userID, norm))
}

// verifyRecoveryLogin is the recovery code method's verify: deleting the
// code's record is the check and the spending, in one step.
func verifyRecoveryLogin(ctx context.Context, a *Auth, at *mfaAttempt, proof any) error {
	norm, ok := recoverycode.Normalize(proof.(string))
	if !ok {
		return &proofError{field: "recoveryCode", detail: "recovery_code_wrong"}
	}
	err := timedErr(a.met.op(opDeleteFactor), func() error {
		return a.factors.DeleteFactor(ctx, at.user.ID, FactorRecoveryCode, recoveryCodeID(at.user.ID, norm))
	})
	if errors.Is(err, ErrNotFound) {
		return &proofError{field: "recoveryCode", detail: "recovery_code_wrong"}
	}
	if err != nil {
		return fmt.Errorf("use recovery code: %w", err)
	}
	left := 0
	for _, f := range at.factors {
		if f.Kind == FactorRecoveryCode {
			left++
		}
	}
	left = max(left-1, 0)
	at.detail = fmt.Sprintf("recovery code, %d left", left)
	a.record(ctx, Event{Type: EventRecoveryCodeUsed, UserID: at.user.ID, Detail: fmt.Sprintf("%d left", left)})
	a.notifyMFA(ctx, at.user, mailRecoveryCodeUsed)
	return nil
}

// newRecoveryCodes gives u a new set of recovery codes, replacing the old
// set in one step, and returns them: the only time they are seen.
func (a *Auth) newRecoveryCodes(ctx context.Context, u *User) ([]string, error) {
	codes := recoverycode.New()
	now := a.now()
	fs := make([]Factor, len(codes))
	for i, c := range codes {
		norm, _ := recoverycode.Normalize(c)
		fs[i] = Factor{UserID: u.ID, Kind: FactorRecoveryCode, ID: recoveryCodeID(u.ID, norm), CreatedAt: now}
	}
	if err := timedErr(a.met.op(opReplaceFactors), func() error { return a.factors.ReplaceFactors(ctx, u.ID, FactorRecoveryCode, fs) }); err != nil {
		return nil, fmt.Errorf("store recovery codes: %w", err)
	}
	return codes, nil
}

// RegenerateRecoveryCodes replaces u's recovery codes with a new set and
// returns it. It returns ErrMFANotEnabled if u has no second factor, for
// which codes would stand in. Callers check that the person is the owner
// first (reauth).
func (a *Auth) RegenerateRecoveryCodes(ctx context.Context, u *User) ([]string, error) {
	fs, err := a.userFactors(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if len(a.loginMethodsOf(fs)) == 0 {
		return nil, ErrMFANotEnabled
	}
	codes, err := a.newRecoveryCodes(ctx, u)
	if err != nil {
		return nil, err
	}
	a.record(ctx, Event{Type: EventRecoveryCodesRegenerated, UserID: u.ID})
	a.notifyMFA(ctx, u, mailRecoveryCodesRegenerated)
	return codes, nil
}

// dropOrphanRecoveryCodes deletes the user's recovery codes once no
// second factor is left for them to stand in for.
func (a *Auth) dropOrphanRecoveryCodes(ctx context.Context, userID int64) error {
	fs, err := a.userFactors(ctx, userID)
	if err != nil {
		return err
	}
	if len(a.loginMethodsOf(fs)) > 0 {
		return nil
	}
	if _, err := timed(a.met.op(opDeleteFactors), func() (int, error) { return a.factors.DeleteFactors(ctx, userID, FactorRecoveryCode) }); err != nil {
		return fmt.Errorf("delete recovery codes: %w", err)
	}
	return nil
}

// regenerateRecoveryCodes serves POST /mfa/recovery-codes.
func (a *Auth) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request, cur *current) error {
	u, err := loggedInUser(cur)
	if err != nil {
		return err
	}
	if err := a.readReauth(w, r, cur); err != nil {
		return err
	}
	codes, err := a.RegenerateRecoveryCodes(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"recoveryCodes": codes})
	return nil
}
