package latchkey_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
)

var apiTokenFormat = regexp.MustCompile(`^lk_[A-Za-z0-9_-]{43}$`)

func TestCreateAPIToken(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	alice := e.addUser("alice", "alice's long password")
	now := e.clock.Now()

	plain, tok, err := e.auth.CreateAPIToken(ctx, "ALICE", "  ci  ", 30*24*time.Hour)
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	if !apiTokenFormat.MatchString(plain) {
		t.Errorf("token %q: want lk_ and 43 base64url characters", plain)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(plain, "lk_"))
	if h := sha256.Sum256(raw); err != nil || string(tok.TokenHash) != string(h[:]) {
		t.Errorf("TokenHash %x: want the SHA-256 of the token's 32 bytes, %x (%v)", tok.TokenHash, h, err)
	}
	want := latchkey.APIToken{ID: tok.ID, TokenHash: tok.TokenHash, UserID: alice.ID, Name: "ci", CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	if tok.ID <= 0 || fmt.Sprint(*tok) != fmt.Sprint(want) {
		t.Errorf("CreateAPIToken: got %+v, want %+v", *tok, want)
	}
	found, err := e.store.FindAPIToken(ctx, tok.TokenHash)
	if err != nil || found.ID != tok.ID {
		t.Errorf("FindAPIToken: got (%+v, %v), want token %d", found, err, tok.ID)
	}

	plain2, forever, err := e.auth.CreateAPIToken(ctx, "alice", "phone", 0)
	if err != nil || !forever.ExpiresAt.IsZero() || plain2 == plain {
		t.Errorf("ttl 0: got (%+v, %v), want a new token that never expires", forever, err)
	}
	e.clock.Advance(50 * 365 * 24 * time.Hour)
	if _, err := e.store.FindAPIToken(ctx, tok.TokenHash); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("30-day token, 50 years on: got %v, want ErrNotFound", err)
	}
	if _, err := e.store.FindAPIToken(ctx, forever.TokenHash); err != nil {
		t.Errorf("token without expiry, 50 years on: %v", err)
	}

	for _, tc := range []struct {
		name, user, token string
		ttl               time.Duration
		want              error
	}{
		{"duplicate name", "alice", "ci", time.Hour, latchkey.ErrConflict},
		{"duplicate name after trimming", "Alice", " phone", 0, latchkey.ErrConflict},
		{"unknown user", "nobody", "ci", 0, latchkey.ErrNotFound},
		{"invalid username", "x", "ci", 0, latchkey.ErrNotFound},
	} {
		plain, tok, err := e.auth.CreateAPIToken(ctx, tc.user, tc.token, tc.ttl)
		if !errors.Is(err, tc.want) || plain != "" || tok != nil {
			t.Errorf("%s: got (%q, %+v, %v), want %v", tc.name, plain, tok, err, tc.want)
		}
	}
	_, _, err = e.auth.CreateAPIToken(ctx, "alice", "negative", -time.Second)
	if ie, ok := errors.AsType[*latchkey.InputError](err); !ok || ie.Field != "expires" {
		t.Errorf("negative ttl: got %v, want an InputError for expires", err)
	}
}

func TestAPITokenNames(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "alice's long password")
	for _, tc := range []struct {
		name, want string // want "" = refused
	}{
		{"ci", "ci"},
		{"  deploy bot 🚀 ", "deploy bot 🚀"},
		{strings.Repeat("é", 64), strings.Repeat("é", 64)},
		{"", ""},
		{"   ", ""},
		{strings.Repeat("x", 65), ""},
		{"nul\x00byte", ""},
		{"tab\tinside", ""},
		{"new\nline", ""},
		{"del\x7f", ""},
		{"c1\u0085control", ""},
		{"bidi\u202eoverride", ""},
		{"invalid \xff UTF-8", ""},
	} {
		_, tok, err := e.auth.CreateAPIToken(t.Context(), "alice", tc.name, 0)
		if tc.want != "" {
			if err != nil || tok.Name != tc.want {
				t.Errorf("name %q: got (%+v, %v), want a token named %q", tc.name, tok, err, tc.want)
			}
			continue
		}
		if ie, ok := errors.AsType[*latchkey.InputError](err); !ok || ie.Field != "name" {
			t.Errorf("name %q: got (%+v, %v), want an InputError for name", tc.name, tok, err)
		}
	}
}

// tokenIDs lists tokens through Auth and returns their IDs.
func tokenIDs(t *testing.T, a *latchkey.Auth, username string) []int64 {
	t.Helper()
	list, err := a.ListAPITokens(t.Context(), username)
	if err != nil {
		t.Fatalf("ListAPITokens(%q): %v", username, err)
	}
	ids := []int64{}
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	return ids
}

func TestListAndRevokeAPITokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.addUser("alice", "alice's long password")
	e.addUser("bob", "bob's long password")
	create := func(user, name string, ttl time.Duration) *latchkey.APIToken {
		t.Helper()
		_, tok, err := e.auth.CreateAPIToken(ctx, user, name, ttl)
		if err != nil {
			t.Fatalf("CreateAPIToken(%s, %s): %v", user, name, err)
		}
		return tok
	}
	a1 := create("alice", "ci", time.Hour)
	b1 := create("bob", "ci", 0)
	a2 := create("alice", "laptop", 0)
	e.clock.Advance(2 * time.Hour) // a1 expires, and is still listed

	for _, tc := range []struct {
		user string
		want []int64
	}{
		{"alice", []int64{a1.ID, a2.ID}},
		{"BOB", []int64{b1.ID}},
		{"", []int64{a1.ID, b1.ID, a2.ID}},
	} {
		if got := tokenIDs(t, e.auth, tc.user); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ListAPITokens(%q): got IDs %v, want %v", tc.user, got, tc.want)
		}
	}
	if list, err := e.auth.ListAPITokens(ctx, "nobody"); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("ListAPITokens(unknown user): got (%v, %v), want ErrNotFound", list, err)
	}

	if err := e.auth.RevokeAPIToken(ctx, a2.ID); err != nil {
		t.Fatalf("RevokeAPIToken: %v", err)
	}
	if _, err := e.store.FindAPIToken(ctx, a2.TokenHash); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("revoked token: FindAPIToken got %v, want ErrNotFound", err)
	}
	if err := e.auth.RevokeAPIToken(ctx, a2.ID); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("RevokeAPIToken twice: got %v, want ErrNotFound", err)
	}
	if err := e.auth.RevokeAPITokenByName(ctx, "Bob", " ci "); err != nil {
		t.Fatalf("RevokeAPITokenByName: %v", err)
	}
	for _, tc := range []struct{ user, name string }{{"bob", "ci"}, {"alice", "laptop"}, {"nobody", "ci"}, {"alice", "nope"}} {
		if err := e.auth.RevokeAPITokenByName(ctx, tc.user, tc.name); !errors.Is(err, latchkey.ErrNotFound) {
			t.Errorf("RevokeAPITokenByName(%q, %q): got %v, want ErrNotFound", tc.user, tc.name, err)
		}
	}
	if got := tokenIDs(t, e.auth, ""); fmt.Sprint(got) != fmt.Sprint([]int64{a1.ID}) {
		t.Errorf("after revoking: got IDs %v, want only %d", got, a1.ID)
	}
	// A revoked name can be used again.
	create("bob", "ci", 0)
}

func TestDeleteUserDeletesAPITokens(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.addUser("alice", "alice's long password")
	e.addUser("bob", "bob's long password")
	_, a, err := e.auth.CreateAPIToken(ctx, "alice", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := e.auth.CreateAPIToken(ctx, "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.auth.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := e.store.FindAPIToken(ctx, a.TokenHash); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("token of the deleted user: FindAPIToken got %v, want ErrNotFound", err)
	}
	if got := tokenIDs(t, e.auth, ""); fmt.Sprint(got) != fmt.Sprint([]int64{b.ID}) {
		t.Errorf("after DeleteUser: got IDs %v, want only bob's %d", got, b.ID)
	}
	// Re-registering the name does not bring the tokens back.
	e.addUser("alice", "alice's long password")
	if got := tokenIDs(t, e.auth, "alice"); len(got) != 0 {
		t.Errorf("new alice: got token IDs %v, want none", got)
	}
}

// usersOnly hides every method of a store but UserStore's (and the second
// factors every user store must keep).
type usersOnly struct {
	latchkey.UserStore
	latchkey.MFAStore
}

func TestAPITokensUnsupported(t *testing.T) {
	st := memstore.New()
	a, err := latchkey.New(latchkey.Config{Secrets: [][]byte{testSecret}, Argon2: cheapArgon2, Logger: slog.New(slog.DiscardHandler)}, usersOnly{st, st}, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := a.CreateUser(ctx, "alice", "alice's long password", ""); err != nil {
		t.Fatal(err)
	}
	_, _, err = a.CreateAPIToken(ctx, "alice", "ci", 0)
	checkUnsupported(t, "CreateAPIToken", err)
	_, err = a.ListAPITokens(ctx, "")
	checkUnsupported(t, "ListAPITokens", err)
	checkUnsupported(t, "RevokeAPIToken", a.RevokeAPIToken(ctx, 1))
	checkUnsupported(t, "RevokeAPITokenByName", a.RevokeAPITokenByName(ctx, "alice", "ci"))
}

func checkUnsupported(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, latchkey.ErrAPITokensUnsupported) {
		t.Errorf("%s: got %v, want ErrAPITokensUnsupported", what, err)
	}
}
