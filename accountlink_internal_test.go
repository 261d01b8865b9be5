package latchkey

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestAccountLinkToken(t *testing.T) {
	plain, hash := newAccountLinkToken(42)
	id, got, ok := parseAccountLinkToken(plain)
	if !ok || id != 42 || !bytes.Equal(got, hash) {
		t.Fatalf("parse(%q) = %d, %x, %v; want 42, %x, true", plain, id, got, ok, hash)
	}
	random := plain[3:]
	for name, s := range map[string]string{
		"empty":             "",
		"no dot":            "42" + random,
		"no id":             "." + random,
		"leading zero":      "042." + random,
		"zero id":           "0." + random,
		"negative id":       "-42." + random,
		"plus id":           "+42." + random,
		"id overflow":       "9223372036854775808." + random,
		"truncated":         plain[:len(plain)-1],
		"one char more":     plain + "A",
		"padded":            plain + "=",
		"std alphabet":      "42." + strings.ReplaceAll(strings.ReplaceAll(random, "-", "+"), "_", "/") + "+",
		"two dots":          "42." + random + ".x",
		"space":             " " + plain,
		"non-canonical end": "42." + random[:42] + "B",
	} {
		if _, _, ok := parseAccountLinkToken(s); ok && s != plain {
			t.Errorf("%s: %q parsed", name, s)
		}
	}
}

// FuzzParseAccountLinkToken: a token that parses is exactly what
// newAccountLinkToken would make for its id and random part.
func FuzzParseAccountLinkToken(f *testing.F) {
	plain, _ := newAccountLinkToken(7)
	for _, s := range []string{plain, "", ".", "1.", plain[:10], "9223372036854775807." + plain[2:], "00." + plain[2:]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, hash, ok := parseAccountLinkToken(s)
		if !ok {
			return
		}
		idStr, random, _ := strings.Cut(s, ".")
		tok, good := parseToken(random)
		if !good || strconv.FormatInt(id, 10) != idStr || id <= 0 || !bytes.Equal(hash, hashToken(tok)) || encodeToken(tok) != random {
			t.Fatalf("accepted %q as %d, %x", s, id, hash)
		}
	})
}
