// Package latchkey is session-cookie authentication for single-page apps:
// a JSON auth API (register, login, logout, session check, CSRF token) backed
// by server-side sessions, argon2id passwords and CSRF tokens bound to the
// browser, as an http.Handler to embed in any Go server.
//
// New builds an Auth from a Config and two stores; Auth.Handler serves the
// API, Auth.Require protects the application's own routes, and
// UserFromContext tells a protected handler who is calling.
package latchkey
