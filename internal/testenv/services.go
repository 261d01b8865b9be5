package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresHint says how to make PostgreSQL tests run.
const PostgresHint = "set it to a PostgreSQL database the tests may create schemas in, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// RedisHint says how to make Redis tests run.
const RedisHint = "set it to a Redis server the tests may write keys under latchkey-test: to, e.g. 127.0.0.1:6379"

// PostgresDSN returns the DSN of LATCHKEY_TEST_POSTGRES_DSN pointed at a new,
// empty schema of its own (through search_path), dropped when tb ends, so
// tests running at once never see each other's tables.
func PostgresDSN(tb testing.TB) string {
	tb.Helper()
	base := Env(tb, "LATCHKEY_TEST_POSTGRES_DSN", PostgresHint)
	schema := "latchkey_test_" + randomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		Unavailable(tb, "cannot connect to LATCHKEY_TEST_POSTGRES_DSN: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema %s: %v", schema, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return WithSearchPath(tb, base, schema)
}

// WithSearchPath returns dsn with search_path set to schema.
func WithSearchPath(tb testing.TB, dsn, schema string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("LATCHKEY_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
