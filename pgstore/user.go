package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

const userColumns = `id, username, username_key, COALESCE(username_skeleton, ''), email, email_verified, password_hash, epoch, created_at, updated_at`

func scanUser(row pgx.Row) (*latchkey.User, error) {
	var u latchkey.User
	if err := row.Scan(&u.ID, &u.Username, &u.UsernameKey, &u.UsernameSkeleton, &u.Email, &u.EmailVerified, &u.PasswordHash, &u.Epoch, &u.CreatedAt, &u.UpdatedAt); err != nil {
		return nil, err
	}
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
		(username, username_key, username_skeleton, email, email_key, email_verified, password_hash, epoch, created_at, updated_at)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		u.Username, u.UsernameKey, u.UsernameSkeleton, u.Email, latchkey.EmailKey(u.Email), u.EmailVerified, u.PasswordHash, u.Epoch, ms(u.CreatedAt), ms(u.UpdatedAt)).Scan(&id)
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
