package latchkey

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchkey/latchkey/mail"
)

// MetricsHandler serves the Auth's Prometheus metrics in the text
// exposition format: the latchkey_* metrics below, and the Go runtime's
// (go_*) and the process's (process_*). Each Auth keeps them in a registry
// of its own, never the prometheus package's global one, so several Auths
// in one process do not collide. Mount it where only the scraper can reach
// it, e.g. mux.Handle("GET /metrics", auth.MetricsHandler()): the figures
// hold no secrets, but say how busy the service is and how often logins
// fail. With Config.DisableMetrics it answers 404. It is safe for
// concurrent use.
//
// The metrics:
//
//	latchkey_http_requests_total{route,code}          API requests by route pattern ("POST /api/login"; "other" for paths no route matched, including what the gateway forwards) and status
//	latchkey_http_request_duration_seconds{route}     their latency
//	latchkey_logins_total{outcome}                    POST login by outcome: success, bad_credentials, throttled, unverified, busy, invalid_input, store_unavailable, error
//	latchkey_password_hashes_in_flight                argon2id hashes (and verifications) computing now
//	latchkey_password_hashes_queued                   requests waiting for a hashing slot
//	latchkey_password_hash_slots                      Config.MaxConcurrentHashes
//	latchkey_throttled_total{purpose}                 attempts refused by a throttle: login, login_client, register, mail_address, mail_client, mail_cooldown, email_code
//	latchkey_store_operation_duration_seconds{store,op}  store calls' latency; store is sqlite, postgres, redis, memory (else the store's Go package name)
//	latchkey_store_errors_total{store,op}             store calls that failed (not found, conflict and taken are answers, not failures)
//	latchkey_mails_total{result}                      account mail sent or failed, and dropped by a full mail.Queue
//	latchkey_sessions_created_total                   sessions (token families in token mode) started
//	latchkey_sessions_ended_total{reason}             sessions ended: logout, replaced (a new login in the same browser), capped (MaxSessionsPerUser), protection (strong), revoked (all of a user's), reused (a refresh token used twice)
//	latchkey_user_epoch_advances_total                times all of a user's sessions were ended at once (password change or reset, EndUserSessions, account deletion)
//
// Sessions that expire are not counted as ended: stores let them lapse.
func (a *Auth) MetricsHandler() http.Handler {
	if a.met == nil {
		return http.NotFoundHandler()
	}
	return a.met.handler
}

// metrics are one Auth's Prometheus metrics. Every labelled child is looked
// up once, at construction or at a route's first request, and kept: a
// request costs clock reads and atomic adds, no label lookups and no
// allocations. The hooks in the flows are one line each, and are methods
// that do nothing on a nil *metrics (Config.DisableMetrics).
type metrics struct {
	handler http.Handler

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	routesMu sync.Mutex // serialises adding a route
	routes   atomic.Pointer[map[string]*routeMetrics]
	other    *routeMetrics // requests no route matched
	writers  sync.Pool     // *statusWriter

	logins     [numLoginOutcomes]prometheus.Counter
	hashQueued prometheus.Gauge
	store      [numStoreOps]storeOp
	created    prometheus.Counter
	ended      [numEndReasons]prometheus.Counter
	epochs     prometheus.Counter
	mail       [2]prometheus.Counter // sent, failed; nil when the Mailer is a mail.Queue, which counts itself
}

// newMetrics registers a's metrics, or returns nil with
// Config.DisableMetrics. It runs at the end of New, when the stores,
// throttles and mailer are known.
func newMetrics(a *Auth) *metrics {
	if a.cfg.DisableMetrics {
		return nil
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &metrics{handler: promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelError),
		Registry: reg,
	}))}
	f := factory{reg}
	m.registerHTTP(f)
	m.registerStores(f, a)
	m.registerFlows(f, a)
	return m
}

// registerFlows registers what the flows count: logins, hashing, throttles,
// sessions and mail.
func (m *metrics) registerFlows(f factory, a *Auth) {
	logins := f.counterVec("latchkey_logins_total", "Login attempts (POST login) by outcome.", "outcome")
	for o := range numLoginOutcomes {
		m.logins[o] = logins.WithLabelValues(loginOutcomeNames[o])
	}

	sem := a.hashSem
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "latchkey_password_hashes_in_flight", Help: "Password hashes and verifications computing now."},
		func() float64 { return float64(len(sem)) }))
	f.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "latchkey_password_hash_slots", Help: "Password hashes that may compute at once (MaxConcurrentHashes)."},
		func() float64 { return float64(cap(sem)) }))
	m.hashQueued = f.gauge("latchkey_password_hashes_queued", "Requests waiting for a password hashing slot.")

	throttled := f.counterVec("latchkey_throttled_total", "Attempts refused by a throttle, by its purpose.", "purpose")
	for _, t := range []struct {
		t       *throttle
		purpose string
	}{
		{&a.throttles.login, "login"}, {&a.throttles.loginIP, "login_client"}, {&a.throttles.register, "register"},
		{&a.throttles.mailAddress, "mail_address"}, {&a.throttles.mailClient, "mail_client"}, {&a.throttles.mailCooldown, "mail_cooldown"},
		{&a.throttles.emailCode, "email_code"},
	} {
		t.t.met = &throttleMetrics{m: m, throttled: throttled.WithLabelValues(t.purpose)}
	}

	m.created = f.counter("latchkey_sessions_created_total", "Sessions (token families in token mode) started.")
	ended := f.counterVec("latchkey_sessions_ended_total", "Sessions ended, by reason; expiry is not counted.", "reason")
	for r := range numEndReasons {
		m.ended[r] = ended.WithLabelValues(endReasonNames[r])
	}
	m.epochs = f.counter("latchkey_user_epoch_advances_total", "Times all of a user's sessions were ended at once (the user's epoch advanced).")

	const mailHelp = "Account mail by result: sent or failed by the Mailer, or dropped by a full queue."
	q, ok := a.cfg.Mailer.(*mail.Queue)
	if !ok {
		mails := f.counterVec("latchkey_mails_total", mailHelp, "result")
		m.mail = [2]prometheus.Counter{mails.WithLabelValues("sent"), mails.WithLabelValues("failed")}
		return
	}
	for _, r := range []struct {
		result string
		n      func(mail.Stats) uint64
	}{
		{"sent", func(s mail.Stats) uint64 { return s.Sent }},
		{"failed", func(s mail.Stats) uint64 { return s.Failed }},
		{"dropped", func(s mail.Stats) uint64 { return s.Dropped }},
	} {
		f.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "latchkey_mails_total", Help: mailHelp, ConstLabels: prometheus.Labels{"result": r.result}},
			func() float64 { return float64(r.n(q.Stats())) }))
	}
}

