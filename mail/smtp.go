package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLSMode is how the connection to a mail server is protected.
type TLSMode string

const (
	// TLSImplicit speaks TLS from the first byte (smtps://, port 465).
	TLSImplicit TLSMode = "implicit TLS"
	// TLSStartTLS upgrades with STARTTLS and fails if the server does not
	// offer it or its certificate does not verify (smtp:// to any host
	// that is not loopback).
	TLSStartTLS TLSMode = "STARTTLS required"
	// TLSNone is plain text, only ever chosen for a loopback host, where
	// the connection never leaves the machine (and a local relay's
	// certificate, such as Debian's snakeoil one, would not verify).
	TLSNone TLSMode = "no TLS (loopback)"
)

// ChooseTLS decides how to protect a connection to host for a URL scheme:
// implicit TLS for smtps, STARTTLS required for smtp to any host but a
// loopback one, plain text to loopback. Loopback is decided from the name
// alone ("localhost" or a loopback IP address), never from what a name
// resolves to. Plain text, and so AUTH in plain text, to any other host is
// never chosen.
func ChooseTLS(scheme, host string) (TLSMode, error) {
	switch scheme {
	case "smtps":
		return TLSImplicit, nil
	case "smtp":
		if isLoopback(host) {
			return TLSNone, nil
		}
		return TLSStartTLS, nil
	}
	return "", fmt.Errorf("%w: scheme %q: want smtp:// (STARTTLS) or smtps:// (implicit TLS)", ErrInvalidURL, scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint is a parsed SMTP URL.
type Endpoint struct {
	Host     string
	Port     int
	TLS      TLSMode
	Username string // "" for no AUTH
	Password string
}

// String describes e for logs and summaries, without the password.
func (e Endpoint) String() string {
	s := net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) + ", " + string(e.TLS)
	if e.Username != "" {
		s += ", AUTH as " + e.Username
	}
	return s
}

// ParseURL parses smtp://[USER:PASSWORD@]HOST[:PORT] (port 587, STARTTLS
// required unless HOST is loopback) or smtps://… (port 465, implicit TLS).
// USER and PASSWORD are percent-encoded. Errors wrap ErrInvalidURL and
// never contain the password.
func ParseURL(raw string) (Endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, and pieces of a password with an
		// unencoded / can appear as a "port": say nothing of it.
		return Endpoint{}, fmt.Errorf("%w: does not parse as smtp[s]://[USER:PASSWORD@]HOST[:PORT] (percent-encode /, ?, # and @ in the password)", ErrInvalidURL)
	}
	mode, err := ChooseTLS(u.Scheme, u.Hostname())
	if err != nil {
		return Endpoint{}, err
	}
	e := Endpoint{Host: u.Hostname(), TLS: mode, Port: 587}
	if mode == TLSImplicit {
		e.Port = 465
	}
	switch {
	case e.Host == "":
		return Endpoint{}, fmt.Errorf("%w: no host", ErrInvalidURL)
	case u.Opaque != "" || (u.Path != "" && u.Path != "/"):
		return Endpoint{}, fmt.Errorf("%w: want no path after the host", ErrInvalidURL)
	case u.RawQuery != "" || u.Fragment != "":
		return Endpoint{}, fmt.Errorf("%w: want no query or fragment", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		if e.Port, err = strconv.Atoi(p); err != nil || e.Port < 1 || e.Port > 65535 {
			return Endpoint{}, fmt.Errorf("%w: port %q", ErrInvalidURL, p)
		}
	}
	// The wrong scheme for the port would stall until the timeout.
	if e.Port == 465 && mode != TLSImplicit {
		return Endpoint{}, fmt.Errorf("%w: port 465 speaks implicit TLS: use smtps://", ErrInvalidURL)
	}
	if e.Port == 587 && mode == TLSImplicit {
		return Endpoint{}, fmt.Errorf("%w: port 587 speaks STARTTLS: use smtp://", ErrInvalidURL)
	}
	if u.User != nil {
		e.Username = u.User.Username()
		pw, ok := u.User.Password()
		if e.Username == "" || !ok || pw == "" {
			return Endpoint{}, fmt.Errorf("%w: AUTH needs both USER and PASSWORD", ErrInvalidURL)
		}
		e.Password = pw
	}
	return e, nil
}

// SMTPOptions tune an SMTP mailer; the zero value is the default.
type SMTPOptions struct {
	// DialTimeout bounds connecting (and the TLS handshake of smtps).
	// Default 10s.
	DialTimeout time.Duration
	// SendTimeout bounds one whole Send: connecting, TLS, AUTH and
	// delivery. Default 30s.
	SendTimeout time.Duration
	// RootCAs verify the server's certificate. Default: the system's.
	RootCAs *x509.CertPool
	// Dial opens the TCP connection. Default net.Dialer. The host name
	// (for TLS, AUTH and the loopback decision) is still the URL's.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// SMTP is a Mailer that delivers through an SMTP server, one connection
// per message, with github.com/wneessen/go-mail. It is safe for
// concurrent use.
type SMTP struct {
	ep         Endpoint
	from       string
	fromDomain string
	opts       SMTPOptions
}

var _ Mailer = (*SMTP)(nil)

// NewSMTP returns an SMTP mailer for the server at rawURL (see ParseURL)
// sending as from ("Name <address>" or a bare address). It does not
// connect: "latchkey mail test" does, to check the settings.
func NewSMTP(rawURL, from string, opts SMTPOptions) (*SMTP, error) {
	ep, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	addr, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidFrom, from, err)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = 30 * time.Second
	}
	if opts.Dial == nil {
		opts.Dial = (&net.Dialer{}).DialContext
	}
	return &SMTP{ep: ep, from: addr.String(), fromDomain: recipientDomain(addr.Address), opts: opts}, nil
}

