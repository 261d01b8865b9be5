package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/username"
)

// rotationTests check Session.Generation and RotatedAt and
// SessionStore.RotateSession, the compare-and-swap that makes refresh
// tokens single-use across instances sharing a store.
var rotationTests = []test{
	{name: "CreateFindRoundTrip", fn: testRotationFieldsRoundTrip},
	{name: "RotateWritesRotationAndMutableFields", fn: testRotateWritesFields},
	{name: "RotateCapsIdleAtAbsolute", fn: testRotateCapsIdle},
	{name: "WrongGenerationConflicts", fn: testRotateWrongGenerationConflicts},
	{name: "RotateGoneSessionIsNotFound", fn: testRotateGoneSessionIsNotFound},
	{name: "UpdateSessionKeepsGeneration", fn: testUpdateSessionKeepsGeneration},
	{name: "ConcurrentRotationsOneWins", fn: testConcurrentRotationsOneWins},
	{name: "ReadersReturnRotation", fn: testReadersReturnRotation},
}

// rotated returns a copy of s as a refresh at now would rotate it: one
// generation on, seen now, idle deadline renewed by idle.
func rotated(s *latchkey.Session, now time.Time, idle time.Duration) *latchkey.Session {
	r := cloneSession(s)
	r.Generation = s.Generation + 1
	r.RotatedAt = now.Truncate(time.Second) // token timestamps are whole seconds
	r.LastSeenAt = now
	r.IdleExpiresAt = now.Add(idle)
	return r
}

// sessionFinder returns the stores' SessionUserFinder, if users and
// sessions are one store that has it.
func (f *fixture) sessionFinder() (latchkey.SessionUserFinder, bool) {
	fd, ok := f.sessions.(latchkey.SessionUserFinder)
	if !ok {
		return nil, false
	}
	if us, ok := f.users.(latchkey.SessionUserFinder); !ok || us != fd {
		return nil, false
	}
	return fd, true
}

func testRotationFieldsRoundTrip(t *testing.T, f *fixture) {
	now := f.clock.Now()
	for _, tc := range []struct {
		name       string
		generation int64
		rotatedAt  time.Time
	}{
		{"never rotated", 0, time.Time{}},
		{"rotated", 7, now.Add(-time.Hour).Truncate(time.Second)},
		{"created by a refresh", 1, now.Truncate(time.Second)},
		{"largest generation", 1<<63 - 1, now.Add(-time.Minute).Truncate(time.Second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := newSession(42, now, 30*time.Minute, 30*24*time.Hour)
			want.Generation, want.RotatedAt = tc.generation, tc.rotatedAt
			if err := f.sessions.CreateSession(f.ctx, want); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			got, err := f.sessions.FindSession(f.ctx, want.TokenHash)
			if err != nil {
				t.Fatalf("FindSession: %v", err)
			}
			checkSession(t, "FindSession", got, want)
			if got.RotatedAt.IsZero() != tc.rotatedAt.IsZero() {
				t.Errorf("FindSession: RotatedAt.IsZero(): got %v (%v), want %v", got.RotatedAt.IsZero(), got.RotatedAt, tc.rotatedAt.IsZero())
			}
		})
	}
}

