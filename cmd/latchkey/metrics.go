package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/latchkey/latchkey"
)

// metricsOptions say where the Prometheus metrics are served: on the main
// listener at /metrics (the default), only on an address of their own, or
// nowhere (off, which also stops counting them).
type metricsOptions struct {
	addr string
}

// metricsOff is the --metrics-addr value that turns metrics off.
const metricsOff = "off"

func (m *metricsOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&m.addr, "metrics-addr", "", `serve the Prometheus metrics at /metrics only on this HOST:PORT, plain HTTP, instead of on --addr; "off": no metrics (default: /metrics on --addr)`)
}

// apply checks the flag and turns the library's metrics off with it.
func (m *metricsOptions) apply(cfg *latchkey.Config) error {
	switch m.addr {
	case "":
	case metricsOff:
		cfg.DisableMetrics = true
	default:
		if _, _, err := net.SplitHostPort(m.addr); err != nil {
			return fmt.Errorf(`--metrics-addr %q: want HOST:PORT or "off": %w`, m.addr, err)
		}
	}
	return nil
}

// onMain returns the handler the main listener serves at /metrics, or nil.
func (m *metricsOptions) onMain(auth *latchkey.Auth) http.Handler {
	if m.addr != "" {
		return nil
	}
	return auth.MetricsHandler()
}

// serve serves auth's metrics on their own address, if the flag gave one,
// and says where on stdout; the main listener at mainURL otherwise. The
// returned function stops the server.
func (m *metricsOptions) serve(auth *latchkey.Auth, log *slog.Logger, stdout io.Writer, mainURL string) (stop func(), err error) {
	switch m.addr {
	case metricsOff:
		return func() {}, nil
	case "":
		fmt.Fprintf(stdout, "latchkey metrics on %s/metrics\n", mainURL)
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", m.addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", auth.MetricsHandler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	fmt.Fprintf(stdout, "latchkey metrics on http://%s/metrics\n", ln.Addr())
	return func() { srv.Close() }, nil
}
