package loadbench

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/redisstore"
)

// SeedRedis puts spec's sessions into the Redis store at rawURL (a
// redisstore URL, whose ?prefix= keeps them apart from other data) through
// redisstore itself, so they have exactly the layout latchkey reads. Users
// are not its business: seed them with SeedSQLite. It returns the tokens as
// SeedSQLite does.
func SeedRedis(ctx context.Context, rawURL string, spec SeedSpec) (tokens []byte, err error) {
	if spec.Sessions > 0 && spec.Users == 0 {
		return nil, fmt.Errorf("seed sessions: no users to own them")
	}
	st, err := redisstore.Open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	st.Timeout = 30 * time.Second // seeding is bulk work, not a request
	raw := make([]byte, 32*spec.Sessions)
	rand.Read(raw)
	tokens = make([]byte, TokenLen*spec.Sessions)
	now := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 { // Redis answers one round trip per session: overlap them
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= spec.Sessions || ctx.Err() != nil {
					return
				}
				tok := raw[32*i : 32*(i+1)]
				base64.RawURLEncoding.Encode(tokens[TokenLen*i:], tok)
				h := sha256.Sum256(tok)
				expires := now.Add(24 * time.Hour)
				err := st.CreateSession(ctx, &latchkey.Session{
					TokenHash: h[:], UserID: int64(i%spec.Users + 1),
					CreatedAt: now.Add(-time.Minute), LastSeenAt: spec.LastSeen,
					IdleExpiresAt: minTime(spec.LastSeen.Add(2*time.Hour), expires), ExpiresAt: expires,
					Fresh: true, UserAgent: spec.UserAgent, IP: "127.0.0.1",
				})
				if err != nil {
					errs <- fmt.Errorf("seed session %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return tokens, ctx.Err()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
