package latchkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/latchkey/latchkey/device"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/mail"
)

// Passkeys (WebAuthn): a user registers them while logged in, then signs
// in with one alone, no username or password: a passkey that verified the
// user (a PIN, a fingerprint) is two factors in one. The relying party is
// the deployment's site: Config.PasskeyRPID and Config.PasskeyOrigins.

// Errors of the passkey flows.
var (
	// ErrPasskeysOff: no relying party is configured (no public URL).
	ErrPasskeysOff = errors.New("latchkey: passkeys are not configured")
	// ErrPasskeyExists: the authenticator's credential is registered already.
	ErrPasskeyExists = errors.New("latchkey: passkey registered already")
	// ErrTooManyPasskeys: the user has MaxPasskeysPerUser already.
	ErrTooManyPasskeys = errors.New("latchkey: too many passkeys")
)

// passkeyService is the relying party: the library, the store, the sealer
// of ceremonies.
type passkeyService struct {
	wa    *webauthn.WebAuthn
	store PasskeyStore
	seal  *seal.Keys
}

// passkeyRecord is what a store keeps as a Passkey's Data.
type passkeyRecord struct {
	Credential webauthn.Credential `json:"credential"`
	// UserHandle is the random handle the user's passkeys carry; all of a
	// user's share it, and it never changes.
	UserHandle []byte `json:"userHandle"`
}

// rpFor works out the relying party of cfg: its id and the origins
// ceremonies may come from; ok is false when nothing names one. Unless
// configured, the relying party is the SPA's site (AppURL, where
// navigator.credentials runs), and the origins are those of AppURL,
// PublicURL and AllowedOrigins on it; an origin elsewhere is left out, as
// a browser would refuse it anyway. A configured id or origin list that
// does not fit together is an error.
func rpFor(cfg Config) (id string, origins []string, ok bool, err error) {
	candidates, explicit := cfg.PasskeyOrigins, len(cfg.PasskeyOrigins) > 0
	if !explicit {
		candidates = append([]string{cfg.AppURL, cfg.PublicURL}, cfg.AllowedOrigins...)
	}
	var parsed []*url.URL
	for _, o := range candidates {
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return "", nil, false, fmt.Errorf("latchkey: passkeys: origin %q is not an http(s) URL", o)
		}
		parsed = append(parsed, u)
	}
	if len(parsed) == 0 {
		return "", nil, false, nil
	}
	id = cfg.PasskeyRPID
	if id == "" {
		id = parsed[0].Hostname()
		if ip := net.ParseIP(id); ip != nil && !explicit {
			if !ip.IsLoopback() {
				return "", nil, false, nil // WebAuthn needs a domain
			}
			// The demo at http://127.0.0.1:8080: this machine is localhost,
			// a domain, and a secure context over plain HTTP too.
			u := *parsed[0]
			u.Host = net.JoinHostPort("localhost", u.Port())
			if u.Port() == "" {
				u.Host = "localhost"
			}
			parsed, id = []*url.URL{&u}, "localhost"
		}
	}
	for _, u := range parsed {
		origin := u.Scheme + "://" + u.Host
		if h := u.Hostname(); h != id && !strings.HasSuffix(h, "."+id) {
			if explicit || cfg.PasskeyRPID != "" && u == parsed[0] {
				return "", nil, false, fmt.Errorf("latchkey: passkeys: origin %s is not on the relying party %s (set PasskeyRPID, --passkey-rp-id, to a domain both share)", origin, id)
			}
			continue
		}
		if !slices.Contains(origins, origin) {
			origins = append(origins, origin)
		}
	}
	if len(origins) == 0 {
		return "", nil, false, fmt.Errorf("latchkey: passkeys: no origin is on the relying party %s", id)
	}
	return id, origins, true, nil
}

