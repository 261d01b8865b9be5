package e2e_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocScreenshots rewrites docs/login.png and docs/profile.png, which the
// README shows, from the embedded deployment at a 1000x700 viewport. It runs
// only with LATCHKEY_UPDATE_SCREENSHOTS=1.
func TestDocScreenshots(t *testing.T) {
	if os.Getenv("LATCHKEY_UPDATE_SCREENSHOTS") != "1" {
		t.Skip("set LATCHKEY_UPDATE_SCREENSHOTS=1 to rewrite docs/login.png and docs/profile.png")
	}
	b := startBrowser(t)
	d := startEmbedded(t)
	tb := b.newSession(t)
	tb.run("setting the viewport", chromedp.EmulateViewport(1000, 700))
	docs := filepath.Join(repoRoot(t), "docs")
	if err := os.MkdirAll(docs, 0o755); err != nil {
		t.Fatal(err)
	}
	save := func(name string) {
		t.Helper()
		// Blur whatever has focus, so no caret or focus ring shows.
		eval[bool](tb, `document.activeElement && document.activeElement.blur && document.activeElement.blur(), true`)
		png, err := tb.screenshot()
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(docs, name)
		if err := os.WriteFile(p, png, 0o644); err != nil {
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
}
