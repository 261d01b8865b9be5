package memstore_test

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now func() time.Time) storetest.Stores {
		s := memstore.New()
		s.Now = now
		return storetest.Stores{Users: s, Sessions: s}
	})
}

func BenchmarkFindSession(b *testing.B) {
	storetest.BenchFindSession(b, memstore.New())
}

func BenchmarkFindSessionUser(b *testing.B) {
	s := memstore.New()
	storetest.BenchFindSessionUser(b, s, s)
}
