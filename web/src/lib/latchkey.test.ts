// Unit tests of the latchkey client against a fake fetch: no server, no DOM
// (a tiny stand-in provides the meta tags and location where a case needs them).
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  createClient,
  hasRole,
  defaultCredentials,
  LatchkeyError,
  MFARequiredError,
  NETWORK_ERROR_MESSAGE,
  parseRetryAfter,
  type Client,
  type ClientOptions,
} from './latchkey';

interface Call {
  url: string;
  method: string;
  headers: Headers;
  body: string | undefined;
  credentials: RequestCredentials | undefined;
}

type Reply = Response | Error | ((call: Call) => Response | Error | Promise<Response | Error>);

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

function apiError(status: number, code: string, message: string, extra: Record<string, string> = {}, headers = {}) {
  return json(status, { error: { code, message, ...extra } }, headers);
}

/**
 * fakeFetch answers each "METHOD /path" from a queue of replies (the last
 * one repeats) and records every call.
 */
function fakeFetch(routes: Record<string, Reply | Reply[]>) {
  const calls: Call[] = [];
  const queues = new Map(Object.entries(routes).map(([k, v]) => [k, Array.isArray(v) ? [...v] : [v]]));
  const fn = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = (init.method ?? 'GET').toUpperCase();
    const call: Call = {
      url,
      method,
      headers: new Headers(init.headers),
      body: typeof init.body === 'string' ? init.body : undefined,
      credentials: init.credentials,
    };
    calls.push(call);
    const path = new URL(url, 'http://app.test').pathname.replace(/^.*\/api/, '');
    const q = queues.get(`${method} ${path}`);
    if (!q || q.length === 0) throw new Error(`fake fetch: unexpected ${method} ${url}`);
    let reply = q.length > 1 ? q.shift()! : q[0];
    if (typeof reply === 'function') reply = await reply(call);
    if (reply instanceof Error) throw reply;
    return reply.clone();
  });
  return { fetch: fn as unknown as typeof fetch, calls };
}

/**
 * withPage installs a stand-in document (meta tags, and document.cookie
 * when cookies is given) and location for one test.
 */
function withPage(meta: Record<string, string>, origin = 'http://app.test', cookies?: () => string) {
  const doc = {
    querySelector: (sel: string) => {
      const m = /^meta\[name="([^"]+)"\]$/.exec(sel);
      return m && m[1] in meta ? { content: meta[m[1]] } : null;
    },
  };
  if (cookies) Object.defineProperty(doc, 'cookie', { get: cookies });
  vi.stubGlobal('document', doc);
  vi.stubGlobal('location', { origin, href: origin + '/' });
}

const clients: Client[] = [];
function client(opts: ClientOptions): Client {
  const c = createClient({ channelName: '', ...opts });
  clients.push(c);
  return c;
}

beforeEach(() => {
  vi.unstubAllGlobals();
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  vi.unstubAllGlobals();
});

const alice = { id: 1, username: 'alice', emailVerified: false, createdAt: '2026-01-01T00:00:00Z' };

describe('CSRF token', () => {
  it('comes from the csrf-token meta tag without a request', async () => {
    withPage({ 'csrf-token': 'META', 'latchkey-api': '/api' });
    const f = fakeFetch({ 'POST /logout': json(200, { logout: true }) });
    await client({ fetch: f.fetch }).logout();
    expect(f.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/logout']);
    expect(f.calls[0].headers.get('X-CSRFToken')).toBe('META');
  });

  it('comes from GET /getcsrf when the meta tag is empty, once for concurrent callers', async () => {
    withPage({ 'csrf-token': '', 'latchkey-api': '/api' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f = fakeFetch({
      'GET /getcsrf': async () => {
        await gate;
        return json(200, { detail: 'CSRF cookie set', csrfToken: 'FETCHED' }, { 'X-CSRFToken': 'FETCHED' });
      },
      'POST /things': json(200, { ok: true }),
    });
    const c = client({ fetch: f.fetch });
    const writes = [1, 2, 3].map((n) => c.request('/things', { method: 'POST', json: { n } }));
    release();
    await Promise.all(writes);
    expect(f.calls.filter((x) => x.url.endsWith('/getcsrf'))).toHaveLength(1);
    const posts = f.calls.filter((x) => x.method === 'POST');
    expect(posts).toHaveLength(3);
    for (const p of posts) expect(p.headers.get('X-CSRFToken')).toBe('FETCHED');
    expect(posts.map((p) => p.headers.get('Content-Type'))).toEqual(Array(3).fill('application/json'));
  });

  it('falls back to the csrfToken field of the getcsrf body', async () => {
    const f = fakeFetch({ 'GET /getcsrf': json(200, { csrfToken: 'BODY' }) });
    expect(await client({ fetch: f.fetch }).csrfToken()).toBe('BODY');
  });

  it('is not sent on GET', async () => {
    withPage({ 'csrf-token': 'META' });
    const f = fakeFetch({ 'GET /data': json(200, alice) });
    await client({ fetch: f.fetch }).data();
    expect(f.calls[0].headers.has('X-CSRFToken')).toBe(false);
  });

  it('is sent on PUT, PATCH and DELETE', async () => {
    withPage({ 'csrf-token': 'META' });
    const f = fakeFetch({ 'PUT /x': json(200, {}), 'PATCH /x': json(200, {}), 'DELETE /x': json(200, {}) });
    const c = client({ fetch: f.fetch });
    for (const method of ['PUT', 'PATCH', 'DELETE']) await c.request('/x', { method });
    expect(f.calls.map((x) => x.headers.get('X-CSRFToken'))).toEqual(['META', 'META', 'META']);
  });

  it('is replaced by the rotated X-CSRFToken of login and register responses', async () => {
    withPage({ 'csrf-token': 'T0' });
    const f = fakeFetch({
      'POST /login': json(200, { login: true, user: alice }, { 'X-CSRFToken': 'T1' }),
      'POST /register': json(201, { register: true, user: alice }, { 'X-CSRFToken': 'T2' }),
    });
    const c = client({ fetch: f.fetch });
    expect(await c.login('alice', 'pw', true)).toEqual(alice);
    await c.register('alice', 'pw');
    expect(await c.csrfToken()).toBe('T2');
    expect(f.calls.map((x) => x.headers.get('X-CSRFToken'))).toEqual(['T0', 'T1']);
    expect(JSON.parse(f.calls[0].body!)).toEqual({ username: 'alice', password: 'pw', remember: true });
    expect(JSON.parse(f.calls[1].body!)).toEqual({ username: 'alice', password: 'pw' });
  });

  it('is fetched anew after logout, whose Clear-Site-Data drops the cookies it is bound to', async () => {
    withPage({ 'csrf-token': 'T0' });
    const f = fakeFetch({
      'POST /logout': json(200, { logout: true }, { 'X-CSRFToken': 'DEAD', 'Clear-Site-Data': '"cookies"' }),
      'GET /getcsrf': json(200, { csrfToken: 'NEW' }, { 'X-CSRFToken': 'NEW' }),
      'POST /login': json(200, { login: true, user: alice }, { 'X-CSRFToken': 'T1' }),
    });
    const c = client({ fetch: f.fetch });
    await c.logout();
    await c.login('alice', 'pw');
    expect(f.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'POST /api/logout T0',
      'GET /api/getcsrf null',
      'POST /api/login NEW',
    ]);
  });

  it('is refreshed and the request retried once after 403 csrf_failed', async () => {
    withPage({ 'csrf-token': 'STALE' });
    const f = fakeFetch({
      'POST /logout': [apiError(403, 'csrf_failed', 'The CSRF token is missing or wrong.'), json(200, { logout: true })],
      'GET /getcsrf': json(200, { csrfToken: 'FRESH' }, { 'X-CSRFToken': 'FRESH' }),
    });
    await client({ fetch: f.fetch }).logout();
    expect(f.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'POST /api/logout STALE',
      'GET /api/getcsrf null',
      'POST /api/logout FRESH',
    ]);
  });

  it('is retried only once: a second csrf_failed rejects', async () => {
    withPage({ 'csrf-token': 'STALE' });
    const f = fakeFetch({
      'POST /logout': apiError(403, 'csrf_failed', 'Cross-origin request refused.'),
      'GET /getcsrf': json(200, { csrfToken: 'FRESH' }, { 'X-CSRFToken': 'FRESH' }),
    });
    const err = await client({ fetch: f.fetch }).logout().catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 403, code: 'csrf_failed', message: 'Cross-origin request refused.' });
    expect(f.calls.filter((x) => x.method === 'POST')).toHaveLength(2);
    expect(f.calls.filter((x) => x.url.endsWith('/getcsrf'))).toHaveLength(1);
  });

  it('is not refreshed for a 403 with another code', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /x': apiError(403, 'forbidden', 'No.') });
    await expect(client({ fetch: f.fetch }).request('/x', { method: 'POST' })).rejects.toMatchObject({
      code: 'forbidden',
    });
    expect(f.calls).toHaveLength(1);
  });
});

