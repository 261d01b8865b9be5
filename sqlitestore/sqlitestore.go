// Package sqlitestore keeps users, their API tokens and second factors,
// sessions and security events in one SQLite file, through the pure-Go modernc.org/sqlite driver,
// so the binary needs no cgo and no database server.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/migrations"
	"github.com/latchkey/latchkey/username"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	_ latchkey.UserStore     = (*Store)(nil)
	_ latchkey.SessionStore  = (*Store)(nil)
	_ latchkey.SessionPruner = (*Store)(nil)
	_ latchkey.Pinger        = (*Store)(nil)
	_ latchkey.APITokenStore = (*Store)(nil)
	_ latchkey.EventStore    = (*Store)(nil)

	_ latchkey.SessionUserFinder = (*Store)(nil)
)

// ErrSchemaTooNew is returned by Open for a database migrated by a newer
// latchkey: this binary cannot know what the newer schema means.
var ErrSchemaTooNew = errors.New("sqlitestore: database schema is newer than this binary")

// busyTimeout is how long a connection waits for another process's lock
// (say, the CLI adding a user while the server runs) before SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a UserStore, SessionStore, SessionUserFinder, SessionPruner,
// APITokenStore, EventStore, AccountTokenStore, MFAStore, PendingLoginStore
// and Pinger backed by a SQLite database in WAL mode. It is
// safe for concurrent use: writes go through a single connection, so
// concurrent writers queue in Go instead of failing with SQLITE_BUSY, and
// reads use a pool of their own, which WAL lets run alongside the writer.
type Store struct {
	// Now is the clock that decides expiry; nil means time.Now. Set it
	// before first use.
	Now func() time.Time

	writer *sql.DB
	reader *sql.DB

	// Statements on the request path, prepared once: parsing costs about as
	// much as running them.
	findSession   *sql.Stmt // reader
	updateSession *sql.Stmt // writer
	userByID      *sql.Stmt // reader

	findSessionUser *sql.Stmt // reader
	findAPIToken    *sql.Stmt // reader
}

// Open opens the SQLite database at path, creating the file (mode 0600, as
// it holds password hashes) if it does not exist, and applies any pending
// migrations. The directory must exist. It refuses, with ErrSchemaTooNew, a
// database whose schema is newer than this binary knows.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlitestore: open: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	// SQLite would create the file with 0644; creating it first keeps the
	// hashes private. SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	// synchronous=NORMAL in WAL mode survives a crash of the process; a power
	// loss may undo the last commits but cannot corrupt the file. FULL would
	// add an fsync to every commit on the single write connection.
	common := "_busy_timeout=" + strconv.FormatInt(busyTimeout.Milliseconds(), 10) +
		"&_foreign_keys=on&_synchronous=NORMAL"
	// _txlock=immediate takes the write lock at BEGIN, so a transaction never
	// fails upgrading a read lock.
	writer, err := sql.Open("sqlite", dsn(abs, common+"&_journal_mode=WAL&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	s := &Store{writer: writer}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	// query_only: a write through the reader pool would bypass the writer queue.
	reader, err := sql.Open("sqlite", dsn(abs, common+"&_query_only=on"))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	s.reader = reader
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		db    *sql.DB
		query string
	}{
		{&s.findSession, s.reader, findSessionSQL},
		{&s.updateSession, s.writer, updateSessionSQL},
		{&s.userByID, s.reader, userByIDSQL},
		{&s.findSessionUser, s.reader, findSessionUserSQL},
		{&s.findAPIToken, s.reader, findAPITokenSQL},
	} {
		stmt, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return err
		}
		*p.stmt = stmt
	}
	return nil
}

// dsn builds a file: URI, so that '?', '#' or '%' in the path are escaped
// instead of being taken for the start of the driver's parameters.
func dsn(abs, params string) string {
	return "file:" + (&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath() + "?" + params
}

// Close closes the database. The Store must not be used afterwards.
func (s *Store) Close() error {
	var errs []error
	for _, stmt := range []*sql.Stmt{s.findSession, s.updateSession, s.userByID, s.findSessionUser, s.findAPIToken} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	return errors.Join(append(errs, s.writer.Close())...)
}

// Ping implements latchkey.Pinger: it reads the database through the reader
// pool and waits for the writer connection, so it fails when either cannot
// serve before ctx is done.
func (s *Store) Ping(ctx context.Context) error {
	var v int64
	// Not wrap: the caller already reports any failure as unavailable.
	if err := s.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Times are stored as Unix milliseconds and returned in UTC.
func toMS(t time.Time) int64    { return t.UnixMilli() }
func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// wrap adds context to err. Lock timeouts and deadlines also wrap
// ErrStoreUnavailable, so the API answers 503 rather than 500.
func wrap(op string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || isCode(err, sqlite3.SQLITE_BUSY) || isCode(err, sqlite3.SQLITE_LOCKED) {
		return fmt.Errorf("sqlitestore: %s: %w: %w", op, latchkey.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("sqlitestore: %s: %w", op, err)
}

// isCode reports whether err is a SQLite error with this code. A primary
// code (below 256) also matches its extended codes.
func isCode(err error, code int) bool {
	se, ok := errors.AsType[*sqlite.Error](err)
	if !ok {
		return false
	}
	if code < 256 {
		return se.Code()&0xff == code
	}
	return se.Code() == code
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies the pending migrations in one transaction, so a failure
// leaves the schema as it was; BEGIN IMMEDIATE keeps two processes opening
// the same file from both applying them.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := migrations.Load(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	latest := ms[len(ms)-1].Version
	if current > latest {
		return fmt.Errorf("%w: it is at version %d, this binary knows up to %d; upgrade latchkey", ErrSchemaTooNew, current, latest)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, toMS(time.Now())); err != nil {
			return fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return s.fillDerived(ctx)
}

// fillDerived gives users stored before usernames had a skeleton, and
// addresses a compared form, theirs, so new names and addresses are checked
// against them too. A user whose name looks like an earlier user's keeps no
// skeleton: both stay, as they were, and can log in.
func (s *Store) fillDerived(ctx context.Context) error {
	for _, c := range []struct{ column, from string }{{"username_skeleton", "username"}, {"email_key", "email"}} {
		type row struct {
			id  int64
			src string
		}
		rows, err := queryAll(ctx, s.writer, "fill "+c.column, func(r interface{ Scan(...any) error }) (*row, error) {
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
			_, err := s.writer.ExecContext(ctx, `UPDATE users SET `+c.column+` = ? WHERE id = ?`, v, r.id)
			if err != nil && !isCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
				return wrap("fill "+c.column, err)
			}
		}
	}
	return nil
}

// queryAll runs a query on db and scans every row with scan.
func queryAll[T any](ctx context.Context, db *sql.DB, what string, scan func(interface{ Scan(...any) error }) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap(what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(what, err)
		}
		out = append(out, *v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(what, err)
	}
	return out, nil
}
