package mail_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/smtptest"
	"github.com/latchkey/latchkey/mail"
)

const from = "Acme <no-reply@acme.example>"

func TestMailChooseTLS(t *testing.T) {
	for _, tc := range []struct {
		name, scheme, host string
		want               mail.TLSMode
	}{
		{"remote host needs STARTTLS", "smtp", "mail.example.com", mail.TLSStartTLS},
		{"remote address needs STARTTLS", "smtp", "192.0.2.1", mail.TLSStartTLS},
		{"private address needs STARTTLS", "smtp", "10.0.0.25", mail.TLSStartTLS},
		{"a name that merely starts like localhost", "smtp", "localhost.example.com", mail.TLSStartTLS},
		{"a name under localhost is not trusted to resolve there", "smtp", "mail.localhost", mail.TLSStartTLS},
		{"unspecified address", "smtp", "0.0.0.0", mail.TLSStartTLS},
		{"localhost", "smtp", "localhost", mail.TLSNone},
		{"LOCALHOST", "smtp", "LOCALHOST", mail.TLSNone},
		{"127.0.0.1", "smtp", "127.0.0.1", mail.TLSNone},
		{"all of 127/8", "smtp", "127.3.2.1", mail.TLSNone},
		{"::1", "smtp", "::1", mail.TLSNone},
		{"smtps", "smtps", "mail.example.com", mail.TLSImplicit},
		{"smtps to loopback is still TLS", "smtps", "127.0.0.1", mail.TLSImplicit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mail.ChooseTLS(tc.scheme, tc.host)
			if err != nil || got != tc.want {
				t.Errorf("ChooseTLS(%q, %q) = %q, %v; want %q", tc.scheme, tc.host, got, err, tc.want)
			}
		})
	}
	if _, err := mail.ChooseTLS("http", "mail.example.com"); !errors.Is(err, mail.ErrInvalidURL) {
		t.Errorf("http: %v, want ErrInvalidURL", err)
	}
}

func TestMailParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      mail.Endpoint
	}{
		{"submission", "smtp://app:s3cret@mail.example.com:587", mail.Endpoint{Host: "mail.example.com", Port: 587, TLS: mail.TLSStartTLS, Username: "app", Password: "s3cret"}},
		{"default port", "smtp://mail.example.com", mail.Endpoint{Host: "mail.example.com", Port: 587, TLS: mail.TLSStartTLS}},
		{"smtps default port", "smtps://mail.example.com/", mail.Endpoint{Host: "mail.example.com", Port: 465, TLS: mail.TLSImplicit}},
		{"encoded password", "smtp://app%40acme:p%2Fw%3A%40@mail.example.com:2525", mail.Endpoint{Host: "mail.example.com", Port: 2525, TLS: mail.TLSStartTLS, Username: "app@acme", Password: "p/w:@"}},
		{"local relay", "smtp://127.0.0.1:25", mail.Endpoint{Host: "127.0.0.1", Port: 25, TLS: mail.TLSNone}},
		{"IPv6 loopback", "smtp://[::1]:25", mail.Endpoint{Host: "::1", Port: 25, TLS: mail.TLSNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mail.ParseURL(tc.raw)
			if err != nil || got != tc.want {
				t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.raw, got, err, tc.want)
			}
			if strings.Contains(got.String(), "s3cret") || strings.Contains(got.String(), "p/w") {
				t.Errorf("String() shows the password: %s", got)
			}
		})
	}
}

