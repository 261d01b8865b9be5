package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/redisstore"
	"github.com/latchkey/latchkey/storetest"
)

// client connects to LATCHKEY_TEST_REDIS_ADDR.
func client(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	addr := testenv.Env(tb, "LATCHKEY_TEST_REDIS_ADDR", testenv.RedisHint)
	c := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		testenv.Unavailable(tb, "cannot reach Redis at LATCHKEY_TEST_REDIS_ADDR=%s: %v", addr, err)
	}
	return c
}

// open returns a Store on the test Redis under a key prefix of its own,
// whose keys are deleted at cleanup.
func open(tb testing.TB) (*redisstore.Store, redis.UniversalClient) {
	tb.Helper()
	c := client(tb)
	s := redisstore.New(c)
	s.Prefix = "latchkey-test:" + randomHex(6) + ":"
	tb.Cleanup(func() { deleteKeys(tb, c, s.Prefix) })
	return s, c
}

// deleteKeys removes every key under prefix. Tests may SCAN; the store
// never does.
func deleteKeys(tb testing.TB, c redis.UniversalClient, prefix string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	del := func(ctx context.Context, c redis.UniversalClient) error {
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	if cc, ok := c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return del(ctx, n) })
	} else {
		err = del(ctx, c)
	}
	if err != nil {
		tb.Errorf("deleting test keys: %v", err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now func() time.Time) storetest.Stores {
		s, _ := open(tb)
		s.Now = now
		// Redis keeps sessions only; users come from the memory store.
		users := memstore.New()
		users.Now = now
		return storetest.Stores{Users: users, Sessions: s}
	})
}

// TestContractClusterSteps runs the contract on the single-key steps a
// cluster uses, on one node.
func TestContractClusterSteps(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now func() time.Time) storetest.Stores {
		s, _ := open(tb)
		redisstore.UseClusterSteps(s)
		s.Now = now
		users := memstore.New()
		users.Now = now
		return storetest.Stores{Users: users, Sessions: s}
	})
}

func BenchmarkFindSession(b *testing.B) {
	s, _ := open(b)
	storetest.BenchFindSession(b, s)
}

func newSession(userID int64, now time.Time, idle, absolute time.Duration) *latchkey.Session {
	h := make([]byte, 32)
	rand.Read(h)
	return &latchkey.Session{
		TokenHash: h, UserID: userID, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(idle), ExpiresAt: now.Add(absolute),
		UserAgent: "Mozilla \xe6\x97", IP: "192.0.2.1", // cut inside a character: bytes must survive
	}
}

// The native expiry follows the earlier deadline, and moves with the idle
// one; the index lives as long as the longest absolute deadline.
func TestNativeExpiry(t *testing.T) {
	ctx := t.Context()
	s, c := open(t)
	now := time.Now()
	sess := newSession(7, now, 10*time.Minute, time.Hour)
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	key := s.Prefix + "s:" + hex.EncodeToString(sess.TokenHash)
	checkExpiry := func(what, key string, want time.Time) {
		t.Helper()
		got, err := c.PExpireTime(ctx, key).Result()
		if err != nil {
			t.Fatalf("PEXPIRETIME %s: %v", key, err)
		}
		if got.Milliseconds() != want.UnixMilli() {
			t.Errorf("%s: expiry got %v, want %v", what, time.UnixMilli(got.Milliseconds()), want)
		}
	}
	checkExpiry("new session", key, now.Add(10*time.Minute))
	checkExpiry("index", s.Prefix+"u:{7}", now.Add(time.Hour))

	upd := *sess
	upd.LastSeenAt, upd.IdleExpiresAt = now.Add(time.Minute), now.Add(2*time.Hour) // capped at ExpiresAt
	if err := s.UpdateSession(ctx, &upd); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	checkExpiry("updated session", key, now.Add(time.Hour))
	got, err := s.FindSession(ctx, sess.TokenHash)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if got.UserAgent != sess.UserAgent {
		t.Errorf("UserAgent: got %q, want %q", got.UserAgent, sess.UserAgent)
	}
	if !got.IdleExpiresAt.Equal(got.ExpiresAt) {
		t.Errorf("IdleExpiresAt: got %v, want capped at %v", got.IdleExpiresAt, got.ExpiresAt)
	}
}

