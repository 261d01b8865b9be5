// The SPA's three client-side routes and their paths. No router library:
// App.svelte drives the History API directly.

/** Route names, also written to document.body.dataset.route. */
export type Route = 'login' | 'register' | 'user';

const paths: Record<Route, string> = { login: '/', register: '/register', user: '/user' };

/** pathOf returns the URL path of route. */
export function pathOf(route: Route): string {
  return paths[route];
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
