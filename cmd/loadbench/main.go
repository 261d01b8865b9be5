// Command loadbench is latchkey's load benchmark. It builds the latchkey
// binary and a bare net/http server (the ceiling), runs them as child
// processes, seeds stores with users and live sessions directly in the
// database, and measures, in one run:
//
//   - authenticated GET /api/getsession and GET /api/data at fixed
//     concurrency for a fixed time, interleaved round by round with the same
//     requests to the ceiling and between stores of different sizes
//     (1,000 and 1,000,000 live sessions by default) and token modes
//     (-token-mode session, jwt or both): throughput, p50/p99 latency, the
//     ratio to the ceiling, peak RSS;
//   - a login flood (500 concurrent logins by default): logins/s against the
//     raw argon2id hash rate measured in the same run, peak RSS;
//   - idle RSS and the time from start to ready (/readyz answers 200).
//
// Usage, from anywhere in the module:
//
//	go run ./cmd/loadbench                 # the full run, a few minutes
//	go run ./cmd/loadbench -short          # a smoke run for CI, under a minute
//	go run ./cmd/loadbench -parts check -sessions 1000 -token-mode session,jwt
//	go run ./cmd/loadbench -parts check -sessions 1000 -metrics-off  # what metrics cost
//
// docs/performance.md explains the figures and holds the latest ones.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/internal/loadbench"
	"github.com/latchkey/latchkey/password"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadbench:", err)
		}
		os.Exit(1)
	}
}

const (
	userAgent     = "latchkey-loadbench/1"
	userPassword  = "the load benchmark's password"
	sessionCookie = "latchkey_session"
	accessCookie  = "access_token_cookie"
	// maxJWTLogins bounds the logins made through the API per jwt-mode
	// server; the rest of its -sessions are seeded token families that no
	// client holds a token for.
	maxJWTLogins = 10_000
)

// Token modes of the check part.
const (
	modeSession = "session"
	modeJWT     = "jwt"
)

// loginParams are the argon2id parameters of the check part's jwt-mode
// servers and of the hash their users are seeded with. Access tokens are
// had only by logging in through the API (the server signs them and
// records their family), and at these parameters thousands of logins take
// seconds rather than minutes; the authenticated path never hashes.
var loginParams = password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// paths are the authenticated requests measured.
var paths = []string{"/api/getsession", "/api/data"}

type options struct {
	duration, warmup time.Duration
	rounds, conns    int
	sessions         []int
	flood            int
	hashTime         time.Duration
	starts           int
	parts            map[string]bool
	store            string
	modes            []string
	before           string
	metricsOff       bool
	dir              string
	keep             bool
}