// A throttled key is PREFIX "a:" KEY, holding when its bucket is full
// again in Unix ms, and expires then; a refund moves both back, and a
// reset deletes it.
func TestAttemptKey(t *testing.T) {
	ctx := t.Context()
	s, c := open(t)
	now := time.Now()
	key := randomHex(32)
	k := s.Prefix + "a:" + key
	for range 3 {
		if wait, err := s.AttemptTake(ctx, key, 5, time.Minute, now); err != nil || wait != 0 {
			t.Fatalf("AttemptTake: got (%v, %v), want a token", wait, err)
		}
	}
	check := func(what string, ahead time.Duration) {
		t.Helper()
		if got, err := c.Get(ctx, k).Int64(); err != nil || got != now.Add(ahead).UnixMilli() {
			t.Errorf("%s: value: got (%d, %v), want %d", what, got, err, now.Add(ahead).UnixMilli())
		}
		// The TTL is relative, so the expiry is Redis's time.Now, not ours, plus ahead.
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil || ttl <= ahead-time.Second || ttl > ahead {
			t.Errorf("%s: TTL: got (%v, %v), want just under %v", what, ttl, err, ahead)
		}
	}
	check("after 3 takes", 3*time.Minute)
	if err := s.AttemptRefund(ctx, key, time.Minute, now); err != nil {
		t.Fatalf("AttemptRefund: %v", err)
	}
	check("after a refund", 2*time.Minute)
	if err := s.AttemptReset(ctx, key); err != nil {
		t.Fatalf("AttemptReset: %v", err)
	}
	if n, err := c.Exists(ctx, k).Result(); err != nil || n != 0 {
		t.Errorf("after AttemptReset: got (%d, %v) keys, want none", n, err)
	}
}

// An index entry whose session is missing (a crash between the two steps
// of CreateSession, a login still on its way in, or native expiry) is
// skipped, and kept until its absolute deadline: removing it earlier could
// unindex a login that lands a moment later.
// TestIndexEntryWithoutSession checks the ordering of the cluster's
// single-key steps, on one node.
func TestIndexEntryWithoutSession(t *testing.T) {
	ctx := t.Context()
	s, c := open(t)
	redisstore.UseClusterSteps(s)
	clock := storetest.NewClock(time.Now())
	s.Now = clock.Now
	now := clock.Now()
	a, b := newSession(3, now, time.Hour, 2*time.Hour), newSession(3, now, time.Hour, 2*time.Hour)
	for _, sess := range []*latchkey.Session{a, b} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	index := s.Prefix + "u:{3}"
	if err := c.Del(ctx, s.Prefix+"s:"+hex.EncodeToString(a.TokenHash)).Err(); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListUserSessions(ctx, 3)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUserSessions: got (%d, %v), want 1 session", len(list), err)
	}
	if n, err := s.DeleteUserSessions(ctx, 3); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions: got (%d, %v), want 1", n, err)
	}
	if members, err := c.ZRange(ctx, index, 0, -1).Result(); err != nil || len(members) != 1 || members[0] != hex.EncodeToString(a.TokenHash) {
		t.Errorf("index after DeleteUserSessions: got (%v, %v), want only the entry without a session", members, err)
	}
	// The login "on its way in" lands: it is still indexed, so the next
	// log-out-everywhere ends it.
	if err := s.CreateSession(ctx, a); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if n, err := s.DeleteUserSessions(ctx, 3); err != nil || n != 1 {
		t.Errorf("second DeleteUserSessions: got (%d, %v), want 1", n, err)
	}
	// Past its absolute deadline, a dangling entry goes at the next login.
	if err := s.CreateSession(ctx, b); err != nil { // b again, then its session is lost
		t.Fatalf("CreateSession: %v", err)
	}
	if err := c.Del(ctx, s.Prefix+"s:"+hex.EncodeToString(b.TokenHash)).Err(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	fresh := newSession(3, clock.Now(), time.Hour, 2*time.Hour)
	if err := s.CreateSession(ctx, fresh); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	if members, err := c.ZRange(ctx, index, 0, -1).Result(); err != nil || len(members) != 1 || members[0] != hex.EncodeToString(fresh.TokenHash) {
		t.Errorf("index after a login past the old deadlines: got (%v, %v), want only the new entry", members, err)
	}
}

