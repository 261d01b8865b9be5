package mail_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/mail"
)

// data returns what a flow would pass for kind, with its link.
func data(tb testing.TB, kind mail.Kind, username string) mail.Data {
	tb.Helper()
	d := mail.Data{To: "alice@example.com", Product: "Acme", AppURL: "https://app.example.com", Username: username}
	if kind.Route() != "" {
		var err error
		if d.Link, err = mail.Link(d.AppURL, kind.Route(), "tok_123"); err != nil {
			tb.Fatal(err)
		}
	}
	if kind == mail.KindEmailLogin {
		d.Code = "123456"
	}
	return d
}

func TestMailDefaultTemplates(t *testing.T) {
	tpl := mail.DefaultTemplates()
	for _, tc := range []struct {
		kind    mail.Kind
		subject string
		link    string // "" for notices
	}{
		{mail.KindReset, "Reset your Acme password", "https://app.example.com/reset-password?token=tok_123"},
		{mail.KindVerify, "Verify your email address for Acme", "https://app.example.com/verify-email?token=tok_123"},
		{mail.KindConfirmEmail, "Confirm your new email address for Acme", "https://app.example.com/confirm-email?token=tok_123"},
		{mail.KindPasswordChanged, "Your Acme password was changed", ""},
		{mail.KindEmailChanged, "The email address of your Acme account was changed", ""},
		{mail.KindMFAEnabled, "Two-factor authentication is on for your Acme account", ""},
		{mail.KindMFADisabled, "Two-factor authentication was turned off for your Acme account", ""},
		{mail.KindRecoveryCodeUsed, "A recovery code was used to log in to Acme", ""},
		{mail.KindRecoveryCodesRegenerated, "New recovery codes for your Acme account", ""},
		{mail.KindPasskeyAdded, "A passkey was added to your Acme account", ""},
		{mail.KindPasskeyRemoved, "A passkey was removed from your Acme account", ""},
		{mail.KindEmailLogin, "Sign in to Acme", "https://app.example.com/login/email?token=tok_123"},
		{mail.KindTest, "Acme test message", "https://app.example.com/"},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			m, err := tpl.Render(tc.kind, data(t, tc.kind, "alice"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Kind != tc.kind || m.To != "alice@example.com" || m.Subject != tc.subject {
				t.Errorf("kind %q, to %q, subject %q; want %q, alice@example.com, %q", m.Kind, m.To, m.Subject, tc.kind, tc.subject)
			}
			if err := m.Validate(); err != nil {
				t.Error(err)
			}
			if strings.HasPrefix(m.Text, "\n") || strings.Contains(m.Text, "Subject:") {
				t.Errorf("text keeps the subject line or its blank line: %q", m.Text)
			}
			if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") {
				t.Errorf("HTML %q", m.HTML)
			}
			for part, body := range map[string]string{"text": m.Text, "HTML": m.HTML} {
				if tc.kind == mail.KindEmailLogin && !strings.Contains(body, "123456") {
					t.Errorf("%s lacks the code:\n%s", part, body)
				}
				if tc.link != "" && !strings.Contains(body, tc.link) {
					t.Errorf("%s lacks the link %s:\n%s", part, tc.link, body)
				}
				if tc.link == "" && strings.Contains(body, "token") {
					t.Errorf("a notice mentions a token:\n%s", body)
				}
			}
		})
	}
}

func TestMailRenderEscapesHTML(t *testing.T) {
	hostile := `<script>alert("x")</script><a href="https://evil.example">`
	m, err := mail.DefaultTemplates().Render(mail.KindReset, data(t, mail.KindReset, hostile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, `href="https://evil.example"`) {
		t.Errorf("hostile username reached the HTML unescaped:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;") {
		t.Errorf("escaped username missing from the HTML:\n%s", m.HTML)
	}
	// Plain text is not markup: the name appears as it is.
	if !strings.Contains(m.Text, hostile) {
		t.Errorf("text lacks the username as given:\n%s", m.Text)
	}
}

func TestMailRenderHTMLRefusesJavaScriptLinks(t *testing.T) {
	d := data(t, mail.KindReset, "alice")
	d.Link = "javascript:alert(1)"
	m, err := mail.DefaultTemplates().Render(mail.KindReset, d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("javascript: link in an href:\n%s", m.HTML)
	}
}

func TestMailRenderSubjectIsOneLine(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "test.txt", "Subject: Hi {{.Username}}\n\nbody\n")
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := tpl.Render(mail.KindTest, data(t, mail.KindTest, "eve\rBcc: x@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Hi eve Bcc: x@example.com" {
		t.Errorf("subject %q, want the carriage return flattened", m.Subject)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
}

func TestMailRenderRefusals(t *testing.T) {
	tpl := mail.DefaultTemplates()
	noLink := data(t, mail.KindVerify, "alice")
	noLink.Link = ""
	for _, tc := range []struct {
		name string
		kind mail.Kind
		d    mail.Data
	}{
		{"unknown kind", "welcome", data(t, mail.KindReset, "alice")},
		{"token kind without a link", mail.KindVerify, noLink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tpl.Render(tc.kind, tc.d); !errors.Is(err, mail.ErrTemplate) {
				t.Errorf("got %v, want ErrTemplate", err)
			}
		})
	}
}

func write(tb testing.TB, dir, name, content string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func TestMailLoadTemplatesOverrides(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "reset.txt", "Subject: {{.Product}}: new password\n\nGo to {{.Link}} now, {{.Username}}.\n")
	write(t, dir, ".keep", "")
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := data(t, mail.KindReset, "alice")
	m, err := tpl.Render(mail.KindReset, d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Acme: new password" || m.Text != "Go to "+d.Link+" now, alice.\n" {
		t.Errorf("overridden text: subject %q, text %q", m.Subject, m.Text)
	}
	def, _ := mail.DefaultTemplates().Render(mail.KindReset, d)
	if m.HTML != def.HTML {
		t.Errorf("reset.html is missing from the directory, so the built-in one should be used; got\n%s", m.HTML)
	}
	if m, _ := tpl.Render(mail.KindVerify, data(t, mail.KindVerify, "alice")); m.Subject != "Verify your email address for Acme" {
		t.Errorf("verify, not overridden: subject %q", m.Subject)
	}
}

func TestMailLoadTemplatesRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, file, content, want string
	}{
		{"parse error", "reset.html", "<p>{{.Link</p>", "reset.html"},
		{"unknown field", "verify.txt", "Subject: x\n\n{{.Link}} {{.Password}}\n", "Password"},
		{"no subject line", "test.txt", "Hello\n\nbody\n", "Subject"},
		{"reset without the link", "reset.txt", "Subject: x\n\nno link here\n", "{{.Link}}"},
		{"HTML without the link", "confirm-email.html", "<p>no link</p>", "{{.Link}}"},
		{"unknown file", "rest.txt", "Subject: x\n\nbody\n", "unknown file rest.txt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.file, tc.content)
			_, err := mail.LoadTemplates(dir)
			if !errors.Is(err, mail.ErrTemplate) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrTemplate saying %q", err, tc.want)
			}
		})
	}
	if _, err := mail.LoadTemplates(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("missing directory: %v, want ErrTemplate", err)
	}
}

func TestMailEmailLoginNeedsCode(t *testing.T) {
	d := data(t, mail.KindEmailLogin, "alice")
	d.Code = ""
	if _, err := mail.DefaultTemplates().Render(mail.KindEmailLogin, d); !errors.Is(err, mail.ErrTemplate) {
		t.Errorf("got %v, want ErrTemplate for a sign-in mail without its code", err)
	}
}
