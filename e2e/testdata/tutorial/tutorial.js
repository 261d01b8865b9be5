// A frontend that handles its CSRF token as the Svelte apps of the classic
// Flask-Login + Flask-WTF SPA tutorial do: read once per page load (the
// csrf-token meta tag if filled, else GET /api/getcsrf's X-CSRFToken
// header) and never again, not even from the login's response; logout is
// a GET. e2e/tutorial_test.go drives it in a real browser.
"use strict";

const api = document.querySelector('meta[name="latchkey-api"]').content;
const $ = (id) => document.getElementById(id);

let csrfToken = null; // the one token of this page load
let loginToken = null; // the login response's X-CSRFToken: kept for the test, never sent

function show(loggedIn) {
  document.body.dataset.state = loggedIn ? "in" : "out";
  $("status").textContent = loggedIn ? "You are authenticated!" : "Log in";
}

function fail(what, res, body) {
  const code = body && body.error && body.error.code;
  $("error").textContent = what + ": " + res.status + " " + (code || "");
}

async function readJSON(res) {
  try {
    return await res.json();
  } catch {
    return null;
  }
}

async function load() {
  const res = await fetch(api + "/getsession", { credentials: "include" });
  const session = await readJSON(res);
  show(!!session && session.login === true);
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) {
    csrfToken = meta.content;
    document.body.dataset.tokenFrom = "meta";
  } else {
    const res = await fetch(api + "/getcsrf", { credentials: "include" });
    csrfToken = res.headers.get("X-CSRFToken");
    document.body.dataset.tokenFrom = "getcsrf";
  }
  document.body.dataset.ready = "true";
}

async function login() {
  $("error").textContent = "";
  const res = await fetch(api + "/login", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
    credentials: "include",
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  const body = await readJSON(res);
  if (body && body.login === true) {
    loginToken = res.headers.get("X-CSRFToken");
    show(true);
  } else {
    fail("login", res, body);
  }
}

async function data() {
  $("result").textContent = "";
  const res = await fetch(api + "/data", { credentials: "include" });
  const body = await readJSON(res);
  $("result").textContent = res.ok ? "Welcome, " + body.username + "!" : "data: " + res.status;
}

async function logout() {
  $("error").textContent = "";
  const res = await fetch(api + "/logout", { credentials: "include" });
  if (res.ok) {
    show(false);
  } else {
    fail("logout", res, await readJSON(res));
  }
}

// For the test: what the page holds.
window.tutorial = { token: () => csrfToken, loginToken: () => loginToken };

$("login").addEventListener("click", login);
$("data").addEventListener("click", data);
$("logout").addEventListener("click", logout);
load().catch((err) => {
  $("error").textContent = "load: " + err;
});