// A server that accepts connections and never answers costs each call no
// more than Timeout, and fails with ErrStoreUnavailable; so does a closed
// port.
func TestUnreachableServerIsUnavailableQuickly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	for _, addr := range []string{ln.Addr().String(), closedAddr} {
		c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
		s := redisstore.New(c)
		s.Timeout = 300 * time.Millisecond
		start := time.Now()
		_, err := s.FindSession(t.Context(), make([]byte, 32))
		if !errors.Is(err, latchkey.ErrStoreUnavailable) {
			t.Errorf("%s: FindSession: got %v, want ErrStoreUnavailable", addr, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: FindSession took %v, want about the 300ms timeout", addr, d)
		}
		if err := s.Ping(t.Context()); !errors.Is(err, latchkey.ErrStoreUnavailable) {
			t.Errorf("%s: Ping: got %v, want ErrStoreUnavailable", addr, err)
		}
		c.Close()
	}
}

// TestOneServerChangesAreAtomic: on one server a session and its index entry
// come and go together, and "log out everywhere" leaves nothing behind.
func TestOneServerChangesAreAtomic(t *testing.T) {
	ctx := t.Context()
	s, c := open(t)
	now := time.Now()
	index := s.Prefix + "u:{4}"
	a, b := newSession(4, now, time.Hour, 2*time.Hour), newSession(4, now, time.Hour, 2*time.Hour)
	for _, sess := range []*latchkey.Session{a, b} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// A conflicting create changes nothing, the index included.
	if err := s.CreateSession(ctx, a); !errors.Is(err, latchkey.ErrConflict) {
		t.Fatalf("duplicate CreateSession: %v, want ErrConflict", err)
	}
	if n, _ := c.ZCard(ctx, index).Result(); n != 2 {
		t.Errorf("index has %d entries after a refused create, want 2", n)
	}
	if err := s.DeleteSession(ctx, a.TokenHash); err != nil {
		t.Fatal(err)
	}
	if members, _ := c.ZRange(ctx, index, 0, -1).Result(); len(members) != 1 || members[0] != hex.EncodeToString(b.TokenHash) {
		t.Errorf("index after DeleteSession = %v, want only b", members)
	}
	// An entry whose session vanished (say, evicted) goes too.
	if err := c.ZAdd(ctx, index, redis.Z{Score: float64(now.Add(time.Hour).UnixMilli()), Member: "deadbeef"}).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := s.DeleteUserSessions(ctx, 4); err != nil || n != 1 {
		t.Errorf("DeleteUserSessions = %d, %v; want 1", n, err)
	}
	if n, _ := c.Exists(ctx, index, s.Prefix+"s:"+hex.EncodeToString(b.TokenHash)).Result(); n != 0 {
		t.Errorf("%d keys left after DeleteUserSessions, want 0", n)
	}
}