func TestMailParseURLRefusals(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"scheme", "http://u:s3cret@mail.example.com", "scheme"},
		{"no host", "smtp://u:s3cret@:587", "no host"},
		{"path", "smtp://u:s3cret@mail.example.com/x", "path"},
		{"query", "smtp://u:s3cret@mail.example.com?tls=off", "query"},
		{"port", "smtp://u:s3cret@mail.example.com:0", "port"},
		{"unencoded slash in the password", "smtp://u:s3cret/x@mail.example.com:587", "percent-encode"},
		{"user without password", "smtp://u@mail.example.com", "USER and PASSWORD"},
		{"smtp on the implicit TLS port", "smtp://u:s3cret@mail.example.com:465", "smtps://"},
		{"smtps on the STARTTLS port", "smtps://u:s3cret@mail.example.com:587", "smtp://"},
		{"not a URL", "mail.example.com:587", "scheme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mail.ParseURL(tc.raw)
			if !errors.Is(err, mail.ErrInvalidURL) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want ErrInvalidURL saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

func TestMailNewSMTPRefusesBadFrom(t *testing.T) {
	for _, f := range []string{"", "no-reply", "Acme <no-reply@acme.example"} {
		if _, err := mail.NewSMTP("smtp://127.0.0.1:25", f, mail.SMTPOptions{}); !errors.Is(err, mail.ErrInvalidFrom) {
			t.Errorf("from %q: %v, want ErrInvalidFrom", f, err)
		}
	}
}

// dialTo makes the mailer reach addr whatever host its URL names, so tests
// exercise the rules for a remote host without leaving the machine.
func dialTo(addr string) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

// remoteURL is the server's URL with a made-up remote host name in place
// of 127.0.0.1.
func remoteURL(s *smtptest.Server, host string) string {
	u, _ := url.Parse(s.URL())
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

func newSMTP(tb testing.TB, rawURL string, opts mail.SMTPOptions) *mail.SMTP {
	tb.Helper()
	m, err := mail.NewSMTP(rawURL, from, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// resetMessage renders a password reset to to, as the reset flow will.
func resetMessage(tb testing.TB, to, token string) (mail.Message, string) {
	tb.Helper()
	link, err := mail.Link("https://app.example.com", mail.KindReset.Route(), token)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := mail.DefaultTemplates().Render(mail.KindReset, mail.Data{To: to, Product: "Acme", AppURL: "https://app.example.com", Link: link, Username: "alice"})
	if err != nil {
		tb.Fatal(err)
	}
	return m, link
}

// followResetLink checks the delivered message's links the way a user's
// mail client would see them, and returns the token the SPA would read.
func followResetLink(tb testing.TB, got *smtptest.Message, wantLink string) string {
	tb.Helper()
	if got.Subject != "Reset your Acme password" {
		tb.Errorf("subject %q", got.Subject)
	}
	if h := got.Header.Get("From"); h != `"Acme" <no-reply@acme.example>` {
		tb.Errorf("From: %q", h)
	}
	if h := got.Header.Get("Message-Id"); !strings.HasSuffix(h, "@acme.example>") {
		tb.Errorf("Message-ID %q, want one at the sender's domain", h)
	}
	text, html := got.TextLinks(), got.HTMLLinks()
	if len(text) != 1 || text[0] != wantLink {
		tb.Fatalf("text links %q, want exactly %s", text, wantLink)
	}
	if len(html) != 1 || html[0] != wantLink {
		tb.Fatalf("HTML links %q, want exactly %s", html, wantLink)
	}
	u, err := url.Parse(text[0])
	if err != nil {
		tb.Fatal(err)
	}
	if u.Scheme != "https" || u.Host != "app.example.com" || u.Path != "/reset-password" {
		tb.Errorf("the link leads to %s, want the SPA's /reset-password", u)
	}
	return u.Query().Get("token")
}

func TestMailSMTPSend(t *testing.T) {
	const token = "tok-/+=&?#é"
	for _, tc := range []struct {
		name     string
		opts     smtptest.Options
		host     string // in the URL; "" keeps 127.0.0.1
		trust    bool   // give the mailer the server's certificate
		wantTLS  bool
		wantUser string
	}{
		{"plain to loopback", smtptest.Options{}, "", false, false, ""},
		{"AUTH in plain text to loopback", smtptest.Options{User: "app", Password: "pw"}, "", false, false, "app"},
		{"loopback ignores STARTTLS it does not need", smtptest.Options{STARTTLS: true}, "localhost", false, false, ""},
		{"STARTTLS and AUTH to a remote host", smtptest.Options{STARTTLS: true, Names: []string{"mail.example.test"}, User: "app", Password: "pw"}, "mail.example.test", true, true, "app"},
		{"implicit TLS", smtptest.Options{ImplicitTLS: true, User: "app", Password: "pw"}, "", true, true, "app"},
		{"implicit TLS to a remote host", smtptest.Options{ImplicitTLS: true, Names: []string{"mail.example.test"}}, "mail.example.test", true, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			opts := mail.SMTPOptions{Dial: dialTo(srv.Addr)}
			if tc.trust {
				opts.RootCAs = srv.RootCAs()
			}
			raw := srv.URL()
			if tc.host != "" {
				raw = remoteURL(srv, tc.host)
			}
			m, link := resetMessage(t, "alice@example.com", token)
			if err := newSMTP(t, raw, opts).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			got := srv.WaitFor(t, "alice@example.com")
			if got.TLS != tc.wantTLS || got.AuthUser != tc.wantUser {
				t.Errorf("TLS %v, AUTH user %q; want %v, %q", got.TLS, got.AuthUser, tc.wantTLS, tc.wantUser)
			}
			if got.From != "no-reply@acme.example" {
				t.Errorf("envelope sender %q", got.From)
			}
			if tok := followResetLink(t, got, link); tok != token {
				t.Errorf("the link carries token %q, want %q", tok, token)
			}
			if got.Text != m.Text || got.HTML != m.HTML {
				t.Errorf("body changed on the way:\ntext %q\nwant %q\nHTML %q\nwant %q", got.Text, m.Text, got.HTML, m.HTML)
			}
		})
	}
}

func TestMailSMTPRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      smtptest.Options
		host      string
		password  string // replaces the server's in the URL when set
		trust     bool
		want      string
		wantAuths int
	}{
		{"remote host without STARTTLS", smtptest.Options{User: "app", Password: "pw"}, "mail.example.test", "", false, "STARTTLS", 0},
		{"remote host with an untrusted certificate", smtptest.Options{STARTTLS: true, Names: []string{"mail.example.test"}, User: "app", Password: "pw"}, "mail.example.test", "", false, "certificate", 0},
		{"certificate for another name", smtptest.Options{STARTTLS: true, User: "app", Password: "pw"}, "mail.example.test", "", true, "certificate", 0},
		{"implicit TLS with an untrusted certificate", smtptest.Options{ImplicitTLS: true}, "", "", false, "certificate", 0},
		{"wrong password", smtptest.Options{STARTTLS: true, Names: []string{"mail.example.test"}, User: "app", Password: "pw"}, "mail.example.test", "nope", true, "AUTH", 1},
		{"server requires AUTH", smtptest.Options{User: "app", Password: "pw"}, "", "-", false, "authenticate", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			opts := mail.SMTPOptions{Dial: dialTo(srv.Addr)}
			if tc.trust {
				opts.RootCAs = srv.RootCAs()
			}
			u, _ := url.Parse(srv.URL())
			if tc.host != "" {
				u.Host = net.JoinHostPort(tc.host, u.Port())
			}
			switch tc.password {
			case "":
			case "-":
				u.User = nil
			default:
				u.User = url.UserPassword(u.User.Username(), tc.password)
			}
			m, _ := resetMessage(t, "alice@example.com", "tok")
			err := newSMTP(t, u.String(), opts).Send(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if pw, _ := u.User.Password(); err != nil && pw != "" && strings.Contains(err.Error(), pw) {
				t.Errorf("the error shows the password: %v", err)
			}
			if n := srv.AuthAttempts(); n != tc.wantAuths {
				t.Errorf("%d AUTH attempts reached the server, want %d", n, tc.wantAuths)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("%d messages delivered", n)
			}
		})
	}
}

func TestMailSMTPSilentServerTimesOut(t *testing.T) {
	s := newSMTP(t, "smtp://"+smtptest.Silent(t), mail.SMTPOptions{SendTimeout: 200 * time.Millisecond})
	m, _ := resetMessage(t, "alice@example.com", "tok")
	done := make(chan error, 1)
	go func() { done <- s.Send(context.Background(), m) }()
	select {
	case err := <-done:
		if !errors.Is(err, mail.ErrTimeout) {
			t.Errorf("got %v, want ErrTimeout", err)
		}
	case <-time.After(20 * time.Second): // a hang, not a speed check
		t.Fatal("Send did not return")
	}
}

func TestMailSMTPSendStopsWithContext(t *testing.T) {
	s := newSMTP(t, "smtp://"+smtptest.Silent(t), mail.SMTPOptions{})
	m, _ := resetMessage(t, "alice@example.com", "tok")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, m) }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Send did not return")
	}
}

func TestMailSMTPRefusesInvalidMessage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := newSMTP(t, srv.URL(), mail.SMTPOptions{})
	for _, tc := range []struct {
		name string
		m    mail.Message
	}{
		{"no recipient", mail.Message{Subject: "x", Text: "x"}},
		{"two recipients", mail.Message{To: "a@example.com, b@example.com", Subject: "x", Text: "x"}},
		{"header injection", mail.Message{To: "a@example.com", Subject: "x\r\nBcc: b@example.com", Text: "x"}},
		{"no text", mail.Message{To: "a@example.com", Subject: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Send(context.Background(), tc.m); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("got %v, want ErrInvalidMessage", err)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func TestMailSMTPString(t *testing.T) {
	s := newSMTP(t, "smtp://app:s3cret@mail.example.com", mail.SMTPOptions{})
	if got, want := s.String(), `smtp mail.example.com:587, STARTTLS required, AUTH as app, from "Acme" <no-reply@acme.example>`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