describe('onUnauthenticated', () => {
  it('runs on a 401 from data', async () => {
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({ 'GET /data': apiError(401, 'unauthorized', 'You are not logged in.') });
    const err = await client({ fetch: f.fetch, onUnauthenticated }).data().catch((e) => e);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('does not run on a wrong password', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'POST /login': json(401, {
        login: false,
        error: { code: 'invalid_credentials', message: 'The username or password is incorrect.' },
      }),
    });
    const err = await client({ fetch: f.fetch, onUnauthenticated }).login('alice', 'wrong').catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: 'invalid_credentials' });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('does not run for getsession saying login:false', async () => {
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({ 'GET /getsession': json(200, { login: false }) });
    expect(await client({ fetch: f.fetch, onUnauthenticated }).getSession()).toEqual({ login: false });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });
});

describe('credentials and base URL', () => {
  it('defaults to /api and same-origin without a meta tag', async () => {
    const f = fakeFetch({ 'GET /getsession': json(200, { login: false }) });
    const c = client({ fetch: f.fetch });
    await c.getSession();
    expect(c.baseURL).toBe('/api');
    expect(f.calls[0]).toMatchObject({ url: '/api/getsession', credentials: 'same-origin' });
  });

  it('takes the base URL from the latchkey-api meta tag; another origin means include', async () => {
    withPage({ 'latchkey-api': 'http://localhost:8080/api/' }, 'http://localhost:5173');
    const f = fakeFetch({ 'GET /getsession': json(200, { login: false }) });
    const c = client({ fetch: f.fetch });
    await c.getSession();
    expect(c.baseURL).toBe('http://localhost:8080/api');
    expect(f.calls[0]).toMatchObject({ url: 'http://localhost:8080/api/getsession', credentials: 'include' });
  });

  it('uses same-origin for an absolute URL on the page origin', () => {
    withPage({}, 'https://app.example.com');
    expect(defaultCredentials('https://app.example.com/api')).toBe('same-origin');
    expect(defaultCredentials('https://api.example.com/api')).toBe('include');
    expect(defaultCredentials('//api.example.com/api')).toBe('include');
    expect(defaultCredentials('/api')).toBe('same-origin');
  });

  it('lets the options win', async () => {
    withPage({ 'latchkey-api': 'http://elsewhere.test/api' });
    const f = fakeFetch({ 'GET /auth/getsession': json(200, { login: false }) });
    const c = client({ fetch: f.fetch, baseURL: '/auth', credentials: 'include' });
    await c.getSession();
    expect(f.calls[0]).toMatchObject({ url: '/auth/getsession', credentials: 'include' });
  });
});

describe('errors', () => {
  it('maps 429 with Retry-After', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /login': apiError(429, 'too_many_attempts', 'Too many failed attempts.', {}, { 'Retry-After': '7' }),
    });
    const err = await client({ fetch: f.fetch }).login('alice', 'x').catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 429, code: 'too_many_attempts', retryAfter: 7 });
  });

  it('maps field errors', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /register': apiError(400, 'weak_password', 'Use at least 8 characters.', { field: 'password' }),
    });
    const err = await client({ fetch: f.fetch }).register('bob', 'short').catch((e) => e);
    expect(err).toMatchObject({ status: 400, code: 'weak_password', field: 'password', message: 'Use at least 8 characters.' });
  });

  it('maps a network failure to status 0 network_error', async () => {
    const f = fakeFetch({ 'GET /getsession': new TypeError('Failed to fetch') });
    const err = await client({ fetch: f.fetch }).getSession().catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 0, code: 'network_error', message: NETWORK_ERROR_MESSAGE });
    expect(err.cause).toBeInstanceOf(TypeError);
  });

  it('maps a response that is not latchkey JSON to http_STATUS', async () => {
    const f = fakeFetch({ 'GET /data': new Response('<h1>Bad Gateway</h1>', { status: 502, statusText: 'Bad Gateway' }) });
    const err = await client({ fetch: f.fetch }).data().catch((e) => e);
    expect(err).toMatchObject({ status: 502, code: 'http_502' });
  });

  it('passes an abort through unchanged', async () => {
    const abort = new DOMException('The operation was aborted.', 'AbortError');
    const f = fakeFetch({ 'GET /data': abort });
    await expect(client({ fetch: f.fetch }).data()).rejects.toBe(abort);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now)).toBe(0);
  });
});

describe('request', () => {
  it('returns the parsed body, or null for an empty one', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'GET /notes': json(200, [{ id: 1 }]), 'DELETE /notes/1': new Response(null, { status: 204 }) });
    const c = client({ fetch: f.fetch });
    expect(await c.request('/notes')).toEqual([{ id: 1 }]);
    expect(await c.request('notes/1', { method: 'DELETE' })).toBeNull();
    expect(f.calls[1].url).toBe('/api/notes/1');
  });

  it('fetch resolves with the failed response instead of rejecting', async () => {
    const f = fakeFetch({ 'GET /data': apiError(401, 'unauthorized', 'You are not logged in.') });
    const res = await client({ fetch: f.fetch }).fetch('/data');
    expect(res.status).toBe(401);
  });
});

describe('tab sync', () => {
  function pair() {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /login': json(200, { login: true, user: alice }, { 'X-CSRFToken': 'T1' }),
      'POST /logout': json(200, { logout: true }, { 'X-CSRFToken': 'T2' }),
      'GET /getcsrf': json(200, { csrfToken: 'NEW' }, { 'X-CSRFToken': 'NEW' }),
    });
    const name = `latchkey-test-${Math.random()}`;
    const a = client({ fetch: f.fetch, channelName: name });
    const b = client({ fetch: f.fetch, channelName: name });
    return { a, b, f };
  }

  it('runs the other tabs onLogout listeners after a logout', async () => {
    const { a, b, f } = pair();
    const onA = vi.fn();
    const seen = new Promise<void>((resolve) => b.onLogout(resolve));
    a.onLogout(onA);
    await a.logout();
    await seen;
    expect(onA).not.toHaveBeenCalled(); // the tab that logged out knows already
    // b's token died with the session: its next write fetches a new one.
    await b.logout();
    expect(f.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'POST /api/logout T',
      'GET /api/getcsrf null',
      'POST /api/logout NEW',
    ]);
  });

  it('runs the other tabs onLogin listeners with the user', async () => {
    const { a, b } = pair();
    const seen = new Promise((resolve) => b.onLogin(resolve));
    await a.login('alice', 'pw');
    expect(await seen).toEqual(alice);
  });

  it('posts {type:"logout"} on the channel', async () => {
    withPage({ 'csrf-token': 'T' });
    const name = `latchkey-raw-${Math.random()}`;
    const listener = new BroadcastChannel(name);
    const got = new Promise((resolve) => (listener.onmessage = (ev) => resolve(ev.data)));
    const f = fakeFetch({ 'POST /logout': json(200, { logout: true }) });
    await client({ fetch: f.fetch, channelName: name }).logout();
    expect(await got).toEqual({ type: 'logout' });
    listener.close();
  });

  it('stops listening after close or unsubscribe', async () => {
    const { a, b } = pair();
    const cb = vi.fn();
    const off = b.onLogout(cb);
    off();
    await a.logout();
    await new Promise((r) => setTimeout(r, 20));
    expect(cb).not.toHaveBeenCalled();
  });
});

/**
 * tokenServer is a fake latchkey in token mode (--token-mode jwt), shared
 * by the "tabs" of a test as a browser shares its cookies between them:
 * one access/refresh pair with its CSRF token (C1, then C2 after a refresh,
 * and so on), whose access token has expired until the first refresh.
 * While hold is set, a refresh waits for it before answering. refresh
 * replaces the refresh endpoint's answers (the real one: refreshOK), and
 * routes any others.
 */
