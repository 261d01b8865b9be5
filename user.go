package latchkey

import (
	"context"
	"strings"
	"time"
)

// User is an account that can log in.
type User struct {
	// ID is assigned by the store on creation and never reused.
	ID int64
	// Username is the name as the user chose it (trimmed, case preserved).
	Username string
	// UsernameKey is the case-folded form of Username that the store keeps
	// unique; see NormalizeUsername.
	UsernameKey string
	// UsernameSkeleton is username.Skeleton(Username): names that look
	// alike share it, so the store keeps it unique too. Users stored before
	// it existed may have it empty until the store fills it in.
	UsernameSkeleton string
	// Email is optional; empty when not given.
	Email string
	// EmailVerified is set once the user followed a link mailed to Email.
	// A verified address is unique among users (EmailKey).
	EmailVerified bool
	// PasswordHash is a PHC string (argon2id) or an imported bcrypt hash.
	PasswordHash string
	// Epoch counts the user's credential changes (password set, every
	// session ended). A session remembers the epoch it was made in and is
	// dead once the user's has moved on, so a login racing a password
	// change cannot leave a session behind it.
	Epoch int64
	// Roles are what the user may do beyond being logged in ("admin"),
	// sorted and unique; each matches ValidRole.
	Roles []string
	// Locked is set by an operator: a locked user cannot log in, and no
	// session, token family or API token of theirs is honoured.
	Locked    bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// HasRole reports whether u has the role.
func (u *User) HasRole(role string) bool {
	for _, r := range u.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// UserStore keeps users. Implementations must be safe for concurrent use.
type UserStore interface {
	// CreateUser inserts u, sets u.ID, and keeps u.CreatedAt and u.UpdatedAt
	// as given. It returns ErrUsernameTaken if another user has the same
	// UsernameKey, or the same non-empty UsernameSkeleton, even when both
	// are created concurrently, and ErrEmailTaken if u.EmailVerified and
	// another user has the address verified.
	CreateUser(ctx context.Context, u *User) error

	// UserByID returns ErrNotFound if no user has this id.
	UserByID(ctx context.Context, id int64) (*User, error)

	// UserByUsernameKey returns ErrNotFound if no user has this key.
	UserByUsernameKey(ctx context.Context, key string) (*User, error)

	// UserByEmail returns the user with this address, compared by
	// EmailKey: the one that has it verified if any, else the earliest
	// created. It returns ErrNotFound if no user has it.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateEmail sets the user's Email and EmailVerified and UpdatedAt, if
	// its Email is still from (compared exactly): the check and the write
	// are one step, so a verification that read the old address cannot
	// write it back over a change made meanwhile. It returns ErrConflict if
	// the Email is not from, ErrEmailTaken if verified and another user has
	// the same address verified (even when both are set concurrently), and
	// ErrNotFound if no user has this id.
	UpdateEmail(ctx context.Context, id int64, from, email string, verified bool, updatedAt time.Time) error
	// UpdatePasswordHash replaces the user's password hash and sets UpdatedAt.
	// It returns ErrNotFound if no user has this id.
	UpdatePasswordHash(ctx context.Context, id int64, hash string, updatedAt time.Time) error

	// AdvanceEpoch increments the user's Epoch in one atomic step and
	// returns the new value, ending every session made before it. It returns
	// ErrNotFound if no user has this id.
	AdvanceEpoch(ctx context.Context, id int64) (int64, error)
	// DeleteUser removes the user. It returns ErrNotFound if no user has this
	// id. Sessions are not the user store's business: callers delete them
	// from the SessionStore first. A store that implements APITokenStore
	// deletes the user's API tokens too.
	DeleteUser(ctx context.Context, id int64) error

	// ListUsers returns up to limit users with ID greater than afterID,
	// ordered by ID, so callers can page through any number of users. A
	// limit of zero or less returns none.
	ListUsers(ctx context.Context, afterID int64, limit int) ([]User, error)
	// SearchUsers is ListUsers of the users whose UsernameKey or EmailKey
	// contains query, which the caller has lower-cased; an empty query
	// matches every user.
	SearchUsers(ctx context.Context, query string, afterID int64, limit int) ([]User, error)

	// SetRoles replaces the user's roles (each valid by ValidRole, the
	// caller has sorted them and removed duplicates) and sets UpdatedAt.
	// It returns ErrNotFound if no user has this id.
	SetRoles(ctx context.Context, id int64, roles []string, updatedAt time.Time) error
	// ChangeRole adds (add true) or removes the role in one atomic step,
	// so that concurrent changes of different roles all take effect, and
	// reports whether the roles changed; UpdatedAt is set only if they
	// did. It returns ErrNotFound if no user has this id.
	ChangeRole(ctx context.Context, id int64, role string, add bool, updatedAt time.Time) (bool, error)
	// SetLocked sets the user's Locked flag and UpdatedAt. It returns
	// ErrNotFound if no user has this id.
	SetLocked(ctx context.Context, id int64, locked bool, updatedAt time.Time) error
}

// EmailKey is the form in which addresses are compared: lower case. Local
// parts are case-sensitive by the letter of RFC 5321 and nowhere in
// practice, and treating "Ann@x" and "ann@x" as two people would let one
// claim the other's address.
func EmailKey(email string) string { return strings.ToLower(email) }
