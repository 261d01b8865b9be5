package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

const userColumns = `id, username, username_key, COALESCE(username_skeleton, ''), email, email_verified, password_hash, epoch, roles, locked, created_at, updated_at`

func scanUser(row pgx.Row) (*latchkey.User, error) {
	var u latchkey.User
	var roles string
	if err := row.Scan(&u.ID, &u.Username, &u.UsernameKey, &u.UsernameSkeleton, &u.Email, &u.EmailVerified, &u.PasswordHash, &u.Epoch,
		&roles, &u.Locked, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
	u.Roles = latchkey.SplitRoles(roles)
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return &u, nil
}

// CreateUser implements latchkey.UserStore. The unique constraint on
// username_key decides concurrent registrations of one name.
func (s *Store) CreateUser(ctx context.Context, u *latchkey.User) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO users
		(username, username_key, username_skeleton, email, email_key, email_verified, password_hash, epoch, roles, locked, created_at, updated_at)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		u.Username, u.UsernameKey, u.UsernameSkeleton, u.Email, latchkey.EmailKey(u.Email), u.EmailVerified, u.PasswordHash, u.Epoch,
		strings.Join(u.Roles, " "), u.Locked, ms(u.CreatedAt), ms(u.UpdatedAt)).Scan(&id)
	if isUniqueViolation(err, "users_verified_email") {
		return fmt.Errorf("pgstore: create user: %w", latchkey.ErrEmailTaken)
	}
	if isUniqueViolation(err, "users_username_key") || isUniqueViolation(err, "users_username_skeleton") {
		return fmt.Errorf("pgstore: create user: %w", latchkey.ErrUsernameTaken)
	}
	if err != nil {
		return wrap("create user", err)
	}
	u.ID = id
	return nil
}

// UserByID implements latchkey.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: user %d: %w", id, latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("user %d", id), err)
	}
	return u, nil
}

// UserByUsernameKey implements latchkey.UserStore.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = $1`, key))
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: user by username: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("user by username", err)
	}
	return u, nil
}

// UpdatePasswordHash implements latchkey.UserStore.
func (s *Store) UpdatePasswordHash(ctx context.Context, id int64, hash string, updatedAt time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3`,
		hash, ms(updatedAt), id)
	return affectedOne(tag, err, fmt.Sprintf("update password hash of user %d", id))
}

// UserByEmail implements latchkey.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*latchkey.User, error) {
	if email == "" {
		return nil, fmt.Errorf("pgstore: user by email: %w", latchkey.ErrNotFound)
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1
		ORDER BY email_verified DESC, id LIMIT 1`, latchkey.EmailKey(email)))
	if isNoRows(err) {
		return nil, fmt.Errorf("pgstore: user by email: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// UpdateEmail implements latchkey.UserStore.
func (s *Store) UpdateEmail(ctx context.Context, id int64, from, email string, verified bool, updatedAt time.Time) error {
	op := fmt.Sprintf("update email of user %d", id)
	opCtx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(opCtx, `UPDATE users SET email = $1, email_key = $2, email_verified = $3, updated_at = $4 WHERE id = $5 AND email = $6`,
		email, latchkey.EmailKey(email), verified, ms(updatedAt), id, from)
	if isUniqueViolation(err, "users_verified_email") {
		return fmt.Errorf("pgstore: %s: %w", op, latchkey.ErrEmailTaken)
	}
	if err := affectedOne(tag, err, op); !errors.Is(err, latchkey.ErrNotFound) {
		return err
	}
	if _, err := s.UserByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("pgstore: %s: the address changed: %w", op, latchkey.ErrConflict)
}

// AdvanceEpoch implements latchkey.UserStore: one UPDATE … RETURNING,
// atomic under the row lock.
func (s *Store) AdvanceEpoch(ctx context.Context, id int64) (int64, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var epoch int64
	err := s.pool.QueryRow(ctx, `UPDATE users SET epoch = epoch + 1 WHERE id = $1 RETURNING epoch`, id).Scan(&epoch)
	if isNoRows(err) {
		return 0, fmt.Errorf("pgstore: advance epoch of user %d: %w", id, latchkey.ErrNotFound)
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("advance epoch of user %d", id), err)
	}
	return epoch, nil
}

// DeleteUser implements latchkey.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	return affectedOne(tag, err, fmt.Sprintf("delete user %d", id))
}

// ListUsers implements latchkey.UserStore. A limit below 1 returns no users.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]latchkey.User, error) {
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	return queryAll(ctx, s, "list users", scanUser, `SELECT `+userColumns+` FROM users WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
}

// SearchUsers implements latchkey.UserStore. strpos, not LIKE, so that
// '_' and '%' in the query are plain characters. It scans the users in id
// order, as an admin's search may: neither column's index can serve a
// substring.
func (s *Store) SearchUsers(ctx context.Context, query string, afterID int64, limit int) ([]latchkey.User, error) {
	if query == "" {
		return s.ListUsers(ctx, afterID, limit)
	}
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	return queryAll(ctx, s, "search users", scanUser, `SELECT `+userColumns+` FROM users
		WHERE id > $1 AND (strpos(username_key, $2) > 0 OR strpos(email_key, $2) > 0) ORDER BY id LIMIT $3`,
		afterID, query, limit)
}

// SetRoles implements latchkey.UserStore.
func (s *Store) SetRoles(ctx context.Context, id int64, roles []string, updatedAt time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET roles = $1, updated_at = $2 WHERE id = $3`,
		strings.Join(roles, " "), ms(updatedAt), id)
	return affectedOne(tag, err, fmt.Sprintf("set roles of user %d", id))
}

// hasRoleSQL is the position of the role $1 in the space-separated roles
// column, 0 if it is not there: padded with spaces, so that "edit" does
// not match "editor".
const hasRoleSQL = `strpos(' ' || roles || ' ', ' ' || $1 || ' ')`

// ChangeRole implements latchkey.UserStore. The check and the change are
// one UPDATE: adding appends the role and removing cuts it out of the
// padded column, each only where the WHERE clause says it is missing or
// present. Under READ COMMITTED an UPDATE that waited for a concurrent
// one's row lock re-checks its WHERE and recomputes its SET on the row
// that one committed, so concurrent changes of different roles all take
// effect. Only when no row changed does a second read tell an unknown
// user (ErrNotFound) from a role already there or already gone.
func (s *Store) ChangeRole(ctx context.Context, id int64, role string, add bool, updatedAt time.Time) (bool, error) {
	op := fmt.Sprintf("change role of user %d", id)
	query := `UPDATE users SET roles = btrim(roles || ' ' || $1), updated_at = $2 WHERE id = $3 AND ` + hasRoleSQL + ` = 0`
	if !add {
		query = `UPDATE users SET roles = btrim(replace(' ' || roles || ' ', ' ' || $1 || ' ', ' ')), updated_at = $2
			WHERE id = $3 AND ` + hasRoleSQL + ` > 0`
	}
	opCtx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(opCtx, query, role, ms(updatedAt), id)
	if err := affectedOne(tag, err, op); !errors.Is(err, latchkey.ErrNotFound) {
		return err == nil, err
	}
	if _, err := s.UserByID(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// SetLocked implements latchkey.UserStore.
func (s *Store) SetLocked(ctx context.Context, id int64, locked bool, updatedAt time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE users SET locked = $1, updated_at = $2 WHERE id = $3`,
		locked, ms(updatedAt), id)
	return affectedOne(tag, err, fmt.Sprintf("set locked of user %d", id))
}
