package latchkey_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/apitest"
)

// makeAdmin gives the user the admin role.
func (e *env) makeAdmin(u *latchkey.User) {
	e.t.Helper()
	if _, err := e.auth.ChangeRole(context.Background(), u.ID, latchkey.RoleAdmin, true, 0); err != nil {
		e.t.Fatal(err)
	}
}

// adminRoutes are every admin route, for a target user id.
func adminRoutes(id int64) []struct{ method, path string } {
	p := fmt.Sprintf("/api/admin/users/%d", id)
	return []struct{ method, path string }{
		{"GET", "/api/admin/users"}, {"GET", "/api/admin/users?q=a"}, {"GET", p}, {"DELETE", p},
		{"POST", p + "/lock"}, {"POST", p + "/unlock"}, {"POST", p + "/logout"}, {"POST", p + "/reset"},
		{"PUT", p + "/roles"},
	}
}

func sendAdmin(b *apitest.Client, method, path string) apitest.Resp {
	if method == "GET" {
		return b.Get(path)
	}
	var body any
	if strings.HasSuffix(path, "/roles") {
		body = map[string]any{"roles": []string{"admin"}}
	}
	return b.Send(method, path, body)
}

func TestAdminRoutesRefuseOthers(t *testing.T) {
	e := newMailEnv(t)
	admin := e.addUser("root", "correct horse battery")
	e.makeAdmin(admin)
	victim := e.addMailUser("victim", "correct horse battery", "victim@example.test", true)
	e.addUser("mallory", "correct horse battery")
	mb := e.loggedIn("mallory", "correct horse battery", chromeWin)
	mb.CSRF()
	anon := e.browser()
	anon.CSRF()
	stale := e.loggedIn("root", "correct horse battery", firefoxLinux)
	stale.CSRF()
	victimBrowser := e.loggedIn("victim", "correct horse battery", safariIOS)
	e.clock.Advance(11 * time.Minute) // past FreshLoginWindow for stale
	// A client's own role header, through any of its spellings, changes nothing.
	spoof := []string{"X-Latchkey-Roles", "admin", "X-Latchkey-Role", "admin", "X_Latchkey_Roles", "admin"}

	for _, rt := range adminRoutes(victim.ID) {
		if r := sendAdmin(anon, rt.method, rt.path); r.Status != 401 || r.ErrCode() != "unauthorized" {
			t.Errorf("anonymous %s %s: got %d %s, want 401 unauthorized", rt.method, rt.path, r.Status, r.Raw)
		}
		r := sendAdmin(mb, rt.method, rt.path)
		if r.Status != 403 || r.ErrCode() != "forbidden" {
			t.Errorf("non-admin %s %s: got %d %s, want 403 forbidden", rt.method, rt.path, r.Status, r.Raw)
		}
		if rt.method == "GET" {
			if r := mb.Get(rt.path, spoof...); r.Status != 403 {
				t.Errorf("non-admin with role headers %s %s: got %d, want 403", rt.method, rt.path, r.Status)
			}
		}
		if r := sendAdmin(stale, rt.method, rt.path); r.Status != 403 || r.ErrCode() != "reauth_required" {
			t.Errorf("stale admin %s %s: got %d %s, want 403 reauth_required", rt.method, rt.path, r.Status, r.Raw)
		}
	}
	// Nothing happened to the victim.
	u, err := e.auth.LookupUser(context.Background(), "victim")
	if err != nil || u.Locked || len(u.Roles) != 0 {
		t.Fatalf("victim after refused admin calls: %+v, %v", u, err)
	}
	if !victimBrowser.LoggedIn() {
		t.Error("victim logged out by refused admin calls")
	}
	// Logging in again makes the admin fresh.
	stale.MustLogin("root", "correct horse battery")
	if r := stale.Get("/api/admin/users"); r.Status != 200 {
		t.Errorf("admin after logging in again: %d %s", r.Status, r.Raw)
	}
}

