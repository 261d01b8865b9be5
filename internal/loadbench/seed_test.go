package loadbench

import (
	"crypto/sha256"
	"encoding/base64"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/sqlitestore"
)

// The seeded tokens are cookies that the real store finds, owned by seeded users.
func TestSeedSQLite(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "latchkey.db")
	spec := SeedSpec{Users: 7, PasswordHash: "$argon2id$x", Sessions: 20, UserAgent: "ua", LastSeen: time.Now()}
	tokens, err := SeedSQLite(ctx, path, spec)
	if err != nil {
		t.Fatalf("SeedSQLite: %v", err)
	}
	if len(tokens) != TokenLen*spec.Sessions {
		t.Fatalf("tokens: got %d bytes, want %d", len(tokens), TokenLen*spec.Sessions)
	}
	st, err := sqlitestore.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range spec.Sessions {
		raw, err := base64.RawURLEncoding.Strict().DecodeString(string(tokens[TokenLen*i : TokenLen*(i+1)]))
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %d: %q does not decode to 32 bytes (%v)", i, tokens[TokenLen*i:TokenLen*(i+1)], err)
		}
		h := sha256.Sum256(raw)
		s, err := st.FindSession(ctx, h[:])
		if err != nil {
			t.Fatalf("token %d: FindSession: %v", i, err)
		}
		if s.UserAgent != "ua" || s.Expired(time.Now()) {
			t.Errorf("token %d: got UA %q, expired %v; want %q, live", i, s.UserAgent, s.Expired(time.Now()), "ua")
		}
		u, err := st.UserByID(ctx, s.UserID)
		if err != nil || u.Username != Username(int(s.UserID-1)) {
			t.Errorf("token %d: owner %d: got (%+v, %v)", i, s.UserID, u, err)
		}
	}
	if u, err := st.UserByUsernameKey(ctx, Username(6)); err != nil || u.PasswordHash != spec.PasswordHash {
		t.Errorf("last user: got (%+v, %v)", u, err)
	}
}
