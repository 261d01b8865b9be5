// The SPA's client-side routes and their paths. No router library:
// App.svelte drives the History API directly.

/** Route names, also written to document.body.dataset.route. */
export type Route =
  | 'login'
  | 'login-mfa'
  | 'login-email-start'
  | 'login-email'
  | 'register'
  | 'user'
  | 'account'
  | 'admin'
  | 'forgot-password'
  | 'reset-password'
  | 'verify-email'
  | 'confirm-email';

const paths: Record<Route, string> = {
  login: '/',
  // The second login step, after a right password of a user with a second factor.
  'login-mfa': '/login/mfa',
  // Ask for a sign-in link and code by email, then type the code.
  'login-email-start': '/login/email/start',
  register: '/register',
  user: '/user',
  account: '/account',
  admin: '/admin',
  'forgot-password': '/forgot-password',
  // The pages mailed links open (latchkey's mail/link.go builds them).
  'reset-password': '/reset-password',
  'verify-email': '/verify-email',
  'confirm-email': '/confirm-email',
  'login-email': '/login/email',
};

/**
 * Who may see a route: "guest" pages only the logged out (the logged in go
 * to /user), "private" ones only the logged in (the others go to the login
 * page), "open" ones anybody: a mailed link may be opened in a browser
 * logged in or not.
 */
export type Access = 'guest' | 'private' | 'open';

const access: Record<Route, Access> = {
  login: 'guest',
  'login-mfa': 'guest',
  'login-email-start': 'guest',
  register: 'guest',
  'forgot-password': 'guest',
  user: 'private',
  account: 'private',
  // For everyone logged in: the API decides who is an admin, and the page
  // says so to the others.
  admin: 'private',
  'reset-password': 'open',
  'verify-email': 'open',
  'confirm-email': 'open',
  // Open like the other link pages, so the token is taken out of the
  // address bar whoever opens it; signing in replaces any session.
  'login-email': 'open',
};

/** pathOf returns the URL path of route. */
export function pathOf(route: Route): string {
  return paths[route];
}

/** accessOf says who may see route. */
export function accessOf(route: Route): Access {
  return access[route];
}

/** routeOf returns the route at a URL path, or null for an unknown path. */
export function routeOf(pathname: string): Route | null {
  const p = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  for (const [route, path] of Object.entries(paths) as [Route, string][]) {
    if (p === path) return route;
  }
  if (p === '/login' || p === '/index.html') return 'login';
  return null;
}

/**
 * takeToken splits a URL's query string into the token of a mailed link
 * ("" if none) and the query string without it ("" or "?…"), which is what
 * the address bar keeps: the token must not linger in the history nor
 * leave as a Referer.
 */
export function takeToken(search: string): { token: string; rest: string } {
  const q = new URLSearchParams(search);
  const token = q.get('token') ?? '';
  q.delete('token');
  const rest = q.toString();
  return { token, rest: rest ? `?${rest}` : '' };
}
