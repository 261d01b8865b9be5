package latchkey_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/apitest"
)

const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	safariIOS    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	chromeWin    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)

// loggedIn returns a browser with the User-Agent ua logged in as name.
func (e *env) loggedIn(name, pw, ua string) *apitest.Client {
	e.t.Helper()
	b := e.browser()
	b.UserAgent = ua
	b.MustLogin(name, pw)
	return b
}

type sessionItem struct {
	ID, Device, IP                 string
	Current, Remember              bool
	CreatedAt, LastSeenAt, Expires time.Time
}

// listSessions returns what GET /api/sessions says to b.
func listSessions(t *testing.T, b *apitest.Client) []sessionItem {
	t.Helper()
	r := b.Get("/api/sessions")
	if r.Status != 200 {
		t.Fatalf("GET /api/sessions = %d %s", r.Status, r.Raw)
	}
	raw, _ := r.JSON["sessions"].([]any)
	var out []sessionItem
	for _, x := range raw {
		m := x.(map[string]any)
		s := sessionItem{ID: m["id"].(string), Device: m["device"].(string), IP: m["ip"].(string),
			Current: m["current"].(bool), Remember: m["remember"].(bool)}
		for _, f := range []struct {
			key string
			dst *time.Time
		}{{"createdAt", &s.CreatedAt}, {"lastSeenAt", &s.LastSeenAt}, {"expiresAt", &s.Expires}} {
			v, err := time.Parse(time.RFC3339Nano, m[f.key].(string))
			if err != nil {
				t.Fatalf("%s: %v", f.key, err)
			}
			*f.dst = v
		}
		out = append(out, s)
	}
	return out
}

func TestListSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	a1 := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	e.clock.Advance(time.Minute)
	a2 := e.loggedIn("alice", "correct horse battery", safariIOS)
	e.loggedIn("bob", "correct horse battery", chromeWin)

	got := listSessions(t, a1)
	if len(got) != 2 {
		t.Fatalf("alice's sessions: got %d %+v, want 2", len(got), got)
	}
	// Newest first: a2's, then a1's, which is the current one for a1.
	if got[0].Device != "Safari on iOS" || got[1].Device != "Firefox on Linux" {
		t.Errorf("devices: got %q, %q; want Safari on iOS, Firefox on Linux", got[0].Device, got[1].Device)
	}
	if got[0].Current || !got[1].Current {
		t.Errorf("current: got %v, %v; want false, true", got[0].Current, got[1].Current)
	}
	for _, s := range got {
		if s.IP != "127.0.0.1" {
			t.Errorf("ip: got %q, want 127.0.0.1", s.IP)
		}
		if !s.Expires.After(s.CreatedAt) || s.LastSeenAt.Before(s.CreatedAt) {
			t.Errorf("times out of order: %+v", s)
		}
		// Opaque: neither the cookie's token nor any form of its hash.
		for _, c := range a1.Cookies("/api/") {
			if strings.Contains(c.Value, s.ID) || strings.Contains(s.ID, c.Value) {
				t.Errorf("session id %q shares the cookie %s's value", s.ID, c.Name)
			}
		}
		if len(s.ID) != 22 {
			t.Errorf("id %q: want 22 base64url characters", s.ID)
		}
		if raw, err := base64.RawURLEncoding.DecodeString(s.ID); err != nil || len(raw) != 16 {
			t.Errorf("id %q: not 16 bytes of base64url", s.ID)
		}
	}
	if !got[0].CreatedAt.Equal(e.clock.Now()) {
		t.Errorf("createdAt: got %v, want %v", got[0].CreatedAt, e.clock.Now())
	}
	// The other browser sees the same sessions, its own as current.
	other := listSessions(t, a2)
	if len(other) != 2 || !other[0].Current || other[1].Current || other[0].ID != got[0].ID {
		t.Errorf("from a2: got %+v", other)
	}
	if r := e.browser().Get("/api/sessions"); r.Status != 401 || r.ErrCode() != "unauthorized" {
		t.Errorf("anonymous: got %d %s, want 401 unauthorized", r.Status, r.Raw)
	}
}

