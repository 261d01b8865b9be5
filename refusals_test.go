package latchkey_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

// logCapture keeps the records a logger writes.
type logCapture struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r.Clone())
	return nil
}
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *logCapture) WithGroup(string) slog.Handler      { return c }

// refusals returns the "request refused" lines logged so far, each as its
// attributes, and forgets them.
func (c *logCapture) refusals(t *testing.T) []map[string]string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []map[string]string
	for _, r := range c.records {
		if r.Message != "request refused" {
			continue
		}
		if r.Level != slog.LevelInfo {
			t.Errorf("refusal logged at %v, want INFO (an operator setting up must see it)", r.Level)
		}
		m := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
		out = append(out, m)
	}
	c.records = nil
	return out
}

func TestRefusalsAreLogged(t *testing.T) {
	logs := &logCapture{}
	const spa = "http://localhost:5173"
	e := newEnv(t, func(c *latchkey.Config) {
		c.Logger = slog.New(logs)
		c.AllowedOrigins = []string{spa}
		c.PublicURL = "http://localhost:8080"
		c.LoginBurst, c.LoginRefill = 1, time.Hour
	})
	e.addUser("ivy", "ivy's long password")
	secret := "X-CSRFToken-value-that-must-not-be-logged"
	one := func(t *testing.T, what string, want map[string]string) {
		t.Helper()
		got := logs.refusals(t)
		if len(got) != 1 {
			t.Fatalf("%s: %d refusal lines %v, want 1", what, len(got), got)
		}
		for k, v := range want {
			if !strings.Contains(got[0][k], v) {
				t.Errorf("%s: %s = %q, want it to contain %q (line %v)", what, k, got[0][k], v, got[0])
			}
		}
		for k, v := range got[0] {
			if strings.Contains(v, secret) || strings.Contains(v, "ivy's long password") {
				t.Errorf("%s: %s logs a secret: %q", what, k, v)
			}
		}
	}

	b := e.browser()
	b.Do("POST", "/api/login", strings.NewReader(`{"username":"ivy","password":"ivy's long password"}`),
		"Content-Type", "application/json", "X-CSRFToken", secret)
	one(t, "bad token", map[string]string{"code": "csrf_failed", "reason": "token", "path": "/api/login", "status": "403", "ip": "127.0.0.1"})

	b.Do("POST", "/api/login", strings.NewReader(`{}`), "Content-Type", "application/json",
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	one(t, "cross-site", map[string]string{"code": "csrf_failed", "reason": "cross-origin", "origin": "https://evil.example", "sec_fetch_site": "cross-site"})

	b.CSRF()
	b.Post("/api/login", map[string]any{"username": "ivy", "password": "wrong"})
	if got := logs.refusals(t); len(got) != 0 {
		t.Errorf("a wrong password was logged as a refusal: %v", got)
	}
	b.Post("/api/login", map[string]any{"username": "ivy", "password": "wrong"})
	one(t, "throttled", map[string]string{"code": "too_many_attempts", "status": "429"})

	b.Do("POST", "/api/register", strings.NewReader(`{}`), "Content-Type", "text/plain", "X-CSRFToken", b.Token())
	one(t, "wrong content type", map[string]string{"code": "unsupported_media_type", "status": "415"})

	b.Do("OPTIONS", "/api/login", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	one(t, "preflight from a foreign origin", map[string]string{"code": "cors_preflight_refused", "reason": "allowed-origins", "origin": "https://evil.example"})
	b.Do("OPTIONS", "/api/login", nil, "Origin", spa, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-secret-header")
	one(t, "preflight asking for another header", map[string]string{"code": "cors_preflight_refused", "detail": "x-secret-header"})
	b.Do("OPTIONS", "/api/login", nil, "Origin", spa, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,x-csrftoken")
	if got := logs.refusals(t); len(got) != 0 {
		t.Errorf("an allowed preflight was logged as refused: %v", got)
	}

	if e.browser().Get("/api/data").Status != 401 || len(logs.refusals(t)) != 0 {
		t.Errorf("a plain 401 (not logged in) was logged as a refusal")
	}
}

// TestRefusalLogFlood: a flood of one kind of refusal writes a few lines a
// minute, not one per request, and the next line says how many were left out.
func TestRefusalLogFlood(t *testing.T) {
	logs := &logCapture{}
	e := newEnv(t, func(c *latchkey.Config) { c.Logger = slog.New(logs) })
	b := e.browser()
	const n, burst = 200, 5
	for range n {
		b.Do("POST", "/api/logout", nil) // no token
	}
	b.Do("POST", "/api/logout", nil, "Origin", "https://evil.example") // another kind still gets through
	got := logs.refusals(t)
	if len(got) != burst+1 {
		t.Fatalf("%d refusals of one kind and one of another wrote %d lines, want %d", n, len(got), burst+1)
	}
	if last := got[burst]; !strings.Contains(last["reason"], "cross-origin") {
		t.Errorf("the other kind of refusal was not logged: last line %v", last)
	}
	e.clock.Advance(2 * time.Minute)
	b.Do("POST", "/api/logout", nil)
	got = logs.refusals(t)
	if want := fmt.Sprint(n - burst); len(got) != 1 || got[0]["suppressed_since_last"] != want {
		t.Fatalf("after the window: %v, want one line with suppressed_since_last=%s", got, want)
	}
}
