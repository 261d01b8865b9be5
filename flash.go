package latchkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Flash is what a form post tells the page it sends the browser to, as
// Flask's flash() does: an error (Code, Message and Field, as in the JSON
// API's error object) or a Notice, and what the user had typed into the
// form (never a password) to fill it in again. The page reads it once with
// TakeFlash.
type Flash struct {
	Code, Message, Field string
	Notice               string
	Username, Email      string
}

// flashCookie carries a Flash from a form post to the next page; it lives
// flashTTL, so one left unread does not show up later.
const (
	flashCookie = "latchkey_flash"
	flashTTL    = time.Minute
	// maxFlashText bounds each text of a Flash, so the cookie stays small.
	maxFlashText = 512
)

// flashWire is a Flash in its cookie.
type flashWire struct {
	Code     string `json:"c,omitempty"`
	Message  string `json:"m,omitempty"`
	Field    string `json:"f,omitempty"`
	Notice   string `json:"n,omitempty"`
	Username string `json:"u,omitempty"`
	Email    string `json:"e,omitempty"`
	Expires  int64  `json:"x"`
}

// newFlashKeys derives the keys that sign flash cookies, one per secret.
// They are signed so that a cookie tossed from a sibling subdomain cannot
// put words of its own on latchkey's pages.
func newFlashKeys(secrets [][]byte) ([][]byte, error) {
	return deriveKeys(secrets, "latchkey flash v1")
}

func flashMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

// cookiesFor returns the cookie writer for a response to r.
func (a *Auth) cookiesFor(r *http.Request) cookieWriter {
	return cookieWriter{secure: a.Secure(r), sameSite: a.cfg.SameSite, domain: a.cfg.CookieDomain, partitioned: a.cfg.Partitioned, now: a.now()}
}

// setFlash puts f in the flash cookie of the response to r.
func (a *Auth) setFlash(w http.ResponseWriter, r *http.Request, f Flash) {
	cut := func(s string) string {
		if len(s) > maxFlashText {
			return strings.ToValidUTF8(s[:maxFlashText], "")
		}
		return s
	}
	c := a.cookiesFor(r)
	payload, _ := json.Marshal(flashWire{Code: cut(f.Code), Message: cut(f.Message), Field: cut(f.Field), Notice: cut(f.Notice),
		Username: cut(f.Username), Email: cut(f.Email), Expires: c.now.Add(flashTTL).Unix()})
	value := b64.EncodeToString(payload) + "." + b64.EncodeToString(flashMAC(a.flashKeys[0], payload))
	c.set(w, flashCookie, value, true, c.now.Add(flashTTL))
}

// TakeFlash returns the Flash that a form post left for the page now
// answering r, and clears it: a page shows it once. It reports false when
// there is none, or none that latchkey signed in the last minute. The
// hosted pages (package pages) call it; a page of your own can too.
func (a *Auth) TakeFlash(w http.ResponseWriter, r *http.Request) (Flash, bool) {
	c := a.cookiesFor(r)
	name := cookieName(flashCookie, c.secure)
	cookies := r.CookiesNamed(name)
	if len(cookies) == 0 {
		return Flash{}, false
	}
	c.clear(w, flashCookie, true)
	for _, ck := range cookies {
		if f, ok := a.parseFlash(ck.Value, c.now); ok {
			return f, true
		}
	}
	return Flash{}, false
}

// parseFlash verifies and decodes a flash cookie's value.
func (a *Auth) parseFlash(v string, now time.Time) (Flash, bool) {
	p, m, ok := strings.Cut(v, ".")
	if !ok || len(v) > 8<<10 {
		return Flash{}, false
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil {
		return Flash{}, false
	}
	valid := false
	for _, k := range a.flashKeys {
		valid = valid || hmac.Equal(mac, flashMAC(k, payload))
	}
	var fw flashWire
	if !valid || json.Unmarshal(payload, &fw) != nil || now.Unix() > fw.Expires {
		return Flash{}, false
	}
	return Flash{Code: fw.Code, Message: fw.Message, Field: fw.Field, Notice: fw.Notice, Username: fw.Username, Email: fw.Email}, true
}
