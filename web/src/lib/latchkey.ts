/**
 * latchkey.ts is a small, framework-free client for latchkey's JSON API, for
 * any single-page app (Svelte, React, Vue or none). It has no dependencies.
 *
 *     import { createClient, LatchkeyError } from './latchkey';
 *     const lk = createClient({ onUnauthenticated: () => router.go('/') });
 *     const s = await lk.getSession();          // { login: false } or { login: true, user, … }
 *     try { await lk.login('alice', 'pw', true) }
 *     catch (e) { if (e instanceof LatchkeyError && e.code === 'invalid_credentials') … }
 *     lk.onLogout(() => router.go('/'));         // another tab logged out
 *
 * What it does for you:
 *
 * - Credentials: cookies are sent with `credentials: 'same-origin'` when the
 *   API is on the page's origin and `'include'` when it is on another one
 *   (latchkey's cross-origin mode), unless you say otherwise.
 * - CSRF: the token comes from `<meta name="csrf-token">` (latchkey fills it
 *   in when it serves index.html), else from `GET {baseURL}/getcsrf`, fetched
 *   once and shared by concurrent callers. Every response's `X-CSRFToken`
 *   header replaces it (latchkey rotates it on login and register; after
 *   logout the next write fetches a new one, as the browser has dropped the
 *   cookies the old one was bound to).
 *   It is sent as `X-CSRFToken` on POST, PUT, PATCH and DELETE. A `403
 *   csrf_failed` makes the client fetch a new token and retry the request
 *   once.
 * - Errors: every failure is a {@link LatchkeyError} with the HTTP status,
 *   latchkey's error code and message, the offending field and, for 429 and
 *   503, the number of seconds to wait. A network failure has status 0 and
 *   code `network_error`.
 * - A 401 from anything but login calls `onUnauthenticated`: the session is
 *   gone (expired, logged out elsewhere, or the cookie was tampered with).
 * - Tabs: login, register and logout are announced on a BroadcastChannel,
 *   and `onLogin` / `onLogout` listeners run in the other tabs.
 *
 * One client per page is enough; its methods are safe to call concurrently.
 */

/** A user as the API returns it. */
export interface User {
  id: number;
  username: string;
  email?: string;
  /** RFC 3339 time. */
  createdAt?: string;
}

/** The answer of GET /getsession. */
export type Session =
  | { login: false }
  | {
      login: true;
      user: User;
      /** When the session ends whatever happens (RFC 3339). */
      expiresAt: string;
      /** When the session ends unless used before (RFC 3339). */
      idleExpiresAt: string;
      /** False once the session looks like it moved to another browser. */
      fresh: boolean;
      remember: boolean;
    };

/** Options of {@link createClient}; all are optional. */
export interface ClientOptions {
  /**
   * Where the API lives, absolute or relative to the page. Default: the
   * content of `<meta name="latchkey-api">`, else "/api".
   */
  baseURL?: string;
  /**
   * The fetch credentials mode. Default: 'same-origin' when baseURL is on
   * the page's origin, else 'include' (cross-origin mode needs it to send
   * and receive the session cookie).
   */
  credentials?: RequestCredentials;
  /**
   * Called when a request other than login gets a 401: the session is gone.
   * Typically navigates to the login page.
   */
  onUnauthenticated?: () => void;
  /**
   * The BroadcastChannel name shared by the app's tabs. Default "latchkey".
   * Set it to "" to turn tab sync off.
   */
  channelName?: string;
  /** The fetch to use. Default: globalThis.fetch (tests pass a fake). */
  fetch?: typeof fetch;
}

/** Extra options of {@link Client.request} on top of fetch's. */
export interface RequestOptions extends RequestInit {
  /** A value to send as the JSON body (sets Content-Type). */
  json?: unknown;
}

/** A message on the tab-sync channel. */
export type SyncMessage = { type: 'login'; user?: User } | { type: 'logout' };

