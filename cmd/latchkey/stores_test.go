package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "(SQLite in --data)"},
		{"memory:", "memory:"},
		{"postgres://lk:s3cret@db:5432/app?sslmode=disable", "postgres://lk:xxxxx@db:5432/app?sslmode=disable"},
		{"postgres://lk@db/app?password=s3cret", "postgres://lk@db/app?password=xxxxx"},
		{"redis://:s3cret@127.0.0.1:6379/2", "redis://:xxxxx@127.0.0.1:6379/2"},
		{"redis-cluster://u:s3cret@a:1,b:2", "redis-cluster://u:xxxxx@a:1,b:2"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q): got %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A shared session store with a secret only this instance has would break
// CSRF tokens across instances: serve refuses it before connecting, and
// without generating a secret file.
func TestSharedSessionStoreNeedsSharedSecret(t *testing.T) {
	for _, store := range []string{
		"--session-store=redis://127.0.0.1:1",
		"--user-store=postgres://nobody@127.0.0.1:1/x", // sessions default to the user store
	} {
		data := t.TempDir()
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--data", data, store},
			func(string) string { return "" }, nil, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "LATCHKEY_SECRET or --secret-file") {
			t.Errorf("%s: got %v, want a refusal naming LATCHKEY_SECRET or --secret-file", store, err)
		}
		if strings.Contains(err.Error(), "connect") {
			t.Errorf("%s: got %v, want the refusal before connecting", store, err)
		}
		if _, err := os.Stat(filepath.Join(data, "secret")); err == nil {
			t.Errorf("%s: a secret was generated", store)
		}
	}
}

func TestStoreURLErrors(t *testing.T) {
	for _, tc := range []struct{ flag, want string }{
		{"--user-store=redis://127.0.0.1:6379", "sessions only"},
		{"--session-store=mongodb://x", "unknown kind of store"},
		{"--user-store=sqlite://", "want sqlite://PATH"},
		{"--session-store=redis://:hunter2@h/notanumber", "not a number"},
	} {
		out, err := runCmd(t, "", "migrate", "--data", t.TempDir(), tc.flag)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.flag, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error()+out, "hunter2") {
			t.Errorf("%s: the error shows the password: %v", tc.flag, err)
		}
	}
}

// Users and sessions in SQLite files named by URL, and in memory.
func TestSQLiteAndMemoryStoreURLs(t *testing.T) {
	dir := t.TempDir()
	users := "sqlite://" + filepath.Join(dir, "users.db")
	sessions := "sqlite://" + filepath.Join(dir, "sessions.db")
	s := startServe(t, nil, append([]string{"--demo", "--data", filepath.Join(dir, "data"),
		"--user-store", users, "--session-store", sessions}, fastArgon2...)...)
	c := apitest.New(t, s.url)
	if r := c.Login("test", "test"); r.Status != 200 {
		t.Fatalf("login: %d", r.Status)
	}
	if r := c.Get("/api/getsession"); r.Status != 200 || r.JSON["login"] != true {
		t.Errorf("getsession: %d %v", r.Status, r.JSON)
	}
	s.shutdown(t)
	for _, f := range []string{"users.db", "sessions.db"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "latchkey.db")); err == nil {
		t.Errorf("the default database was created although both stores were named")
	}
	out, err := runCmd(t, "", "sessions", "prune", "--data", dir, "--user-store", users, "--session-store", sessions)
	if err != nil || !strings.Contains(out, "pruned 0 expired sessions") {
		t.Errorf("sessions prune: %v %q", err, out)
	}

	m := startServe(t, nil, append([]string{"--demo", "--data", filepath.Join(dir, "data"), "--user-store", "memory:"}, fastArgon2...)...)
	c = apitest.New(t, m.url)
	if r := c.Login("test", "test"); r.Status != 200 {
		t.Errorf("login with memory:: %d", r.Status)
	}
}

// migrate, sessions prune and the user commands work on PostgreSQL.
func TestCommandsOnPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	data := t.TempDir()
	out, err := runCmd(t, "", "migrate", "--data", data, "--user-store", dsn)
	files, _ := filepath.Glob(filepath.Join("..", "..", "pgstore", "migrations", "*.sql"))
	if want := fmt.Sprintf("users: *pgstore.Store: schema version %d", len(files)); err != nil || len(files) == 0 || !strings.Contains(out, want) {
		t.Fatalf("migrate: %v %q", err, out)
	}
	if out, err := runCmd(t, "a long enough password\n", "user", "add", "--password-stdin", "--data", data,
		"--user-store", dsn, "--argon2-memory", "64", "--argon2-time", "1", "carol"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := runCmd(t, "", "user", "list", "--data", data, "--user-store", dsn); err != nil || !strings.Contains(out, "carol") {
		t.Errorf("user list: %v %q", err, out)
	}
	out, err = runCmd(t, "", "sessions", "prune", "--data", data, "--user-store", dsn, "--batch", "2")
	if err != nil || !strings.Contains(out, "pruned 0") {
		t.Errorf("sessions prune: %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "latchkey.db")); err == nil {
		t.Errorf("a SQLite database was created although --user-store was PostgreSQL")
	}
}

func TestSessionsPruneOnRedis(t *testing.T) {
	addr := testenv.Env(t, "LATCHKEY_TEST_REDIS_ADDR", testenv.RedisHint)
	out, err := runCmd(t, "", "sessions", "prune", "--data", t.TempDir(), "--user-store", "memory:",
		"--session-store", "redis://"+addr+"?prefix=latchkey-test:prune:")
	if err != nil || !strings.Contains(out, "expires sessions by itself") {
		t.Errorf("sessions prune: %v %q", err, out)
	}
}
