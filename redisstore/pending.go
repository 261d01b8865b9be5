package redisstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
)

var _ latchkey.PendingLoginStore = (*Store)(nil)

// Pending logins (logins waiting for their second factor): a hash at
// PREFIX "m:" HEX(token hash) with the user id ("u"), user epoch ("k"),
// remember ("r"), attempts ("n"), and creation and expiry in Unix ms ("c",
// "x"), expiring natively at "x". Each operation is one single-key script,
// atomic in a cluster too; expiry is also checked against the caller's
// clock, as for sessions.

func (s *Store) pendingKey(tokenHash []byte) string {
	return s.prefix() + "m:" + hex.EncodeToString(tokenHash)
}

var (
	// pendingCreateScript: KEYS[1]; ARGV now, expiry (ms), then
	// field/value pairs. 0 if an unexpired one exists.
	pendingCreateScript = redis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
if x and tonumber(x) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1`)

	// pendingAttemptScript: KEYS[1]; ARGV now, max. Counts an attempt and
	// returns the fields, or deletes the key and returns nil if it is
	// missing, expired or has had max attempts.
	pendingAttemptScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'n', 'x')
if not v[1] or not v[2] or tonumber(v[2]) <= tonumber(ARGV[1]) or tonumber(v[1]) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return false
end
redis.call('HINCRBY', KEYS[1], 'n', 1)
return redis.call('HGETALL', KEYS[1])`)

	// pendingDeleteScript: KEYS[1]; ARGV now. Deletes the key; 1 if it
	// was there unexpired.
	pendingDeleteScript = redis.NewScript(`
local x = redis.call('HGET', KEYS[1], 'x')
redis.call('DEL', KEYS[1])
if x and tonumber(x) > tonumber(ARGV[1]) then return 1 end
return 0`)
)

// CreatePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) CreatePendingLogin(ctx context.Context, p *latchkey.PendingLogin) error {
	if len(p.TokenHash) == 0 {
		return errors.New("redisstore: create pending login: empty token hash")
	}
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	created, err := pendingCreateScript.Run(ctx, s.client, []string{s.pendingKey(p.TokenHash)},
		now, ms(p.ExpiresAt), "u", p.UserID, "k", strconv.FormatInt(p.UserEpoch, 10), "r", flag(p.Remember),
		"n", p.Attempts, "c", ms(p.CreatedAt), "x", ms(p.ExpiresAt)).Int()
	if err != nil {
		return wrap("create pending login", err)
	}
	if created == 0 {
		return fmt.Errorf("redisstore: create pending login: %w", latchkey.ErrConflict)
	}
	return nil
}

// AttemptPendingLogin implements latchkey.PendingLoginStore.
func (s *Store) AttemptPendingLogin(ctx context.Context, tokenHash []byte, max int) (*latchkey.PendingLogin, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	vals, err := pendingAttemptScript.Run(ctx, s.client, []string{s.pendingKey(tokenHash)}, now, max).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: attempt pending login: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("attempt pending login", err)
	}
	h := make(map[string]string, len(vals)/2)
	for i := 0; i+1 < len(vals); i += 2 {
		h[vals[i]] = vals[i+1]
	}
	p := &latchkey.PendingLogin{TokenHash: bytes.Clone(tokenHash), Remember: h["r"] == "1"}
	if p.UserID, err = strconv.ParseInt(h["u"], 10, 64); err != nil {
		return nil, fmt.Errorf("redisstore: attempt pending login: field u: %w", err)
	}
	if p.UserEpoch, err = strconv.ParseInt(h["k"], 10, 64); err != nil {
		return nil, fmt.Errorf("redisstore: attempt pending login: field k: %w", err)
	}
	if p.Attempts, err = strconv.Atoi(h["n"]); err != nil {
		return nil, fmt.Errorf("redisstore: attempt pending login: field n: %w", err)
	}
	if p.CreatedAt, err = fromMS(h["c"]); err != nil {
		return nil, fmt.Errorf("redisstore: attempt pending login: field c: %w", err)
	}
	if p.ExpiresAt, err = fromMS(h["x"]); err != nil {
		return nil, fmt.Errorf("redisstore: attempt pending login: field x: %w", err)
	}
	return p, nil
}

// DeletePendingLogin implements latchkey.PendingLoginStore.
func (s *Store) DeletePendingLogin(ctx context.Context, tokenHash []byte) error {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := pendingDeleteScript.Run(ctx, s.client, []string{s.pendingKey(tokenHash)}, now).Int()
	if err != nil {
		return wrap("delete pending login", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: delete pending login: %w", latchkey.ErrNotFound)
	}
	return nil
}
