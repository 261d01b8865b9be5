package latchkey

import (
	"net/http"
	"strings"
)

// apiHeaders marks every API response as private and inert. Auth answers
// carry sessions and tokens: no cache may keep them.
func apiHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", apiContentSecurityPolicy)
		next.ServeHTTP(w, r)
	})
}

// jsonMuxErrors answers the mux's own 404s and 405s (which are plain text)
// with JSON errors, keeping the Allow header of a 405.
func (a *Auth) jsonMuxErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			r.Pattern = pattern // as mux.ServeHTTP would set it; the metrics label requests by it
			if strings.Contains(pattern, "{") {
				mux.ServeHTTP(w, r) // Handler does not set the path's {values}
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusNotFound:
			if a.gateway != nil && strings.HasPrefix(r.URL.Path, a.cfg.APIPrefix+"/") {
				a.gateway.ServeHTTP(w, r)
				return
			}
			a.writeError(w, r, ErrNotFound, "")
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			a.writeError(w, r, errMethodNotAllowed, "")
		default: // a redirect to the clean path
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
		}
	})
}

// statusRecorder captures what the mux's fallback handler would send.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }
func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return len(b), nil
}
func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

// recoverer turns a panic into a logged 500 JSON error instead of a dropped
// connection and a stack trace.
func (a *Auth) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.ErrorContext(r.Context(), "panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				a.writeError(w, r, errPanic, "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}
