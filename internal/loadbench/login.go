package loadbench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Login logs users in through the API, conc at a time, each from a browser
// of its own (cookie jar) as LoginFlood does, and returns, in the order of
// users, the value of the cookie named cookie that each login set: in token
// mode the access token, which the server signed and recorded a token
// family for. A 503 or 429 is retried after its Retry-After.
func Login(ctx context.Context, baseURL string, users []string, pw, cookie string, conc int) ([][]byte, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: conc}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tokens := make([][]byte, len(users))
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		firstErr error
		once     sync.Once
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for range min(conc, len(users)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(users) || ctx.Err() != nil {
					return
				}
				v, err := login(ctx, tr, base, users[i], pw, cookie)
				if err != nil {
					fail(fmt.Errorf("login %s: %w", users[i], err))
					return
				}
				tokens[i] = v
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return tokens, ctx.Err()
}

func login(ctx context.Context, tr http.RoundTripper, base *url.URL, user, pw, cookie string) ([]byte, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Transport: tr, Jar: jar}
	tok, err := getCSRF(ctx, c, base.String())
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	for {
		status, after, err := postLogin(ctx, c, base.String(), tok, body)
		switch {
		case err != nil:
			return nil, err
		case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
			select {
			case <-time.After(after):
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		case status != http.StatusOK:
			return nil, fmt.Errorf("status %d", status)
		}
		for _, ck := range jar.Cookies(base) {
			if ck.Name == cookie {
				return []byte(ck.Value), nil
			}
		}
		return nil, fmt.Errorf("the login set no %s cookie", cookie)
	}
}
