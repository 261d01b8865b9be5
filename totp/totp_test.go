package totp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/totp"
)

// rfcSecret is the SHA-1 key of RFC 6238's and RFC 4226's test vectors.
var rfcSecret = []byte("12345678901234567890")

// RFC 6238 appendix B, SHA-1 rows: 8-digit codes at these Unix times.
func TestRFC6238Vectors(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		step int64
		want string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	} {
		now := time.Unix(tc.unix, 0)
		if got := totp.Step(now); got != tc.step {
			t.Errorf("Step(%d) = %#x, want %#x", tc.unix, got, tc.step)
		}
		if got := totp.HOTP(rfcSecret, uint64(tc.step), 8); got != tc.want {
			t.Errorf("TOTP at %d: got %s, want %s", tc.unix, got, tc.want)
		}
		// Our codes are the last 6 digits of the same truncation.
		if got := totp.Code(rfcSecret, tc.step); got != tc.want[2:] {
			t.Errorf("6-digit code at %d: got %s, want %s", tc.unix, got, tc.want[2:])
		}
	}
}

// RFC 4226 appendix D: HOTP values for counters 0 to 9.
func TestRFC4226Vectors(t *testing.T) {
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for c, w := range want {
		if got := totp.HOTP(rfcSecret, uint64(c), 6); got != w {
			t.Errorf("HOTP(counter %d) = %s, want %s", c, got, w)
		}
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1234567890, 0) // step 0x273EF07, 0 s into... 30 s steps
	step := totp.Step(now)
	code := func(s int64) string { return totp.Code(rfcSecret, s) }
	for _, tc := range []struct {
		name     string
		code     string
		after    int64
		wantStep int64
		ok       bool
	}{
		{"current step", code(step), 0, step, true},
		{"one step back", code(step - 1), 0, step - 1, true},
		{"one step ahead", code(step + 1), 0, step + 1, true},
		{"two steps back", code(step - 2), 0, 0, false},
		{"two steps ahead", code(step + 2), 0, 0, false},
		{"with a space", code(step)[:3] + " " + code(step)[3:], 0, step, true},
		{"with a dash", code(step)[:3] + "-" + code(step)[3:], 0, step, true},
		{"replayed: its step was accepted", code(step), step, 0, false},
		{"older than the last accepted", code(step - 1), step, 0, false},
		{"newer than the last accepted", code(step + 1), step, step + 1, true},
		{"too short", code(step)[:5], 0, 0, false},
		{"too long", code(step) + "0", 0, 0, false},
		{"not digits", "12a456", 0, 0, false},
		{"fullwidth digits", "１２３４５６", 0, 0, false},
		{"empty", "", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := totp.Verify(rfcSecret, tc.code, now, tc.after)
			if ok != tc.ok || got != tc.wantStep {
				t.Errorf("Verify(%q, after %d) = %d, %v; want %d, %v", tc.code, tc.after, got, ok, tc.wantStep, tc.ok)
			}
		})
	}
}

func TestSecretRoundTrip(t *testing.T) {
	s := totp.NewSecret()
	if len(s) != totp.SecretBytes {
		t.Fatalf("NewSecret: %d bytes, want %d", len(s), totp.SecretBytes)
	}
	enc := totp.EncodeSecret(s)
	if strings.ContainsAny(enc, "=") || len(enc) != 32 {
		t.Errorf("EncodeSecret: %q, want 32 base32 characters without padding", enc)
	}
	for _, in := range []string{enc, strings.ToLower(enc), enc[:4] + " " + enc[4:], enc + "===="} {
		got, err := totp.DecodeSecret(in)
		if err != nil || string(got) != string(s) {
			t.Errorf("DecodeSecret(%q) = %x, %v; want %x", in, got, err, s)
		}
	}
	for _, bad := range []string{"", "AAAA", "not base32!", "AAAAAAAAAAAAAAA1"} {
		if _, err := totp.DecodeSecret(bad); err == nil {
			t.Errorf("DecodeSecret(%q): no error", bad)
		}
	}
	if a, b := totp.NewSecret(), totp.NewSecret(); string(a) == string(b) {
		t.Error("two new secrets are equal")
	}
}

func TestURI(t *testing.T) {
	s := rfcSecret
	got := totp.URI("Acme Corp", "ann@example.com", s)
	want := "otpauth://totp/Acme%20Corp:ann@example.com?algorithm=SHA1&digits=6&issuer=Acme+Corp&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	if got != want {
		t.Errorf("URI:\ngot  %s\nwant %s", got, want)
	}
	if got := totp.URI("latchkey", "a:b/c", s); !strings.HasPrefix(got, "otpauth://totp/latchkey:a:b%2Fc?") {
		t.Errorf("URI with ':' and '/' in the account: %s", got)
	}
}

func FuzzVerify(f *testing.F) {
	f.Add("123456", int64(1234567890), int64(0))
	f.Add("12 34-56", int64(59), int64(1))
	f.Fuzz(func(t *testing.T, code string, unix, after int64) {
		now := time.Unix(unix%(1<<40), 0)
		step, ok := totp.Verify(rfcSecret, code, now, after)
		if !ok {
			return
		}
		if step <= after || step < totp.Step(now)-totp.Skew || step > totp.Step(now)+totp.Skew {
			t.Fatalf("Verify(%q, %v, %d) accepted step %d", code, now, after, step)
		}
		if n, _ := totp.Normalize(code); n != totp.Code(rfcSecret, step) {
			t.Fatalf("Verify(%q) accepted step %d, whose code is %s", code, step, totp.Code(rfcSecret, step))
		}
	})
}
