package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/latchkey/latchkey"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ latchkey.PasskeyStore = (*Store)(nil)

const passkeyColumns = `id, user_id, credential_id, data, name, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }) (*latchkey.Passkey, error) {
	var p latchkey.Passkey
	var created, used int64
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Data, &p.Name, &created, &used); err != nil {
		return nil, err
	}
	p.CreatedAt, p.LastUsedAt = fromMS(created), fromMS(used)
	return &p, nil
}

// AddPasskey implements latchkey.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, p *latchkey.Passkey) error {
	res, err := s.writer.ExecContext(ctx, `INSERT INTO passkeys (user_id, credential_id, data, name, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?)`, p.UserID, p.CredentialID, p.Data, p.Name, toMS(p.CreatedAt), toMS(p.LastUsedAt))
	if isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return fmt.Errorf("sqlitestore: add passkey: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("add passkey", err)
	}
	if p.ID, err = res.LastInsertId(); err != nil {
		return wrap("add passkey", err)
	}
	return nil
}

// ListPasskeys implements latchkey.PasskeyStore.
func (s *Store) ListPasskeys(ctx context.Context, userID int64) ([]latchkey.Passkey, error) {
	return queryAll(ctx, s.reader, "list passkeys", scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = ? ORDER BY id`, userID)
}

// PasskeyByCredentialID implements latchkey.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*latchkey.Passkey, error) {
	p, err := scanPasskey(s.reader.QueryRowContext(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = ?`, credentialID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: passkey: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("passkey", err)
	}
	return p, nil
}

// UpdatePasskey implements latchkey.PasskeyStore.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id int64, data []byte, lastUsedAt time.Time) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE passkeys SET data = ?, last_used_at = ? WHERE id = ? AND user_id = ?`,
		data, toMS(lastUsedAt), id, userID)
	return affectedOne(res, err, fmt.Sprintf("update passkey %d", id))
}

// RenamePasskey implements latchkey.PasskeyStore.
func (s *Store) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	res, err := s.writer.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
	return affectedOne(res, err, fmt.Sprintf("rename passkey %d", id))
}

// DeletePasskey implements latchkey.PasskeyStore.
func (s *Store) DeletePasskey(ctx context.Context, userID, id int64) error {
	res, err := s.writer.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return affectedOne(res, err, fmt.Sprintf("delete passkey %d", id))
}
