package latchkey

import (
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/latchkey/latchkey/internal/forward"
)

// scriptRequest reports whether r comes from a script or an API client,
// which wants a status code and JSON, rather than from a browser tab
// loading a page, which is better sent to another page: it asks to switch
// protocols (a WebSocket), Fetch Metadata says it is a fetch or
// XMLHttpRequest (Sec-Fetch-Mode other than navigate or nested-navigate),
// or Accept prefers application/json to text/html. A
// request that says neither, such as curl's "Accept: */*", counts as a
// page load, as oauth2-proxy counts it. Form posts (see form) and
// RequireLogin decide with it; so does verify, for nginx.
func scriptRequest(r *http.Request) bool {
	if forward.IsUpgrade(r) {
		return true // a WebSocket handshake: no tab shows its answer
	}
	switch r.Header.Get("Sec-Fetch-Mode") {
	case "":
	case "navigate", "nested-navigate":
		return false
	default: // cors, no-cors, same-origin, websocket
		return true
	}
	qJSON, qHTML := acceptQuality(r.Header.Values("Accept"))
	return qJSON > 0 && qJSON > qHTML
}

// acceptQuality returns the quality that Accept headers give
// application/json and text/html by name (not through wildcards): 0 when
// they are not named.
func acceptQuality(accept []string) (qJSON, qHTML float64) {
	for _, line := range accept {
		for r := range strings.SplitSeq(line, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(r))
			if err != nil {
				continue
			}
			q := 1.0
			if v, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(v, 64); err != nil || q < 0 || q > 1 {
					continue
				}
			}
			switch mt {
			case "application/json":
				qJSON = max(qJSON, q)
			case "text/html":
				qHTML = max(qHTML, q)
			}
		}
	}
	return qJSON, qHTML
}
