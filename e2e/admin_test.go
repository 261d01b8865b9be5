package e2e_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latchkey/latchkey/internal/smtptest"
)

// Texts of the admin page and of the messages it leads to (see
// web/src/lib/messages.svelte.ts).
const (
	msgForbidden     = "You are not allowed to do this."
	msgAccountLocked = "This account is locked. Contact the site's administrators."
)

// TestAdmin drives the admin page in every deployment. ada, an admin made
// with the operator's commands, finds bob, locks him (bob's browser is
// logged out at its next request, and his login refused), unlocks him,
// gives him roles (his next page shows him the admin link), sends him a
// password reset mail, and deletes the demo account after confirming;
// its browser is logged out too. The demo user, no admin, has no admin
// link and gets the forbidden message on /admin.
func TestAdmin(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			smtp := smtptest.Start(t, smtptest.Options{})
			d := dep.start(t, "", "--smtp-url", smtp.URL(), "--mail-from", "latchkey@example.test")
			d.Latchkey.addUser(t, "ada", "ada's long password", "", "admin")
			d.Latchkey.addUser(t, "bob", "bob's long password", "bob@example.test")
			ada := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}
			bob := &accountTab{tab: b.newSession(t), d: d, smtp: smtp}
			demo := b.newSession(t)
			ada.name, bob.name, demo.name = "ada", "bob", "demo"
			e := &env{t: t, d: d, tab: ada.tab, others: []*tab{bob.tab, demo}}

			// Not an admin: no link, and the API says no.
			e.login(demo)
			demo.waitFor("the nav", `!!document.querySelector("#nav-account")`)
			if eval[bool](demo, `!!document.querySelector("#nav-admin")`) {
				t.Errorf("the demo user, no admin, is shown the admin link")
			}
			demo.open(d.App + "/admin")
			demo.waitRoute("admin")
			demo.waitText("#error", msgForbidden)
			demo.waitFor("the forbidden page", `!!document.querySelector("#admin-forbidden") && !document.querySelector("#admin-users")`)

			bob.login("bob", "bob's long password")
			if eval[bool](bob.tab, `!!document.querySelector("#nav-admin")`) {
				t.Errorf("bob, no admin yet, is shown the admin link")
			}

			ada.login("ada", "ada's long password")
			ada.click("#nav-admin")
			ada.waitRoute("admin")
			a := &adminPage{ada.tab}
			a.wantUsers("test", "ada", "bob")
			a.search("BO")
			a.wantUsers("bob")
			a.openUser("bob")
			a.waitText("#admin-user-roles", "None")
			a.waitText("#admin-user-status", "Active")
			a.waitFor("bob's session listed", `document.querySelectorAll("#admin-user-sessions > li").length === 1`)

			// Locked: bob's session ends at once, and he cannot log in.
			a.click("#admin-lock-toggle")
			a.waitText("#admin-user-status", "Locked")
			a.waitText("#notice", "bob is locked: they cannot log in, and their sessions have ended.")
			a.waitText("#admin-user-sessions", "Not logged in anywhere.")
			a.wantEvent("account_locked", "Account locked by an administrator")
			bob.click("#to-account")
			bob.waitRoute("login")
			bob.waitText("#notice", msgExpired)
			bob.fill("#username", "bob")
			bob.fill("#password", "bob's long password")
			bob.click("#login-submit")
			bob.waitText("#error", msgAccountLocked)

			a.click("#admin-lock-toggle")
			a.waitText("#admin-user-status", "Active")
			a.waitText("#notice", "bob can log in again.")
			bob.login("bob", "bob's long password")

			// Roles: bob becomes an admin, and his next page says so.
			a.fill("#admin-roles", "editor, admin")
			a.click("#admin-roles-save")
			a.waitText("#admin-user-roles", "admin, editor")
			a.waitText("#notice", "The roles of bob are now: admin, editor.")
			a.wantEvent("role_changed", "Roles set to admin, editor by an administrator")
			bob.open(d.App + "/user")
			bob.waitRoute("user")
			bob.waitFor("the admin link", `!!document.querySelector("#nav-admin")`)
			a.fill("#admin-roles", "editor")
			a.click("#admin-roles-save")
			a.waitText("#admin-user-roles", "editor")

			a.click("#admin-reset")
			a.waitText("#notice", "A password reset link is on its way to bob@example.test.")
			if m := bob.mail("bob@example.test"); !strings.Contains(strings.ToLower(m.Subject), "password") {
				t.Errorf("bob got %q, want the password reset mail", m.Subject)
			}

			// Back to the list, to the demo user, deleted once confirmed.
			a.click("#admin-back")
			a.search("")
			a.wantUsers("test", "ada", "bob")
			a.waitText(`#admin-users li[data-username="bob"] .record-meta`, "bob@example.test · Roles: editor")
			a.openUser("test")
			a.click("#admin-delete")
			a.waitText("#admin-delete-confirm-error", "Tick the box to confirm that you want to delete this account.")
			a.click("#admin-delete-confirm")
			a.click("#admin-delete")
			a.waitText("#notice", "test has been deleted.")
			a.wantUsers("ada", "bob")
			demo.open(d.App + "/user")
			demo.waitRoute("login")

			// Their own account: no lock, no delete.
			a.openUser("ada")
			a.waitText("#admin-user-roles", "admin")
			for _, sel := range []string{"#admin-lock-toggle", "#admin-delete"} {
				if eval[bool](a.tab, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
					t.Errorf("the admin's own account shows %s", sel)
				}
			}
			e.noCSPViolations()
		})
	}
}

