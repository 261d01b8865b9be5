package latchkey

import (
	"context"
	"errors"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeBuckets are the store call latency histogram's, in seconds: from a
// local SQLite read to a remote store's call timing out.
var storeBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

// registerStores makes the children of every store call a's stores can
// be asked, labelled by the store that answers it.
func (m *metrics) registerStores(f factory, a *Auth) {
	seconds := f.histogramVec("latchkey_store_operation_duration_seconds", "Store call latency by store and operation.", storeBuckets, "store", "op")
	errs := f.counterVec("latchkey_store_errors_total", "Store calls that failed, by store and operation; not found, conflict and taken are answers, not failures.", "store", "op")
	users, sessions := storeKind(a.users), storeKind(a.sessions)
	_, apiTokens := a.users.(APITokenStore)
	_, attempts := a.sessions.(AttemptLimiter)
	for op := range numStoreOps {
		if op >= firstAPITokenOp && op < firstSessionOp && !apiTokens ||
			op >= firstAttemptOp && op < firstMFAOp && !attempts || op == opFindSessionUser && a.finder == nil {
			continue // the store cannot be asked: no series
		}
		kind := users
		switch {
		case op >= firstMFAOp && op < firstPendingOp:
			kind = users
		case op >= firstSessionOp:
			kind = sessions
		case op >= firstPasskeyOp && op < firstAPITokenOp:
			if a.passkeys == nil {
				continue
			}
			kind = storeKind(a.passkeys.store)
		case op >= firstEventOp && op < firstAPITokenOp:
			kind = storeKind(a.events)
		}
		name := storeOpNames[op]
		m.store[op] = storeOp{seconds: seconds.WithLabelValues(kind, name), errors: errs.WithLabelValues(kind, name)}
	}
}

type storeOpID int

// The store calls Auth makes, by the interface that has them: UserStore,
// then EventStore (the user store's or the session store's), then APITokenStore (the user store's), then SessionStore,
// SessionUserFinder and AccountTokenStore, then AttemptLimiter (the session
// store's), then MFAStore (the user store's), then PendingLoginStore (the
// session store's).
const (
	opCreateUser storeOpID = iota
	opUserByID
	opUserByUsername
	opUserByEmail
	opUpdateEmail
	opUpdatePasswordHash
	opAdvanceEpoch
	opDeleteUser
	opListUsers
	opSearchUsers
	opSetRoles
	opChangeRole
	opSetLocked
	opAddEvent
	opListEvents
	opPruneEvents
	opAddPasskey
	opListPasskeys
	opPasskeyByCredentialID
	opUpdatePasskey
	opRenamePasskey
	opDeletePasskey
	opCreateAPIToken
	opFindAPIToken
	opListAPITokens
	opTouchAPIToken
	opDeleteAPIToken
	opCreateSession
	opFindSession
	opFindSessionUser
	opUpdateSession
	opRotateSession
	opDeleteSession
	opDeleteUserSessions
	opListUserSessions
	opIssueAccountToken
	opUseAccountToken
	opDeleteAccountTokens
	opAttemptTake
	opAttemptRefund
	opAttemptReset
	opFactors
	opReplaceFactors
	opAdvanceFactorCounter
	opDeleteFactor
	opDeleteFactors
	opCreatePendingLogin
	opAttemptPendingLogin
	opDeletePendingLogin
	numStoreOps

	firstEventOp    = opAddEvent
	firstPasskeyOp  = opAddPasskey
	firstAPITokenOp = opCreateAPIToken
	firstSessionOp  = opCreateSession
	firstAttemptOp  = opAttemptTake
	firstMFAOp      = opFactors
	firstPendingOp  = opCreatePendingLogin
)

var storeOpNames = [numStoreOps]string{
	"create_user", "user_by_id", "user_by_username", "user_by_email", "update_email", "update_password_hash", "advance_epoch", "delete_user", "list_users",
	"search_users", "set_roles", "change_role", "set_locked",
	"add_event", "list_events", "prune_events",
	"add_passkey", "list_passkeys", "passkey_by_credential_id", "update_passkey", "rename_passkey", "delete_passkey",
	"create_api_token", "find_api_token", "list_api_tokens", "touch_api_token", "delete_api_token",
	"create_session", "find_session", "find_session_user", "update_session", "rotate_session", "delete_session", "delete_user_sessions", "list_user_sessions",
	"issue_account_token", "use_account_token", "delete_account_tokens",
	"attempt_take", "attempt_refund", "attempt_reset",
	"factors", "replace_factors", "advance_factor_counter", "delete_factor", "delete_factors",
	"create_pending_login", "attempt_pending_login", "delete_pending_login",
}

// storeOp is one store call's latency histogram and failure counter.
type storeOp struct {
	seconds prometheus.Observer
	errors  prometheus.Counter
}

// op returns the metrics of a store call, or nil when there are none.
func (m *metrics) op(op storeOpID) *storeOp {
	if m == nil || m.store[op].seconds == nil {
		return nil
	}
	return &m.store[op]
}

func (o *storeOp) done(start time.Time, err error) {
	o.seconds.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) &&
		!errors.Is(err, ErrUsernameTaken) && !errors.Is(err, ErrEmailTaken) {
		o.errors.Inc()
	}
}

// timed makes the store call f, timed and counted as op; a call site reads
// v, err := timed(a.met.op(opX), func() (T, error) { return a.store.X(ctx, …) }).
// The closure does not escape, so it costs no allocation.
func timed[T any](op *storeOp, f func() (T, error)) (T, error) {
	if op == nil {
		return f()
	}
	start := time.Now()
	v, err := f()
	op.done(start, err)
	return v, err
}

// timed2 is timed for calls with two results and an error.
func timed2[T, U any](op *storeOp, f func() (T, U, error)) (T, U, error) {
	if op == nil {
		return f()
	}
	start := time.Now()
	v, w, err := f()
	op.done(start, err)
	return v, w, err
}

// timedErr is timed for calls that return only an error.
func timedErr(op *storeOp, f func() error) error {
	if op == nil {
		return f()
	}
	start := time.Now()
	err := f()
	op.done(start, err)
	return err
}

// storeKind is the store label of a store: the kind of latchkey's own
// stores, or of the one a wrapper struct embeds, else the Go package name
// of an embedder's own.
func storeKind(s any) string {
	if k := knownStoreKind(reflect.TypeOf(s), 2); k != "" {
		return k
	}
	t := reflect.TypeOf(s)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if pkg := path.Base(t.PkgPath()); pkg != "." && pkg != "/" {
		return pkg
	}
	return "other"
}

// knownStoreKind is the kind of one of latchkey's stores that t is, or
// embeds within depth levels; "" if none.
func knownStoreKind(t reflect.Type, depth int) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch strings.TrimPrefix(t.PkgPath(), "github.com/latchkey/latchkey/") {
	case "sqlitestore":
		return "sqlite"
	case "pgstore":
		return "postgres"
	case "redisstore":
		return "redis"
	case "memstore":
		return "memory"
	}
	if t.Kind() != reflect.Struct || depth == 0 {
		return ""
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.Anonymous {
			if k := knownStoreKind(f.Type, depth-1); k != "" {
				return k
			}
		}
	}
	return ""
}

// userByID is UserStore.UserByID, timed.
func (a *Auth) userByID(ctx context.Context, id int64) (*User, error) {
	return timed(a.met.op(opUserByID), func() (*User, error) { return a.users.UserByID(ctx, id) })
}
