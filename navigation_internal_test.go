package latchkey

import (
	"net/http/httptest"
	"testing"
)

// TestScriptRequest: who gets JSON and who gets sent to a page.
func TestScriptRequest(t *testing.T) {
	const chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
	for _, tc := range []struct {
		name, accept, mode string
		script             bool
	}{
		{"Chromium page load", chromium, "navigate", false},
		{"Chromium page load in a frame", chromium, "nested-navigate", false},
		{"page load, no Fetch Metadata", chromium, "", false},
		{"curl", "*/*", "", false},
		{"no headers", "", "", false},
		{"fetch", "*/*", "cors", true},
		{"same-origin fetch", "*/*", "same-origin", true},
		{"no-cors fetch", "", "no-cors", true},
		{"WebSocket", "", "websocket", true},
		{"fetch that accepts HTML", "text/html", "cors", true},
		{"navigation that asks for JSON", "application/json", "navigate", false},
		{"JSON client", "application/json", "", true},
		{"axios", "application/json, text/plain, */*", "", true},
		{"JSON preferred", "application/json, text/html;q=0.9", "", true},
		{"HTML preferred", "text/html, application/json;q=0.9", "", false},
		{"equal: HTML wins", "application/json, text/html", "", false},
		{"JSON refused", "application/json;q=0, */*", "", false},
		{"JSON with a charset", "application/json; charset=utf-8", "", true},
		{"bad quality", "application/json;q=2", "", false},
		{"problem+json is not named", "application/problem+json", "", false},
		{"garbage", ";;,,=", "", false},
		{"WebSocket handshake without Fetch Metadata", "", "upgrade", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			if tc.mode == "upgrade" {
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("Upgrade", "websocket")
			} else if tc.mode != "" {
				r.Header.Set("Sec-Fetch-Mode", tc.mode)
			}
			if got := scriptRequest(r); got != tc.script {
				t.Errorf("scriptRequest(Accept %q, Sec-Fetch-Mode %q) = %v, want %v", tc.accept, tc.mode, got, tc.script)
			}
		})
	}
}
