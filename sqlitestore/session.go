package sqlitestore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkey/latchkey"
	sqlite3 "modernc.org/sqlite/lib"
)

const sessionColumns = `token_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, remember, fresh, user_agent, ip,
	generation, rotated_at, user_epoch`

// unexpired is the condition Session.Expired negates, at now in ms (twice).
const unexpired = `idle_expires_at > ? AND expires_at > ?`

const findSessionSQL = `SELECT ` + sessionColumns + ` FROM sessions WHERE token_hash = ? AND ` + unexpired

// The WHERE clause makes the expiry check and the write one atomic step.
const updateSessionSQL = `UPDATE sessions
	SET last_seen_at = ?, idle_expires_at = MIN(?, expires_at), fresh = ?
	WHERE token_hash = ? AND ` + unexpired

// rotateSessionSQL is updateSessionSQL that also moves the generation, and
// only from the expected one: the compare and the swap are one statement,
// and the single write connection runs statements one at a time.
const rotateSessionSQL = `UPDATE sessions
	SET last_seen_at = ?, idle_expires_at = MIN(?, expires_at), fresh = ?, generation = ?, rotated_at = ?
	WHERE token_hash = ? AND generation = ? AND ` + unexpired

func scanSession(row interface{ Scan(...any) error }) (*latchkey.Session, error) {
	var s latchkey.Session
	var created, lastSeen, idle, expires, rotated int64
	if err := row.Scan(&s.TokenHash, &s.UserID, &created, &lastSeen, &idle, &expires,
		&s.Remember, &s.Fresh, &s.UserAgent, &s.IP, &s.Generation, &rotated, &s.UserEpoch); err != nil {
		return nil, err
	}
	s.CreatedAt, s.LastSeenAt = fromMS(created), fromMS(lastSeen)
	s.IdleExpiresAt, s.ExpiresAt = fromMS(idle), fromMS(expires)
	s.RotatedAt = fromMS(rotated)
	return &s, nil
}

// CreateSession implements latchkey.SessionStore. It stores IdleExpiresAt
// no later than ExpiresAt, the invariant Session documents, so that pruning
// on the indexed idle deadline alone finds every expired session.
func (s *Store) CreateSession(ctx context.Context, sess *latchkey.Session) error {
	if len(sess.TokenHash) == 0 {
		return errors.New("sqlitestore: create session: empty token hash")
	}
	expires := toMS(sess.ExpiresAt)
	_, err := s.writer.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, toMS(sess.CreatedAt), toMS(sess.LastSeenAt),
		min(toMS(sess.IdleExpiresAt), expires), expires,
		sess.Remember, sess.Fresh, sess.UserAgent, sess.IP, sess.Generation, toMS(sess.RotatedAt), sess.UserEpoch)
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return fmt.Errorf("sqlitestore: create session: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// FindSession implements latchkey.SessionStore.
func (s *Store) FindSession(ctx context.Context, tokenHash []byte) (*latchkey.Session, error) {
	now := toMS(s.now())
	sess, err := scanSession(s.findSession.QueryRowContext(ctx, tokenHash, now, now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: find session: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("find session", err)
	}
	return sess, nil
}

// UpdateSession implements latchkey.SessionStore. Like CreateSession, it
// keeps IdleExpiresAt no later than ExpiresAt.
func (s *Store) UpdateSession(ctx context.Context, sess *latchkey.Session) error {
	now := toMS(s.now())
	res, err := s.updateSession.ExecContext(ctx,
		toMS(sess.LastSeenAt), toMS(sess.IdleExpiresAt), sess.Fresh, sess.TokenHash, now, now)
	return affectedOne(res, err, "update session")
}

// RotateSession implements latchkey.SessionStore. The conditional UPDATE is
// the atomic step; only when it changes nothing does a second read tell a
// missing or expired session (ErrNotFound) from another generation
// (ErrConflict).
func (s *Store) RotateSession(ctx context.Context, sess *latchkey.Session, prevGen int64) error {
	now := toMS(s.now())
	res, err := s.writer.ExecContext(ctx, rotateSessionSQL,
		toMS(sess.LastSeenAt), toMS(sess.IdleExpiresAt), sess.Fresh, sess.Generation, toMS(sess.RotatedAt),
		sess.TokenHash, prevGen, now, now)
	if err != nil {
		return wrap("rotate session", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("rotate session", err)
	}
	if n == 1 {
		return nil
	}
	var gen int64
	err = s.reader.QueryRowContext(ctx, `SELECT generation FROM sessions WHERE token_hash = ? AND `+unexpired,
		sess.TokenHash, now, now).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: rotate session: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return wrap("rotate session", err)
	}
	return fmt.Errorf("sqlitestore: rotate session: generation %d, not %d: %w", gen, prevGen, latchkey.ErrConflict)
}

// DeleteSession implements latchkey.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return wrap("delete session", err)
	}
	return nil
}