func newPasskeyService(cfg Config, users UserStore, sessions SessionStore) (*passkeyService, error) {
	id, origins, ok, err := rpFor(cfg)
	if err != nil || !ok {
		return nil, err
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          id,
		RPDisplayName: cfg.ProductName,
		RPOrigins:     origins,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("latchkey: passkeys: %w", err)
	}
	store, ok := users.(PasskeyStore)
	if !ok {
		if store, ok = sessions.(PasskeyStore); !ok {
			return nil, fmt.Errorf("latchkey: neither %T nor %T keeps passkeys (PasskeyStore)", users, sessions)
		}
	}
	keys, err := newCeremonyKeys(cfg.Secrets)
	if err != nil {
		return nil, err
	}
	return &passkeyService{wa: wa, store: store, seal: keys}, nil
}

// waUser is a user as the WebAuthn library sees one.
type waUser struct {
	u       *User
	handle  []byte
	creds   []webauthn.Credential
	records []Passkey // the stored passkeys, in the order of creds
}

func (w *waUser) WebAuthnID() []byte                         { return w.handle }
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.Username }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// webauthnUser loads u's passkeys. A user without any gets a new random
// handle, which the first passkey keeps.
func (a *Auth) webauthnUser(ctx context.Context, u *User) (*waUser, error) {
	list, err := timed(a.met.op(opListPasskeys), func() ([]Passkey, error) { return a.passkeys.store.ListPasskeys(ctx, u.ID) })
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	w := &waUser{u: u, records: list}
	for _, p := range list {
		var rec passkeyRecord
		if err := json.Unmarshal(p.Data, &rec); err != nil {
			return nil, fmt.Errorf("passkey %d: %w", p.ID, err)
		}
		w.creds = append(w.creds, rec.Credential)
		w.handle = rec.UserHandle
	}
	if w.handle == nil {
		w.handle = make([]byte, 32)
		rand.Read(w.handle)
	}
	return w, nil
}

// PasskeyInfo is a passkey as its user sees it.
type PasskeyInfo struct {
	ID         int64
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// BackedUp is set for a passkey synced to other devices (the
	// authenticator's backup state).
	BackedUp bool
}

// Passkeys lists the user's passkeys.
func (a *Auth) Passkeys(ctx context.Context, userID int64) ([]PasskeyInfo, error) {
	if a.passkeys == nil {
		return nil, ErrPasskeysOff
	}
	list, err := timed(a.met.op(opListPasskeys), func() ([]Passkey, error) { return a.passkeys.store.ListPasskeys(ctx, userID) })
	if err != nil {
		return nil, fmt.Errorf("list passkeys: %w", err)
	}
	out := make([]PasskeyInfo, len(list))
	for i, p := range list {
		var rec passkeyRecord
		_ = json.Unmarshal(p.Data, &rec) // a record it cannot read shows without its flags
		out[i] = PasskeyInfo{ID: p.ID, Name: p.Name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, BackedUp: rec.Credential.Flags.BackupState}
	}
	return out, nil
}

// BeginPasskeyRegistration starts registering a passkey for u: the options
// for navigator.credentials.create, and the state FinishPasskeyRegistration
// needs, which the caller keeps where the browser cannot change it. The
// passkey is discoverable (it can sign in without a username) and must
// verify the user; the user's passkeys are excluded, so an authenticator
// is not registered twice.
func (a *Auth) BeginPasskeyRegistration(ctx context.Context, u *User) (*protocol.CredentialCreation, *webauthn.SessionData, error) {
	if a.passkeys == nil {
		return nil, nil, ErrPasskeysOff
	}
	w, err := a.webauthnUser(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	if len(w.creds) >= MaxPasskeysPerUser {
		return nil, nil, ErrTooManyPasskeys
	}
	exclude := make([]protocol.CredentialDescriptor, len(w.creds))
	for i, c := range w.creds {
		exclude[i] = c.Descriptor()
	}
	return a.passkeys.wa.BeginRegistration(w,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired,
		}),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExclusions(exclude),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation))
}

