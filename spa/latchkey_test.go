package spa_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/spa"
	"github.com/latchkey/latchkey/web"
)

var metaToken = regexp.MustCompile(`<meta name="csrf-token" content="([^"]*)">`)

// TestMetaTokenWorksWithLatchkey serves the embedded SPA with the tokens of
// a real Auth, as embedded mode does, and uses the token from the page, and
// only that, to log in and out.
func TestMetaTokenWorksWithLatchkey(t *testing.T) {
	st := memstore.New()
	auth, err := latchkey.New(latchkey.Config{
		Secrets: [][]byte{[]byte("test-secret-test-secret-test-secret-0123")},
		Argon2:  password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger:  slog.New(slog.DiscardHandler),
	}, st, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.CreateUser(context.Background(), "alice", "correct horse battery", ""); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", auth.Handler())
	mux.Handle("/", spa.Handler(web.Files(), spa.Options{CSRFToken: auth.CSRFToken}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}

	pageToken := func(path string) string {
		t.Helper()
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		m := metaToken.FindSubmatch(body)
		if res.StatusCode != 200 || m == nil || len(m[1]) == 0 {
			t.Fatalf("GET %s = %d, no token in %q", path, res.StatusCode, body)
		}
		return string(m[1])
	}
	post := func(path, tok, body string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRFToken", tok)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	tok := pageToken("/login")
	if got := post("/api/login", tok, `{"username":"alice","password":"correct horse battery"}`); got != 200 {
		t.Fatalf("login with the page's token = %d, want 200", got)
	}
	// The pre-login token carries no MAC of the new session; a reload gets
	// a token for it.
	if got := post("/api/logout", tok, ""); got != 403 {
		t.Errorf("logout with the pre-login token = %d, want 403", got)
	}
	if got := post("/api/logout", pageToken("/user"), ""); got != 200 {
		t.Errorf("logout with the reloaded page's token = %d, want 200", got)
	}
}

// TestCSPMatchesLatchkey: the binary serves the SPA with
// latchkey.DefaultContentSecurityPolicy, spa.Handler alone with DefaultCSP;
// one SPA build must work under both (the e2e tests found a data: favicon
// blocked by the first only).
func TestCSPMatchesLatchkey(t *testing.T) {
	if latchkey.DefaultContentSecurityPolicy != spa.DefaultCSP {
		t.Errorf("latchkey.DefaultContentSecurityPolicy = %q\nspa.DefaultCSP = %q\nwant the same policy", latchkey.DefaultContentSecurityPolicy, spa.DefaultCSP)
	}
}