func testRotateWritesFields(t *testing.T, f *fixture) {
	s := newSession(7, f.clock.Now(), 30*time.Minute, 24*time.Hour)
	s.Generation, s.RotatedAt = 3, f.clock.Now().Truncate(time.Second)
	if err := f.sessions.CreateSession(f.ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	f.clock.Advance(10 * time.Minute)
	rot := rotated(s, f.clock.Now(), 30*time.Minute)
	rot.Fresh = false
	// None of these may be written.
	rot.UserID = 8
	rot.CreatedAt = f.clock.Now()
	rot.ExpiresAt = f.clock.Now().Add(48 * time.Hour)
	rot.Remember = false
	rot.UserAgent = "changed"
	rot.IP = "192.0.2.99"
	checkErr(t, "RotateSession", f.sessions.RotateSession(f.ctx, rot, 3), nil)

	want := cloneSession(s)
	want.LastSeenAt, want.IdleExpiresAt, want.Fresh = rot.LastSeenAt, rot.IdleExpiresAt, rot.Fresh
	want.Generation, want.RotatedAt = 4, rot.RotatedAt
	f.findEqual(t, "after RotateSession", want)
	list, err := f.sessions.ListUserSessions(f.ctx, 8)
	if err != nil || len(list) != 0 {
		t.Errorf("ListUserSessions(8): got (%d sessions, %v), want none: RotateSession must not move a session", len(list), err)
	}

	// The renewed idle deadline is the one that counts now.
	f.clock.Advance(25 * time.Minute)
	f.findEqual(t, "past the old idle deadline", want)

	// And the next rotation goes from the new generation.
	again := rotated(want, f.clock.Now(), 30*time.Minute)
	checkErr(t, "second RotateSession", f.sessions.RotateSession(f.ctx, again, 4), nil)
	f.findEqual(t, "after the second RotateSession", again)
}

func testRotateCapsIdle(t *testing.T, f *fixture) {
	s := f.createSession(t, 7, 45*time.Minute, time.Hour)
	f.clock.Advance(40 * time.Minute)
	rot := rotated(s, f.clock.Now(), 30*time.Minute) // past ExpiresAt
	checkErr(t, "RotateSession", f.sessions.RotateSession(f.ctx, rot, 0), nil)
	want := cloneSession(rot)
	want.IdleExpiresAt = s.ExpiresAt
	f.findEqual(t, "after RotateSession", want)
	f.clock.Advance(20*time.Minute - time.Millisecond)
	f.findEqual(t, "1ms before the absolute deadline", want)
	f.clock.Advance(time.Millisecond)
	f.findGone(t, "at the absolute deadline", s.TokenHash)
}

func testRotateWrongGenerationConflicts(t *testing.T, f *fixture) {
	s := newSession(5, f.clock.Now(), 30*time.Minute, 24*time.Hour)
	s.Generation, s.RotatedAt = 2, f.clock.Now().Truncate(time.Second)
	if err := f.sessions.CreateSession(f.ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	f.clock.Advance(time.Minute)
	for _, prev := range []int64{0, 1, 3, -2} {
		rot := rotated(s, f.clock.Now(), time.Hour)
		rot.Fresh = false
		checkErr(t, "RotateSession from another generation", f.sessions.RotateSession(f.ctx, rot, prev), latchkey.ErrConflict)
	}
	f.findEqual(t, "after refused rotations", s)

	// A replayed refresh token: the rotation it makes has happened already.
	rot := rotated(s, f.clock.Now(), time.Hour)
	checkErr(t, "RotateSession", f.sessions.RotateSession(f.ctx, rot, 2), nil)
	f.clock.Advance(time.Second)
	replay := rotated(s, f.clock.Now(), 2*time.Hour)
	checkErr(t, "replayed RotateSession", f.sessions.RotateSession(f.ctx, replay, 2), latchkey.ErrConflict)
	f.findEqual(t, "after the replay", rot)
}

func testRotateGoneSessionIsNotFound(t *testing.T, f *fixture) {
	f.forEachGoneSession(t, 6, func(t *testing.T, s *latchkey.Session, now time.Time) {
		// Gone wins over a wrong generation: there is nothing to conflict with.
		for _, prev := range []int64{6, 5} {
			rot := rotated(s, now, time.Minute)
			rot.ExpiresAt = now.Add(time.Hour) // a store that upserts would write this
			checkErr(t, "RotateSession", f.sessions.RotateSession(f.ctx, rot, prev), latchkey.ErrNotFound)
		}
	})
}

func testUpdateSessionKeepsGeneration(t *testing.T, f *fixture) {
	s := newSession(7, f.clock.Now(), 30*time.Minute, 24*time.Hour)
	s.Generation, s.RotatedAt = 4, f.clock.Now().Truncate(time.Second)
	if err := f.sessions.CreateSession(f.ctx, s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	f.clock.Advance(10 * time.Minute)
	now := f.clock.Now()
	upd := cloneSession(s)
	upd.LastSeenAt, upd.IdleExpiresAt, upd.Fresh = now, now.Add(30*time.Minute), false
	upd.Generation, upd.RotatedAt = 9, now.Truncate(time.Second) // may not be written
	if err := f.sessions.UpdateSession(f.ctx, upd); err != nil {
		t.Fatalf("UpdateSession: %v", err)
	}
	want := cloneSession(s)
	want.LastSeenAt, want.IdleExpiresAt, want.Fresh = upd.LastSeenAt, upd.IdleExpiresAt, upd.Fresh
	f.findEqual(t, "after UpdateSession", want)
	checkErr(t, "RotateSession from the generation UpdateSession was given", f.sessions.RotateSession(f.ctx, rotated(upd, now, time.Hour), 9), latchkey.ErrConflict)
	checkErr(t, "RotateSession from the stored generation", f.sessions.RotateSession(f.ctx, rotated(want, now, time.Hour), 4), nil)
}

// testConcurrentRotationsOneWins races n rotations from one generation, as
// several instances presenting one refresh token would, for a few rounds:
// exactly one may win each time.
func testConcurrentRotationsOneWins(t *testing.T, f *fixture) {
	const n, rounds = 16, 3
	s := f.createSession(t, 9, time.Hour, 24*time.Hour)
	for round := range rounds {
		prev := int64(round)
		base := f.clock.Now()
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			// Each contender writes its own LastSeenAt, so the winner shows.
			rot := rotated(s, base.Add(time.Duration(i)*time.Millisecond), time.Hour)
			rot.Generation = prev + 1
			wg.Go(func() {
				<-start
				errs[i] = f.sessions.RotateSession(f.ctx, rot, prev)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Errorf("round %d: rotations %d and %d both succeeded from generation %d", round, winner, i, prev)
			case !errors.Is(err, latchkey.ErrConflict):
				t.Errorf("round %d: rotation %d: got error %v, want nil or ErrConflict", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no rotation from generation %d succeeded", round, prev)
		}
		got, err := f.sessions.FindSession(f.ctx, s.TokenHash)
		if err != nil {
			t.Fatalf("round %d: FindSession: %v", round, err)
		}
		if got.Generation != prev+1 {
			t.Errorf("round %d: Generation: got %d, want %d", round, got.Generation, prev+1)
		}
		if wantSeen := base.Add(time.Duration(winner) * time.Millisecond); !sameTime(got.LastSeenAt, wantSeen) {
			t.Errorf("round %d: LastSeenAt: got %v, want the winner's %v", round, got.LastSeenAt, wantSeen)
		}
		s = got
		f.clock.Advance(time.Second)
	}
}

func testReadersReturnRotation(t *testing.T, f *fixture) {
	userID := int64(11)
	fd, finder := f.sessionFinder()
	if finder {
		userID = f.createUser(t, "alice").ID
	}
	s := f.createSession(t, userID, time.Hour, 24*time.Hour)
	f.clock.Advance(time.Minute)
	want := rotated(s, f.clock.Now(), time.Hour)
	want.Generation = 12
	if err := f.sessions.RotateSession(f.ctx, want, 0); err != nil {
		t.Fatalf("RotateSession: %v", err)
	}
	f.findEqual(t, "FindSession", want)
	list, err := f.sessions.ListUserSessions(f.ctx, userID)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListUserSessions: got (%d sessions, %v), want 1", len(list), err)
	}
	checkSession(t, "ListUserSessions", &list[0], want)
	if finder {
		gotS, gotU, err := fd.FindSessionUser(f.ctx, s.TokenHash)
		if err != nil || gotU == nil {
			t.Fatalf("FindSessionUser: got (%+v, %+v, %v), want the session and its user", gotS, gotU, err)
		}
		checkSession(t, "FindSessionUser", gotS, want)
	}
}

// CheckOldSession checks a session written before sessions had a
// generation (schema upgrades): it must read as generation 0, never
// rotated, and rotate from there.
func CheckOldSession(tb testing.TB, sessions latchkey.SessionStore, hash []byte, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	got, err := sessions.FindSession(ctx, hash)
	if err != nil {
		tb.Fatalf("FindSession: %v", err)
	}
	if got.Generation != 0 || !got.RotatedAt.IsZero() || got.RotatedAt != (time.Time{}) {
		tb.Errorf("old session: got Generation %d, RotatedAt %#v; want 0 and the zero time", got.Generation, got.RotatedAt)
	}
	rot := *got
	rot.Generation, rot.RotatedAt = 1, now.Truncate(time.Second)
	if err := sessions.RotateSession(ctx, &rot, 0); err != nil {
		tb.Fatalf("RotateSession from generation 0: %v", err)
	}
	if got, err := sessions.FindSession(ctx, hash); err != nil || got.Generation != 1 || !got.RotatedAt.Equal(rot.RotatedAt) {
		tb.Errorf("after RotateSession: got (%+v, %v), want generation 1 rotated at %v", got, err, rot.RotatedAt)
	}
}

// OldUsers are users written before stores kept username skeletons, as
// upgrade tests insert them (ids 1, 2, 3): two look alike.
var OldUsers = []struct{ Name, Key string }{{"admin", "admin"}, {"\u0430dmin", "\u0430dmin"}, {"bob", "bob"}}

// CheckOldUsers checks OldUsers after a schema upgrade: every one still
// there and found by key; the first of the look-alikes, and the others, got
// their skeleton, the later look-alike none; each with no roles and
// unlocked, and able to gain a role; and a new look-alike name is refused.
func CheckOldUsers(tb testing.TB, users latchkey.UserStore) {
	tb.Helper()
	ctx := context.Background()
	for i, o := range OldUsers {
		u, err := users.UserByUsernameKey(ctx, o.Key)
		if err != nil {
			tb.Fatalf("old user %q: %v", o.Name, err)
		}
		want := username.Skeleton(o.Name)
		if i == 1 {
			want = "" // looks like user 1, who keeps the skeleton
		}
		if u.ID != int64(i+1) || u.UsernameSkeleton != want {
			tb.Errorf("old user %q: id %d, skeleton %q; want %d, %q", o.Name, u.ID, u.UsernameSkeleton, i+1, want)
		}
		if u.Roles != nil || u.Locked {
			tb.Errorf("old user %q: roles %q, locked %v; want none, unlocked", o.Name, u.Roles, u.Locked)
		}
	}
	if changed, err := users.ChangeRole(ctx, 1, latchkey.RoleAdmin, true, time.Now()); err != nil || !changed {
		tb.Errorf("ChangeRole of an old user: got (%v, %v), want (true, nil)", changed, err)
	}
	if u, err := users.UserByID(ctx, 1); err != nil || fmt.Sprint(u.Roles) != "[admin]" {
		tb.Errorf("old user after ChangeRole: got (%+v, %v), want roles [admin]", u, err)
	}
	display, key, _ := latchkey.NormalizeUsername("adm\u0456n")
	err := users.CreateUser(ctx, &latchkey.User{Username: display, UsernameKey: key, UsernameSkeleton: username.Skeleton(display), PasswordHash: "x"})
	if !errors.Is(err, latchkey.ErrUsernameTaken) {
		tb.Errorf("CreateUser of a name like an old user's: %v, want ErrUsernameTaken", err)
	}
}