function tokenServer(opts: { refresh?: Reply | Reply[]; routes?: Record<string, Reply | Reply[]> } = {}) {
  const s = { pair: 1, csrf: 'C1', expired: true, hold: null as Promise<void> | null };
  const refreshOK = async (call: Call) => {
    if (s.hold) await s.hold;
    if (call.headers.get('X-CSRFToken') !== s.csrf) return apiError(403, 'csrf_failed', 'The CSRF token is missing or wrong.');
    s.pair++;
    s.csrf = `C${s.pair}`;
    s.expired = false;
    return json(200, { refresh: true, user: alice }, { 'X-CSRFToken': s.csrf });
  };
  // guard answers as latchkey's middleware does: token_expired first, then CSRF.
  const guard = (ok: () => Response) => (call: Call) => {
    if (s.expired) return apiError(401, 'token_expired', 'The access token has expired.');
    if (call.method !== 'GET' && call.headers.get('X-CSRFToken') !== s.csrf) {
      return apiError(403, 'csrf_failed', 'The CSRF token is missing or wrong.');
    }
    return ok();
  };
  const session = {
    login: true,
    user: alice,
    expiresAt: '2026-02-01T00:00:00Z',
    idleExpiresAt: '2026-01-15T00:00:00Z',
    fresh: true,
    remember: false,
  };
  const f = fakeFetch({
    'GET /data': guard(() => json(200, alice)),
    'GET /getsession': guard(() => json(200, session)),
    'POST /things': guard(() => json(200, { ok: true })),
    'GET /getcsrf': () => json(200, { csrfToken: s.csrf }, { 'X-CSRFToken': s.csrf }),
    'POST /auth/refresh': opts.refresh ?? refreshOK,
    'POST /login': () => {
      s.pair++;
      s.csrf = `C${s.pair}`;
      return json(200, { login: true, user: alice }, { 'X-CSRFToken': s.csrf });
    },
    ...opts.routes,
  });
  /** count returns how many requests "METHOD /path" (under /api) the server got. */
  const count = (route: string) => f.calls.filter((c) => `${c.method} ${c.url.replace(/^\/api/, '')}` === route).length;
  return { state: s, session, refreshOK, count, ...f };
}

/** csrfHeaders lists the CSRF headers latchkey reads, as sent on call: exactly one is allowed. */
function csrfHeaders(call: Call): string[] {
  return ['X-CSRFToken', 'X-CSRF-Token', 'X-XSRF-TOKEN']
    .filter((h) => call.headers.has(h))
    .map((h) => `${h}: ${call.headers.get(h)}`);
}

/**
 * fakeLocks is the Web Locks API of one origin: exclusive locks granted in
 * the order asked, ifAvailable included. A holder that releases hands the
 * lock to the next waiter only once beforeHandoff (if given) resolves.
 * waits counts the requests that had to wait.
 */
function fakeLocks(beforeHandoff?: () => Promise<void>) {
  const held = new Set<string>();
  const waiting = new Map<string, (() => void)[]>();
  const stats = { waits: 0 };
  async function request(name: string, a: unknown, b?: unknown): Promise<unknown> {
    const [options, cb] = (typeof a === 'function' ? [{}, a] : [a, b]) as [
      { ifAvailable?: boolean },
      (lock: { name: string; mode: string } | null) => unknown,
    ];
    if (held.has(name)) {
      if (options.ifAvailable) return cb(null);
      stats.waits++;
      await new Promise<void>((grant) => {
        const q = waiting.get(name) ?? [];
        q.push(grant);
        waiting.set(name, q);
      });
    } else {
      held.add(name);
    }
    try {
      return await cb({ name, mode: 'exclusive' });
    } finally {
      const next = waiting.get(name)?.shift();
      if (!next) held.delete(name);
      else if (beforeHandoff) void beforeHandoff().then(next);
      else next();
    }
  }
  return { locks: { request } as unknown as LockManager, stats };
}

describe('token mode', () => {
  it('renews once for concurrent token_expired requests and retries each once with the new token', async () => {
    withPage({ 'csrf-token': 'C1' });
    const srv = tokenServer();
    let release!: () => void;
    srv.state.hold = new Promise<void>((r) => (release = r));
    const onUnauthenticated = vi.fn();
    const c = client({ fetch: srv.fetch, onUnauthenticated });
    const writes = [1, 2, 3].map((n) => c.request('/things', { method: 'POST', json: { n } }));
    const reads = [c.data(), c.getSession()];
    // Every first attempt is answered token_expired while the refresh waits.
    await vi.waitFor(() => expect(srv.count('POST /auth/refresh')).toBe(1));
    await new Promise((r) => setTimeout(r, 20));
    release();
    expect(await Promise.all(writes)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await Promise.all(reads)).toEqual([alice, srv.session]);

    expect(srv.count('POST /auth/refresh')).toBe(1);
    const refresh = srv.calls.find((x) => x.url === '/api/auth/refresh')!;
    expect(csrfHeaders(refresh)).toEqual(['X-CSRFToken: C1']);
    expect(refresh.credentials).toBe('same-origin');
    const posts = srv.calls.filter((x) => x.url === '/api/things');
    expect(posts.map((p) => csrfHeaders(p))).toEqual([
      ...Array(3).fill(['X-CSRFToken: C1']),
      ...Array(3).fill(['X-CSRFToken: C2']),
    ]);
    expect(posts.slice(3).map((p) => JSON.parse(p.body!).n).sort()).toEqual([1, 2, 3]);
    expect(srv.count('GET /data')).toBe(2);
    expect(srv.count('GET /getsession')).toBe(2);
    expect(srv.count('GET /getcsrf')).toBe(0);
    expect(await c.csrfToken()).toBe('C2');
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('takes the new token from the csrf_access_token cookie when the refresh answer has none', async () => {
    let jar = 'other=1; csrf_access_token=C1';
    withPage({ 'csrf-token': 'C1' }, 'http://app.test', () => jar);
    const srv = tokenServer({
      refresh: async (call) => {
        const res = await srv.refreshOK(call);
        jar = `csrf_access_token=${srv.state.csrf}; other=1`;
        return new Response(await res.text(), { status: res.status }); // no X-CSRFToken
      },
    });
    await client({ fetch: srv.fetch }).request('/things', { method: 'POST' });
    expect(srv.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'POST /api/things C1',
      'POST /api/auth/refresh C1',
      'POST /api/things C2',
    ]);
  });

  it('logs out when the refresh is refused as token_reused: no retry, and no refresh until the next login', async () => {
    withPage({ 'csrf-token': 'C1' });
    const srv = tokenServer({ refresh: apiError(401, 'token_reused', 'This login has ended. Log in again.') });
    const onUnauthenticated = vi.fn();
    const name = `latchkey-test-${Math.random()}`;
    const c = client({ fetch: srv.fetch, onUnauthenticated, channelName: name });
    const other = client({ fetch: srv.fetch, channelName: name });
    const otherLoggedOut = new Promise<void>((resolve) => other.onLogout(resolve));

    const err = await c.data().catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 401 });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    expect(srv.calls.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /api/data', 'POST /api/auth/refresh']);
    await otherLoggedOut; // the other tab follows

    // The login is gone: later requests do not try to refresh it, and
    // getSession answers the question it asks without onUnauthenticated.
    await expect(c.data()).rejects.toMatchObject({ status: 401 });
    expect(await c.getSession()).toEqual({ login: false });
    expect(await other.getSession()).toEqual({ login: false });
    expect(srv.count('POST /auth/refresh')).toBe(1);
    expect(onUnauthenticated).toHaveBeenCalledTimes(2);

    // After a new login an expired access token is refreshed again.
    await c.login('alice', 'pw');
    await expect(c.data()).rejects.toMatchObject({ status: 401 });
    expect(srv.count('POST /auth/refresh')).toBe(2);
  });

  it('logs out when the retry after a refresh still gets 401, without a second refresh', async () => {
    withPage({ 'csrf-token': 'C1' });
    const srv = tokenServer({ routes: { 'GET /data': apiError(401, 'token_expired', 'The access token has expired.') } });
    const onUnauthenticated = vi.fn();
    const c = client({ fetch: srv.fetch, onUnauthenticated });
    await expect(c.data()).rejects.toMatchObject({ status: 401, code: 'token_expired' });
    expect(srv.calls.map((x) => `${x.method} ${x.url}`)).toEqual([
      'GET /api/data',
      'POST /api/auth/refresh',
      'GET /api/data',
    ]);
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
    // Nor does the next request refresh again.
    await expect(c.data()).rejects.toMatchObject({ status: 401 });
    expect(srv.count('POST /auth/refresh')).toBe(1);
    expect(srv.count('GET /data')).toBe(3);
  });

  const refreshFailures: [string, Reply, object][] = [
    ['503 busy', apiError(503, 'busy', 'The server is busy.', {}, { 'Retry-After': '2' }), { status: 503, code: 'busy', retryAfter: 2 }],
    ['429', apiError(429, 'too_many_attempts', 'Slow down.', {}, { 'Retry-After': '5' }), { status: 429, code: 'too_many_attempts' }],
    ['a network failure', new TypeError('Failed to fetch'), { status: 0, code: 'network_error' }],
  ];
  for (const [name, reply, want] of refreshFailures) {
    it(`surfaces ${name} on refresh as the request's error and stays logged in`, async () => {
      withPage({ 'csrf-token': 'C1' });
      const srv = tokenServer({ refresh: [reply, (call) => srv.refreshOK(call)] });
      const onUnauthenticated = vi.fn();
      const name = `latchkey-test-${Math.random()}`;
      const c = client({ fetch: srv.fetch, onUnauthenticated, channelName: name });
      const other = client({ fetch: srv.fetch, channelName: name });
      const onLogout = vi.fn();
      other.onLogout(onLogout);

      const err = await c.data().catch((e) => e);
      expect(err).toBeInstanceOf(LatchkeyError);
      expect(err).toMatchObject(want);
      expect(srv.calls.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /api/data', 'POST /api/auth/refresh']);
      // Still logged in: the next call refreshes and gets through.
      expect(await c.data()).toEqual(alice);
      expect(srv.count('POST /auth/refresh')).toBe(2);
      await new Promise((r) => setTimeout(r, 20));
      expect(onUnauthenticated).not.toHaveBeenCalled();
      expect(onLogout).not.toHaveBeenCalled();
    });
  }

  it('fetches a new token and refreshes once more when the refresh is refused as csrf_failed', async () => {
    withPage({ 'csrf-token': 'STALE' });
    const srv = tokenServer();
    expect(await client({ fetch: srv.fetch }).data()).toEqual(alice);
    expect(srv.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'GET /api/data null',
      'POST /api/auth/refresh STALE',
      'GET /api/getcsrf null',
      'POST /api/auth/refresh C1',
      'GET /api/data null',
    ]);
  });

  it('never refreshes for a 401 other than token_expired (session mode)', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'GET /data': apiError(401, 'unauthorized', 'You are not logged in.'),
      'POST /things': apiError(401, 'unauthorized', 'You are not logged in.'),
    });
    const c = client({ fetch: f.fetch, onUnauthenticated });
    await expect(c.data()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(c.request('/things', { method: 'POST' })).rejects.toMatchObject({ status: 401 });
    expect(f.calls.map((x) => `${x.method} ${x.url}`)).toEqual(['GET /api/data', 'POST /api/things']);
    expect(onUnauthenticated).toHaveBeenCalledTimes(2);
  });

  it('refresh() renews on demand, one request for concurrent callers', async () => {
    withPage({ 'csrf-token': 'C1' });
    const srv = tokenServer();
    const c = client({ fetch: srv.fetch });
    await Promise.all([c.refresh(), c.refresh()]);
    expect(srv.count('POST /auth/refresh')).toBe(1);
    expect(await c.csrfToken()).toBe('C2');
    expect(await c.data()).toEqual(alice);
  });

  it('refresh() rejects with the 401 and runs onUnauthenticated when the login is gone', async () => {
    withPage({ 'csrf-token': 'C1' });
    const srv = tokenServer({ refresh: apiError(401, 'unauthorized', 'You are not logged in.') });
    const onUnauthenticated = vi.fn();
    await expect(client({ fetch: srv.fetch, onUnauthenticated }).refresh()).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });
});