/** The client returned by {@link createClient}. */
export interface Client {
  /** The API base URL in use. */
  readonly baseURL: string;
  /** The credentials mode in use. */
  readonly credentials: RequestCredentials;
  /** GET /getsession: whether this browser is logged in, and as whom. */
  getSession(): Promise<Session>;
  /**
   * POST /login. Resolves with the user; rejects with a LatchkeyError:
   * 401 invalid_credentials, 429 too_many_attempts (retryAfter), 503 busy…
   * Other tabs' onLogin listeners run.
   */
  login(username: string, password: string, remember?: boolean): Promise<User>;
  /**
   * POST /register: creates the account and logs in. Rejects with 400
   * invalid_input / weak_password (with field) or 409 username_taken.
   */
  register(username: string, password: string, email?: string): Promise<User>;
  /** POST /logout. Other tabs' onLogout listeners run. */
  logout(): Promise<void>;
  /** GET /data: the logged-in user; a 401 calls onUnauthenticated. */
  data(): Promise<User>;
  /**
   * Any request under baseURL (path starts with "/"), with credentials,
   * CSRF token, retry and error mapping as above. Resolves with the parsed
   * JSON body (null for an empty one). Bodies must be re-sendable (a
   * string, FormData, Blob…, not a stream) for the csrf_failed retry.
   */
  request<T = unknown>(path: string, init?: RequestOptions): Promise<T>;
  /**
   * Like request, but resolves with the Response whatever its status
   * (still with the token handling, the retry and onUnauthenticated);
   * rejects only on network failure.
   */
  fetch(path: string, init?: RequestOptions): Promise<Response>;
  /** The current CSRF token, fetching one if needed. */
  csrfToken(): Promise<string>;
  /** Runs cb when another tab logs out. Returns a function that removes it. */
  onLogout(cb: () => void): () => void;
  /** Runs cb when another tab logs in or registers. Returns a remover. */
  onLogin(cb: (user?: User) => void): () => void;
  /** Closes the tab-sync channel and drops listeners. */
  close(): void;
}

/** LatchkeyError is how every failed call of the client rejects. */
export class LatchkeyError extends Error {
  /** The HTTP status, or 0 when the server could not be reached. */
  readonly status: number;
  /**
   * latchkey's error code (invalid_credentials, too_many_attempts, busy,
   * csrf_failed, unauthorized, invalid_input, weak_password,
   * username_taken…), "network_error" when the request did not get an
   * answer, or "http_STATUS" for a response that is not latchkey's JSON.
   */
  readonly code: string;
  /** The request field at fault (username, password, email), if any. */
  readonly field?: string;
  /** Seconds to wait before retrying, from Retry-After (429, 503). */
  readonly retryAfter?: number;

  constructor(
    status: number,
    code: string,
    message: string,
    opts: { field?: string; retryAfter?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'LatchkeyError';
    this.status = status;
    this.code = code;
    if (opts.field) this.field = opts.field;
    if (opts.retryAfter !== undefined) this.retryAfter = opts.retryAfter;
  }
}

/** The message of a network_error LatchkeyError. */
export const NETWORK_ERROR_MESSAGE = 'Cannot reach the server. Check your connection and try again.';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const TOKEN_HEADER = 'X-CSRFToken';

/** metaContent returns the content of <meta name=NAME>, or "" (also outside a browser). */
function metaContent(name: string): string {
  if (typeof document === 'undefined') return '';
  const el = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
  return el?.content.trim() ?? '';
}

/** pageOrigin returns location.origin, or undefined outside a browser. */
function pageOrigin(): string | undefined {
  const loc = (globalThis as { location?: Location }).location;
  return loc?.origin && loc.origin !== 'null' ? loc.origin : undefined;
}

/**
 * defaultCredentials is 'same-origin' for an API on the page's origin and
 * 'include' otherwise. A relative baseURL is always on the page's origin.
 */
export function defaultCredentials(baseURL: string): RequestCredentials {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(baseURL) && !baseURL.startsWith('//')) return 'same-origin';
  const origin = pageOrigin();
  try {
    return origin !== undefined && new URL(baseURL, origin).origin === origin ? 'same-origin' : 'include';
  } catch {
    return 'include';
  }
}

