// Package username decides when two usernames are too alike to both exist:
// the same after case folding, or confusable by the skeleton of Unicode
// Technical Standard #39 ("аdmin" with a Cyrillic а, "admіn" with a
// Ukrainian і, "rn" for "m", "1" or "I" for "l"). It has no I/O.
package username

import (
	"strings"
	"unicode"

	"go.mau.fi/util/confusable"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Skeleton returns the form of name that must be unique among usernames:
// two names with the same Skeleton look alike, so only one may be
// registered. It is never shown; it is a key, not a display form.
//
// Steps: full Unicode case folding (so final sigma ς, σ and Σ, or ß and ss,
// are one letter), NFC, then dropping the combining marks that NFC could
// not fuse into a letter (UTS #39 §5.4 names "i" + U+0307 COMBINING DOT
// ABOVE, which looks like "i" alone), then the UTS #39 skeleton.
func Skeleton(name string) string {
	folded := norm.NFC.String(cases.Fold().String(name))
	if strings.IndexFunc(folded, isMark) >= 0 {
		folded = strings.Map(func(r rune) rune {
			if isMark(r) {
				return -1
			}
			return r
		}, folded)
	}
	return confusable.Skeleton(folded)
}

func isMark(r rune) bool { return unicode.Is(unicode.Mn, r) }