describe('token mode across tabs', () => {
  /**
   * twoTabs opens two clients of one origin (one browser's cookies, one
   * Web Locks manager), on a shared channel unless channel is false, both
   * of whose first requests meet an expired access token while tab a's
   * refresh is held (and then answered 503 if firstRefresh says so). It
   * returns once b waits for the lock a holds.
   */
  async function twoTabs(opts: { channel: boolean; beforeHandoff?: () => Promise<void>; name?: string; firstRefresh?: 503 }) {
    withPage({ 'csrf-token': 'C1' });
    const { locks, stats } = fakeLocks(opts.beforeHandoff);
    vi.stubGlobal('navigator', { locks });
    let release!: () => void;
    const hold = new Promise<void>((r) => (release = r));
    const busy = async () => {
      await hold;
      return apiError(503, 'busy', 'The server is busy.');
    };
    const srv: ReturnType<typeof tokenServer> = tokenServer(
      opts.firstRefresh ? { refresh: [busy, (call) => srv.refreshOK(call)] } : {},
    );
    srv.state.hold = hold;
    const channelName = opts.channel ? (opts.name ?? `latchkey-test-${Math.random()}`) : '';
    const a = client({ fetch: srv.fetch, channelName });
    const b = client({ fetch: srv.fetch, channelName });
    const fromA = a.request('/things', { method: 'POST', json: { tab: 'a' } });
    await vi.waitFor(() => expect(srv.count('POST /auth/refresh')).toBe(1));
    const fromB = b.request('/things', { method: 'POST', json: { tab: 'b' } });
    await vi.waitFor(() => expect(stats.waits).toBe(1));
    return { srv, stats, release, fromA, fromB };
  }

  it('a tab that waited for the lock takes the token another tab announced instead of refreshing', async () => {
    const name = `latchkey-test-${Math.random()}`;
    // Hand the lock over only once the announcement is out, as the
    // browser usually does.
    const listener = new BroadcastChannel(name);
    const announced = new Promise<unknown>((resolve) => (listener.onmessage = (ev) => resolve(ev.data)));
    const { srv, release, fromA, fromB } = await twoTabs({
      channel: true,
      name,
      beforeHandoff: () => announced.then(() => new Promise((r) => setTimeout(r, 10))),
    });
    release();
    expect(await Promise.all([fromA, fromB])).toEqual([{ ok: true }, { ok: true }]);
    expect(await announced).toEqual({ type: 'refresh', csrfToken: 'C2' });
    listener.close();
    expect(srv.count('POST /auth/refresh')).toBe(1);
    expect(srv.count('GET /getcsrf')).toBe(0);
    expect(srv.calls.filter((x) => x.url === '/api/things').map((x) => `${JSON.parse(x.body!).tab} ${x.headers.get('X-CSRFToken')}`))
      .toEqual(['a C1', 'b C1', 'a C2', 'b C2']);
  });

  it('a tab that waited for the lock and heard nothing checks the token before refreshing', async () => {
    const { srv, release, fromA, fromB } = await twoTabs({ channel: false });
    release();
    expect(await Promise.all([fromA, fromB])).toEqual([{ ok: true }, { ok: true }]);
    expect(srv.count('POST /auth/refresh')).toBe(1);
    const calls = srv.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')} ${x.body ?? ''}`);
    expect(calls.slice(0, 3)).toEqual([
      'POST /api/things C1 {"tab":"a"}',
      'POST /api/auth/refresh C1 ', // held
      'POST /api/things C1 {"tab":"b"}', // b then waits for a's lock
    ]);
    expect(calls.slice(3).sort()).toEqual([
      'GET /api/getcsrf null ', // b, with the lock: the cookies were renewed since
      'POST /api/things C2 {"tab":"a"}',
      'POST /api/things C2 {"tab":"b"}',
    ]);
  });

  it('a tab that waited for the lock refreshes itself when the holder could not', async () => {
    const { srv, release, fromA, fromB } = await twoTabs({ channel: true, firstRefresh: 503 });
    release();
    await expect(fromA).rejects.toMatchObject({ status: 503, code: 'busy' });
    expect(await fromB).toEqual({ ok: true });
    expect(srv.calls.map((x) => `${x.method} ${x.url} ${x.headers.get('X-CSRFToken')}`)).toEqual([
      'POST /api/things C1', // a
      'POST /api/auth/refresh C1', // a, held, then 503
      'POST /api/things C1', // b, waits for a's lock
      'GET /api/getcsrf null', // b: still the same pair
      'POST /api/auth/refresh C1', // b
      'POST /api/things C2', // b's retry
    ]);
  });
});

