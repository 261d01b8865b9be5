package latchkey_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
	"github.com/latchkey/latchkey/internal/metricstest"
	"github.com/latchkey/latchkey/internal/testenv"
	"github.com/latchkey/latchkey/mail"
	"github.com/latchkey/latchkey/memstore"
	"github.com/latchkey/latchkey/sqlitestore"
)

// wantMetric fails t unless the series of name with labels has the value
// want (a histogram: that many observations).
func wantMetric(t *testing.T, s metricstest.Scrape, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// The counters move with real API calls: logins by outcome, the throttle,
// requests by route and status, sessions started and ended, store calls.
func TestMetricsAfterAPICalls(t *testing.T) {
	e := newEnv(t, func(c *latchkey.Config) {
		c.LoginBurst, c.LoginRefill = 2, time.Hour
		c.RegisterBurst, c.RegisterRefill = 1, time.Hour
		c.MaxConcurrentHashes = 3
	})
	e.addUser("mia", "mia's long password")
	b := e.browser()
	b.MustLogin("mia", "mia's long password")
	if !b.LoggedIn() {
		t.Fatal("not logged in")
	}
	guesser := e.browser()
	for i := range 2 {
		if r := guesser.Login("mia", "a wrong password"); r.Status != 401 {
			t.Fatalf("guess %d: %d, want 401", i+1, r.Status)
		}
	}
	if r := guesser.Login("mia", "mia's long password"); r.Status != 429 {
		t.Fatalf("third guess: %d, want 429", r.Status)
	}
	if r := b.Post("/api/logout", nil); r.Status != 200 {
		t.Fatalf("logout: %d %s", r.Status, r.Raw)
	}
	e.clock.Advance(2 * time.Hour) // the guesses emptied this client's bucket for mia
	other := e.browser()
	other.MustLogin("mia", "mia's long password")
	if err := e.auth.SetPassword(t.Context(), "mia", "mia's new long password"); err != nil {
		t.Fatal(err)
	}
	reg := e.browser()
	reg.CSRF()
	for i, want := range []int{201, 429} {
		if r := reg.Post("/api/register", map[string]any{"username": "noa" + string(rune('a'+i)), "password": "noa's long password"}); r.Status != want {
			t.Fatalf("registration %d: %d %s, want %d", i+1, r.Status, r.Raw, want)
		}
	}

	s := metricstest.Serve(t, e.auth.MetricsHandler())
	wantMetric(t, s, 2, "latchkey_logins_total", "outcome", "success")
	wantMetric(t, s, 2, "latchkey_logins_total", "outcome", "bad_credentials")
	wantMetric(t, s, 1, "latchkey_logins_total", "outcome", "throttled")
	wantMetric(t, s, 0, "latchkey_logins_total", "outcome", "error")
	wantMetric(t, s, 1, "latchkey_throttled_total", "purpose", "login")
	wantMetric(t, s, 0, "latchkey_throttled_total", "purpose", "login_client")
	wantMetric(t, s, 1, "latchkey_throttled_total", "purpose", "register")
	wantMetric(t, s, 2, "latchkey_http_requests_total", "route", "POST /api/login", "code", "200")
	wantMetric(t, s, 2, "latchkey_http_requests_total", "route", "POST /api/login", "code", "401")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "POST /api/login", "code", "429")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "POST /api/logout", "code", "200")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "POST /api/register", "code", "429")
	wantMetric(t, s, 5, "latchkey_http_request_duration_seconds", "route", "POST /api/login")
	// Two logins and a registration; the logout and the password change
	// ended one each (the second by the user's epoch).
	wantMetric(t, s, 3, "latchkey_sessions_created_total")
	wantMetric(t, s, 1, "latchkey_sessions_ended_total", "reason", "logout")
	wantMetric(t, s, 1, "latchkey_sessions_ended_total", "reason", "revoked")
	wantMetric(t, s, 0, "latchkey_sessions_ended_total", "reason", "replaced")
	wantMetric(t, s, 1, "latchkey_user_epoch_advances_total")
	// newEnv's store wraps a SQLite one, and is both stores: sessions and
	// users are read together.
	if n, _ := s.Value("latchkey_store_operation_duration_seconds", "store", "sqlite", "op", "find_session_user"); n < 2 {
		t.Errorf("find_session_user observed %v times, want at least 2", n)
	}
	if n, _ := s.Value("latchkey_store_operation_duration_seconds", "store", "sqlite", "op", "user_by_username"); n < 5 {
		t.Errorf("user_by_username observed %v times, want at least 5 (the logins)", n)
	}
	wantMetric(t, s, 3, "latchkey_store_operation_duration_seconds", "store", "sqlite", "op", "create_session")
	wantMetric(t, s, 0, "latchkey_store_errors_total", "store", "sqlite", "op", "find_session_user")
	if _, ok := s.Value("latchkey_store_operation_duration_seconds", "op", "find_session"); !ok {
		t.Errorf("no find_session series")
	}
	if _, ok := s.Value("latchkey_store_operation_duration_seconds", "op", "attempt_take"); ok {
		t.Errorf("attempt_take series for a store that does not count attempts")
	}
	wantMetric(t, s, 3, "latchkey_password_hash_slots")
	wantMetric(t, s, 0, "latchkey_password_hashes_in_flight")
	wantMetric(t, s, 0, "latchkey_password_hashes_queued")
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "promhttp_metric_handler_requests_total"} {
		if _, ok := s.Value(name); !ok {
			t.Errorf("no %s", name)
		}
	}
	for name := range s {
		if !strings.HasPrefix(name, "latchkey_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %s: want latchkey_, or the client library's go_, process_ and promhttp_", name)
		}
	}
}

