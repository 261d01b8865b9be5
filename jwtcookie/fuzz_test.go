package jwtcookie_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/jwtcookie"
)

// FuzzParse feeds Parse arbitrary cookie values: it must never panic, must
// refuse anything but its own tokens, and a token it accepts must be the
// exact one we signed for those claims (the signature covers the bytes).
func FuzzParse(f *testing.F) {
	s := newSet(f, jwtcookie.EdDSA)
	for _, typ := range []string{jwtcookie.Access, jwtcookie.Refresh} {
		tok := sign(f, s, claims(typ))
		f.Add(tok)
		f.Add(strings.Replace(tok, ".", "..", 1))
	}
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		for _, typ := range []string{jwtcookie.Access, jwtcookie.Refresh} {
			c, err := s.Parse(tok, expect(typ, t0.Add(time.Minute)))
			switch {
			case err == nil:
				if c.Type != typ {
					t.Fatalf("accepted a %s token as %s", c.Type, typ)
				}
				if again := sign(t, s, c); again != tok {
					t.Fatalf("accepted %q, which is not what we sign for its claims (%q)", tok, again)
				}
			case errors.Is(err, jwtcookie.ErrExpired):
				t.Fatalf("an unexpired clock reported expiry for %q", tok)
			case !errors.Is(err, jwtcookie.ErrInvalid) || c != nil:
				t.Fatalf("Parse(%q) = %v, %v", tok, c, err)
			}
		}
	})
}
