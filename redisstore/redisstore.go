// Package redisstore keeps sessions in Redis: a single node, a primary
// found through Sentinel, or a Redis Cluster, through go-redis's
// UniversalClient.
// Users stay in a SQL store; this package only implements
// latchkey.SessionStore (and Pinger, AttemptLimiter, EventStore,
// AccountTokenStore and PendingLoginStore; see accounttoken.go and
// pending.go for their keys).
//
// # Keys
//
// A session is a hash at PREFIX "s:" HEX(token hash), with native expiry
// (PEXPIREAT) at the earlier of its idle and absolute deadlines, so Redis
// drops dead sessions by itself and there is nothing to prune. Each user has
// an index, a sorted set at PREFIX "u:{" ID "}" of the hex token hashes
// scored by absolute deadline, so listing a user's sessions and logging a
// user out everywhere read one key instead of scanning. (The braces are a
// Cluster hash tag, so any per-user key added later shares the index's
// slot and can be changed with it atomically.)
//
// On a single node or a Sentinel-managed primary every key lives on one
// server, and each change that touches a session and its user's index is one
// Lua script, atomic as a whole: create, delete, and "log out everywhere".
//
// In a cluster that is impossible: FindSession knows only the token hash, so
// a session key cannot carry its user's hash tag, and the session and its
// index live in different slots that no MULTI or script may span. There
// every change is made of single-key steps, each atomic (a Lua script),
// ordered so that any interleaving or failure between them is harmless:
//
//   - CreateSession adds the index entry first, then the session. A failure
//     in between leaves an index entry without a session, which readers
//     skip; never a session that "log out everywhere" cannot find.
//   - DeleteSession deletes the session, then its index entry.
//   - An entry whose session is missing is never removed before its
//     absolute deadline: the session may be a login still on its way in,
//     and removing its entry then would leave it unindexed, out of reach of
//     the next "log out everywhere". Entries past their absolute deadline
//     are trimmed whenever the user logs in, and the index expires with its
//     longest-lived session, so it cannot grow without bound.
//
// RotateSession is one single-key script everywhere: a rotation changes the
// session's hash (its generation, rotation time and idle deadline) but
// never the index, so the compare-and-swap on the generation is atomic in a
// cluster too. Sessions written before the hash held a generation ("g") and
// a rotation time ("t") read as generation 0, never rotated.
//
// Login and registration attempts are counted here too
// (latchkey.AttemptLimiter), so every instance sharing the Redis throttles
// together. Each throttled key is a string at PREFIX "a:" KEY (KEY is
// already a hex SHA-256 from latchkey) holding, in Unix milliseconds, when
// its bucket is full again; it expires then, when it no longer means
// anything. Taking or refunding a token moves it in one single-key script,
// so the count is atomic in a cluster too.
//
// Security events (latchkey.EventStore) take their ids from a counter at
// PREFIX "e:seq" (INCR). Each user's events are a sorted set at
// PREFIX "e:{" ID "}" (the same hash tag as the session index), scored by
// event id, each member the event as JSON with its id inside, so members
// are unique. A time index, a sorted set at PREFIX "e:t", holds
// USERID ":" EVENTID scored by the event's time in Unix milliseconds, for
// PruneEvents to find the oldest. AddEvent adds the index entry before the
// event (together, in MULTI, on one server): an entry without its event
// is harmless, and PruneEvents removes it; an event without its entry would
// never be pruned. PruneEvents deletes each event, then its entry: in one
// script on one server, in single-key steps in a cluster. Events are not
// deleted with the user's sessions: they are the audit trail.
//
// Passkeys (latchkey.PasskeyStore) are a hash each at PREFIX "p:c:"
// HEX(credential id), created by a single-key script only if absent (so a
// credential id is unique in a cluster too), with ids from PREFIX "p:seq".
// Each user's are listed in a sorted set at PREFIX "p:{" ID "}" of the hex
// credential ids scored by passkey id, written before the hash (an entry
// without its hash is skipped; a hash without its entry could not be listed
// or deleted) and removed after it.
//
// Deadlines are also kept in the hash and checked against Store.Now, so a
// session is gone the moment Session.Expired says so (native expiry is the
// backstop that frees memory) and tests can drive time with a fake clock.
package redisstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
)