// freshAdmin returns a browser of a fresh admin login, and the admin.
func (e *env) freshAdmin() (*apitest.Client, *latchkey.User) {
	e.t.Helper()
	u := e.addUser("root", "correct horse battery")
	e.makeAdmin(u)
	b := e.loggedIn("root", "correct horse battery", firefoxLinux)
	b.CSRF()
	return b, u
}

func TestAdminUsersListAndShow(t *testing.T) {
	e := newEnv(t)
	ab, admin := e.freshAdmin()
	var ids []int64
	for i := range 7 {
		ids = append(ids, e.addUser(fmt.Sprintf("user%d", i), "correct horse battery").ID)
	}
	e.loggedIn("user3", "correct horse battery", safariIOS)

	// All users, in pages of 3, in id order.
	var got []int64
	cursor := ""
	for range 5 {
		q := "/api/admin/users?limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := ab.Get(q)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", q, r.Status, r.Raw)
		}
		for _, u := range r.JSON["users"].([]any) {
			m := u.(map[string]any)
			got = append(got, int64(m["id"].(float64)))
			if _, ok := m["locked"].(bool); !ok {
				t.Errorf("user without locked: %v", m)
			}
			if _, ok := m["passwordHash"]; ok || strings.Contains(r.Raw, "argon2") {
				t.Fatalf("admin listing leaks a password hash: %s", r.Raw)
			}
		}
		cursor, _ = r.JSON["nextCursor"].(string)
		if cursor == "" {
			break
		}
	}
	if want := fmt.Sprint(append([]int64{admin.ID}, ids...)); fmt.Sprint(got) != want {
		t.Errorf("paged users: got %v, want %v", got, want)
	}
	r := ab.Get("/api/admin/users?q=USER3")
	if us := r.JSON["users"].([]any); r.Status != 200 || len(us) != 1 || us[0].(map[string]any)["username"] != "user3" {
		t.Errorf("search USER3: %d %s", r.Status, r.Raw)
	}
	r = ab.Get(fmt.Sprintf("/api/admin/users/%d", ids[3]))
	if r.Status != 200 {
		t.Fatalf("show user3: %d %s", r.Status, r.Raw)
	}
	sess := r.JSON["sessions"].([]any)
	if len(sess) != 1 || sess[0].(map[string]any)["device"] != "Safari on iOS" || sess[0].(map[string]any)["current"] != false {
		t.Errorf("user3's sessions: %s", r.Raw)
	}
	if evs := r.JSON["events"].([]any); len(evs) != 1 || evs[0].(map[string]any)["type"] != "login_succeeded" {
		t.Errorf("user3's events: %s", r.Raw)
	}
	for path, want := range map[string]int{
		"/api/admin/users/999999": 404, "/api/admin/users/0": 400, "/api/admin/users/-1": 400,
		"/api/admin/users/abc": 400, "/api/admin/users/99999999999999999999": 400,
		"/api/admin/users?cursor=x": 400, "/api/admin/users?limit=1000": 400,
	} {
		if r := ab.Get(path); r.Status != want {
			t.Errorf("GET %s: got %d %s, want %d", path, r.Status, r.Raw, want)
		}
	}
}