describe('account flows', () => {
  const verified = { ...alice, email: 'alice@example.com', emailVerified: true };

  /** posts lists what each POST sent: path, CSRF token and JSON body. */
  const posts = (calls: Call[]) =>
    calls
      .filter((c) => c.method === 'POST')
      .map((c) => [c.url.replace(/^\/api/, ''), c.headers.get('X-CSRFToken'), c.body && JSON.parse(c.body)]);

  /** twoTabs is a client and another tab's client of one fake server, with tab sync on. */
  function twoTabs(routes: Record<string, Reply | Reply[]>) {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch(routes);
    const name = `latchkey-account-${Math.random()}`;
    return { a: client({ fetch: f.fetch, channelName: name }), b: client({ fetch: f.fetch, channelName: name }), f };
  }

  /** quiet waits long enough for a channel message to have arrived, had one been sent. */
  const quiet = () => new Promise((r) => setTimeout(r, 20));

  it('forgotPassword posts the address or username and resolves with the answer', async () => {
    withPage({ 'csrf-token': 'T' });
    const answer = { sent: true, detail: 'If an account has that address or name, a link is on its way.' };
    const f = fakeFetch({ 'POST /password/forgot': json(202, answer) });
    expect(await client({ fetch: f.fetch }).forgotPassword('alice@example.com')).toEqual(answer);
    expect(posts(f.calls)).toEqual([['/password/forgot', 'T', { email: 'alice@example.com' }]]);
  });

  it('maps 429 too_many_emails with Retry-After', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /password/forgot': apiError(429, 'too_many_emails', 'Too many emails asked for.', {}, { 'Retry-After': '90' }),
    });
    const err = await client({ fetch: f.fetch }).forgotPassword('alice').catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 429, code: 'too_many_emails', retryAfter: 90 });
  });

  it('resetPassword posts the token and password; a browser logged in as someone else stays so', async () => {
    // A token in the answer alone says nothing: only "loggedOut" does.
    const { a, b, f } = twoTabs({ 'POST /password/reset': json(200, { reset: true, loggedOut: false }, { 'X-CSRFToken': 'NEW' }) });
    const onLogout = vi.fn();
    b.onLogout(onLogout);
    await expect(a.resetPassword('1.TOKEN', 'new secret words')).resolves.toBeUndefined();
    expect(posts(f.calls)).toEqual([['/password/reset', 'T', { token: '1.TOKEN', password: 'new secret words' }]]);
    await quiet();
    expect(onLogout).not.toHaveBeenCalled();
  });

  it('resetPassword that ended this browser\'s session ("loggedOut") logs the other tabs out', async () => {
    const { a, b } = twoTabs({ 'POST /password/reset': json(200, { reset: true, loggedOut: true }, { 'X-CSRFToken': 'OUT' }) });
    const seen = new Promise<void>((resolve) => b.onLogout(resolve));
    await a.resetPassword('1.TOKEN', 'new secret words');
    await seen;
    expect(await a.csrfToken()).toBe('OUT');
  });

  it('resetPassword rejects a used or expired link as invalid_token, a weak password with its field', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /password/reset': [
        apiError(400, 'invalid_token', 'This link is invalid, was used already or has expired.', { field: 'token' }),
        apiError(400, 'weak_password', 'Password is too common.', { field: 'password' }),
      ],
    });
    const c = client({ fetch: f.fetch });
    expect(await c.resetPassword('1.OLD', 'new secret words').catch((e) => e)).toMatchObject({
      status: 400,
      code: 'invalid_token',
      field: 'token',
    });
    expect(await c.resetPassword('1.TOKEN', 'password').catch((e) => e)).toMatchObject({
      status: 400,
      code: 'weak_password',
      field: 'password',
      message: 'Password is too common.',
    });
  });

  it('verifyEmail posts the token and resolves with the user', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /email/verify': json(200, { emailVerified: true, user: verified }) });
    expect(await client({ fetch: f.fetch }).verifyEmail('1.TOKEN')).toEqual(verified);
    expect(posts(f.calls)).toEqual([['/email/verify', 'T', { token: '1.TOKEN' }]]);
  });

  it('verifyEmail and confirmEmail reject invalid_token and email_taken', async () => {
    withPage({ 'csrf-token': 'T' });
    const invalid = apiError(400, 'invalid_token', 'This link is invalid.', { field: 'token' });
    const taken = apiError(409, 'email_taken', 'Another account uses that email address.', { field: 'email' });
    const f = fakeFetch({ 'POST /email/verify': [invalid, taken], 'POST /email/confirm': [invalid, taken] });
    const c = client({ fetch: f.fetch });
    for (const call of [() => c.verifyEmail('1.T'), () => c.confirmEmail('1.T')]) {
      expect(await call().catch((e) => e)).toMatchObject({ status: 400, code: 'invalid_token', field: 'token' });
      expect(await call().catch((e) => e)).toMatchObject({ status: 409, code: 'email_taken', field: 'email' });
    }
  });

  it('resendVerification posts an empty object and says whether a link went out', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /email/resend': [
        json(202, { sent: true, emailVerified: false }),
        json(202, { sent: false, emailVerified: true }),
        apiError(429, 'too_many_emails', 'Too many emails asked for.', {}, { 'Retry-After': '30' }),
        apiError(409, 'no_email', 'This account has no email address.', { field: 'email' }),
      ],
    });
    const c = client({ fetch: f.fetch });
    expect(await c.resendVerification()).toEqual({ sent: true, emailVerified: false });
    expect(await c.resendVerification()).toEqual({ sent: false, emailVerified: true });
    expect(await c.resendVerification().catch((e) => e)).toMatchObject({ status: 429, code: 'too_many_emails', retryAfter: 30 });
    expect(await c.resendVerification().catch((e) => e)).toMatchObject({ status: 409, code: 'no_email' });
    expect(posts(f.calls)[0]).toEqual(['/email/resend', 'T', {}]);
  });

  it('changeEmail posts the new address, with the password only when given', async () => {
    withPage({ 'csrf-token': 'T' });
    const answer = { sent: true, detail: 'A link to confirm the new address is on its way to it.' };
    const f = fakeFetch({ 'POST /email/change': json(202, answer) });
    const c = client({ fetch: f.fetch });
    expect(await c.changeEmail('new@example.com', 'pw')).toEqual(answer);
    await c.changeEmail('new@example.com');
    expect(posts(f.calls)).toEqual([
      ['/email/change', 'T', { email: 'new@example.com', password: 'pw' }],
      ['/email/change', 'T', { email: 'new@example.com' }],
    ]);
  });

  it('changeEmail maps reauth_required, wrong_password and invalid_input with their fields, without a 401 logout', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'POST /email/change': [
        apiError(403, 'reauth_required', 'Enter your current password to do this.', { field: 'password' }),
        apiError(403, 'wrong_password', 'That is not your current password.', { field: 'password' }),
        apiError(400, 'invalid_input', 'Enter a valid email address.', { field: 'email' }),
      ],
    });
    const c = client({ fetch: f.fetch, onUnauthenticated });
    expect(await c.changeEmail('new@example.com').catch((e) => e)).toMatchObject({ status: 403, code: 'reauth_required', field: 'password' });
    expect(await c.changeEmail('new@example.com', 'nope').catch((e) => e)).toMatchObject({ status: 403, code: 'wrong_password', field: 'password' });
    expect(await c.changeEmail('new', 'pw').catch((e) => e)).toMatchObject({ status: 400, code: 'invalid_input', field: 'email' });
    expect(f.calls).toHaveLength(3); // a 403 other than csrf_failed is not retried
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('confirmEmail posts the token and resolves with the user', async () => {
    withPage({ 'csrf-token': 'T' });
    const changed = { ...verified, email: 'new@example.com' };
    const f = fakeFetch({ 'POST /email/confirm': json(200, { emailChanged: true, user: changed }) });
    expect(await client({ fetch: f.fetch }).confirmEmail('1.TOKEN')).toEqual(changed);
    expect(posts(f.calls)).toEqual([['/email/confirm', 'T', { token: '1.TOKEN' }]]);
  });

  it('changePassword adopts the rotated token, as login does, and hands it to the other tabs', async () => {
    const { a, b, f } = twoTabs({
      'POST /password/change': json(200, { passwordChanged: true, user: verified }, { 'X-CSRFToken': 'T2' }),
      'POST /things': json(200, {}),
    });
    const onLogin = vi.fn();
    const onLogout = vi.fn();
    b.onLogin(onLogin);
    b.onLogout(onLogout);
    expect(await a.changePassword('old pw', 'new secret words')).toEqual(verified);
    await a.request('/things', { method: 'POST' });
    await vi.waitFor(async () => expect(await b.csrfToken()).toBe('T2'));
    await b.request('/things', { method: 'POST' });
    expect(posts(f.calls)).toEqual([
      ['/password/change', 'T', { currentPassword: 'old pw', newPassword: 'new secret words' }],
      ['/things', 'T2', undefined],
      ['/things', 'T2', undefined],
    ]);
    expect(onLogin).not.toHaveBeenCalled();
    expect(onLogout).not.toHaveBeenCalled();
  });

  it('changePassword sends revokeApiTokens only when asked', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /password/change': json(200, { passwordChanged: true, user: alice }, { 'X-CSRFToken': 'T2' }) });
    await client({ fetch: f.fetch }).changePassword('old pw', 'new secret words', { revokeApiTokens: true });
    expect(posts(f.calls)[0][2]).toEqual({ currentPassword: 'old pw', newPassword: 'new secret words', revokeApiTokens: true });
  });

  it('changePassword maps wrong_password and weak_password to their fields and keeps the token', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /password/change': [
        apiError(403, 'wrong_password', 'That is not your current password.', { field: 'currentPassword' }),
        apiError(400, 'weak_password', 'Password must be at least 8 characters.', { field: 'newPassword' }),
      ],
    });
    const c = client({ fetch: f.fetch });
    expect(await c.changePassword('nope', 'new secret words').catch((e) => e)).toMatchObject({
      status: 403,
      code: 'wrong_password',
      field: 'currentPassword',
    });
    expect(await c.changePassword('old pw', 'short').catch((e) => e)).toMatchObject({
      status: 400,
      code: 'weak_password',
      field: 'newPassword',
    });
    expect(await c.csrfToken()).toBe('T');
  });

  it('changePassword with a session that has ended runs onUnauthenticated', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({ 'POST /password/change': apiError(401, 'unauthorized', 'You are not logged in.') });
    const err = await client({ fetch: f.fetch, onUnauthenticated }).changePassword('a', 'b').catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it('deleteAccount posts the password and logs the other tabs out', async () => {
    const { a, b, f } = twoTabs({ 'POST /account/delete': json(200, { deleted: true }, { 'X-CSRFToken': 'OUT' }) });
    const seen = new Promise<void>((resolve) => b.onLogout(resolve));
    await expect(a.deleteAccount('pw')).resolves.toBeUndefined();
    await seen;
    await a.deleteAccount();
    expect(posts(f.calls)).toEqual([
      ['/account/delete', 'T', { password: 'pw' }],
      ['/account/delete', 'OUT', {}],
    ]);
  });

  it('deleteAccount maps reauth_required and wrong_password, and logs nobody out', async () => {
    const { a, b } = twoTabs({
      'POST /account/delete': [
        apiError(403, 'reauth_required', 'Enter your current password to do this.', { field: 'password' }),
        apiError(403, 'wrong_password', 'That is not your current password.', { field: 'password' }),
      ],
    });
    const onLogout = vi.fn();
    b.onLogout(onLogout);
    expect(await a.deleteAccount().catch((e) => e)).toMatchObject({ status: 403, code: 'reauth_required', field: 'password' });
    expect(await a.deleteAccount('nope').catch((e) => e)).toMatchObject({ status: 403, code: 'wrong_password', field: 'password' });
    await quiet();
    expect(onLogout).not.toHaveBeenCalled();
  });

  it('login rejects an unverified address as 403 email_unverified: no retry, no onUnauthenticated, no tab told', async () => {
    const { a, b, f } = twoTabs({
      'POST /login': apiError(403, 'email_unverified', 'Verify your email address first: follow the link we sent to it.'),
    });
    const onLogin = vi.fn();
    b.onLogin(onLogin);
    const err = await a.login('alice', 'pw').catch((e) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ status: 403, code: 'email_unverified' });
    expect(f.calls).toHaveLength(1);
    await quiet();
    expect(onLogin).not.toHaveBeenCalled();
  });

  it('register says when the address must be verified before a login, and tells no tab of a login', async () => {
    const { a, b } = twoTabs({
      'POST /register': json(201, { register: true, user: { ...alice, email: 'a@example.com' }, emailVerificationRequired: true }),
    });
    const onLogin = vi.fn();
    b.onLogin(onLogin);
    expect(await a.register('alice', 'pw', 'a@example.com')).toEqual({
      ...alice,
      email: 'a@example.com',
      emailVerificationRequired: true,
    });
    await quiet();
    expect(onLogin).not.toHaveBeenCalled();
  });
});