// FinishPasskeyRegistration checks the browser's answer (response, the
// PublicKeyCredential as JSON) against the state BeginPasskeyRegistration
// gave, and stores the passkey under name (a default from the device when
// empty).
func (a *Auth) FinishPasskeyRegistration(ctx context.Context, u *User, session webauthn.SessionData, name string, response []byte) (*PasskeyInfo, error) {
	if a.passkeys == nil {
		return nil, ErrPasskeysOff
	}
	if strings.TrimSpace(name) == "" {
		name = "Passkey"
		if c, ok := ctx.Value(clientCtxKey{}).(client); ok {
			name = device.Name(c.userAgent)
		}
	}
	name, err := checkLabel(name, "Passkey")
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, passkeyInputError(err)
	}
	w, err := a.webauthnUser(ctx, u)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(session.UserID, w.handle) && len(w.creds) > 0 {
		return nil, errCeremony // begun for another user, or before another passkey came
	}
	w.handle = session.UserID
	cred, err := a.passkeys.wa.CreateCredential(w, session, parsed)
	if err != nil {
		return nil, passkeyInputError(err)
	}
	data, err := json.Marshal(passkeyRecord{Credential: *cred, UserHandle: w.handle})
	if err != nil {
		return nil, err
	}
	now := a.now()
	p := &Passkey{UserID: u.ID, CredentialID: cred.ID, Data: data, Name: name, CreatedAt: now, LastUsedAt: now}
	if err := timedErr(a.met.op(opAddPasskey), func() error { return a.passkeys.store.AddPasskey(ctx, p) }); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, ErrPasskeyExists
		}
		return nil, fmt.Errorf("add passkey: %w", err)
	}
	a.record(ctx, Event{Type: EventPasskeyAdded, UserID: u.ID, Detail: name})
	a.notifyMFA(ctx, u, mail.KindPasskeyAdded)
	return &PasskeyInfo{ID: p.ID, Name: name, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt, BackedUp: cred.Flags.BackupState}, nil
}

// passkeyInputError turns the library's refusal of a browser's answer into
// a 400 that says why.
func passkeyInputError(err error) error {
	msg := "The passkey's answer is not valid."
	if pe, ok := errors.AsType[*protocol.Error](err); ok && pe.Details != "" {
		msg = "The passkey's answer is not valid: " + pe.Details
	}
	return &InputError{Code: "invalid_input", Field: "credential", Message: msg}
}

// RenamePasskey renames the user's passkey; another user's is not found.
func (a *Auth) RenamePasskey(ctx context.Context, userID, id int64, name string) error {
	if a.passkeys == nil {
		return ErrPasskeysOff
	}
	name, err := checkLabel(name, "Passkey")
	if err != nil {
		return err
	}
	return timedErr(a.met.op(opRenamePasskey), func() error { return a.passkeys.store.RenamePasskey(ctx, userID, id, name) })
}

// DeletePasskey removes the user's passkey, which signs in no more; another
// user's is not found.
func (a *Auth) DeletePasskey(ctx context.Context, userID, id int64) error {
	if a.passkeys == nil {
		return ErrPasskeysOff
	}
	if err := timedErr(a.met.op(opDeletePasskey), func() error { return a.passkeys.store.DeletePasskey(ctx, userID, id) }); err != nil {
		return err
	}
	a.record(ctx, Event{Type: EventPasskeyRemoved, UserID: userID, Detail: strconv.FormatInt(id, 10)})
	if u, err := a.userByID(ctx, userID); err == nil {
		a.notifyMFA(ctx, u, mail.KindPasskeyRemoved)
	}
	return nil
}

