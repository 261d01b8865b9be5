package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/latchkey/latchkey/internal/seal"
)

var (
	oldSecret = []byte("the old secret, at least 32 bytes long")
	newSecret = []byte("the new secret, at least 32 bytes long")
)

func mustNew(t *testing.T, purpose string, secrets ...[]byte) *seal.Keys {
	t.Helper()
	k, err := seal.New(secrets, purpose)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	plain, ad := []byte("JBSWY3DPEHPK3PXP"), []byte("user 7")
	old := mustNew(t, "p", oldSecret)
	sealed := old.Seal(plain, ad)
	if bytes.Contains(sealed, plain) {
		t.Fatal("the sealed value contains the plaintext")
	}
	if again := old.Seal(plain, ad); bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: the nonce must be fresh")
	}
	rotated := mustNew(t, "p", newSecret, oldSecret)
	for name, k := range map[string]*seal.Keys{"same keys": old, "after rotation": rotated} {
		got, err := k.Open(sealed, ad)
		if err != nil || !bytes.Equal(got, plain) {
			t.Errorf("%s: Open = %q, %v; want %q", name, got, err, plain)
		}
	}
	// The new first key seals; the old key alone cannot open that.
	fresh := rotated.Seal(plain, ad)
	if _, err := old.Open(fresh, ad); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("old key opening a value sealed after rotation: %v, want ErrOpen", err)
	}
	for name, tc := range map[string]struct {
		k      *seal.Keys
		sealed []byte
		ad     []byte
	}{
		"other additional data": {old, sealed, []byte("user 8")},
		"other purpose":         {mustNew(t, "q", oldSecret), sealed, ad},
		"other key":             {mustNew(t, "p", newSecret), sealed, ad},
		"flipped bit":           {old, append(append([]byte{}, sealed[:len(sealed)-1]...), sealed[len(sealed)-1]^1), ad},
		"truncated":             {old, sealed[:10], ad},
		"empty":                 {old, nil, ad},
		"unknown version":       {old, append([]byte{9}, sealed[1:]...), ad},
	} {
		if _, err := tc.k.Open(tc.sealed, tc.ad); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: Open error %v, want ErrOpen", name, err)
		}
	}
	if _, err := seal.New(nil, "p"); err == nil {
		t.Error("New without secrets: no error")
	}
}
