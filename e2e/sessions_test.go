package e2e_test

import (
	"fmt"
	"testing"
)

// TestAccountSessions drives the account page's sessions and activity in
// every deployment: the demo user logs in from three browser contexts
// (three devices, to latchkey), sees them on the account page, signs one
// out with its button and then the others with "Sign out everywhere
// else"; each device signed out finds itself logged out at its next
// request, and the activity lists the logins and the sign-outs. Signing
// out this device's own session is a logout.
func TestAccountSessions(t *testing.T) {
	for _, dep := range deployments {
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t) // first: it waits for a browser slot
			d := dep.start(t, "")
			laptop, phone, tablet := b.newSession(t), b.newSession(t), b.newSession(t)
			laptop.name, phone.name, tablet.name = "laptop", "phone", "tablet"
			e := &env{t: t, d: d, tab: laptop, others: []*tab{phone, tablet}}
			e.login(laptop)
			e.login(phone)

			s := &sessionsPage{laptop}
			s.open(d)
			s.wantSessions(2)
			if got := s.text(`#sessions-list li[data-current="true"] .badge`); got != "This device" {
				t.Errorf("the current session's badge reads %q, want %q", got, "This device")
			}
			device := s.text(`#sessions-list li[data-current="false"] .session-device`)
			ip := s.text(`#sessions-list li[data-current="false"] .session-ip`)
			if device == "" || device == "Unknown device" || ip != "127.0.0.1" {
				t.Errorf("the other session shows device %q and IP %q, want a named browser and 127.0.0.1", device, ip)
			}

			// One button: the phone is signed out at once, and its next
			// request (a click to another page) finds the session gone.
			s.click(`#sessions-list li[data-current="false"] .session-signout`)
			s.waitText("#notice", fmt.Sprintf("%s (%s) is signed out.", device, ip))
			s.wantSessions(1)
			s.wantNoElement("#sessions-revoke-others")
			phone.click("#to-account")
			phone.waitRoute("login")
			phone.waitText("#notice", msgExpired)
			s.wantEvent("session_revoked", fmt.Sprintf("Signed out a session (%s, %s)", device, ip))
			s.wantEvent("login_succeeded", "Logged in")

			// Everywhere else: two more devices, both signed out.
			e.login(phone)
			e.login(tablet)
			s.open(d)
			s.wantSessions(3)
			s.click("#sessions-revoke-others")
			s.waitText("#notice", "Signed out of 2 other sessions.")
			s.wantSessions(1)
			for _, other := range []*tab{phone, tablet} {
				other.open(d.App + "/user")
				other.waitRoute("login")
			}
			s.wantEvent("sessions_revoked", "Signed out everywhere else")
			if n := eval[int](laptop, `document.querySelectorAll('#activity-list li[data-event-type="login_succeeded"]').length`); n != 4 {
				t.Errorf("the activity lists %d logins, want 4", n)
			}

			// This device's own button is a logout, on the server too.
			s.click(`#sessions-list li[data-current="true"] .session-signout`)
			laptop.waitRoute("login")
			laptop.waitText("#notice", msgLoggedOut)
			laptop.open(d.App + "/account")
			laptop.waitRoute("login")
			e.noCSPViolations()
		})
	}
}

// sessionsPage drives the account page's sessions and activity sections.
type sessionsPage struct{ *tab }

func (s *sessionsPage) open(d *deployment) {
	s.t.Helper()
	s.tab.open(d.App + "/account")
	s.waitRoute("account")
}

// wantSessions waits until the list shows n sessions, one of them this
// device's.
func (s *sessionsPage) wantSessions(n int) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("%d sessions listed", n), fmt.Sprintf(
		`document.querySelectorAll("#sessions-list > li").length === %d && document.querySelectorAll('#sessions-list > li[data-current="true"]').length === 1`, n))
}

// wantEvent waits until the activity lists an event of the type that reads
// label.
func (s *sessionsPage) wantEvent(typ, label string) {
	s.t.Helper()
	s.waitFor(fmt.Sprintf("a %s event reading %q", typ, label), fmt.Sprintf(
		`[...document.querySelectorAll('#activity-list li[data-event-type=%q] .record-title')].some(e => e.textContent.trim() === %q)`, typ, label))
}

func (s *sessionsPage) wantNoElement(sel string) {
	s.t.Helper()
	if eval[bool](s.tab, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
		s.fatalf("%s is shown, want none", sel)
	}
}
