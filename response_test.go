package latchkey

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func checkMarshalJSON(t *testing.T, v any) {
	t.Helper()
	got, gotErr := marshalJSON(v)
	want, wantErr := json.Marshal(v)
	if (gotErr != nil) != (wantErr != nil) || !bytes.Equal(got, want) {
		t.Errorf("marshalJSON(%+v):\n got (%s, %v)\nwant (%s, %v)", v, got, gotErr, want, wantErr)
	}
}

func TestMarshalJSONMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 11, 21, 23, 59, 58, 123456789, time.UTC)
	users := []userJSON{
		{ID: 1, Username: "alice", CreatedAt: now},
		{ID: -7, Username: "bob", Email: "bob@example.com", CreatedAt: now.Truncate(time.Second)},
		{ID: 1 << 62, Username: "Ａｌｉｃｅ", Email: "a<b>&c@example.com", CreatedAt: now.Truncate(time.Millisecond)},
		{ID: 3, Username: `quote" back\\slash`, Email: "tab\there", CreatedAt: now},
		{ID: 4, Username: "bad utf8 \xff", Email: "line\u2028sep", CreatedAt: now},
		{ID: 5, Username: "", CreatedAt: time.Time{}.UTC()},
		{ID: 6, Username: "zone", CreatedAt: now.In(time.FixedZone("X", 5*3600+1800))},
		{ID: 7, Username: "local", CreatedAt: now.Local()},
		{ID: 8, Username: "year 10000", CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 9, Username: "year -1", CreatedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: 10, Username: "year 9999", CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
	}
	for _, u := range users {
		checkMarshalJSON(t, u)
		for _, flags := range [][3]bool{{true, true, false}, {false, false, true}} {
			checkMarshalJSON(t, sessionJSON{
				Login: flags[0], User: u, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: u.CreatedAt,
				Fresh: flags[1], Remember: flags[2],
			})
		}
	}
	checkMarshalJSON(t, map[string]bool{"login": false})
}

func FuzzMarshalJSON(f *testing.F) {
	f.Add(int64(1), "alice", "", int64(1700000000), int64(5), true)
	f.Add(int64(-1), "<&>", "a\"b", int64(-62135596800), int64(0), false)
	f.Fuzz(func(t *testing.T, id int64, name, email string, sec, nsec int64, fresh bool) {
		tm := time.Unix(sec, nsec).UTC()
		u := userJSON{ID: id, Username: name, Email: email, CreatedAt: tm}
		checkMarshalJSON(t, u)
		checkMarshalJSON(t, sessionJSON{Login: true, User: u, ExpiresAt: tm.Add(time.Hour), IdleExpiresAt: tm, Fresh: fresh})
	})
}
