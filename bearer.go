package latchkey

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// bearerToken returns the credentials of an "Authorization: Bearer …"
// header; ok is false when there is no such header (another scheme, such
// as the Basic auth of a staging proxy, is not ours and is ignored).
// Several Authorization headers, one of them Bearer, are ambiguous and read
// as a bad token.
func bearerToken(r *http.Request) (tok string, ok bool) {
	vals := r.Header.Values("Authorization")
	if len(vals) == 0 {
		return "", false
	}
	bearer := false
	for _, v := range vals {
		scheme, _, _ := strings.Cut(v, " ")
		bearer = bearer || strings.EqualFold(scheme, "Bearer")
	}
	if !bearer {
		return "", false
	}
	if len(vals) > 1 {
		return "", true // in any order: a token must not ride beside a cookie
	}
	_, rest, _ := strings.Cut(vals[0], " ")
	return strings.TrimLeft(rest, " "), true
}

// identify is load for routes that also take API tokens: a request with a
// bearer token is authenticated by it alone. Cookies are then not read, so
// neither a session nor a CSRF token can stand in for a bad bearer token,
// and no CSRF token is needed (browsers never attach one on their own).
func (a *Auth) identify(w http.ResponseWriter, r *http.Request) (*current, error) {
	raw, ok := bearerToken(r)
	if !ok {
		return a.load(w, r)
	}
	cur := &current{now: a.now(), bearer: true}
	u, t, err := a.bearerUser(r.Context(), raw, cur)
	if errors.Is(err, ErrUnauthorized) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		return cur, nil // unauthenticated; routes that need a user say 401
	}
	if err != nil {
		return nil, err
	}
	cur.user, cur.apiToken = u, t
	return cur, nil
}

// bearerUser finds the user of an API token, noting its use at most once
// per TouchInterval.
func (a *Auth) bearerUser(ctx context.Context, raw string, cur *current) (*User, *APIToken, error) {
	hash, ok := parseAPIToken(raw)
	if !ok {
		return nil, nil, ErrUnauthorized
	}
	store, err := a.apiTokens()
	if err != nil {
		return nil, nil, ErrUnauthorized
	}
	t, err := timed(a.met.op(opFindAPIToken), func() (*APIToken, error) { return store.FindAPIToken(ctx, hash) })
	if errors.Is(err, ErrNotFound) {
		return nil, nil, ErrUnauthorized
	}
	if err != nil {
		return nil, nil, fmt.Errorf("find API token: %w", err)
	}
	u, err := a.userByID(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) || err == nil && u.Locked {
		return nil, nil, ErrUnauthorized
	}
	if err != nil {
		return nil, nil, fmt.Errorf("load user: %w", err)
	}
	if cur.now.Sub(t.LastUsedAt) >= a.cfg.TouchInterval {
		if err := timedErr(a.met.op(opTouchAPIToken), func() error { return store.TouchAPIToken(ctx, t.ID, cur.now) }); err != nil {
			a.log.WarnContext(ctx, "could not note API token use", "token_id", t.ID, "err", err)
		} else {
			t.LastUsedAt = cur.now
		}
	}
	return u, t, nil
}

// APITokenFromContext returns the API token that authenticated the
// request, if Require or Optional let it through with one.
func APITokenFromContext(ctx context.Context) (*APIToken, bool) {
	t, ok := ctx.Value(apiTokenKey).(*APIToken)
	return t, ok && t != nil
}
