package e2e_test

import (
	"context"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// addVirtualAuthenticator gives the tab's page a DevTools virtual
// authenticator: a platform authenticator with resident keys that verifies
// its user, as a laptop's fingerprint reader would.
func (tb *tab) addVirtualAuthenticator() {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		tb.fatalf("enabling WebAuthn in DevTools: %v", err)
	}
	_, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
			Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
			IsUserVerified: true, AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		tb.fatalf("adding a virtual authenticator: %v", err)
	}
}

// TestPasskeys: in Chromium with a virtual authenticator, a user adds a
// passkey on the account page, logs out, signs in with the passkey alone
// (no username or password), turns on two-factor sign-in and passes its
// second step with the passkey, removes the passkey, and can then no
// longer sign in with it. Embedded and cross-origin: the relying party is the SPA's site,
// localhost. (Behind nginx, latchkey learns its public origin only from
// --public-url, which that deployment's test does not set.)
func TestPasskeys(t *testing.T) {
	for _, dep := range deployments {
		if dep.name == "nginx-same-origin" {
			continue
		}
		t.Run(dep.name, func(t *testing.T) {
			t.Parallel()
			b := startBrowser(t)
			d := dep.start(t, "")
			d.Latchkey.addUser(t, "ann", "ann's long password", "")
			a := &accountTab{tab: b.newSession(t), d: d}
			a.name = "ann"
			a.open(d.App + "/")
			a.addVirtualAuthenticator()

			a.login("ann", "ann's long password")
			a.open(d.App + "/account")
			a.waitRoute("account")
			a.waitFor("the passkey form", `!!document.querySelector("#passkey-add")`)
			a.fill("#passkey-name", "laptop")
			a.click("#passkey-add")
			a.waitText("#notice", `The passkey "laptop" is added. You can sign in with it alone.`)
			a.waitFor("the passkey listed", `document.querySelectorAll("#passkeys-list li").length === 1`)
			a.waitText("#passkeys-list .passkey-name", "laptop")

			a.logout()
			a.waitFor("the passkey button", `!!document.querySelector("#passkey-login")`)
			a.click("#passkey-login")
			a.wantProfile("ann")

			// The activity says how.
			a.open(d.App + "/account")
			a.waitRoute("account")
			a.waitFor("the sign-in by passkey in the activity", `[...document.querySelectorAll("#activity-list li")].some(li => li.dataset.eventType === "passkey_added")`)

			// With two-factor sign-in on, the passkey is a second factor: the
			// password, then "Use a passkey instead" on the second step.
			m := &mfaPage{a}
			m.enrol("ann's long password")
			a.logout()
			m.passwordStep("ann", "ann's long password")
			a.waitFor("the passkey option", `!!document.querySelector("#mfa-use-passkey")`)
			a.click("#mfa-use-passkey")
			a.wantProfile("ann")
			a.open(d.App + "/account")
			a.waitRoute("account")

			// Removed, it signs in no more (a fresh login: no password asked).
			a.click("#passkeys-list .passkey-remove")
			a.waitText("#notice", `The passkey "laptop" is removed.`)
			a.waitFor("the list empty", `!document.querySelector("#passkeys-list")`)
			a.logout()
			a.click("#passkey-login")
			a.waitFor("a refusal", `document.querySelector("#error")?.textContent.length > 0`)
			if route := eval[string](a.tab, `document.body.dataset.route`); route != "login" {
				t.Errorf("signed in with a removed passkey: route %q", route)
			}
		})
	}
}
