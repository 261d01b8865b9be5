package recoverycode_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/recoverycode"
)

func TestNew(t *testing.T) {
	codes := recoverycode.New()
	if len(codes) != recoverycode.Count {
		t.Fatalf("%d codes, want %d", len(codes), recoverycode.Count)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 29 || strings.Count(c, "-") != 5 {
			t.Errorf("code %q: want six groups of four", c)
		}
		n, ok := recoverycode.Normalize(c)
		if !ok || len(n) != recoverycode.Length {
			t.Errorf("Normalize(%q) = %q, %v", c, n, ok)
		}
		if strings.ContainsAny(n, "ilou") {
			t.Errorf("code %q holds a letter outside the alphabet", c)
		}
		if seen[n] {
			t.Errorf("code %q twice", c)
		}
		seen[n] = true
	}
	// 24 characters of 32: 120 bits, above ASVS's 112.
	if bits := recoverycode.Length * 5; bits < 112 {
		t.Errorf("%d bits per code", bits)
	}
}

func TestNormalize(t *testing.T) {
	const c = "abcd-efgh-jkmn-pqrs-tvwx-yz01"
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{c, "abcdefghjkmnpqrstvwxyz01", true},
		{strings.ToUpper(c), "abcdefghjkmnpqrstvwxyz01", true},
		{strings.ReplaceAll(c, "-", " "), "abcdefghjkmnpqrstvwxyz01", true},
		{strings.ReplaceAll(c, "-", ""), "abcdefghjkmnpqrstvwxyz01", true},
		{"abcd-efgh-jkmn-pqrs-tvwx-yzOI", "abcdefghjkmnpqrstvwxyz01", true}, // O and I read as 0 and 1
		{"abcd-efgh-jkmn-pqrs-tvwx-yz0", "", false},
		{"abcd-efgh-jkmn-pqrs-tvwx-yz012", "", false},
		{"abcd-efgh-jkmn-pqrs-tvwx-yz0u", "", false}, // u is not in the alphabet
		{"abcd-efgh-jkmn-pqrs-tvwx-yz0é", "", false},
		{"", "", false},
	} {
		got, ok := recoverycode.Normalize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHash(t *testing.T) {
	a := recoverycode.Hash(1, "abcdefghjkmnpqrstvwxyz01")
	if len(a) != 32 || !bytes.Equal(a, recoverycode.Hash(1, "abcdefghjkmnpqrstvwxyz01")) {
		t.Fatalf("Hash is not a stable SHA-256")
	}
	if bytes.Equal(a, recoverycode.Hash(2, "abcdefghjkmnpqrstvwxyz01")) {
		t.Error("the same code of two users has one hash")
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("abcd-efgh-jkmn-pqrs-tvwx-yz01")
	f.Add("ABCD EFGH JKMN PQRS TVWX YZOI")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := recoverycode.Normalize(s)
		if !ok {
			return
		}
		if len(n) != recoverycode.Length || strings.ContainsAny(n, "ilou-ABCDEFGHIJKLMNOPQRSTUVWXYZ ") {
			t.Fatalf("Normalize(%q) = %q", s, n)
		}
		if again, ok := recoverycode.Normalize(n); !ok || again != n {
			t.Fatalf("Normalize is not idempotent on %q: %q, %v", n, again, ok)
		}
	})
}
