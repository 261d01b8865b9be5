// Package pgstore keeps users, their API tokens and second factors,
// sessions and security events in PostgreSQL, through pgx and its connection pool, so several
// latchkey instances can share them, and counts failed logins there so
// they share the login throttle too.
//
// Every operation runs under a timeout of its own (Store.Timeout), and
// connection failures and timeouts wrap latchkey.ErrStoreUnavailable, so a
// slow or unreachable database turns into quick 503 answers instead of
// requests piling up behind it.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/migrations"
	"github.com/latchkey/latchkey/username"
)

var (
	_ latchkey.UserStore      = (*Store)(nil)
	_ latchkey.SessionStore   = (*Store)(nil)
	_ latchkey.SessionPruner  = (*Store)(nil)
	_ latchkey.Pinger         = (*Store)(nil)
	_ latchkey.APITokenStore  = (*Store)(nil)
	_ latchkey.AttemptLimiter = (*Store)(nil)
	_ latchkey.EventStore     = (*Store)(nil)
)

// ErrSchemaTooNew is returned by Open and Migrate for a database migrated by
// a newer latchkey: this binary cannot know what the newer schema means.
var ErrSchemaTooNew = errors.New("pgstore: database schema is newer than this binary")

// DefaultTimeout is the default of Store.Timeout.
const DefaultTimeout = 2 * time.Second

// Store is a UserStore, SessionStore, SessionPruner, APITokenStore,
// AttemptLimiter, EventStore, AccountTokenStore, MFAStore,
// PendingLoginStore and Pinger backed by PostgreSQL. It is safe
// for concurrent use. Tables live in the connection's current schema, so
// several deployments can share a database by setting search_path in the
// DSN.
type Store struct {
	// Now is the clock that decides expiry; nil means time.Now. Set it
	// before first use.
	Now func() time.Time
	// Timeout bounds each operation, connecting included; 0 means
	// DefaultTimeout. An operation that runs out of time fails with
	// latchkey.ErrStoreUnavailable. Set it before first use.
	Timeout time.Duration

	pool *pgxpool.Pool
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as pgx reads it) and applies any pending migrations under an
// advisory lock, so instances starting together migrate once. It refuses,
// with ErrSchemaTooNew, a schema newer than this binary knows.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included: do not show it.
		return nil, errors.New("pgstore: open: cannot parse the DSN")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultTimeout
	}
	// Find dead connections between requests too, not only on use.
	cfg.HealthCheckPeriod = 15 * time.Second
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	return s, nil
}

// Close closes the pool, waiting for connections in use to be returned. The
// Store must not be used afterwards.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping implements latchkey.Pinger.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// op gives one operation its own deadline.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.Timeout
	if d <= 0 {
		d = DefaultTimeout
	}
	return context.WithTimeout(ctx, d)
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ms gives a time the millisecond precision every latchkey store keeps, so
// ties and round trips behave as in the SQLite store.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// wrap adds context to err. Connection failures, timeouts and the server
// saying it cannot serve now also wrap ErrStoreUnavailable, so the API
// answers 503 rather than 500.
func wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("pgstore: %s: %w: %w", op, latchkey.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

func unavailable(err error) bool {
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok {
		// 08: connection exception; 53: insufficient resources (too many
		// connections, out of memory, disk full); 57P01-57P05: shutdown,
		// crash recovery, idle session timeout.
		return strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			strings.HasPrefix(pgErr.Code, "57P")
	}
	if errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return false // the caller gave up; nothing is wrong with the store
	}
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "closed pool")
}

func isUniqueViolation(err error, constraint string) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the first key of the advisory lock migrations run under
// ("lk"); the second is a hash of the schema, so deployments in different
// schemas of one database do not wait for each other.
const migrationLock = 0x6c6b

// Migrate applies the pending migrations in one transaction, holding a
// transaction-scoped advisory lock, so instances starting together apply
// each migration once and a failure leaves the schema as it was. Open calls
// it; "latchkey migrate" runs it explicitly, say before a rolling upgrade.
// It waits for the lock as long as ctx allows, not Store.Timeout.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("migrate", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))`, migrationLock); err != nil {
		return wrap("migrate: lock", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL
	)`); err != nil {
		return wrap("migrate", err)
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return wrap("migrate", err)
	}
	latest := ms[len(ms)-1].Version
	if current > latest {
		return fmt.Errorf("%w: it is at version %d, this binary knows up to %d; upgrade latchkey", ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return wrap("migrate: "+m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, m.Version); err != nil {
			return wrap("migrate: "+m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("migrate", err)
	}
	return s.fillDerived(ctx)
}

// fillDerived gives users stored before usernames had a skeleton, and
// addresses a compared form, theirs, so new names and addresses are checked
// against them too. A user whose name looks like an earlier user's keeps no
// skeleton: both stay, as they were, and can log in. Each UPDATE stands
// alone, so instances doing this together only lose a race to each other.
func (s *Store) fillDerived(ctx context.Context) error {
	for _, c := range []struct{ column, from string }{{"username_skeleton", "username"}, {"email_key", "email"}} {
		type row struct {
			id  int64
			src string
		}
		rows, err := queryAll(ctx, s, "fill "+c.column, func(r pgx.Row) (*row, error) {
			var v row
			return &v, r.Scan(&v.id, &v.src)
		}, `SELECT id, `+c.from+` FROM users WHERE `+c.column+` IS NULL ORDER BY id`)
		if err != nil {
			return err
		}
		for _, r := range rows {
			v := latchkey.EmailKey(r.src)
			if c.column == "username_skeleton" {
				v = username.Skeleton(r.src)
			}
			_, err := s.pool.Exec(ctx, `UPDATE users SET `+c.column+` = $1 WHERE id = $2 AND `+c.column+` IS NULL`, v, r.id)
			if err != nil && !isUniqueViolation(err, "users_username_skeleton") {
				return wrap("fill "+c.column, err)
			}
		}
	}
	return nil
}

// SchemaVersion returns the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	ctx, cancel := s.op(ctx)
	defer cancel()
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, wrap("schema version", err)
	}
	return v, nil
}

// isNoRows reports the "no row matched" of QueryRow.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, s *Store, what string, scan func(pgx.Row) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	out, err := pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) {
		v, err := scan(r)
		if err != nil {
			var zero T
			return zero, err
		}
		return *v, nil
	})
	if err != nil {
		return nil, wrap(what, err)
	}
	return out, nil
}
