package jwtcookie_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/jwtcookie"
)

// BenchmarkParse is the verification an authenticated request in token mode
// pays before it reads the store: an access token as latchkey signs it,
// checked against every claim.
func BenchmarkParse(b *testing.B) {
	for _, alg := range []string{jwtcookie.EdDSA, jwtcookie.HS256} {
		b.Run(alg, func(b *testing.B) {
			s := newSet(b, alg)
			tok := sign(b, s, claims(jwtcookie.Access))
			want := expect(jwtcookie.Access, t0.Add(time.Minute))
			b.ReportAllocs()
			for b.Loop() {
				if c, err := s.Parse(tok, want); err != nil || c.SessionID != "family-1" {
					b.Fatalf("Parse: %v, %v", c, err)
				}
			}
		})
	}
}

// BenchmarkSign is what a login or a refresh pays per token (two each).
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{jwtcookie.EdDSA, jwtcookie.HS256} {
		b.Run(alg, func(b *testing.B) {
			s := newSet(b, alg)
			c := claims(jwtcookie.Access)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