func TestAdminLockUnlock(t *testing.T) {
	e := newEnv(t)
	ab, admin := e.freshAdmin()
	bob := e.addUser("bob", "correct horse battery")
	b1 := e.loggedIn("bob", "correct horse battery", chromeWin)
	plain, _, err := e.auth.CreateAPIToken(context.Background(), "bob", "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func() int {
		c := e.browser()
		c.Header = http.Header{"Authorization": {"Bearer " + plain}}
		return c.Get("/api/data").Status
	}
	if bearer() != 200 {
		t.Fatal("API token does not work before the lock")
	}
	path := fmt.Sprintf("/api/admin/users/%d", bob.ID)
	r := ab.Post(path+"/lock", nil)
	if r.Status != 200 || r.JSON["user"].(map[string]any)["locked"] != true {
		t.Fatalf("lock: %d %s", r.Status, r.Raw)
	}
	if r := b1.Get("/api/data"); r.Status != 401 {
		t.Errorf("locked user's session: %d, want 401", r.Status)
	}
	if got := bearer(); got != 401 {
		t.Errorf("locked user's API token: %d, want 401", got)
	}
	b2 := e.browser()
	if r := b2.Login("bob", "correct horse battery"); r.Status != 403 || r.ErrCode() != "account_locked" {
		t.Errorf("locked login, right password: %d %s, want 403 account_locked", r.Status, r.Raw)
	}
	// A wrong password learns nothing about the lock.
	if r := b2.Login("bob", "wrong password!"); r.Status != 401 || r.ErrCode() != "invalid_credentials" {
		t.Errorf("locked login, wrong password: %d %s, want 401 invalid_credentials", r.Status, r.Raw)
	}
	if r := ab.Post(path+"/unlock", nil); r.Status != 200 || r.JSON["user"].(map[string]any)["locked"] != false {
		t.Fatalf("unlock: %d %s", r.Status, r.Raw)
	}
	if r := b1.Get("/api/data"); r.Status != 401 {
		t.Errorf("the session ended by the lock came back: %d", r.Status)
	}
	if bearer() != 200 {
		t.Error("API token refused after unlock")
	}
	b2.MustLogin("bob", "correct horse battery")

	// The admin cannot lock or delete themselves.
	self := fmt.Sprintf("/api/admin/users/%d", admin.ID)
	for _, r := range []apitest.Resp{ab.Post(self+"/lock", nil), ab.Send("DELETE", self, nil),
		ab.Send("PUT", self+"/roles", map[string]any{"roles": []string{"editor"}})} {
		if r.Status != 409 || r.ErrCode() != "self_action" {
			t.Errorf("admin on self: %d %s, want 409 self_action", r.Status, r.Raw)
		}
	}
	// Events name the admin.
	evs, _ := activity(t, b2, "")
	var saw []string
	for _, ev := range evs {
		if ev.Type == "account_locked" || ev.Type == "account_unlocked" {
			saw = append(saw, ev.Type)
			if int64(ev.ActorID) != admin.ID {
				t.Errorf("%s event actor %v, want the admin %d", ev.Type, ev.ActorID, admin.ID)
			}
		}
	}
	if strings.Join(saw, " ") != "account_unlocked account_locked" {
		t.Errorf("lock events: %v (all: %q)", saw, types(evs))
	}
}