func TestRevokeSession(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	a1 := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	e.clock.Advance(time.Second) // so a2's is the newest
	a2 := e.loggedIn("alice", "correct horse battery", safariIOS)
	bob := e.loggedIn("bob", "correct horse battery", chromeWin)
	a1.CSRF()
	bobID := listSessions(t, bob)[0].ID
	a2ID := listSessions(t, a1)[0].ID

	// Another user's session id, and ids that are no session's, are not found.
	for _, id := range []string{bobID, "AAAAAAAAAAAAAAAAAAAAAA", "x", strings.Repeat("A", 5000), "..%2F..%2Fdata", hex.EncodeToString(make([]byte, 32))} {
		r := a1.Send("DELETE", "/api/sessions/"+id, nil)
		if r.Status != 404 || r.ErrCode() != "not_found" {
			t.Errorf("DELETE %.40s: got %d %s, want 404 not_found", id, r.Status, r.Raw)
		}
	}
	if !bob.LoggedIn() {
		t.Fatal("bob was logged out by alice's attempt")
	}

	// Without the CSRF token, or from another origin: refused.
	if r := a1.Do("DELETE", "/api/sessions/"+a2ID, nil); r.Status != 403 || r.ErrCode() != "csrf_failed" {
		t.Errorf("DELETE without a token: got %d %s, want 403 csrf_failed", r.Status, r.Raw)
	}
	if r := a1.Send("DELETE", "/api/sessions/"+a2ID, nil, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Errorf("DELETE cross-site: got %d %s, want 403", r.Status, r.Raw)
	}
	if !a2.LoggedIn() {
		t.Fatal("a refused DELETE ended the session")
	}

	r := a1.Send("DELETE", "/api/sessions/"+a2ID, nil)
	if r.Status != 200 || r.JSON["revoked"] != true || r.JSON["current"] != false {
		t.Fatalf("DELETE a2's session: got %d %s", r.Status, r.Raw)
	}
	if r := a2.Get("/api/data"); r.Status != 401 {
		t.Errorf("a2 after its session was revoked: got %d, want 401", r.Status)
	}
	if !a1.LoggedIn() || !bob.LoggedIn() {
		t.Error("revoking one session ended another")
	}
	if r := a1.Send("DELETE", "/api/sessions/"+a2ID, nil); r.Status != 404 {
		t.Errorf("DELETE again: got %d, want 404", r.Status)
	}

	// Its own session: a logout, cookie and all.
	own := listSessions(t, a1)[0].ID
	r = a1.Send("DELETE", "/api/sessions/"+own, nil)
	if r.Status != 200 || r.JSON["current"] != true {
		t.Fatalf("DELETE own session: got %d %s", r.Status, r.Raw)
	}
	if c := setCookieHeader(r.Header, "latchkey_session"); c == nil || c.MaxAge >= 0 {
		t.Errorf("own session revoked: session cookie not cleared: %v", r.Header.Values("Set-Cookie"))
	}
	if a1.LoggedIn() {
		t.Error("still logged in after revoking its own session")
	}
	// And the browser can log in again with the token it was handed.
	if r := a1.Login("alice", "correct horse battery"); r.Status != 200 {
		t.Errorf("login after revoking own session: %d %s", r.Status, r.Raw)
	}
}

func TestRevokeOtherSessions(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	var others []*apitest.Client
	for range 3 {
		others = append(others, e.loggedIn("alice", "correct horse battery", chromeWin))
	}
	me := e.loggedIn("alice", "correct horse battery", firefoxLinux)
	bob := e.loggedIn("bob", "correct horse battery", chromeWin)
	if r := me.Post("/api/sessions/revoke-others", nil, "X-CSRFToken", "wrong"); r.Status != 403 {
		t.Errorf("without a good token: got %d, want 403", r.Status)
	}
	r := me.Post("/api/sessions/revoke-others", nil)
	if r.Status != 200 || r.JSON["revoked"] != float64(3) {
		t.Fatalf("revoke-others: got %d %s, want 200 revoked 3", r.Status, r.Raw)
	}
	for i, b := range others {
		if b.LoggedIn() {
			t.Errorf("other session %d still logged in", i)
		}
	}
	if !me.LoggedIn() || !bob.LoggedIn() {
		t.Error("revoke-others ended the current session or another user's")
	}
	if got := listSessions(t, me); len(got) != 1 || !got[0].Current {
		t.Errorf("after revoke-others: %+v, want only the current one", got)
	}
}

