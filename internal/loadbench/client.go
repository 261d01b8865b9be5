package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Target is what a load run sends: GET Path to Addr over keep-alive
// HTTP/1.1, each request with the cookie of a random token from Tokens.
type Target struct {
	Addr      string // host:port
	Path      string
	UserAgent string
	// CookieName and Tokens give each request "Cookie: CookieName=token",
	// the token picked at random among Tokens: session tokens (see
	// SplitTokens) or access tokens (see Login). Without Tokens, requests
	// carry no cookie.
	CookieName string
	Tokens     [][]byte
}

// SplitTokens returns the tokens of size bytes each that b holds back to
// back, as the seeders return them, without copying.
func SplitTokens(b []byte, size int) [][]byte {
	t := make([][]byte, 0, len(b)/size)
	for len(b) >= size {
		t = append(t, b[:size:size])
		b = b[size:]
	}
	return t
}

// Result is what one load run measured.
type Result struct {
	Requests uint64        // answered with 200 in the measured window
	All      uint64        // answered with 200, warm-up included
	Failures uint64        // other statuses and broken connections, whole run
	Elapsed  time.Duration // the measured window
	Latency  Histogram     // of the measured requests
	FirstErr error         // the first failure, if any
}

// Throughput returns measured requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Run drives t from conns connections, each sending its next request as soon
// as the previous answer is read (a closed loop), for warmup and then for
// measure; only requests sent and answered in the measure window count.
// Latency is from writing a request to reading the last byte of its answer.
func Run(ctx context.Context, t Target, conns int, warmup, measure time.Duration) *Result {
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+measure)
	results := make([]Result, conns)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() { runConn(ctx, t, from, until, uint64(i), &results[i]) })
	}
	wg.Wait()
	total := &Result{Elapsed: measure}
	for i := range results {
		r := &results[i]
		total.Requests += r.Requests
		total.All += r.All
		total.Failures += r.Failures
		total.Latency.Merge(&r.Latency)
		if total.FirstErr == nil {
			total.FirstErr = r.FirstErr
		}
	}
	return total
}

func runConn(ctx context.Context, t Target, from, until time.Time, seed uint64, res *Result) {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	fail := func(err error) {
		res.Failures++
		if res.FirstErr == nil {
			res.FirstErr = err
		}
	}
	var head, tail []byte
	head = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", t.Path, t.Addr, t.UserAgent)
	if len(t.Tokens) > 0 {
		head = fmt.Appendf(head, "Cookie: %s=", t.CookieName)
		tail = []byte("\r\n\r\n")
	} else {
		tail = []byte("\r\n")
	}
	longest := 0
	for _, tok := range t.Tokens {
		longest = max(longest, len(tok))
	}
	req := make([]byte, 0, len(head)+longest+len(tail))
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	d := net.Dialer{}
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(until) {
			return
		}
		if conn == nil {
			c, err := d.DialContext(ctx, "tcp", t.Addr)
			if err != nil {
				fail(err)
				time.Sleep(10 * time.Millisecond)
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
			conn.SetDeadline(until.Add(10 * time.Second))
		}
		req = append(req[:0], head...)
		if len(t.Tokens) > 0 {
			req = append(req, t.Tokens[rng.IntN(len(t.Tokens))]...)
		}
		req = append(req, tail...)
		sent := time.Now()
		status, keep, err := roundTrip(conn, br, req)
		done := time.Now()
		if err != nil || !keep {
			conn.Close()
			conn = nil
		}
		if err != nil {
			if ctx.Err() == nil {
				fail(err)
			}
			continue
		}
		if status != 200 {
			fail(fmt.Errorf("%s: status %d", t.Path, status))
			continue
		}
		res.All++
		if !sent.Before(from) && done.Before(until) {
			res.Requests++
			res.Latency.Record(done.Sub(sent))
		}
	}
}

// roundTrip writes req and reads one response, discarding its body. keep
// reports whether the connection can carry another request.
func roundTrip(w io.Writer, br *bufio.Reader, req []byte) (status int, keep bool, err error) {
	if _, err := w.Write(req); err != nil {
		return 0, false, err
	}
	return readResponse(br)
}

var errMalformed = errors.New("loadbench: malformed HTTP response")

// readResponse reads one HTTP/1.1 response with a Content-Length body (the
// only kind both servers send for these small answers) and discards the body.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, errMalformed
	}
	keep = line[7] == '1'
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.Atoi(string(value))
			if err != nil || length < 0 {
				return 0, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, false, fmt.Errorf("%w: Transfer-Encoding %s not supported", errMalformed, value)
		}
	}
	if length < 0 {
		return 0, false, fmt.Errorf("%w: no Content-Length", errMalformed)
	}
	if _, err := br.Discard(length); err != nil {
		return 0, false, err
	}
	return status, keep, nil
}