// String describes the mailer for a settings summary, without the password.
func (s *SMTP) String() string { return "smtp " + s.ep.String() + ", from " + s.from }

// Send delivers m and returns when the server has accepted it, or with an
// error when it has not; within SendTimeout (ErrTimeout) or when ctx ends.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	defer cancel() // also closes the connection, see dial
	msg, err := s.message(m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.ep.Host, s.clientOptions(ctx)...)
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		addr := net.JoinHostPort(s.ep.Host, strconv.Itoa(s.ep.Port))
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			// err is then only the closed connection's.
			return fmt.Errorf("%w: %s did not finish in time", ErrTimeout, addr)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return fmt.Errorf("%w: %s: %w", ErrTimeout, addr, err)
		case ctx.Err() != nil:
			return fmt.Errorf("mail: %s: %w", addr, ctx.Err())
		}
		return fmt.Errorf("mail: %s: %w", addr, err)
	}
	return nil
}

func (s *SMTP) message(m Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := msg.From(s.from); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidFrom, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	// The sender's domain, not this machine's name, which Message-ID
	// would otherwise reveal.
	msg.SetMessageIDWithValue(rand.Text() + "@" + s.fromDomain)
	msg.SetGenHeader("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

func (s *SMTP) clientOptions(sendCtx context.Context) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithPort(s.ep.Port),
		gomail.WithTimeout(s.opts.SendTimeout),
		gomail.WithTLSConfig(s.tlsConfig()),
		gomail.WithDialContextFunc(s.dial(sendCtx)),
	}
	switch s.ep.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL()) // the handshake is in dial
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.ep.Username != "" {
		opts = append(opts,
			gomail.WithUsername(s.ep.Username),
			gomail.WithPassword(s.ep.Password),
			gomail.WithOpportunisticSMTPAuth(authMechanisms(s.ep.TLS)...))
	}
	return opts
}

// authMechanisms are the AUTH mechanisms to try, best first. PLAIN and
// LOGIN send the password as it is, so go-mail refuses them without TLS;
// only for a loopback host are their no-TLS variants allowed.
func authMechanisms(mode TLSMode) []gomail.SMTPAuthType {
	if mode == TLSNone {
		return []gomail.SMTPAuthType{gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
	}
	return []gomail.SMTPAuthType{gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.ep.Host, MinVersion: tls.VersionTLS12, RootCAs: s.opts.RootCAs}
}

// dial connects to the server (with the TLS handshake for smtps), and
// closes the connection when sendCtx ends: go-mail bounds each command,
// this bounds the whole Send, however the server dribbles its replies.
func (s *SMTP) dial(sendCtx context.Context) gomail.DialContextFunc {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		// go-mail's address would be wrong for an IPv6 literal.
		addr := net.JoinHostPort(s.ep.Host, strconv.Itoa(s.ep.Port))
		ctx, cancel := context.WithTimeout(ctx, s.opts.DialTimeout)
		defer cancel()
		raw, err := s.opts.Dial(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(sendCtx, func() { raw.Close() })
		if s.ep.TLS != TLSImplicit {
			return raw, nil
		}
		conn := tls.Client(raw, s.tlsConfig())
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return conn, nil
	}
}
