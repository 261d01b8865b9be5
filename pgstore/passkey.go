package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PasskeyStore = (*Store)(nil)

const passkeyColumns = `id, user_id, credential_id, data, name, created_at, last_used_at`

func scanPasskey(row pgx.Row) (*latchkey.Passkey, error) {
	var p latchkey.Passkey
	if err := row.Scan(&p.ID, &p.UserID, &p.CredentialID, &p.Data, &p.Name, &p.CreatedAt, &p.LastUsedAt); err != nil {
		return nil, err
	}
	p.CreatedAt, p.LastUsedAt = p.CreatedAt.UTC(), p.LastUsedAt.UTC()
	return &p, nil
}

// AddPasskey implements latchkey.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, p *latchkey.Passkey) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	err := s.pool.QueryRow(ctx, `INSERT INTO passkeys (user_id, credential_id, data, name, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		p.UserID, p.CredentialID, p.Data, text(p.Name), ms(p.CreatedAt), ms(p.LastUsedAt)).Scan(&p.ID)
	if isUniqueViolation(err, "passkeys_credential_id_key") {
		return fmt.Errorf("pgstore: add passkey: %w", latchkey.ErrConflict)
	}
	if err != nil {
		return wrap("add passkey", err)
	}
	return nil
}

// ListPasskeys implements latchkey.PasskeyStore.
func (s *Store) ListPasskeys(ctx context.Context, userID int64) ([]latchkey.Passkey, error) {
	return queryAll(ctx, s, "list passkeys", scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY id`, userID)
}

// PasskeyByCredentialID implements latchkey.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*latchkey.Passkey, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	p, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE credential_id = $1`, credentialID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: passkey: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("passkey", err)
	}
	return p, nil
}

// UpdatePasskey implements latchkey.PasskeyStore.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id int64, data []byte, lastUsedAt time.Time) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE passkeys SET data = $1, last_used_at = $2 WHERE id = $3 AND user_id = $4`,
		data, ms(lastUsedAt), id, userID)
	return affectedOne(tag, err, fmt.Sprintf("update passkey %d", id))
}

// RenamePasskey implements latchkey.PasskeyStore.
func (s *Store) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3`, text(name), id, userID)
	return affectedOne(tag, err, fmt.Sprintf("rename passkey %d", id))
}

// DeletePasskey implements latchkey.PasskeyStore.
func (s *Store) DeletePasskey(ctx context.Context, userID, id int64) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	return affectedOne(tag, err, fmt.Sprintf("delete passkey %d", id))
}
