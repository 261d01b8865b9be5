package latchkey

import (
	"context"
	"time"
)

// Passkey is a WebAuthn credential registered to a user. latchkey keeps
// the WebAuthn library's credential record as an opaque document (Data),
// so stores need not know its fields; they index it by CredentialID.
type Passkey struct {
	// ID is assigned by the store and never reused.
	ID     int64
	UserID int64
	// CredentialID is the authenticator's credential id: unique in a store.
	CredentialID []byte
	// Data is the credential record (public key, sign count, flags…) as
	// the WebAuthn library encodes it.
	Data []byte
	// Name is the user's label for it ("YubiKey", "phone").
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// MaxPasskeysPerUser bounds how many passkeys one user may register.
const MaxPasskeysPerUser = 20

// PasskeyStore keeps passkeys. Auth finds it by type assertion on its
// UserStore, else its SessionStore; every store in this module has it.
// Auth deletes a user's passkeys before the user. Implementations must be
// safe for concurrent use.
type PasskeyStore interface {
	// AddPasskey stores p and sets p.ID. It returns ErrConflict if a
	// passkey with the same CredentialID exists, for any user.
	AddPasskey(ctx context.Context, p *Passkey) error
	// ListPasskeys returns the user's passkeys, ordered by ID.
	ListPasskeys(ctx context.Context, userID int64) ([]Passkey, error)
	// PasskeyByCredentialID returns ErrNotFound if no passkey has this
	// credential id.
	PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*Passkey, error)
	// UpdatePasskey writes Data and LastUsedAt of the passkey with this ID
	// and user (after a use: its sign count and backup state move). It
	// returns ErrNotFound if the user has no passkey with this ID.
	UpdatePasskey(ctx context.Context, userID, id int64, data []byte, lastUsedAt time.Time) error
	// RenamePasskey sets the Name of the user's passkey with this ID. It
	// returns ErrNotFound if the user has no passkey with this ID.
	RenamePasskey(ctx context.Context, userID, id int64, name string) error
	// DeletePasskey deletes the user's passkey with this ID. It returns
	// ErrNotFound if the user has no passkey with this ID: another user's
	// passkey is not found either.
	DeletePasskey(ctx context.Context, userID, id int64) error
}
