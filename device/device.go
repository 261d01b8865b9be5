// Package device names the browser and system behind a User-Agent header
// for people ("Firefox on Linux"), as session listings and security
// events show them. The parsing is github.com/medama-io/go-useragent's;
// this package only words the result, and never fails.
package device

import (
	"strings"
	"sync"

	useragent "github.com/medama-io/go-useragent"
)

// parser is built on first use: a read-only trie of some megabytes that
// no process needs twice, and many never.
var parser = sync.OnceValue(useragent.NewParser)

// maxToken bounds the product name taken from an unrecognised agent.
const maxToken = 32

// osNames corrects the library's spelling where it differs from the
// vendor's.
var osNames = map[string]string{"MacOS": "macOS", "ChromeOS": "ChromeOS"}

// Name returns a short readable name for the agent: "Firefox on Linux",
// "Safari on iOS", "curl" for a tool, or "Unknown device".
func Name(userAgent string) string {
	a := parser().Parse(userAgent)
	browser, system := a.GetBrowser(), a.GetOS()
	if n, ok := osNames[system]; ok {
		system = n
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "Browser on " + system
	}
	if p := product(userAgent); p != "" {
		return p
	}
	return "Unknown device"
}

// product returns the first product token of a User-Agent ("curl" of
// "curl/8.5.0"), if it is plain printable ASCII of sensible length, so
// that nothing a client sends can put markup or control characters in a
// listing.
func product(ua string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(ua), "/")
	name, _, _ = strings.Cut(name, " ")
	if name == "" || len(name) > maxToken {
		return ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ""
		}
	}
	return name
}
