package e2e_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocScreenshots takes the login and profile screenshots the README
// shows, from the embedded deployment at a 1000x700 viewport, and checks
// they are whole pictures. With LATCHKEY_UPDATE_SCREENSHOTS=1 it writes them
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
}
