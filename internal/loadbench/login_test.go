package loadbench

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/password"
)

// Login against a real latchkey in token mode: every access token it
// returns authenticates its own user.
func TestLoginTokenMode(t *testing.T) {
	st := memstore.New()
	a, err := latchkey.New(latchkey.Config{
		Secrets:   [][]byte{[]byte("loadbench-test-secret-loadbench-test-secret")},
		TokenMode: latchkey.TokenModeJWT,
		Argon2:    password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:    slog.New(slog.DiscardHandler),
	}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	users := []string{Username(0), Username(1), Username(2), Username(3), Username(4)}
	for _, u := range users {
		if _, err := a.CreateUser(context.Background(), u, "the test password", ""); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	tokens, err := Login(t.Context(), srv.URL, users, "the test password", "access_token_cookie", 2)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if len(tokens) != len(users) {
		t.Fatalf("got %d tokens, want %d", len(tokens), len(users))
	}
	for i, tok := range tokens {
		req, _ := http.NewRequest("GET", srv.URL+"/api/data", nil)
		req.AddCookie(&http.Cookie{Name: "access_token_cookie", Value: string(tok)})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct{ Username string }
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != 200 || body.Username != users[i] {
			t.Errorf("token %d: got %d %q, want 200 %q", i, res.StatusCode, body.Username, users[i])
		}
	}

	if _, err := Login(t.Context(), srv.URL, users[:1], "not the password", "access_token_cookie", 1); err == nil {
		t.Error("Login with a wrong password: got nil error, want one")
	}
	if _, err := Login(t.Context(), srv.URL, users[:1], "the test password", "latchkey_session", 1); err == nil {
		t.Error("Login expecting a cookie the server does not set: got nil error, want one")
	}
}
