// Package e2e holds latchkey's real-browser tests: the demo SPA driven in a
// headless Chromium (Debian's /usr/bin/chromium, through chromedp) in each
// deployment mode, against the real latchkey binary and, for the same-origin
// deployment, a real nginx running deploy/nginx/same-origin.conf; and the
// hosted pages with JavaScript off, in front of a server-rendered app.
//
// The tests are in the external test package e2e_test; this file only
// documents them. They run under go test ./...: without chromium or nginx
// they skip with an install hint, and fail instead under
// LATCHKEY_TEST_REQUIRE_ALL=1, as in CI (.ci/run).
//
//	LATCHKEY_TEST_REQUIRE_ALL=1 go test -race ./e2e/...
//
// TestWithoutJavaScript (nojs_test.go) runs the hosted pages and the
// example server-rendered app (deploy/example-app) in a Chromium whose
// pages run no script, behind latchkey --require-login and behind nginx's
// auth-request.conf.
//
// Every deployment runs the same scenario table (browser_test.go). Each
// scenario gets a fresh browser context (its own cookies and storage) in the
// deployment's browser; at most two browsers run at once. A failing scenario
// logs what each of its tabs shows, their consoles and the servers' logs,
// and saves a screenshot of each tab in $LATCHKEY_E2E_ARTIFACTS, or else in
// a new directory under the system's temporary directory that outlives the
// run; the log says where. LATCHKEY_UPDATE_SCREENSHOTS=1 rewrites
// docs/login.png and docs/profile.png from the embedded deployment.
package e2e
