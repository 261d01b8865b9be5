package device_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/latchkey/latchkey/device"
)

func TestName(t *testing.T) {
	for _, tc := range []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0", "Firefox on Linux"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"curl/8.5.0", "curl"},
		{"Go-http-client/1.1", "Go-http-client"},
		{"", "Unknown device"},
		{"<script>alert(1)</script>/1.0", "Unknown device"},
		{"evil\x00name/1", "Unknown device"},
		{strings.Repeat("a", 100) + "/1", "Unknown device"},
	} {
		if got := device.Name(tc.ua); got != tc.want {
			t.Errorf("Name(%q) = %q, want %q", tc.ua, got, tc.want)
		}
	}
}

// FuzzName: whatever a client sends as its User-Agent, the name is short,
// valid UTF-8, and has no control characters or markup.
func FuzzName(f *testing.F) {
	f.Add("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0")
	f.Add("curl/8.5.0")
	f.Add("\xff\xfe/1")
	f.Fuzz(func(t *testing.T, ua string) {
		got := device.Name(ua)
		if got == "" || len(got) > 80 || !utf8.ValidString(got) || strings.ContainsAny(got, "<>\"'&\x00\r\n") {
			t.Fatalf("Name(%q) = %q", ua, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("Name(%q) = %q: control character", ua, got)
			}
		}
	})
}