// Requests are labelled by the route pattern that matched, never by the
// path or query the client sent; paths no route matches are "other".
func TestMetricsNeverLabelRawPaths(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/nonexistent/123", 404},
		{"GET", "/api/data?x=1", 401},
		{"GET", "/api/getcsrf?secret=hunter2", 200},
		{"POST", "/api/ping", 405},
		{"GET", "/api/./data", 307}, // newEnv's mux redirects to the clean path: never reaches the API
		{"GET", "/api/%2e%2e/private", 404},
	} {
		req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = strings.SplitN(tc.path, "?", 2)[0] // as typed, uncleaned
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
	s := metricstest.Serve(t, e.auth.MetricsHandler())
	for _, v := range s.AllLabelValues() {
		for _, bad := range []string{"nonexistent", "123", "?", "x=1", "hunter2", "private", "%2e", "./"} {
			if strings.Contains(v, bad) {
				t.Errorf("label value %q contains %q, from a path a client sent", v, bad)
			}
		}
	}
	for _, r := range s.LabelValues("route") {
		if r != "other" && !strings.HasPrefix(r, "GET /api/") && !strings.HasPrefix(r, "POST /api/") {
			t.Errorf("route label %q: want a route pattern of the API or other", r)
		}
	}
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "GET /api/data", "code", "401")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "GET /api/getcsrf", "code", "200")
	wantMetric(t, s, 2, "latchkey_http_requests_total", "route", "other", "code", "404")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "other", "code", "405")
	if slices.Contains(s.LabelValues("route"), "/api/") {
		t.Errorf("the pattern of the mux in front of the API (/api/) is a route label")
	}
}

// failingStore is a SQLite store whose reads fail while fail is set, as a
// broken disk would make them.
type failingStore struct {
	*sqlitestore.Store
	fail atomic.Bool
}

// errDisk is how a store reports that it cannot be reached.
var errDisk = fmt.Errorf("%w: disk on fire", latchkey.ErrStoreUnavailable)

func (f *failingStore) FindSessionUser(ctx context.Context, hash []byte) (*latchkey.Session, *latchkey.User, error) {
	if f.fail.Load() {
		return nil, nil, errDisk
	}
	return f.Store.FindSessionUser(ctx, hash)
}

func (f *failingStore) UserByUsernameKey(ctx context.Context, key string) (*latchkey.User, error) {
	if f.fail.Load() {
		return nil, errDisk
	}
	return f.Store.UserByUsernameKey(ctx, key)
}

// A store error counts against its store and operation, and a login it
// broke as an error; not-found answers count as no error.
func TestMetricsStoreErrors(t *testing.T) {
	e := newEnv(t)
	e.addUser("sal", "sal's long password")
	st := &failingStore{Store: e.store}
	a, err := latchkey.New(testConfig(e), st, st)
	if err != nil {
		t.Fatal(err)
	}
	b := serveAuth(t, a)
	b.MustLogin("sal", "sal's long password")
	if r := b.Login("nobody", "a password"); r.Status != 401 {
		t.Fatalf("unknown user: %d", r.Status)
	}
	fresh := serveAuth(t, a)
	fresh.CSRF()
	st.fail.Store(true)
	if r := b.Get("/api/getsession"); r.Status != 503 {
		t.Errorf("getsession with the store failing: %d, want 503", r.Status)
	}
	if r := fresh.Login("sal", "sal's long password"); r.Status != 503 {
		t.Errorf("login with the store failing: %d, want 503", r.Status)
	}
	s := metricstest.Serve(t, a.MetricsHandler())
	wantMetric(t, s, 1, "latchkey_store_errors_total", "store", "sqlite", "op", "find_session_user")
	wantMetric(t, s, 1, "latchkey_store_errors_total", "store", "sqlite", "op", "user_by_username")
	wantMetric(t, s, 1, "latchkey_logins_total", "outcome", "store_unavailable")
	wantMetric(t, s, 1, "latchkey_logins_total", "outcome", "bad_credentials")
	wantMetric(t, s, 1, "latchkey_http_requests_total", "route", "GET /api/getsession", "code", "503")
}

