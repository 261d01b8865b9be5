package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/latchkey/latchkey/internal/smtptest"
)

// runEnv runs the command with env as its environment and returns its
// standard output and error apart.
func runEnv(tb testing.TB, env map[string]string, args ...string) (stdout, stderr string, err error) {
	tb.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// openLink fetches u as a browser following a link from an e-mail would.
func openLink(tb testing.TB, u string) (status int, body string) {
	tb.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestMailTestCommand(t *testing.T) {
	app := startServe(t, nil, "--data", t.TempDir())
	srv := smtptest.Start(t, smtptest.Options{User: "app", Password: "s3cret"})
	env := map[string]string{"LATCHKEY_SMTP_URL": srv.URL()}
	stdout, stderr, err := runEnv(t, env, "mail", "test", "--mail-from", "Acme <no-reply@acme.example>", "--app-url", app.url+"/", "--product-name", "Acme", "alice@example.com")
	if err != nil {
		t.Fatalf("mail test: %v\n%s", err, stderr)
	}
	if want := "sent the test message to alice@example.com via smtp " + srv.Addr + ", no TLS (loopback), AUTH as app"; !strings.Contains(stdout, want) {
		t.Errorf("output %q, want %q", stdout, want)
	}
	if strings.Contains(stdout+stderr, "s3cret") {
		t.Errorf("the output shows the password:\n%s%s", stdout, stderr)
	}
	m := srv.WaitFor(t, "alice@example.com")
	if m.Subject != "Acme test message" || m.AuthUser != "app" {
		t.Errorf("subject %q, AUTH user %q", m.Subject, m.AuthUser)
	}
	links := m.TextLinks()
	if len(links) != 1 || links[0] != app.url+"/" {
		t.Fatalf("links %q, want the app URL %s/", links, app.url)
	}
	if status, body := openLink(t, links[0]); status != 200 || !strings.Contains(body, "<html") {
		t.Errorf("following the link: %d %.80q, want the SPA", status, body)
	}
}

func TestMailTestCommandRefusals(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{User: "app", Password: "s3cret"})
	wrong := strings.Replace(srv.URL(), "s3cret", "wr0ng", 1)
	tls := smtptest.Start(t, smtptest.Options{ImplicitTLS: true})
	from := []string{"--mail-from", "no-reply@acme.example"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no mail server", []string{"alice@example.com"}, "written to the log, not sent"},
		{"wrong password", append([]string{"--smtp-url", wrong, "alice@example.com"}, from...), "not sent: mail: " + srv.Addr + ": dial failed: SMTP AUTH failed"},
		{"untrusted certificate", append([]string{"--smtp-url", tls.URL(), "alice@example.com"}, from...), "certificate"},
		{"no sender", []string{"--smtp-url", srv.URL(), "alice@example.com"}, "needs --mail-from"},
		{"bad recipient", append([]string{"--smtp-url", srv.URL(), "alice"}, from...), "invalid message"},
		{"no recipient", append([]string{"--smtp-url", srv.URL()}, from...), "want one ADDRESS"},
		{"bad app URL", append([]string{"--smtp-url", srv.URL(), "--app-url", "app.example.com", "alice@example.com"}, from...), "--app-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runEnv(t, nil, append([]string{"mail", "test"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(stdout, "sent the test message") {
				t.Errorf("says it went out: %s", stdout)
			}
			for _, secret := range []string{"s3cret", "wr0ng"} {
				if strings.Contains(stdout+stderr+errString(err), secret) {
					t.Errorf("the output shows a password:\n%v\n%s%s", err, stdout, stderr)
				}
			}
		})
	}
	if n := len(srv.Messages()) + len(tls.Messages()); n != 0 {
		t.Errorf("%d messages delivered", n)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestMailTestCommandLogMailer(t *testing.T) {
	_, stderr, err := runEnv(t, nil, "mail", "test", "--app-url", "https://app.example.com", "bob@example.com")
	if err == nil {
		t.Fatal("mail test without a server reported success")
	}
	for _, want := range []string{"to=bob@example.com", `subject="latchkey test message"`, "https://app.example.com/"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log lacks %q:\n%s", want, stderr)
		}
	}
}

