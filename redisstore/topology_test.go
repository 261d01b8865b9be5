package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/redisstore"
)

// freePort returns a loopback port nothing listens on (just now).
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs redis-server with args on a free port until the test ends
// and returns its address once it answers PING.
func startRedis(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	dir := tb.TempDir()
	return runRedis(tb, bin, func(port int) []string {
		return append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no"}, args...)
	})
}

// runRedis runs bin with argsFor(port) for a free port. Other test
// processes on the machine may take the port between freePort and the
// server's bind; then the server exits and runRedis tries another port.
func runRedis(tb testing.TB, bin string, argsFor func(port int) []string) string {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		port := freePort(tb)
		args := argsFor(port)
		cmd := exec.Command(bin, args...)
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			tb.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		tb.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
			if tb.Failed() {
				tb.Logf("%s %s output:\n%s", bin, strings.Join(args, " "), out.String())
			}
		})
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		err := until(10*time.Second, exited, func(ctx context.Context) error { return c.Ping(ctx).Err() })
		c.Close()
		switch {
		case err == nil:
			return addr
		case errors.Is(err, errExited) && attempt < 3:
			continue
		}
		tb.Fatalf("redis on %s: %v\n%s", addr, err, out.String())
	}
}

var errExited = errors.New("the server exited")

// until retries ok until it succeeds, d passes or exited is closed.
func until(d time.Duration, exited <-chan struct{}, ok func(context.Context) error) error {
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ok(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errExited
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitFor(tb testing.TB, d time.Duration, what string, ok func(context.Context) error) {
	tb.Helper()
	if err := until(d, nil, ok); err != nil {
		tb.Fatalf("waiting for %s: %v", what, err)
	}
}

// roundTrip creates two sessions of one user and one of another, finds,
// updates, rotates, lists and deletes them through s, throttles a key,
// and adds, lists and prunes events: enough to show every command and
// script reaches the right node.
func roundTrip(t *testing.T, s *redisstore.Store) {
	t.Helper()
	ctx := t.Context()
	now := time.Now()
	a, b, other := newSession(41, now, time.Hour, 2*time.Hour), newSession(41, now, time.Hour, 2*time.Hour),
		newSession(42, now, time.Hour, 2*time.Hour)
	for _, sess := range []*latchkey.Session{a, b, other} {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	if err := s.CreateSession(ctx, a); !errors.Is(err, latchkey.ErrConflict) {
		t.Errorf("CreateSession again: got %v, want ErrConflict", err)
	}
	if got, err := s.FindSession(ctx, a.TokenHash); err != nil || got.UserID != 41 {
		t.Fatalf("FindSession: got (%+v, %v)", got, err)
	}
	upd := *b
	upd.LastSeenAt, upd.IdleExpiresAt, upd.Fresh = now.Add(time.Minute), now.Add(90*time.Minute), false
	if err := s.UpdateSession(ctx, &upd); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	rot := upd
	rot.Generation, rot.RotatedAt = 1, now.Truncate(time.Second)
	if err := s.RotateSession(ctx, &rot, 0); err != nil {
		t.Fatalf("RotateSession: %v", err)
	}
	if err := s.RotateSession(ctx, &rot, 0); !errors.Is(err, latchkey.ErrConflict) {
		t.Errorf("RotateSession again: got %v, want ErrConflict", err)
	}
	if list, err := s.ListUserSessions(ctx, 41); err != nil || len(list) != 2 {
		t.Fatalf("ListUserSessions: got (%d, %v), want 2", len(list), err)
	}
	if n, err := s.DeleteUserSessions(ctx, 41); err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions: got (%d, %v), want 2", n, err)
	}
	for _, h := range [][]byte{a.TokenHash, b.TokenHash} {
		if _, err := s.FindSession(ctx, h); !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("FindSession after DeleteUserSessions: got %v, want ErrNotFound", err)
		}
	}
	if _, err := s.FindSession(ctx, other.TokenHash); err != nil {
		t.Errorf("other user's session: %v", err)
	}
	if err := s.DeleteSession(ctx, other.TokenHash); err != nil {
		t.Fatalf("DeleteSession: %v", err)
	}
	if list, err := s.ListUserSessions(ctx, 42); err != nil || len(list) != 0 {
		t.Errorf("ListUserSessions after DeleteSession: got (%d, %v), want none", len(list), err)
	}
	key := randomHex(32)
	for range 2 {
		if wait, err := s.AttemptTake(ctx, key, 2, time.Hour, now); err != nil || wait != 0 {
			t.Fatalf("AttemptTake: got (%v, %v), want a token", wait, err)
		}
	}
	if err := s.AttemptRefund(ctx, key, time.Hour, now); err != nil {
		t.Fatalf("AttemptRefund: %v", err)
	}
	if wait, err := s.AttemptTake(ctx, key, 2, time.Hour, now); err != nil || wait != 0 {
		t.Fatalf("AttemptTake after a refund: got (%v, %v), want a token", wait, err)
	}
	if wait, err := s.AttemptTake(ctx, key, 2, time.Hour, now); err != nil || wait <= time.Hour-time.Millisecond || wait > time.Hour {
		t.Errorf("AttemptTake from an empty bucket: got (%v, %v), want a wait of 1h (to the ms)", wait, err)
	}
	if err := s.AttemptReset(ctx, key); err != nil {
		t.Fatalf("AttemptReset: %v", err)
	}
	// Events: the counter, the time index and each user's set may sit on
	// three nodes.
	var ids []int64
	for _, uid := range []int64{41, 42, 41} {
		e := latchkey.Event{Time: now, Type: latchkey.EventLogout, UserID: uid}
		if err := s.AddEvent(ctx, &e); err != nil {
			t.Fatalf("AddEvent: %v", err)
		}
		ids = append(ids, e.ID)
	}
	if list, err := s.ListEvents(ctx, 41, 0, 10); err != nil || len(list) != 2 || list[0].ID != ids[2] || list[1].ID != ids[0] {
		t.Fatalf("ListEvents: got (%+v, %v), want events %d and %d", list, err, ids[2], ids[0])
	}
	if n, err := s.PruneEvents(ctx, now.Add(time.Millisecond), 10); err != nil || n != 3 {
		t.Errorf("PruneEvents: got (%d, %v), want 3", n, err)
	}
	if list, err := s.ListEvents(ctx, 42, 0, 10); err != nil || len(list) != 0 {
		t.Errorf("ListEvents after PruneEvents: got (%+v, %v), want none", list, err)
	}
}

func redisServer(tb testing.TB) string {
	tb.Helper()
	return testenv.LookPath(tb, "redis-server", "apt-get install redis-server")
}

// startSentinel runs a Sentinel watching primary under the name lkprimary
// and returns its address once it knows the primary.
func startSentinel(t *testing.T, bin, primary string) (string, *redis.SentinelClient) {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary)
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	sentinel := runRedis(t, bin, func(sport int) []string {
		err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor lkprimary %s %s 1\nsentinel down-after-milliseconds lkprimary 5000\n",
			sport, dir, host, port)), 0o600)
		if err != nil {
			t.Fatal(err)
		}
		return []string{conf, "--sentinel"}
	})
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel})
	t.Cleanup(func() { sc.Close() })
	waitFor(t, 10*time.Second, "the sentinel to know the primary", func(ctx context.Context) error {
		return primaryIs(ctx, sc, primary)
	})
	return sentinel, sc
}

