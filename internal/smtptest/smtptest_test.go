package smtptest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/latchkey/latchkey/internal/smtptest"
)

// A multipart/alternative message as mail libraries write it: a
// quoted-printable text part with a soft line break inside the link, and a
// base64 HTML part with an escaped href.
const multipartMessage = "From: App <app@example.com>\r\n" +
	"To: alice@example.com\r\n" +
	"Subject: =?UTF-8?q?R=C3=A9initialiser?= your password\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/alternative; boundary=XYZ\r\n" +
	"\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Hello caf=C3=A9,\r\n" +
	"open https://app.example.com/reset-password?token=3Dabc=\r\n" +
	"def now.\r\n" +
	"--XYZ\r\n" +
	"Content-Type: text/html; charset=UTF-8\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	// <p><a href="https://app.example.com/x?a=1&amp;b=2">go</a></p>
	"PHA+PGEgaHJlZj0iaHR0cHM6Ly9hcHAuZXhhbXBsZS5jb20veD9hPTEmYW1wO2I9\r\n" +
	"MiI+Z288L2E+PC9wPg==\r\n" +
	"--XYZ--\r\n"

// send delivers raw with go-smtp's own client, so the server is tested
// with another implementation than the one latchkey sends with.
func send(t *testing.T, c *smtp.Client, to, raw string) error {
	t.Helper()
	defer c.Close()
	return c.SendMail("app@example.com", []string{to}, strings.NewReader(raw))
}

func dial(t *testing.T, s *smtptest.Server) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMailServerDeliverAndParse(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	if err := send(t, dial(t, s), "alice@example.com", multipartMessage); err != nil {
		t.Fatal(err)
	}
	m := s.WaitFor(t, "alice@example.com")
	if m.Subject != "Réinitialiser your password" {
		t.Errorf("subject %q", m.Subject)
	}
	if want := "Hello café,\nopen https://app.example.com/reset-password?token=abcdef now."; m.Text != want {
		t.Errorf("text %q, want %q", m.Text, want)
	}
	if got, want := m.TextLinks(), []string{"https://app.example.com/reset-password?token=abcdef"}; !reflect.DeepEqual(got, want) {
		t.Errorf("text links %q, want %q", got, want)
	}
	if got, want := m.HTMLLinks(), []string{"https://app.example.com/x?a=1&b=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("HTML links %q, want %q", got, want)
	}
	if m.From != "app@example.com" || !reflect.DeepEqual(m.To, []string{"alice@example.com"}) || m.TLS || m.AuthUser != "" {
		t.Errorf("envelope %q → %q, TLS %v, user %q", m.From, m.To, m.TLS, m.AuthUser)
	}
	if got := len(s.Messages()); got != 1 {
		t.Errorf("%d messages kept, want 1", got)
	}
}

func TestMailServerNextTakesMessagesInOrderPerAddress(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	for i, to := range []string{"a@example.com", "b@example.com", "a@example.com"} {
		raw := fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i)
		if err := send(t, dial(t, s), to, raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []struct{ to, subject string }{{"b@example.com", "1"}, {"A@example.com", "0"}, {"a@example.com", "2"}} {
		if m := s.WaitFor(t, want.to); m.Subject != want.subject {
			t.Errorf("to %s: subject %q, want %q", want.to, m.Subject, want.subject)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if m, err := s.Next(ctx, "a@example.com"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a third message to a@: %v, %v; want none", m, err)
	}
}

func TestMailServerSTARTTLSAndAuth(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{STARTTLS: true, User: "app", Password: "pw"})
	tlsConfig := &tls.Config{ServerName: "localhost", RootCAs: s.RootCAs()}
	for _, tc := range []struct {
		name     string
		starttls bool
		auth     sasl.Client
		wantErr  bool
	}{
		{"no auth", true, nil, true},
		{"wrong password", true, sasl.NewPlainClient("", "app", "nope"), true},
		{"right password", true, sasl.NewPlainClient("", "app", "pw"), false},
		{"right password without TLS", false, sasl.NewPlainClient("", "app", "pw"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
			c, err := smtp.Dial(s.Addr)
			if tc.starttls {
				c, err = smtp.DialStartTLS(s.Addr, tlsConfig)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.auth != nil {
				err = c.Auth(tc.auth)
			}
			if err == nil {
				err = c.SendMail("app@example.com", []string{to}, strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
			}
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("got error %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if m := s.WaitFor(t, to); m.TLS != tc.starttls || m.AuthUser != "app" {
				t.Errorf("TLS %v, user %q; want %v, app", m.TLS, m.AuthUser, tc.starttls)
			}
		})
	}
	if got := s.AuthAttempts(); got != 3 {
		t.Errorf("%d AUTH attempts, want 3", got)
	}
}

func TestMailServerImplicitTLS(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, Names: []string{"mail.example.test"}})
	if !strings.HasPrefix(s.URL(), "smtps://127.0.0.1:") {
		t.Errorf("URL %q", s.URL())
	}
	if _, err := smtp.DialTLS(s.Addr, &tls.Config{ServerName: "localhost"}); err == nil {
		t.Error("the self-signed certificate verified without its pool")
	}
	c, err := smtp.DialTLS(s.Addr, &tls.Config{ServerName: "mail.example.test", RootCAs: s.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, "bob@example.com", "Subject: x\r\n\r\nhi\r\n"); err != nil {
		t.Fatal(err)
	}
	if m := s.WaitFor(t, "bob@example.com"); !m.TLS || m.Text != "hi\n" {
		t.Errorf("TLS %v, text %q", m.TLS, m.Text)
	}
}

func TestMailServerHold(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{})
	release := s.Hold()
	errc := make(chan error, 1)
	go func() { errc <- send(t, dial(t, s), "c@example.com", "Subject: x\r\n\r\nhi\r\n") }()
	s.WaitHeld(t, 1)
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages delivered while held", n)
	}
	select {
	case err := <-errc:
		t.Fatalf("the client got its answer while held: %v", err)
	default:
	}
	release()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s.WaitFor(t, "c@example.com")
}

func TestMailServerSilent(t *testing.T) {
	conn, err := net.Dial("tcp", smtptest.Silent(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); n != 0 || !ok || !ne.Timeout() {
		t.Errorf("read %d bytes, %v; want a timeout with nothing said", n, err)
	}
}

func TestMailServerParseRefusals(t *testing.T) {
	for _, tc := range []struct{ name, raw, want string }{
		{"unterminated multipart", "Content-Type: multipart/alternative; boundary=Q\r\n\r\n--Q\r\n\r\nx", "EOF"},
		{"unknown encoding", "Content-Transfer-Encoding: uuencode\r\n\r\nx", "uuencode"},
		{"other charset", "Content-Type: text/plain; charset=ISO-8859-1\r\n\r\nx", "charset"},
		{"bad media type", "Content-Type: text/\r\n\r\nx", "content type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := smtptest.Parse([]byte(tc.raw)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}
