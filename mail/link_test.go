package mail_test

import (
	"errors"
	"testing"

	"github.com/latchkey/latchkey/mail"
)

func TestMailLink(t *testing.T) {
	for _, tc := range []struct {
		name, appURL, route, token, want string
	}{
		{"reset", "https://app.example.com", "/reset-password", "abc", "https://app.example.com/reset-password?token=abc"},
		{"trailing slash", "https://app.example.com/", "/verify-email", "abc", "https://app.example.com/verify-email?token=abc"},
		{"SPA under a path", "https://example.com/app/", "/confirm-email", "abc", "https://example.com/app/confirm-email?token=abc"},
		{"port", "http://127.0.0.1:8080", "/reset-password", "abc", "http://127.0.0.1:8080/reset-password?token=abc"},
		{"token escaped", "https://app.example.com", "/reset-password", "a+b/c=&d#e", "https://app.example.com/reset-password?token=a%2Bb%2Fc%3D%26d%23e"},
		{"no token", "https://app.example.com", "/", "", "https://app.example.com/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mail.Link(tc.appURL, tc.route, tc.token)
			if err != nil || got != tc.want {
				t.Errorf("Link(%q, %q, %q) = %q, %v; want %q", tc.appURL, tc.route, tc.token, got, err, tc.want)
			}
		})
	}
}

func TestMailCheckAppURLRefusals(t *testing.T) {
	for _, tc := range []struct{ name, appURL string }{
		{"empty", ""},
		{"no scheme", "app.example.com"},
		{"javascript", "javascript:alert(1)"},
		{"ftp", "ftp://app.example.com"},
		{"no host", "https:///reset"},
		{"query", "https://app.example.com/?next=x"},
		{"fragment", "https://app.example.com/#/"},
		{"user info", "https://user:pw@app.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := mail.CheckAppURL(tc.appURL); !errors.Is(err, mail.ErrInvalidURL) {
				t.Errorf("CheckAppURL(%q) = %v, want ErrInvalidURL", tc.appURL, err)
			}
			if l, err := mail.Link(tc.appURL, "/reset-password", "t"); err == nil {
				t.Errorf("Link built %q", l)
			}
		})
	}
}