func primaryIs(ctx context.Context, sc *redis.SentinelClient, want string) error {
	addr, err := sc.GetMasterAddrByName(ctx, "lkprimary").Result()
	if err == nil && net.JoinHostPort(addr[0], addr[1]) != want {
		err = fmt.Errorf("sentinel names %v, want %s", addr, want)
	}
	return err
}

// TestSentinel runs a primary and a Sentinel watching it, and goes through
// the Sentinel by URL, as latchkey serve would.
func TestSentinel(t *testing.T) {
	bin := redisServer(t)
	primary := startRedis(t, bin)
	sentinel, _ := startSentinel(t, bin, primary)

	s, err := redisstore.Open(t.Context(), "redis-sentinel://"+sentinel+"/lkprimary/1?prefix=lk:")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	roundTrip(t, s)

	// The data went to the primary's database 1, under the prefix.
	pc := redis.NewClient(&redis.Options{Addr: primary, DB: 1})
	defer pc.Close()
	if err := s.CreateSession(t.Context(), newSession(5, time.Now(), time.Hour, time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := pc.Exists(t.Context(), "lk:u:{5}").Result(); err != nil || n != 1 {
		t.Errorf("index on the primary's db 1: got (%d, %v), want it there", n, err)
	}
}

// TestCluster builds a three-primary Redis Cluster and goes through it by
// URL: session keys and user indexes land on different nodes.
func TestCluster(t *testing.T) {
	bin := redisServer(t)
	var addrs []string
	var clients []*redis.Client
	var busPorts []int
	for range 3 {
		// The bus port is set, not port+10000, which may be taken or past
		// 65535; it is picked again if the server has to retry.
		dir := t.TempDir()
		var bus int
		addr := runRedis(t, bin, func(port int) []string {
			bus = freePort(t)
			return []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
				"--save", "", "--appendonly", "no", "--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
				"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"}
		})
		busPorts = append(busPorts, bus)
		addrs = append(addrs, addr)
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		clients = append(clients, c)
	}
	ctx := t.Context()
	const slots = 16384
	for i, c := range clients {
		lo, hi := i*slots/3, (i+1)*slots/3-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE on %s: %v", addrs[i], err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(addrs[i])
			if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, busPorts[i]).Err(); err != nil {
				t.Fatalf("CLUSTER MEET: %v", err)
			}
		}
	}
	waitFor(t, 20*time.Second, "the cluster to form", func(ctx context.Context) error {
		for i, c := range clients {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("node %d not ready:\n%s", i, info)
			}
		}
		return nil
	})

	s, err := redisstore.Open(ctx, "redis-cluster://"+strings.Join(addrs[:2], ","))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	roundTrip(t, s)

	// Many sessions of one user spread over the nodes; the user's index is
	// on one of them, and "log out everywhere" still finds them all.
	var hashes [][]byte
	for range 30 {
		sess := newSession(77, time.Now(), time.Hour, time.Hour)
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
		hashes = append(hashes, sess.TokenHash)
	}
	used := 0
	for _, c := range clients {
		n, err := c.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			used++
		}
	}
	if used < 2 {
		t.Errorf("keys on %d nodes, want them spread over several", used)
	}
	if n, err := s.DeleteUserSessions(ctx, 77); err != nil || n != 30 {
		t.Fatalf("DeleteUserSessions: got (%d, %v), want 30", n, err)
	}
	for _, h := range hashes {
		if _, err := s.FindSession(ctx, h); !errors.Is(err, latchkey.ErrNotFound) {
			t.Fatalf("FindSession after DeleteUserSessions: got %v, want ErrNotFound", err)
		}
	}
}
