package latchkey_test

import (
	"context"
	"testing"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/memstore"
)

type nopMailer struct{}

func (nopMailer) Send(context.Context, mail.Message) error { return nil }

func TestConfigMailDefaults(t *testing.T) {
	for _, tc := range []struct {
		name        string
		cfg         latchkey.Config
		wantAppURL  string
		wantLog     bool
		wantProduct string
	}{
		{"nothing set", latchkey.Config{}, "", true, "latchkey"},
		{"app URL from the public URL", latchkey.Config{PublicURL: "https://example.com/"}, "https://example.com", true, "latchkey"},
		{"app URL of its own", latchkey.Config{PublicURL: "https://api.example.com", AppURL: "https://app.example.com/spa/"}, "https://app.example.com/spa", true, "latchkey"},
		{"cross-origin: the SPA's origin", latchkey.Config{PublicURL: "http://localhost:8080", AllowedOrigins: []string{"http://localhost:5173"}}, "http://localhost:5173", true, "latchkey"},
		{"cross-origin, several SPAs: none", latchkey.Config{PublicURL: "http://localhost:8080", AllowedOrigins: []string{"http://localhost:5173", "http://localhost:5174"}}, "", true, "latchkey"},
		{"a mailer and product of its own", latchkey.Config{Mailer: nopMailer{}, ProductName: "Acme"}, "", false, "Acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Secrets = [][]byte{testSecret}
			store := memstore.New()
			auth, err := latchkey.New(tc.cfg, store, store)
			if err != nil {
				t.Fatal(err)
			}
			got := auth.Config()
			if got.AppURL != tc.wantAppURL || got.ProductName != tc.wantProduct {
				t.Errorf("AppURL %q, ProductName %q; want %q, %q", got.AppURL, got.ProductName, tc.wantAppURL, tc.wantProduct)
			}
			if _, isLog := got.Mailer.(*mail.Log); isLog != tc.wantLog {
				t.Errorf("Mailer %T, want the log mailer: %v", got.Mailer, tc.wantLog)
			}
			if got.MailTemplates == nil {
				t.Fatal("no templates")
			}
			if _, err := got.MailTemplates.Render(mail.KindTest, mail.Data{To: "a@example.com", Product: got.ProductName}); err != nil {
				t.Error(err)
			}
		})
	}
}
