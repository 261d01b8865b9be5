package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

func (f *fixture) userByID(t *testing.T, id int64) *latchkey.User {
	t.Helper()
	u, err := f.users.UserByID(f.ctx, id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func testSetRoles(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	bob := f.createUser(t, "bob")
	f.clock.Advance(time.Minute)
	for _, roles := range [][]string{{"admin", "editor", "ops:eu-1"}, {"viewer"}, nil} {
		if err := f.users.SetRoles(f.ctx, u.ID, roles, f.clock.Now()); err != nil {
			t.Fatalf("SetRoles(%q): %v", roles, err)
		}
		u.Roles, u.UpdatedAt = roles, f.clock.Now()
		checkUser(t, fmt.Sprintf("after SetRoles(%q)", roles), f.userByID(t, u.ID), u)
		f.clock.Advance(time.Second)
	}
	checkUser(t, "another user", f.userByID(t, bob.ID), bob)
	checkErr(t, "SetRoles of an unknown user", f.users.SetRoles(f.ctx, u.ID+100, []string{"admin"}, f.clock.Now()), latchkey.ErrNotFound)
}

func testChangeRole(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	if err := f.users.SetRoles(f.ctx, u.ID, nil, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	u.Roles = nil
	steps := []struct {
		role    string
		add     bool
		changed bool
		want    []string
	}{
		{"editor", true, true, []string{"editor"}},
		{"admin", true, true, []string{"admin", "editor"}},
		{"admin", true, false, []string{"admin", "editor"}},
		{"zeta.ops", true, true, []string{"admin", "editor", "zeta.ops"}},
		// "edit" is a prefix of "editor": removing it must not touch it.
		{"edit", false, false, []string{"admin", "editor", "zeta.ops"}},
		{"editor", false, true, []string{"admin", "zeta.ops"}},
		{"editor", false, false, []string{"admin", "zeta.ops"}},
		{"admin", false, true, []string{"zeta.ops"}},
		{"zeta.ops", false, true, nil},
	}
	for _, st := range steps {
		f.clock.Advance(time.Second)
		changed, err := f.users.ChangeRole(f.ctx, u.ID, st.role, st.add, f.clock.Now())
		if err != nil || changed != st.changed {
			t.Fatalf("ChangeRole(%q, add=%v): got (%v, %v), want (%v, nil)", st.role, st.add, changed, err, st.changed)
		}
		u.Roles = st.want
		if changed {
			u.UpdatedAt = f.clock.Now() // and only then
		}
		checkUser(t, fmt.Sprintf("after ChangeRole(%q, add=%v)", st.role, st.add), f.userByID(t, u.ID), u)
	}
	_, err := f.users.ChangeRole(f.ctx, u.ID+100, "admin", true, f.clock.Now())
	checkErr(t, "ChangeRole of an unknown user", err, latchkey.ErrNotFound)
}

func testSetLocked(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	bob := f.createUser(t, "bob")
	for _, locked := range []bool{true, true, false} {
		f.clock.Advance(time.Second)
		if err := f.users.SetLocked(f.ctx, u.ID, locked, f.clock.Now()); err != nil {
			t.Fatalf("SetLocked(%v): %v", locked, err)
		}
		u.Locked, u.UpdatedAt = locked, f.clock.Now()
		checkUser(t, fmt.Sprintf("after SetLocked(%v)", locked), f.userByID(t, u.ID), u)
		got, err := f.users.UserByUsernameKey(f.ctx, u.UsernameKey)
		if err != nil {
			t.Fatal(err)
		}
		checkUser(t, "by username", got, u)
	}
	checkUser(t, "another user", f.userByID(t, bob.ID), bob)
	checkErr(t, "SetLocked of an unknown user", f.users.SetLocked(f.ctx, u.ID+100, true, f.clock.Now()), latchkey.ErrNotFound)
}

func testSearchUsers(t *testing.T, f *fixture) {
	names := []string{"alice", "malice", "bob", "al_ice", "al%ce", "Zoë"}
	ids := map[string]int64{}
	for _, n := range names {
		u := f.createUser(t, n)
		ids[u.UsernameKey] = u.ID
	}
	carol := f.createUser(t, "carol")
	if err := f.setEmail(t, carol.ID, "Carol.Alice@Example.org", false, carol.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	ids["carol"] = carol.ID
	search := func(q string, after int64, limit int) []int64 {
		t.Helper()
		got, err := f.users.SearchUsers(f.ctx, q, after, limit)
		if err != nil {
			t.Fatalf("SearchUsers(%q, %d, %d): %v", q, after, limit, err)
		}
		var out []int64
		for _, u := range got {
			out = append(out, u.ID)
		}
		return out
	}
	idsOf := func(ns ...string) []int64 {
		var out []int64
		for _, n := range ns {
			out = append(out, ids[n])
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"alice", idsOf("alice", "malice", "carol")}, // carol by her address
		{"", idsOf("alice", "malice", "bob", "al_ice", "al%ce", "zoë", "carol")},
		// SQL LIKE wildcards are plain characters here.
		{"al_", idsOf("al_ice")},
		{"l%c", idsOf("al%ce")},
		{"zoë", idsOf("zoë")},
		{"example.org", idsOf("carol")},
		{"nobody", nil},
	} {
		if got := search(tc.q, 0, 100); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("SearchUsers(%q): got ids %v, want %v", tc.q, got, tc.want)
		}
	}
	all := idsOf("alice", "malice", "carol")
	if got := search("alice", all[0], 1); fmt.Sprint(got) != fmt.Sprint(all[1:2]) {
		t.Errorf("SearchUsers after %d, limit 1: got %v, want %v", all[0], got, all[1:2])
	}
	if got := search("alice", 0, 0); got != nil {
		t.Errorf("SearchUsers with limit 0: got %v, want none", got)
	}
	got, err := f.users.SearchUsers(f.ctx, "bob", 0, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("SearchUsers(bob): got (%v, %v)", got, err)
	}
	checkUser(t, "found user", &got[0], f.userByID(t, ids["bob"]))
}

func testConcurrentChangeRoles(t *testing.T, f *fixture) {
	u := f.createUser(t, "alice")
	if err := f.users.SetRoles(f.ctx, u.ID, nil, u.UpdatedAt); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 12 {
		want = append(want, fmt.Sprintf("role%02d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(want))
	for _, r := range want {
		wg.Go(func() {
			changed, err := f.users.ChangeRole(f.ctx, u.ID, r, true, f.clock.Now())
			if err == nil && !changed {
				err = errors.New("not changed")
			}
			if err != nil {
				errs <- fmt.Errorf("ChangeRole(%q): %w", r, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := f.userByID(t, u.ID).Roles; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("roles after concurrent adds: got %q, want %q", got, want)
	}
}
