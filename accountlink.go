package latchkey

import (
	"context"
	"errors"
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

// linkOwner reads the user a link's token names, and the hash of its
// secret; a malformed token, or one naming no user, is ErrInvalidToken.
func (a *Auth) linkOwner(ctx context.Context, token string) (*User, []byte, error) {
	userID, hash, ok := parseAccountLinkToken(token)
	if !ok {
		return nil, nil, ErrInvalidToken
	}
	u, err := a.userByID(ctx, userID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrInvalidToken
	}
	if err != nil {
		return nil, nil, err
	}
	return u, hash, nil
}

// linkUser reads the user a link's token names and spends the token.
func (a *Auth) linkUser(ctx context.Context, token string, purpose AccountPurpose) (*User, *AccountToken, error) {
	u, hash, err := a.linkOwner(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	t, err := a.useAccountToken(ctx, u, purpose, hash)
	if err != nil {
		return nil, nil, err
	}
	return u, t, nil
}

// useAccountToken spends the user's token of purpose with this hash, if it
// is still good for the user as the user is now.
func (a *Auth) useAccountToken(ctx context.Context, u *User, purpose AccountPurpose, hash []byte) (*AccountToken, error) {
	t, err := timed(a.met.op(opUseAccountToken), func() (*AccountToken, error) { return a.accountTokens.UseAccountToken(ctx, u.ID, purpose, hash) })
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if t.UserEpoch != u.Epoch {
		return nil, ErrInvalidToken // the password changed since the link went out
	}
	return t, nil
}