func TestConfigCheckMail(t *testing.T) {
	tpl := t.TempDir()
	os.WriteFile(filepath.Join(tpl, "test.txt"), []byte("Subject: hi\n\nhello\n"), 0o600)
	from := "--mail-from=Acme <no-reply@acme.example>"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"demo default", nil, nil, "mail      log (no mail server); links to http://127.0.0.1:8080/reset-password?token=…\n"},
		{"public URL", nil, []string{"--public-url", "https://acme.example"}, "links to https://acme.example/reset-password"},
		{"app URL wins", nil, []string{"--public-url", "https://acme.example", "--app-url", "https://app.acme.example/ui/"}, "links to https://app.acme.example/ui/reset-password"},
		{"cross-origin: the SPA's origin", nil, []string{"--mode", "cross-origin", "--allowed-origins", "http://localhost:5173", "--public-url", "http://localhost:8080"}, "links to http://localhost:5173/reset-password"},
		{"cross-origin, several origins", nil, []string{"--mode", "cross-origin", "--allowed-origins", "http://localhost:5173,http://localhost:5174", "--public-url", "http://localhost:8080"}, "no links can be built (set --app-url)"},
		{"listening on every address", nil, []string{"--addr", "0.0.0.0:8080"}, "no links can be built"},
		{"STARTTLS from the environment", map[string]string{"LATCHKEY_SMTP_URL": "smtp://app:s3cret@mail.acme.example"}, []string{from, "--public-url", "https://acme.example"},
			`mail      smtp mail.acme.example:587, STARTTLS required, AUTH as app, from "Acme" <no-reply@acme.example>; links to https://acme.example/`},
		{"implicit TLS", nil, []string{"--smtp-url", "smtps://mail.acme.example", from, "--public-url", "https://acme.example"}, "smtp mail.acme.example:465, implicit TLS, from"},
		{"local relay", nil, []string{"--smtp-url", "smtp://localhost:25", from}, "smtp localhost:25, no TLS (loopback), from"},
		{"templates", nil, []string{"--mail-templates", tpl}, "templates from " + tpl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runEnv(t, tc.env, append([]string{"config", "check", "--data", t.TempDir()}, tc.args...)...)
			if err != nil {
				t.Fatalf("config check: %v\n%s", err, stderr)
			}
			if !strings.Contains(stdout, tc.want) {
				t.Errorf("summary lacks %q:\n%s", tc.want, stdout)
			}
			if strings.Contains(stdout+stderr, "s3cret") {
				t.Errorf("the output shows the password:\n%s", stdout)
			}
		})
	}
}

func TestConfigCheckMailRefusals(t *testing.T) {
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "reset.html"), []byte("<p>{{.Link</p>"), 0o600)
	from := "--mail-from=no-reply@acme.example"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no sender", []string{"--smtp-url", "smtp://app:s3cret@mail.acme.example", "--public-url", "https://acme.example"}, "needs --mail-from"},
		{"bad sender", []string{"--smtp-url", "smtp://app:s3cret@mail.acme.example", "--mail-from", "acme", "--public-url", "https://acme.example"}, "--mail-from"},
		{"bad URL", []string{"--smtp-url", "smtp://app:s3cret/x@mail.acme.example", from, "--public-url", "https://acme.example"}, "--smtp-url smtp://app:xxxxx@mail.acme.example: mail: invalid URL"},
		{"plain SMTP scheme on port 465", []string{"--smtp-url", "smtp://app:s3cret@mail.acme.example:465", from, "--public-url", "https://acme.example"}, "use smtps://"},
		{"SMTP without a known app URL", []string{"--smtp-url", "smtp://app:s3cret@mail.acme.example", from, "--addr", "0.0.0.0:8080"}, "set --app-url"},
		{"SMTP with several SPA origins", []string{"--smtp-url", "smtp://app:s3cret@mail.acme.example", from, "--mode", "cross-origin", "--allowed-origins", "http://localhost:5173,http://localhost:5174", "--public-url", "http://localhost:8080"}, "set --app-url"},
		{"bad app URL", []string{"--app-url", "https://app.acme.example/?x=1"}, "--app-url"},
		{"template that does not parse", []string{"--mail-templates", bad}, "reset.html"},
		{"missing template directory", []string{"--mail-templates", filepath.Join(bad, "nope")}, "--mail-templates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, err := runEnv(t, nil, append([]string{"config", "check", "--data", t.TempDir()}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(stdout+stderr+errString(err), "s3cret") {
				t.Errorf("the output shows the password: %v", err)
			}
			if _, _, err := runEnv(t, nil, append([]string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)...); err == nil {
				t.Errorf("serve accepted it")
			}
		})
	}
}

// lockedBuffer is written by serve's logger while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeMailSummary: serve --demo uses the log mailer, and links are
// built on the port it really listens on, not the :0 it was given.
func TestServeMailSummary(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		err := run(ctx, []string{"serve", "--demo", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, func(string) string { return "" }, strings.NewReader(""), pw, &stderr)
		pw.CloseWithError(err)
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("serve did not start: %v\n%s", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	base := strings.TrimSpace(strings.TrimPrefix(line, "latchkey listening on "))
	if u, err := url.Parse(base); err != nil || u.Port() == "0" {
		t.Fatalf("listening on %q", base)
	}
	want := "mail      log (no mail server); links to " + base + "/reset-password?token=…"
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, stderr.String())
	}
	if status, body := openLink(t, base+"/reset-password?token=abc"); status != 200 || !strings.Contains(body, "<html") {
		t.Errorf("the reset link's route: %d %.80q, want the SPA", status, body)
	}
}