// factory makes metrics and registers them.
type factory struct{ reg *prometheus.Registry }

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.reg.MustRegister(g)
	return g
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.reg.MustRegister(h)
	return h
}

// loginOutcome is how a POST login ended: the outcome label.
type loginOutcome int

const (
	loginSuccess loginOutcome = iota
	loginBadCredentials
	loginThrottled
	loginUnverified
	loginLocked
	loginBusy
	loginInvalidInput
	loginStoreUnavailable
	loginError
	numLoginOutcomes
)

var loginOutcomeNames = [numLoginOutcomes]string{"success", "bad_credentials", "throttled", "unverified", "locked", "busy", "invalid_input", "store_unavailable", "error"}

// login counts a login attempt that ended with err (nil: logged in).
func (m *metrics) login(err error) {
	if m == nil {
		return
	}
	o := loginError
	switch {
	case err == nil:
		o = loginSuccess
	case errors.Is(err, ErrInvalidCredentials):
		o = loginBadCredentials
	case errors.Is(err, ErrTooManyAttempts):
		o = loginThrottled
	case errors.Is(err, ErrEmailUnverified):
		o = loginUnverified
	case errors.Is(err, ErrAccountLocked):
		o = loginLocked
	case errors.Is(err, ErrBusy):
		o = loginBusy
	case isInputError(err):
		o = loginInvalidInput
	case errors.Is(err, ErrStoreUnavailable):
		o = loginStoreUnavailable
	}
	m.logins[o].Inc()
}

func isInputError(err error) bool {
	_, ok := errors.AsType[*InputError](err)
	return ok
}

// hashWaiting moves the count of requests queued for a hashing slot.
func (m *metrics) hashWaiting(delta float64) {
	if m != nil {
		m.hashQueued.Add(delta)
	}
}

// throttleMetrics are what a throttle reports: its refusals, and its calls
// to a shared store (AttemptLimiter).
type throttleMetrics struct {
	m         *metrics
	throttled prometheus.Counter
}

// refused counts an attempt the throttle refused.
func (t *throttleMetrics) refused() {
	if t != nil {
		t.throttled.Inc()
	}
}

func (t *throttleMetrics) op(op storeOpID) *storeOp {
	if t == nil {
		return nil
	}
	return t.m.op(op)
}

// endReason is why sessions ended: the reason label.
type endReason int

const (
	endLogout     endReason = iota // the user logged out
	endReplaced                    // a new login in the same browser replaced it
	endCapped                      // the user's oldest, past MaxSessionsPerUser
	endProtection                  // strong protection: the User-Agent changed
	endRevoked                     // all of the user's: EndUserSessions and what calls it, DeleteUser
	endReused                      // token mode: a refresh token was used twice
	numEndReasons
)

var endReasonNames = [numEndReasons]string{"logout", "replaced", "capped", "protection", "revoked", "reused"}

// endUncounted deletes a session that was already dead (its user gone, its
// epoch past), and counted when it ended.
const endUncounted endReason = -1

// deleteSession deletes a session, timed, and counts it ended for reason.
func (a *Auth) deleteSession(ctx context.Context, tokenHash []byte, reason endReason) error {
	err := timedErr(a.met.op(opDeleteSession), func() error { return a.sessions.DeleteSession(ctx, tokenHash) })
	if err == nil && reason != endUncounted {
		a.met.sessionsEnded(reason, 1)
	}
	return err
}

// sessionCreated counts a session (token family) started.
func (m *metrics) sessionCreated() {
	if m != nil {
		m.created.Inc()
	}
}

// sessionsEnded counts n sessions ended for reason.
func (m *metrics) sessionsEnded(reason endReason, n int) {
	if m != nil && n > 0 {
		m.ended[reason].Add(float64(n))
	}
}

// epochAdvanced counts the ending of all a user's sessions, n of which
// the store held.
func (m *metrics) epochAdvanced(n int) {
	if m != nil {
		m.epochs.Inc()
		m.sessionsEnded(endRevoked, n)
	}
}

// revoked counts n sessions ended by deleting all of a user's, and returns
// n and err, so that it wraps the call: n, err := a.met.revoked(timed(…)).
func (m *metrics) revoked(n int, err error) (int, error) {
	m.sessionsEnded(endRevoked, n)
	return n, err
}

// mailed counts a message the Mailer was given to deliver as it is called
// (not a mail.Queue, which counts its own), and returns err.
func (m *metrics) mailed(err error) error {
	if m != nil && m.mail[0] != nil {
		if err == nil {
			m.mail[0].Inc()
		} else {
			m.mail[1].Inc()
		}
	}
	return err
}
