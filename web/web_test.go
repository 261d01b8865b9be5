package web_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/spa"
	"github.com/latchkey/latchkey/web"
)

// TestDist checks the committed build that the binary embeds: what
// spa.Handler and the SPA need in index.html, hashed assets it can cache
// for a year, and nothing latchkey's CSP (no 'unsafe-inline') would block.
func TestDist(t *testing.T) {
	files := web.Files()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(index)
	for _, tag := range []string{
		`<meta name="csrf-token" content="">`, // spa.Handler fills the token in here
		`<meta name="latchkey-api" content="/api">`,
	} {
		if !strings.Contains(page, tag) {
			t.Errorf("index.html lacks %s", tag)
		}
	}

	// Inline scripts and styles would be blocked by the CSP.
	for _, tag := range regexp.MustCompile(`(?is)<script\b[^>]*>`).FindAllString(page, -1) {
		if !regexp.MustCompile(`(?i)\ssrc=`).MatchString(tag) {
			t.Errorf("index.html has an inline script %s", tag)
		}
	}
	if inlineStyle.MatchString(page) {
		t.Errorf("index.html has an inline style: %s", inlineStyle.FindString(page))
	}

	var js, css []string
	err = fs.WalkDir(files, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch path.Ext(name) {
		case ".js":
			js = append(js, name)
		case ".css":
			css = append(css, name)
		}
		if !spa.HashedAsset(name) {
			t.Errorf("%s has no content hash in its name, so it cannot be cached for long", name)
		}
		if !strings.Contains(page, `"/`+name+`"`) && path.Ext(name) != ".js" {
			t.Errorf("index.html does not link %s", name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) == 0 || len(css) == 0 {
		t.Fatalf("assets/ holds JS %v and CSS %v, want at least one of each", js, css)
	}

	// Styles set from script need 'unsafe-inline' too; Svelte emits such
	// code for transitions and style: directives, which the SPA must not use.
	for _, name := range js {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range scriptStyles {
			if m := re.Find(b); m != nil {
				t.Errorf("%s sets inline styles (%q); move them to the stylesheet", name, m)
			}
		}
	}
}

var (
	inlineStyle  = regexp.MustCompile(`(?i)<style\b|\sstyle\s*=`)
	scriptStyles = []*regexp.Regexp{
		regexp.MustCompile(`\.style\s*(\.|\[|=[^=])`),
		regexp.MustCompile(`\bcssText\b`),
		regexp.MustCompile(`\binsertRule\b`),
		regexp.MustCompile(`\badoptedStyleSheets\b`),
		regexp.MustCompile(`(?i)(createElement|setAttribute)\(\s*["'` + "`" + `]style`),
	}
)

// TestVitest runs the client's unit tests (npm test in web/). It needs Node
// and web/node_modules (npm ci); CI (.ci/run) builds the SPA first.
func TestVitest(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running npm test")
	}
	testenv.LookPath(t, "node", "install Node.js 20.19 or newer")
	npm := testenv.LookPath(t, "npm", "install npm with Node.js")
	if _, err := os.Stat("node_modules/.bin/vitest"); err != nil {
		testenv.Unavailable(t, "web/node_modules has no vitest (run npm ci in web/)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "test")
	cmd.Env = append(os.Environ(), "CI=true", "NO_COLOR=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("npm test: %v\n%s", err, out.Bytes())
	}
	t.Logf("npm test:\n%s", out.Bytes())
}
