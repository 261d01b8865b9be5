package latchkey

import (
	"context"
	"time"
)

// EventType names what a security event records.
type EventType string

// The security events latchkey records. Detail, where set, says more: the
// reason a login failed, the role changed, the API token's name.
const (
	EventLoginSucceeded    EventType = "login_succeeded"
	EventLoginFailed       EventType = "login_failed" // Detail: wrong_password, locked, unverified, throttled
	EventLogout            EventType = "logout"
	EventSessionRevoked    EventType = "session_revoked"  // ActorID: an admin, else the user
	EventSessionsRevoked   EventType = "sessions_revoked" // every session, or every other one (Detail: others)
	EventPasswordChanged   EventType = "password_changed"
	EventPasswordReset     EventType = "password_reset"
	EventEmailChanged      EventType = "email_changed"
	EventEmailVerified     EventType = "email_verified"
	EventAccountLocked     EventType = "account_locked"
	EventAccountUnlocked   EventType = "account_unlocked"
	EventAccountDeleted    EventType = "account_deleted"
	EventRoleChanged       EventType = "role_changed" // Detail: "+admin", "-admin", or "=a,b" when all were set
	EventResetRequested    EventType = "password_reset_requested"
	EventAPITokenCreated   EventType = "api_token_created"
	EventAPITokenRevoked   EventType = "api_token_revoked"
	EventRefreshTokenReuse EventType = "refresh_token_reuse"

	EventMFAEnabled               EventType = "mfa_enabled"        // Detail: the factor ("totp")
	EventMFADisabled              EventType = "mfa_disabled"       // Detail: the factor, or "reset by an operator"
	EventMFAFailed                EventType = "mfa_failed"         // Detail: totp_wrong_code, totp_replayed, recovery_code_wrong…
	EventRecoveryCodeUsed         EventType = "recovery_code_used" // Detail: "N left"
	EventRecoveryCodesRegenerated EventType = "recovery_codes_regenerated"
	EventPasskeyAdded             EventType = "passkey_added"   // Detail: its name
	EventPasskeyRemoved           EventType = "passkey_removed" // Detail: its id
)

// Event is one security event: something that happened to an account.
// It holds no secret: no password, token or hash.
type Event struct {
	// ID is assigned by the store, increasing: a later event of a store
	// has a greater ID.
	ID   int64
	Time time.Time
	Type EventType
	// UserID is the account it happened to; 0 when unknown (a failed login
	// for a name nobody has).
	UserID int64
	// ActorID is who did it when that was not the user: an admin.
	ActorID int64
	// IP and Device are the client's, as latchkey saw them.
	IP     string
	Device string
	Detail string
}

// EventStore keeps security events. Auth finds it by type assertion on its
// UserStore, else its SessionStore; every store in this module has it.
// Implementations must be safe for concurrent use.
type EventStore interface {
	// AddEvent stores e and sets e.ID.
	AddEvent(ctx context.Context, e *Event) error
	// ListEvents returns up to limit of the user's events with an ID below
	// beforeID (any ID when beforeID is 0 or less), newest (greatest ID)
	// first. A limit of zero or less returns none.
	ListEvents(ctx context.Context, userID, beforeID int64, limit int) ([]Event, error)
	// PruneEvents deletes up to limit events whose Time is before before,
	// and reports how many it deleted. A limit of zero or less deletes
	// none.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int, error)
}
