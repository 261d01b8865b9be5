package latchkey

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func FuzzParseToken(f *testing.F) {
	good := encodeToken(newToken())
	for _, s := range []string{good, "", "=", good[:42], good + "A", strings.Repeat("_", 43), strings.Repeat("+", 43), "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := parseToken(v)
		if ok && encodeToken(tok) != v {
			t.Fatalf("accepted non-canonical %q (re-encodes to %q)", v, encodeToken(tok))
		}
		if !ok && tok != [tokenBytes]byte{} && len(v) != encodedTokenBytes {
			t.Fatalf("rejected %q but returned data", v)
		}
	})
}

// FuzzParseAPIToken: parseAPIToken accepts exactly "lk_" and the canonical
// base64url of 32 bytes, as a plain reference check decides, and the hash
// is theirs; fresh tokens and any 32 bytes so encoded parse back.
func FuzzParseAPIToken(f *testing.F) {
	good, _ := newAPIToken()
	for _, s := range []string{
		good, "", "lk_", good[:45], good + "A", "LK_" + good[3:], "lk-" + good[3:], "xlk_" + good[3:45],
		"lk_" + strings.Repeat("_", 43), "lk_" + strings.Repeat("+", 43), "lk_" + strings.Repeat("A", 42) + "B",
		"lk_" + good[3:45] + "=", encodeToken(newToken()), "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hash, ok := parseAPIToken(s)
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(s, "lk_"))
		want := strings.HasPrefix(s, "lk_") && err == nil && len(raw) == 32 &&
			"lk_"+base64.RawURLEncoding.EncodeToString(raw) == s
		if ok != want {
			t.Fatalf("parseAPIToken(%q): ok %v, reference says %v", s, ok, want)
		}
		if ok {
			if h := sha256.Sum256(raw); !bytes.Equal(hash, h[:]) {
				t.Fatalf("parseAPIToken(%q): hash %x, want SHA-256 of the decoded bytes %x", s, hash, h)
			}
		} else if hash != nil {
			t.Fatalf("parseAPIToken(%q): rejected but returned a hash", s)
		}
		// Round trip: any 32 bytes, encoded, parse back to their hash.
		if len(s) >= 32 {
			var b [tokenBytes]byte
			copy(b[:], s)
			tok := apiTokenPrefix + encodeToken(b)
			if h, ok := parseAPIToken(tok); !ok || !bytes.Equal(h, hashToken(b)) {
				t.Fatalf("parseAPIToken(%q) = (%x, %v), want (%x, true)", tok, h, ok, hashToken(b))
			}
		}
		plain, h := newAPIToken()
		if got, ok := parseAPIToken(plain); !ok || !bytes.Equal(got, h) || len(plain) != 46 {
			t.Fatalf("new token %q: parse gives (%x, %v), want (%x, true)", plain, got, ok, h)
		}
	})
}

// FuzzCookieHeader: any Cookie header yields as candidates only well-formed
// session tokens it holds, at most maxCookieCandidates, without repeats;
// one well-formed cookie is always found.
func FuzzCookieHeader(f *testing.F) {
	good := encodeToken(newToken())
	f.Add("latchkey_session=" + good)
	f.Add("latchkey_session=" + good + "; latchkey_session=" + good)
	f.Add(`latchkey_session="` + good + `"`)
	f.Add("latchkey_session=;;;=;latchkey_session")
	f.Add("a=b; latchkey_session=" + good[:10])
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		c := tokenCookies(r, sessionCookie)
		named := r.CookiesNamed(sessionCookie)
		if c.present != (len(named) > 0) {
			t.Fatalf("present %v with %d cookies named so in %q", c.present, len(named), header)
		}
		if c.n > maxCookieCandidates || c.n > len(named) {
			t.Fatalf("%d candidates from %d cookies", c.n, len(named))
		}
		for i, tok := range c.list() {
			if !strings.Contains(header, encodeToken(tok)) {
				t.Fatalf("token %x not in header %q", tok, header)
			}
			if slices.Contains(c.list()[:i], tok) {
				t.Fatalf("token %x twice", tok)
			}
		}
		if len(named) == 1 {
			if _, ok := parseToken(named[0].Value); ok != (c.n == 1) {
				t.Fatalf("one cookie %q, well-formed %v, gave %d candidates", named[0].Value, ok, c.n)
			}
		}
	})
}

func FuzzCSRFToken(f *testing.F) {
	keys, _ := newCSRFKeys([][]byte{bytes.Repeat([]byte("k"), 32)})
	binding := hashToken(newToken())
	browser := newToken()
	valid := keys.issue(bindSession, binding, nil)
	dual := keys.issue(bindSession, binding, browser[:])
	anon := keys.issue(bindAnon, browser[:], nil)
	for _, s := range []string{valid, dual, anon, valid[:85], dual[:170], strings.Repeat("A", 86), strings.Repeat("A", 171), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		macs, ok := parseCSRFToken(tok)
		if ok && macs.n != 1 && macs.n != 2 {
			t.Fatalf("%d MACs", macs.n)
		}
		// Only tokens the key issued for this binding verify; any other
		// input that verifies is a forgery. A browser (anonymous) binding
		// never passes for a session: the kinds are in the MACs.
		if keys.valid(tok, bindSession, binding) {
			if keys.valid(tok, bindAnon, binding) {
				t.Fatalf("token valid for both binding kinds")
			}
			if !ok {
				t.Fatalf("valid token %q does not parse", tok)
			}
		}
		if keys.valid(tok, bindSession, browser[:]) {
			t.Fatalf("token valid as a session binding for the browser cookie")
		}
		if keys.valid(tok, bindSession, nil) {
			t.Fatalf("token valid with no binding")
		}
	})
}