describe('sessions and activity', () => {
  const here = {
    id: 'c3Vubnk',
    current: true,
    createdAt: '2026-01-01T10:00:00Z',
    lastSeenAt: '2026-01-01T10:05:00Z',
    expiresAt: '2026-01-01T12:05:00Z',
    remember: false,
    device: 'Firefox on Linux',
    ip: '192.0.2.1',
  };
  const phone = { ...here, id: 'cGhvbmUtMQ_-', current: false, device: 'Safari on iOS', ip: '198.51.100.7' };

  /** twoTabs is a client and another tab's client of one fake server, with tab sync on. */
  function twoTabs(routes: Record<string, Reply | Reply[]>) {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch(routes);
    const name = `latchkey-sessions-${Math.random()}`;
    return { a: client({ fetch: f.fetch, channelName: name }), b: client({ fetch: f.fetch, channelName: name }), f };
  }
  const quiet = () => new Promise((r) => setTimeout(r, 20));
  const sent = (calls: Call[]) => calls.map((c) => `${c.method} ${c.url} ${c.headers.get('X-CSRFToken')}`);

  it('sessions lists them without a CSRF token', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'GET /sessions': json(200, { sessions: [here, phone] }) });
    expect(await client({ fetch: f.fetch }).sessions()).toEqual([here, phone]);
    expect(sent(f.calls)).toEqual(['GET /api/sessions null']);
  });

  it('revokeSession deletes another session by its escaped id, and nobody is logged out', async () => {
    const { a, b, f } = twoTabs({ 'DELETE /sessions/cGhvbmUtMQ_-': json(200, { revoked: true, current: false }) });
    const onLogout = vi.fn();
    b.onLogout(onLogout);
    expect(await a.revokeSession(phone.id)).toEqual({ current: false });
    await quiet();
    expect(onLogout).not.toHaveBeenCalled();
    expect(sent(f.calls)).toEqual(['DELETE /api/sessions/cGhvbmUtMQ_- T']);
  });

  it('revokeSession of this browser\'s own session logs the other tabs out and drops the token', async () => {
    const { a, b, f } = twoTabs({
      'DELETE /sessions/c3Vubnk': json(200, { revoked: true, current: true }),
      'GET /getcsrf': json(200, { csrfToken: 'NEW' }, { 'X-CSRFToken': 'NEW' }),
      'POST /login': json(200, { login: true, user: alice }),
    });
    const seen = new Promise<void>((resolve) => b.onLogout(resolve));
    expect(await a.revokeSession(here.id)).toEqual({ current: true });
    await seen;
    await a.login('alice', 'pw'); // the old token was bound to the ended session
    expect(sent(f.calls)).toEqual(['DELETE /api/sessions/c3Vubnk T', 'GET /api/getcsrf null', 'POST /api/login NEW']);
  });

  it('revokeSession rejects an unknown id as 404 not_found, without a logout', async () => {
    const { a, b } = twoTabs({ 'DELETE /sessions/nope': apiError(404, 'not_found', 'Not found.') });
    const onLogout = vi.fn();
    b.onLogout(onLogout);
    expect(await a.revokeSession('nope').catch((e) => e)).toMatchObject({ status: 404, code: 'not_found' });
    await quiet();
    expect(onLogout).not.toHaveBeenCalled();
  });

  it('revokeOtherSessions posts with the token and resolves with how many ended', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /sessions/revoke-others': json(200, { revoked: 2 }) });
    expect(await client({ fetch: f.fetch }).revokeOtherSessions()).toBe(2);
    expect(sent(f.calls)).toEqual(['POST /api/sessions/revoke-others T']);
  });

  it('a session that has ended runs onUnauthenticated', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({ 'GET /sessions': apiError(401, 'unauthorized', 'You are not logged in.') });
    const err = await client({ fetch: f.fetch, onUnauthenticated }).sessions().catch((e) => e);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(onUnauthenticated).toHaveBeenCalledTimes(1);
  });

  it('activity pages with cursor and limit, sending only those given', async () => {
    withPage({ 'csrf-token': 'T' });
    const first = {
      events: [
        { id: '9', time: '2026-01-01T10:00:00Z', type: 'login_succeeded', ip: '192.0.2.1', device: 'Firefox on Linux' },
        { id: '7', time: '2026-01-01T09:00:00Z', type: 'session_revoked', ip: '192.0.2.1', device: 'Firefox on Linux', detail: 'Safari on iOS, 198.51.100.7', actorId: 3 },
      ],
      nextCursor: '7',
    };
    const last = { events: [{ id: '2', time: '2026-01-01T08:00:00Z', type: 'logout', ip: '192.0.2.1', device: '' }] };
    const f = fakeFetch({ 'GET /account/activity': [json(200, first), json(200, last)] });
    const c = client({ fetch: f.fetch });
    expect(await c.activity()).toEqual(first);
    expect(await c.activity({ cursor: first.nextCursor, limit: 2 })).toEqual(last);
    expect(f.calls.map((x) => x.url)).toEqual(['/api/account/activity', '/api/account/activity?cursor=7&limit=2']);
  });

  it('activity rejects a bad cursor with its field', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'GET /account/activity': apiError(400, 'invalid_input', 'cursor must be the nextCursor of a previous page.', { field: 'cursor' }),
    });
    expect(await client({ fetch: f.fetch }).activity({ cursor: 'x' }).catch((e) => e)).toMatchObject({
      status: 400,
      code: 'invalid_input',
      field: 'cursor',
    });
  });
});

