package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var eventTests = []test{
	{name: "AddListRoundTrip", fn: testEventsRoundTrip},
	{name: "ListPages", fn: testEventsPages},
	{name: "Prune", fn: testEventsPrune},
	{name: "ConcurrentAdds", fn: testEventsConcurrent},
}

// events finds the EventStore: on the session store if it has one, so a
// session-only store (Redis) is the one tested, else on the user store.
func (f *fixture) events(t *testing.T) latchkey.EventStore {
	t.Helper()
	if es, ok := f.sessions.(latchkey.EventStore); ok {
		return es
	}
	if es, ok := f.users.(latchkey.EventStore); ok {
		return es
	}
	t.Fatal("neither store implements latchkey.EventStore; every store must")
	return nil
}

func (f *fixture) addEvent(t *testing.T, es latchkey.EventStore, userID int64, typ latchkey.EventType, detail string) latchkey.Event {
	t.Helper()
	e := latchkey.Event{Time: f.clock.Now(), Type: typ, UserID: userID, IP: "2001:db8::7", Device: "Firefox on Linux", Detail: detail}
	if err := es.AddEvent(f.ctx, &e); err != nil {
		t.Fatalf("AddEvent(%s): %v", typ, err)
	}
	if e.ID <= 0 {
		t.Fatalf("AddEvent(%s): ID %d, want > 0", typ, e.ID)
	}
	return e
}

func checkEvents(t *testing.T, what string, got, want []latchkey.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %+v, want %d %+v", what, len(got), got, len(want), want)
	}
	for i := range got {
		g, w := got[i], want[i]
		if !sameTime(g.Time, w.Time) {
			t.Errorf("%s[%d]: Time: got %v, want %v", what, i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s[%d]: got %+v, want %+v", what, i, g, w)
		}
	}
}

func (f *fixture) listEvents(t *testing.T, es latchkey.EventStore, userID, before int64, limit int) []latchkey.Event {
	t.Helper()
	got, err := es.ListEvents(f.ctx, userID, before, limit)
	if err != nil {
		t.Fatalf("ListEvents(%d, %d, %d): %v", userID, before, limit, err)
	}
	return got
}

func testEventsRoundTrip(t *testing.T, f *fixture) {
	es := f.events(t)
	a1 := f.addEvent(t, es, 7, latchkey.EventLoginSucceeded, "")
	f.clock.Advance(time.Second)
	b1 := f.addEvent(t, es, 8, latchkey.EventLoginFailed, "wrong_password")
	f.clock.Advance(time.Second)
	a2 := latchkey.Event{Time: f.clock.Now(), Type: latchkey.EventSessionRevoked, UserID: 7, ActorID: 99,
		IP: "203.0.113.9", Device: "Safari on iOS ✓", Detail: "by an admin: \"quoted\""}
	if err := es.AddEvent(f.ctx, &a2); err != nil {
		t.Fatal(err)
	}
	unknown := f.addEvent(t, es, 0, latchkey.EventLoginFailed, "unknown_user")
	if !(a1.ID < b1.ID && b1.ID < a2.ID && a2.ID < unknown.ID) {
		t.Errorf("IDs not increasing: %d %d %d %d", a1.ID, b1.ID, a2.ID, unknown.ID)
	}
	checkEvents(t, "user 7", f.listEvents(t, es, 7, 0, 10), []latchkey.Event{a2, a1})
	checkEvents(t, "user 8", f.listEvents(t, es, 8, 0, 10), []latchkey.Event{b1})
	checkEvents(t, "no user", f.listEvents(t, es, 0, 0, 10), []latchkey.Event{unknown})
	checkEvents(t, "user 9", f.listEvents(t, es, 9, 0, 10), nil)
	checkEvents(t, "limit 0", f.listEvents(t, es, 7, 0, 0), nil)
}

func testEventsPages(t *testing.T, f *fixture) {
	es := f.events(t)
	var want []latchkey.Event
	for i := range 25 {
		e := f.addEvent(t, es, 7, latchkey.EventLoginSucceeded, fmt.Sprint(i))
		want = append([]latchkey.Event{e}, want...) // newest first
		f.addEvent(t, es, 8, latchkey.EventLogout, "")
		if i%3 == 0 {
			f.clock.Advance(time.Millisecond) // some share a millisecond
		}
	}
	var got []latchkey.Event
	var sizes []int
	before := int64(0)
	for range 10 {
		page := f.listEvents(t, es, 7, before, 10)
		if len(page) == 0 {
			break
		}
		sizes = append(sizes, len(page))
		got = append(got, page...)
		before = page[len(page)-1].ID
	}
	if fmt.Sprint(sizes) != "[10 10 5]" {
		t.Errorf("page sizes: got %v, want [10 10 5]", sizes)
	}
	checkEvents(t, "paged", got, want)
}

func testEventsPrune(t *testing.T, f *fixture) {
	es := f.events(t)
	for i := range 5 {
		f.addEvent(t, es, int64(i%2), latchkey.EventLogout, "")
	}
	f.clock.Advance(time.Hour)
	cut := f.clock.Now()
	recent := f.addEvent(t, es, 1, latchkey.EventLoginSucceeded, "")
	if n, err := es.PruneEvents(f.ctx, cut, 0); err != nil || n != 0 {
		t.Errorf("PruneEvents(limit 0): got (%d, %v), want (0, nil)", n, err)
	}
	if n, err := es.PruneEvents(f.ctx, cut, 3); err != nil || n != 3 {
		t.Errorf("PruneEvents(limit 3): got (%d, %v), want (3, nil)", n, err)
	}
	if n, err := es.PruneEvents(f.ctx, cut, 100); err != nil || n != 2 {
		t.Errorf("PruneEvents(limit 100): got (%d, %v), want (2, nil)", n, err)
	}
	checkEvents(t, "user 1 after pruning", f.listEvents(t, es, 1, 0, 10), []latchkey.Event{recent})
	checkEvents(t, "user 0 after pruning", f.listEvents(t, es, 0, 0, 10), nil)
}

func testEventsConcurrent(t *testing.T, f *fixture) {
	es := f.events(t)
	const n = 20
	var wg sync.WaitGroup
	ids := make(chan int64, n)
	for i := range n {
		wg.Go(func() {
			e := latchkey.Event{Time: f.clock.Now(), Type: latchkey.EventLoginFailed, UserID: 5, Detail: fmt.Sprint(i)}
			if err := es.AddEvent(f.ctx, &e); err != nil {
				t.Errorf("AddEvent: %v", err)
			}
			ids <- e.ID
		})
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] {
			t.Errorf("ID %d given twice", id)
		}
		seen[id] = true
	}
	if got := f.listEvents(t, es, 5, 0, 100); len(got) != n {
		t.Errorf("listed %d events, want %d", len(got), n)
	}
}