func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{
		`{"username":"a","password":"b"}`, `{"username":"a","Username":"b"}`, `{}`, `[]`, `{"a":1}{}`,
		`{"a":{"b":[1,2,{"c":null}]}}`, `{"\u212Aey":1,"key":2}`, "{\"a\":\"\xff\"}", `{"a":1,}`, `{`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, err := parseJSONObject(body)
		if err != nil {
			if _, ok := errors.AsType[*InputError](err); !ok {
				t.Fatalf("error %v is not an InputError", err)
			}
			if obj != nil {
				t.Fatalf("object returned with error")
			}
			return
		}
		// Accepted: it must be a JSON object that encoding/json agrees on,
		// with no two keys equal under case folding.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted %q that encoding/json rejects: %v", body, err)
		}
		seen := map[string]bool{}
		for k := range obj {
			fk := strings.ToLower(strings.ToUpper(k))
			if seen[fk] {
				t.Fatalf("accepted case-variant duplicate keys in %q", body)
			}
			seen[fk] = true
			if _, err := obj.str(k, true); err != nil {
				if _, ok := errors.AsType[*InputError](err); !ok {
					t.Fatalf("str(%q): %v", k, err)
				}
			}
		}
	})
}

// FuzzScanTokenCookie: the allocation-free scan agrees with net/http's
// parser whenever it answers.
func FuzzScanTokenCookie(f *testing.F) {
	good, other := encodeToken(newToken()), encodeToken(newToken())
	f.Add("latchkey_session="+good, "")
	f.Add(" XSRF-TOKEN=x; latchkey_session="+good+" ;latchkey_csrf="+other, "latchkey_session="+other)
	f.Add("latchkey_session="+good+"; latchkey_session="+good, "")
	f.Add(`latchkey_session="`+good+`"`, "")
	f.Add("latchkey_session=;;;=;latchkey_session", "a=b")
	f.Add("a=b; latchkey_session="+good[:10], "\tlatchkey_session ="+good)
	f.Add(strings.Repeat("a=b;", 400)+"latchkey_session="+good, "")
	f.Fuzz(func(t *testing.T, h1, h2 string) {
		for _, lines := range [][]string{{h1}, {h1, h2}} {
			r := &http.Request{Header: http.Header{"Cookie": lines}}
			tok, ok, present, sure := scanTokenCookie(lines, sessionCookie)
			if !sure {
				continue
			}
			wantTok, wantOK, wantPresent := netHTTPTokenCookie(r, sessionCookie)
			if tok != wantTok || ok != wantOK || present != wantPresent {
				t.Fatalf("Cookie %q: scan gives (%x, %v, %v), net/http (%x, %v, %v)", lines, tok, ok, present, wantTok, wantOK, wantPresent)
			}
		}
	})
}

// netHTTPTokenCookie is what scanTokenCookie must agree with, read through
// net/http's cookie parser.
func netHTTPTokenCookie(r *http.Request, name string) (t [tokenBytes]byte, ok, present bool) {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 {
		return t, false, len(cs) > 0
	}
	t, ok = parseToken(cs[0].Value)
	return t, ok, true
}

// FuzzParseForm: a form body gives, or refuses, exactly what a JSON body
// with the same fields would: string fields (booleans for formBooleans),
// no key twice in any letter case, csrf_token and next apart.
func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"", "username=vic&password=x", "csrf_token=T&next=%2Fx", "a=1&A=2", "a=1&a=1", "remember=on",
		"remember=maybe", "x=%ff", "x=%zz", "a;b=c", "k=v&" + strings.Repeat("f=1&", 40), "%E2%84%AAey=1&key=2"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		obj, csrf, next, err := parseForm(body)
		if err != nil {
			if obj != nil || csrf != "" || next != "" {
				t.Fatalf("parseForm(%q) failed (%v) but returned data", body, err)
			}
			if _, ok := errors.AsType[*InputError](err); !ok {
				t.Fatalf("parseForm(%q): %v is not an InputError", body, err)
			}
			return
		}
		if len(obj) > maxJSONFields {
			t.Fatalf("parseForm(%q): %d fields", body, len(obj))
		}
		folded := map[string]bool{}
		for k, raw := range obj {
			if k == "csrf_token" || k == "next" {
				t.Fatalf("parseForm(%q): %s among the fields", body, k)
			}
			fk := strings.ToLower(strings.ToUpper(k))
			if folded[fk] {
				t.Fatalf("parseForm(%q): %q twice", body, k)
			}
			folded[fk] = true
			if formBooleans[k] {
				if _, err := obj.boolean(k); err != nil {
					t.Fatalf("parseForm(%q): %s = %s is not a boolean", body, k, raw)
				}
				continue
			}
			if _, err := obj.str(k, false); err != nil || !json.Valid(raw) {
				t.Fatalf("parseForm(%q): %s = %s is not a JSON string", body, k, raw)
			}
		}
	})
}

// FuzzParseEmailCode: a typed code parses only to six ASCII digits, and
// every six-digit string, with spaces or dashes about, parses to itself.
func FuzzParseEmailCode(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123-456", " 000000 ", "12345", "1234567", "12345a", "١٢٣٤٥٦", "", strings.Repeat(" ", 40) + "123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		code, ok := parseEmailCode(v)
		if !ok {
			return
		}
		if len(code) != emailCodeDigits || strings.Trim(code, "0123456789") != "" {
			t.Fatalf("parseEmailCode(%q) = %q", v, code)
		}
		if strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' {
				return -1
			}
			return r
		}, v) != code {
			t.Fatalf("parseEmailCode(%q) = %q: more than spaces and dashes dropped", v, code)
		}
	})
}
