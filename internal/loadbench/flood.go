package loadbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/latchkey/latchkey/password"
)

// FloodResult is what a login flood measured.
type FloodResult struct {
	Logins   int           // successful logins
	Elapsed  time.Duration // from the start of the flood to the last success
	Retries  int           // 503 busy / 429 answers that were retried
	Failures int           // logins that never succeeded
	FirstErr error
}

// LoginsPerSecond returns successful logins per second.
func (r *FloodResult) LoginsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Logins) / r.Elapsed.Seconds()
}

// LoginFlood logs in users 0..n-1 (see Username) at once, each from its own
// browser (cookie jar): every one first gets a CSRF token, then all post
// their login together. A 503 or 429 is retried after its Retry-After, as a
// well-behaved SPA would, until timeout.
func LoginFlood(ctx context.Context, baseURL string, n int, pw string, timeout time.Duration) *FloodResult {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var (
		wg       sync.WaitGroup
		ready    sync.WaitGroup
		mu       sync.Mutex
		res      FloodResult
		last     atomic.Int64
		retries  atomic.Int64
		startGun = make(chan struct{})
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.Failures++
		if res.FirstErr == nil {
			res.FirstErr = err
		}
	}
	ready.Add(n)
	for i := range n {
		wg.Go(func() {
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Transport: tr, Jar: jar}
			tok, err := getCSRF(ctx, c, baseURL)
			ready.Done()
			if err != nil {
				fail(err)
				return
			}
			<-startGun
			body, _ := json.Marshal(map[string]string{"username": Username(i), "password": pw})
			for {
				status, after, err := postLogin(ctx, c, baseURL, tok, body)
				switch {
				case err != nil:
					fail(err)
					return
				case status == http.StatusOK:
					last.Store(int64(time.Now().UnixNano()))
					mu.Lock()
					res.Logins++
					mu.Unlock()
					return
				case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
					retries.Add(1)
					select {
					case <-time.After(after):
					case <-ctx.Done():
						fail(fmt.Errorf("login %s: gave up after %v", Username(i), timeout))
						return
					}
				default:
					fail(fmt.Errorf("login %s: status %d", Username(i), status))
					return
				}
			}
		})
	}
	ready.Wait()
	start := time.Now()
	close(startGun)
	wg.Wait()
	if l := last.Load(); l > 0 {
		res.Elapsed = time.Unix(0, l).Sub(start)
	}
	res.Retries = int(retries.Load())
	return &res
}

func getCSRF(ctx context.Context, c *http.Client, baseURL string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", baseURL+"/api/getcsrf", nil)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	tok := resp.Header.Get("X-CSRFToken")
	if resp.StatusCode != http.StatusOK || tok == "" {
		return "", fmt.Errorf("getcsrf: status %d, token %q", resp.StatusCode, tok)
	}
	return tok, nil
}

func postLogin(ctx context.Context, c *http.Client, baseURL, tok string, body []byte) (status int, retryAfter time.Duration, err error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", baseURL+"/api/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRFToken", tok)
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	retryAfter = time.Second
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		retryAfter = time.Duration(s) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// HashRate measures raw argon2id hashing with p: workers goroutines hashing
// back to back for d. It returns hashes per second of wall time, and the
// CPU time (of this whole process, user and system) per hash, which the
// other load on a shared machine disturbs much less.
func HashRate(p password.Params, workers int, d time.Duration) (perSecond float64, cpuPerHash time.Duration, err error) {
	h := password.New(p)
	var count atomic.Int64
	var firstErr atomic.Pointer[error]
	cpu0 := processCPU()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if _, err := h.Hash("the load benchmark's password"); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				count.Add(1)
			}
		})
	}
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		return 0, 0, *err
	}
	n := count.Load()
	if n == 0 {
		return 0, 0, errors.New("loadbench: no hash finished")
	}
	return float64(n) / time.Since(start).Seconds(), (processCPU() - cpu0) / time.Duration(n), nil
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
