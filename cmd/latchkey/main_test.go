package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.RemoveBinaries()
	os.Exit(code)
}

// fastArgon2 keeps the binary's tests quick; the defaults are tested elsewhere.
var fastArgon2 = []string{"--argon2-memory", "64", "--argon2-time", "1"}

type server struct {
	url  string
	stop context.CancelFunc
	done chan error
}

// startServe runs the real serve command on a free port until the test ends.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), pw, io.Discard)
		pw.CloseWithError(err)
		done <- err
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("serve did not start: %v", err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(strings.TrimPrefix(line, "latchkey listening on "))
	s := &server{url: url, stop: cancel, done: done}
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return s
}

// shutdown stops the server and returns run's error.
func (s *server) shutdown(t *testing.T) error {
	t.Helper()
	s.stop()
	select {
	case err := <-s.done:
		s.done <- err // for Cleanup
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
		return nil
	}
}

func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, nil, append([]string{"--demo", "--data", filepath.Join(dir, "data")}, fastArgon2...)...)
	c := apitest.New(t, s.url)
	if r := c.Get("/api/ping"); r.Status != 200 || r.JSON["ping"] != "pong!" {
		t.Fatalf("ping: %d %v", r.Status, r.JSON)
	}
	if r := c.Login("test", "wrong"); r.Status != 401 {
		t.Errorf("wrong password: %d", r.Status)
	}
	if r := c.Login("test", "test"); r.Status != 200 {
		t.Fatalf("demo login: %d", r.Status)
	}
	if r := c.Get("/api/data"); r.Status != 200 || r.JSON["username"] != "test" {
		t.Errorf("data: %d %v", r.Status, r.JSON)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := c.Get(p); r.Status != 200 {
			t.Errorf("%s: %d", p, r.Status)
		}
	}
	if r := c.Get("/"); r.Status != 200 || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("start page: %d, CSP %q", r.Status, r.Header.Get("Content-Security-Policy"))
	}
	if r := c.Post("/api/logout", nil); r.Status != 200 || r.JSON["logout"] != true {
		t.Errorf("logout: %d %v", r.Status, r.JSON)
	}
	for _, p := range []string{"/api/nope", "/api"} {
		if r := c.Get(p); r.Status != 404 || r.JSON["error"] == nil {
			t.Errorf("%s: %d %v, want a JSON 404", p, r.Status, r.JSON)
		}
	}
	if err := s.shutdown(t); err != nil {
		t.Errorf("serve returned %v after SIGTERM-like cancel, want nil", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "data", "secret")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("generated secret: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
}

// TestSecretSurvivesRestart: a token issued before a restart still verifies,
// because the generated secret is kept in the data directory.
func TestSecretSurvivesRestart(t *testing.T) {
	data := t.TempDir()
	args := append([]string{"--demo", "--data", data}, fastArgon2...)
	s := startServe(t, nil, args...)
	c := apitest.New(t, s.url)
	c.CSRF()
	s.shutdown(t)
	s2 := startServe(t, nil, args...)
	c.Base = s2.url
	// The jar's cookies are per host:port; carry the anonymous cookie over.
	old, _ := http.NewRequest("GET", s.url, nil)
	nu, _ := http.NewRequest("GET", s2.url, nil)
	c.HTTP.Jar.SetCookies(nu.URL, c.HTTP.Jar.Cookies(old.URL))
	if r := c.Post("/api/login", map[string]string{"username": "test", "password": "test"}); r.Status != 200 {
		t.Errorf("login with a pre-restart token: %d %v", r.Status, r.JSON)
	}
}

// TestLoginThrottleFlags: --login-burst failed logins for one username get
// 401, the next attempt 429 too_many_attempts with a Retry-After of
// --login-refill, even with the right password.
func TestLoginThrottleFlags(t *testing.T) {
	s := startServe(t, nil, append([]string{"--demo", "--data", t.TempDir(), "--login-burst", "2", "--login-refill", "1h"}, fastArgon2...)...)
	c := apitest.New(t, s.url)
	for i := range 2 {
		if r := c.Login("test", "wrong"); r.Status != 401 {
			t.Fatalf("failed login %d: %d, want 401", i+1, r.Status)
		}
	}
	if r := c.Login("test", "test"); r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") != "3600" {
		t.Errorf("login after 2 failures: %d %q, Retry-After %q; want 429 too_many_attempts, Retry-After 3600", r.Status, r.ErrCode(), r.Header.Get("Retry-After"))
	}
}