var (
	_ latchkey.SessionStore   = (*Store)(nil)
	_ latchkey.Pinger         = (*Store)(nil)
	_ latchkey.AttemptLimiter = (*Store)(nil)
	_ latchkey.EventStore     = (*Store)(nil)
)

// DefaultTimeout is the default of Store.Timeout.
const DefaultTimeout = 2 * time.Second

// DefaultPrefix is the default of Store.Prefix.
const DefaultPrefix = "latchkey:"

// Store is a SessionStore, Pinger, AttemptLimiter, EventStore,
// AccountTokenStore and PendingLoginStore on Redis.
// It is safe for concurrent use.
type Store struct {
	// Now is the clock that decides expiry; nil means time.Now. Set it
	// before first use.
	Now func() time.Time
	// Timeout bounds each operation; 0 means DefaultTimeout. An operation
	// that runs out of time fails with latchkey.ErrStoreUnavailable.
	Timeout time.Duration
	// Prefix starts every key, so latchkey can share a Redis with other
	// programs or deployments; "" means DefaultPrefix.
	Prefix string

	client   redis.UniversalClient
	owned    bool // Close closes client
	stepwise bool // use the cluster's single-key steps even on one server (tests)
}

// New returns a Store using client, which the caller keeps and closes.
func New(client redis.UniversalClient) *Store {
	return &Store{client: client}
}

// Open connects to the Redis that rawURL names (see ParseURL), checks that
// it answers, and returns a Store that owns the connection.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	cfg, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return cfg.Open(ctx)
}

// Open connects as c says, checks that Redis answers, and returns a Store
// that owns the connection. Dialling, reading, writing and waiting for a
// pooled connection are each bounded by c.Timeout too.
func (c *Config) Open(ctx context.Context) (*Store, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	opts := *c.Options
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.PoolTimeout = timeout, timeout, timeout, timeout
	s := &Store{Prefix: c.Prefix, Timeout: timeout, client: redis.NewUniversalClient(&opts), owned: true}
	if err := s.Ping(ctx); err != nil {
		s.client.Close()
		return nil, fmt.Errorf("redisstore: open: %w", err)
	}
	return s, nil
}

// Close closes the connection if Open made it.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

// Ping implements latchkey.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		return wrap("ping", err)
	}
	return nil
}

func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

func (s *Store) sessionKey(member string) string { return s.prefix() + "s:" + member }

func (s *Store) attemptKey(key string) string { return s.prefix() + "a:" + key }

func (s *Store) indexKey(userID int64) string {
	return s.prefix() + "u:{" + strconv.FormatInt(userID, 10) + "}"
}

// wrap adds context to err. Anything but an error reply from the server (a
// refused or broken connection, a timeout, an exhausted pool) and the
// replies that mean "not now" (LOADING, CLUSTERDOWN, READONLY after a
// failover…) also wrap ErrStoreUnavailable, so the API answers 503.
func wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, latchkey.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

func unavailable(err error) bool {
	if errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up
	}
	if _, ok := errors.AsType[redis.Error](err); ok {
		for _, p := range []string{"LOADING", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "TRYAGAIN", "BUSY", "NOREPLICAS", "MOVED", "ASK"} {
			if redis.HasErrorPrefix(err, p) {
				return true
			}
		}
		return false
	}
	return true
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// roundUpMS returns d in whole milliseconds, rounded up.
func roundUpMS(d time.Duration) int64 { return int64((d + time.Millisecond - 1) / time.Millisecond) }

func fromMS(s string) (time.Time, error) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(v).UTC(), nil
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Scripts. Each touches one key, so each is atomic in a cluster too.
var (
	// createScript: KEYS[1] session; ARGV[1] native expiry (ms), then
	// field/value pairs. 0 if the session exists.
	createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1`)

	// indexAddScript: KEYS[1] index; ARGV now, absolute deadline, member.
	// Trims dead entries and keeps the index alive as long as its
	// longest-lived session.
	indexAddScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
return 1`)

	// updateScript: KEYS[1] session; ARGV now, last seen, idle deadline,
	// fresh. 0 if the session is gone or expired at now; never recreates it.
	updateScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'i', 'e')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[1]) <= now or tonumber(v[2]) <= now then return 0 end
local idle = ARGV[3]
if tonumber(idle) > tonumber(v[2]) then idle = v[2] end
redis.call('HSET', KEYS[1], 'l', ARGV[2], 'i', idle, 'f', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], idle)
return 1`)

	// rotateScript: KEYS[1] session; ARGV now, last seen, idle deadline,
	// fresh, expected generation, new generation, rotated at. As
	// updateScript, plus the generation check: 0 if the session is gone or
	// expired at now, -1 if its generation is not the expected one (then
	// nothing changes), 1 once rotated. Generations are compared as the
	// decimal strings strconv writes, since Lua numbers are doubles; a
	// missing "g" (a session from before rotation existed) is generation 0.
	rotateScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'i', 'e', 'g')
if not v[1] or not v[2] then return 0 end
local now = tonumber(ARGV[1])
if tonumber(v[1]) <= now or tonumber(v[2]) <= now then return 0 end
if (v[3] or '0') ~= ARGV[5] then return -1 end
local idle = ARGV[3]
if tonumber(idle) > tonumber(v[2]) then idle = v[2] end
redis.call('HSET', KEYS[1], 'l', ARGV[2], 'i', idle, 'f', ARGV[4], 'g', ARGV[6], 't', ARGV[7])
redis.call('PEXPIREAT', KEYS[1], idle)
return 1`)

	// attemptTakeScript: KEYS[1] a throttled key; ARGV now, refill, span
	// (ms; see latchkey.AttemptSpan). If the bucket holds a whole token,
	// moves the instant it is full again one refill on, from now if it had
	// passed, expires the key then, and returns 0; otherwise returns the
	// wait. Lua numbers are doubles, exact for milliseconds; %d keeps them
	// out of exponent notation.
	attemptTakeScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local full = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = full - now - tonumber(ARGV[3])
if wait > 0 then return wait end
full = full + tonumber(ARGV[2])
redis.call('SET', KEYS[1], string.format('%d', full), 'PX', string.format('%d', full - now))
return 0`)

	// attemptRefundScript: KEYS[1] a throttled key; ARGV now, refill (ms).
	// Moves the instant the bucket is full again one refill back, deleting
	// the key if that instant has passed.
	attemptRefundScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local now = tonumber(ARGV[1])
local full = tonumber(v) - tonumber(ARGV[2])
if full <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%d', full), 'PX', string.format('%d', full - now))
end
return 1`)

	// deleteScript: KEYS[1] session. Returns the user id, or nil.
	deleteScript = redis.NewScript(`
local u = redis.call('HGET', KEYS[1], 'u')
if u then redis.call('DEL', KEYS[1]) end
return u`)

	// deleteLiveScript: KEYS[1] session; ARGV now. Deletes it and returns 1
	// if it was unexpired at now, 0 if expired, -1 if missing.
	deleteLiveScript = redis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'i', 'e')
if not v[1] or not v[2] then return -1 end
redis.call('DEL', KEYS[1])
local now = tonumber(ARGV[1])
if tonumber(v[1]) > now and tonumber(v[2]) > now then return 1 end
return 0`)
)

// Two-key scripts for servers that hold every key (see the package doc).
var (
	// createIndexedScript: KEYS[1] index, KEYS[2] session; ARGV now,
	// absolute deadline, member, native expiry (ms), then field/value
	// pairs. 0 if the session exists, and then nothing changes.
	createIndexedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], top[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('PEXPIREAT', KEYS[2], ARGV[4])
return 1`)

	// deleteIndexedScript: KEYS[1] session, KEYS[2] its user's index; ARGV
	// member, user id. Deletes both only if the session still belongs to
	// that user.
	deleteIndexedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'u') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1`)

	// deleteAllIndexedScript: KEYS[1] index; ARGV now, session key prefix.
	// Deletes every session the index names, and the index, in one step, so
	// no login can slip in between; returns how many were unexpired. The
	// session keys come from the index, which only a single server allows.
	deleteAllIndexedScript = redis.NewScript(`
local n = 0
local now = tonumber(ARGV[1])
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local k = ARGV[2] .. m
  local v = redis.call('HMGET', k, 'i', 'e')
  if v[1] and v[2] then
    if tonumber(v[1]) > now and tonumber(v[2]) > now then n = n + 1 end
    redis.call('DEL', k)
  end
end
redis.call('DEL', KEYS[1])
return n`)
)

// oneServer reports whether every key lives on one server, so a script may
// change a session and its index together: true except for a cluster.
func (s *Store) oneServer() bool {
	_, cluster := s.client.(*redis.ClusterClient)
	return !cluster && !s.stepwise
}

// CreateSession implements latchkey.SessionStore. It stores IdleExpiresAt
// no later than ExpiresAt, the invariant Session documents.
func (s *Store) CreateSession(ctx context.Context, sess *latchkey.Session) error {
	if len(sess.TokenHash) == 0 {
		return errors.New("redisstore: create session: empty token hash")
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	member := hex.EncodeToString(sess.TokenHash)
	expires := ms(sess.ExpiresAt)
	idle := min(ms(sess.IdleExpiresAt), expires)
	fields := []any{"u", sess.UserID, "c", ms(sess.CreatedAt), "l", ms(sess.LastSeenAt),
		"i", idle, "e", expires, "r", flag(sess.Remember), "f", flag(sess.Fresh),
		"a", sess.UserAgent, "p", sess.IP,
		"g", strconv.FormatInt(sess.Generation, 10), "t", ms(sess.RotatedAt),
		"k", strconv.FormatInt(sess.UserEpoch, 10)}
	if s.oneServer() {
		created, err := createIndexedScript.Run(ctx, s.client, []string{s.indexKey(sess.UserID), s.sessionKey(member)},
			append([]any{ms(s.now()), expires, member, idle}, fields...)...).Int()
		if err != nil {
			return wrap("create session", err)
		}
		if created == 0 {
			return fmt.Errorf("redisstore: create session: %w", latchkey.ErrConflict)
		}
		return nil
	}
	// In a cluster, the index first: see the package doc.
	err := indexAddScript.Run(ctx, s.client, []string{s.indexKey(sess.UserID)},
		ms(s.now()), expires, member).Err()
	if err != nil {
		return wrap("create session: index", err)
	}
	created, err := createScript.Run(ctx, s.client, []string{s.sessionKey(member)}, append([]any{idle}, fields...)...).Int()
	if err != nil {
		return wrap("create session", err)
	}
	if created == 0 {
		return fmt.Errorf("redisstore: create session: %w", latchkey.ErrConflict)
	}
	return nil
}

// decode turns a session hash into a Session; ok is false for a missing
// (empty) hash. A hash written before sessions had a generation ("g"), a
// rotation time ("t") and a user epoch ("k") decodes as generation 0, never
// rotated, epoch 0.
func decode(tokenHash []byte, h map[string]string) (sess *latchkey.Session, ok bool, err error) {
	if len(h) == 0 {
		return nil, false, nil
	}
	s := &latchkey.Session{TokenHash: bytes.Clone(tokenHash), UserAgent: h["a"], IP: h["p"],
		Remember: h["r"] == "1", Fresh: h["f"] == "1"}
	if s.UserID, err = strconv.ParseInt(h["u"], 10, 64); err != nil {
		return nil, false, fmt.Errorf("user id: %w", err)
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"c", &s.CreatedAt}, {"l", &s.LastSeenAt}, {"i", &s.IdleExpiresAt}, {"e", &s.ExpiresAt}} {
		if *f.dst, err = fromMS(h[f.name]); err != nil {
			return nil, false, fmt.Errorf("field %s: %w", f.name, err)
		}
	}
	if g, ok := h["g"]; ok {
		if s.Generation, err = strconv.ParseInt(g, 10, 64); err != nil {
			return nil, false, fmt.Errorf("field g: %w", err)
		}
	}
	if t, ok := h["t"]; ok {
		if s.RotatedAt, err = fromMS(t); err != nil {
			return nil, false, fmt.Errorf("field t: %w", err)
		}
	}
	if k, ok := h["k"]; ok {
		if s.UserEpoch, err = strconv.ParseInt(k, 10, 64); err != nil {
			return nil, false, fmt.Errorf("field k: %w", err)
		}
	}
	return s, true, nil
}

// FindSession implements latchkey.SessionStore.
func (s *Store) FindSession(ctx context.Context, tokenHash []byte) (*latchkey.Session, error) {
	now := s.now()
	ctx, cancel := s.op(ctx)
	defer cancel()
	h, err := s.client.HGetAll(ctx, s.sessionKey(hex.EncodeToString(tokenHash))).Result()
	if err != nil {
		return nil, wrap("find session", err)
	}
	sess, ok, err := decode(tokenHash, h)
	if err != nil {
		return nil, fmt.Errorf("redisstore: find session: %w", err)
	}
	if !ok || sess.Expired(now) {
		return nil, fmt.Errorf("redisstore: find session: %w", latchkey.ErrNotFound)
	}
	return sess, nil
}

// UpdateSession implements latchkey.SessionStore. Like CreateSession, it
// keeps IdleExpiresAt no later than ExpiresAt, and moves the native expiry
// with the idle deadline. The index needs no change: it is scored by the
// absolute deadline, which never moves.
func (s *Store) UpdateSession(ctx context.Context, sess *latchkey.Session) error {
	now := s.now()
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := updateScript.Run(ctx, s.client, []string{s.sessionKey(hex.EncodeToString(sess.TokenHash))},
		ms(now), ms(sess.LastSeenAt), ms(sess.IdleExpiresAt), flag(sess.Fresh)).Int()
	if err != nil {
		return wrap("update session", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: update session: %w", latchkey.ErrNotFound)
	}
	return nil
}

// RotateSession implements latchkey.SessionStore. It is one script on the
// session's key, in a cluster too (see the package doc), and moves the
// native expiry with the idle deadline as UpdateSession does.
func (s *Store) RotateSession(ctx context.Context, sess *latchkey.Session, prevGen int64) error {
	now := s.now()
	ctx, cancel := s.op(ctx)
	defer cancel()
	n, err := rotateScript.Run(ctx, s.client, []string{s.sessionKey(hex.EncodeToString(sess.TokenHash))},
		ms(now), ms(sess.LastSeenAt), ms(sess.IdleExpiresAt), flag(sess.Fresh),
		strconv.FormatInt(prevGen, 10), strconv.FormatInt(sess.Generation, 10), ms(sess.RotatedAt)).Int()
	if err != nil {
		return wrap("rotate session", err)
	}
	switch n {
	case 0:
		return fmt.Errorf("redisstore: rotate session: %w", latchkey.ErrNotFound)
	case -1:
		return fmt.Errorf("redisstore: rotate session: generation is not %d: %w", prevGen, latchkey.ErrConflict)
	}
	return nil
}

// DeleteSession implements latchkey.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	member := hex.EncodeToString(tokenHash)
	if s.oneServer() {
		// The index key needs the user id: read it, then delete the session
		// and its entry together if it still belongs to that user.
		uid, err := s.client.HGet(ctx, s.sessionKey(member), "u").Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		if err != nil {
			return wrap("delete session", err)
		}
		id, err := strconv.ParseInt(uid, 10, 64)
		if err != nil {
			return fmt.Errorf("redisstore: delete session: user id: %w", err)
		}
		if err := deleteIndexedScript.Run(ctx, s.client, []string{s.sessionKey(member), s.indexKey(id)}, member, uid).Err(); err != nil {
			return wrap("delete session", err)
		}
		return nil
	}
	uid, err := deleteScript.Run(ctx, s.client, []string{s.sessionKey(member)}).Text()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return wrap("delete session", err)
	}
	id, err := strconv.ParseInt(uid, 10, 64)
	if err != nil {
		return fmt.Errorf("redisstore: delete session: user id: %w", err)
	}
	// The session is gone already, which is what the caller asked; a
	// leftover index entry is skipped and removed by the next listing, so a
	// failure here only leaves things untidy and must not fail a logout.
	_ = s.client.ZRem(ctx, s.indexKey(id), member).Err()
	return nil
}

// members returns the hex token hashes in the user's index.
func (s *Store) members(ctx context.Context, userID int64) ([]string, error) {
	return s.client.ZRange(ctx, s.indexKey(userID), 0, -1).Result()
}

// DeleteUserSessions implements latchkey.SessionStore. On one server it is a
// single script. In a cluster it deletes the sessions the index names, each
// with a script that reports whether it was live, in one pipeline (split by
// node), then the index entries of those it deleted; a login racing with it
// may survive, but stays indexed, so the next call ends it.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) (int, error) {
	now := s.now()
	ctx, cancel := s.op(ctx)
	defer cancel()
	if s.oneServer() {
		n, err := deleteAllIndexedScript.Run(ctx, s.client, []string{s.indexKey(userID)}, ms(now), s.sessionKey("")).Int()
		if err != nil {
			return 0, wrap("delete user sessions", err)
		}
		return n, nil
	}
	members, err := s.members(ctx, userID)
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	if len(members) == 0 {
		return 0, nil
	}
	cmds := make([]*redis.Cmd, len(members))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT.
			cmds[i] = deleteLiveScript.Eval(ctx, p, []string{s.sessionKey(m)}, ms(now))
		}
		return nil
	})
	if err != nil {
		return 0, wrap("delete user sessions", err)
	}
	n := 0
	var deleted []any
	for i, c := range cmds {
		v, _ := c.Int()
		if v == 1 {
			n++
		}
		if v >= 0 {
			deleted = append(deleted, members[i])
		}
	}
	if len(deleted) > 0 {
		// As in DeleteSession: the sessions are gone, the index is tidying.
		_ = s.client.ZRem(ctx, s.indexKey(userID), deleted...).Err()
	}
	return n, nil
}

// ListUserSessions implements latchkey.SessionStore. Sessions created at the
// same millisecond are ordered by token hash, as in the SQL stores. Index
// entries whose session is missing are skipped (see the package doc).
func (s *Store) ListUserSessions(ctx context.Context, userID int64) ([]latchkey.Session, error) {
	now := s.now()
	ctx, cancel := s.op(ctx)
	defer cancel()
	members, err := s.members(ctx, userID)
	if err != nil {
		return nil, wrap("list user sessions", err)
	}
	if len(members) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.MapStringStringCmd, len(members))
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range members {
			cmds[i] = p.HGetAll(ctx, s.sessionKey(m))
		}
		return nil
	})
	if err != nil {
		return nil, wrap("list user sessions", err)
	}
	var out []latchkey.Session
	for i, c := range cmds {
		hash, err := hex.DecodeString(members[i])
		if err != nil {
			continue // not written by this package
		}
		sess, ok, err := decode(hash, c.Val())
		if err != nil {
			return nil, fmt.Errorf("redisstore: list user sessions: %w", err)
		}
		if !ok || sess.UserID != userID || sess.Expired(now) {
			continue
		}
		out = append(out, *sess)
	}
	slices.SortFunc(out, func(a, b latchkey.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.TokenHash, b.TokenHash)
	})
	return out, nil
}

// AttemptTake implements latchkey.AttemptLimiter with one script. The
// refill is rounded up to whole milliseconds.
func (s *Store) AttemptTake(ctx context.Context, key string, burst int, refill time.Duration, now time.Time) (time.Duration, error) {
	if refill <= 0 {
		return 0, nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	refillMS := roundUpMS(refill)
	spanMS := latchkey.AttemptSpan(burst, time.Duration(refillMS)*time.Millisecond).Milliseconds()
	wait, err := attemptTakeScript.Run(ctx, s.client, []string{s.attemptKey(key)}, ms(now), refillMS, spanMS).Int64()
	if err != nil {
		return 0, wrap("attempt take", err)
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// AttemptRefund implements latchkey.AttemptLimiter with one script.
func (s *Store) AttemptRefund(ctx context.Context, key string, refill time.Duration, now time.Time) error {
	if refill <= 0 {
		return nil
	}
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := attemptRefundScript.Run(ctx, s.client, []string{s.attemptKey(key)}, ms(now), roundUpMS(refill)).Err(); err != nil {
		return wrap("attempt refund", err)
	}
	return nil
}

// AttemptReset implements latchkey.AttemptLimiter.
func (s *Store) AttemptReset(ctx context.Context, key string) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	if err := s.client.Del(ctx, s.attemptKey(key)).Err(); err != nil {
		return wrap("attempt reset", err)
	}
	return nil
}
