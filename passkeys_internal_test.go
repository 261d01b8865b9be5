package latchkey

import (
	"fmt"
	"strings"
	"testing"
)

func TestRelyingPartyFromConfig(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         Config
		wantID      string
		wantOrigins string
		wantErr     string
	}{
		{name: "nothing known: off", cfg: Config{}},
		{name: "embedded", cfg: Config{PublicURL: "https://auth.example.com", AppURL: "https://auth.example.com"},
			wantID: "auth.example.com", wantOrigins: "[https://auth.example.com]"},
		{name: "an IP address: off, WebAuthn needs a domain", cfg: Config{AppURL: "http://192.0.2.7:8080"}},
		{name: "loopback: localhost", cfg: Config{AppURL: "http://127.0.0.1:8080", PublicURL: "http://127.0.0.1:8080"}, wantID: "localhost", wantOrigins: "[http://localhost:8080]"},
		{name: "localhost demo", cfg: Config{AppURL: "http://localhost:8080"}, wantID: "localhost", wantOrigins: "[http://localhost:8080]"},
		{name: "cross-origin, another site: the SPA's site only", cfg: Config{PublicURL: "https://api.example.com", AppURL: "https://app.example.net", AllowedOrigins: []string{"https://app.example.net"}},
			wantID: "app.example.net", wantOrigins: "[https://app.example.net]"},
		{name: "cross-origin, one site, RP id given", cfg: Config{PasskeyRPID: "example.com", PublicURL: "https://api.example.com", AppURL: "https://app.example.com"},
			wantID: "example.com", wantOrigins: "[https://app.example.com https://api.example.com]"},
		{name: "RP id given that the SPA is not on", cfg: Config{PasskeyRPID: "example.org", AppURL: "https://app.example.com"},
			wantErr: "not on the relying party example.org"},
		{name: "origins given that do not share the RP", cfg: Config{PasskeyOrigins: []string{"https://a.example.com", "https://b.example.net"}},
			wantErr: "not on the relying party a.example.com"},
		{name: "an origin that is no URL", cfg: Config{PasskeyOrigins: []string{"example.com"}}, wantErr: "not an http(s) URL"},
		{name: "a look-alike suffix is not a subdomain", cfg: Config{PasskeyRPID: "example.com", PasskeyOrigins: []string{"https://evilexample.com"}},
			wantErr: "not on the relying party"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, origins, ok, err := rpFor(tc.cfg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got (%q, %v, %v), want an error saying %q", id, origins, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != (tc.wantID != "") || id != tc.wantID || tc.wantID != "" && fmt.Sprint(origins) != tc.wantOrigins {
				t.Errorf("got (%q, %v, %v), want (%q, %s)", id, origins, ok, tc.wantID, tc.wantOrigins)
			}
		})
	}
}

// FuzzCeremonyCookie: whatever a client sends as the ceremony cookie,
// opening it never panics and never yields a ceremony latchkey did not
// seal; what it sealed opens only for its own purpose.
func FuzzCeremonyCookie(f *testing.F) {
	k, err := newCeremonyKeys([][]byte{[]byte("fuzz-secret-fuzz-secret-fuzz-secret-0123")})
	if err != nil {
		f.Fatal(err)
	}
	good, err := sealCeremony(k, &ceremony{Purpose: ceremonyLogin, UserID: 7})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add("")
	f.Add(good[:len(good)-1] + "A")
	f.Fuzz(func(t *testing.T, v string) {
		c, ok := openCeremony(k, v, ceremonyLogin)
		if ok && c.UserID != 7 {
			// Only what was sealed under the key opens (each run of the
			// target seals user 7 anew, so any seal of it may come back):
			// anything else would be an AES-GCM forgery.
			t.Fatalf("opened a value latchkey did not seal: %q → %+v", v, c)
		}
		if _, ok := openCeremony(k, v, ceremonyRegister); ok {
			t.Fatalf("a login ceremony opened as a registration: %q", v)
		}
	})
}
