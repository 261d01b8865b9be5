package username_test

import (
	"testing"

	"github.com/latchkey/latchkey/username"
)

func TestSkeletonLookAlikes(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
	}{
		{"Cyrillic а", "admin", "\u0430dmin"},
		{"Ukrainian і", "admin", "adm\u0456n"},
		{"combining dot above on i", "admin", "admi\u0307n"},
		{"dotted capital I", "admin", "adm\u0130n"},
		{"final sigma and capital sigma", "σας", "ΣΑΣ"},
		{"sharp s and ss", "straße", "STRASSE"},
		{"letter case", "Alice", "aLICE"},
		{"full width", "alice", "ａｌｉｃｅ"},
		{"rn for m", "mike", "rnike"},
		{"digit one for l", "bobl", "bob1"},
		{"Greek omicron", "root", "r\u03bfot"},
		{"mathematical letters", "paypal", "𝔭𝒶ỿ𝕡𝕒ℓ"},
		{"precomposed and decomposed é", "jos\u00e9", "jose\u0301"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sa, sb := username.Skeleton(tc.a), username.Skeleton(tc.b); sa != sb {
				t.Errorf("Skeleton(%q) = %q, Skeleton(%q) = %q; want equal", tc.a, sa, tc.b, sb)
			}
		})
	}
}

func TestSkeletonDistinct(t *testing.T) {
	for _, tc := range []struct {
		name, a, b string
	}{
		{"different letters", "alice", "alicf"},
		{"accent", "jose", "josé"},
		{"different scripts, different words", "мир", "peace"},
		{"longer", "bob", "bobby"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if sa, sb := username.Skeleton(tc.a), username.Skeleton(tc.b); sa == sb {
				t.Errorf("Skeleton(%q) = Skeleton(%q) = %q; want different", tc.a, tc.b, sa)
			}
		})
	}
}