/** parseRetryAfter reads Retry-After (seconds or an HTTP date) as whole seconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - now) / 1000));
}

/** readBody parses a response body as JSON; undefined if it is empty or not JSON. */
async function readBody(res: Response): Promise<unknown> {
  let text: string;
  try {
    text = await res.text();
  } catch {
    return undefined;
  }
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** toError maps a failed response and its parsed body to a LatchkeyError. */
function toError(res: Response, body: unknown): LatchkeyError {
  const retryAfter = parseRetryAfter(res.headers.get('Retry-After'));
  const e = (body as { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined)?.error;
  if (e && typeof e.code === 'string') {
    return new LatchkeyError(res.status, e.code, typeof e.message === 'string' ? e.message : e.code, {
      field: typeof e.field === 'string' ? e.field : undefined,
      retryAfter,
    });
  }
  return new LatchkeyError(res.status, `http_${res.status}`, `The server answered ${res.status} ${res.statusText}`.trim() + '.', {
    retryAfter,
  });
}

/** createClient returns a client of the latchkey API; see the module comment. */
export function createClient(opts: ClientOptions = {}): Client {
  const baseURL = (opts.baseURL || metaContent('latchkey-api') || '/api').replace(/\/+$/, '');
  const credentials = opts.credentials ?? defaultCredentials(baseURL);
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));

  let token = metaContent('csrf-token');
  let tokenFetch: Promise<string> | null = null;

  const logoutListeners = new Set<() => void>();
  const loginListeners = new Set<(user?: User) => void>();
  const channelName = opts.channelName ?? 'latchkey';
  let channel: BroadcastChannel | null = null;
  if (channelName !== '' && typeof BroadcastChannel !== 'undefined') {
    channel = new BroadcastChannel(channelName);
    channel.onmessage = (ev: MessageEvent<SyncMessage>) => {
      const msg = ev.data;
      if (!msg || typeof msg !== 'object') return;
      // The other tab's login or logout replaced the cookies this tab's
      // token was bound to: fetch a fresh one before the next write.
      if (msg.type === 'logout') {
        token = '';
        for (const cb of [...logoutListeners]) cb();
      } else if (msg.type === 'login') {
        token = '';
        for (const cb of [...loginListeners]) cb(msg.user);
      }
    };
  }
  const announce = (msg: SyncMessage) => {
    try {
      channel?.postMessage(msg);
    } catch {
      // A closed channel: nothing to tell.
    }
  };

  const url = (path: string) => baseURL + path;

  /** send is one fetch, with the network failure mapped and the token header read. */
  async function send(path: string, init: RequestInit): Promise<Response> {
    let res: Response;
    try {
      res = await doFetch(url(path), { ...init, credentials });
    } catch (err) {
      if ((err as { name?: string })?.name === 'AbortError') throw err;
      throw new LatchkeyError(0, 'network_error', NETWORK_ERROR_MESSAGE, { cause: err });
    }
    const rotated = res.headers.get(TOKEN_HEADER);
    if (rotated) token = rotated;
    return res;
  }

  /** fetchToken gets a token from GET /getcsrf; concurrent callers share one request. */
  function fetchToken(): Promise<string> {
    tokenFetch ??= (async () => {
      try {
        const res = await send('/getcsrf', { method: 'GET', headers: { Accept: 'application/json' } });
        const body = await readBody(res);
        if (!res.ok) throw toError(res, body);
        const fromBody = (body as { csrfToken?: unknown } | undefined)?.csrfToken;
        if (!res.headers.get(TOKEN_HEADER) && typeof fromBody === 'string') token = fromBody;
        if (!token) throw new LatchkeyError(res.status, 'csrf_failed', 'The server sent no CSRF token.');
        return token;
      } finally {
        tokenFetch = null;
      }
    })();
    return tokenFetch;
  }

  async function csrfToken(): Promise<string> {
    return token || fetchToken();
  }

  async function fetchWithRetry(path: string, init: RequestOptions = {}): Promise<Response> {
    if (!path.startsWith('/')) path = '/' + path;
    const { json, ...rest } = init;
    const method = (rest.method ?? (json !== undefined ? 'POST' : 'GET')).toUpperCase();
    const headers = new Headers(rest.headers);
    if (!headers.has('Accept')) headers.set('Accept', 'application/json');
    let body = rest.body;
    if (json !== undefined) {
      body = JSON.stringify(json);
      headers.set('Content-Type', 'application/json');
    }
    const unsafe = UNSAFE_METHODS.has(method);
    for (let attempt = 0; ; attempt++) {
      if (unsafe) headers.set(TOKEN_HEADER, attempt === 0 ? await csrfToken() : await fetchToken());
      const res = await send(path, { ...rest, method, headers, body });
      if (res.status === 403 && unsafe && attempt === 0) {
        const errBody = await readBody(res.clone());
        if ((errBody as { error?: { code?: unknown } } | undefined)?.error?.code === 'csrf_failed') {
          token = ''; // never send the refused token again
          continue;
        }
      }
      if (res.status === 401 && path !== '/login') opts.onUnauthenticated?.();
      return res;
    }
  }

  async function request<T = unknown>(path: string, init?: RequestOptions): Promise<T> {
    const res = await fetchWithRetry(path, init);
    const body = await readBody(res);
    if (!res.ok) throw toError(res, body);
    return (body ?? null) as T;
  }

  return {
    baseURL,
    credentials,
    getSession: () => request<Session>('/getsession'),
    async login(username, password, remember = false) {
      const body = await request<{ user: User }>('/login', { method: 'POST', json: { username, password, remember } });
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    async register(username, password, email) {
      const payload: Record<string, string> = { username, password };
      if (email) payload.email = email;
      const body = await request<{ user: User }>('/register', { method: 'POST', json: payload });
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    async logout() {
      await request('/logout', { method: 'POST' });
      // latchkey answers with Clear-Site-Data: "cookies", which browsers
      // apply after the response's Set-Cookie, so the rotated token is
      // bound to cookies that are gone. Fetch a new one when next needed
      // rather than have the next write refused.
      token = '';
      announce({ type: 'logout' });
    },
    data: () => request<User>('/data'),
    request,
    fetch: fetchWithRetry,
    csrfToken,
    onLogout(cb) {
      logoutListeners.add(cb);
      return () => logoutListeners.delete(cb);
    },
    onLogin(cb) {
      loginListeners.add(cb);
      return () => loginListeners.delete(cb);
    },
    close() {
      logoutListeners.clear();
      loginListeners.clear();
      channel?.close();
      channel = null;
    },
  };
}
