package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	sqlite3 "modernc.org/sqlite/lib"
)

const userColumns = `id, username, username_key, COALESCE(username_skeleton, ''), email, email_verified, password_hash, epoch, roles, locked, created_at, updated_at`

const userByIDSQL = `SELECT ` + userColumns + ` FROM users WHERE id = ?`

func scanUser(row interface{ Scan(...any) error }) (*latchkey.User, error) {
	var u latchkey.User
	var created, updated int64
	var roles string
	if err := row.Scan(&u.ID, &u.Username, &u.UsernameKey, &u.UsernameSkeleton, &u.Email, &u.EmailVerified, &u.PasswordHash, &u.Epoch,
		&roles, &u.Locked, &created, &updated); err != nil {
		return nil, err
	}
	u.Roles = latchkey.SplitRoles(roles)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	return &u, nil
}

// CreateUser implements latchkey.UserStore.
func (s *Store) CreateUser(ctx context.Context, u *latchkey.User) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO users
		(username, username_key, username_skeleton, email, email_key, email_verified, password_hash, epoch, roles, locked, created_at, updated_at)
		VALUES (?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Username, u.UsernameKey, u.UsernameSkeleton, u.Email, latchkey.EmailKey(u.Email), u.EmailVerified, u.PasswordHash, u.Epoch,
		strings.Join(u.Roles, " "), u.Locked, toMS(u.CreatedAt), toMS(u.UpdatedAt))
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) && strings.Contains(err.Error(), "email_key") {
		return fmt.Errorf("sqlitestore: create user: %w", latchkey.ErrEmailTaken)
	}
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		// username_key and username_skeleton are the UNIQUE columns; ids
		// come from AUTOINCREMENT.
		return fmt.Errorf("sqlitestore: create user: %w", latchkey.ErrUsernameTaken)
	}
	if err != nil {
		return wrap("create user", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap("create user", err)
	}
	u.ID = id
	return nil
}

// UserByID implements latchkey.UserStore.
func (s *Store) UserByID(ctx context.Context, id int64) (*latchkey.User, error) {
	u, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: user %d: %w", id, latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(fmt.Sprintf("user %d", id), err)
	}
	return u, nil
}

// UserByUsernameKey implements latchkey.UserStore.
func (s *Store) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username_key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: user by username: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("user by username", err)
	}
	return u, nil
}

// UpdatePasswordHash implements latchkey.UserStore.
func (s *Store) UpdatePasswordHash(ctx context.Context, id int64, hash string, updatedAt time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
		hash, toMS(updatedAt), id)
	return affectedOne(res, err, fmt.Sprintf("update password hash of user %d", id))
}

// UserByEmail implements latchkey.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*latchkey.User, error) {
	if email == "" {
		return nil, fmt.Errorf("sqlitestore: user by email: %w", latchkey.ErrNotFound)
	}
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = ?
		ORDER BY email_verified DESC, id LIMIT 1`, latchkey.EmailKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: user by email: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("user by email", err)
	}
	return u, nil
}

// UpdateEmail implements latchkey.UserStore.
func (s *Store) UpdateEmail(ctx context.Context, id int64, from, email string, verified bool, updatedAt time.Time) error {
	op := fmt.Sprintf("update email of user %d", id)
	res, err := s.writer.ExecContext(ctx, `UPDATE users SET email = ?, email_key = ?, email_verified = ?, updated_at = ? WHERE id = ? AND email = ?`,
		email, latchkey.EmailKey(email), verified, toMS(updatedAt), id, from)
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("sqlitestore: %s: %w", op, latchkey.ErrEmailTaken)
	}
	if err := affectedOne(res, err, op); !errors.Is(err, latchkey.ErrNotFound) {
		return err
	}
	if _, err := s.UserByID(ctx, id); err != nil {
		return err
	}
	return fmt.Errorf("sqlitestore: %s: the address changed: %w", op, latchkey.ErrConflict)
}

// AdvanceEpoch implements latchkey.UserStore: one UPDATE … RETURNING.
func (s *Store) AdvanceEpoch(ctx context.Context, id int64) (int64, error) {
	var epoch int64
	err := s.writer.QueryRowContext(ctx, `UPDATE users SET epoch = epoch + 1 WHERE id = ? RETURNING epoch`, id).Scan(&epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("sqlitestore: advance epoch of user %d: %w", id, latchkey.ErrNotFound)
	}
	if err != nil {
		return 0, wrap(fmt.Sprintf("advance epoch of user %d", id), err)
	}
	return epoch, nil
}

// DeleteUser implements latchkey.UserStore.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	return affectedOne(res, err, fmt.Sprintf("delete user %d", id))
}

// affectedOne turns "no row matched" into ErrNotFound.
func affectedOne(res sql.Result, err error, op string) error {
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: %s: %w", op, latchkey.ErrNotFound)
	}
	return nil
}

// ListUsers implements latchkey.UserStore. A limit below 1 returns no users.
func (s *Store) ListUsers(ctx context.Context, afterID int64, limit int) ([]latchkey.User, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read LIMIT -1 as no limit
	}
	return queryAll(ctx, s.reader, "list users", scanUser, `SELECT `+userColumns+` FROM users WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
}

