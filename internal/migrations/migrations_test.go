package migrations_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/latchkey/latchkey/internal/migrations"
)

func TestLoad(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0010_later.sql": {Data: []byte("B")},
		"m/0002_first.sql": {Data: []byte("A")},
		"m/README":         {Data: []byte("not a migration")},
	}
	ms, err := migrations.Load(fsys, "m/*.sql")
	if err != nil || len(ms) != 2 || ms[0].Version != 2 || ms[1].Version != 10 || ms[0].SQL != "A" || ms[1].Name != "0010_later.sql" {
		t.Fatalf("Load = %+v, %v; want 0002 then 0010", ms, err)
	}
	for name, tc := range map[string]struct {
		fsys fstest.MapFS
		want string
	}{
		"no number":      {fstest.MapFS{"m/init.sql": {}}, "positive number"},
		"zero":           {fstest.MapFS{"m/0000_init.sql": {}}, "positive number"},
		"shared version": {fstest.MapFS{"m/0001_a.sql": {}, "m/1_b.sql": {}}, "share a version"},
		"none":           {fstest.MapFS{}, "no migrations"},
	} {
		if _, err := migrations.Load(tc.fsys, "m/*.sql"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", name, err, tc.want)
		}
	}
}
