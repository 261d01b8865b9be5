package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/pgstore"
	"github.com/latchkey/latchkey/redisstore"
	"github.com/latchkey/latchkey/sqlitestore"
)

const storeURLHelp = `Store URLs:
  (unset)                     the embedded SQLite database DATA/latchkey.db
  sqlite://PATH               a SQLite file (sqlite:///abs/path or sqlite://rel/path)
  memory:                     in memory, lost on exit (tests and demos)
  postgres://USER@HOST/DB?…   PostgreSQL, as pgx reads it (search_path=… picks a schema)
  redis://[:PW@]HOST[:PORT][/DB]          Redis, sessions only (rediss:// for TLS)
  redis-sentinel://HOST:26379,HOST2…/MASTER[/DB]   Redis through Sentinel
  redis-cluster://HOST:6379,HOST2…                 Redis Cluster
  Redis URLs take ?prefix=KEYPREFIX (default "latchkey:") and ?timeout=DURATION.`

// storeOptions select the user and session stores.
type storeOptions struct {
	userStore    string
	sessionStore string
	timeout      time.Duration
}

// go-redis logs every failed dial by itself; the errors reach latchkey's
// own log through the store, once per request, with context.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

func (so *storeOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&so.userStore, "user-store", "", "where users live: a store URL (default: SQLite in --data)")
	fs.StringVar(&so.sessionStore, "session-store", "", "where sessions live: a store URL (default: the user store)")
	fs.DurationVar(&so.timeout, "store-timeout", 2*time.Second, "how long one PostgreSQL or Redis operation may take before the request gets 503")
}

// stores are the opened user and session stores.
type stores struct {
	users    latchkey.UserStore
	sessions latchkey.SessionStore
	closers  []func() error
}

