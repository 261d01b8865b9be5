#!/usr/bin/env python3
"""A server-rendered app behind latchkey: Python's standard library only.

latchkey (serve --require-login) or nginx (auth-request.conf) checks the
session before a request gets here and tells this app who is calling in
X-Latchkey-User-Id, X-Latchkey-Username (percent-encoded outside printable
ASCII) and X-Latchkey-Roles (comma-separated, absent for none). The proxy
removes the client's own copies of those headers, so the app trusts them,
as long as nothing but the proxy can reach it: it listens on loopback.

    python3 app.py [PORT]      # default 9000; 0 picks a free port

/ and /notes need a login; /about is public (--public-paths /about). The
pages use latchkey's stylesheet at /auth/style.css, so no inline style
breaks the Content-Security-Policy, and log out through /auth/logout.
"""
import html
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Notes</title>
<link rel="stylesheet" href="/auth/style.css"></head>
<body><header class="site-header"><a class="brand" href="/">Notes</a>
<nav class="site-nav">{nav}</nav></header>
<main class="page"><div class="card"><h1>{title}</h1>{body}</div></main></body></html>
"""


class App(BaseHTTPRequestHandler):
    server_version = "example-app"

    def user(self):
        """The caller as latchkey vouches for them, or None."""
        uid, name = self.headers.get("X-Latchkey-User-Id"), self.headers.get("X-Latchkey-Username")
        if not uid or name is None:
            return None
        roles = [r for r in self.headers.get("X-Latchkey-Roles", "").split(",") if r]
        return {"id": uid, "name": unquote(name), "roles": roles}

    def page(self, status, title, body, user):
        nav = '<a id="logout" href="/auth/logout">Log out</a>' if user else '<a id="login" href="/auth/login?next=/notes">Log in</a>'
        out = PAGE.format(title=html.escape(title), nav=nav, body=body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    def do_GET(self):
        path, user = urlsplit(self.path).path, self.user()
        if path == "/about":
            who = "You are logged in." if user else "You are not logged in."
            return self.page(200, "About", f'<p class="lead">A few lines of Python behind latchkey.</p><p id="about-who">{who}</p>', user)
        if path not in ("/", "/notes"):
            return self.page(404, "Not found", "<p>No such page.</p>", user)
        if user is None:  # only if something other than latchkey reached us
            return self.page(401, "Not logged in", '<p>Log in first.</p>', None)
        roles = ", ".join(user["roles"]) or "none"
        body = (f'<p class="lead">Hello, <strong id="who">{html.escape(user["name"])}</strong>.</p>'
                f'<p>User id <span id="user-id">{html.escape(user["id"])}</span>; roles: <span id="roles">{html.escape(roles)}</span>.</p>')
        self.page(200, "Your notes", body, user)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):  # one line per request on stderr, no headers
        sys.stderr.write("example-app: %s %s\n" % (self.command, self.path.split("?")[0]))


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    srv = ThreadingHTTPServer(("127.0.0.1", port), App)
    print("example-app listening on http://127.0.0.1:%d" % srv.server_address[1], flush=True)
    srv.serve_forever()
