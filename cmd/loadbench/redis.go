package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/redis/go-redis/v9"

	"github.com/latchkey/latchkey/internal/loadbench"
)

// redisBackend keeps users in SQLite and sessions in the Redis at
// LATCHKEY_BENCH_REDIS_ADDR (default 127.0.0.1:6379), each seeding under a
// key prefix of its own that cleanup removes.
type redisBackend struct {
	prefixes *[]string
}

func (be redisBackend) addr() string {
	if a := os.Getenv("LATCHKEY_BENCH_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func (be redisBackend) seed(ctx context.Context, dir string, spec loadbench.SeedSpec) ([]byte, []string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	users := spec
	users.Sessions = 0
	if _, err := loadbench.SeedSQLite(ctx, filepath.Join(dir, "latchkey.db"), users); err != nil {
		return nil, nil, err
	}
	id := make([]byte, 6)
	rand.Read(id)
	prefix := "lkbench:" + hex.EncodeToString(id) + ":"
	*be.prefixes = append(*be.prefixes, prefix)
	url := "redis://" + be.addr() + "/0?prefix=" + prefix
	tokens, err := loadbench.SeedRedis(ctx, url, spec)
	if err != nil {
		return nil, nil, fmt.Errorf("seed redis: %w", err)
	}
	// Instances sharing a session store must share a secret: latchkey
	// refuses a generated one there.
	secret := filepath.Join(dir, "secret")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(secret, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, nil, err
	}
	return tokens, []string{"--data", dir, "--session-store", url, "--secret-file", secret}, nil
}

// cleanup deletes every key the run seeded.
func (be redisBackend) cleanup(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: be.addr()})
	defer c.Close()
	for _, p := range *be.prefixes {
		iter := c.Scan(ctx, 0, p+"*", 10000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			if batch = append(batch, iter.Val()); len(batch) == 10000 {
				if err := c.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
