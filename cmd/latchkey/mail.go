package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/mail"
)

// mailOptions are the flags that choose the mailer and what the messages say.
type mailOptions struct {
	smtpURL   string
	from      string
	appURL    string
	templates string
	product   string
}

func (m *mailOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&m.smtpURL, "smtp-url", "", "mail server: smtp://USER:PASSWORD@HOST:587 (STARTTLS required unless HOST is loopback) or smtps://USER:PASSWORD@HOST:465 (implicit TLS); better set as LATCHKEY_SMTP_URL, which ps does not show (default: none, messages are written to the log)")
	fs.StringVar(&m.from, "mail-from", "", `sender of the e-mail, e.g. "Acme <no-reply@acme.example>"; needed with --smtp-url`)
	fs.StringVar(&m.appURL, "app-url", "", "the SPA's URL, on which links in e-mail are built (/reset-password?token=…) (default: --public-url, or the allowed origin in cross-origin mode, or from --addr)")
	fs.StringVar(&m.templates, "mail-templates", "", "directory with e-mail templates that replace the built-in ones: reset.txt, reset.html, verify.*, confirm-email.*, password-changed.*, email-changed.*, test.*")
	fs.StringVar(&m.product, "product-name", "latchkey", "what the e-mail calls the service")
}

// mailer returns the mailer the flags choose, not yet queued: SMTP with
// --smtp-url, else the log. Errors never show the SMTP password.
func (m *mailOptions) mailer(log *slog.Logger) (mail.Mailer, error) {
	if m.smtpURL == "" {
		return mail.NewLog(log), nil
	}
	if m.from == "" {
		return nil, errors.New("--smtp-url needs --mail-from, the address the e-mail comes from")
	}
	s, err := mail.NewSMTP(m.smtpURL, m.from, mail.SMTPOptions{})
	if errors.Is(err, mail.ErrInvalidFrom) {
		return nil, fmt.Errorf("--mail-from: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("--smtp-url %s: %w", redactURL(m.smtpURL), err)
	}
	return s, nil
}

// apply puts the mail settings into cfg, after the deployment's; addr is
// the listen address. The mailer itself is left to the caller.
func (m *mailOptions) apply(cfg *latchkey.Config, addr string) error {
	cfg.ProductName = m.product
	cfg.AppURL = m.appURL
	if cfg.AppURL == "" {
		cfg.AppURL = defaultAppURL(*cfg, addr)
	}
	if cfg.AppURL == "" && m.smtpURL != "" {
		return errors.New("links in e-mail need the SPA's URL, which latchkey cannot tell from the other flags: set --app-url")
	}
	t, err := m.loadTemplates()
	if err != nil {
		return err
	}
	cfg.MailTemplates = t
	return nil
}

// loadTemplates checks --app-url, if given, and loads --mail-templates.
func (m *mailOptions) loadTemplates() (*mail.Templates, error) {
	if m.appURL != "" {
		if err := mail.CheckAppURL(m.appURL); err != nil {
			return nil, fmt.Errorf("--app-url: %w", err)
		}
	}
	t, err := mail.LoadTemplates(m.templates)
	if err != nil {
		return nil, fmt.Errorf("--mail-templates %s: %w", m.templates, err)
	}
	return t, nil
}

// defaultAppURL is where the SPA is when --app-url is not given: the one
// allowed origin in cross-origin mode (none if there are several), else
// the public URL, else the listen address if it names a host.
func defaultAppURL(cfg latchkey.Config, addr string) string {
	switch {
	case len(cfg.AllowedOrigins) == 1:
		return cfg.AllowedOrigins[0]
	case len(cfg.AllowedOrigins) > 1:
		return ""
	case cfg.PublicURL != "":
		return cfg.PublicURL
	}
	u, _ := publicURLFromAddr(addr, cfg.ServesTLS)
	return u
}

// mailSummary is the summary's mail line.
func mailSummary(cfg latchkey.Config, templates string) string {
	s := fmt.Sprint(cfg.Mailer)
	if cfg.AppURL != "" && cfg.LinkPages {
		s += "; links to the hosted pages, " + cfg.AppURL + cfg.PagesPrefix + latchkey.PageReset + "?token=…"
	} else if cfg.AppURL != "" {
		s += "; links to " + cfg.AppURL + "/reset-password?token=…"
	} else {
		s += "; no links can be built (set --app-url)"
	}
	if templates != "" {
		s += "; templates from " + templates
	}
	return s
}

const mailUsage = `usage: latchkey mail test ADDRESS [--smtp-url URL] [--mail-from FROM] [--app-url URL] [--mail-templates DIR]

Sends the test message to ADDRESS through the mailer serve would use with
the same flags (and LATCHKEY_* variables), and says whether it went out.`

// mailCmd runs "mail test".
func mailCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "test" {
		fmt.Fprintln(stderr, mailUsage)
		return errors.New("mail: want the subcommand test")
	}
	fs := newFlagSet("mail test", stderr)
	var m mailOptions
	m.register(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	var addrs []string // flags may follow the address too
	for fs.NArg() > 0 {
		addrs = append(addrs, fs.Arg(0))
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return err
		}
	}
	if len(addrs) != 1 {
		fmt.Fprintln(stderr, mailUsage)
		return errors.New("mail test: want one ADDRESS")
	}
	to := addrs[0]
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	mailer, err := m.mailer(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
	if err != nil {
		return err
	}
	t, err := m.loadTemplates()
	if err != nil {
		return err
	}
	d := mail.Data{To: to, Product: m.product, AppURL: strings.TrimRight(m.appURL, "/")}
	if d.AppURL != "" {
		d.Link, _ = mail.Link(d.AppURL, mail.KindTest.Route(), "")
	}
	msg, err := t.Render(mail.KindTest, d)
	if err != nil {
		return err
	}
	if err := mailer.Send(ctx, msg); err != nil {
		return fmt.Errorf("the test message was not sent: %w", err)
	}
	if _, logged := mailer.(*mail.Log); logged {
		return errors.New("the test message was written to the log, not sent: no mail server is set (--smtp-url or LATCHKEY_SMTP_URL)")
	}
	fmt.Fprintf(stdout, "sent the test message to %s via %s\n", to, mailer)
	return nil
}
