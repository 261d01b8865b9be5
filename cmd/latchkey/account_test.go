package main

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/smtptest"
)

// cli runs the command with env as its environment and stdin as its
// standard input, and returns its standard output and error apart.
func cli(tb testing.TB, env map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// linkToken checks that link leads to route on base and returns its token.
func linkToken(tb testing.TB, link, base, route string) string {
	tb.Helper()
	u, err := url.Parse(strings.TrimSpace(link))
	if err != nil || u.Scheme+"://"+u.Host != base || u.Path != route || u.Query().Get("token") == "" {
		tb.Fatalf("link %q, want %s%s?token=…", link, base, route)
	}
	return u.Query().Get("token")
}

// mailedToken waits for the next mail to addr and returns the token of its
// link to route on base, as the user following it would.
func mailedToken(tb testing.TB, srv *smtptest.Server, addr, base, route string) string {
	tb.Helper()
	m := srv.WaitFor(tb, addr)
	for _, l := range m.TextLinks() {
		if u, err := url.Parse(l); err == nil && u.Path == route {
			return linkToken(tb, l, base, route)
		}
	}
	tb.Fatalf("mail %q to %s has no %s link:\n%s", m.Subject, addr, route, m.Text)
	return ""
}

// accountBackends are the stores the account commands are tried on: the
// SQLite database in --data, and users in PostgreSQL with sessions (and
// so the links' tokens) in Redis, where serve finds only what the command
// put in the session store.
var accountBackends = []struct {
	name  string
	setup func(t *testing.T) (flags []string, env map[string]string)
}{
	{"sqlite", func(t *testing.T) ([]string, map[string]string) { return []string{"--data", t.TempDir()}, nil }},
	{"postgres and redis", func(t *testing.T) ([]string, map[string]string) {
		return append(sharedStores(t), "--data", t.TempDir()), map[string]string{"LATCHKEY_SECRET": sharedSecret}
	}},
}

// TestUserAccountCommands: what an operator without mail does from the
// terminal, seen by a running serve on the same stores. verify-email shows
// in /api/data; a printed reset link opens the reset page, replaces the
// link before it, works once through POST /api/password/reset and ends the
// old sessions; set-password ends sessions too.
func TestUserAccountCommands(t *testing.T) {
	for _, be := range accountBackends {
		t.Run(be.name, func(t *testing.T) {
			stores, env := be.setup(t)
			user := func(stdin, sub string, args ...string) (string, string, error) {
				t.Helper()
				return cli(t, env, stdin, append(append(append([]string{"user", sub}, fastArgon2...), stores...), args...)...)
			}
			if _, stderr, err := user("alice's long password\n", "add", "--password-stdin", "--email", "alice@example.test", "alice"); err != nil {
				t.Fatalf("user add: %v\n%s", err, stderr)
			}
			s := startServe(t, env, append(slices.Clone(stores), fastArgon2...)...)
			old := apitest.New(t, s.url)
			old.MustLogin("alice", "alice's long password")

			if r := old.Get("/api/data"); r.Status != 200 || r.JSON["emailVerified"] != false {
				t.Fatalf("data before verify-email: %d %v, want emailVerified false", r.Status, r.JSON)
			}
			if out, stderr, err := user("", "verify-email", "ALICE"); err != nil || out != "the address alice@example.test of \"alice\" is verified\n" {
				t.Errorf("verify-email: %v %q\n%s", err, out, stderr)
			}
			if r := old.Get("/api/data"); r.Status != 200 || r.JSON["emailVerified"] != true {
				t.Errorf("data after verify-email: %d %v, want emailVerified true", r.Status, r.JSON)
			}

			first, _, err := user("", "reset-link", "--public-url", s.url, "alice")
			if err != nil {
				t.Fatalf("reset-link: %v", err)
			}
			link, stderr, err := user("", "reset-link", "--public-url", s.url, "alice")
			if err != nil {
				t.Fatalf("reset-link: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, "valid for 1h0m0s") {
				t.Errorf("reset-link says %q, want how long the link works", stderr)
			}
			tok := linkToken(t, link, s.url, "/reset-password")
			// Without the SPA, the link opens the hosted page, as serve's
			// mail would with the same flags.
			hosted, _, err := user("", "reset-link", "--public-url", s.url, "--mail-links", "pages", "alice")
			if err != nil {
				t.Fatalf("reset-link --mail-links pages: %v", err)
			}
			if status, body := openLink(t, strings.TrimSpace(hosted)); status != 200 || !strings.Contains(body, `name="token" value="`+linkToken(t, hosted, s.url, "/auth/reset")+`"`) {
				t.Errorf("opening the hosted page's link: %d %.200q, want its form", status, body)
			}
			link, _, err = user("", "reset-link", "--public-url", s.url, "alice")
			if err != nil {
				t.Fatalf("reset-link: %v", err)
			}
			tok = linkToken(t, link, s.url, "/reset-password")
			if status, body := openLink(t, strings.TrimSpace(link)); status != 200 || !strings.Contains(body, "<html") {
				t.Errorf("opening the link: %d %.80q, want the SPA", status, body)
			}
			b := apitest.New(t, s.url)
			b.CSRF()
			reset := func(tok, pw string) apitest.Resp {
				t.Helper()
				return b.Post("/api/password/reset", map[string]any{"token": tok, "password": pw})
			}
			if r := reset(linkToken(t, first, s.url, "/reset-password"), "alice's newer password"); r.Status != 400 || r.ErrCode() != "invalid_token" {
				t.Errorf("reset with the link the second replaced: %d %s, want 400 invalid_token", r.Status, r.Raw)
			}
			if r := reset(tok, "alice's newer password"); r.Status != 200 || r.JSON["reset"] != true {
				t.Fatalf("reset with the printed link: %d %s", r.Status, r.Raw)
			}
			if r := reset(tok, "alice's newest password"); r.Status != 400 || r.ErrCode() != "invalid_token" {
				t.Errorf("the link used again: %d %s, want 400 invalid_token", r.Status, r.Raw)
			}
			if old.LoggedIn() {
				t.Error("a session from before the reset is still logged in")
			}
			if r := b.Login("alice", "alice's long password"); r.Status != 401 {
				t.Errorf("the old password after the reset: %d, want 401", r.Status)
			}
			b.MustLogin("alice", "alice's newer password")

			if out, stderr, err := user("alice's newest password\n", "set-password", "--password-stdin", "alice"); err != nil || !strings.Contains(out, "sessions were ended") {
				t.Fatalf("set-password: %v %q\n%s", err, out, stderr)
			}
			if b.LoggedIn() {
				t.Error("a session from before set-password is still logged in")
			}
			if r := b.Login("alice", "alice's newer password"); r.Status != 401 {
				t.Errorf("the password set-password replaced: %d, want 401", r.Status)
			}
			b.MustLogin("alice", "alice's newest password")
		})
	}
}

func TestUserAccountCommandRefusals(t *testing.T) {
	data := t.TempDir()
	// user runs a user subcommand on the data directory, with the flags
	// and the names args ends with.
	user := func(stdin, sub string, args ...string) (string, string, error) {
		t.Helper()
		return cli(t, nil, stdin, append(append([]string{"user", sub, "--data", data}, fastArgon2...), args...)...)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		args := []string{"--password-stdin", name}
		if name != "carol" {
			args = append([]string{"--email", "shared@example.test"}, args...) // one address, unverified, for two users
		}
		if _, stderr, err := user(name+"'s long password\n", "add", args...); err != nil {
			t.Fatalf("user add %s: %v\n%s", name, err, stderr)
		}
	}
	if _, stderr, err := user("", "verify-email", "alice"); err != nil {
		t.Fatalf("verify-email alice: %v\n%s", err, stderr)
	}
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"reset-link without an app URL", "", []string{"reset-link", "alice"}, "set --app-url"},
		{"reset-link with several SPA origins", "", []string{"reset-link", "--allowed-origins", "https://a.example,https://b.example", "alice"}, "set --app-url"},
		{"reset-link with a bad app URL", "", []string{"reset-link", "--app-url", "app.example.com", "alice"}, "--app-url"},
		{"reset-link with a bad public URL", "", []string{"reset-link", "--public-url", "https://api.example.com/?x=1", "alice"}, "--public-url"},
		{"reset-link into a memory store", "", []string{"reset-link", "--app-url", "https://app.example.com", "--session-store", "memory:", "alice"}, "serve could never see the link"},
		{"reset-link for no one", "", []string{"reset-link", "--app-url", "https://app.example.com", "nobody"}, "no such user"},
		{"reset-link with a zero lifetime", "", []string{"reset-link", "--app-url", "https://app.example.com", "--reset-link-ttl", "0", "alice"}, "--reset-link-ttl 0s: want a positive duration"},
		{"reset-link for two users", "", []string{"reset-link", "--app-url", "https://app.example.com", "alice", "bob"}, "wrong number of arguments"},
		{"verify-email without an address", "", []string{"verify-email", "carol"}, "no email address"},
		{"verify-email of an address verified by another", "", []string{"verify-email", "bob"}, "another user has already verified that address"},
		{"verify-email for no one", "", []string{"verify-email", "nobody"}, "no such user"},
		{"set-password too weak", "password\n", []string{"set-password", "--password-stdin", "alice"}, "common"},
		{"set-password without a terminal", "", []string{"set-password", "alice"}, "--password-stdin"},
		{"app URL flag where it means nothing", "", []string{"list", "--app-url", "https://app.example.com"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, _, err := user(tc.stdin, tc.args[0], tc.args[1:]...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	// The app URL as serve derives it: the one SPA origin, else the public URL.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--app-url", "https://app.example.com/ui/"}, "https://app.example.com/ui/reset-password?token="},
		{[]string{"--allowed-origins", "https://app.example.com", "--public-url", "https://api.example.com"}, "https://app.example.com/reset-password?token="},
		{[]string{"--public-url", "https://example.com"}, "https://example.com/reset-password?token="},
	} {
		stdout, stderr, err := user("", "reset-link", append(tc.args, "bob")...)
		if err != nil || !strings.HasPrefix(stdout, tc.want) || strings.Count(stdout, "\n") != 1 {
			t.Errorf("reset-link %v: %v %q, want one line starting %s\n%s", tc.args, err, stdout, tc.want, stderr)
		}
	}
	if stdout, _, err := user("", "reset-link", "--app-url", "https://app.example.com", "carol"); err != nil || !strings.HasPrefix(stdout, "https://app.example.com/reset-password?token=") {
		t.Errorf("reset-link for a user without an address: %v %q, want a link", err, stdout)
	}
}

// TestAccountFlags: each account flag of serve takes effect.
func TestAccountFlags(t *testing.T) {
	t.Run("require verified email", func(t *testing.T) {
		data := t.TempDir()
		s := startServe(t, nil, append([]string{"--data", data, "--require-verified-email"}, fastArgon2...)...)
		c := apitest.New(t, s.url)
		c.CSRF()
		if r := c.Post("/api/register", creds("dan", "dan's long password")); r.Status != 400 || r.ErrField() != "email" {
			t.Errorf("register without an address: %d %s, want 400 for the field email", r.Status, r.Raw)
		}
		if r := c.Post("/api/register", map[string]any{"username": "dan", "password": "dan's long password", "email": "dan@example.test"}); r.Status != 201 || r.JSON["emailVerificationRequired"] != true {
			t.Fatalf("register: %d %s, want 201 with emailVerificationRequired", r.Status, r.Raw)
		}
		if r := c.Login("dan", "dan's long password"); r.Status != 403 || r.ErrCode() != "email_unverified" {
			t.Errorf("login before verifying: %d %s, want 403 email_unverified", r.Status, r.Raw)
		}
		if _, stderr, err := cli(t, nil, "", append([]string{"user", "verify-email", "--data", data}, "dan")...); err != nil {
			t.Fatalf("verify-email: %v\n%s", err, stderr)
		}
		c.MustLogin("dan", "dan's long password")
	})

	t.Run("mail budgets", func(t *testing.T) {
		s := startServe(t, nil, append([]string{"--data", t.TempDir(), "--mail-address-burst", "2", "--mail-address-refill", "1h",
			"--mail-client-burst", "4", "--mail-client-refill", "30s"}, fastArgon2...)...)
		c := apitest.New(t, s.url)
		c.CSRF()
		for i, tc := range []struct {
			addr       string
			status     int
			retryAfter string
		}{
			{"a@example.test", 202, ""}, {"a@example.test", 202, ""},
			{"a@example.test", 429, "3600"}, // the address's budget; the client's token is given back
			{"b@example.test", 202, ""}, {"b@example.test", 202, ""},
			{"c@example.test", 429, "30"}, // the client's budget
		} {
			r := c.Post("/api/password/forgot", map[string]any{"email": tc.addr})
			if r.Status != tc.status || r.Header.Get("Retry-After") != tc.retryAfter || tc.status == 429 && r.ErrCode() != "too_many_emails" {
				t.Errorf("forgot #%d for %s: %d %s, Retry-After %q; want %d, Retry-After %q", i+1, tc.addr, r.Status, r.Raw, r.Header.Get("Retry-After"), tc.status, tc.retryAfter)
			}
		}
	})

	// mailServe runs serve with a real mail server and the flags.
	mailServe := func(t *testing.T, flags ...string) (*server, *smtptest.Server, *apitest.Client) {
		t.Helper()
		srv := smtptest.Start(t, smtptest.Options{})
		s := startServe(t, nil, append(append([]string{"--data", t.TempDir(), "--smtp-url", srv.URL(), "--mail-from", "latchkey@example.test"}, fastArgon2...), flags...)...)
		c := apitest.New(t, s.url)
		c.CSRF()
		return s, srv, c
	}
	register := func(t *testing.T, c *apitest.Client, name, addr string) {
		t.Helper()
		if r := c.Post("/api/register", map[string]any{"username": name, "password": name + "'s long password", "email": addr}); r.Status != 201 {
			t.Fatalf("register %s: %d %s", name, r.Status, r.Raw)
		}
	}

	t.Run("link lifetimes", func(t *testing.T) {
		s, srv, c := mailServe(t, "--reset-link-ttl", "1s", "--verify-link-ttl", "1s")
		register(t, c, "erin", "erin@example.test")
		verify := mailedToken(t, srv, "erin@example.test", s.url, "/verify-email")
		if r := c.Post("/api/password/forgot", map[string]any{"email": "erin@example.test"}); r.Status != 202 {
			t.Fatalf("forgot: %d %s", r.Status, r.Raw)
		}
		reset := mailedToken(t, srv, "erin@example.test", s.url, "/reset-password")
		time.Sleep(1100 * time.Millisecond)
		if r := c.Post("/api/email/verify", map[string]any{"token": verify}); r.Status != 400 || r.ErrCode() != "invalid_token" {
			t.Errorf("verification link after its 1s: %d %s, want 400 invalid_token", r.Status, r.Raw)
		}
		if r := c.Post("/api/password/reset", map[string]any{"token": reset, "password": "erin's newer password"}); r.Status != 400 || r.ErrCode() != "invalid_token" {
			t.Errorf("reset link after its 1s: %d %s, want 400 invalid_token", r.Status, r.Raw)
		}
	})

	t.Run("mail cooldown", func(t *testing.T) {
		const cooldown = 300 * time.Millisecond
		s, srv, c := mailServe(t, "--mail-cooldown", cooldown.String())
		register(t, c, "fay", "fay@example.test")
		mailedToken(t, srv, "fay@example.test", s.url, "/verify-email")
		// With the default 2m the second link would silently not go out.
		for i := range 2 {
			if r := c.Post("/api/password/forgot", map[string]any{"email": "fay@example.test"}); r.Status != 202 {
				t.Fatalf("forgot #%d: %d %s", i+1, r.Status, r.Raw)
			}
			mailedToken(t, srv, "fay@example.test", s.url, "/reset-password")
			time.Sleep(cooldown)
		}
	})

	t.Run("fresh login window", func(t *testing.T) {
		_, _, c := mailServe(t, "--fresh-login-window", "1ms")
		register(t, c, "gus", "gus@example.test")
		time.Sleep(5 * time.Millisecond)
		if r := c.Post("/api/email/change", map[string]any{"email": "gus2@example.test"}); r.Status != 403 || r.ErrCode() != "reauth_required" {
			t.Errorf("change of address 5ms after registering: %d %s, want 403 reauth_required", r.Status, r.Raw)
		}
		if r := c.Post("/api/email/change", map[string]any{"email": "gus2@example.test", "password": "gus's long password"}); r.Status != 202 {
			t.Errorf("change of address with the password: %d %s, want 202", r.Status, r.Raw)
		}
	})
}
