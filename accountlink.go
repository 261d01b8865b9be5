package latchkey

import (
	"strconv"
	"strings"
)

// An account link's token is the user's id, a dot, and 256 random bits in
// base64url: "42.Xq…". The id tells the store where to look (a user has
// one token per purpose), and the random part is the secret, kept only as
// its SHA-256.
const maxAccountLinkToken = 20 + 1 + encodedTokenBytes // int64 digits, dot, token

// newAccountLinkToken returns a fresh token for a link mailed to the user
// and the hash the store keeps.
func newAccountLinkToken(userID int64) (plain string, hash []byte) {
	t := newToken()
	return strconv.FormatInt(userID, 10) + "." + encodeToken(t), hashToken(t)
}

// parseAccountLinkToken splits a token from a link. Anything but a
// canonical positive id, a dot and a well-formed random part is refused,
// so truncated, padded and re-encoded copies never reach the store.
func parseAccountLinkToken(s string) (userID int64, hash []byte, ok bool) {
	if len(s) > maxAccountLinkToken {
		return 0, nil, false
	}
	id, rest, found := strings.Cut(s, ".")
	if !found || id == "" || id[0] == '0' || len(id) > 19 {
		return 0, nil, false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, nil, false
		}
	}
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return 0, nil, false
	}
	t, ok := parseToken(rest)
	if !ok {
		return 0, nil, false
	}
	return n, hashToken(t), true
}
