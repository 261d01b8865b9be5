// Command ceiling is the load benchmark's baseline: plain net/http answering
// GET /api/getsession and GET /api/data with JSON of the same shape as
// latchkey's, encoded per request with encoding/json, and no auth, store or
// middleware at all. Its throughput on a machine is the ceiling latchkey is
// measured against.
//
//	ceiling [-addr 127.0.0.1:0]
//
// It prints "ceiling listening on http://ADDR" once it accepts connections,
// and answers GET /readyz with 200.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

type user struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

type session struct {
	Login         bool      `json:"login"`
	User          user      `json:"user"`
	ExpiresAt     time.Time `json:"expiresAt"`
	IdleExpiresAt time.Time `json:"idleExpiresAt"`
	Fresh         bool      `json:"fresh"`
	Remember      bool      `json:"remember"`
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.Write(append(b, '\n'))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	now := time.Now().UTC().Truncate(time.Millisecond)
	u := user{ID: 4242, Username: "user0004242", CreatedAt: now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/getsession", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, session{Login: true, User: u, ExpiresAt: now.Add(24 * time.Hour), IdleExpiresAt: now.Add(2 * time.Hour), Fresh: true})
	})
	mux.HandleFunc("GET /api/data", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, u) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"ready"}` + "\n")) })

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	fmt.Printf("ceiling listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