func parseOptions(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("loadbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	short := fs.Bool("short", false, "smoke run for CI (< 1 min): 1 round of 1s, 1,000 and 10,000 sessions, 20 logins")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time of each load run")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each load run")
	fs.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (ceiling and every store size each round); medians are reported")
	fs.IntVar(&o.conns, "conns", 64, "concurrent keep-alive connections")
	sessions := fs.String("sessions", "1000,1000000", "live sessions in the store, one latchkey per value, comma-separated")
	fs.IntVar(&o.flood, "flood", 500, "concurrent logins in the login flood (0: skip)")
	fs.DurationVar(&o.hashTime, "hash-time", 3*time.Second, "time to measure the raw argon2id rate, before and after the flood")
	fs.IntVar(&o.starts, "starts", 3, "fresh starts measured for start-to-ready and idle RSS")
	parts := fs.String("parts", "startup,check,flood", "what to run, comma-separated: startup (idle RSS, start to ready), check (session check), flood (login flood)")
	modes := fs.String("token-mode", modeSession, "check part: how latchkey recognises a browser: session (seeded session cookies), jwt (access tokens from logins through the API, at most 10,000 per server; the rest of -sessions seeded as token families), or session,jwt to run both in the same rounds")
	fs.StringVar(&o.store, "store", "sqlite", "store: sqlite (users and sessions, the embedded default) or redis (sessions in Redis at LATCHKEY_BENCH_REDIS_ADDR, users in SQLite)")
	fs.StringVar(&o.before, "before", "", "also run latchkey built at this git revision, interleaved, for before/after figures")
	fs.BoolVar(&o.metricsOff, "metrics-off", false, "check part: also run each latchkey with --metrics-addr off, interleaved, and report what the Prometheus metrics cost the session check (CPU per request, on vs off)")
	fs.StringVar(&o.dir, "dir", "", "work directory for binaries, databases and server logs (default: a new temporary one)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("duration", func() { o.duration = time.Second })
		def("warmup", func() { o.warmup = 200 * time.Millisecond })
		def("rounds", func() { o.rounds = 1 })
		def("sessions", func() { *sessions = "1000,10000" })
		def("flood", func() { o.flood = 20 })
		def("hash-time", func() { o.hashTime = 500 * time.Millisecond })
		def("starts", func() { o.starts = 1 })
	}
	for _, s := range strings.Split(*sessions, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sessions: %q is not a positive number", s)
		}
		o.sessions = append(o.sessions, n)
	}
	for _, m := range strings.Split(*modes, ",") {
		switch m = strings.TrimSpace(m); m {
		case modeSession, modeJWT:
			if !slices.Contains(o.modes, m) {
				o.modes = append(o.modes, m)
			}
		default:
			return nil, fmt.Errorf("-token-mode: unknown mode %q (want session, jwt or session,jwt)", m)
		}
	}
	o.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		switch p = strings.TrimSpace(p); p {
		case "startup", "check", "flood":
			o.parts[p] = true
		default:
			return nil, fmt.Errorf("-parts: unknown part %q (want startup, check, flood)", p)
		}
	}
	if o.rounds < 1 || o.conns < 1 || o.duration <= 0 || o.starts < 1 {
		return nil, errors.New("-rounds, -conns, -duration and -starts must be positive")
	}
	if _, ok := backends[o.store]; !ok {
		return nil, fmt.Errorf("-store %q: known stores are %s", o.store, strings.Join(backendNames(), ", "))
	}
	return o, nil
}

// A backend seeds a store and says how to start latchkey on it.
// sqlite is the only one until the binary serves other stores; Redis and
// PostgreSQL backends go here, seeding through their own clients and
// passing the binary's store flags.
type backend interface {
	// seed puts spec's users and sessions in a new store whose private
	// files go under dir, and returns the session tokens (see
	// loadbench.SeedSQLite) and the extra arguments of latchkey serve.
	seed(ctx context.Context, dir string, spec loadbench.SeedSpec) (tokens []byte, args []string, err error)
}

var backends = map[string]backend{"sqlite": sqliteBackend{}, "redis": redisBackend{prefixes: new([]string)}}

