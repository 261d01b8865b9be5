package e2e_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocScreenshots takes the screenshots the README shows (the login,
// profile, account page's sessions and the admin page), from the embedded
// deployment at a 1000x700 viewport, and checks they are whole pictures. With LATCHKEY_UPDATE_SCREENSHOTS=1 it writes them
// to docs/; otherwise to a temporary directory, so a test run leaves the
// tree alone.
func TestDocScreenshots(t *testing.T) {
	b := startBrowser(t)
	d := startEmbedded(t, "")
	tb := b.newSession(t)
	tb.run("setting the viewport", chromedp.EmulateViewport(1000, 700))
	docs := t.TempDir()
	if os.Getenv("LATCHKEY_UPDATE_SCREENSHOTS") == "1" {
		docs = filepath.Join(repoRoot(t), "docs")
	}
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string) {
		t.Helper()
		// Blur whatever has focus, so no caret or focus ring shows.
		eval[bool](tb, `document.activeElement && document.activeElement.blur && document.activeElement.blur(), true`)
		shot, err := tb.screenshot()
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", name, err)
		}
		if got := img.Bounds().Size(); got.X != 1000 || got.Y != 700 {
			t.Errorf("screenshot %s is %v, want 1000x700", name, got)
		}
		p := filepath.Join(docs, name)
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", p)
	}

	tb.open(d.App + "/")
	tb.waitRoute("login")
	tb.waitText("h1", "Log in")
	save("login.png")

	e := &env{t: t, d: d, tab: tb}
	e.login(tb)
	save("profile.png")

	// The sessions of the account page, with a second device in the list.
	e.login(b.newSession(t))
	tb.open(d.App + "/account")
	tb.waitRoute("account")
	tb.waitFor("two sessions and the activity", `document.querySelectorAll("#sessions-list > li").length === 2 && !!document.querySelector("#activity-list")`)
	eval[bool](tb, `document.querySelector("#account-sessions-heading").scrollIntoView({block: "start"}), true`)
	save("sessions.png")

	// The admin page, showing the demo user.
	d.Latchkey.addUser(t, "ada", "ada's long password", "ada@example.test", "admin")
	admin := &adminPage{b.newSession(t)}
	(&accountTab{tab: admin.tab, d: d}).login("ada", "ada's long password")
	admin.open(d.App + "/admin")
	admin.waitRoute("admin")
	admin.wantUsers("test", "ada")
	admin.openUser("test")
	admin.tab.run("setting the viewport", chromedp.EmulateViewport(1000, 700))
	tb = admin.tab
	save("admin.png")
}
