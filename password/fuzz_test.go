package password_test

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/password"
)

func FuzzParsePHC(f *testing.F) {
	f.Add(vectorArgon2)
	f.Add(vectorArgon2Def)
	f.Add(vectorBcrypt2b)
	for _, tt := range malformedHashes {
		f.Add(tt.encoded)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := password.ParsePHC(s)
		if err != nil {
			if !errors.Is(err, password.ErrMalformedHash) {
				t.Fatalf("ParsePHC(%q) = %v, want an error wrapping ErrMalformedHash", s, err)
			}
			return
		}
		// Parsing is strict, so each hash has exactly one spelling.
		if got := p.String(); got != s {
			t.Fatalf("ParsePHC(%q).String() = %q, want the input", s, got)
		}
		again, err := password.ParsePHC(p.String())
		if err != nil {
			t.Fatalf("re-parse %q: %v", p.String(), err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("re-parse got %+v, want %+v", again, p)
		}
		if err := p.Params.Validate(); err != nil {
			t.Fatalf("parsed params %+v fail Validate: %v", p.Params, err)
		}
	})
}

func FuzzVerify(f *testing.F) {
	f.Add(vectorArgon2, vectorPassword)
	f.Add(vectorArgon2, "wrong")
	f.Add(vectorBcrypt2b, vectorPassword)
	f.Add(vectorBcrypt2y, "")
	for _, tt := range malformedHashes {
		f.Add(tt.encoded, vectorPassword)
	}
	// The smallest valid parameters, since every run hashes.
	h := password.New(password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16})
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		// Keep each run cheap: pass over hashes that would really be
		// computed with a high cost (returning, not skipping: CI treats a
		// skip as a failure). Malformed ones of any cost are still fed in.
		if p, err := password.ParsePHC(encoded); err == nil && (p.Params.Memory > 64 || p.Params.Time > 2) {
			return
		}
		if cost, err := bcrypt.Cost([]byte(encoded)); err == nil && cost > bcrypt.MinCost {
			return
		}

		ok, rehash, err := h.Verify(encoded, pw)
		if err != nil && (!errors.Is(err, password.ErrMalformedHash) || ok || rehash) {
			t.Fatalf("Verify(%q, %q) = %v, %v, %v; want false, false, ErrMalformedHash", encoded, pw, ok, rehash, err)
		}
		if !ok && rehash {
			t.Fatalf("Verify(%q, %q) asks to rehash a mismatch", encoded, pw)
		}

		// Whatever the password, a fresh hash of it verifies.
		enc, err := h.Hash(pw)
		if len(pw) > password.MaxBytes {
			if !errors.Is(err, password.ErrTooLong) {
				t.Fatalf("Hash(%d bytes) = %v, want ErrTooLong", len(pw), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if ok, rehash, err := h.Verify(enc, pw); !ok || rehash || err != nil {
			t.Fatalf("Verify(Hash(%q)) = %v, %v, %v; want true, false, nil", pw, ok, rehash, err)
		}
	})
}