describe('admin', () => {
  const bob = {
    id: 7,
    username: 'bob',
    email: 'bob@example.com',
    emailVerified: true,
    roles: [] as string[],
    createdAt: '2026-01-01T00:00:00Z',
    locked: false,
    updatedAt: '2026-01-02T00:00:00Z',
  };
  const sent = (calls: Call[]) =>
    calls.map((c) => [`${c.method} ${c.url}`, c.headers.get('X-CSRFToken'), c.body === undefined ? undefined : JSON.parse(c.body)]);

  it('users searches with q, cursor and limit, and reads the page', async () => {
    withPage({ 'csrf-token': 'T' });
    const page = { users: [bob], nextCursor: '7' };
    const f = fakeFetch({ 'GET /admin/users': [json(200, page), json(200, { users: [] })] });
    const c = client({ fetch: f.fetch });
    expect(await c.admin.users({ q: 'b o&b' })).toEqual(page);
    expect(await c.admin.users({ q: '', cursor: '7', limit: 10 })).toEqual({ users: [] });
    expect(sent(f.calls)).toEqual([
      ['GET /api/admin/users?q=b+o%26b', null, undefined],
      ['GET /api/admin/users?cursor=7&limit=10', null, undefined],
    ]);
  });

  it('user reads the user, their sessions and events', async () => {
    withPage({ 'csrf-token': 'T' });
    const detail = { user: bob, sessions: [], events: [] };
    const f = fakeFetch({ 'GET /admin/users/7': json(200, detail) });
    expect(await client({ fetch: f.fetch }).admin.user(7)).toEqual(detail);
  });

  it('sends each action with its method and CSRF token, and resolves with what it says', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /admin/users/7/lock': json(200, { user: { ...bob, locked: true } }),
      'POST /admin/users/7/unlock': json(200, { user: bob }),
      'POST /admin/users/7/logout': json(200, { revoked: 3 }),
      'POST /admin/users/7/reset': json(202, { resetSent: true }),
      'PUT /admin/users/7/roles': json(200, { user: { ...bob, roles: ['admin', 'editor'] } }),
      'DELETE /admin/users/7': json(200, { deleted: true }),
    });
    const { admin } = client({ fetch: f.fetch });
    expect((await admin.lock(7)).locked).toBe(true);
    expect((await admin.unlock(7)).locked).toBe(false);
    expect(await admin.logout(7)).toBe(3);
    await expect(admin.sendPasswordReset(7)).resolves.toBeUndefined();
    expect((await admin.setRoles(7, ['editor', 'admin'])).roles).toEqual(['admin', 'editor']);
    await expect(admin.deleteUser(7)).resolves.toBeUndefined();
    expect(sent(f.calls)).toEqual([
      ['POST /api/admin/users/7/lock', 'T', undefined],
      ['POST /api/admin/users/7/unlock', 'T', undefined],
      ['POST /api/admin/users/7/logout', 'T', undefined],
      ['POST /api/admin/users/7/reset', 'T', undefined],
      ['PUT /api/admin/users/7/roles', 'T', { roles: ['editor', 'admin'] }],
      ['DELETE /api/admin/users/7', 'T', undefined],
    ]);
    expect(f.calls[4].headers.get('Content-Type')).toBe('application/json');
  });

  it('maps forbidden, reauth_required, self_action, no_email and not_found, without onUnauthenticated', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'GET /admin/users': [
        apiError(403, 'forbidden', 'You are not allowed to do this.'),
        apiError(403, 'reauth_required', 'Enter your current password to do this: your login is not recent.', { field: 'password' }),
      ],
      'POST /admin/users/1/lock': apiError(409, 'self_action', 'You cannot do this to your own account here.'),
      'POST /admin/users/7/reset': apiError(409, 'no_email', 'This account has no email address.', { field: 'email' }),
      'GET /admin/users/9': apiError(404, 'not_found', 'Not found.'),
    });
    const { admin } = client({ fetch: f.fetch, onUnauthenticated });
    expect(await admin.users().catch((e) => e)).toMatchObject({ status: 403, code: 'forbidden' });
    expect(await admin.users().catch((e) => e)).toMatchObject({ status: 403, code: 'reauth_required', field: 'password' });
    expect(await admin.lock(1).catch((e) => e)).toMatchObject({ status: 409, code: 'self_action' });
    expect(await admin.sendPasswordReset(7).catch((e) => e)).toMatchObject({ status: 409, code: 'no_email' });
    expect(await admin.user(9).catch((e) => e)).toMatchObject({ status: 404, code: 'not_found' });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });

  it('after reauth_required, a login with the password and a retry succeed', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /admin/users/7/lock': [
        apiError(403, 'reauth_required', 'Enter your current password to do this: your login is not recent.', { field: 'password' }),
        json(200, { user: { ...bob, locked: true } }),
      ],
      'POST /login': json(200, { login: true, user: { ...alice, roles: ['admin'] } }, { 'X-CSRFToken': 'FRESH' }),
    });
    const c = client({ fetch: f.fetch });
    expect(await c.admin.lock(7).catch((e) => e)).toMatchObject({ code: 'reauth_required' });
    await c.login('alice', 'pw');
    expect((await c.admin.lock(7)).locked).toBe(true);
    expect(sent(f.calls).map(([what, token]) => `${what} ${token}`)).toEqual([
      'POST /api/admin/users/7/lock T',
      'POST /api/login T',
      'POST /api/admin/users/7/lock FRESH',
    ]);
  });
});

describe('hasRole', () => {
  it('finds the role in the user, and is false without one', () => {
    expect(hasRole({ roles: ['admin', 'editor'] }, 'admin')).toBe(true);
    expect(hasRole({ roles: ['editor'] }, 'admin')).toBe(false);
    expect(hasRole({} as { roles: string[] }, 'admin')).toBe(false);
    expect(hasRole(null, 'admin')).toBe(false);
  });
});