func TestAdminLogoutRolesDelete(t *testing.T) {
	e := newEnv(t)
	ab, _ := e.freshAdmin()
	bob := e.addUser("bob", "correct horse battery")
	b1 := e.loggedIn("bob", "correct horse battery", chromeWin)
	b2 := e.loggedIn("bob", "correct horse battery", safariIOS)
	path := fmt.Sprintf("/api/admin/users/%d", bob.ID)

	if r := ab.Post(path+"/logout", nil); r.Status != 200 || r.JSON["revoked"] != float64(2) {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	if b1.LoggedIn() || b2.LoggedIn() {
		t.Error("bob still logged in after the admin logged him out")
	}
	b1.MustLogin("bob", "correct horse battery")

	for _, bad := range []any{
		map[string]any{"roles": []string{"Admin"}}, map[string]any{"roles": []string{"a b"}},
		map[string]any{"roles": []string{""}}, map[string]any{"roles": "admin"}, map[string]any{"roles": []any{1}},
		map[string]any{}, map[string]any{"roles": []string{strings.Repeat("a", 65)}},
	} {
		if r := ab.Send("PUT", path+"/roles", bad); r.Status != 400 || r.ErrCode() != "invalid_input" {
			t.Errorf("PUT roles %v: %d %s, want 400 invalid_input", bad, r.Status, r.Raw)
		}
	}
	many := make([]string, 33)
	for i := range many {
		many[i] = fmt.Sprintf("r%d", i)
	}
	if r := ab.Send("PUT", path+"/roles", map[string]any{"roles": many}); r.Status != 400 {
		t.Errorf("33 roles: %d, want 400", r.Status)
	}
	r := ab.Send("PUT", path+"/roles", map[string]any{"roles": []string{"editor", "billing:read", "editor"}})
	if r.Status != 200 || fmt.Sprint(r.JSON["user"].(map[string]any)["roles"]) != "[billing:read editor]" {
		t.Fatalf("PUT roles: %d %s", r.Status, r.Raw)
	}
	// Roles take effect on the next request of a live session.
	if r := b1.Get("/api/data"); fmt.Sprint(r.JSON["roles"]) != "[billing:read editor]" {
		t.Errorf("/api/data roles: %s", r.Raw)
	}

	if r := ab.Send("DELETE", path, nil); r.Status != 200 || r.JSON["deleted"] != true {
		t.Fatalf("delete: %d %s", r.Status, r.Raw)
	}
	if b1.LoggedIn() {
		t.Error("deleted user still logged in")
	}
	if r := ab.Get(path); r.Status != 404 {
		t.Errorf("show deleted user: %d, want 404", r.Status)
	}
	if r := ab.Send("DELETE", path, nil); r.Status != 404 {
		t.Errorf("delete again: %d, want 404", r.Status)
	}
	for _, p := range []string{"/lock", "/unlock", "/logout", "/reset"} {
		if r := ab.Post(path+p, nil); r.Status != 404 {
			t.Errorf("POST %s on a deleted user: %d %s, want 404", p, r.Status, r.Raw)
		}
	}
}

func TestAdminReset(t *testing.T) {
	e := newMailEnv(t)
	ab, _ := e.freshAdmin()
	bob := e.addMailUser("bob", "correct horse battery", "bob@example.test", true)
	noMail := e.addUser("carol", "correct horse battery")
	r := ab.Post(fmt.Sprintf("/api/admin/users/%d/reset", bob.ID), nil)
	if r.Status != 202 || r.JSON["resetSent"] != true {
		t.Fatalf("reset: %d %s", r.Status, r.Raw)
	}
	tok := e.linkToken(t, "bob@example.test", "/reset-password")
	if _, err := e.auth.ResetPassword(context.Background(), tok, "a brand new password"); err != nil {
		t.Errorf("the admin's reset link: %v", err)
	}
	if r := ab.Post(fmt.Sprintf("/api/admin/users/%d/reset", noMail.ID), nil); r.Status != 409 || r.ErrCode() != "no_email" {
		t.Errorf("reset without an address: %d %s, want 409 no_email", r.Status, r.Raw)
	}
}

func TestRequireRole(t *testing.T) {
	e := newEnv(t)
	ed := e.addUser("eddie", "correct horse battery")
	e.addUser("bob", "correct horse battery")
	if _, err := e.auth.ChangeRole(context.Background(), ed.ID, "editor", true, 0); err != nil {
		t.Fatal(err)
	}
	h := e.auth.RequireRole("editor")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := latchkey.UserFromContext(r.Context())
		fmt.Fprint(w, "hello editor "+u.Username)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	get := func(b *apitest.Client) apitest.Resp {
		r := b.Do("GET", srv.URL+"/edit", nil)
		return r
	}
	anon := apitest.New(t, "")
	if r := get(anon); r.Status != 401 {
		t.Errorf("anonymous: %d, want 401", r.Status)
	}
	bob := e.loggedIn("bob", "correct horse battery", chromeWin)
	bob.Base = ""
	if r := get(bob); r.Status != 403 || r.ErrCode() != "forbidden" {
		t.Errorf("without the role: %d %s, want 403 forbidden", r.Status, r.Raw)
	}
	if r := bob.Do("GET", srv.URL+"/edit", nil, "X-Latchkey-Roles", "editor"); r.Status != 403 {
		t.Errorf("a client's own role header: %d, want 403", r.Status)
	}
	edb := e.loggedIn("eddie", "correct horse battery", chromeWin)
	edb.Base = ""
	if r := get(edb); r.Status != 200 || r.Raw != "hello editor eddie" {
		t.Errorf("with the role: %d %q", r.Status, r.Raw)
	}
	// Taking the role away is effective on the next request.
	if _, err := e.auth.ChangeRole(context.Background(), ed.ID, "editor", false, 0); err != nil {
		t.Fatal(err)
	}
	if r := get(edb); r.Status != 403 {
		t.Errorf("after the role was removed: %d, want 403", r.Status)
	}
}