// SearchUsers implements latchkey.UserStore. instr, not LIKE, so that
// '_' and '%' in the query are plain characters. It scans the users in id
// order, as an admin's search may: neither column's index can serve a
// substring.
func (s *Store) SearchUsers(ctx context.Context, query string, afterID int64, limit int) ([]latchkey.User, error) {
	if query == "" {
		return s.ListUsers(ctx, afterID, limit)
	}
	if limit <= 0 {
		return nil, nil // SQLite would read LIMIT -1 as no limit
	}
	return queryAll(ctx, s.reader, "search users", scanUser, `SELECT `+userColumns+` FROM users
		WHERE id > ? AND (instr(username_key, ?) > 0 OR instr(email_key, ?) > 0) ORDER BY id LIMIT ?`,
		afterID, query, query, limit)
}

// SetRoles implements latchkey.UserStore.
func (s *Store) SetRoles(ctx context.Context, id int64, roles []string, updatedAt time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE users SET roles = ?, updated_at = ? WHERE id = ?`,
		strings.Join(roles, " "), toMS(updatedAt), id)
	return affectedOne(res, err, fmt.Sprintf("set roles of user %d", id))
}

// hasRoleSQL is true when the space-separated roles column holds the
// role ?: padded with spaces, so that "edit" does not match "editor".
const hasRoleSQL = `instr(' ' || roles || ' ', ' ' || ? || ' ')`

// ChangeRole implements latchkey.UserStore. The check and the change are
// one UPDATE, so concurrent changes cannot undo each other: adding appends
// the role and removing cuts it out of the padded column, each only where
// the WHERE clause says it is missing or present. Only when no row changed
// does a second read tell an unknown user (ErrNotFound) from a role
// already there or already gone.
func (s *Store) ChangeRole(ctx context.Context, id int64, role string, add bool, updatedAt time.Time) (bool, error) {
	op := fmt.Sprintf("change role of user %d", id)
	query := `UPDATE users SET roles = trim(roles || ' ' || ?), updated_at = ? WHERE id = ? AND ` + hasRoleSQL + ` = 0`
	if !add {
		query = `UPDATE users SET roles = trim(replace(' ' || roles || ' ', ' ' || ? || ' ', ' ')), updated_at = ?
			WHERE id = ? AND ` + hasRoleSQL + ` > 0`
	}
	res, err := s.writer.ExecContext(ctx, query, role, toMS(updatedAt), id, role)
	if err := affectedOne(res, err, op); !errors.Is(err, latchkey.ErrNotFound) {
		return err == nil, err
	}
	if _, err := s.UserByID(ctx, id); err != nil {
		return false, err
	}
	return false, nil
}

// SetLocked implements latchkey.UserStore.
func (s *Store) SetLocked(ctx context.Context, id int64, locked bool, updatedAt time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE users SET locked = ?, updated_at = ? WHERE id = ?`,
		locked, toMS(updatedAt), id)
	return affectedOne(res, err, fmt.Sprintf("set locked of user %d", id))
}
