package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlitestore"
	"github.com/latchkey/latchkey/storetest"
	_ "modernc.org/sqlite"
)

// open opens a store on a new file under tb.TempDir and closes it at cleanup.
func open(tb testing.TB) (*sqlitestore.Store, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "latchkey.db")
	s, err := sqlitestore.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s, path
}

// rawDB opens the file with the bare driver, to look under the store.
func rawDB(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		tb.Fatalf("sql.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
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

func newUser(tb testing.TB, name string) *latchkey.User {
	tb.Helper()
	display, key, err := latchkey.NormalizeUsername(name)
	if err != nil {
		tb.Fatalf("NormalizeUsername: %v", err)
	}
	now := time.Now()
	return &latchkey.User{Username: display, UsernameKey: key, PasswordHash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	u := newUser(t, "alice")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	for i := range 2 {
		s, err := sqlitestore.Open(ctx, path)
		if err != nil {
			t.Fatalf("Open again (%d): %v", i, err)
		}
		got, err := s.UserByUsernameKey(ctx, "alice")
		if err != nil || got.ID != u.ID {
			t.Errorf("Open again (%d): UserByUsernameKey: got (%+v, %v), want user %d", i, got, err, u.ID)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}

	var rows, maxVersion int
	err = rawDB(t, path).QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&rows, &maxVersion)
	if err != nil {
		t.Fatalf("reading schema_migrations: %v", err)
	}
	if rows != maxVersion {
		t.Errorf("schema_migrations: got %d rows up to version %d, want one row per version", rows, maxVersion)
	}
}

func TestFileIsPrivate(t *testing.T) {
	s, path := open(t)
	u := newUser(t, "alice")
	if err := s.CreateUser(t.Context(), u); err != nil { // so the WAL file exists
		t.Fatalf("CreateUser: %v", err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("Stat: %v", err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s: got mode %v, want %v", filepath.Base(p), got, os.FileMode(0o600))
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	s, path := open(t)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := rawDB(t, path).ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatalf("faking a newer schema: %v", err)
	}
	s, err := sqlitestore.Open(ctx, path)
	if !errors.Is(err, sqlitestore.ErrSchemaTooNew) {
		if err == nil {
			s.Close()
		}
		t.Fatalf("Open: got error %v, want ErrSchemaTooNew", err)
	}
}

func TestWAL(t *testing.T) {
	_, path := open(t)
	var mode string
	if err := rawDB(t, path).QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatalf("PRAGMA journal_mode: %v", err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode: got %q, want %q", mode, "wal")
	}
}

func TestPing(t *testing.T) {
	ctx := t.Context()
	s, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "latchkey.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: got %v, want nil", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping after Close: got nil, want an error")
	}
}

// The driver reads '?' as the start of its parameters; a path holding one
// (or '#', '%', spaces) must still name exactly that file.
func TestPathWithURICharacters(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd ?dir#%41")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "latch key?.db")
	s, err := sqlitestore.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if err := s.CreateUser(t.Context(), newUser(t, "alice")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"latch key?.db", "latch key?.db-shm", "latch key?.db-wal"}
	if len(names) != len(want) || names[0] != want[0] || names[1] != want[1] || names[2] != want[2] {
		t.Errorf("files in the directory: got %q, want %q", names, want)
	}
}

func TestOpenMissingDirectoryFails(t *testing.T) {
	s, err := sqlitestore.Open(t.Context(), filepath.Join(t.TempDir(), "missing", "latchkey.db"))
	if err == nil {
		s.Close()
		t.Fatal("Open: got nil error, want one")
	}
}

// The stores keep the idle deadline no later than the absolute one, which
// is what lets PruneSessions use the idle index alone.
func TestIdleDeadlineCappedAtAbsolute(t *testing.T) {
	ctx := t.Context()
	s, _ := open(t)
	clock := storetest.NewClock(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	s.Now = clock.Now
	now := clock.Now()
	sess := &latchkey.Session{
		TokenHash: []byte("0123456789abcdef0123456789abcdef"), UserID: 1,
		CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(2 * time.Hour), ExpiresAt: now.Add(time.Hour),
	}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.FindSession(ctx, sess.TokenHash)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if !got.IdleExpiresAt.Equal(sess.ExpiresAt) {
		t.Errorf("IdleExpiresAt: got %v, want %v", got.IdleExpiresAt, sess.ExpiresAt)
	}
	clock.Advance(time.Hour)
	if n, err := s.PruneSessions(ctx, 10); err != nil || n != 1 {
		t.Errorf("PruneSessions: got (%d, %v), want (1, nil)", n, err)
	}
}

// Many writers at once must queue for the one write connection, not fail
// with SQLITE_BUSY.
func TestConcurrentWritersDoNotFail(t *testing.T) {
	s, _ := open(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 100)
	for i := range 100 {
		u := newUser(t, fmt.Sprintf("user%03d", i))
		go func() { errs <- s.CreateUser(ctx, u) }()
	}
	for range 100 {
		if err := <-errs; err != nil {
			t.Errorf("CreateUser: %v", err)
		}
	}
}

func BenchmarkFindSessionUser(b *testing.B) {
	s, _ := open(b)
	storetest.BenchFindSessionUser(b, s, s)
}

// A database from before sessions had a generation keeps its sessions
// through the upgrade; they read as generation 0, never rotated, and rotate
// from there. Its users get username skeletons, but for a look-alike of an
// earlier one, which stays as it was.
func TestUpgradeKeepsSessionsUnrotated(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	v1, err := os.ReadFile(filepath.Join("migrations", "0001_init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, path)
	now := time.Now()
	hash := []byte("0123456789abcdef0123456789abcdef")
	for _, q := range []string{
		string(v1),
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("building a version 1 database: %v", err)
		}
	}
	_, err = db.ExecContext(ctx, `INSERT INTO sessions
		(token_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, remember, fresh, user_agent, ip)
		VALUES (?, 1, ?, ?, ?, ?, 0, 1, 'ua', '192.0.2.1')`,
		hash, now.UnixMilli(), now.UnixMilli(), now.Add(time.Hour).UnixMilli(), now.Add(2*time.Hour).UnixMilli())
	if err != nil {
		t.Fatalf("inserting a version 1 session: %v", err)
	}
	for _, u := range storetest.OldUsers {
		if _, err := db.ExecContext(ctx, `INSERT INTO users (username, username_key, password_hash, created_at, updated_at)
			VALUES (?, ?, 'x', 0, 0)`, u.Name, u.Key); err != nil {
			t.Fatalf("inserting a version 1 user: %v", err)
		}
	}
	db.Close()

	s, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	storetest.CheckOldSession(t, s, hash, now)
	storetest.CheckOldUsers(t, s)
}
