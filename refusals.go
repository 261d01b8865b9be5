package latchkey

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Refusals (a failed CSRF or origin check, a throttled login, a refused
// CORS preflight, bad input) are logged at Info with their reason, so an
// operator setting latchkey up sees why a frontend is turned away without
// reading response bodies. A flood must not fill the log: per kind of
// refusal (code and reason), at most refusalBurst lines are written per
// refusalWindow; the rest are counted, and the next line of that kind says
// how many were left out.
const (
	refusalBurst    = 5
	refusalWindow   = time.Minute
	maxRefusalKinds = 256 // kinds beyond this share one count
	maxLoggedValue  = 200 // bytes of a path or Origin a line keeps
)

type refusalLog struct {
	log   *slog.Logger
	now   func() time.Time
	mu    sync.Mutex
	kinds map[string]*refusalKind
}

type refusalKind struct {
	windowStart time.Time
	logged      int // lines written in this window
	suppressed  int // refusals not written since the last line
}

func newRefusalLog(log *slog.Logger, now func() time.Time) *refusalLog {
	return &refusalLog{log: log, now: now, kinds: map[string]*refusalKind{}}
}

// admit decides whether a refusal of this kind is written now, and how many
// of its kind were left out before it.
func (l *refusalLog) admit(kind string) (ok bool, suppressed int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	k, found := l.kinds[kind]
	if !found {
		if len(l.kinds) >= maxRefusalKinds {
			kind = "other"
			k = l.kinds[kind]
		}
		if k == nil {
			k = &refusalKind{windowStart: now}
			l.kinds[kind] = k
		}
	}
	if now.Sub(k.windowStart) >= refusalWindow {
		k.windowStart, k.logged = now, 0
	}
	if k.logged >= refusalBurst {
		k.suppressed++
		return false, 0
	}
	k.logged++
	suppressed, k.suppressed = k.suppressed, 0
	return true, suppressed
}

// refused logs one refusal of r: status and code as the client got them,
// and the reason, which never holds a token, cookie or password.
// The kind is code and reason; detail, which may vary by request, is logged
// but does not make a kind of its own.
func (l *refusalLog) refused(ctx context.Context, r *http.Request, clientIP string, status int, code, reason, detail string) {
	ok, suppressed := l.admit(code + "\x00" + reason)
	if !ok {
		return
	}
	attrs := []any{"status", status, "code", code, "reason", reason,
		"method", r.Method, "path", clip(r.URL.Path), "ip", clientIP}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	if o := r.Header.Get("Origin"); o != "" {
		attrs = append(attrs, "origin", clip(o))
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		attrs = append(attrs, "sec_fetch_site", clip(s))
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed_since_last", suppressed)
	}
	l.log.InfoContext(ctx, "request refused", attrs...)
}

func clip(s string) string {
	if len(s) <= maxLoggedValue {
		return s
	}
	return s[:maxLoggedValue] + "…"
}

// logRefusal logs a client error that is a refusal: anything 4xx but the
// everyday answers (not logged in, wrong password, not found, name taken).
func (a *Auth) logRefusal(r *http.Request, status int, body apiError) {
	switch status {
	case http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict:
		return
	}
	if status < 400 || status >= 500 {
		return
	}
	a.refusals.refused(r.Context(), r, a.ClientIP(r), status, body.Code, body.Message, "")
}

// logCORSRefusals wraps the CORS handler: a preflight it answers without
// allowing the request is a refusal the browser reports only vaguely
// ("blocked by CORS policy"), so the log says which part was refused.
func (a *Auth) logCORSRefusals(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if r.Method != http.MethodOptions || r.Header.Get("Access-Control-Request-Method") == "" || r.Header.Get("Origin") == "" {
			return
		}
		if w.Header().Get("Access-Control-Allow-Origin") != "" {
			return
		}
		reason, detail := "origin not in --allowed-origins", ""
		if a.cors.OriginAllowed(r) {
			reason = "method or headers not allowed"
			detail = clip(r.Header.Get("Access-Control-Request-Method") + " " + r.Header.Get("Access-Control-Request-Headers"))
		}
		a.refusals.refused(r.Context(), r, a.ClientIP(r), http.StatusNoContent, "cors_preflight_refused", reason, detail)
	})
}
