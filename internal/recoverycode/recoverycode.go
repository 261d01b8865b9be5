// Package recoverycode makes and checks the single-use recovery codes that
// let a user log in without their second factor: 24 characters of a
// 32-letter alphabet (120 random bits), shown in six groups of four.
//
// Stores keep only a SHA-256 of each code. A fast hash is enough at that
// entropy: nobody can try 2^119 guesses against a leaked hash, which is
// why ASVS 6.5.2 accepts an unsalted hash for secrets of 112 bits or more;
// a slow password hash would add nothing but cost at each login.
package recoverycode

import (
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"strings"
)

// Count is how many codes a set holds.
const Count = 10

// Length is the characters of a code, without its dashes: 24 of 32
// letters, 120 bits.
const Length = 24

// alphabet is Crockford's base32, in lower case: digits and letters but
// i, l, o and u, so nothing reads as something else.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// New returns a fresh set of Count codes, formatted for display
// ("abcd-efgh-…").
func New() []string {
	codes := make([]string, Count)
	for i := range codes {
		var b strings.Builder
		for j, c := range rand.Text()[:Length] { // rand.Text: 26 base32 characters, 5 bits each
			if j > 0 && j%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(alphabet[strings.IndexRune("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", c)])
		}
		codes[i] = b.String()
	}
	return codes
}

// Normalize returns code as New made it, without dashes or spaces, in
// lower case, with the letters a reader may take for digits (i, l, o)
// read as those digits; ok is false unless that leaves Length characters
// of the alphabet.
func Normalize(code string) (norm string, ok bool) {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case '-', ' ':
			continue
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if r > 0x7f || !strings.ContainsRune(alphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != Length {
		return "", false
	}
	return b.String(), true
}

// Hash is what a store keeps of a code (normalized), for the user it
// belongs to: the user's id is hashed in, so equal codes of two users
// (which never happen) would not share a hash.
func Hash(userID int64, norm string) []byte {
	h := sha256.Sum256([]byte("latchkey recovery code\x00" + strconv.FormatInt(userID, 10) + "\x00" + norm))
	return h[:]
}
