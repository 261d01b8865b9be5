package loadbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"fmt"
	"slices"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/sqlitestore"
)

// TokenLen is the length of a session cookie's value: 32 random bytes in
// unpadded base64url, as latchkey issues them.
const TokenLen = 43

// Username returns the name of seeded user i (from 0).
func Username(i int) string { return fmt.Sprintf("user%07d", i+1) }

// SeedSpec says what to put in a store.
type SeedSpec struct {
	Users        int    // user0000001, user0000002, …
	PasswordHash string // every user's (a PHC string)
	Sessions     int    // spread round robin over the users
	UserAgent    string // every session's, so session protection passes
	// LastSeen is every session's last renewal of its idle deadline. In
	// the future, it keeps latchkey from writing the renewal back during
	// the run (it does so at most once a minute per session).
	LastSeen time.Time
}

// SeedSQLite creates the SQLite database at path (which must not exist)
// with sqlitestore's schema and spec's users and sessions, written in bulk
// with SQL in a few transactions. It returns the session tokens, TokenLen
// bytes each, concatenated: the values of valid session cookies.
func SeedSQLite(ctx context.Context, path string, spec SeedSpec) (tokens []byte, err error) {
	st, err := sqlitestore.Open(ctx, path) // creates the file and the schema
	if err != nil {
		return nil, err
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	now := time.Now()
	err = inBatches(ctx, db, spec.Users, `INSERT INTO users (id, username, username_key, email, password_hash, created_at, updated_at) VALUES (?, ?, ?, '', ?, ?, ?)`,
		func(stmt *sql.Stmt, i int) error {
			display, key, err := latchkey.NormalizeUsername(Username(i))
			if err != nil {
				return err
			}
			_, err = stmt.ExecContext(ctx, i+1, display, key, spec.PasswordHash, now.UnixMilli(), now.UnixMilli())
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("seed users: %w", err)
	}
	if spec.Sessions == 0 {
		return nil, nil
	}
	if spec.Users == 0 {
		return nil, fmt.Errorf("seed sessions: no users to own them")
	}

	raw := make([]byte, 32*spec.Sessions)
	rand.Read(raw)
	tokens = make([]byte, TokenLen*spec.Sessions)
	hashes := make([][sha256.Size]byte, spec.Sessions)
	order := make([]int, spec.Sessions)
	for i := range spec.Sessions {
		tok := raw[32*i : 32*(i+1)]
		base64.RawURLEncoding.Encode(tokens[TokenLen*i:], tok)
		hashes[i] = sha256.Sum256(tok)
		order[i] = i
	}
	// In key order, each insert appends to the B-tree instead of splitting pages all over it.
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(hashes[a][:], hashes[b][:]) })
	created, expires := now.Add(-time.Minute).UnixMilli(), now.Add(24*time.Hour).UnixMilli()
	idle := min(spec.LastSeen.Add(2*time.Hour).UnixMilli(), expires)
	err = inBatches(ctx, db, spec.Sessions, `INSERT INTO sessions
		(token_hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, remember, fresh, user_agent, ip)
		VALUES (?, ?, ?, ?, ?, ?, 0, 1, ?, '127.0.0.1')`,
		func(stmt *sql.Stmt, j int) error {
			i := order[j]
			_, err := stmt.ExecContext(ctx, hashes[i][:], i%spec.Users+1, created, spec.LastSeen.UnixMilli(), idle, expires, spec.UserAgent)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("seed sessions: %w", err)
	}
	return tokens, nil
}

// inBatches runs insert for 0..n-1 through one prepared statement, committing
// every 50,000 rows.
func inBatches(ctx context.Context, db *sql.DB, n int, query string, insert func(*sql.Stmt, int) error) error {
	const batch = 50_000
	for from := 0; from < n; from += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, query)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := from; i < min(n, from+batch); i++ {
			if err := insert(stmt, i); err != nil {
				tx.Rollback()
				return err
			}
		}
		stmt.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}
