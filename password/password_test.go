package password_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/latchkey/latchkey/password"
)

// cheap are valid parameters that hash in well under a millisecond, for
// tests that are about behaviour rather than cost.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Vectors from independent implementations: libargon2 (the reference C
// code, via argon2id_hash_encoded) and libxcrypt's crypt(3).
const (
	vectorPassword  = "correct horse battery staple"
	vectorArgon2    = "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"
	vectorArgon2Def = "$argon2id$v=19$m=19456,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$0i6qoCqmsTKugD88rTsALppKlD8wbk0ic5BGcZY/mO4"
	vectorBcrypt2b  = "$2b$05$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"
	vectorBcrypt2y  = "$2y$05$H0F2SD/HAsfaA61b9kWK0eeYJPnKxgk0UztC8MzM4JldMUfwPJoya"
)

func TestHashVerifyRoundTrip(t *testing.T) {
	h := password.New(password.DefaultParams())
	enc, err := h.Hash("hunter2 is my password")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("got hash %q, want prefix $argon2id$v=19$m=19456,t=2,p=1$", enc)
	}
	phc, err := password.ParsePHC(enc)
	if err != nil {
		t.Fatalf("ParsePHC(Hash output): %v", err)
	}
	if got, want := phc.Params, password.DefaultParams(); got != want {
		t.Errorf("got params %+v, want %+v", got, want)
	}

	ok, rehash, err := h.Verify(enc, "hunter2 is my password")
	if err != nil || !ok || rehash {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(enc, "hunter2 is my passwore")
	if err != nil || ok || rehash {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}

	enc2, err := h.Hash("hunter2 is my password")
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	if enc == enc2 {
		t.Errorf("two hashes of one password are both %q, want different salts", enc)
	}
}

func TestHashRefuses(t *testing.T) {
	tests := []struct {
		name     string
		params   password.Params
		password string
		want     error
	}{
		{"zero hasher", password.Params{}, "long enough", password.ErrInvalidParams},
		{"too long password", cheap, strings.Repeat("a", password.MaxBytes+1), password.ErrTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := password.New(tt.params).Hash(tt.password)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %q, %v; want error %v", enc, err, tt.want)
			}
		})
	}
}

func TestVerifyMaxBytes(t *testing.T) {
	h := password.New(cheap)
	long := strings.Repeat("é", password.MaxBytes/2) // exactly MaxBytes bytes
	enc, err := h.Hash(long)
	if err != nil {
		t.Fatalf("Hash(%d bytes): %v", len(long), err)
	}
	if ok, _, err := h.Verify(enc, long); !ok || err != nil {
		t.Errorf("Verify(%d bytes) = %v, %v; want true, nil", len(long), ok, err)
	}
	if ok, _, err := h.Verify(enc, long+"x"); ok || err != nil {
		t.Errorf("Verify(%d bytes) = %v, %v; want false, nil", len(long)+1, ok, err)
	}
}