// TestClientBudgetFlags: --login-ip-burst failed logins across usernames
// and --register-burst registrations from one client, then 429 with a
// Retry-After of the matching refill.
func TestClientBudgetFlags(t *testing.T) {
	s := startServe(t, nil, append([]string{"--data", t.TempDir(), "--login-ip-burst", "2", "--login-ip-refill", "1m",
		"--register-burst", "1", "--register-refill", "30s"}, fastArgon2...)...)
	c := apitest.New(t, s.url)
	for _, name := range []string{"ann", "ben"} {
		if r := c.Login(name, "Summer2026!"); r.Status != 401 {
			t.Fatalf("failed login as %s: %d, want 401", name, r.Status)
		}
	}
	if r := c.Login("cat", "Summer2026!"); r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") != "60" {
		t.Errorf("a 3rd username: %d %q, Retry-After %q; want 429 too_many_attempts, Retry-After 60", r.Status, r.ErrCode(), r.Header.Get("Retry-After"))
	}
	if r := c.Post("/api/register", map[string]string{"username": "dan", "password": "dan's long password"}); r.Status != 201 {
		t.Fatalf("register: %d %v, want 201", r.Status, r.JSON)
	}
	if r := c.Post("/api/register", map[string]string{"username": "eve", "password": "eve's long password"}); r.Status != 429 || r.ErrCode() != "too_many_attempts" || r.Header.Get("Retry-After") != "30" {
		t.Errorf("a 2nd registration: %d %q, Retry-After %q; want 429 too_many_attempts, Retry-After 30", r.Status, r.ErrCode(), r.Header.Get("Retry-After"))
	}
}

func TestGracefulShutdownDrains(t *testing.T) {
	s := startServe(t, nil, "--demo", "--data", t.TempDir(), "--argon2-memory", "32768", "--argon2-time", "12")
	c := apitest.New(t, s.url)
	c.CSRF()
	var wg sync.WaitGroup
	status := 0
	wg.Go(func() { status = c.Login("test", "test").Status })
	time.Sleep(150 * time.Millisecond) // the login is hashing now
	if err := s.shutdown(t); err != nil {
		t.Errorf("shutdown: %v", err)
	}
	wg.Wait()
	if status != 200 {
		t.Errorf("in-flight login during shutdown: %d, want 200", status)
	}
}

func TestEnvironmentFlags(t *testing.T) {
	env := map[string]string{
		"LATCHKEY_SAME_SITE":     "lax",
		"LATCHKEY_IDLE_TIMEOUT":  "1h",
		"LATCHKEY_ARGON2_MEMORY": "64",
		"LATCHKEY_ARGON2_TIME":   "1",
		"LATCHKEY_API_PREFIX":    "/auth",
	}
	s := startServe(t, env, "--demo", "--data", t.TempDir(), "--api-prefix", "/v1/auth")
	c := apitest.New(t, s.url)
	if r := c.Get("/v1/auth/getcsrf"); r.Status != 200 {
		t.Fatalf("flag did not win over env for the prefix: %d", r.Status)
	}
	r := c.Post("/v1/auth/login", map[string]string{"username": "test", "password": "test"})
	if r.Status != 200 || !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "SameSite=Lax") {
		t.Errorf("login %d, cookies %v; want SameSite=Lax from LATCHKEY_SAME_SITE", r.Status, r.Header.Values("Set-Cookie"))
	}
	m := c.Get("/v1/auth/getsession").JSON
	exp, _ := time.Parse(time.RFC3339Nano, m["expiresAt"].(string))
	idle, _ := time.Parse(time.RFC3339Nano, m["idleExpiresAt"].(string))
	if d := exp.Sub(idle); d < 22*time.Hour || d > 23*time.Hour+time.Minute {
		t.Errorf("idle deadline %v before the absolute one, want 23h (LATCHKEY_IDLE_TIMEOUT=1h)", d)
	}
}

