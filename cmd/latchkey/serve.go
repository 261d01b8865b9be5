package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/pages"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/spa"
	"github.com/latchkey/latchkey/web"
)

// options are the settings shared by serve and the user commands.
type options struct {
	data       string
	secretFile string
	logLevel   string
	cfg        latchkey.Config
	sameSite   string
	protection string
	stores     storeOptions
	jwt        jwtOptions
	mailLinks  string
}

func (o *options) register(fs *flag.FlagSet) {
	def := password.DefaultParams()
	o.cfg.Argon2 = def
	fs.StringVar(&o.data, "data", "./latchkey-data", "data directory (SQLite database, generated secret)")
	fs.StringVar(&o.secretFile, "secret-file", "", "file with secret keys, one per line, first signs (default: LATCHKEY_SECRET, else DATA/secret)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.cfg.APIPrefix, "api-prefix", "/api", "path prefix of the JSON API")
	fs.StringVar(&o.cfg.PagesPrefix, "pages-prefix", "/auth", "path prefix of the hosted pages (login, register, forgot, reset, verify, confirm, logout)")
	fs.StringVar(&o.mailLinks, "mail-links", "", "what links in e-mail open: spa (the SPA's /reset-password…) or pages (the hosted pages' /auth/reset…) (default: pages with --require-login, else spa)")
	fs.BoolVar(&o.cfg.Secure, "cookie-secure", false, "always set Secure (and __Host-) cookies; otherwise only over TLS")
	fs.StringVar(&o.sameSite, "same-site", "", "cookie SameSite: strict, lax or none (default: strict; lax or none in cross-origin mode, from the origins)")
	fs.StringVar(&o.protection, "session-protection", "basic", "on User-Agent change: off, basic (mark non-fresh) or strong (log out)")
	fs.Func("clear-site-data", `Clear-Site-Data types a logout asks the browser to clear, comma-separated, e.g. "storage,cache" (default none). "cookies" clears the cookies of the whole site and its subdomains: every other app on *.example.com or localhost too`, func(s string) error {
		for _, t := range strings.Split(s, ",") {
			if t = strings.Trim(strings.TrimSpace(t), `"`); t != "" {
				o.cfg.ClearSiteData = append(o.cfg.ClearSiteData, t)
			}
		}
		return nil
	})
	fs.IntVar(&o.cfg.MaxSessionsPerUser, "max-sessions-per-user", 100, "live sessions one user may have; a login past it ends the oldest (-1: no cap)")
	fs.DurationVar(&o.cfg.IdleTimeout, "idle-timeout", 2*time.Hour, "session idle timeout")
	fs.DurationVar(&o.cfg.AbsoluteTimeout, "absolute-timeout", 24*time.Hour, "session absolute lifetime")
	fs.DurationVar(&o.cfg.RememberIdleTimeout, "remember-idle-timeout", 14*24*time.Hour, "idle timeout with \"remember me\"")
	fs.DurationVar(&o.cfg.RememberAbsoluteTimeout, "remember-absolute-timeout", 30*24*time.Hour, "absolute lifetime with \"remember me\"")
	fs.Func("argon2-memory", fmt.Sprintf("argon2id memory in KiB (default %d)", def.Memory), uintFlag(&o.cfg.Argon2.Memory))
	fs.Func("argon2-time", fmt.Sprintf("argon2id iterations (default %d)", def.Time), uintFlag(&o.cfg.Argon2.Time))
	fs.Func("argon2-threads", fmt.Sprintf("argon2id parallelism (default %d)", def.Threads), func(s string) error {
		var v uint32
		if err := uintFlag(&v)(s); err != nil || v > 255 {
			return errors.New("want 1..255")
		}
		o.cfg.Argon2.Threads = uint8(v)
		return nil
	})
	fs.IntVar(&o.cfg.MaxConcurrentHashes, "max-concurrent-hashes", 0, "password hashes computed at once (default: number of CPUs, at least 2)")
	fs.IntVar(&o.cfg.LoginBurst, "login-burst", 20, "failed logins one client may make for one username before it gets 429 too_many_attempts")
	fs.DurationVar(&o.cfg.LoginRefill, "login-refill", 3*time.Second, "after --login-burst failures, one more login attempt is allowed every this long")
	fs.IntVar(&o.cfg.LoginIPBurst, "login-ip-burst", 100, "failed logins one client (IPv4 address, IPv6 /64) may make across all usernames before it gets 429 too_many_attempts")
	fs.DurationVar(&o.cfg.LoginIPRefill, "login-ip-refill", time.Minute, "after --login-ip-burst failures, one more login attempt is allowed every this long")
	fs.IntVar(&o.cfg.RegisterBurst, "register-burst", 25, "registrations, successful or not, one client may attempt before it gets 429 too_many_attempts")
	fs.DurationVar(&o.cfg.RegisterRefill, "register-refill", 12*time.Second, "after --register-burst registrations, one more is allowed every this long")
	fs.BoolVar(&o.cfg.EmailLoginSignUp, "email-login-signup", false, "let POST /api/login/email create an account for an address no account has, verified once its link or code signs in (default off)")
	fs.BoolVar(&o.cfg.RequireVerifiedEmail, "require-verified-email", false, "refuse logins (403 email_unverified, a new link is mailed) until the account's address is verified; registration then needs an address (default off)")
	fs.DurationVar(&o.cfg.FreshLoginWindow, "fresh-login-window", 10*time.Minute, "how young a password login must be to change the address or delete the account without typing the password again, and to use the admin API")
	fs.StringVar(&o.cfg.PasskeyRPID, "passkey-rp-id", "", "the WebAuthn relying party id passkeys belong to: a domain every passkey origin is on (default: the SPA's host)")
	fs.Func("passkey-origins", "comma-separated origins passkey ceremonies may run in (default: the SPA's, and latchkey's and the allowed origins on the relying party)", func(s string) error {
		for _, o2 := range strings.Split(s, ",") {
			if o2 = strings.TrimSpace(o2); o2 != "" {
				o.cfg.PasskeyOrigins = append(o.cfg.PasskeyOrigins, o2)
			}
		}
		return nil
	})
	fs.DurationVar(&o.cfg.EventRetention, "event-retention", 90*24*time.Hour, "how long security events (a user's activity, the admin API's history) are kept")
	fs.DurationVar(&o.cfg.ResetTokenTTL, "reset-link-ttl", time.Hour, "how long a password reset link works (mailed, or printed by user reset-link)")
	fs.DurationVar(&o.cfg.VerifyTokenTTL, "verify-link-ttl", 24*time.Hour, "how long an address verification or change-of-address link works")
	fs.IntVar(&o.cfg.MailAddressBurst, "mail-address-burst", 5, "mails that may go to one address before it gets 429 too_many_emails")
	fs.DurationVar(&o.cfg.MailAddressRefill, "mail-address-refill", 12*time.Second, "after --mail-address-burst mails, one more to that address is allowed every this long")
	fs.IntVar(&o.cfg.MailClientBurst, "mail-client-burst", 20, "mails one client (IPv4 address, IPv6 /64) may ask for, across addresses, before it gets 429 too_many_emails")
	fs.DurationVar(&o.cfg.MailClientRefill, "mail-client-refill", 3*time.Second, "after --mail-client-burst mails, one more is allowed every this long")
	fs.DurationVar(&o.cfg.MailCooldown, "mail-cooldown", 2*time.Minute, "the same kind of mail goes to one user at most once per this long")
	o.stores.register(fs)
	o.jwt.register(fs, &o.cfg)
}

func uintFlag(p *uint32) func(string) error {
	return func(s string) error {
		var v uint32
		if _, err := fmt.Sscanf(s, "%d", &v); err != nil || fmt.Sprint(v) != s {
			return errors.New("want a positive whole number")
		}
		*p = v
		return nil
	}
}

// config finishes cfg from the string flags.
func (o *options) config(stderr io.Writer) (latchkey.Config, error) {
	cfg := o.cfg
	ss, err := latchkey.ParseSameSite(o.sameSite)
	if err != nil {
		return cfg, err
	}
	cfg.SameSite = ss
	cfg.Protection = latchkey.SessionProtection(strings.ToLower(o.protection))
	// Config reads 0 as "the default": refuse it here, where it was typed.
	for _, b := range []struct {
		name   string
		burst  int
		refill time.Duration
	}{
		{"login", cfg.LoginBurst, cfg.LoginRefill},
		{"login-ip", cfg.LoginIPBurst, cfg.LoginIPRefill},
		{"register", cfg.RegisterBurst, cfg.RegisterRefill},
		{"mail-address", cfg.MailAddressBurst, cfg.MailAddressRefill},
		{"mail-client", cfg.MailClientBurst, cfg.MailClientRefill},
	} {
		if b.burst < 1 {
			return cfg, fmt.Errorf("--%s-burst %d: want at least 1", b.name, b.burst)
		}
		if b.refill <= 0 {
			return cfg, fmt.Errorf("--%s-refill %v: want a positive duration", b.name, b.refill)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"fresh-login-window", cfg.FreshLoginWindow},
		{"event-retention", cfg.EventRetention},
		{"reset-link-ttl", cfg.ResetTokenTTL},
		{"verify-link-ttl", cfg.VerifyTokenTTL},
		{"mail-cooldown", cfg.MailCooldown},
	} {
		if d.v <= 0 {
			return cfg, fmt.Errorf("--%s %v: want a positive duration", d.name, d.v)
		}
	}
	if cfg.MaxSessionsPerUser < 1 && cfg.MaxSessionsPerUser != -1 {
		return cfg, fmt.Errorf("--max-sessions-per-user %d: want at least 1, or -1 for no cap", cfg.MaxSessionsPerUser)
	}
	if err := o.jwt.apply(&cfg); err != nil {
		return cfg, err
	}
	switch o.mailLinks {
	case "", "spa":
	case "pages":
		cfg.LinkPages = true
	default:
		return cfg, fmt.Errorf("--mail-links %q: want spa or pages", o.mailLinks)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// serveSetup is everything the serve flags decide.
type serveSetup struct {
	o        options
	d        deployment
	mail     mailOptions
	metrics  metricsOptions
	addr     string
	demo     bool
	shutdown time.Duration
	cfg      latchkey.Config // cfg.Mailer is the unqueued mailer
}

// parseServe parses and checks the serve flags; config check uses it too.
func parseServe(args []string, getenv func(string) string, stderr io.Writer) (*serveSetup, error) {
	fs := newFlagSet("serve", stderr)
	s := &serveSetup{}
	s.o.register(fs)
	s.d.register(fs)
	s.mail.register(fs)
	s.metrics.register(fs)
	fs.StringVar(&s.addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.BoolVar(&s.demo, "demo", false, "create the demo account test/test if missing (never in production)")
	fs.DurationVar(&s.shutdown, "shutdown-timeout", 15*time.Second, "how long SIGINT/SIGTERM waits for in-flight requests")
	if err := parseFlags(fs, args, getenv); err != nil {
		return nil, err
	}
	cfg, err := s.o.config(stderr)
	if err != nil {
		return nil, err
	}
	if err := s.d.apply(&cfg, s.addr); err != nil {
		return nil, err
	}
	if s.d.requireLogin && s.o.mailLinks == "" {
		cfg.LinkPages = true // no SPA to open them
	}
	if err := s.mail.apply(&cfg, s.addr); err != nil {
		return nil, err
	}
	if err := s.metrics.apply(&cfg); err != nil {
		return nil, err
	}
	if cfg.Mailer, err = s.mail.mailer(cfg.Logger); err != nil {
		return nil, err
	}
	s.cfg = cfg
	return s, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	s, err := parseServe(args, getenv, stderr)
	if err != nil {
		return err
	}
	cfg, o := s.cfg, &s.o
	log := cfg.Logger
	if err := s.checkFrontend(); err != nil {
		return err
	}
	if err := o.checkSharedSecret(getenv("LATCHKEY_SECRET")); err != nil {
		return err
	}
	st, err := o.openStores(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	log.Info("stores opened", "users", redactURL(o.stores.userStore), "sessions", redactURL(cmp.Or(o.stores.sessionStore, o.stores.userStore)))
	keys, source, err := loadSecrets(getenv("LATCHKEY_SECRET"), o.secretFile, o.data)
	if err != nil {
		return err
	}
	cfg.Secrets = keys
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	if fromAddr, _ := publicURLFromAddr(s.addr, cfg.ServesTLS); s.mail.appURL == "" && fromAddr != "" && cfg.AppURL == fromAddr {
		cfg.AppURL, _ = publicURLFromAddr(ln.Addr().String(), cfg.ServesTLS) // the port :0 chose
	}
	// Requests hand mail to the queue and never wait for the server.
	outbox := mail.NewQueue(cfg.Mailer, mail.QueueOptions{Logger: log})
	defer closeOutbox(outbox, log, s.shutdown) // on early returns; a no-op after the drain below
	cfg.Mailer = outbox
	auth, err := latchkey.New(cfg, st.users, st.sessions)
	if err != nil {
		return err
	}
	front, err := s.frontend(auth, log)
	if err != nil {
		return err
	}
	hosted, err := pages.Handler(auth, pages.Options{Dir: s.d.pagesDir, Logger: log})
	if err != nil {
		return fmt.Errorf("--pages-dir: %w", err)
	}
	if s.demo {
		created, err := auth.EnsureDemoUser(ctx)
		if err != nil {
			return fmt.Errorf("demo user: %w", err)
		}
		fmt.Fprintln(stderr, "WARNING: demo mode: the account test / test exists (created now: "+fmt.Sprint(created)+"). Never use --demo in production.")
	}

	srv := &http.Server{
		Handler:           logRequests(log, newMux(auth, front, hosted, s.metrics.onMain(auth))),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20, // oversized cookies then read as logged out rather than 431
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("latchkey starting", "version", version, "data", o.data, "secret", source)
	printSummary(stderr, &s.d, &s.mail, auth.Config(), ln.Addr().String())
	scheme := "http"
	if cfg.ServesTLS {
		scheme = "https"
	}
	fmt.Fprintf(stdout, "latchkey listening on %s://%s\n", scheme, ln.Addr())
	stopMetrics, err := s.metrics.serve(auth, log, stdout, scheme+"://"+ln.Addr().String())
	if err != nil {
		return err
	}
	defer stopMetrics()

	pruneCtx, stopPrune := context.WithCancel(ctx)
	defer stopPrune()
	if p, ok := st.sessions.(latchkey.SessionPruner); ok {
		go prune(pruneCtx, log, p, 10*time.Minute)
	}
	go pruneEvents(pruneCtx, log, auth, time.Hour)

	errc := make(chan error, 1)
	go func() {
		if cfg.ServesTLS {
			errc <- srv.ServeTLS(ln, s.d.tlsCert, s.d.tlsKey) // HTTP/2 is negotiated by ALPN
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", s.shutdown)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// Mail the last requests made still goes out, within what is left.
	if err := auth.Wait(sctx); err != nil {
		log.Warn("shutting down: account mail still being prepared was dropped", "err", err)
	}
	if err := outbox.Close(sctx); err != nil {
		log.Warn("shutting down: mail still queued was not sent", "err", err)
	}
	return nil
}

// closeOutbox closes the mail queue, waiting at most timeout.
func closeOutbox(q *mail.Queue, log *slog.Logger, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		log.Warn("mail still queued was not sent", "err", err)
	}
}

// checkFrontend checks the SPA settings before anything is opened.
func (s *serveSetup) checkFrontend() error {
	if s.d.spaDir == "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(s.d.spaDir, "index.html")); err != nil {
		return fmt.Errorf("--spa-dir %s: no index.html there (%w); point it at your SPA's build output", s.d.spaDir, err)
	}
	return nil
}

// frontend returns what serves the non-API paths for the mode, or nil when
// latchkey serves only the API (unknown paths get a JSON 404).
func (s *serveSetup) frontend(auth *latchkey.Auth, log *slog.Logger) (http.Handler, error) {
	switch {
	case s.d.mode == modeEmbedded:
		files := web.Files()
		if s.d.spaDir != "" {
			// os.Root keeps symlinks from leading out of the directory.
			root, err := os.OpenRoot(s.d.spaDir)
			if err != nil {
				return nil, fmt.Errorf("--spa-dir: %w", err)
			}
			files = root.FS()
		}
		return spa.Handler(files, spa.Options{CSRFToken: auth.CSRFToken, CSP: s.d.csp, Logger: log}), nil
	case s.d.spaUpstream != "":
		u, _ := url.Parse(s.d.spaUpstream) // checked by deployment.apply
		opts := spa.ProxyOptions{
			TrustForwarded: auth.FromTrustedProxy,
			AllowedOrigins: auth.Config().AllowedOrigins,
			StripCookies:   latchkey.OwnCookieNames(),
			Logger:         log,
		}
		if !s.d.requireLogin {
			return spa.Proxy(u, opts)
		}
		// The upstream is the application latchkey fronts: it learns who
		// is calling.
		opts.Headers = latchkey.IdentityHeaders
		app, err := spa.Proxy(u, opts)
		if err != nil {
			return nil, err
		}
		return auth.RequireLogin(app, s.d.publicList()...), nil
	}
	return nil, nil
}

// newMux puts the API, the hosted pages, health checks, the metrics (if
// not nil) and the frontend together, all with the security headers.
func newMux(auth *latchkey.Auth, front, hosted, metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	api := auth.Handler()
	prefix := auth.Config().APIPrefix
	mux.Handle(prefix+"/", api)
	mux.Handle(prefix, api)
	if hosted != nil {
		mux.Handle(auth.Config().PagesPrefix+"/", hosted)
		mux.Handle(auth.Config().PagesPrefix, hosted)
	}
	if front == nil {
		front = api // unknown paths get a JSON 404
	}
	mux.Handle("/", front)
	if auth.Config().TokenMode == latchkey.TokenModeJWT {
		mux.Handle("GET /.well-known/jwks.json", auth.JWKSHandler())
	}
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := auth.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"status":"unavailable","error":{"code":"store_unavailable","message":"A store cannot be reached."}}`+"\n")
			return
		}
		io.WriteString(w, `{"status":"ready"}`+"\n")
	})
	return auth.SecurityHeaders(mux)
}

// prune deletes expired sessions in bounded batches, so the database does
// not grow with abandoned sessions and no single delete holds the writer long.
func prune(ctx context.Context, log *slog.Logger, p latchkey.SessionPruner, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		total := 0
		for {
			n, err := p.PruneSessions(ctx, 1000)
			total += n
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("pruning sessions failed", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			log.Info("pruned expired sessions", "count", total)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneEvents deletes security events past their retention
// (--event-retention) now and then; every instance may, as deleting what
// another deleted is harmless.
func pruneEvents(ctx context.Context, log *slog.Logger, auth *latchkey.Auth, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := auth.PruneEvents(ctx, 1000)
		if err != nil && ctx.Err() == nil {
			log.Warn("pruning security events failed", "err", err)
		}
		if n > 0 {
			log.Info("pruned old security events", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logRequests logs each request's method, path (never the query, which may
// hold secrets), status and duration. Cookies and bodies are never logged.
// Below debug level it costs nothing: the wrapper and the boxed log
// arguments would be several allocations on every request.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