describe('second factors', () => {
  const posts = (calls: Call[]) =>
    calls
      .filter((c) => c.method === 'POST')
      .map((c) => [c.url.replace(/^\/api/, ''), c.headers.get('X-CSRFToken'), c.body && JSON.parse(c.body)]);

  function twoTabs(routes: Record<string, Reply | Reply[]>) {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch(routes);
    const name = `latchkey-mfa-${Math.random()}`;
    return { a: client({ fetch: f.fetch, channelName: name }), b: client({ fetch: f.fetch, channelName: name }), f };
  }
  const quiet = () => new Promise((r) => setTimeout(r, 20));
  const required = json(200, { login: false, mfaRequired: true, methods: ['totp', 'recovery_code'] }, { 'X-CSRFToken': 'T1' });

  it('login rejects with MFARequiredError and its methods, tells no tab of a login, and takes the new token', async () => {
    const { a, b, f } = twoTabs({
      'POST /login': required,
      'POST /login/mfa': json(200, { login: true, user: alice }, { 'X-CSRFToken': 'T2' }),
    });
    const onLogin = vi.fn();
    b.onLogin(onLogin);
    const err = await a.login('alice', 'pw').catch((e) => e);
    expect(err).toBeInstanceOf(MFARequiredError);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ code: 'mfa_required', methods: ['totp', 'recovery_code'] });
    await quiet();
    expect(onLogin).not.toHaveBeenCalled();

    const seen = new Promise((resolve) => b.onLogin(resolve));
    expect(await a.loginMFA({ code: '123456' })).toEqual(alice);
    expect(await seen).toEqual(alice);
    expect(posts(f.calls)).toEqual([
      ['/login', 'T', { username: 'alice', password: 'pw', remember: false }],
      ['/login/mfa', 'T1', { code: '123456' }],
    ]);
    await a.logout().catch(() => undefined);
    expect(f.calls.at(-1)?.headers.get('X-CSRFToken')).toBe('T2');
  });

  it('loginMFA sends a recovery code as recoveryCode', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /login/mfa': json(200, { login: true, user: alice }) });
    await client({ fetch: f.fetch }).loginMFA({ recoveryCode: 'abcd-efgh' });
    expect(posts(f.calls)).toEqual([['/login/mfa', 'T', { recoveryCode: 'abcd-efgh' }]]);
  });

  it('loginMFA maps invalid_code with its field and mfa_expired, without onUnauthenticated', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'POST /login/mfa': [
        apiError(401, 'invalid_code', 'That code is wrong or was used already.', { field: 'code' }),
        apiError(401, 'mfa_expired', 'Your sign-in expired.'),
        apiError(429, 'too_many_attempts', 'Too many.', {}, { 'Retry-After': '60' }),
      ],
    });
    const c = client({ fetch: f.fetch, onUnauthenticated });
    await expect(c.loginMFA({ code: '000000' })).rejects.toMatchObject({ status: 401, code: 'invalid_code', field: 'code' });
    await expect(c.loginMFA({ code: '000000' })).rejects.toMatchObject({ status: 401, code: 'mfa_expired' });
    await expect(c.loginMFA({ code: '000000' })).rejects.toMatchObject({ status: 429, retryAfter: 60 });
    expect(onUnauthenticated).not.toHaveBeenCalled();
    expect(f.calls).toHaveLength(3);
  });

  it('mfa.status reads GET /mfa', async () => {
    const st = { enabled: true, methods: ['totp', 'recovery_code'], totp: { createdAt: '2026-01-01T00:00:00Z' }, recoveryCodesLeft: 9 };
    const f = fakeFetch({ 'GET /mfa': json(200, st) });
    expect(await client({ fetch: f.fetch }).mfa.status()).toEqual(st);
    expect(f.calls[0].headers.has('X-CSRFToken')).toBe(false);
  });

  it('mfa set-up, confirmation, new codes and removal post what they need', async () => {
    withPage({ 'csrf-token': 'T' });
    const setup = { secret: 'JBSWY3DPEHPK3PXP', uri: 'otpauth://totp/latchkey:alice?secret=JBSWY3DPEHPK3PXP', qrCode: 'data:image/svg+xml;base64,PHN2Zy8+' };
    const codes = Array.from({ length: 10 }, (_, i) => `code-${i}`);
    const f = fakeFetch({
      'POST /mfa/totp/setup': json(200, setup),
      'POST /mfa/totp/confirm': json(200, { enabled: true, recoveryCodes: codes }),
      'POST /mfa/recovery-codes': json(200, { recoveryCodes: codes }),
      'POST /mfa/totp/disable': json(200, { disabled: true }),
    });
    const c = client({ fetch: f.fetch });
    expect(await c.mfa.setupTOTP()).toEqual(setup);
    expect(await c.mfa.confirmTOTP('123456')).toEqual(codes);
    expect(await c.mfa.regenerateRecoveryCodes('pw')).toEqual(codes);
    await c.mfa.disableTOTP('pw');
    expect(posts(f.calls)).toEqual([
      ['/mfa/totp/setup', 'T', {}],
      ['/mfa/totp/confirm', 'T', { code: '123456' }],
      ['/mfa/recovery-codes', 'T', { password: 'pw' }],
      ['/mfa/totp/disable', 'T', { password: 'pw' }],
    ]);
  });

  it('mfa maps reauth_required, wrong_password, invalid_code and the 409s', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /mfa/totp/disable': [
        apiError(403, 'reauth_required', 'Enter your current password.', { field: 'password' }),
        apiError(403, 'wrong_password', 'That is not your current password.', { field: 'password' }),
        apiError(409, 'mfa_not_enabled', 'Two-factor authentication is not set up.'),
      ],
      'POST /mfa/totp/confirm': [
        apiError(400, 'invalid_code', 'That code is wrong.', { field: 'code' }),
        apiError(409, 'mfa_setup_expired', 'Start again.'),
      ],
      'POST /mfa/totp/setup': apiError(409, 'mfa_enabled', 'Set up already.'),
    });
    const c = client({ fetch: f.fetch });
    await expect(c.mfa.disableTOTP()).rejects.toMatchObject({ status: 403, code: 'reauth_required', field: 'password' });
    await expect(c.mfa.disableTOTP('x')).rejects.toMatchObject({ status: 403, code: 'wrong_password', field: 'password' });
    await expect(c.mfa.disableTOTP('pw')).rejects.toMatchObject({ status: 409, code: 'mfa_not_enabled' });
    await expect(c.mfa.confirmTOTP('1')).rejects.toMatchObject({ status: 400, code: 'invalid_code', field: 'code' });
    await expect(c.mfa.confirmTOTP('1')).rejects.toMatchObject({ status: 409, code: 'mfa_setup_expired' });
    await expect(c.mfa.setupTOTP()).rejects.toMatchObject({ status: 409, code: 'mfa_enabled' });
  });
});

describe('email sign-in', () => {
  const posts = (calls: Call[]) =>
    calls
      .filter((c) => c.method === 'POST')
      .map((c) => [c.url.replace(/^\/api/, ''), c.headers.get('X-CSRFToken'), c.body && JSON.parse(c.body)]);
  const quiet = () => new Promise((r) => setTimeout(r, 20));

  it('emailLogin posts the address and resolves with the answer; 429 carries retryAfter', async () => {
    withPage({ 'csrf-token': 'T' });
    const answer = { sent: true, detail: 'If an account has that address verified, a sign-in link and code are on their way.' };
    const f = fakeFetch({
      'POST /login/email': [json(202, answer), apiError(429, 'too_many_emails', 'Too many.', {}, { 'Retry-After': '60' })],
    });
    const c = client({ fetch: f.fetch });
    expect(await c.emailLogin('alice@example.com')).toEqual(answer);
    await expect(c.emailLogin('alice@example.com')).rejects.toMatchObject({ status: 429, code: 'too_many_emails', retryAfter: 60 });
    expect(posts(f.calls)[0]).toEqual(['/login/email', 'T', { email: 'alice@example.com' }]);
  });

  it('emailLoginVerify logs in with a token or a code and tells the other tabs', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({ 'POST /login/email/verify': json(200, { login: true, user: alice }, { 'X-CSRFToken': 'T2' }) });
    const name = `latchkey-email-${Math.random()}`;
    const a = client({ fetch: f.fetch, channelName: name });
    const b = client({ fetch: f.fetch, channelName: name });
    const seen = new Promise((resolve) => b.onLogin(resolve));
    expect(await a.emailLoginVerify({ token: '1.abc' })).toEqual(alice);
    expect(await seen).toEqual(alice);
    expect(await a.emailLoginVerify({ email: 'alice@example.com', code: '123456' }, true)).toEqual(alice);
    expect(posts(f.calls)).toEqual([
      ['/login/email/verify', 'T', { token: '1.abc', remember: false }],
      ['/login/email/verify', 'T2', { email: 'alice@example.com', code: '123456', remember: true }],
    ]);
  });

  it('emailLoginVerify rejects with MFARequiredError for a user with a second factor, and tells no tab', async () => {
    withPage({ 'csrf-token': 'T' });
    const f = fakeFetch({
      'POST /login/email/verify': json(200, { login: false, mfaRequired: true, methods: ['totp', 'recovery_code'] }),
    });
    const name = `latchkey-email-${Math.random()}`;
    const a = client({ fetch: f.fetch, channelName: name });
    const onLogin = vi.fn();
    client({ fetch: f.fetch, channelName: name }).onLogin(onLogin);
    const err = await a.emailLoginVerify({ token: '1.abc' }).catch((e) => e);
    expect(err).toBeInstanceOf(MFARequiredError);
    expect(err).toMatchObject({ methods: ['totp', 'recovery_code'] });
    await quiet();
    expect(onLogin).not.toHaveBeenCalled();
  });

  it('emailLoginVerify maps invalid_code and invalid_token without onUnauthenticated', async () => {
    withPage({ 'csrf-token': 'T' });
    const onUnauthenticated = vi.fn();
    const f = fakeFetch({
      'POST /login/email/verify': [
        apiError(401, 'invalid_code', 'That code is wrong or was used already.', { field: 'code' }),
        apiError(400, 'invalid_token', 'This link is invalid.', { field: 'token' }),
      ],
    });
    const c = client({ fetch: f.fetch, onUnauthenticated });
    await expect(c.emailLoginVerify({ email: 'a@example.com', code: '000000' })).rejects.toMatchObject({
      status: 401,
      code: 'invalid_code',
      field: 'code',
    });
    await expect(c.emailLoginVerify({ token: 'x' })).rejects.toMatchObject({ status: 400, code: 'invalid_token' });
    expect(onUnauthenticated).not.toHaveBeenCalled();
  });
});
