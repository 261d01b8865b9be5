package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is what ParseURL reads from a URL.
type Config struct {
	Options *redis.UniversalOptions
	Prefix  string        // key prefix; "" for DefaultPrefix
	Timeout time.Duration // per operation; 0 for DefaultTimeout
}

// ParseURL reads a Redis URL in one of three forms:
//
//	redis://[USER:PASSWORD@]HOST[:6379][/DB]                    one node
//	redis-sentinel://[USER:PASSWORD@]HOST[:26379],HOST2…/MASTER[/DB]  Sentinel
//	redis-cluster://[USER:PASSWORD@]HOST[:6379],HOST2…          Cluster
//
// A scheme ending in "s" (rediss, rediss-sentinel, rediss-cluster) uses TLS.
// Query parameters: prefix (key prefix, default "latchkey:"), timeout (per
// operation, a Go duration, default 2s), sentinel_password and
// sentinel_username (when the Sentinels need other credentials than the
// servers). The user and password are those of the Redis servers.
func ParseURL(raw string) (*Config, error) {
	// Say what is wrong without echoing the URL: it may hold a password.
	fail := func(format string, args ...any) (*Config, error) {
		return nil, fmt.Errorf("redisstore: bad URL: "+format, args...)
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fail("want redis://, rediss://, redis-sentinel:// or redis-cluster://")
	}
	kind, useTLS := "", false
	switch scheme {
	case "redis", "rediss":
		kind = "single"
	case "redis-sentinel", "rediss-sentinel":
		kind = "sentinel"
	case "redis-cluster", "rediss-cluster":
		kind = "cluster"
	default:
		return fail("unknown scheme %q", scheme)
	}
	useTLS = strings.HasPrefix(scheme, "rediss")
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	opts := &redis.UniversalOptions{
		ContextTimeoutEnabled: true,
		// No retries: a retried CreateSession whose first try reached Redis
		// would report a false ErrConflict, and a failed call should become
		// a quick 503, not wait out a second timeout.
		MaxRetries: -1,
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		info, err := url.Parse("x://" + authority[:at+1] + "h")
		if err != nil || info.User == nil {
			return fail("cannot read the user and password")
		}
		opts.Username = info.User.Username()
		opts.Password, _ = info.User.Password()
		authority = authority[at+1:]
	}
	defPort := "6379"
	if kind == "sentinel" {
		defPort = "26379"
	}
	addrs, err := hostPorts(authority, defPort)
	if err != nil {
		return fail("%v", err)
	}
	if kind == "single" && len(addrs) != 1 {
		return fail("redis:// takes one host; use redis-cluster:// or redis-sentinel:// for several")
	}
	opts.Addrs = addrs
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	dbSeg := ""
	switch kind {
	case "single":
		if len(segs) > 1 {
			return fail("want redis://HOST/DB")
		}
		if len(segs) == 1 {
			dbSeg = segs[0]
		}
	case "sentinel":
		if len(segs) < 1 || len(segs) > 2 || segs[0] == "" {
			return fail("want redis-sentinel://HOSTS/MASTER_NAME[/DB]")
		}
		name, err := url.PathUnescape(segs[0])
		if err != nil {
			return fail("master name: %v", err)
		}
		opts.MasterName = name
		if len(segs) == 2 {
			dbSeg = segs[1]
		}
	case "cluster":
		if len(segs) > 1 || len(segs) == 1 && segs[0] != "" {
			return fail("a cluster has no databases: want redis-cluster://HOSTS")
		}
		opts.IsClusterMode = true
	}
	if dbSeg != "" {
		db, err := strconv.Atoi(dbSeg)
		if err != nil || db < 0 {
			return fail("database %q is not a number", dbSeg)
		}
		opts.DB = db
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return fail("query: %v", err)
	}
	cfg := &Config{Options: opts}
	for k, v := range q {
		val := v[len(v)-1]
		switch k {
		case "prefix":
			cfg.Prefix = val
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return fail("timeout %q: want a positive duration like 500ms", val)
			}
			cfg.Timeout = d
		case "sentinel_password":
			opts.SentinelPassword = val
		case "sentinel_username":
			opts.SentinelUsername = val
		default:
			return fail("unknown parameter %q", k)
		}
	}
	if (opts.SentinelPassword != "" || opts.SentinelUsername != "") && kind != "sentinel" {
		return fail("sentinel_password and sentinel_username need redis-sentinel://")
	}
	if useTLS {
		opts.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return cfg, nil
}

// hostPorts splits "h1:p1,h2:p2" and adds defPort where missing.
func hostPorts(s, defPort string) ([]string, error) {
	var out []string
	for _, hp := range strings.Split(s, ",") {
		if hp == "" {
			return nil, errors.New("empty host")
		}
		if !strings.Contains(strings.TrimPrefix(strings.TrimSuffix(hp, "]"), "["), ":") || strings.HasSuffix(hp, "]") {
			hp += ":" + defPort
		}
		out = append(out, hp)
	}
	return out, nil
}
