package web_test

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/web"
)

func TestFilesHasIndexAndScript(t *testing.T) {
	files := web.Files()
	for _, name := range []string{"index.html", "start.js"} {
		if _, err := fs.Stat(files, name); err != nil {
			t.Errorf("Stat(%q): %v", name, err)
		}
	}
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	// spa.Handler fills this tag in with a CSRF token per response.
	if !strings.Contains(string(index), `<meta name="csrf-token" content="">`) {
		t.Errorf("index.html has no empty csrf-token meta tag for spa.Handler to fill in")
	}
	if strings.Contains(string(index), "<script>") {
		t.Errorf("index.html has an inline script, which the SPA's CSP (script-src 'self') blocks")
	}
}