// TestAdminReauth: the admin API wants a recent password login
// (--fresh-login-window, short here). An admin whose login is older gets
// the password prompt on the admin page; a wrong password is refused
// there, the right one logs in afresh and the page carries on.
func TestAdminReauth(t *testing.T) {
	b := startBrowser(t)
	window := 2 * time.Second
	d := startEmbedded(t, "", "--fresh-login-window", window.String())
	d.Latchkey.addUser(t, "ada", "ada's long password", "", "admin")
	ada := &accountTab{tab: b.newSession(t), d: d}
	ada.login("ada", "ada's long password")
	time.Sleep(window + 200*time.Millisecond)
	ada.click("#nav-admin")
	ada.waitRoute("admin")
	ada.waitFor("the password prompt", `!!document.querySelector("#reauth-form") && document.activeElement && document.activeElement.id === "reauth-password"`)
	ada.fill("#reauth-password", "not ada's password")
	ada.click("#reauth-submit")
	ada.waitText("#reauth-password-error", "That is not your password.")
	ada.fill("#reauth-password", "ada's long password")
	ada.click("#reauth-submit")
	a := &adminPage{ada.tab}
	a.wantUsers("test", "ada")
	(&env{t: t, d: d, tab: ada.tab}).noCSPViolations()
}

// adminPage drives the admin page through its element ids.
type adminPage struct{ *tab }

// wantUsers waits until the list shows exactly these users, in this
// order: the order of their ids, the demo user's first.
func (a *adminPage) wantUsers(names ...string) {
	a.t.Helper()
	a.waitFor("the users "+strings.Join(names, ", "), fmt.Sprintf(
		`[...document.querySelectorAll("#admin-users > li")].map(li => li.dataset.username).join(",") === %q`, strings.Join(names, ",")))
}

func (a *adminPage) search(q string) {
	a.t.Helper()
	a.waitFor("the search form", `!!document.querySelector("#admin-search")`)
	if q == "" {
		a.run("emptying the search", chromedp.Evaluate[chromedp.Void](`(e => { e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})) })(document.querySelector("#admin-search"))`))
	} else {
		a.fill("#admin-search", q)
	}
	a.click("#admin-search-submit")
}

// openUser opens the detail of the listed user.
func (a *adminPage) openUser(name string) {
	a.t.Helper()
	a.click(fmt.Sprintf(`#admin-users li[data-username=%q] .admin-user-open`, name))
	a.waitText("#admin-user-heading", name)
}

// wantEvent waits until the user's events list one of the type that reads label.
func (a *adminPage) wantEvent(typ, label string) {
	a.t.Helper()
	a.waitFor(fmt.Sprintf("a %s event reading %q", typ, label), fmt.Sprintf(
		`[...document.querySelectorAll('#admin-user-events li[data-event-type=%q] .record-title')].some(e => e.textContent.trim() === %q)`, typ, label))
}
