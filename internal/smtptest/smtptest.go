// Package smtptest runs a real SMTP server in the test process, on
// 127.0.0.1 and a free port, built with github.com/emersion/go-smtp. It
// can offer STARTTLS or speak implicit TLS with a self-signed certificate,
// and require AUTH PLAIN. It keeps what it is sent, parsed into text and
// HTML parts, so tests can read a delivered message and follow its links.
package smtptest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options say what the server offers; the zero value is plain SMTP, no AUTH.
type Options struct {
	// STARTTLS offers STARTTLS with a self-signed certificate.
	STARTTLS bool
	// ImplicitTLS speaks TLS from the first byte, as on port 465.
	ImplicitTLS bool
	// Names are DNS names the certificate covers besides localhost,
	// 127.0.0.1 and ::1 (for a client that dials a made-up host name).
	Names []string
	// User and Password, when set, make the server offer AUTH PLAIN (also
	// without TLS) and refuse mail from a client that has not logged in
	// with them.
	User, Password string
}

// Server is a running SMTP server. Its methods are safe for concurrent use.
type Server struct {
	// Addr is the host:port it listens on.
	Addr string

	opts Options
	srv  *smtp.Server
	pool *x509.CertPool

	mu       sync.Mutex
	all      []*Message
	pending  []*Message    // not yet taken by Next
	changed  chan struct{} // closed and replaced on every change
	auths    int
	hold     chan struct{} // non-nil while Hold is on
	held     int
	shutdown bool
}

// Start starts a server that stops when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	s := &Server{opts: opts, changed: make(chan struct{})}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil })
	s.srv = smtp.NewServer(be)
	s.srv.Domain = "smtptest.localhost"
	s.srv.AllowInsecureAuth = true // so tests can see a client refuse it
	s.srv.ReadTimeout, s.srv.WriteTimeout = time.Minute, time.Minute
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	if opts.STARTTLS || opts.ImplicitTLS {
		cfg, pool, err := selfSigned(opts.Names)
		if err != nil {
			ln.Close()
			tb.Fatalf("smtptest: certificate: %v", err)
		}
		s.pool = pool
		if opts.ImplicitTLS {
			ln = tls.NewListener(ln, cfg)
		} else {
			s.srv.TLSConfig = cfg
		}
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	tb.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	s.mu.Lock()
	s.shutdown = true
	if s.hold != nil {
		close(s.hold)
		s.hold = nil
	}
	s.mu.Unlock()
	s.srv.Close()
}

// URL is smtp://[USER:PASSWORD@]Addr, or smtps:// with ImplicitTLS.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if s.opts.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.opts.User != "" {
		u.User = url.UserPassword(s.opts.User, s.opts.Password)
	}
	return u.String()
}

// RootCAs trust the server's certificate; nil without TLS.
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// Messages returns every message delivered so far, in order.
func (s *Server) Messages() []*Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Message(nil), s.all...)
}

// AuthAttempts is how many AUTH exchanges clients began, successful or not.
func (s *Server) AuthAttempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// Next returns the oldest message to the address to that no earlier call
// returned, waiting for one until ctx ends.
func (s *Server) Next(ctx context.Context, to string) (*Message, error) {
	for {
		s.mu.Lock()
		for i, m := range s.pending {
			if m.sentTo(to) {
				s.pending = append(s.pending[:i:i], s.pending[i+1:]...)
				s.mu.Unlock()
				return m, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("smtptest: no message to %s: %w", to, ctx.Err())
		case <-changed:
		}
	}
}

// WaitFor is Next with a 10 s limit that fails the test when it is reached.
func (s *Server) WaitFor(tb testing.TB, to string) *Message {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Next(ctx, to)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Hold makes the server slow: each message is read but not answered (the
// client waits for the reply to DATA) until release is called, or the
// server stops. WaitHeld tells when messages are waiting.
func (s *Server) Hold() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil && !s.shutdown {
		s.hold = make(chan struct{})
	}
	h := s.hold
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.hold == h && h != nil {
			close(h)
			s.hold = nil
		}
	}
}

// WaitHeld waits until n messages are held by Hold, failing the test after 10 s.
func (s *Server) WaitHeld(tb testing.TB, n int) {
	tb.Helper()
	timeout := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		held, changed := s.held, s.changed
		s.mu.Unlock()
		if held >= n {
			return
		}
		select {
		case <-timeout:
			tb.Fatalf("smtptest: %d messages held, want %d", held, n)
		case <-changed:
		}
	}
}

// notify wakes the waiters; s.mu must be held.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type session struct {
	s        *Server
	c        *smtp.Conn
	authUser string
	from     string
	to       []string
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.User == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	ss.s.mu.Lock()
	ss.s.auths++
	ss.s.mu.Unlock()
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.s.opts.User == "" || user != ss.s.opts.User || pass != ss.s.opts.Password {
			return errors.New("invalid username or password")
		}
		ss.authUser = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.User != "" && ss.authUser == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := Parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: err.Error()}
	}
	m.From, m.To, m.AuthUser = ss.from, ss.to, ss.authUser
	_, m.TLS = ss.c.TLSConnectionState()
	s := ss.s
	s.mu.Lock()
	if h := s.hold; h != nil {
		s.held++
		s.notify()
		s.mu.Unlock()
		<-h
		s.mu.Lock()
		s.held--
	}
	s.all = append(s.all, m)
	s.pending = append(s.pending, m)
	s.notify()
	s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// Silent starts a TCP listener on 127.0.0.1 that accepts connections and
// never says anything, like a mail server that hangs; it returns its
// address. It stops when the test ends.
func Silent(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("smtptest: %v", err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// selfSigned makes a certificate for localhost, 127.0.0.1, ::1 and names,
// and a pool that trusts it.
func selfSigned(names []string) (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		DNSNames:              append([]string{"localhost"}, names...),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}, pool, nil
}

// sentTo says whether m's envelope names the address to.
func (m *Message) sentTo(to string) bool {
	for _, r := range m.To {
		if strings.EqualFold(r, to) {
			return true
		}
	}
	return false
}
