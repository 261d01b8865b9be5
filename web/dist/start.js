// A minimal client of the latchkey API; the demo SPA replaces it.
"use strict";
const $ = (id) => document.getElementById(id);
// latchkey fills in this tag on every load of index.html (spa.Handler), so
// no extra request is needed; responses replace the token as it changes.
let csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

async function api(path, opts = {}) {
  const res = await fetch("/api" + path, { credentials: "same-origin", ...opts });
  const tok = res.headers.get("X-CSRFToken");
  if (tok) csrf = tok;
  return { status: res.status, body: await res.json() };
}

async function refresh() {
  const { body } = await api("/getsession");
  const loggedIn = body.login === true;
  $("status").textContent = loggedIn ? "Logged in as " + body.user.username + "." : "Not logged in.";
  $("login").hidden = loggedIn;
  $("logout").hidden = !loggedIn;
  if (!loggedIn && !csrf) await api("/getcsrf");
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const { body } = await api("/login", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
    body: JSON.stringify({ username: f.get("username"), password: f.get("password"), remember: f.get("remember") === "on" }),
  });
  if (!body.login) $("status").textContent = body.error ? body.error.message : "Login failed.";
  else await refresh();
});

$("logout").addEventListener("click", async () => {
  await api("/logout", { method: "POST", headers: { "X-CSRFToken": csrf } });
  await refresh();
});

refresh().catch(() => { $("status").textContent = "The server cannot be reached."; });
