package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PasskeyStore = (*Store)(nil)

// The passkey keys (see the package doc): a hash per credential, and per
// user a sorted set of the user's credential ids (hex) scored by passkey id.
func (s *Store) passkeySeqKey() string { return s.prefix() + "p:seq" }

func (s *Store) passkeyKey(credHex string) string { return s.prefix() + "p:c:" + credHex }

func (s *Store) userPasskeysKey(userID int64) string {
	return s.prefix() + "p:{" + strconv.FormatInt(userID, 10) + "}"
}

// addPasskeyScript creates the credential's hash unless it exists: one
// key, so the uniqueness check is atomic in a cluster too.
var addPasskeyScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`)

// AddPasskey implements latchkey.PasskeyStore. The user's index entry is
// written first: an entry without its hash is skipped by readers, while a
// hash without its entry could be used but never listed or deleted.
func (s *Store) AddPasskey(ctx context.Context, p *latchkey.Passkey) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	id, err := s.client.Incr(ctx, s.passkeySeqKey()).Result()
	if err != nil {
		return wrap("add passkey", err)
	}
	credHex := hex.EncodeToString(p.CredentialID)
	index := s.userPasskeysKey(p.UserID)
	// NX: a credential the user holds already keeps its entry and score.
	added, err := s.client.ZAddNX(ctx, index, redis.Z{Score: float64(id), Member: credHex}).Result()
	if err != nil {
		return wrap("add passkey", err)
	}
	created, err := addPasskeyScript.Run(ctx, s.client, []string{s.passkeyKey(credHex)},
		"id", id, "user", p.UserID, "data", p.Data, "name", p.Name,
		"created", p.CreatedAt.UnixMilli(), "used", p.LastUsedAt.UnixMilli()).Int()
	if (err != nil || created == 0) && added == 1 {
		s.client.ZRem(ctx, index, credHex) // take back the entry this call made
	}
	if err != nil {
		return wrap("add passkey", err)
	}
	if created == 0 {
		return fmt.Errorf("redisstore: add passkey: %w", latchkey.ErrConflict)
	}
	p.ID = id
	return nil
}

// readPasskey reads the credential's hash; nil if it is gone.
func (s *Store) readPasskey(ctx context.Context, credHex string) (*latchkey.Passkey, error) {
	m, err := s.client.HGetAll(ctx, s.passkeyKey(credHex)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, nil
	}
	cred, err := hex.DecodeString(credHex)
	if err != nil {
		return nil, err
	}
	p := &latchkey.Passkey{CredentialID: cred, Data: []byte(m["data"]), Name: m["name"]}
	var created, used int64
	for _, f := range []struct {
		key string
		dst *int64
	}{{"id", &p.ID}, {"user", &p.UserID}, {"created", &created}, {"used", &used}} {
		if *f.dst, err = strconv.ParseInt(m[f.key], 10, 64); err != nil {
			return nil, fmt.Errorf("passkey %s: field %s: %w", credHex, f.key, err)
		}
	}
	p.CreatedAt, p.LastUsedAt = time.UnixMilli(created).UTC(), time.UnixMilli(used).UTC()
	return p, nil
}

// ListPasskeys implements latchkey.PasskeyStore.
func (s *Store) ListPasskeys(ctx context.Context, userID int64) ([]latchkey.Passkey, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	creds, err := s.client.ZRange(ctx, s.userPasskeysKey(userID), 0, -1).Result()
	if err != nil {
		return nil, wrap("list passkeys", err)
	}
	var out []latchkey.Passkey
	for _, c := range creds {
		p, err := s.readPasskey(ctx, c)
		if err != nil {
			return nil, wrap("list passkeys", err)
		}
		if p != nil && p.UserID == userID {
			out = append(out, *p)
		}
	}
	return out, nil
}

// PasskeyByCredentialID implements latchkey.PasskeyStore.
func (s *Store) PasskeyByCredentialID(ctx context.Context, credentialID []byte) (*latchkey.Passkey, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	p, err := s.readPasskey(ctx, hex.EncodeToString(credentialID))
	if err != nil {
		return nil, wrap("passkey", err)
	}
	if p == nil {
		return nil, fmt.Errorf("redisstore: passkey: %w", latchkey.ErrNotFound)
	}
	return p, nil
}

// ownPasskey finds the credential of the user's passkey with this id.
func (s *Store) ownPasskey(ctx context.Context, userID, id int64) (string, error) {
	n := strconv.FormatInt(id, 10)
	creds, err := s.client.ZRangeByScore(ctx, s.userPasskeysKey(userID), &redis.ZRangeBy{Min: n, Max: n}).Result()
	if err != nil {
		return "", wrap("passkey", err)
	}
	for _, c := range creds {
		if p, err := s.readPasskey(ctx, c); err == nil && p != nil && p.ID == id && p.UserID == userID {
			return c, nil
		}
	}
	return "", fmt.Errorf("redisstore: passkey %d of user %d: %w", id, userID, latchkey.ErrNotFound)
}

// setPasskeyScript writes fields of the credential's hash if it still is
// the passkey with this id (ARGV[1]): a deleted and re-added credential is
// another passkey.
var setPasskeyScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1`)

func (s *Store) setPasskey(ctx context.Context, userID, id int64, op string, fields ...any) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	c, err := s.ownPasskey(ctx, userID, id)
	if err != nil {
		return err
	}
	ok, err := setPasskeyScript.Run(ctx, s.client, []string{s.passkeyKey(c)}, append([]any{id}, fields...)...).Int()
	if err != nil {
		return wrap(op, err)
	}
	if ok == 0 {
		return fmt.Errorf("redisstore: %s %d: %w", op, id, latchkey.ErrNotFound)
	}
	return nil
}

// UpdatePasskey implements latchkey.PasskeyStore.
func (s *Store) UpdatePasskey(ctx context.Context, userID, id int64, data []byte, lastUsedAt time.Time) error {
	return s.setPasskey(ctx, userID, id, "update passkey", "data", data, "used", lastUsedAt.UnixMilli())
}

// RenamePasskey implements latchkey.PasskeyStore.
func (s *Store) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	return s.setPasskey(ctx, userID, id, "rename passkey", "name", name)
}

// deletePasskeyScript deletes the credential's hash if it still is the
// passkey with this id.
var deletePasskeyScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)

// DeletePasskey implements latchkey.PasskeyStore: the hash, then the
// index entry.
func (s *Store) DeletePasskey(ctx context.Context, userID, id int64) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	c, err := s.ownPasskey(ctx, userID, id)
	if err != nil {
		return err
	}
	n, err := deletePasskeyScript.Run(ctx, s.client, []string{s.passkeyKey(c)}, id).Int()
	if err != nil {
		return wrap("delete passkey", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: delete passkey %d: %w", id, latchkey.ErrNotFound)
	}
	if err := s.client.ZRem(ctx, s.userPasskeysKey(userID), c).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return wrap("delete passkey", err)
	}
	return nil
}
