package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PHC is a parsed argon2id hash. Params.SaltLen and Params.KeyLen equal
// len(Salt) and len(Key), so Params compares directly with a Hasher's.
type PHC struct {
	Version int // always 19 (0x13) once parsed
	Params  Params
	Salt    []byte
	Key     []byte
}

const phcPrefix = "$argon2id$v=19$"

// ParsePHC parses an argon2id hash in the PHC string format, exactly as
// String writes it: "$argon2id$v=19$m=M,t=T,p=P$salt$key" with plain decimal
// numbers (no signs or leading zeros) and canonical unpadded standard base64.
// Strictness means one hash has one spelling, and the limits of
// Params.Validate apply (salt 8..64 bytes, key 16..128 bytes, memory at most
// 1 GiB, …) so that a hostile hash cannot make Verify allocate gigabytes or
// run for minutes. Errors wrap ErrMalformedHash.
func ParsePHC(s string) (PHC, error) {
	rest, ok := strings.CutPrefix(s, phcPrefix)
	if !ok {
		return PHC{}, malformed("not an argon2id v=19 hash")
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return PHC{}, malformed("want 3 fields after the version, got %d", len(fields))
	}
	params := strings.Split(fields[0], ",")
	if len(params) != 3 {
		return PHC{}, malformed("want parameters m,t,p, got %d", len(params))
	}
	m, err := parseParam(params[0], "m=", 32)
	if err != nil {
		return PHC{}, err
	}
	t, err := parseParam(params[1], "t=", 32)
	if err != nil {
		return PHC{}, err
	}
	p, err := parseParam(params[2], "p=", 8)
	if err != nil {
		return PHC{}, err
	}
	salt, err := decodeB64(fields[1], "salt", maxSaltLen)
	if err != nil {
		return PHC{}, err
	}
	key, err := decodeB64(fields[2], "key", maxKeyLen)
	if err != nil {
		return PHC{}, err
	}
	phc := PHC{
		Version: argon2.Version,
		Params: Params{
			Memory:  uint32(m),
			Time:    uint32(t),
			Threads: uint8(p),
			SaltLen: uint32(len(salt)),
			KeyLen:  uint32(len(key)),
		},
		Salt: salt,
		Key:  key,
	}
	if msg := phc.Params.check(); msg != "" {
		return PHC{}, malformed("%s", msg)
	}
	return phc, nil
}

// String returns the PHC string form that ParsePHC reads.
func (p PHC) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		p.Version, p.Params.Memory, p.Params.Time, p.Params.Threads,
		base64.RawStdEncoding.EncodeToString(p.Salt),
		base64.RawStdEncoding.EncodeToString(p.Key))
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, fmt.Sprintf(format, args...))
}

// parseParam reads "name=digits" as an unsigned number of at most bits bits.
// strconv alone would accept leading zeros.
func parseParam(s, name string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(s, name)
	if !ok {
		return 0, malformed("want parameter %q, got %.20q", name, s)
	}
	if digits == "" || (digits[0] == '0' && len(digits) > 1) {
		return 0, malformed("parameter %s is not a plain decimal number", name)
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, malformed("parameter %s is not a plain decimal number", name)
		}
	}
	n, err := strconv.ParseUint(digits, 10, bits)
	if err != nil {
		return 0, malformed("parameter %s is out of range", name)
	}
	return n, nil
}

// decodeB64 decodes canonical unpadded standard base64 of at most maxLen
// bytes. Re-encoding catches what the decoder forgives: newlines and
// non-zero trailing bits.
func decodeB64(s, what string, maxLen int) ([]byte, error) {
	if len(s) > base64.RawStdEncoding.EncodedLen(maxLen) {
		return nil, malformed("%s is longer than %d bytes", what, maxLen)
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || base64.RawStdEncoding.EncodeToString(b) != s {
		return nil, malformed("%s is not canonical unpadded base64", what)
	}
	return b, nil
}
