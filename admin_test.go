package latchkey_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// resetLinkToken checks a link from ResetLink and returns its token.
func resetLinkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, appURL+"/reset-password?token=") || u.Query().Get("token") == "" {
		t.Fatalf("link %q, want %s/reset-password?token=…", link, appURL)
	}
	return u.Query().Get("token")
}

func TestResetLink(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *latchkey.Config) { c.AppURL = appURL })
	e.addUser("alice", "alice's old password") // no address: operators without mail
	before := e.browser()
	before.MustLogin("alice", "alice's old password")

	first, err := e.auth.ResetLink(ctx, "ALICE")
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.auth.ResetLink(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.ResetPassword(ctx, resetLinkToken(t, first), "alice's new password"); !errors.Is(err, latchkey.ErrInvalidToken) {
		t.Errorf("the replaced link: %v, want ErrInvalidToken", err)
	}
	tok := resetLinkToken(t, link)
	if _, err := e.auth.ResetPassword(ctx, tok, "alice's new password"); err != nil {
		t.Fatalf("reset with the link: %v", err)
	}
	if _, err := e.auth.ResetPassword(ctx, tok, "alice's newer password"); !errors.Is(err, latchkey.ErrInvalidToken) {
		t.Errorf("the link again: %v, want ErrInvalidToken", err)
	}
	if before.LoggedIn() {
		t.Error("a session from before the reset is logged in")
	}

	// It lives Config.ResetTokenTTL (1h), and dies with a password change.
	link, _ = e.auth.ResetLink(ctx, "alice")
	e.clock.Advance(time.Hour)
	if _, err := e.auth.ResetPassword(ctx, resetLinkToken(t, link), "alice's newer password"); !errors.Is(err, latchkey.ErrInvalidToken) {
		t.Errorf("a link an hour old: %v, want ErrInvalidToken", err)
	}
	link, _ = e.auth.ResetLink(ctx, "alice")
	if err := e.auth.SetPassword(ctx, "alice", "alice's newer password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.ResetPassword(ctx, resetLinkToken(t, link), "alice's newest password"); !errors.Is(err, latchkey.ErrInvalidToken) {
		t.Errorf("a link from before a password change: %v, want ErrInvalidToken", err)
	}

	if _, err := e.auth.ResetLink(ctx, "nobody"); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("no such user: %v, want ErrNotFound", err)
	}
	noApp := newEnv(t) // no AppURL, nor a PublicURL it could default to
	noApp.addUser("bob", "bob's long password")
	if _, err := noApp.auth.ResetLink(ctx, "bob"); !errors.Is(err, latchkey.ErrNoAppURL) {
		t.Errorf("without an app URL: %v, want ErrNoAppURL", err)
	}
}

func TestMarkEmailVerified(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	for _, u := range []struct{ name, addr string }{{"alice", "shared@example.test"}, {"bob", "Shared@example.test"}, {"carol", ""}} {
		if _, err := e.auth.CreateUser(ctx, u.name, u.name+"'s long password", u.addr); err != nil {
			t.Fatal(err)
		}
	}
	for i, tc := range []struct {
		name string
		want error
	}{
		{"alice", nil},
		{"alice", nil}, // verified already: nothing to do
		{"bob", latchkey.ErrEmailTaken},
		{"carol", latchkey.ErrNoEmail},
		{"nobody", latchkey.ErrNotFound},
	} {
		u, err := e.auth.MarkEmailVerified(ctx, tc.name)
		if !errors.Is(err, tc.want) || err == nil && !u.EmailVerified {
			t.Errorf("#%d %s: %v, %+v; want %v", i+1, tc.name, err, u, tc.want)
		}
	}
	for name, want := range map[string]bool{"alice": true, "bob": false} {
		if u, err := e.auth.LookupUser(ctx, name); err != nil || u.EmailVerified != want {
			t.Errorf("%s after: %v, verified %v; want %v", name, err, u.EmailVerified, want)
		}
	}
}