func TestSessionsTokenMode(t *testing.T) {
	e, a1 := newJWTEnv(t)
	e.clock.Advance(time.Second)
	a2 := e.loggedIn("alice", "correct horse battery", safariIOS)
	got := listSessions(t, a1)
	if len(got) != 2 || got[0].Current || !got[1].Current {
		t.Fatalf("token families: %+v", got)
	}
	_, _, csrf := tokens(t, a1)
	_, refresh2, csrf2 := tokens(t, a2)
	r := a1.Send("DELETE", "/api/sessions/"+got[0].ID, nil, "X-CSRF-TOKEN", csrf)
	if r.Status != 200 {
		t.Fatalf("DELETE the other family: %d %s", r.Status, r.Raw)
	}
	// Its access token is refused at once, though it has not expired.
	if r := a2.Get("/api/data"); r.Status != 401 {
		t.Errorf("a2's access token after revocation: %d, want 401", r.Status)
	}
	if r := e.raw("POST", "/api/auth/refresh", map[string]string{"refresh_token_cookie": refresh2}, "X-CSRF-TOKEN", csrf2); r.Status != 401 {
		t.Errorf("a2's refresh after revocation: %d, want 401", r.Status)
	}
	if !a1.LoggedIn() {
		t.Error("a1 was logged out")
	}
}

type eventItem struct {
	ID, Type, IP, Device, Detail string
	ActorID                      float64
}

func activity(t *testing.T, b *apitest.Client, query string) ([]eventItem, string) {
	t.Helper()
	r := b.Get("/api/account/activity" + query)
	if r.Status != 200 {
		t.Fatalf("GET activity%s = %d %s", query, r.Status, r.Raw)
	}
	var out []eventItem
	for _, x := range r.JSON["events"].([]any) {
		m := x.(map[string]any)
		ev := eventItem{ID: m["id"].(string), Type: m["type"].(string), IP: m["ip"].(string), Device: m["device"].(string)}
		ev.Detail, _ = m["detail"].(string)
		ev.ActorID, _ = m["actorId"].(float64)
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("event time: %v", err)
		}
		out = append(out, ev)
	}
	next, _ := r.JSON["nextCursor"].(string)
	return out, next
}

func types(evs []eventItem) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, " ")
}

func TestActivity(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	b := e.browser()
	b.UserAgent = firefoxLinux
	if r := b.Login("alice", "wrong password here"); r.Status != 401 {
		t.Fatalf("wrong login: %d", r.Status)
	}
	b.MustLogin("alice", "correct horse battery")
	b.Post("/api/logout", nil)
	b.MustLogin("alice", "correct horse battery")
	r := b.Post("/api/password/change", map[string]any{"currentPassword": "correct horse battery", "newPassword": "another fine password"})
	if r.Status != 200 {
		t.Fatalf("password change: %d %s", r.Status, r.Raw)
	}
	bob := e.loggedIn("bob", "correct horse battery", chromeWin)

	evs, next := activity(t, b, "")
	if want := "password_changed login_succeeded logout login_succeeded login_failed"; types(evs) != want {
		t.Errorf("alice's events: got %q, want %q", types(evs), want)
	}
	if next != "" {
		t.Errorf("nextCursor %q on the only page", next)
	}
	if evs[4].Detail != "wrong_password" || evs[4].Device != "Firefox on Linux" || evs[4].IP != "127.0.0.1" {
		t.Errorf("failed login event: %+v", evs[4])
	}
	r = b.Get("/api/account/activity")
	for _, secret := range []string{"correct horse battery", "another fine password", "wrong password here"} {
		if strings.Contains(r.Raw, secret) {
			t.Errorf("activity holds a password: %s", r.Raw)
		}
	}
	if got, _ := activity(t, bob, ""); types(got) != "login_succeeded" {
		t.Errorf("bob sees %q, want only his own login", types(got))
	}

	// Pages of two, by cursor.
	var all []eventItem
	cursor := ""
	for range 5 {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		page, next := activity(t, b, q)
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if types(all) != types(evs) {
		t.Errorf("paged: got %q, want %q", types(all), types(evs))
	}
	for _, q := range []string{"?cursor=abc", "?cursor=-1", "?limit=0", "?limit=101", "?limit=x", "?cursor=99999999999999999999"} {
		r := b.Get("/api/account/activity" + q)
		if r.Status != 400 || r.ErrCode() != "invalid_input" {
			t.Errorf("activity%s: got %d %s, want 400 invalid_input", q, r.Status, r.Raw)
		}
	}
	if r := e.browser().Get("/api/account/activity"); r.Status != 401 {
		t.Errorf("anonymous activity: %d, want 401", r.Status)
	}
}

func TestActivityUnknownUserLoginNotShown(t *testing.T) {
	e := newEnv(t)
	e.addUser("alice", "correct horse battery")
	b := e.browser()
	for i := range 3 {
		b.Login(fmt.Sprintf("nobody%d", i), "whatever password")
	}
	b.MustLogin("alice", "correct horse battery")
	if evs, _ := activity(t, b, ""); types(evs) != "login_succeeded" {
		t.Errorf("alice sees %q: other names' failures leaked into her activity", types(evs))
	}
}
