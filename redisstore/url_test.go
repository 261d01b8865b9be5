package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/redisstore"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		name, url  string
		addrs      string
		master     string
		db         int
		user, pass string
		cluster    bool
		tls        bool
		prefix     string
		timeout    time.Duration
	}{
		{name: "one node", url: "redis://127.0.0.1:6379", addrs: "127.0.0.1:6379"},
		{name: "default port and db", url: "redis://localhost/3", addrs: "localhost:6379", db: 3},
		{name: "password and TLS", url: "rediss://:p%40ss@127.0.0.1:6380/0", addrs: "127.0.0.1:6380", pass: "p@ss", tls: true},
		{name: "user", url: "redis://lk:pw@127.0.0.1", addrs: "127.0.0.1:6379", user: "lk", pass: "pw"},
		{name: "sentinel", url: "redis-sentinel://127.0.0.1:26379,127.0.0.1:26380/mymaster/2", addrs: "127.0.0.1:26379,127.0.0.1:26380", master: "mymaster", db: 2},
		{name: "sentinel default port", url: "redis-sentinel://10.0.0.1/m", addrs: "10.0.0.1:26379", master: "m"},
		{name: "cluster", url: "redis-cluster://127.0.0.1:7000,127.0.0.1:7001", addrs: "127.0.0.1:7000,127.0.0.1:7001", cluster: true},
		{name: "cluster of one seed", url: "rediss-cluster://[::1]:7000/", addrs: "[::1]:7000", cluster: true, tls: true},
		{name: "prefix and timeout", url: "redis://127.0.0.1?prefix=app1:&timeout=500ms", addrs: "127.0.0.1:6379", prefix: "app1:", timeout: 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := redisstore.ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			o := cfg.Options
			for _, c := range []struct{ what, got, want string }{
				{"addrs", strings.Join(o.Addrs, ","), tc.addrs},
				{"master", o.MasterName, tc.master},
				{"user", o.Username, tc.user},
				{"password", o.Password, tc.pass},
				{"prefix", cfg.Prefix, tc.prefix},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
				}
			}
			if o.MaxRetries != -1 || !o.ContextTimeoutEnabled {
				t.Errorf("MaxRetries %d, ContextTimeoutEnabled %v; want -1 (a retried create would be a false conflict) and true",
					o.MaxRetries, o.ContextTimeoutEnabled)
			}
			if o.DB != tc.db || o.IsClusterMode != tc.cluster || (o.TLSConfig != nil) != tc.tls || cfg.Timeout != tc.timeout {
				t.Errorf("got db %d, cluster %v, TLS %v, timeout %v; want %d, %v, %v, %v",
					o.DB, o.IsClusterMode, o.TLSConfig != nil, cfg.Timeout, tc.db, tc.cluster, tc.tls, tc.timeout)
			}
		})
	}
}

func TestParseURLErrorsHidePassword(t *testing.T) {
	for _, u := range []string{
		"http://:secret@127.0.0.1",
		"redis://:secret@a:1,b:2",
		"redis://:secret@127.0.0.1/x",
		"redis-sentinel://:secret@127.0.0.1",
		"redis-cluster://:secret@127.0.0.1/3",
		"redis://:secret@127.0.0.1?timeout=soon",
		"redis://:secret@127.0.0.1?bogus=1",
		"redis://:secret@127.0.0.1?sentinel_password=x",
		"127.0.0.1:6379",
	} {
		_, err := redisstore.ParseURL(u)
		if err == nil {
			t.Errorf("ParseURL(%q): got nil error", u)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): error shows the password: %v", u, err)
		}
	}
}
