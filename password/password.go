// Package password hashes and verifies user passwords and decides whether a
// new password is acceptable. New hashes are argon2id PHC strings; bcrypt
// hashes imported from other systems verify too and are flagged for rehash,
// so they are upgraded on the user's next login. The package does no I/O.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// ErrMalformedHash is wrapped by every error about a stored hash that cannot
// be parsed or uses an unsupported scheme or out-of-range parameters.
var ErrMalformedHash = errors.New("password: malformed hash")

// ErrInvalidParams is wrapped by Params.Validate errors.
var ErrInvalidParams = errors.New("password: invalid argon2id parameters")

// Limits shared by Params.Validate and ParsePHC, so that every hash this
// package makes can be parsed again. They bound what a hostile hash in the
// database can cost Verify: at most 1 GiB of memory and 4 GiB of memory
// passes (memory × time): seconds of CPU, not hours.
const (
	maxMemory      = 1 << 20 // KiB (1 GiB)
	maxTime        = 32
	maxWork        = 4 << 20 // KiB × passes
	minSaltLen     = 8
	maxSaltLen     = 64
	minKeyLen      = 16
	maxKeyLen      = 128
	maxBcryptCost  = 16 // seconds of CPU; imported hashes rarely exceed 12
	maxBcryptBytes = 72
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB; default 19456 (19 MiB, the OWASP minimum)
	Time    uint32 // passes over memory; default 2
	Threads uint8  // lanes; default 1
	SaltLen uint32 // bytes; default 16
	KeyLen  uint32 // bytes; default 32
}

// DefaultParams returns the OWASP-recommended argon2id parameters
// (m=19456, t=2, p=1), which cost roughly 20–40 ms on a server core.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Validate reports parameters that are insecure, that argon2 would panic on
// or silently adjust, or that ParsePHC would refuse to read back. Errors wrap
// ErrInvalidParams.
func (p Params) Validate() error {
	if msg := p.check(); msg != "" {
		return fmt.Errorf("%w: %s", ErrInvalidParams, msg)
	}
	return nil
}