func backendNames() []string {
	var names []string
	for n := range backends {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

type sqliteBackend struct{}

func (sqliteBackend) seed(ctx context.Context, dir string, spec loadbench.SeedSpec) ([]byte, []string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	tokens, err := loadbench.SeedSQLite(ctx, filepath.Join(dir, "latchkey.db"), spec)
	return tokens, []string{"--data", dir}, err
}

// bench is one run's state.
type bench struct {
	o        *options
	out      io.Writer
	dir      string
	latchkey string // binary
	ceiling  string // binary
	// beforeBin is latchkey built at -before, run alongside for before/after figures.
	beforeBin string
	be        backend
	hash      string // every seeded user's password hash
	loginHash string // the same password with loginParams, for jwt mode
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	b := &bench{o: o, out: stdout, be: backends[o.store]}
	if c, ok := b.be.(interface{ cleanup(context.Context) error }); ok {
		defer func() {
			if err := c.cleanup(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintln(stderr, "loadbench: cleaning up the seeded store:", err)
			}
		}()
	}
	if b.dir = o.dir; b.dir == "" {
		if b.dir, err = os.MkdirTemp("", "latchkey-loadbench-"); err != nil {
			return err
		}
	}
	if !o.keep {
		defer os.RemoveAll(b.dir)
	}
	return b.run(ctx)
}

func (b *bench) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

func (b *bench) run(ctx context.Context) error {
	o := b.o
	b.printf("latchkey load benchmark, %s\n", time.Now().UTC().Format(time.RFC3339))
	b.printf("machine: %d CPUs (%s), %s %s/%s, load average %s\n", runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAvg())
	b.printf("settings: store %s, token mode %s, %d connections, %d rounds of %v (+%v warm-up) per target, sessions %v, flood %d\n\n",
		o.store, strings.Join(o.modes, ","), o.conns, o.rounds, o.duration, o.warmup, o.sessions, o.flood)

	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b.latchkey, b.ceiling = filepath.Join(b.dir, "latchkey"), filepath.Join(b.dir, "ceiling")
	t := time.Now()
	if err := loadbench.Build(ctx, root, "./cmd/latchkey", b.latchkey); err != nil {
		return err
	}
	if err := loadbench.Build(ctx, root, "./internal/loadbench/ceiling", b.ceiling); err != nil {
		return err
	}
	if o.before != "" {
		b.beforeBin = filepath.Join(b.dir, "latchkey-before")
		if err := buildAt(ctx, root, o.before, filepath.Join(b.dir, "src-before"), b.beforeBin); err != nil {
			return err
		}
	}
	b.printf("built latchkey and ceiling in %v\n", time.Since(t).Round(time.Millisecond))
	if b.hash, err = password.New(password.DefaultParams()).Hash(userPassword); err != nil {
		return err
	}
	if b.loginHash, err = password.New(loginParams).Hash(userPassword); err != nil {
		return err
	}

	if o.parts["startup"] {
		if err := b.startup(ctx); err != nil {
			return err
		}
	}
	if o.parts["check"] {
		if err := b.sessionCheck(ctx); err != nil {
			return err
		}
	}
	if o.parts["flood"] && o.flood > 0 {
		if err := b.loginFlood(ctx); err != nil {
			return err
		}
	}
	b.printf("\nload average at the end: %s\n", loadAvg())
	return nil
}

func (b *bench) startLatchkey(ctx context.Context, bin, name string, args []string) (*loadbench.Proc, error) {
	args = append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)
	return loadbench.Start(ctx, name, bin, args, nil, filepath.Join(b.dir, name+".log"), "/readyz", 30*time.Second)
}

// startup measures start to ready and idle RSS on a fresh data directory.
func (b *bench) startup(ctx context.Context) error {
	var ready []time.Duration
	var idle []int64
	for i := range b.o.starts {
		p, err := b.startLatchkey(ctx, b.latchkey, fmt.Sprintf("fresh%d", i), []string{"--data", filepath.Join(b.dir, fmt.Sprintf("fresh%d", i))})
		if err != nil {
			return err
		}
		time.Sleep(time.Second) // let start-up garbage settle
		m, err := p.Memory()
		p.Stop()
		if err != nil {
			return err
		}
		ready, idle = append(ready, p.Ready), append(idle, m.RSS)
	}
	b.printf("start to ready (fresh data directory, median of %d): %v   [target <= 200ms]\n", len(ready), median(ready).Round(100*time.Microsecond))
	b.printf("idle RSS (1 s after ready, median): %s   [target <= 30 MiB]\n", mib(median(idle)))
	return nil
}

// server is a process under load and what it was measured at.
type server struct {
	name     string
	proc     *loadbench.Proc
	sessions int    // 0 for the ceiling
	mode     string // token mode; "" for the ceiling
	before   bool   // built from -before
	noMetric bool   // started with --metrics-addr off (-metrics-off)
	logins   int    // jwt mode: users to log in through the API for tokens
	cookie   string
	tokens   [][]byte
	idleRSS  int64
	results  map[string][]*loadbench.Result // by path, one per round
	cpu      map[string][]time.Duration     // server CPU per request, by path, one per round
}

// modeArgs are the arguments of latchkey serve for a token mode.
func modeArgs(mode string) []string {
	if mode != modeJWT {
		return nil
	}
	p := loginParams
	return []string{"--token-mode", "jwt",
		"--jwt-access-ttl", "24h", // no token expires during a long run
		"--argon2-memory", strconv.FormatUint(uint64(p.Memory), 10),
		"--argon2-time", strconv.FormatUint(uint64(p.Time), 10),
		"--argon2-threads", strconv.Itoa(int(p.Threads))}
}

// serverName is how the report names a latchkey; session mode keeps the
// names the report always had.
func serverName(build, mode string, sessions int) string {
	if mode == modeJWT {
		build += " jwt"
	}
	return fmt.Sprintf("%s, %d sessions", build, sessions)
}

func (b *bench) sessionCheck(ctx context.Context) error {
	o := b.o
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.proc.Stop()
		}
	}()
	for _, mode := range o.modes {
		for _, n := range o.sessions {
			name := fmt.Sprintf("sessions%d", n)
			if mode == modeJWT {
				name = "jwt-" + name
			}
			dir := filepath.Join(b.dir, name)
			t := time.Now()
			spec := loadbench.SeedSpec{
				Users: min(n, 100_000), PasswordHash: b.hash, Sessions: n, UserAgent: userAgent,
				LastSeen: time.Now().Add(time.Hour),
			}
			logins := 0
			if mode == modeJWT {
				// Tokens come from logins; the rest of the n token families
				// are seeded, so the store holds n either way.
				logins = min(n, maxJWTLogins)
				spec.Sessions, spec.PasswordHash = n-logins, b.loginHash
			}
			tokens, args, err := b.be.seed(ctx, dir, spec)
			if err != nil {
				return err
			}
			args = append(args, modeArgs(mode)...)
			if mode == modeJWT {
				b.printf("seeded %d users and %d token families in %v; %d more by logging in through the API, below\n", spec.Users, spec.Sessions, time.Since(t).Round(time.Millisecond), logins)
			} else {
				b.printf("seeded %d users and %d sessions in %v\n", spec.Users, n, time.Since(t).Round(time.Millisecond))
			}
			cookie := sessionCookie
			if mode == modeJWT {
				cookie = accessCookie
			}
			split := loadbench.SplitTokens(tokens, loadbench.TokenLen)
			p, err := b.startLatchkey(ctx, b.latchkey, "latchkey-"+name, args)
			if err != nil {
				return err
			}
			servers = append(servers, &server{name: serverName("latchkey", mode, n), proc: p, sessions: n, mode: mode, logins: logins, cookie: cookie, tokens: split})
			if b.beforeBin != "" {
				// The same store, copied, so both builds see the same data without sharing a file.
				bdir := dir + "-before"
				if err := copyDir(dir, bdir); err != nil {
					return err
				}
				bargs := slices.Clone(args)
				for i := range bargs {
					if bargs[i] == dir {
						bargs[i] = bdir
					}
				}
				p, err := b.startLatchkey(ctx, b.beforeBin, "before-"+name, bargs)
				if err != nil {
					return err
				}
				servers = append(servers, &server{name: serverName("before "+o.before, mode, n), proc: p, sessions: n, mode: mode, logins: logins, cookie: cookie, tokens: split, before: true})
			}
			if o.metricsOff {
				p, err := b.startTwin(ctx, dir, "-nometrics", args, "--metrics-addr", "off")
				if err != nil {
					return err
				}
				servers = append(servers, &server{name: serverName("latchkey", mode, n) + ", no metrics", proc: p, sessions: n, mode: mode, logins: logins, cookie: cookie, tokens: split, noMetric: true})
			}
		}
	}
	// jwt mode: each server signs its own tokens for families in its own
	// store, so each is logged into on its own.
	for _, s := range servers {
		if s.logins == 0 {
			continue
		}
		t := time.Now()
		users := make([]string, s.logins)
		for i := range users {
			users[i] = loadbench.Username(i)
		}
		tokens, err := loadbench.Login(ctx, "http://"+s.proc.Addr, users, userPassword, s.cookie, 8)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		s.tokens = tokens
		b.printf("%s: %d logins through the API in %v\n", s.name, len(tokens), time.Since(t).Round(time.Millisecond))
	}
	p, err := loadbench.Start(ctx, "ceiling", b.ceiling, nil, nil, filepath.Join(b.dir, "ceiling.log"), "/readyz", 30*time.Second)
	if err != nil {
		return err
	}
	servers = append(servers, &server{name: "ceiling (bare net/http)", proc: p})
	time.Sleep(500 * time.Millisecond)
	for _, s := range servers {
		s.results = map[string][]*loadbench.Result{}
		s.cpu = map[string][]time.Duration{}
		m, err := s.proc.Memory()
		if err != nil {
			return err
		}
		s.idleRSS = m.RSS
		if s.sessions > 0 {
			b.printf("%s: ready %v after start, idle RSS %s\n", s.name, s.proc.Ready.Round(100*time.Microsecond), mib(s.idleRSS))
		}
	}

	what := "a random live session's cookie"
	if slices.Contains(o.modes, modeJWT) {
		what += " (jwt mode: the access_token_cookie of a random login)"
	}
	b.printf("\nsession check, store %s, token mode %s: GET with %s, %d connections (load average %s)\n", o.store, strings.Join(o.modes, ","), what, o.conns, loadAvg())
	const row = "%-5s  %-15s  %-34s  %8s  %8s  %8s  %8s  %s\n"
	b.printf(row, "round", "path", "server", "req/s", "p50 ms", "p99 ms", "CPU us", "failures")
	for r := range o.rounds {
		for _, path := range paths {
			// Rotate the order each round, so no server always goes first.
			for i := range servers {
				s := servers[(i+r)%len(servers)]
				if err := s.proc.Alive(); err != nil {
					return err
				}
				t := loadbench.Target{Addr: s.proc.Addr, Path: path, UserAgent: userAgent}
				if s.sessions > 0 {
					t.CookieName, t.Tokens = s.cookie, s.tokens
				}
				cpu0, err := s.proc.CPUTime()
				if err != nil {
					return err
				}
				res := loadbench.Run(ctx, t, o.conns, o.warmup, o.duration)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				cpu1, err := s.proc.CPUTime()
				if err != nil {
					return err
				}
				if res.Requests == 0 || res.Failures > 0 {
					return fmt.Errorf("%s %s: %d requests, %d failures, first: %v", s.name, path, res.Requests, res.Failures, res.FirstErr)
				}
				s.results[path] = append(s.results[path], res)
				cpu := (cpu1 - cpu0) / time.Duration(res.All)
				s.cpu[path] = append(s.cpu[path], cpu)
				b.printf(row, strconv.Itoa(r+1), path, s.name, fmt.Sprintf("%.0f", res.Throughput()),
					msv(res.Latency.Percentile(50)), msv(res.Latency.Percentile(99)), fmt.Sprintf("%.1f", float64(cpu)/1e3), strconv.FormatUint(res.Failures, 10))
			}
		}
	}

	ceiling := servers[len(servers)-1]
	baseSessions := o.sessions[0]
	// ratio compares s with other, per round, and gives the median.
	ratio := func(s, other *server, path string) string {
		if other == nil || other == s {
			return "-"
		}
		var v []float64
		for i, res := range s.results[path] {
			v = append(v, res.Throughput()/other.results[path][i].Throughput())
		}
		return fmt.Sprintf("%.2f", median(v))
	}
	b.printf("\nmedians over %d rounds (ratios are taken per round, then the median), load average %s:\n", o.rounds, loadAvg())
	const sum = "%-15s  %-34s  %8s  %7s  %7s  %9s  %9s  %9s  %7s  %9s  %10s  %10s\n"
	b.printf(sum, "path", "server", "req/s", "p50 ms", "p99 ms", "x ceiling", fmt.Sprintf("x %d", baseSessions), "x before", "CPU us", "CPU x ceil", "peak RSS", "file-backed")
	for _, path := range paths {
		for _, s := range servers {
			var tput, p50, p99 []float64
			for _, res := range s.results[path] {
				tput = append(tput, res.Throughput())
				p50 = append(p50, float64(res.Latency.Percentile(50)))
				p99 = append(p99, float64(res.Latency.Percentile(99)))
			}
			m, _ := s.proc.Memory()
			var vsBase, vsBefore *server
			if s.sessions > 0 {
				for _, o := range servers {
					if o.mode != s.mode {
						continue
					}
					if o.noMetric != s.noMetric {
						continue
					}
					if o.before == s.before && o.sessions == baseSessions {
						vsBase = o
					}
					if o.before && !s.before && o.sessions == s.sessions {
						vsBefore = o
					}
				}
			}
			vsCeiling := ceiling
			if s == ceiling {
				vsCeiling = nil
			}
			cpuRatio := "-"
			if vsCeiling != nil {
				var v []float64
				for i, c := range s.cpu[path] {
					v = append(v, float64(ceiling.cpu[path][i])/float64(c))
				}
				cpuRatio = fmt.Sprintf("%.2f", median(v))
			}
			b.printf(sum, path, s.name, fmt.Sprintf("%.0f", median(tput)),
				msv(time.Duration(median(p50))), msv(time.Duration(median(p99))),
				ratio(s, vsCeiling, path), ratio(s, vsBase, path), ratio(s, vsBefore, path),
				fmt.Sprintf("%.1f", float64(median(s.cpu[path]))/1e3), cpuRatio, mib(m.Peak), mib(m.File))
		}
	}
	if len(o.modes) > 1 {
		b.printf("jwt vs session mode, same build and store size (per round, then the median):\n")
		for _, path := range paths {
			for _, j := range servers {
				if j.mode != modeJWT {
					continue
				}
				for _, s := range servers {
					if s.mode != modeSession || s.before != j.before || s.noMetric != j.noMetric || s.sessions != j.sessions {
						continue
					}
					var cpu []float64
					for i, c := range j.cpu[path] {
						cpu = append(cpu, float64(c)/float64(s.cpu[path][i]))
					}
					b.printf("  %-15s  %-34s  %s x the throughput, %.2f x the CPU per request\n", path, j.name, ratio(j, s, path), median(cpu))
				}
			}
		}
	}
	if o.metricsOff {
		b.printf("what the metrics cost: the same build and store with metrics on (the default) and off (--metrics-addr off), per round, then the median:\n")
		for _, path := range paths {
			for _, s := range servers {
				if s.sessions == 0 || s.before || s.noMetric {
					continue
				}
				for _, off := range servers {
					if !off.noMetric || off.mode != s.mode || off.sessions != s.sessions {
						continue
					}
					cost, tput := metricsCost(s, off, path)
					b.printf("  %-15s  %-34s  CPU per request %+.1f%% with metrics, throughput %.2f x   [target < +5%%]\n", path, s.name, cost, tput)
				}
			}
		}
	}
	b.printf("targets: latchkey >= 0.6 x ceiling, p99 <= 5 ms at 64 connections, 1,000,000 sessions >= 0.8 x 1,000\n")
	b.printf("CPU us: the server's own CPU time (user+system, /proc/PID/stat, 10 ms ticks) per answered request; CPU x ceil: the ceiling's CPU per request over the server's, i.e. the throughput ratio if each had the CPUs to itself\n")
	b.printf("file-backed: of the RSS now, the pages of mapped files (the binary, the SQLite WAL index), which the kernel can drop\n")
	return nil
}

