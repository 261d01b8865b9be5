package nginxtest_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/nginxtest"
)

func TestRender(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		vars    map[string]string
		want    string
		wantErr string
	}{
		{"all filled", "listen {{LISTEN}}; root {{SPA_ROOT}}; # {{LISTEN}}", map[string]string{"LISTEN": "1", "SPA_ROOT": "/r"}, "listen 1; root /r; # 1", ""},
		{"missing", "listen {{LISTEN}}; root {{SPA_ROOT}};", map[string]string{"LISTEN": "1"}, "", "no value for SPA_ROOT"},
		{"unused", "listen {{LISTEN}};", map[string]string{"LISTEN": "1", "TYPO": "x"}, "", "{{TYPO}} does not occur"},
		{"not a placeholder", "set $x {y}; {{lower}}", nil, "set $x {y}; {{lower}}", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nginxtest.Render([]byte(tt.src), tt.vars)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestStartServesAndStops(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "site.conf")
	site := "server {\n    listen {{LISTEN}};\n    root {{ROOT}};\n}\n"
	if err := os.WriteFile(conf, []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	s := nginxtest.Start(t, conf, map[string]string{"ROOT": root})
	res, err := http.Get(s.URL + "/hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "hello" {
		t.Errorf("GET /hello.txt = %d %q", res.StatusCode, body)
	}
}
