package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
)

var _ latchkey.AccountTokenStore = (*Store)(nil)

// Account tokens: one hash per user and purpose at PREFIX t:{USERID}:PURPOSE
// (the hash tag puts a user's keys in one slot), with the token's SHA-256
// ("h"), address ("e"), user epoch ("k"), and creation and expiry in Unix
// ms ("c", "x"), expiring natively at "x". Expiry is also checked against
// the caller's clock, as for sessions.

// purposes are every AccountPurpose, for deleting all of a user's tokens.
var purposes = latchkey.AccountPurposes()

func (s *Store) accountTokenKey(userID int64, purpose latchkey.AccountPurpose) string {
	return s.prefix() + "t:{" + strconv.FormatInt(userID, 10) + "}:" + string(purpose)
}

// issueScript replaces the key's hash in one step: ARGV[1] the expiry (ms),
// then field/value pairs.
var issueScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`)

// useScript deletes the key and returns its fields if its hash is ARGV[1]
// and it has not expired at ARGV[2] (ms); else it returns nil and leaves it.
var useScript = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'h', 'x')
if f[1] ~= ARGV[1] or not f[2] or tonumber(f[2]) <= tonumber(ARGV[2]) then
  return false
end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return all`)

// IssueAccountToken implements latchkey.AccountTokenStore.
func (s *Store) IssueAccountToken(ctx context.Context, t *latchkey.AccountToken) error {
	if len(t.TokenHash) == 0 {
		return errors.New("redisstore: issue account token: empty token hash")
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	err := issueScript.Run(ctx, s.client, []string{s.accountTokenKey(t.UserID, t.Purpose)},
		ms(t.ExpiresAt), "h", string(t.TokenHash), "e", t.Email, "k", strconv.FormatInt(t.UserEpoch, 10),
		"c", ms(t.CreatedAt), "x", ms(t.ExpiresAt)).Err()
	if err != nil {
		return wrap("issue account token", err)
	}
	return nil
}

// UseAccountToken implements latchkey.AccountTokenStore.
func (s *Store) UseAccountToken(ctx context.Context, userID int64, purpose latchkey.AccountPurpose, tokenHash []byte) (*latchkey.AccountToken, error) {
	now := ms(s.now())
	ctx, cancel := s.op(ctx)
	defer cancel()
	vals, err := useScript.Run(ctx, s.client, []string{s.accountTokenKey(userID, purpose)}, string(tokenHash), now).StringSlice()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: use account token: %w", latchkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("use account token", err)
	}
	h := make(map[string]string, len(vals)/2)
	for i := 0; i+1 < len(vals); i += 2 {
		h[vals[i]] = vals[i+1]
	}
	t := &latchkey.AccountToken{UserID: userID, Purpose: purpose, TokenHash: bytes.Clone(tokenHash), Email: h["e"]}
	if t.UserEpoch, err = strconv.ParseInt(h["k"], 10, 64); err != nil {
		return nil, fmt.Errorf("redisstore: use account token: field k: %w", err)
	}
	if t.CreatedAt, err = fromMS(h["c"]); err != nil {
		return nil, fmt.Errorf("redisstore: use account token: field c: %w", err)
	}
	if t.ExpiresAt, err = fromMS(h["x"]); err != nil {
		return nil, fmt.Errorf("redisstore: use account token: field x: %w", err)
	}
	return t, nil
}

// DeleteAccountTokens implements latchkey.AccountTokenStore. The keys of
// one user share a slot, so one DEL takes them all, in a cluster too.
func (s *Store) DeleteAccountTokens(ctx context.Context, userID int64, purpose latchkey.AccountPurpose) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var keys []string
	for _, p := range purposes {
		if purpose == "" || p == purpose {
			keys = append(keys, s.accountTokenKey(userID, p))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := s.client.Del(ctx, keys...).Err(); err != nil {
		return wrap("delete account tokens", err)
	}
	return nil
}