// DeleteUserSessions implements latchkey.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	now := toMS(s.now())
	// One statement, so the count and the delete see the same rows.
	rows, err := s.writer.QueryContext(ctx,
		`DELETE FROM sessions WHERE user_id = ? RETURNING `+unexpired, userID, now, now)
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var live bool
		if err := rows.Scan(&live); err != nil {
			return 0, wrap("delete user sessions", err)
		}
		if live {
			n++
		}
	}
	if err := rows.Err(); err != nil {
		return 0, wrap("delete user sessions", err)
	}
	return n, nil
}

// ListUserSessions implements latchkey.SessionStore. Sessions created at the
// same millisecond are ordered by token hash.
func (s *Store) ListUserSessions(ctx context.Context, userID int64) ([]latchkey.Session, error) {
	now := toMS(s.now())
	return queryAll(ctx, s.reader, "list user sessions", scanSession, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND `+unexpired+` ORDER BY created_at DESC, token_hash`,
		userID, now, now)
}

// PruneSessions implements latchkey.SessionPruner. A limit below 1 deletes
// nothing. Because the stores keep idle_expires_at <= expires_at, the idle
// deadline alone finds every expired session, through its index; adding
// "OR expires_at <= ?" would turn each batch into a full table scan under
// the write lock.
func (s *Store) PruneSessions(ctx context.Context, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil // SQLite would read LIMIT -1 as no limit
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash IN
		(SELECT token_hash FROM sessions WHERE idle_expires_at <= ? LIMIT ?)`,
		toMS(s.now()), limit)
	if err != nil {
		return 0, wrap("prune sessions", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("prune sessions", err)
	}
	return int(n), nil
}

// findSessionUserSQL reads a session and its user in one query; the LEFT
// JOIN keeps a session whose user is gone, so the caller can delete it.
// The token hash and the user's id are known already and not selected:
// the driver's cost grows with every column.
const findSessionUserSQL = `SELECT s.user_id, s.created_at, s.last_seen_at, s.idle_expires_at,
	s.expires_at, s.remember, s.fresh, s.user_agent, s.ip, s.generation, s.rotated_at, s.user_epoch,
	u.username, u.username_key, u.email, u.email_verified, u.password_hash, u.epoch, u.roles, u.locked,
	u.created_at, u.updated_at
	FROM sessions s LEFT JOIN users u ON u.id = s.user_id
	WHERE s.token_hash = ? AND s.idle_expires_at > ? AND s.expires_at > ?`

// FindSessionUser implements latchkey.SessionUserFinder. It is every
// authenticated request's query, so it does not watch ctx for cancellation:
// for a cancellable context the driver and database/sql start two
// goroutines per query to do that, which costs more than this primary-key
// read itself. A read in WAL mode does not wait for writers; the rare wait
// for a lock (WAL recovery) is bounded by the busy timeout.
func (s *Store) FindSessionUser(ctx context.Context, tokenHash []byte) (*latchkey.Session, *latchkey.User, error) {
	ctx = context.WithoutCancel(ctx)
	now := toMS(s.now())
	// One allocation for everything Scan writes to: separate locals would
	// each escape to the heap through Scan's ...any.
	r := &struct {
		sess                         latchkey.Session
		user                         latchkey.User
		created, lastSeen            int64
		idle, expires, rotated       int64
		uCreated, uUpdated, uEpoch   sql.NullInt64
		verified, locked             sql.NullBool
		name, key, email, passwdHash sql.NullString
		roles                        sql.NullString
	}{}
	err := s.findSessionUser.QueryRowContext(ctx, tokenHash, now, now).Scan(
		&r.sess.UserID, &r.created, &r.lastSeen, &r.idle, &r.expires,
		&r.sess.Remember, &r.sess.Fresh, &r.sess.UserAgent, &r.sess.IP, &r.sess.Generation, &r.rotated, &r.sess.UserEpoch,
		&r.name, &r.key, &r.email, &r.verified, &r.passwdHash, &r.uEpoch,
		&r.roles, &r.locked, &r.uCreated, &r.uUpdated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("sqlitestore: find session: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, nil, wrap("find session", err)
	}
	sess, u := &r.sess, &r.user
	sess.TokenHash = bytes.Clone(tokenHash)
	sess.CreatedAt, sess.LastSeenAt = fromMS(r.created), fromMS(r.lastSeen)
	sess.IdleExpiresAt, sess.ExpiresAt = fromMS(r.idle), fromMS(r.expires)
	sess.RotatedAt = fromMS(r.rotated)
	if !r.name.Valid { // username is NOT NULL: no user row matched
		return sess, nil, nil
	}
	u.ID, u.Username, u.UsernameKey = sess.UserID, r.name.String, r.key.String
	u.Email, u.EmailVerified, u.PasswordHash = r.email.String, r.verified.Bool, r.passwdHash.String
	u.Epoch, u.CreatedAt, u.UpdatedAt = r.uEpoch.Int64, fromMS(r.uCreated.Int64), fromMS(r.uUpdated.Int64)
	u.Roles, u.Locked = latchkey.SplitRoles(r.roles.String), r.locked.Bool // no roles, no allocation
	return sess, u, nil
}