// deleteUserPasskeys removes all of a user's passkeys (account deletion,
// an MFA reset) and reports how many there were.
func (a *Auth) deleteUserPasskeys(ctx context.Context, userID int64) (int, error) {
	if a.passkeys == nil {
		return 0, nil
	}
	list, err := timed(a.met.op(opListPasskeys), func() ([]Passkey, error) { return a.passkeys.store.ListPasskeys(ctx, userID) })
	if err != nil {
		return 0, err
	}
	for _, p := range list {
		if err := timedErr(a.met.op(opDeletePasskey), func() error { return a.passkeys.store.DeletePasskey(ctx, userID, p.ID) }); err != nil && !errors.Is(err, ErrNotFound) {
			return 0, err
		}
	}
	return len(list), nil
}

// BeginPasskeyLogin starts a sign-in with a passkey alone: options for
// navigator.credentials.get that name no user (the authenticator offers
// its discoverable credentials) and require user verification.
func (a *Auth) BeginPasskeyLogin(ctx context.Context) (*protocol.CredentialAssertion, *webauthn.SessionData, error) {
	if a.passkeys == nil {
		return nil, nil, ErrPasskeysOff
	}
	return a.passkeys.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
}

// FinishPasskeyLogin checks a passkey's assertion against the state
// BeginPasskeyLogin gave, and returns the user it signs in, after noting
// the passkey's use (its counter and backup state). Any failure is
// ErrInvalidCredentials, and says nothing of which account.
func (a *Auth) FinishPasskeyLogin(ctx context.Context, session webauthn.SessionData, response []byte) (*User, error) {
	if a.passkeys == nil {
		return nil, ErrPasskeysOff
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return nil, ErrInvalidCredentials
	}
	var found *waUser
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := timed(a.met.op(opPasskeyByCredentialID), func() (*Passkey, error) { return a.passkeys.store.PasskeyByCredentialID(ctx, rawID) })
		if err != nil {
			return nil, err
		}
		u, err := a.userByID(ctx, p.UserID)
		if err != nil {
			return nil, err
		}
		w, err := a.webauthnUser(ctx, u)
		if err != nil {
			return nil, err
		}
		// The handle this credential was registered with (two first
		// registrations racing could each have made one).
		var rec passkeyRecord
		if err := json.Unmarshal(p.Data, &rec); err != nil {
			return nil, fmt.Errorf("passkey %d: %w", p.ID, err)
		}
		if !bytes.Equal(rec.UserHandle, userHandle) {
			return nil, fmt.Errorf("user handle of another user: %w", ErrNotFound)
		}
		w.handle = rec.UserHandle
		found = w
		return w, nil
	}
	_, cred, err := a.passkeys.wa.ValidatePasskeyLogin(handler, session, parsed)
	if err != nil {
		if errors.Is(err, ErrStoreUnavailable) {
			return nil, err
		}
		if found != nil {
			a.record(ctx, Event{Type: EventLoginFailed, UserID: found.u.ID, Detail: "passkey"})
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	a.notePasskeyUse(ctx, found, cred)
	return found.u, nil
}

// notePasskeyUse stores a used passkey's new counter and flags; a failure
// only delays that to the next use.
func (a *Auth) notePasskeyUse(ctx context.Context, w *waUser, cred *webauthn.Credential) {
	for _, p := range w.records {
		if !bytes.Equal(p.CredentialID, cred.ID) {
			continue
		}
		data, err := json.Marshal(passkeyRecord{Credential: *cred, UserHandle: w.handle})
		if err == nil {
			err = timedErr(a.met.op(opUpdatePasskey), func() error { return a.passkeys.store.UpdatePasskey(ctx, w.u.ID, p.ID, data, a.now()) })
		}
		if err != nil {
			a.log.WarnContext(ctx, "passkey use not noted", "user_id", w.u.ID, "passkey_id", p.ID, "err", err)
		}
		if cred.Authenticator.CloneWarning {
			a.log.WarnContext(ctx, "passkey counter went back: the authenticator may be cloned", "user_id", w.u.ID, "passkey_id", p.ID)
		}
	}
}