// startTwin starts latchkey on a copy of the store in dir (dir+suffix), so
// that the two do not share a file, with args plus extra.
func (b *bench) startTwin(ctx context.Context, dir, suffix string, args []string, extra ...string) (*loadbench.Proc, error) {
	tdir := dir + suffix
	if err := copyDir(dir, tdir); err != nil {
		return nil, err
	}
	targs := slices.Clone(args)
	for i := range targs {
		if targs[i] == dir {
			targs[i] = tdir
		}
	}
	return b.startLatchkey(ctx, b.latchkey, "latchkey-"+filepath.Base(tdir), append(targs, extra...))
}

// metricsCost compares on (metrics on) with off, the same build and store
// with them off, on path: the median over rounds of the extra CPU per
// request, in percent, and of the throughput ratio.
func metricsCost(on, off *server, path string) (cpuPercent, throughput float64) {
	var cpu, tput []float64
	for i, c := range on.cpu[path] {
		cpu = append(cpu, 100*(float64(c)/float64(off.cpu[path][i])-1))
		tput = append(tput, on.results[path][i].Throughput()/off.results[path][i].Throughput())
	}
	return median(cpu), median(tput)
}

// copyDir copies the regular files of dir into a new directory to.
func copyDir(dir, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) loginFlood(ctx context.Context) error {
	o := b.o
	dir := filepath.Join(b.dir, "flood")
	_, args, err := b.be.seed(ctx, dir, loadbench.SeedSpec{Users: o.flood, PasswordHash: b.hash})
	if err != nil {
		return err
	}
	// Every login comes from this one address at once, and each holds a
	// token of the per-client budget until its hash is done: measure
	// hashing, not that budget (the default, 100, would make most wait a
	// minute).
	args = append(args, "--login-ip-burst", strconv.Itoa(max(o.flood, 100)))
	p, err := b.startLatchkey(ctx, b.latchkey, "latchkey-flood", args)
	if err != nil {
		return err
	}
	defer p.Stop()
	b.printf("\nlogin flood: %d concurrent logins, argon2id %+v, %d CPUs (load average %s)\n", o.flood, password.DefaultParams(), runtime.NumCPU(), loadAvg())
	before, cpuBefore, err := loadbench.HashRate(password.DefaultParams(), runtime.NumCPU(), o.hashTime)
	if err != nil {
		return err
	}
	if err := p.ResetPeak(); err != nil {
		b.printf("(cannot reset the peak RSS: %v; it covers the start too)\n", err)
	}
	cpu0, err := p.CPUTime()
	if err != nil {
		return err
	}
	res := loadbench.LoginFlood(ctx, "http://"+p.Addr, o.flood, userPassword, 5*time.Minute)
	cpu1, err := p.CPUTime()
	if err != nil {
		return err
	}
	m, err := p.Memory()
	if err != nil {
		return err
	}
	after, cpuAfter, err := loadbench.HashRate(password.DefaultParams(), runtime.NumCPU(), o.hashTime)
	if err != nil {
		return err
	}
	if res.Failures > 0 {
		return fmt.Errorf("login flood: %d of %d logins failed, first: %v", res.Failures, o.flood, res.FirstErr)
	}
	raw := (before + after) / 2
	rawCPU := (cpuBefore + cpuAfter) / 2
	loginCPU := (cpu1 - cpu0) / time.Duration(res.Logins)
	b.printf("raw argon2id rate, %d goroutines: %.1f hashes/s (%.1f before, %.1f after the flood), %v CPU per hash\n",
		runtime.NumCPU(), raw, before, after, rawCPU.Round(100*time.Microsecond))
	b.printf("logins: %d in %v = %.1f logins/s = %.2f x the raw rate (%d retries after 503/429)   [target >= 0.8]\n",
		res.Logins, res.Elapsed.Round(time.Millisecond), res.LoginsPerSecond(), res.LoginsPerSecond()/raw, res.Retries)
	b.printf("server CPU per login: %v vs %v per raw hash: per CPU-second, logins = %.2f x the raw rate (less disturbed by other load on the machine)\n",
		loginCPU.Round(100*time.Microsecond), rawCPU.Round(100*time.Microsecond), float64(rawCPU)/float64(loginCPU))
	b.printf("peak RSS during the flood: %s   [target <= 300 MiB]\n", mib(m.Peak))
	return nil
}

// buildAt builds cmd/latchkey as of the git revision rev of the repository
// at root, exported into src, into out.
func buildAt(ctx context.Context, root, rev, src, out string) error {
	if err := os.MkdirAll(src, 0o700); err != nil {
		return err
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return err
	}
	untar.Stdin = pipe
	var stderr strings.Builder
	archive.Stderr = &stderr
	if err := archive.Start(); err != nil {
		return err
	}
	if err := untar.Run(); err != nil {
		archive.Wait()
		return fmt.Errorf("-before %s: tar: %w", rev, err)
	}
	if err := archive.Wait(); err != nil {
		return fmt.Errorf("-before %s: git archive: %w: %s", rev, err, stderr.String())
	}
	return loadbench.Build(ctx, src, "./cmd/latchkey", out)
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module (run loadbench inside latchkey's module): %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "github.com/latchkey/latchkey" {
		return "", fmt.Errorf("run loadbench inside latchkey's module, not %s", path)
	}
	return dir, nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func median[T int64 | float64 | time.Duration](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func msv(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }
