package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/apitest"
	"github.com/latchkey/latchkey/internal/testenv"
)

const (
	linuxFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	iosSafari    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)

// sessionIDs returns the ids GET /api/sessions lists to c, and which is
// current.
func sessionIDs(t *testing.T, c *apitest.Client) (ids []string, current string) {
	t.Helper()
	r := c.Get("/api/sessions")
	if r.Status != 200 {
		t.Fatalf("GET /api/sessions: %d %s", r.Status, r.Raw)
	}
	for _, s := range r.JSON["sessions"].([]any) {
		m := s.(map[string]any)
		ids = append(ids, m["id"].(string))
		if m["current"] == true {
			current = m["id"].(string)
		}
	}
	return ids, current
}

// eventTypes returns the types of c's activity, newest first.
func eventTypes(t *testing.T, c *apitest.Client) string {
	t.Helper()
	r := c.Get("/api/account/activity")
	if r.Status != 200 {
		t.Fatalf("GET /api/account/activity: %d %s", r.Status, r.Raw)
	}
	var out []string
	for _, e := range r.JSON["events"].([]any) {
		out = append(out, e.(map[string]any)["type"].(string))
	}
	return strings.Join(out, " ")
}

// TestSessionsAndAdminOnEveryStore runs the session listing, revocation,
// activity and (where the CLI can grant the role) admin endpoints through
// serve on every store: memory, SQLite, PostgreSQL, and Redis sessions
// with PostgreSQL users.
func TestSessionsAndAdminOnEveryStore(t *testing.T) {
	backends := []struct {
		name  string
		flags func(t *testing.T) []string
		cli   bool // the CLI reaches the same stores (not memory:)
	}{
		{"memory", func(t *testing.T) []string { return []string{"--data", t.TempDir(), "--user-store", "memory:"} }, false},
		{"sqlite", func(t *testing.T) []string { return []string{"--data", t.TempDir()} }, true},
		{"postgres", func(t *testing.T) []string {
			return []string{"--data", t.TempDir(), "--user-store", testenv.PostgresDSN(t)}
		}, true},
		{"redis and postgres", func(t *testing.T) []string { return append(sharedStores(t), "--data", t.TempDir()) }, true},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			stores := be.flags(t)
			env := map[string]string{"LATCHKEY_SECRET": sharedSecret}
			s := startServe(t, env, append(slices.Clone(stores), fastArgon2...)...)
			reg := apitest.New(t, s.url)
			reg.CSRF()
			for _, name := range []string{"alice", "root"} {
				if r := reg.Post("/api/register", creds(name, name+"'s long password")); r.Status != 201 {
					t.Fatalf("register %s: %d %s", name, r.Status, r.Raw)
				}
				reg.Post("/api/logout", nil)
			}
			a1, a2 := apitest.New(t, s.url), apitest.New(t, s.url)
			a1.UserAgent, a2.UserAgent = linuxFirefox, iosSafari
			a1.MustLogin("alice", "alice's long password")
			a2.MustLogin("alice", "alice's long password")
			ids, cur := sessionIDs(t, a1)
			if len(ids) != 2 || cur == "" {
				t.Fatalf("alice's sessions: %v, current %q", ids, cur)
			}
			other := ids[0]
			if other == cur {
				other = ids[1]
			}
			if r := a1.Send("DELETE", "/api/sessions/"+other, nil); r.Status != 200 {
				t.Fatalf("DELETE the other session: %d %s", r.Status, r.Raw)
			}
			if a2.LoggedIn() {
				t.Error("the revoked session is still logged in")
			}
			a2.MustLogin("alice", "alice's long password")
			if r := a1.Post("/api/sessions/revoke-others", nil); r.Status != 200 || r.JSON["revoked"] != float64(1) {
				t.Errorf("revoke-others: %d %s", r.Status, r.Raw)
			}
			if a2.LoggedIn() || !a1.LoggedIn() {
				t.Error("revoke-others ended the wrong sessions")
			}
			if got, want := eventTypes(t, a1), "sessions_revoked login_succeeded session_revoked login_succeeded login_succeeded logout"; got != want {
				t.Errorf("alice's activity: %q, want %q", got, want)
			}
			if !be.cli {
				return
			}
			if _, stderr, err := cli(t, env, "", append(append([]string{"user", "role"}, stores...), "add", "root", "admin")...); err != nil {
				t.Fatalf("role add: %v\n%s", err, stderr)
			}
			root := apitest.New(t, s.url)
			root.MustLogin("root", "root's long password")
			root.CSRF()
			r := root.Get("/api/admin/users?q=ali")
			users, _ := r.JSON["users"].([]any)
			if r.Status != 200 || len(users) != 1 {
				t.Fatalf("admin search: %d %s", r.Status, r.Raw)
			}
			id := int64(users[0].(map[string]any)["id"].(float64))
			path := fmt.Sprintf("/api/admin/users/%d", id)
			if r := root.Send("PUT", path+"/roles", map[string]any{"roles": []string{"editor"}}); r.Status != 200 {
				t.Errorf("set roles: %d %s", r.Status, r.Raw)
			}
			if r := a1.Get("/api/data"); fmt.Sprint(r.JSON["roles"]) != "[editor]" {
				t.Errorf("alice's roles: %s", r.Raw)
			}
			if r := root.Post(path+"/lock", nil); r.Status != 200 {
				t.Fatalf("lock: %d %s", r.Status, r.Raw)
			}
			if a1.LoggedIn() {
				t.Error("locked user still logged in")
			}
			if r := a1.Login("alice", "alice's long password"); r.ErrCode() != "account_locked" {
				t.Errorf("login while locked: %d %s", r.Status, r.Raw)
			}
			r = root.Get(path)
			if r.Status != 200 || r.JSON["user"].(map[string]any)["locked"] != true || !strings.Contains(r.Raw, `"account_locked"`) {
				t.Errorf("show: %d %s", r.Status, r.Raw)
			}
		})
	}
}

// TestTwoInstancesSessionsAndAdmin: what one instance does to sessions,
// roles and locks is in force on the other on the very next request.
func TestTwoInstancesSessionsAndAdmin(t *testing.T) {
	a, b, stores := startPair(t)
	env := map[string]string{"LATCHKEY_SECRET": sharedSecret}
	for _, name := range []string{"alice", "root"} {
		if _, stderr, err := cli(t, env, name+"'s long password\n", append(append(append([]string{"user", "add", "--password-stdin"}, fastArgon2...), stores...), name)...); err != nil {
			t.Fatalf("user add %s: %v\n%s", name, err, stderr)
		}
	}
	if _, stderr, err := cli(t, env, "", append(append([]string{"user", "role"}, stores...), "add", "root", "admin")...); err != nil {
		t.Fatalf("role add: %v\n%s", err, stderr)
	}
	onA, onB := newBrowser(t), newBrowser(t)
	onA.do("GET", a.url, "/api/getcsrf", nil)
	onB.do("GET", b.url, "/api/getcsrf", nil)
	if r := onA.do("POST", a.url, "/api/login", creds("alice", "alice's long password")); r.Status != 200 {
		t.Fatalf("login on A: %d %v", r.Status, r.JSON)
	}
	if r := onB.do("POST", b.url, "/api/login", creds("alice", "alice's long password")); r.Status != 200 {
		t.Fatalf("login on B: %d %v", r.Status, r.JSON)
	}
	// B lists both; revoking A's session on B logs A out on A at once.
	r := onB.do("GET", b.url, "/api/sessions", nil)
	var aID string
	for _, s := range r.JSON["sessions"].([]any) {
		if m := s.(map[string]any); m["current"] == false {
			aID = m["id"].(string)
		}
	}
	if r.Status != 200 || len(r.JSON["sessions"].([]any)) != 2 || aID == "" {
		t.Fatalf("sessions on B: %d %v", r.Status, r.JSON)
	}
	if r := onB.do("DELETE", b.url, "/api/sessions/"+aID, nil); r.Status != 200 {
		t.Fatalf("DELETE on B: %d %v", r.Status, r.JSON)
	}
	if onA.loggedIn(a.url) {
		t.Error("the session revoked on B is still logged in on A")
	}
	if r := onA.do("POST", a.url, "/api/login", creds("alice", "alice's long password")); r.Status != 200 {
		t.Fatalf("login on A again: %d %v", r.Status, r.JSON)
	}
	// revoke-others on A ends B's session on B.
	if r := onA.do("POST", a.url, "/api/sessions/revoke-others", nil); r.Status != 200 || r.JSON["revoked"] != float64(1) {
		t.Fatalf("revoke-others on A: %d %v", r.Status, r.JSON)
	}
	if onB.loggedIn(b.url) || !onA.loggedIn(a.url) {
		t.Error("revoke-others on A: B's session survived, or A's did not")
	}
	// Events written by either instance are listed by both.
	for _, inst := range []*instance{a, b} {
		r := onA.do("GET", inst.url, "/api/account/activity", nil)
		if r.Status != 200 || len(r.JSON["events"].([]any)) != 5 {
			t.Errorf("activity on %s: %d %v, want 5 events", inst.url, r.Status, r.JSON)
		}
	}

	// The admin on B; alice on A.
	root := newBrowser(t)
	root.do("GET", b.url, "/api/getcsrf", nil)
	if r := root.do("POST", b.url, "/api/login", creds("root", "root's long password")); r.Status != 200 {
		t.Fatalf("admin login on B: %d %v", r.Status, r.JSON)
	}
	r = root.do("GET", b.url, "/api/admin/users?q=alice", nil)
	if r.Status != 200 || len(r.JSON["users"].([]any)) != 1 {
		t.Fatalf("admin search on B: %d %v", r.Status, r.JSON)
	}
	path := fmt.Sprintf("/api/admin/users/%d", int64(r.JSON["users"].([]any)[0].(map[string]any)["id"].(float64)))
	if r := root.do("PUT", b.url, path+"/roles", map[string]any{"roles": []string{"editor", "billing"}}); r.Status != 200 {
		t.Fatalf("roles on B: %d %v", r.Status, r.JSON)
	}
	if r := onA.do("GET", a.url, "/api/data", nil); fmt.Sprint(r.JSON["roles"]) != "[billing editor]" {
		t.Errorf("roles on A after B set them: %v", r.JSON)
	}
	if r := onA.do("GET", a.url, "/api/auth/verify", nil); r.Header.Get("X-Latchkey-Roles") != "billing,editor" {
		t.Errorf("verify on A: X-Latchkey-Roles %q", r.Header.Get("X-Latchkey-Roles"))
	}
	if r := root.do("POST", b.url, path+"/lock", nil); r.Status != 200 {
		t.Fatalf("lock on B: %d %v", r.Status, r.JSON)
	}
	if onA.loggedIn(a.url) {
		t.Error("locked on B, still logged in on A")
	}
	if r := onA.do("POST", a.url, "/api/login", creds("alice", "alice's long password")); r.Status != 403 || r.ErrCode() != "account_locked" {
		t.Errorf("login on A while locked: %d %v", r.Status, r.JSON)
	}
	if r := root.do("POST", a.url, path+"/unlock", nil); r.Status != 200 {
		t.Fatalf("unlock on A, by the admin logged in on B: %d %v", r.Status, r.JSON)
	}
	if r := onA.do("POST", a.url, "/api/login", creds("alice", "alice's long password")); r.Status != 200 {
		t.Errorf("login on A after unlock: %d %v", r.Status, r.JSON)
	}
	if r := root.do("POST", a.url, path+"/logout", nil); r.Status != 200 || r.JSON["revoked"] != float64(1) {
		t.Errorf("admin logout on A: %d %v", r.Status, r.JSON)
	}
	if onA.loggedIn(b.url) {
		t.Error("admin logout on A: still logged in on B")
	}
}