// check returns why p is out of range, or "". ParsePHC shares it so that the
// two can never disagree.
func (p Params) check() string {
	switch {
	case p.Threads == 0:
		return "threads must be at least 1"
	case p.Time == 0:
		return "time must be at least 1"
	case p.Time > maxTime:
		return fmt.Sprintf("time %d is above the limit of %d", p.Time, maxTime)
	case uint64(p.Memory) < 8*uint64(p.Threads):
		// argon2 would silently raise it, so the hash would not say what was computed.
		return fmt.Sprintf("memory %d KiB is below 8 KiB per thread (%d threads)", p.Memory, p.Threads)
	case p.Memory > maxMemory:
		return fmt.Sprintf("memory %d KiB is above the limit of %d KiB (1 GiB)", p.Memory, maxMemory)
	case uint64(p.Memory)*uint64(p.Time) > maxWork:
		return fmt.Sprintf("memory × time (%d KiB × %d) is above the limit of %d", p.Memory, p.Time, maxWork)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Sprintf("salt length %d is outside %d..%d bytes", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Sprintf("key length %d is outside %d..%d bytes", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return ""
}

// Hasher hashes and verifies passwords with fixed argon2id parameters. Make
// one with New; the zero value's Params are invalid, so Hash fails. A Hasher
// is safe for concurrent use; do not change Params after first use, because
// VerifyDummy caches a hash made with them.
type Hasher struct {
	Params Params

	dummyOnce sync.Once
	dummy     string // hash VerifyDummy checks against; "" if Params are invalid
}

// New returns a Hasher using p. It does not validate p, so that construction
// cannot fail; call p.Validate at startup to catch bad configuration early,
// otherwise Hash reports it.
func New(p Params) *Hasher {
	return &Hasher{Params: p}
}

// Hash returns an argon2id PHC string for password with a fresh random salt,
// e.g. $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (unpadded standard
// base64). Passwords over MaxBytes are refused with ErrTooLong rather than
// stored in a hash that Verify would never accept.
func (h *Hasher) Hash(password string) (string, error) {
	if err := h.Params.Validate(); err != nil {
		return "", err
	}
	if len(password) > MaxBytes {
		return "", ErrTooLong
	}
	salt := make([]byte, h.Params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, h.Params.Time, h.Params.Memory, h.Params.Threads, h.Params.KeyLen)
	return PHC{Version: argon2.Version, Params: h.Params, Salt: salt, Key: key}.String(), nil
}

// Verify checks password against encoded, an argon2id PHC string or a bcrypt
// hash ($2a$, $2b$, $2y$). ok reports a match. needsRehash is true only when
// ok and the hash is bcrypt or argon2id with parameters other than h.Params,
// so that callers can store a fresh Hash while they hold the plaintext.
//
// Argon2id hashes are recomputed with the parameters stored in them, within
// the limits ParsePHC enforces. A malformed or unsupported hash returns an
// error wrapping ErrMalformedHash. A password over MaxBytes, which Hash never
// accepts, or over 72 bytes against bcrypt, is a mismatch found without
// hashing.
func (h *Hasher) Verify(encoded, password string) (ok, needsRehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		phc, err := ParsePHC(encoded)
		if err != nil {
			return false, false, err
		}
		if len(password) > MaxBytes {
			return false, false, nil
		}
		key := argon2.IDKey([]byte(password), phc.Salt, phc.Params.Time, phc.Params.Memory, phc.Params.Threads, phc.Params.KeyLen)
		if subtle.ConstantTimeCompare(key, phc.Key) != 1 {
			return false, false, nil
		}
		return true, phc.Params != h.Params, nil
	case isBcrypt(encoded):
		if err := checkBcrypt(encoded); err != nil {
			return false, false, err
		}
		// bcrypt ignores bytes past 72, so a longer password would match on
		// its prefix alone; bcrypt.GenerateFromPassword refuses them too.
		if len(password) > maxBcryptBytes {
			return false, false, nil
		}
		switch err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password)); {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword), errors.Is(err, bcrypt.ErrPasswordTooLong):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: bcrypt: %v", ErrMalformedHash, err)
		}
	default:
		return false, false, fmt.Errorf("%w: unsupported scheme", ErrMalformedHash)
	}
}

// VerifyDummy costs the same as a Verify against a hash made with h.Params
// and matches nothing. Call it when the username is unknown, so that response
// time does not reveal which usernames exist. The dummy hash is made on first
// use; that call only makes it, since making it costs one Verify anyway. It
// is safe for concurrent use.
func (h *Hasher) VerifyDummy(password string) {
	made := false
	h.dummyOnce.Do(func() {
		// A random secret, so that no password can match the dummy.
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		h.dummy, _ = h.Hash(string(secret))
		made = true
	})
	if made || h.dummy == "" {
		return
	}
	_, _, _ = h.Verify(h.dummy, password)
}

func isBcrypt(s string) bool {
	return strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$")
}

// checkBcrypt validates the modular crypt layout $2x$NN$<22 salt><31 hash>
// itself, because the bcrypt package tolerates trailing bytes and any minor
// version, and would spend 2^31 rounds on a hostile cost.
func checkBcrypt(s string) error {
	const alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	if len(s) != 60 || s[6] != '$' {
		return fmt.Errorf("%w: bcrypt hash is not 60 bytes of $2x$NN$salthash", ErrMalformedHash)
	}
	if s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return fmt.Errorf("%w: bcrypt cost is not two digits", ErrMalformedHash)
	}
	if cost := int(s[4]-'0')*10 + int(s[5]-'0'); cost < bcrypt.MinCost || cost > maxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrMalformedHash, cost, bcrypt.MinCost, maxBcryptCost)
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(alphabet, s[i]) < 0 {
			return fmt.Errorf("%w: bcrypt hash has a byte outside its base64 alphabet", ErrMalformedHash)
		}
	}
	return nil
}
