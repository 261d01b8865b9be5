package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
)

// TestUserOperatorCommands: list, show, role, lock, unlock and logout from
// the terminal, on SQLite and on PostgreSQL with Redis, seen at once by a
// running serve on the same stores.
func TestUserOperatorCommands(t *testing.T) {
	for _, be := range accountBackends {
		t.Run(be.name, func(t *testing.T) {
			stores, env := be.setup(t)
			user := func(stdin, sub string, args ...string) string {
				t.Helper()
				out, stderr, err := cli(t, env, stdin, append(append(append([]string{"user", sub}, fastArgon2...), stores...), args...)...)
				if err != nil {
					t.Fatalf("user %s %v: %v\n%s", sub, args, err, stderr)
				}
				return out
			}
			fails := func(want, sub string, args ...string) {
				t.Helper()
				_, _, err := cli(t, env, "", append(append(append([]string{"user", sub}, fastArgon2...), stores...), args...)...)
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("user %s %v: got %v, want an error saying %q", sub, args, err, want)
				}
			}
			user("bob's long password\n", "add", "--password-stdin", "--email", "bob@example.test", "bob")
			user("root's long password\n", "add", "--password-stdin", "root")
			s := startServe(t, env, append(slices.Clone(stores), fastArgon2...)...)
			b := apitest.New(t, s.url)
			b.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
			b.MustLogin("bob", "bob's long password")

			if out := user("", "role", "add", "bob", "editor"); !strings.Contains(out, `"bob" now has the role "editor"`) {
				t.Errorf("role add: %q", out)
			}
			if out := user("", "role", "add", "bob", "editor"); !strings.Contains(out, "already has") {
				t.Errorf("role add again: %q", out)
			}
			if r := b.Get("/api/data"); fmt.Sprint(r.JSON["roles"]) != "[editor]" {
				t.Errorf("bob's roles through serve after role add: %s", r.Raw)
			}
			fails("A role is", "role", "add", "bob", "Not A Role")
			fails("want add or remove", "role", "grant", "bob", "editor")
			fails("no such user", "role", "add", "nobody", "editor")
			fails("no such user", "lock", "nobody")

			out := user("", "list", "--search", "BO")
			if !strings.Contains(out, "bob") || strings.Contains(out, "root") || !strings.Contains(out, "editor") {
				t.Errorf("list --search BO: %q", out)
			}
			out = user("", "show", "bob")
			for _, want := range []string{"roles     editor", "locked    no", "Firefox on Linux", "login_succeeded", "role_changed"} {
				if !strings.Contains(out, want) {
					t.Errorf("show bob: missing %q in\n%s", want, out)
				}
			}

			if out := user("", "lock", "bob"); !strings.Contains(out, "locked") {
				t.Errorf("lock: %q", out)
			}
			if b.LoggedIn() {
				t.Error("bob's session survived the lock")
			}
			if r := b.Login("bob", "bob's long password"); r.Status != 403 || r.ErrCode() != "account_locked" {
				t.Errorf("login while locked: %d %s", r.Status, r.Raw)
			}
			user("", "unlock", "bob")
			b.MustLogin("bob", "bob's long password")
			if out := user("", "logout", "bob"); !strings.Contains(out, "ended 1 session") {
				t.Errorf("logout: %q", out)
			}
			if b.LoggedIn() {
				t.Error("bob's session survived logout")
			}
			if out := user("", "role", "remove", "bob", "editor"); !strings.Contains(out, "now does not have") {
				t.Errorf("role remove: %q", out)
			}
			out = user("", "show", "bob")
			for _, want := range []string{"account_locked", "account_unlocked", "sessions_revoked", "login_failed"} {
				if !strings.Contains(out, want) {
					t.Errorf("show bob after the operator's actions: missing %q in\n%s", want, out)
				}
			}
		})
	}
}
