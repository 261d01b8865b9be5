package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var passkeyTests = []test{
	{name: "AddListFind", fn: testPasskeysRoundTrip},
	{name: "CredentialIDIsUnique", fn: testPasskeyCredentialUnique},
	{name: "UpdateRenameDeleteOwnOnly", fn: testPasskeyOwnOnly},
	{name: "ConcurrentAddSameCredential", fn: testPasskeyConcurrentAdd},
}

// passkeys finds the PasskeyStore as events does: the session store's if
// it has one (so Redis is the one tested), else the user store's.
func (f *fixture) passkeys(t *testing.T) latchkey.PasskeyStore {
	t.Helper()
	if ps, ok := f.sessions.(latchkey.PasskeyStore); ok {
		return ps
	}
	if ps, ok := f.users.(latchkey.PasskeyStore); ok {
		return ps
	}
	t.Fatal("neither store implements latchkey.PasskeyStore; every store must")
	return nil
}

func (f *fixture) addPasskey(t *testing.T, ps latchkey.PasskeyStore, userID int64, cred string) *latchkey.Passkey {
	t.Helper()
	p := &latchkey.Passkey{UserID: userID, CredentialID: []byte(cred), Data: []byte(`{"publicKey":"` + cred + `","n":1}`),
		Name: fmt.Sprintf("key %x", cred), CreatedAt: f.clock.Now(), LastUsedAt: f.clock.Now()}
	if err := ps.AddPasskey(f.ctx, p); err != nil {
		t.Fatalf("AddPasskey(%q): %v", cred, err)
	}
	if p.ID <= 0 {
		t.Fatalf("AddPasskey: ID %d", p.ID)
	}
	return p
}

func checkPasskey(t *testing.T, what string, got, want *latchkey.Passkey) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil passkey", what)
	}
	if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name ||
		!bytes.Equal(got.CredentialID, want.CredentialID) || !bytes.Equal(got.Data, want.Data) ||
		!sameTime(got.CreatedAt, want.CreatedAt) || !sameTime(got.LastUsedAt, want.LastUsedAt) {
		t.Errorf("%s: got %+v, want %+v", what, *got, *want)
	}
}

func testPasskeysRoundTrip(t *testing.T, f *fixture) {
	ps := f.passkeys(t)
	binary := "\x00\xff\x10cred" // credential ids are bytes, not text
	a1 := f.addPasskey(t, ps, 7, binary)
	f.clock.Advance(time.Second)
	a2 := f.addPasskey(t, ps, 7, "a2")
	b1 := f.addPasskey(t, ps, 8, "b1")
	list, err := ps.ListPasskeys(f.ctx, 7)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListPasskeys(7): %v, %v", list, err)
	}
	checkPasskey(t, "first of user 7", &list[0], a1)
	checkPasskey(t, "second of user 7", &list[1], a2)
	got, err := ps.PasskeyByCredentialID(f.ctx, []byte(binary))
	if err != nil {
		t.Fatal(err)
	}
	checkPasskey(t, "by credential id", got, a1)
	got.Data[0] ^= 0xff // a copy
	got, _ = ps.PasskeyByCredentialID(f.ctx, []byte("b1"))
	checkPasskey(t, "b1", got, b1)
	got, _ = ps.PasskeyByCredentialID(f.ctx, []byte(binary))
	checkPasskey(t, "after changing a returned one", got, a1)
	if _, err := ps.PasskeyByCredentialID(f.ctx, []byte("nope")); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("unknown credential: %v, want ErrNotFound", err)
	}
	if list, err := ps.ListPasskeys(f.ctx, 9); err != nil || len(list) != 0 {
		t.Errorf("ListPasskeys(9): %v, %v", list, err)
	}
}

func testPasskeyCredentialUnique(t *testing.T, f *fixture) {
	ps := f.passkeys(t)
	f.addPasskey(t, ps, 7, "same")
	dup := &latchkey.Passkey{UserID: 8, CredentialID: []byte("same"), Data: []byte("{}"), CreatedAt: f.clock.Now(), LastUsedAt: f.clock.Now()}
	checkErr(t, "AddPasskey of a taken credential id", ps.AddPasskey(f.ctx, dup), latchkey.ErrConflict)
	dup.UserID = 7
	checkErr(t, "AddPasskey of one's own credential again", ps.AddPasskey(f.ctx, dup), latchkey.ErrConflict)
	for _, u := range []int64{7, 8} {
		list, err := ps.ListPasskeys(f.ctx, u)
		if err != nil || len(list) != 2-int(u-6) {
			t.Errorf("user %d's passkeys after the refused adds: %v, %v", u, list, err)
		}
	}
}

func testPasskeyOwnOnly(t *testing.T, f *fixture) {
	ps := f.passkeys(t)
	a := f.addPasskey(t, ps, 7, "a")
	b := f.addPasskey(t, ps, 8, "b")
	// Another user's passkey is not found by any write.
	checkErr(t, "UpdatePasskey of another's", ps.UpdatePasskey(f.ctx, 8, a.ID, []byte("x"), f.clock.Now()), latchkey.ErrNotFound)
	checkErr(t, "RenamePasskey of another's", ps.RenamePasskey(f.ctx, 8, a.ID, "mine now"), latchkey.ErrNotFound)
	checkErr(t, "DeletePasskey of another's", ps.DeletePasskey(f.ctx, 8, a.ID), latchkey.ErrNotFound)
	checkErr(t, "DeletePasskey of none", ps.DeletePasskey(f.ctx, 7, b.ID+100), latchkey.ErrNotFound)

	f.clock.Advance(time.Minute)
	a.Data, a.LastUsedAt = []byte(`{"n":2}`), f.clock.Now()
	if err := ps.UpdatePasskey(f.ctx, 7, a.ID, a.Data, a.LastUsedAt); err != nil {
		t.Fatal(err)
	}
	a.Name = "YubiKey 5 ✓"
	if err := ps.RenamePasskey(f.ctx, 7, a.ID, a.Name); err != nil {
		t.Fatal(err)
	}
	got, err := ps.PasskeyByCredentialID(f.ctx, a.CredentialID)
	if err != nil {
		t.Fatal(err)
	}
	checkPasskey(t, "after update and rename", got, a)
	if err := ps.DeletePasskey(f.ctx, 7, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.PasskeyByCredentialID(f.ctx, a.CredentialID); !errors.Is(err, latchkey.ErrNotFound) {
		t.Errorf("deleted passkey: %v, want ErrNotFound", err)
	}
	got, _ = ps.PasskeyByCredentialID(f.ctx, b.CredentialID)
	checkPasskey(t, "the other user's", got, b)
	// Its credential id is free again.
	f.addPasskey(t, ps, 9, "a")
}

func testPasskeyConcurrentAdd(t *testing.T, f *fixture) {
	ps := f.passkeys(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, conflicts := 0, 0
	for i := range 8 {
		wg.Go(func() {
			p := &latchkey.Passkey{UserID: int64(i + 1), CredentialID: []byte("race"), Data: []byte("{}"), CreatedAt: f.clock.Now(), LastUsedAt: f.clock.Now()}
			err := ps.AddPasskey(f.ctx, p)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, latchkey.ErrConflict):
				conflicts++
			default:
				t.Errorf("AddPasskey: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 || conflicts != 7 {
		t.Errorf("8 concurrent adds of one credential id: %d stored, %d conflicts; want 1 and 7", ok, conflicts)
	}
}