// The store label names the store, or the one a wrapper embeds; users and
// sessions in different stores are told apart.
func TestMetricsStoreLabels(t *testing.T) {
	e := newEnv(t)
	type custom struct{ *memstore.Store }
	users := memstore.New()
	for _, tc := range []struct {
		name               string
		users              latchkey.UserStore
		sessions           latchkey.SessionStore
		userKind, sessKind string
	}{
		{"memory", users, users, "memory", "memory"},
		{"sqlite users, memory sessions", e.store, memstore.New(), "sqlite", "memory"},
		{"a wrapper", &custom{users}, &custom{users}, "memory", "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := latchkey.New(testConfig(e), tc.users, tc.sessions)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.LookupUser(t.Context(), "nobody"); !errors.Is(err, latchkey.ErrNotFound) {
				t.Fatalf("LookupUser: %v", err)
			}
			b := serveAuth(t, a)
			b.Get("/api/getsession", "Cookie", "latchkey_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
			s := metricstest.Serve(t, a.MetricsHandler())
			wantMetric(t, s, 1, "latchkey_store_operation_duration_seconds", "store", tc.userKind, "op", "user_by_username")
			wantMetric(t, s, 0, "latchkey_store_errors_total", "store", tc.userKind, "op", "user_by_username")
			if _, ok := s.Value("latchkey_store_operation_duration_seconds", "store", tc.sessKind, "op", "create_session"); !ok {
				t.Errorf("no create_session series for store %s", tc.sessKind)
			}
		})
	}
}

// Account mail counts as sent or failed, whether the Mailer delivers as
// it is called (in the background) or through a mail.Queue.
func TestMetricsMail(t *testing.T) {
	fail := errors.New("mail server says no")
	quiet := slog.New(slog.DiscardHandler)
	for _, tc := range []struct {
		name   string
		err    error
		queued bool
		result string
	}{
		{"direct sent", nil, false, "sent"},
		{"direct failed", fail, false, "failed"},
		{"queue sent", nil, true, "sent"},
		{"queue failed", fail, true, "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mailer mail.Mailer = mailerFunc(func(context.Context, mail.Message) error { return tc.err })
			var q *mail.Queue
			if tc.queued {
				q = mail.NewQueue(mailer, mail.QueueOptions{Logger: quiet})
				mailer = q
			}
			e := newEnv(t, func(c *latchkey.Config) { c.Mailer, c.AppURL = mailer, appURL })
			(&mailEnv{env: e}).addMailUser("mel", "mel's long password", "mel@example.test", true)
			b := e.browser()
			b.CSRF()
			if r := post(b, "/api/password/forgot", map[string]any{"email": "mel@example.test"}); r.Status != 202 {
				t.Fatalf("forgot: %d %s", r.Status, r.Raw)
			}
			if err := e.auth.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if q != nil {
				if err := q.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			s := metricstest.Serve(t, e.auth.MetricsHandler())
			wantMetric(t, s, 1, "latchkey_mails_total", "result", tc.result)
			wantMetric(t, s, 1, "latchkey_mails_total")
		})
	}
}

type mailerFunc func(context.Context, mail.Message) error

func (f mailerFunc) Send(ctx context.Context, m mail.Message) error { return f(ctx, m) }

// Each Auth counts in a registry of its own; with DisableMetrics nothing
// is served.
func TestMetricsPerAuth(t *testing.T) {
	e := newEnv(t)
	e.addUser("pat", "pat's long password")
	second, err := latchkey.New(testConfig(e), e.store, e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.browser().MustLogin("pat", "pat's long password")
	wantMetric(t, metricstest.Serve(t, e.auth.MetricsHandler()), 1, "latchkey_logins_total", "outcome", "success")
	wantMetric(t, metricstest.Serve(t, second.MetricsHandler()), 0, "latchkey_logins_total", "outcome", "success")

	cfg := testConfig(e)
	cfg.DisableMetrics = true
	off, err := latchkey.New(cfg, e.store, e.store)
	if err != nil {
		t.Fatal(err)
	}
	serveAuth(t, off).MustLogin("pat", "pat's long password")
	rec := httptest.NewRecorder()
	off.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("MetricsHandler with DisableMetrics: %d, want 404", rec.Code)
	}
}

// Metrics add no allocation to the session check: the labelled children
// are looked up once and kept.
func TestMetricsSessionCheckAllocations(t *testing.T) {
	if testenv.Race {
		t.Skip("sync.Pool drops items at random under -race")
	}
	allocs := func(disable bool) float64 {
		e := newEnv(t, func(c *latchkey.Config) { c.DisableMetrics = disable })
		e.addUser("alf", "alf's long password")
		br := e.browser()
		br.MustLogin("alf", "alf's long password")
		h := e.auth.Handler()
		req := httptest.NewRequest("GET", "/api/getsession", nil)
		req.AddCookie(br.Cookie("latchkey_session"))
		req.Header.Set("User-Agent", br.UserAgent)
		return testing.AllocsPerRun(200, func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("getsession: %d", rec.Code)
			}
		})
	}
	on, off := allocs(false), allocs(true)
	if on > off {
		t.Errorf("session check: %v allocations with metrics, %v without; want no more", on, off)
	}
}