// A session written before the hash held a generation and a rotation time
// reads as generation 0, never rotated, and rotates from there, with the
// native expiry following the idle deadline as UpdateSession moves it.
func TestSessionWithoutGenerationFields(t *testing.T) {
	for _, stepwise := range []bool{false, true} {
		t.Run(map[bool]string{false: "one server", true: "cluster steps"}[stepwise], func(t *testing.T) {
			ctx := t.Context()
			s, c := open(t)
			if stepwise {
				redisstore.UseClusterSteps(s)
			}
			now := time.Now()
			sess := newSession(6, now, 10*time.Minute, time.Hour)
			key := s.Prefix + "s:" + hex.EncodeToString(sess.TokenHash)
			// The fields the store wrote before rotation existed.
			err := c.HSet(ctx, key, "u", "6", "c", now.UnixMilli(), "l", now.UnixMilli(),
				"i", sess.IdleExpiresAt.UnixMilli(), "e", sess.ExpiresAt.UnixMilli(), "r", "0", "f", "1",
				"a", sess.UserAgent, "p", sess.IP).Err()
			if err == nil {
				err = c.PExpireAt(ctx, key, sess.IdleExpiresAt).Err()
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.FindSession(ctx, sess.TokenHash)
			if err != nil {
				t.Fatalf("FindSession: %v", err)
			}
			if got.Generation != 0 || got.RotatedAt != (time.Time{}) {
				t.Errorf("old session: got Generation %d, RotatedAt %#v; want 0 and the zero time", got.Generation, got.RotatedAt)
			}
			rot := *got
			rot.Generation, rot.RotatedAt = 1, now.Truncate(time.Second)
			rot.LastSeenAt, rot.IdleExpiresAt = now.Add(time.Minute), now.Add(30*time.Minute)
			if err := s.RotateSession(ctx, &rot, 1); !errors.Is(err, latchkey.ErrConflict) {
				t.Errorf("RotateSession from generation 1: got %v, want ErrConflict", err)
			}
			if err := s.RotateSession(ctx, &rot, 0); err != nil {
				t.Fatalf("RotateSession from generation 0: %v", err)
			}
			got, err = s.FindSession(ctx, sess.TokenHash)
			if err != nil || got.Generation != 1 || !got.RotatedAt.Equal(rot.RotatedAt) || !got.IdleExpiresAt.Equal(time.UnixMilli(rot.IdleExpiresAt.UnixMilli())) {
				t.Errorf("after RotateSession: got (%+v, %v), want generation 1 rotated at %v", got, err, rot.RotatedAt)
			}
			exp, err := c.PExpireTime(ctx, key).Result()
			if err != nil || exp.Milliseconds() != rot.IdleExpiresAt.UnixMilli() {
				t.Errorf("native expiry after RotateSession: got (%v, %v), want the new idle deadline %v", exp, err, rot.IdleExpiresAt)
			}
		})
	}
}

// Events live where the package doc says: ids from PREFIX "e:seq", each
// user's events at PREFIX "e:{" ID "}" scored by id, and a time index at
// PREFIX "e:t". An index entry whose event is missing (AddEvent stopped
// between its steps) is pruned, and not counted as an event.
func TestEventKeys(t *testing.T) {
	for _, stepwise := range []bool{false, true} {
		t.Run(map[bool]string{false: "one server", true: "cluster steps"}[stepwise], func(t *testing.T) {
			ctx := t.Context()
			s, c := open(t)
			if stepwise {
				redisstore.UseClusterSteps(s)
			}
			now := time.UnixMilli(time.Now().UnixMilli())
			e := latchkey.Event{Time: now, Type: latchkey.EventLoginFailed, UserID: 7, Detail: "wrong_password"}
			if err := s.AddEvent(ctx, &e); err != nil {
				t.Fatalf("AddEvent: %v", err)
			}
			if got, err := c.Get(ctx, s.Prefix+"e:seq").Int64(); err != nil || got != e.ID {
				t.Errorf("e:seq: got (%d, %v), want %d", got, err, e.ID)
			}
			index, err := c.ZRangeWithScores(ctx, s.Prefix+"e:t", 0, -1).Result()
			if err != nil || len(index) != 1 || index[0].Member != fmt.Sprintf("7:%d", e.ID) || index[0].Score != float64(now.UnixMilli()) {
				t.Errorf("e:t: got (%v, %v), want 7:%d scored %d", index, err, e.ID, now.UnixMilli())
			}
			events, err := c.ZRangeWithScores(ctx, s.Prefix+"e:{7}", 0, -1).Result()
			if err != nil || len(events) != 1 || events[0].Score != float64(e.ID) ||
				!strings.Contains(events[0].Member.(string), fmt.Sprintf(`"id":%d`, e.ID)) {
				t.Errorf("e:{7}: got (%v, %v), want the event scored by its id %d", events, err, e.ID)
			}
			if err := c.ZAdd(ctx, s.Prefix+"e:t", redis.Z{Score: float64(now.UnixMilli()), Member: "8:999"}).Err(); err != nil {
				t.Fatal(err)
			}
			if n, err := s.PruneEvents(ctx, now.Add(time.Millisecond), 10); err != nil || n != 1 {
				t.Errorf("PruneEvents: got (%d, %v), want 1", n, err)
			}
			if n, err := c.Exists(ctx, s.Prefix+"e:t", s.Prefix+"e:{7}").Result(); err != nil || n != 0 {
				t.Errorf("after PruneEvents: got (%d, %v) keys, want none", n, err)
			}
		})
	}
}
