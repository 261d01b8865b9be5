package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/pgstore"
	"github.com/latchkey/latchkey/storetest"
)

// open opens a store on a fresh schema and closes it at cleanup.
func open(tb testing.TB) (*pgstore.Store, string) {
	tb.Helper()
	dsn := testenv.PostgresDSN(tb)
	s, err := pgstore.Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, dsn
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now func() time.Time) storetest.Stores {
		s, _ := open(tb)
		s.Now = now
		return storetest.Stores{Users: s, Sessions: s}
	})
}

func BenchmarkFindSession(b *testing.B) {
	s, _ := open(b)
	storetest.BenchFindSession(b, s)
}

// Instances starting together must migrate once, without errors: the
// advisory lock makes the second wait and then find nothing to do.
func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			s, err := pgstore.Open(t.Context(), dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rows, maxVersion int
	if err := conn.QueryRow(t.Context(), `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxVersion); err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	if rows != maxVersion || rows == 0 {
		t.Errorf("schema_migrations: got %d rows up to version %d, want one row per version", rows, maxVersion)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	s, dsn := open(t)
	s.Close()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`); err != nil {
		t.Fatalf("faking a newer schema: %v", err)
	}
	s, err = pgstore.Open(t.Context(), dsn)
	if !errors.Is(err, pgstore.ErrSchemaTooNew) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open: got error %v, want ErrSchemaTooNew", err)
	}
	v, err := func() (int, error) {
		var v int
		err := conn.QueryRow(t.Context(), `SELECT MAX(version) FROM schema_migrations`).Scan(&v)
		return v, err
	}()
	if err != nil || v != 9999 {
		t.Errorf("schema version after refusing: got (%d, %v), want 9999", v, err)
	}
}

// A User-Agent cut at MaxUserAgentBytes may end inside a character; session
// protection compares bytes, so they must come back exactly.
func TestNonUTF8UserAgentRoundTrips(t *testing.T) {
	s, _ := open(t)
	now := time.Now()
	sess := &latchkey.Session{
		TokenHash: []byte("0123456789abcdef0123456789abcdef"), UserID: 1,
		CreatedAt: now, LastSeenAt: now, IdleExpiresAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour),
		UserAgent: "Mozilla \xe6\x97", IP: "192.0.2.1",
	}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.FindSession(t.Context(), sess.TokenHash)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if got.UserAgent != sess.UserAgent {
		t.Errorf("UserAgent: got %q, want %q", got.UserAgent, sess.UserAgent)
	}
}

// A server that accepts connections and never answers must cost each call
// no more than Timeout, and fail with ErrStoreUnavailable.
func TestUnresponsiveServerIsUnavailableQuickly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // hold it open, say nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	_, err = pgstore.Open(t.Context(), fmt.Sprintf("postgres://postgres@%s/test?sslmode=disable&connect_timeout=1", ln.Addr()))
	if !errors.Is(err, latchkey.ErrStoreUnavailable) {
		t.Errorf("Open: got %v, want ErrStoreUnavailable", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Open took %v, want about the 1s connect timeout", d)
	}
}

func TestOpenBadDSNHidesIt(t *testing.T) {
	_, err := pgstore.Open(t.Context(), "postgres://u:s3cret@[::1")
	if err == nil {
		t.Fatal("Open: got nil error")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Errorf("error shows the password: %s", got)
	}
}

// A database from before sessions had a generation keeps its sessions
// through the upgrade; they read as generation 0, never rotated, and rotate
// from there. Its users get username skeletons, but for a look-alike of an
// earlier one, which stays as it was.
func TestUpgradeKeepsSessionsUnrotated(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	now := time.Now()
	hash := []byte("0123456789abcdef0123456789abcdef")
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (1, now())`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("building a version 1 database: %v", err)
		}
	}
	_, err = conn.Exec(ctx, `INSERT INTO sessions
		(token_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, remember, fresh, user_agent, ip)
		VALUES ($1, 1, $2, $2, $3, $4, false, true, 'ua', '192.0.2.1')`,
		hash, now, now.Add(time.Hour), now.Add(2*time.Hour))
	if err != nil {
		t.Fatalf("inserting a version 1 session: %v", err)
	}
	for _, u := range storetest.OldUsers {
		if _, err := conn.Exec(ctx, `INSERT INTO users (username, username_key, password_hash, created_at, updated_at)
			VALUES ($1, $2, 'x', now(), now())`, u.Name, u.Key); err != nil {
			t.Fatalf("inserting a version 1 user: %v", err)
		}
	}

	s, err := pgstore.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.CheckOldSession(t, s, hash, now)
	storetest.CheckOldUsers(t, s)
}

// A take deletes other keys whose bucket has refilled, and only those,
// so login_attempts needs no pruning job.
func TestAttemptTakePrunesRefilledKeys(t *testing.T) {
	ctx := t.Context()
	s, dsn := open(t)
	now := time.Now()
	for i, key := range []string{"refilled", "refilling"} {
		// refill i+1 hours: "refilled" is full again an hour from now, "refilling" in two.
		if _, err := s.AttemptTake(ctx, key, 3, time.Duration(i+1)*time.Hour, now); err != nil {
			t.Fatalf("AttemptTake %s: %v", key, err)
		}
	}
	later := now.Add(90 * time.Minute)
	if _, err := s.AttemptTake(ctx, "another", 3, time.Hour, later); err != nil {
		t.Fatalf("AttemptTake another: %v", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT key FROM login_attempts ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(keys, " "), "another refilling"; got != want {
		t.Errorf("keys left: got %q, want %q", got, want)
	}
}
