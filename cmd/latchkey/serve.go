package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/password"
	"github.com/latchkey/latchkey/sqlitestore"
)

// options are the settings shared by serve and the user commands.
type options struct {
	data       string
	secretFile string
	logLevel   string
	cfg        latchkey.Config
	sameSite   string
	protection string
}

func (o *options) register(fs *flag.FlagSet) {
	def := password.DefaultParams()
	o.cfg.Argon2 = def
	fs.StringVar(&o.data, "data", "./latchkey-data", "data directory (SQLite database, generated secret)")
	fs.StringVar(&o.secretFile, "secret-file", "", "file with secret keys, one per line, first signs (default: LATCHKEY_SECRET, else DATA/secret)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.cfg.APIPrefix, "api-prefix", "/api", "path prefix of the JSON API")
	fs.BoolVar(&o.cfg.Secure, "cookie-secure", false, "always set Secure (and __Host-) cookies; otherwise only over TLS")
	fs.StringVar(&o.sameSite, "same-site", "strict", "session cookie SameSite: strict, lax or none")
	fs.StringVar(&o.protection, "session-protection", "basic", "on User-Agent change: off, basic (mark non-fresh) or strong (log out)")
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return cfg, nil
}

// openStore opens (creating if needed) the data directory's SQLite database.
func (o *options) openStore(ctx context.Context) (*sqlitestore.Store, error) {
	if err := os.MkdirAll(o.data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	return sqlitestore.Open(ctx, filepath.Join(o.data, "latchkey.db"))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var o options
	o.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	demo := fs.Bool("demo", false, "create the demo account test/test if missing (never in production)")
	shutdown := fs.Duration("shutdown-timeout", 15*time.Second, "how long SIGINT/SIGTERM waits for in-flight requests")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	cfg, err := o.config(stderr)
	if err != nil {
		return err
	}
	log := cfg.Logger
	store, err := o.openStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, source, err := loadSecrets(getenv("LATCHKEY_SECRET"), o.secretFile, o.data)
	if err != nil {
		return err
	}
	cfg.Secrets = keys
	auth, err := latchkey.New(cfg, store, store)
	if err != nil {
		return err
	}
	if *demo {
		created, err := auth.EnsureDemoUser(ctx)
		if err != nil {
			return fmt.Errorf("demo user: %w", err)
		}
		fmt.Fprintln(stderr, "WARNING: demo mode: the account test / test exists (created now: "+fmt.Sprint(created)+"). Never use --demo in production.")
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           logRequests(log, newMux(auth)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20, // oversized cookies then read as logged out rather than 431
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	log.Info("latchkey starting", "version", version, "data", o.data, "secret", source,
		"api_prefix", cfg.APIPrefix, "same_site", o.sameSite, "cookie_secure", cfg.Secure, "session_protection", cfg.Protection)
	fmt.Fprintf(stdout, "latchkey listening on http://%s\n", ln.Addr())

	pruneCtx, stopPrune := context.WithCancel(ctx)
	defer stopPrune()
	go prune(pruneCtx, log, store, 10*time.Minute)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", *shutdown)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), *shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newMux puts the API, health checks and the start page together.
func newMux(auth *latchkey.Auth) http.Handler {
	mux := http.NewServeMux()
	// The auth handler also answers unknown paths, with a JSON 404.
	mux.Handle("/", auth.Handler())
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
	mux.Handle("GET /{$}", startPage())
	mux.Handle("GET /start.js", startPage())
	return mux
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