func TestVerifyVectors(t *testing.T) {
	h := password.New(password.DefaultParams())
	tests := []struct {
		name       string
		encoded    string
		password   string
		wantOK     bool
		wantRehash bool
	}{
		{"argon2 libargon2", vectorArgon2, vectorPassword, true, true},
		{"argon2 libargon2 default params", vectorArgon2Def, vectorPassword, true, false},
		{"argon2 wrong password", vectorArgon2, vectorPassword + " ", false, false},
		{"bcrypt $2b$", vectorBcrypt2b, vectorPassword, true, true},
		{"bcrypt $2y$", vectorBcrypt2y, vectorPassword, true, true},
		{"bcrypt wrong password", vectorBcrypt2y, "Correct horse battery staple", false, false},
		{"bcrypt over 72 bytes", vectorBcrypt2b, vectorPassword + strings.Repeat("!", 50), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.encoded, tt.password)
			if err != nil || ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("got %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestVerifyBcryptGenerated(t *testing.T) {
	b, err := bcrypt.GenerateFromPassword([]byte("s3cret-imported"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	h := password.New(cheap)
	if ok, rehash, err := h.Verify(string(b), "s3cret-imported"); !ok || !rehash || err != nil {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if ok, rehash, err := h.Verify(string(b), "s3cret-Imported"); ok || rehash || err != nil {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}

	// bcrypt reads only 72 bytes; more must not match on the prefix.
	pw72 := strings.Repeat("0123456789ab", 6)
	b, err = bcrypt.GenerateFromPassword([]byte(pw72), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(string(b), pw72); !ok || err != nil {
		t.Errorf("Verify(72 bytes) = %v, %v; want true, nil", ok, err)
	}
	if ok, rehash, err := h.Verify(string(b), pw72+"x"); ok || rehash || err != nil {
		t.Errorf("Verify(73 bytes, 72 matching) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	tests := []struct {
		name   string
		stored password.Params
		want   bool
	}{
		{"same params", cheap, false},
		{"fewer passes", password.Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"less memory", password.Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"more threads", password.Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"shorter salt", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 32}, true},
		{"longer key", password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := password.New(tt.stored).Hash("the password")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := password.New(cheap).Verify(enc, "the password")
			if !ok || err != nil || rehash != tt.want {
				t.Errorf("got %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
		})
	}

	// Defaults against a hash with Time 1: the upgrade path on login.
	enc, err := password.New(password.Params{Memory: 19456, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}).Hash("the password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash, err := password.New(password.DefaultParams()).Verify(enc, "the password"); !ok || !rehash || err != nil {
		t.Errorf("default Hasher on t=1 hash: got %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

// malformedHashes are refused by Verify, and the argon2id ones by ParsePHC.
var malformedHashes = []struct{ name, encoded string }{
	{"empty", ""},
	{"prefix only", "$argon2id$"},
	{"no version", "$argon2id$m=64,t=1,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"version 18", "$argon2id$v=18$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"version 019", "$argon2id$v=019$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"argon2i", "$argon2i$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"argon2d", "$argon2d$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"upper case scheme", "$ARGON2ID$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"params out of order", "$argon2id$v=19$t=2,m=64,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"param missing", "$argon2id$v=19$m=64,t=2$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"extra param", "$argon2id$v=19$m=64,t=2,p=1,data=eA$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"space in params", "$argon2id$v=19$m=64, t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"m=0", "$argon2id$v=19$m=0,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"m below 8 per thread", "$argon2id$v=19$m=15,t=2,p=2$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"t=0", "$argon2id$v=19$m=64,t=0,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"p=0", "$argon2id$v=19$m=64,t=2,p=0$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"p=256", "$argon2id$v=19$m=4096,t=2,p=256$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"m overflows uint32", "$argon2id$v=19$m=99999999999,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"m=2^32", "$argon2id$v=19$m=4294967296,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"m over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"t over limit", "$argon2id$v=19$m=64,t=33,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"t huge", "$argon2id$v=19$m=64,t=4294967295,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"memory times time over limit", "$argon2id$v=19$m=1048576,t=5,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"negative m", "$argon2id$v=19$m=-64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"plus sign", "$argon2id$v=19$m=+64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"leading zero", "$argon2id$v=19$m=064,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"empty number", "$argon2id$v=19$m=,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"hex number", "$argon2id$v=19$m=0x40,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"bad base64 salt", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZX!tc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"url base64 key", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI-CPUJK-S_8OORCdzM"},
	{"padded salt", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg==$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"newline in salt", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hr\nZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"non-canonical trailing bits", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNh$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"salt too short", "$argon2id$v=19$m=64,t=2,p=1$c2FsdA$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"empty salt", "$argon2id$v=19$m=64,t=2,p=1$$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"salt too long", "$argon2id$v=19$m=64,t=2,p=1$" + strings.Repeat("A", 88) + "$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM"},
	{"key too short", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCs"},
	{"key too long", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$" + strings.Repeat("A", 172)},
	{"missing key", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg"},
	{"extra field", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM$eA"},
	{"trailing dollar", "$argon2id$v=19$m=64,t=2,p=1$bGF0Y2hrZXktc2FsdC0xNg$hsClyRY8ylPs3HsR3lCshY4KYI+CPUJK+S/8OORCdzM$"},
	{"trailing newline", vectorArgon2 + "\n"},
	{"leading space", " " + vectorArgon2},
	{"plain text", "correct horse battery staple"},
	{"md5 crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"},
	{"bcrypt $2$", "$2$05$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt $2x$", "$2x$05$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt too short", "$2b$05$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/V"},
	{"bcrypt trailing byte", vectorBcrypt2b + "q"},
	{"bcrypt cost 03", "$2b$03$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt cost 31", "$2b$31$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt cost 99", "$2b$99$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt cost not digits", "$2b$+5$bS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt bad salt byte", "$2b$05$bS7oszi2bJN6PMMRloMq!Oj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
	{"bcrypt missing separator", "$2b$05xbS7oszi2bJN6PMMRloMqPOj9/f/YNwIfBhCuLIiwuaKlJedwD1/Vq"},
}

func TestVerifyMalformed(t *testing.T) {
	h := password.New(password.DefaultParams())
	for _, tt := range malformedHashes {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.encoded, vectorPassword)
			if !errors.Is(err, password.ErrMalformedHash) || ok || rehash {
				t.Errorf("got %v, %v, %v; want false, false, an error wrapping ErrMalformedHash", ok, rehash, err)
			}
		})
	}
}

func TestParsePHCMalformed(t *testing.T) {
	for _, tt := range malformedHashes {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := password.ParsePHC(tt.encoded); !errors.Is(err, password.ErrMalformedHash) {
				t.Errorf("got %+v, %v; want an error wrapping ErrMalformedHash", got, err)
			}
		})
	}
}

func TestParsePHC(t *testing.T) {
	got, err := password.ParsePHC(vectorArgon2)
	if err != nil {
		t.Fatalf("ParsePHC: %v", err)
	}
	want := password.Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	if got.Version != 19 || got.Params != want || string(got.Salt) != "latchkey-salt-16" || len(got.Key) != 32 {
		t.Errorf("got %+v, want version 19, params %+v, salt %q, 32-byte key", got, want, "latchkey-salt-16")
	}
	if s := got.String(); s != vectorArgon2 {
		t.Errorf("got String() %q, want %q", s, vectorArgon2)
	}

	// The largest values within every limit still parse.
	edge := "$argon2id$v=19$m=1048576,t=4,p=255$" + strings.Repeat("A", 86) + "$" + strings.Repeat("A", 171)
	if _, err := password.ParsePHC(edge); err != nil {
		t.Errorf("ParsePHC(limits) = %v, want nil", err)
	}
}

func TestValidate(t *testing.T) {
	d := password.DefaultParams()
	with := func(f func(*password.Params)) password.Params {
		p := d
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		params  password.Params
		wantErr bool
	}{
		{"default", d, false},
		{"cheap", cheap, false},
		{"zero", password.Params{}, true},
		{"time 0", with(func(p *password.Params) { p.Time = 0 }), true},
		{"time 33", with(func(p *password.Params) { p.Time = 33 }), true},
		{"threads 0", with(func(p *password.Params) { p.Threads = 0 }), true},
		{"memory 7 KiB", with(func(p *password.Params) { p.Memory = 7 }), true},
		{"memory below 8 KiB per thread", with(func(p *password.Params) { p.Memory = 31; p.Threads = 4 }), true},
		{"memory 8 KiB per thread", with(func(p *password.Params) { p.Memory = 32; p.Threads = 4 }), false},
		{"memory 1 GiB", with(func(p *password.Params) { p.Memory = 1 << 20; p.Time = 4 }), false},
		{"memory over 1 GiB", with(func(p *password.Params) { p.Memory = 1<<20 + 1; p.Time = 1 }), true},
		{"memory 4 GiB", with(func(p *password.Params) { p.Memory = 1<<32 - 1 }), true},
		{"memory times time over 4 GiB", with(func(p *password.Params) { p.Memory = 1 << 20; p.Time = 5 }), true},
		{"salt 7", with(func(p *password.Params) { p.SaltLen = 7 }), true},
		{"salt 8", with(func(p *password.Params) { p.SaltLen = 8 }), false},
		{"salt 65", with(func(p *password.Params) { p.SaltLen = 65 }), true},
		{"key 15", with(func(p *password.Params) { p.KeyLen = 15 }), true},
		{"key 128", with(func(p *password.Params) { p.KeyLen = 128 }), false},
		{"key 129", with(func(p *password.Params) { p.KeyLen = 129 }), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			if tt.wantErr && !errors.Is(err, password.ErrInvalidParams) {
				t.Errorf("got %v, want an error wrapping ErrInvalidParams", err)
			}
			if !tt.wantErr && err != nil {
				t.Errorf("got %v, want nil", err)
			}
		})
	}
}

// TestVerifyDummyConcurrent runs the lazy dummy hash under -race; timing is
// left to the benchmarks because this machine is too noisy to assert it.
func TestVerifyDummyConcurrent(t *testing.T) {
	h := password.New(cheap)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { h.VerifyDummy("whatever they typed") })
	}
	wg.Wait()
	password.New(password.Params{}).VerifyDummy("invalid params must not panic")
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name     string
		username string
		password string
		want     error
	}{
		{"7 characters", "alice", "xq7#Lp2", password.ErrTooShort},
		{"empty", "alice", "", password.ErrTooShort},
		{"8 multibyte runes", "alice", "пароль12", nil},
		{"7 multibyte runes in 14 bytes", "alice", "парольд", password.ErrTooShort},
		{"1024 bytes", "alice", strings.Repeat("ab", password.MaxBytes/2), nil},
		{"1025 bytes", "alice", strings.Repeat("ab", password.MaxBytes/2) + "c", password.ErrTooLong},
		{"same as username", "alexander", "alexander", password.ErrSameAsUsername},
		{"same as username, other case", "Alexander", "aLEXANDER", password.ErrSameAsUsername},
		{"same as username, spaces", " alexander ", "alexander  ", password.ErrSameAsUsername},
		{"same as username, Unicode case", "Ölgemälde", "ölGEMÄLDE", password.ErrSameAsUsername},
		{"username plus digit", "alexander", "alexander1", nil},
		{"empty username", "", "        x", nil},
		{"common", "alice", "password", password.ErrCommon},
		{"common, upper case", "alice", "PassWord1", password.ErrCommon},
		{"common iloveyou", "alice", "iloveyou", password.ErrCommon},
		{"common qwerty123", "alice", "qwerty123", password.ErrCommon},
		{"common and same as username", "password", "password", password.ErrSameAsUsername},
		{"passphrase", "alice", "correct horse battery staple", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := password.Check(tt.username, tt.password); !errors.Is(got, tt.want) || (tt.want == nil && got != nil) {
				t.Errorf("Check(%q, %.20q) = %v, want %v", tt.username, tt.password, got, tt.want)
			}
		})
	}
}

func TestIsCommon(t *testing.T) {
	tests := []struct {
		password string
		want     bool
	}{
		{"password", true},
		{"PASSWORD", true},
		{"trustno1", true},
		{"letmein", true},
		{"correct horse battery staple", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := password.IsCommon(tt.password); got != tt.want {
			t.Errorf("IsCommon(%q) = %v, want %v", tt.password, got, tt.want)
		}
	}
	if got := password.CommonCount(); got < 3000 {
		t.Errorf("got %d common passwords, want at least 3000", got)
	}
}

func BenchmarkHash(b *testing.B) {
	h := password.New(password.DefaultParams())
	for b.Loop() {
		if _, err := h.Hash(vectorPassword); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := password.New(password.DefaultParams())
	enc, err := h.Hash(vectorPassword)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(enc, "wrong password"); ok || err != nil {
			b.Fatalf("got %v, %v; want false, nil", ok, err)
		}
	}
}

// BenchmarkVerifyDummy should report about the same ns/op as BenchmarkVerify.
func BenchmarkVerifyDummy(b *testing.B) {
	h := password.New(password.DefaultParams())
	h.VerifyDummy("warm up") // makes the dummy hash outside the timed loop
	for b.Loop() {
		h.VerifyDummy("wrong password")
	}
}
