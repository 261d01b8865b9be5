package latchkey

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/mail"
)

// Second factors: what a user has enrolled, and removing them all for
// support. The login step is in mfa_login.go, each method in a file of
// its own (mfa_totp.go, mfa_recovery.go).

// The mails about second factors, by template kind.
const (
	mailMFAEnabled               = mail.KindMFAEnabled
	mailMFADisabled              = mail.KindMFADisabled
	mailRecoveryCodeUsed         = mail.KindRecoveryCodeUsed
	mailRecoveryCodesRegenerated = mail.KindRecoveryCodesRegenerated
)

// notifyMFA mails u a notice about their second factors, if u has an
// address; failures are only logged.
func (a *Auth) notifyMFA(ctx context.Context, u *User, kind mail.Kind) {
	if u.Email != "" {
		a.notify(ctx, u, kind, u.Email)
	}
}

// MFAStatus is what a user has enrolled.
type MFAStatus struct {
	// Methods are the second login step's methods the user can use; empty
	// when logins need only the password.
	Methods []string
	// TOTP is the user's authenticator app, if any.
	TOTP *Factor
	// RecoveryCodesLeft counts the unused recovery codes.
	RecoveryCodesLeft int
}

// MFA returns what second factors the user has.
func (a *Auth) MFA(ctx context.Context, userID int64) (*MFAStatus, error) {
	fs, err := a.userFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	st := &MFAStatus{Methods: []string{}}
	for _, m := range a.loginMethodsOf(fs) {
		st.Methods = append(st.Methods, m.name)
	}
	for i, f := range fs {
		switch f.Kind {
		case FactorTOTP:
			st.TOTP = &fs[i]
		case FactorRecoveryCode:
			st.RecoveryCodesLeft++
		}
	}
	return st, nil
}

// ResetMFA removes every second factor of the user named username
// (authenticator app, recovery codes, set-ups, passkeys), for an operator helping a
// user who lost them: their next login needs only the password. It
// reports how many factor records it removed.
func (a *Auth) ResetMFA(ctx context.Context, username string) (int, error) {
	u, err := a.LookupUser(ctx, username)
	if err != nil {
		return 0, err
	}
	n, err := timed(a.met.op(opDeleteFactors), func() (int, error) { return a.factors.DeleteFactors(ctx, u.ID, "") })
	if err != nil {
		return 0, fmt.Errorf("delete factors: %w", err)
	}
	pks, err := a.deleteUserPasskeys(ctx, u.ID)
	if err != nil {
		return n, fmt.Errorf("delete passkeys: %w", err)
	}
	n += pks
	if n > 0 {
		a.record(ctx, Event{Type: EventMFADisabled, UserID: u.ID, Detail: "reset by an operator"})
		a.notifyMFA(ctx, u, mailMFADisabled)
	}
	return n, nil
}

// mfaJSON is GET /mfa's answer.
type mfaJSON struct {
	Enabled           bool      `json:"enabled"`
	Methods           []string  `json:"methods"`
	TOTP              *totpJSON `json:"totp,omitempty"`
	RecoveryCodesLeft int       `json:"recoveryCodesLeft"`
}

type totpJSON struct {
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

// mfaStatus serves GET /mfa.
func (a *Auth) mfaStatus(w http.ResponseWriter, r *http.Request, cur *current) error {
	u, err := loggedInUser(cur)
	if err != nil {
		return err
	}
	st, err := a.MFA(r.Context(), u.ID)
	if err != nil {
		return err
	}
	resp := mfaJSON{Enabled: len(st.Methods) > 0, Methods: st.Methods, RecoveryCodesLeft: st.RecoveryCodesLeft}
	if f := st.TOTP; f != nil {
		resp.TOTP = &totpJSON{CreatedAt: f.CreatedAt.UTC()}
		if !f.LastUsedAt.IsZero() {
			used := f.LastUsedAt.UTC()
			resp.TOTP.LastUsedAt = &used
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