func TestSecrets(t *testing.T) {
	long := strings.Repeat("s", 40)
	t.Run("from LATCHKEY_SECRET with rotation", func(t *testing.T) {
		data := t.TempDir()
		s := startServe(t, map[string]string{"LATCHKEY_SECRET": long + "," + strings.Repeat("o", 40)}, "--data", data)
		s.shutdown(t)
		if _, err := os.Stat(filepath.Join(data, "secret")); err == nil {
			t.Errorf("a secret file was generated although LATCHKEY_SECRET was set")
		}
	})
	for _, tc := range []struct {
		name string
		env  map[string]string
		file string
		mode os.FileMode
		want string
	}{
		{"short LATCHKEY_SECRET", map[string]string{"LATCHKEY_SECRET": "short"}, "", 0, "at least 32"},
		{"world-readable file", nil, long, 0o644, "chmod 600"},
		{"empty file", nil, "\n# comment\n", 0o600, "no secret key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}
			if tc.file != "" {
				p := filepath.Join(dir, "keys")
				os.WriteFile(p, []byte(tc.file), tc.mode)
				os.Chmod(p, tc.mode)
				args = append(args, "--secret-file", p)
			}
			err := run(context.Background(), args, func(k string) string { return tc.env[k] }, nil, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func runCmd(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, &errb)
	return out.String() + errb.String(), err
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	d := []string{"--data", data, "--argon2-memory", "64", "--argon2-time", "1"}
	user := func(stdin string, args ...string) (string, error) {
		return runCmd(t, stdin, append(append([]string{"user"}, args[:1]...), append(d, args[1:]...)...)...)
	}
	if out, err := user("alice's long password\n", "add", "--password-stdin", "--email", "alice@example.com", "Alice"); err != nil || !strings.Contains(out, `created user "Alice"`) {
		t.Fatalf("add: %v %s", err, out)
	}
	for _, tc := range []struct{ name, stdin, want string }{
		{"weak", "password\n", "common"},
		{"taken", "another long password\n", "taken"},
		{"no stdin", "", "no password"},
	} {
		if _, err := user(tc.stdin, "add", "--password-stdin", "alice"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("add %s: %v, want error with %q", tc.name, err, tc.want)
		}
	}
	if _, err := user("", "add", "bob"); err == nil || !strings.Contains(err.Error(), "--password-stdin") {
		t.Errorf("add without a terminal or --password-stdin: %v", err)
	}
	out, err := user("", "list")
	if err != nil || !strings.Contains(out, "Alice") || !strings.Contains(out, "alice@example.com") {
		t.Errorf("list: %v\n%s", err, out)
	}
	if out, err := user("alice's new password\n", "passwd", "--password-stdin", "ALICE"); err != nil {
		t.Errorf("passwd: %v %s", err, out)
	}
	// The server sees the new password.
	s := startServe(t, nil, d...)
	c := apitest.New(t, s.url)
	if r := c.Login("alice", "alice's long password"); r.Status != 401 {
		t.Errorf("old password after passwd: %d", r.Status)
	}
	if r := c.Login("alice", "alice's new password"); r.Status != 200 {
		t.Errorf("new password after passwd: %d", r.Status)
	}
	s.shutdown(t)
	if _, err := user("", "remove", "alice"); err != nil {
		t.Errorf("remove: %v", err)
	}
	if _, err := user("", "remove", "alice"); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("remove twice: %v", err)
	}
	if out, _ := user("", "list"); strings.Contains(out, "Alice") {
		t.Errorf("list after remove: %s", out)
	}
}

func TestCommandErrors(t *testing.T) {
	// Run where a stray default ./latchkey-data would be noticed, not in the tree.
	t.Chdir(t.TempDir())
	if out, err := runCmd(t, "", "version"); err != nil || !strings.HasPrefix(out, "latchkey ") {
		t.Errorf("version: %v %q", err, out)
	}
	for _, args := range [][]string{
		{"frobnicate"},
		{"serve", "--no-such-flag"},
		{"serve", "--same-site", "sideways", "--data", t.TempDir()},
		{"serve", "--session-protection", "paranoid", "--data", t.TempDir()},
		{"serve", "--argon2-memory", "-5"},
		{"user"},
		{"user", "add"},
		{"user", "frob", "x"},
		{"token"},
		{"token", "frob"},
		{"token", "create"},
		{"token", "create", "--user", "alice"},
		{"token", "create", "--user", "alice", "--name", "ci", "extra"},
		{"token", "list", "extra"},
		{"token", "revoke"},
		{"token", "revoke", "abc"},
		{"token", "revoke", "0"},
		{"token", "revoke", "1", "2"},
		{"token", "revoke", "1", "--user", "alice", "--name", "ci"},
		{"token", "revoke", "--user", "alice"},
	} {
		if _, err := runCmd(t, "", args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if _, err := runCmd(t, ""); err == nil {
		t.Errorf("no arguments: no error")
	}
	if _, err := os.Stat("latchkey-data"); err == nil {
		t.Errorf("a refused command created ./latchkey-data")
	}
}
