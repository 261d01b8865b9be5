package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/sqlitestore"
)

var tokenLine = regexp.MustCompile(`^lk_[A-Za-z0-9_-]{43}\n$`)

// runSplit runs the binary's code and returns stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

// tokenCLI runs "latchkey token SUB" with the store flags in flags.
func tokenCLI(t *testing.T, flags []string, sub string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runSplit(t, append(append([]string{"token", sub}, flags...), args...)...)
}

// tokenHash is what a store keeps of a printed token.
func tokenHash(t *testing.T, token string) []byte {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(strings.TrimSpace(token), "lk_"))
	if err != nil {
		t.Fatalf("token %q: %v", token, err)
	}
	h := sha256.Sum256(raw)
	return h[:]
}

// checkNoSecret fails if out shows the token or its hash in any usual form.
func checkNoSecret(t *testing.T, what, out, token string) {
	t.Helper()
	h := tokenHash(t, token)
	for _, s := range []string{strings.TrimSpace(token), strings.TrimPrefix(strings.TrimSpace(token), "lk_"),
		hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h)} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows the token or its hash (%q):\n%s", what, s, out)
		}
	}
}

func TestTokenCommands(t *testing.T) {
	t.Chdir(t.TempDir()) // a default ./latchkey-data would land here, not in the tree
	data := t.TempDir()
	d := []string{"--data", data}
	if out, err := runCmd(t, "alice's long password\n", "user", "add", "--password-stdin", "--data", data,
		"--argon2-memory", "64", "--argon2-time", "1", "alice"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}

	token, note, err := tokenCLI(t, d, "create", "--user", "Alice", "--name", "ci", "--expires", "30d")
	if err != nil || !tokenLine.MatchString(token) {
		t.Fatalf("create: got (%q, %v), want the token alone on stdout", token, err)
	}
	if !strings.Contains(note, "only time") || !strings.Contains(note, `token 1 "ci"`) || !strings.Contains(note, "expires 20") {
		t.Errorf("create: stderr %q, want a note with the ID, the expiry and that it is shown once", note)
	}
	checkNoSecret(t, "create's note", note, token)
	// Stored hashed: the store finds the token by its SHA-256, expiring in 30 days.
	st, err := sqlitestore.Open(t.Context(), filepath.Join(data, "latchkey.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := st.FindAPIToken(t.Context(), tokenHash(t, token))
	st.Close()
	if err != nil || tok.Name != "ci" {
		t.Fatalf("FindAPIToken(hash of the printed token): got (%+v, %v)", tok, err)
	}
	if d := tok.ExpiresAt.Sub(tok.CreatedAt); d != 30*24*time.Hour {
		t.Errorf("lifetime: got %v, want 30 days", d)
	}

	forever, _, err := tokenCLI(t, d, "create", "--user", "alice", "--name", "deploy bot", "--expires", "never")
	if err != nil || !tokenLine.MatchString(forever) || forever == token {
		t.Fatalf("create --expires never: got (%q, %v)", forever, err)
	}
	for _, tc := range []struct{ name, args, want string }{
		{"duplicate name", "--user alice --name ci", `"alice" already has a token named "ci"`},
		{"unknown user", "--user nobody --name ci", "no such user"},
		{"bad name", "--user alice --name " + strings.Repeat("x", 65), "1 to 64 characters"},
	} {
		out, _, err := tokenCLI(t, d, "create", strings.Fields(tc.args)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || out != "" {
			t.Errorf("create, %s: got (%q, %v), want an error with %q and nothing on stdout", tc.name, out, err, tc.want)
		}
	}

	list, _, err := tokenCLI(t, d, "list")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LAST USED") ||
		!regexp.MustCompile(`^1\s+alice\s+ci\s+\S+ \S+\s+20\S+ \S+\s+never$`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^2\s+alice\s+deploy bot\s+\S+ \S+\s+never\s+never$`).MatchString(lines[2]) {
		t.Errorf("list: got\n%s", list)
	}
	checkNoSecret(t, "list", list, token)
	checkNoSecret(t, "list", list, forever)

	js, _, err := tokenCLI(t, d, "list", "--json", "--user", "ALICE")
	var got []map[string]any
	if err != nil || json.Unmarshal([]byte(js), &got) != nil || len(got) != 2 {
		t.Fatalf("list --json: got (%s, %v), want 2 tokens", js, err)
	}
	if got[0]["name"] != "ci" || got[0]["user"] != "alice" || got[0]["expiresAt"] == nil || got[1]["expiresAt"] != nil ||
		got[1]["lastUsedAt"] != nil || got[0]["expired"] != false {
		t.Errorf("list --json: got %v", got)
	}
	checkNoSecret(t, "list --json", js, token)

	// Revoke by ID, flags after it too; then by name.
	if out, _, err := tokenCLI(t, nil, "revoke", append([]string{"1"}, d...)...); err != nil || !strings.Contains(out, "revoked token 1") {
		t.Errorf("revoke 1: got (%q, %v)", out, err)
	}
	if _, _, err := tokenCLI(t, d, "revoke", "1"); err == nil || !strings.Contains(err.Error(), "no token has ID 1") {
		t.Errorf("revoke 1 twice: got %v, want no token has ID 1", err)
	}
	if _, _, err := tokenCLI(t, d, "revoke", "999"); err == nil {
		t.Errorf("revoke of an unknown ID: no error")
	}
	if _, _, err := tokenCLI(t, d, "revoke", "--user", "alice", "--name", "deploy bot"); err != nil {
		t.Errorf("revoke by name: %v", err)
	}
	for _, args := range [][]string{{"--user", "alice", "--name", "deploy bot"}, {"--user", "nobody", "--name", "ci"}} {
		if _, _, err := tokenCLI(t, d, "revoke", args...); err == nil {
			t.Errorf("revoke %v: no error", args)
		}
	}
	if list, _, err := tokenCLI(t, d, "list"); err != nil || strings.Count(strings.TrimSpace(list), "\n") != 0 {
		t.Errorf("list after revoking everything: got (%q, %v), want the header only", list, err)
	}
	if js, _, err := tokenCLI(t, d, "list", "--json"); err != nil || strings.TrimSpace(js) != "[]" {
		t.Errorf("list --json of none: got (%q, %v), want []", js, err)
	}
	// The name is free again.
	if out, _, err := tokenCLI(t, d, "create", "--user", "alice", "--name", "ci"); err != nil || !tokenLine.MatchString(out) {
		t.Errorf("create after revoke: got (%q, %v)", out, err)
	}
}

func TestTokenCreateRefusesBadExpires(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, v := range []string{"-1d", "-5m", "abc", "3w", "", "1.5d", "d", "30 days", "99999999999999d"} {
		out, _, err := runSplit(t, "token", "create", "--user", "alice", "--name", "ci", "--expires", v)
		if err == nil || !strings.Contains(err.Error(), "--expires") || out != "" {
			t.Errorf("--expires %q: got (%q, %v), want an error naming --expires", v, out, err)
		}
	}
	if _, err := os.Stat("latchkey-data"); err == nil {
		t.Errorf("a refused create opened the default store ./latchkey-data")
	}
}

func TestParseTTL(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * 24 * time.Hour},
		{"1d", 24 * time.Hour},
		{"12h", 12 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"0d", 0},
		{"never", 0},
		{"Never", 0},
	} {
		if got, err := parseTTL(tc.in); err != nil || got != tc.want {
			t.Errorf("parseTTL(%q): got (%v, %v), want %v", tc.in, got, err, tc.want)
		}
	}
}

// The token commands on PostgreSQL, where tokens need the users table.
func TestTokenCommandsOnPostgres(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	d := []string{"--data", t.TempDir(), "--user-store", dsn}
	if out, err := runCmd(t, "a long enough password\n", append(append([]string{"user", "add", "--password-stdin"}, d...),
		"--argon2-memory", "64", "--argon2-time", "1", "dora")...); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	token, _, err := tokenCLI(t, d, "create", "--user", "dora", "--name", "ci", "--expires", "12h")
	if err != nil || !tokenLine.MatchString(token) {
		t.Fatalf("create: got (%q, %v)", token, err)
	}
	list, _, err := tokenCLI(t, d, "list", "--user", "dora")
	if err != nil || !regexp.MustCompile(`(?m)^\d+\s+dora\s+ci\s`).MatchString(list) {
		t.Errorf("list: got (%q, %v)", list, err)
	}
	checkNoSecret(t, "list", list, token)
	if _, _, err := tokenCLI(t, d, "revoke", "--user", "dora", "--name", "ci"); err != nil {
		t.Errorf("revoke: %v", err)
	}
	// Removing the user removes its tokens (ON DELETE CASCADE).
	if _, _, err := tokenCLI(t, d, "create", "--user", "dora", "--name", "ci"); err != nil {
		t.Fatalf("create again: %v", err)
	}
	if out, err := runCmd(t, "", append([]string{"user", "remove"}, append(d, "dora")...)...); err != nil {
		t.Fatalf("user remove: %v %s", err, out)
	}
	if list, _, err := tokenCLI(t, d, "list"); err != nil || strings.Contains(list, "ci") {
		t.Errorf("list after user remove: got (%q, %v), want no tokens", list, err)
	}
}
