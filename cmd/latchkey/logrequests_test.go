package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLogRequests(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "status=418"},
		{slog.LevelInfo, ""},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
		rec := httptest.NewRecorder()
		logRequests(log, h).ServeHTTP(rec, httptest.NewRequest("GET", "/api/x?secret=1", nil))
		if rec.Code != http.StatusTeapot {
			t.Errorf("level %v: status %d, want 418", tc.level, rec.Code)
		}
		got := buf.String()
		if tc.want == "" && got != "" || tc.want != "" && (!strings.Contains(got, tc.want) || strings.Contains(got, "secret")) {
			t.Errorf("level %v: logged %q, want %q and no query", tc.level, got, tc.want)
		}
	}
}