// Close closes every store once.
func (st *stores) Close() error {
	var errs []error
	for _, c := range st.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// openStores opens the stores the flags name. One URL given for both opens
// one store.
func (o *options) openStores(ctx context.Context) (*stores, error) {
	so := o.stores
	userURL, sessionURL := so.userStore, so.sessionStore
	if sessionURL == "" {
		sessionURL = userURL
	}
	if scheme, _, _ := strings.Cut(userURL, ":"); strings.HasPrefix(scheme, "redis") {
		return nil, fmt.Errorf("--user-store %s: Redis keeps sessions only; users need sqlite://, postgres:// or memory:", redactURL(userURL))
	}
	st := &stores{}
	opened := map[string]any{}
	open := func(raw, role string) (any, error) {
		if s, ok := opened[raw]; ok {
			return s, nil
		}
		s, closer, err := o.openStore(ctx, raw)
		if err != nil {
			if raw == "" {
				return nil, fmt.Errorf("%s store: %w", role, err)
			}
			return nil, fmt.Errorf("%s store %s: %w", role, redactURL(raw), err)
		}
		opened[raw] = s
		if closer != nil {
			st.closers = append(st.closers, closer)
		}
		return s, nil
	}
	u, err := open(userURL, "user")
	if err != nil {
		return nil, err
	}
	st.users = u.(latchkey.UserStore)
	s, err := open(sessionURL, "session")
	if err != nil {
		st.Close()
		return nil, err
	}
	st.sessions = s.(latchkey.SessionStore)
	return st, nil
}

// openStore opens one store by URL; "" is the SQLite database in --data.
func (o *options) openStore(ctx context.Context, raw string) (store any, closer func() error, err error) {
	scheme, rest, _ := strings.Cut(raw, ":")
	switch {
	case raw == "":
		if err := os.MkdirAll(o.data, 0o700); err != nil {
			return nil, nil, fmt.Errorf("data directory: %w", err)
		}
		s, err := sqlitestore.Open(ctx, filepath.Join(o.data, "latchkey.db"))
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case scheme == "sqlite":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return nil, nil, errors.New("want sqlite://PATH")
		}
		s, err := sqlitestore.Open(ctx, path)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case raw == "memory:":
		return memstore.New(), nil, nil
	case scheme == "postgres" || scheme == "postgresql":
		s, err := pgstore.Open(ctx, raw)
		if err != nil {
			return nil, nil, err
		}
		s.Timeout = o.stores.timeout
		return s, s.Close, nil
	case strings.HasPrefix(scheme, "redis"):
		cfg, err := redisstore.ParseURL(raw)
		if err != nil {
			return nil, nil, err
		}
		if cfg.Timeout == 0 {
			cfg.Timeout = o.stores.timeout
		}
		s, err := cfg.Open(ctx)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, errors.New("unknown kind of store; " + storeURLHelp)
}

// isShared reports whether a store URL names a service several latchkey
// instances can use at once.
func isShared(raw string) bool {
	scheme, _, _ := strings.Cut(raw, ":")
	return scheme == "postgres" || scheme == "postgresql" || strings.HasPrefix(scheme, "redis")
}

// redactURL returns raw without a password, for messages and logs.
func redactURL(raw string) string {
	if raw == "" {
		return "(SQLite in --data)"
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if i := strings.Index(rest[:at], ":"); i >= 0 {
			rest = rest[:i] + ":xxxxx" + rest[at:]
		}
	}
	if u, err := url.Parse(scheme + "://" + rest); err == nil {
		q := u.Query()
		for _, k := range []string{"password", "sentinel_password"} {
			if q.Has(k) {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		rest = strings.TrimPrefix(u.String(), scheme+"://")
	}
	return scheme + "://" + rest
}

// checkSharedSecret refuses a shared session store with a secret that only
// this instance has: the others could not check its CSRF tokens. It needs
// no connection, so it runs before the stores are opened.
func (o *options) checkSharedSecret(envSecret string) error {
	session := o.stores.sessionStore
	if session == "" {
		session = o.stores.userStore
	}
	if !isShared(session) || envSecret != "" || o.secretFile != "" {
		return nil
	}
	return fmt.Errorf("--session-store %s is shared by every latchkey instance, so they must all sign with the same secret key: "+
		"set LATCHKEY_SECRET or --secret-file (a key generated in --data would differ from instance to instance, "+
		"and CSRF tokens issued by one would fail on the others)", redactURL(session))
}

// migrateCmd applies pending migrations to the configured SQL stores. serve
// migrates on start too (once, under a lock); this runs it as its own step,
// say before a rolling upgrade.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stderr)
	var o options
	o.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	st, err := o.openStores(ctx) // opening a SQL store migrates it
	if err != nil {
		return err
	}
	defer st.Close()
	for _, s := range []struct {
		role  string
		store any
	}{{"users", st.users}, {"sessions", st.sessions}} {
		v, ok := s.store.(interface {
			SchemaVersion(context.Context) (int, error)
		})
		if !ok {
			fmt.Fprintf(stdout, "%s: %T: up to date\n", s.role, s.store)
			continue
		}
		n, err := v.SchemaVersion(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %T: schema version %d\n", s.role, s.store, n)
	}
	return nil
}

const sessionsUsage = `usage: latchkey sessions prune [--batch N] [store flags]

  prune   delete expired sessions from a SQL session store, in batches
          (serve does this every 10 minutes; Redis expires sessions by itself)`

func sessionsCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "prune" {
		fmt.Fprintln(stderr, sessionsUsage)
		return errors.New("sessions: want the subcommand prune")
	}
	fs := newFlagSet("sessions prune", stderr)
	var o options
	o.register(fs)
	batch := fs.Int("batch", 1000, "sessions deleted per statement")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *batch < 1 {
		return errors.New("--batch must be at least 1")
	}
	st, err := o.openStores(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	p, ok := st.sessions.(latchkey.SessionPruner)
	if !ok {
		fmt.Fprintln(stdout, "the session store expires sessions by itself; nothing to prune")
		return nil
	}
	total, err := pruneAll(ctx, p, *batch)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "pruned %d expired sessions\n", total)
	return nil
}

// pruneAll deletes expired sessions in batches until a batch comes back
// short, so no single statement holds locks for long.
func pruneAll(ctx context.Context, p latchkey.SessionPruner, batch int) (int, error) {
	total := 0
	for {
		n, err := p.PruneSessions(ctx, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			return total, nil
		}
	}
}
