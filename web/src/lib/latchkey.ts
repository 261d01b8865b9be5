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
 *   getSession is the exception: for it a 401 means `{ login: false }`.
 * - Token mode (`latchkey serve --token-mode jwt`) needs nothing from the
 *   app: the server says so itself. A `401 token_expired` means the
 *   short-lived access token ran out; the client then POSTs
 *   `{baseURL}/auth/refresh` once, shared by every request of the tab that
 *   hit the same expiry and, through the Web Locks API, by the other tabs,
 *   and retries the request once with the new CSRF token. A refresh
 *   refused with a 401 (`token_reused`, `unauthorized`), or a retry that
 *   still gets a 401, is a logout: `onUnauthenticated` runs, the other tabs
 *   are told, and no further refresh is tried until the next login. Any
 *   other failure of the refresh (429, 503, network) rejects the request
 *   with that error and keeps the user logged in. In session mode the code
 *   never comes, so nothing of this happens.
 * - Tabs: login, register, logout and refresh are announced on a
 *   BroadcastChannel; `onLogin` / `onLogout` listeners run in the other
 *   tabs, and a refresh hands them its new CSRF token. So do the account
 *   flows that change this browser's login: a password change (a new
 *   session, whose token the other tabs take), an account deletion and a
 *   password reset that ended this browser's session (a logout).
 * - Account flows: forgotPassword, resetPassword, verifyEmail,
 *   resendVerification, changeEmail, confirmEmail, changePassword and
 *   deleteAccount, one method each. The mailed links carry a token for
 *   resetPassword, verifyEmail and confirmEmail; a page that reads it from
 *   its URL should call them only when the user asks (mail scanners open
 *   links) and remove the token from the address bar.
 * - Sessions and activity: sessions lists where the user is logged in,
 *   revokeSession and revokeOtherSessions sign any of them out (signing out
 *   this browser is a logout: the other tabs are told), activity pages
 *   through the user's security events.
 * - Email sign-in: `emailLogin(address)` mails a link and a 6-digit code
 *   (the same answer whether or not the address is an account's);
 *   `emailLoginVerify({ token })` (from the link, only when the user presses
 *   a button: mail scanners open links) or `emailLoginVerify({ email, code
 *   })` logs in as login does, MFARequiredError included.
 * - Second factors: a user with one gets no session from login, which
 *   rejects with an {@link MFARequiredError} (code `mfa_required`, the
 *   `methods` to choose from); `loginMFA({ code })` or
 *   `loginMFA({ recoveryCode })` then logs in, within 5 minutes and 5
 *   tries. `client.mfa` sets up and removes the authenticator app and
 *   makes new recovery codes.
 * - Admin: `client.admin` holds the admin API's methods, for users with the
 *   "admin" role whose password login is recent. Without one they reject
 *   with `403 reauth_required`: log in again (`login` with the same
 *   username replaces the session with a fresh one) and retry.
 *
 * One client per page is enough; its methods are safe to call concurrently.
 */

/** A user as the API returns it. */
export interface User {
  id: number;
  username: string;
  email?: string;
  /** Whether the user followed a link mailed to email (false without one). */
  emailVerified: boolean;
  /** RFC 3339 time. */
  createdAt?: string;
  /** The user's roles, sorted ("admin" opens the admin API). */
  roles: string[];
}

/** hasRole says whether user has role; false for no user, or one without roles (an older server). */
export function hasRole(user: Pick<User, 'roles'> | null | undefined, role: string): boolean {
  return Array.isArray(user?.roles) && user.roles.includes(role);
}

/**
 * SessionInfo is one of the user's live sessions (in token mode, a
 * refresh-token family), as GET /sessions lists them.
 */
export interface SessionInfo {
  /** Opaque: it names the session to revokeSession, and grants nothing. */
  id: string;
  /** Whether it is the session of this browser. */
  current: boolean;
  /** RFC 3339 times. expiresAt is when it ends unless used before. */
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  remember: boolean;
  /** The browser and system, in words ("Firefox on Linux"). */
  device: string;
  /** The client's IP address, as latchkey saw it. */
  ip: string;
}

/**
 * The kinds of security events latchkey records (any string, for kinds of
 * newer servers).
 */
export type SecurityEventType =
  | 'login_succeeded'
  | 'login_failed'
  | 'logout'
  | 'session_revoked'
  | 'sessions_revoked'
  | 'password_changed'
  | 'password_reset'
  | 'password_reset_requested'
  | 'email_changed'
  | 'email_verified'
  | 'account_locked'
  | 'account_unlocked'
  | 'account_deleted'
  | 'role_changed'
  | 'api_token_created'
  | 'api_token_revoked'
  | 'refresh_token_reuse'
  | 'mfa_enabled'
  | 'mfa_disabled'
  | 'mfa_failed'
  | 'recovery_code_used'
  | 'recovery_codes_regenerated'
  | (string & {});

/** SecurityEvent is something that happened to an account. It holds no secret. */
export interface SecurityEvent {
  /** Opaque, and the cursor of the page that ends with it. */
  id: string;
  /** RFC 3339 time. */
  time: string;
  type: SecurityEventType;
  ip: string;
  device: string;
  /**
   * More about it: why a login failed ("wrong_password", "locked"…), the
   * roles set ("=admin,editor", "+admin"), the session signed out.
   */
  detail?: string;
  /** Who did it when that was not the user: an admin's user id. */
  actorId?: number;
}

/** Where a paged list starts and how long its page is. */
export interface PageOptions {
  /** The nextCursor of the previous page; none for the first. */
  cursor?: string;
  /** How many at most (the server's default is 20, its maximum 100). */
  limit?: number;
}

/** A page of the user's security events, newest first. */
export interface ActivityPage {
  events: SecurityEvent[];
  /** Set when older events exist: pass it as cursor for the next page. */
  nextCursor?: string;
}

/** A user as the admin API shows it. */
export interface AdminUser extends User {
  /** A locked account cannot log in, and has no sessions. */
  locked: boolean;
  /** RFC 3339 time. */
  updatedAt: string;
}

/** Options of {@link AdminClient.users}. */
export interface UserSearch extends PageOptions {
  /** Only users whose username or address contains this (any letter case). */
  q?: string;
}

/** A page of users, in a stable order (by id). */
export interface UserPage {
  users: AdminUser[];
  nextCursor?: string;
}

/** What the admin API shows of one user. */
export interface AdminUserDetail {
  user: AdminUser;
  /** The user's live sessions; current marks the admin's own. */
  sessions: SessionInfo[];
  /** The user's recent security events, newest first. */
  events: SecurityEvent[];
}

/**
 * The admin API (under {baseURL}/admin/), for users with the "admin" role
 * and a password login younger than the server's --fresh-login-window (10
 * minutes by default). Every method rejects with a LatchkeyError: 401
 * unauthorized (onUnauthenticated runs), 403 forbidden (not an admin), 403
 * reauth_required (log in again with the password, then retry), 404
 * not_found (no such user), 409 self_action (locking or deleting one's own
 * account, or dropping one's own admin role).
 */
export interface AdminClient {
  /** GET /admin/users: a page of users, those matching q if given. */
  users(search?: UserSearch): Promise<UserPage>;
  /** GET /admin/users/{id}: the user, their sessions and recent events. */
  user(id: number): Promise<AdminUserDetail>;
  /** DELETE /admin/users/{id}: deletes the account and ends its sessions. */
  deleteUser(id: number): Promise<void>;
  /** POST /admin/users/{id}/lock: no more logins; its sessions and tokens end at once. */
  lock(id: number): Promise<AdminUser>;
  /** POST /admin/users/{id}/unlock: the user may log in again. */
  unlock(id: number): Promise<AdminUser>;
  /** POST /admin/users/{id}/logout: ends every session of the user; resolves with how many. */
  logout(id: number): Promise<number>;
  /** POST /admin/users/{id}/reset: mails the user a password reset link. Rejects with 409 no_email. */
  sendPasswordReset(id: number): Promise<void>;
  /**
   * PUT /admin/users/{id}/roles: replaces the user's roles. Rejects with
   * 400 invalid_input (field "roles") for a malformed name.
   */
  setRoles(id: number, roles: string[]): Promise<AdminUser>;
}

/**
 * What register resolves with: the new user, with emailVerificationRequired
 * set when the server (`--require-verified-email`) started no session: the
 * user must follow the link mailed to the address, then log in.
 */
export interface RegisteredUser extends User {
  emailVerificationRequired?: true;
}

/** What signs in by email: a sign-in link's token, or the address and the mail's code. */
export type EmailLoginProof = { token: string } | { email: string; code: string };

/** The answer of forgotPassword and changeEmail: a link is (or may be) on its way. */
export interface MailSent {
  sent: true;
  /** latchkey's sentence about it, in English. */
  detail: string;
}

/** The answer of resendVerification. */
export interface VerificationResent {
  /** False when the address was verified already: nothing was sent. */
  sent: boolean;
  emailVerified: boolean;
}

/** Options of {@link Client.changePassword}. */
export interface ChangePasswordOptions {
  /** Also revoke the user's API tokens (bearer tokens for scripts). */
  revokeApiTokens?: boolean;
}

/**
 * The error codes latchkey answers with, plus the client's own
 * network_error and http_STATUS (any string, for codes of newer servers).
 */
export type ErrorCode =
  | 'invalid_credentials'
  | 'too_many_attempts'
  | 'busy'
  | 'store_unavailable'
  | 'csrf_failed'
  | 'unauthorized'
  | 'token_expired'
  | 'token_reused'
  | 'invalid_json'
  | 'invalid_input'
  | 'weak_password'
  | 'username_taken'
  | 'email_taken'
  | 'email_unverified'
  | 'invalid_token'
  | 'reauth_required'
  | 'wrong_password'
  | 'no_email'
  | 'too_many_emails'
  | 'not_found'
  | 'forbidden'
  | 'account_locked'
  | 'self_action'
  | 'mfa_required'
  | 'mfa_expired'
  | 'invalid_code'
  | 'mfa_enabled'
  | 'mfa_not_enabled'
  | 'mfa_setup_expired'
  | 'network_error'
  | (string & {});

/** The ways to pass the second login step (any string, for methods of newer servers). */
export type MFAMethod = 'totp' | 'recovery_code' | 'webauthn' | (string & {});

/**
 * The proof of the second login step: a code from the authenticator app, a
 * recovery code, or a passkey's assertion (PublicKeyCredential.toJSON(),
 * over the options the MFARequiredError carried; see lib/passkeys.ts).
 */
export type MFAProof = { code: string } | { recoveryCode: string } | { webauthn: unknown };

/** What a user has set up as second factors (GET /mfa). */
export interface MFAStatus {
  /** Whether logging in needs a second step. */
  enabled: boolean;
  /** The methods the second step takes for this user. */
  methods: MFAMethod[];
  /** The authenticator app, when one is set up (RFC 3339 times). */
  totp?: { createdAt: string; lastUsedAt?: string };
  /** How many unused recovery codes are left. */
  recoveryCodesLeft: number;
}

/** A fresh authenticator app secret, to enter in the app; shown once. */
export interface TOTPSetup {
  /** The secret in base32, for typing in. */
  secret: string;
  /** The otpauth:// URI that apps read from the QR code. */
  uri: string;
  /** The URI as a QR code: an SVG image as a data: URI, for an <img src>. */
  qrCode: string;
}

/**
 * The second factors of the logged-in user (under {baseURL}/mfa). Setting
 * up, removing the app and making new recovery codes need a login younger
 * than the server's --fresh-login-window (10 minutes by default), or the
 * password: they reject with 403 reauth_required without it, and 403
 * wrong_password (field "password") for a wrong one.
 */
export interface MFAClient {
  /** GET /mfa: what the user has set up. */
  status(): Promise<MFAStatus>;
  /**
   * POST /mfa/totp/setup: a new secret for an authenticator app, which
   * counts only once confirmTOTP gets a first code from it (within 15
   * minutes). Rejects with 409 mfa_enabled when an app is set up already.
   */
  setupTOTP(password?: string): Promise<TOTPSetup>;
  /**
   * POST /mfa/totp/confirm: the app's first code turns it on. Resolves with
   * ten recovery codes, which the server never shows again. Rejects with
   * 400 invalid_code (field "code") or 409 mfa_setup_expired.
   */
  confirmTOTP(code: string): Promise<string[]>;
  /** POST /mfa/totp/disable: removes the app (and the recovery codes). Rejects with 409 mfa_not_enabled. */
  disableTOTP(password?: string): Promise<void>;
  /** POST /mfa/recovery-codes: ten new recovery codes, replacing the old ones. Rejects with 409 mfa_not_enabled. */
  regenerateRecoveryCodes(password?: string): Promise<string[]>;
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

/**
 * A message on the tab-sync channel. "refresh" says a tab renewed the
 * shared cookies (a token-mode refresh, or a password change's new
 * session), and carries their CSRF token when known.
 */
export type SyncMessage =
  | { type: 'login'; user?: User }
  | { type: 'logout' }
  | { type: 'refresh'; csrfToken?: string };

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
   * 401 invalid_credentials, 429 too_many_attempts (retryAfter), 503 busy,
   * 403 email_unverified (`--require-verified-email`: a new link was
   * mailed)… Other tabs' onLogin listeners run. For a user with a second
   * factor the password was right but there is no session yet: it
   * rejects with an MFARequiredError; finish with loginMFA.
   */
  login(username: string, password: string, remember?: boolean): Promise<User>;
  /**
   * POST /login/mfa: the second step of a login that rejected with
   * MFARequiredError, with a code from the authenticator app or a
   * recovery code. Resolves with the user, logged in (other tabs'
   * onLogin listeners run). Rejects with 401 invalid_code (field "code" or
   * "recoveryCode"; each failure counts, 5 per login), 401 mfa_expired
   * (log in with the password again), 429 too_many_attempts.
   */
  loginMFA(proof: MFAProof): Promise<User>;
  /**
   * POST /login/email: mails a sign-in link and a 6-digit code to the
   * account that has this address verified, if there is one. The answer is
   * the same either way. Rejects with 400 invalid_input (field "email") or
   * 429 too_many_emails (retryAfter).
   */
  emailLogin(email: string): Promise<MailSent>;
  /**
   * POST /login/email/verify with the token of a sign-in link, or the
   * address and the code of the same mail. Logs in as login does (other
   * tabs' onLogin listeners run), or, for a user with a second factor,
   * rejects with an MFARequiredError: an email link is one factor. Rejects
   * with 400 invalid_token (the link is used, expired or superseded), 401
   * invalid_code (field "code": wrong, used, expired or out of its 5
   * tries), 403 account_locked, 429 too_many_attempts.
   */
  emailLoginVerify(proof: EmailLoginProof, remember?: boolean): Promise<User>;
  /** The second factors of the logged-in user; see {@link MFAClient}. */
  readonly mfa: MFAClient;
  /**
   * POST /register: creates the account and logs in, unless the server
   * requires a verified address first (then emailVerificationRequired is
   * set and there is no session). Rejects with 400 invalid_input /
   * weak_password (with field) or 409 username_taken.
   */
  register(username: string, password: string, email?: string): Promise<RegisteredUser>;
  /** POST /logout. Other tabs' onLogout listeners run. */
  logout(): Promise<void>;
  /**
   * POST /auth/refresh (token mode only): renews the access token now
   * instead of at its next 401 token_expired, sharing the refresh with any
   * already under way in this tab or, when the browser has Web Locks, in
   * the others. Rejects with the refresh's LatchkeyError (a 401 means the
   * login is gone; onUnauthenticated has run).
   */
  refresh(): Promise<void>;
  /** GET /data: the logged-in user; a 401 calls onUnauthenticated. */
  data(): Promise<User>;
  /**
   * POST /password/forgot: mails a password reset link to the account with
   * this address or username, if there is one. The answer is the same
   * either way. Rejects with 429 too_many_emails (retryAfter) or 400
   * invalid_input.
   */
  forgotPassword(emailOrUsername: string): Promise<MailSent>;
  /**
   * POST /password/reset with the token of a mailed link. Does not log in;
   * if this browser was logged in as that user, it is logged out (and the
   * other tabs are told). Rejects with 400 invalid_token (field "token":
   * used, expired, superseded or unknown), weak_password or invalid_input
   * (field "password").
   */
  resetPassword(token: string, password: string): Promise<void>;
  /**
   * POST /email/verify with the token of a mailed link. Resolves with the
   * user. Rejects with 400 invalid_token or 409 email_taken.
   */
  verifyEmail(token: string): Promise<User>;
  /**
   * POST /email/resend (logged in): mails a new verification link. Rejects
   * with 409 no_email or 429 too_many_emails.
   */
  resendVerification(): Promise<VerificationResent>;
  /**
   * POST /email/change (logged in): mails a confirmation link to the new
   * address, which replaces the old one only once the link is followed.
   * The password is needed when the login is older than 10 minutes.
   * Rejects with 403 reauth_required / wrong_password (field "password"),
   * 400 invalid_input (field "email") or 429 too_many_emails.
   */
  changeEmail(email: string, password?: string): Promise<MailSent>;
  /**
   * POST /email/confirm with the token of a mailed link: the address
   * changes. Resolves with the user. Rejects with 400 invalid_token or 409
   * email_taken.
   */
  confirmEmail(token: string): Promise<User>;
  /**
   * POST /password/change (logged in). Every other session of the user
   * ends; this browser gets a new one and its CSRF token, which the client
   * adopts and hands to the other tabs. Rejects with 403 wrong_password
   * (field "currentPassword"), 400 weak_password / invalid_input (field
   * "newPassword").
   */
  changePassword(currentPassword: string, newPassword: string, opts?: ChangePasswordOptions): Promise<User>;
  /**
   * POST /account/delete (logged in): deletes the account and logs out
   * (other tabs' onLogout listeners run). The password is needed when the
   * login is older than 10 minutes. Rejects with 403 reauth_required /
   * wrong_password (field "password").
   */
  deleteAccount(password?: string): Promise<void>;
  /** GET /sessions (logged in): the user's live sessions, newest first. */
  sessions(): Promise<SessionInfo[]>;
  /**
   * DELETE /sessions/{id} (logged in): signs that session out, at once.
   * Resolves with whether it was this browser's own, which is then logged
   * out (other tabs' onLogout listeners run). Rejects with 404 not_found
   * for an id the user has no live session with.
   */
  revokeSession(id: string): Promise<{ current: boolean }>;
  /** POST /sessions/revoke-others (logged in): signs out every other session; resolves with how many. */
  revokeOtherSessions(): Promise<number>;
  /** GET /account/activity (logged in): a page of the user's security events, newest first. */
  activity(page?: PageOptions): Promise<ActivityPage>;
  /** The admin API; see {@link AdminClient}. */
  readonly admin: AdminClient;
  /**
   * Any request under baseURL (path starts with "/"), with credentials,
   * CSRF token, retries and error mapping as above. Resolves with the
   * parsed JSON body (null for an empty one). Bodies must be re-sendable
   * (a string, FormData, Blob…, not a stream) for the csrf_failed and
   * token_expired retries.
   */
  request<T = unknown>(path: string, init?: RequestOptions): Promise<T>;
  /**
   * Like request, but resolves with the Response whatever its status
   * (still with the token handling, the retries and onUnauthenticated);
   * rejects only on network failure, its own or that of a token refresh,
   * and when a refresh fails with another status than 401.
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
   * latchkey's error code (see {@link ErrorCode}), "network_error" when the
   * request did not get an answer, or "http_STATUS" for a response that is
   * not latchkey's JSON.
   */
  readonly code: ErrorCode;
  /**
   * The request field at fault (username, password, email, token,
   * currentPassword, newPassword), if any.
   */
  readonly field?: string;
  /** Seconds to wait before retrying, from Retry-After (429, 503). */
  readonly retryAfter?: number;

  constructor(
    status: number,
    code: ErrorCode,
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

/**
 * MFARequiredError is how login rejects when the password was right and
 * the user has a second factor: no session yet. Call loginMFA with a proof
 * of one of methods within 5 minutes.
 */
export class MFARequiredError extends LatchkeyError {
  /** The methods the second step takes: "totp" (a code), "recovery_code"… */
  readonly methods: MFAMethod[];
  /** With the "webauthn" method: the request options for the user's passkeys. */
  readonly webauthn?: { publicKey: Record<string, unknown> & { challenge: string } };

  constructor(methods: MFAMethod[], webauthn?: MFARequiredError['webauthn']) {
    super(200, 'mfa_required', 'Enter the code from your authenticator app.');
    this.name = 'MFARequiredError';
    this.methods = methods;
    this.webauthn = webauthn;
  }
}

/** The message of a network_error LatchkeyError. */
export const NETWORK_ERROR_MESSAGE = 'Cannot reach the server. Check your connection and try again.';

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/**
 * The one CSRF header the client sends, in both modes. latchkey also takes
 * X-CSRF-Token and X-XSRF-TOKEN but refuses differing values in several,
 * and answers with the new token in X-CSRFToken.
 */
const TOKEN_HEADER = 'X-CSRFToken';
/** The token-mode cookie that holds the CSRF token of the current pair; readable by script. */
const TOKEN_COOKIE = 'csrf_access_token';
/** The Web Lock that one refresh at a time holds across the origin's tabs. */
export const REFRESH_LOCK = 'latchkey-refresh';

/** metaContent returns the content of <meta name=NAME>, or "" (also outside a browser). */
function metaContent(name: string): string {
  if (typeof document === 'undefined') return '';
  const el = document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`);
  return el?.content.trim() ?? '';
}

/**
 * cookieValue returns the value of the cookie NAME that script can read, or
 * "" (also outside a browser, or for an API on another site).
 */
function cookieValue(name: string): string {
  if (typeof document === 'undefined' || typeof document.cookie !== 'string') return '';
  for (const pair of document.cookie.split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const v = pair.slice(eq + 1).trim();
      try {
        return decodeURIComponent(v);
      } catch {
        return v;
      }
    }
  }
  return '';
}

/** locks returns the page's Web Locks, or undefined where there are none (insecure origins, old browsers). */
function locks(): LockManager | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManager } }).navigator;
  return typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
}

/**
 * withRefreshLock runs fn holding REFRESH_LOCK, or at once without Web
 * Locks (the server's grace window then lets racing refreshes all succeed).
 * fn learns whether it had to wait for another holder, which in practice
 * means another tab has just refreshed.
 */
async function withRefreshLock<T>(fn: (waited: boolean) => Promise<T>): Promise<T> {
  const lm = locks();
  if (!lm) return fn(false);
  let result: { value: T } | undefined;
  await lm.request(REFRESH_LOCK, { ifAvailable: true }, async (lock) => {
    if (lock) result = { value: await fn(false) };
  });
  if (result) return result.value;
  return lm.request(REFRESH_LOCK, () => fn(true)) as Promise<T>;
}

/** errorCode returns latchkey's error code in a failed response's body, without consuming it. */
async function errorCode(res: Response): Promise<string | undefined> {
  const code = ((await readBody(res.clone())) as { error?: { code?: unknown } } | undefined)?.error?.code;
  return typeof code === 'string' ? code : undefined;
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

/**
 * withQuery appends the set parameters to path as a query string:
 * withQuery('/x', { q: 'a b', cursor: undefined }) is "/x?q=a+b".
 */
function withQuery(path: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== '') q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
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

/**
 * The outcome of a token-mode renewal: new cookies to retry with, or the
 * 401 that says the login is gone.
 */
type Renewal = 'renewed' | LatchkeyError;

/** loginGone is the Renewal of a login already known to be gone. */
const loginGone = () => new LatchkeyError(401, 'unauthorized', 'You are not logged in.');

/** What a request was sent with, to tell later whether a refresh came since. */
interface Sent {
  /** The renewal generation (see createClient's gen). */
  gen: number;
  /** The CSRF token of the client at the time, "" if it had none. */
  csrf: string;
}

/** createClient returns a client of the latchkey API; see the module comment. */
export function createClient(opts: ClientOptions = {}): Client {
  const baseURL = (opts.baseURL || metaContent('latchkey-api') || '/api').replace(/\/+$/, '');
  const credentials = opts.credentials ?? defaultCredentials(baseURL);
  const doFetch: typeof fetch = opts.fetch ?? ((input, init) => globalThis.fetch(input, init));

  let token = metaContent('csrf-token');
  let tokenFetch: Promise<string> | null = null;

  // Token mode. gen counts the renewals of the cookies this tab knows of,
  // its own and those other tabs announced: a 401 token_expired for a
  // request sent before the latest one needs no refresh, only a retry.
  // refreshing is the renewal under way in this tab, shared by all who
  // need one. gone is set when a refresh (here or in another tab) found the
  // login dead, so that no request refreshes again until the next login.
  let gen = 0;
  let refreshing: Promise<Renewal> | null = null;
  let gone = false;

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
        gone = true;
        for (const cb of [...logoutListeners]) cb();
      } else if (msg.type === 'login') {
        token = '';
        gone = false;
        for (const cb of [...loginListeners]) cb(msg.user);
      } else if (msg.type === 'refresh') {
        // The browser shares the new cookies; take their token.
        renewed(typeof msg.csrfToken === 'string' ? msg.csrfToken : '');
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

  /** renewed records new cookies and their CSRF token ("" when unknown: fetch it when needed). */
  function renewed(csrf: string) {
    token = csrf;
    gen++;
    gone = false;
  }

  /** loggedOut records that the login is gone and tells the other tabs. */
  function loggedOut() {
    token = '';
    gone = true;
    announce({ type: 'logout' });
  }

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

  /**
   * renew gets the cookies renewed after a request sent as `sent` got 401
   * token_expired: not at all if a renewal came since, else by the one
   * refresh under way in this tab, else by a new one.
   */
  function renew(sent: Sent): Promise<Renewal> {
    if (gen !== sent.gen) return Promise.resolve('renewed');
    if (gone) return Promise.resolve(loginGone());
    refreshing ??= withRefreshLock((waited) => renewLocked(sent, waited)).finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  /** renewLocked decides, holding the refresh lock, whether a refresh is still needed, and does it. */
  async function renewLocked(sent: Sent, waited: boolean): Promise<Renewal> {
    // Another tab's announcement may have come while this one waited.
    if (gen !== sent.gen) return 'renewed';
    if (gone) return loginGone();
    if (waited && sent.csrf) {
      // Another tab held the lock, so it has most likely just refreshed
      // the cookies both share; its announcement can still be on its way.
      // The cookies themselves say: their token (read directly when the
      // API is on this site, else from GET /getcsrf) differs from the one
      // the failed request was sent with if they were renewed since.
      const now = cookieValue(TOKEN_COOKIE) || (await fetchToken().catch(() => ''));
      if (now && now !== sent.csrf) {
        renewed(now);
        return 'renewed';
      }
    }
    return refreshNow();
  }

  /**
   * refreshNow POSTs /auth/refresh with the current pair's CSRF token
   * (fetching it anew and trying once more if refused as csrf_failed).
   * It resolves with the error of a 401, after which the login is gone, and
   * rejects on any other failure.
   */
  async function refreshNow(): Promise<Renewal> {
    for (let attempt = 0; ; attempt++) {
      const csrf = attempt === 0 ? cookieValue(TOKEN_COOKIE) || (await csrfToken()) : await fetchToken();
      const res = await send('/auth/refresh', {
        method: 'POST',
        headers: { Accept: 'application/json', [TOKEN_HEADER]: csrf },
      });
      if (res.ok) {
        renewed(res.headers.get(TOKEN_HEADER) || cookieValue(TOKEN_COOKIE));
        announce({ type: 'refresh', ...(token ? { csrfToken: token } : {}) });
        return 'renewed';
      }
      const body = await readBody(res);
      if (res.status === 401) {
        loggedOut();
        return toError(res, body);
      }
      if (res.status === 403 && attempt === 0 && (body as { error?: { code?: unknown } })?.error?.code === 'csrf_failed') {
        token = '';
        continue;
      }
      throw toError(res, body);
    }
  }

  /**
   * fetchWithRetry sends a request and handles what latchkey's answer asks
   * for: one retry with a new CSRF token after 403 csrf_failed, one retry
   * after renewing the cookies for 401 token_expired, onUnauthenticated
   * for any other 401 (unless quiet401: getSession reports it instead).
   */
  async function fetchWithRetry(path: string, init: RequestOptions = {}, quiet401 = false): Promise<Response> {
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
    let csrfRetried = false;
    let renewedOnce = false;
    let newToken = false; // the next attempt must fetch a new CSRF token
    for (;;) {
      if (unsafe) headers.set(TOKEN_HEADER, newToken ? await fetchToken() : await csrfToken());
      newToken = false;
      const sent: Sent = { gen, csrf: token };
      const res = await send(path, { ...rest, method, headers, body });
      if (res.status === 403 && unsafe && !csrfRetried && (await errorCode(res)) === 'csrf_failed') {
        csrfRetried = true;
        token = ''; // never send the refused token again
        newToken = true;
        continue;
      }
      // A sign-in's 401 (wrong password, unknown passkey) is its answer, not a lost session.
      if (res.status !== 401 || path === '/login' || path.startsWith('/login/')) return res;
      if (!renewedOnce && (await errorCode(res)) === 'token_expired') {
        renewedOnce = true;
        if ((await renew(sent)) === 'renewed') continue;
      } else if (renewedOnce) {
        // New cookies and still refused: the login is gone after all.
        loggedOut();
      }
      if (!quiet401) opts.onUnauthenticated?.();
      return res;
    }
  }

  async function request<T = unknown>(path: string, init?: RequestOptions): Promise<T> {
    const res = await fetchWithRetry(path, init);
    const body = await readBody(res);
    if (!res.ok) throw toError(res, body);
    return (body ?? null) as T;
  }

  /** adminUserPath is the path of the admin API's user id, and below it. */
  const adminUserPath = (id: number, action = '') => `/admin/users/${encodeURIComponent(String(id))}${action}`;
  const admin: AdminClient = {
    users: (search = {}) =>
      request<UserPage>(withQuery('/admin/users', { q: search.q, cursor: search.cursor, limit: search.limit })),
    user: (id) => request<AdminUserDetail>(adminUserPath(id)),
    async deleteUser(id) {
      await request(adminUserPath(id), { method: 'DELETE' });
    },
    lock: async (id) => (await request<{ user: AdminUser }>(adminUserPath(id, '/lock'), { method: 'POST' })).user,
    unlock: async (id) => (await request<{ user: AdminUser }>(adminUserPath(id, '/unlock'), { method: 'POST' })).user,
    logout: async (id) => (await request<{ revoked: number }>(adminUserPath(id, '/logout'), { method: 'POST' })).revoked,
    async sendPasswordReset(id) {
      await request(adminUserPath(id, '/reset'), { method: 'POST' });
    },
    setRoles: async (id, roles) =>
      (await request<{ user: AdminUser }>(adminUserPath(id, '/roles'), { method: 'PUT', json: { roles } })).user,
  };

  /** withPassword is the body of a route that takes the password when the login is not fresh. */
  const withPassword = (password?: string) => (password ? { password } : {});
  const mfa: MFAClient = {
    status: () => request<MFAStatus>('/mfa'),
    setupTOTP: (password) => request<TOTPSetup>('/mfa/totp/setup', { method: 'POST', json: withPassword(password) }),
    confirmTOTP: async (code) =>
      (await request<{ recoveryCodes: string[] }>('/mfa/totp/confirm', { method: 'POST', json: { code } })).recoveryCodes,
    async disableTOTP(password) {
      await request('/mfa/totp/disable', { method: 'POST', json: withPassword(password) });
    },
    regenerateRecoveryCodes: async (password) =>
      (await request<{ recoveryCodes: string[] }>('/mfa/recovery-codes', { method: 'POST', json: withPassword(password) }))
        .recoveryCodes,
  };

  return {
    baseURL,
    credentials,
    async getSession() {
      // The question is whether this browser is logged in: a 401 (in token
      // mode, an access token that could not be renewed) answers it.
      const res = await fetchWithRetry('/getsession', {}, true);
      const body = await readBody(res);
      if (res.status === 401) return { login: false };
      if (!res.ok) throw toError(res, body);
      const s = body as Session;
      if (s?.login) gone = false;
      return s;
    },
    async login(username, password, remember = false) {
      const body = await request<{
        user: User;
        mfaRequired?: boolean;
        methods?: MFAMethod[];
        webauthn?: MFARequiredError['webauthn'];
      }>('/login', {
        method: 'POST',
        json: { username, password, remember },
      });
      if (body.mfaRequired) throw new MFARequiredError(Array.isArray(body.methods) ? body.methods : [], body.webauthn);
      gone = false;
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    emailLogin: (email) => request<MailSent>('/login/email', { method: 'POST', json: { email } }),
    async emailLoginVerify(proof, remember = false) {
      const body = await request<{
        user: User;
        mfaRequired?: boolean;
        methods?: MFAMethod[];
        webauthn?: MFARequiredError['webauthn'];
      }>('/login/email/verify', { method: 'POST', json: { ...proof, remember } });
      if (body.mfaRequired) throw new MFARequiredError(Array.isArray(body.methods) ? body.methods : [], body.webauthn);
      gone = false;
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    async loginMFA(proof) {
      const body = await request<{ user: User }>('/login/mfa', { method: 'POST', json: proof });
      gone = false;
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    mfa,
    async register(username, password, email) {
      const payload: Record<string, string> = { username, password };
      if (email) payload.email = email;
      const body = await request<{ user: User; emailVerificationRequired?: boolean }>('/register', {
        method: 'POST',
        json: payload,
      });
      if (body.emailVerificationRequired) return { ...body.user, emailVerificationRequired: true };
      gone = false;
      announce({ type: 'login', user: body.user });
      return body.user;
    },
    async logout() {
      await request('/logout', { method: 'POST' });
      // latchkey configured with --clear-site-data cookies answers with
      // Clear-Site-Data, which browsers apply after the response's
      // Set-Cookie, so the new token is bound to cookies that are gone.
      // Fetch a new one when next needed rather than have the next write
      // refused.
      token = '';
      announce({ type: 'logout' });
    },
    async refresh() {
      refreshing ??= withRefreshLock(() => refreshNow()).finally(() => {
        refreshing = null;
      });
      const outcome = await refreshing;
      if (outcome !== 'renewed') {
        opts.onUnauthenticated?.();
        throw outcome;
      }
    },
    data: () => request<User>('/data'),
    forgotPassword: (emailOrUsername) =>
      request<MailSent>('/password/forgot', { method: 'POST', json: { email: emailOrUsername } }),
    async resetPassword(resetToken, password) {
      const res = await fetchWithRetry('/password/reset', { method: 'POST', json: { token: resetToken, password } });
      const body = await readBody(res);
      if (!res.ok) throw toError(res, body);
      // "loggedOut": the reset ended this browser's session (it was logged
      // in as that user); the other tabs must hear of it.
      if ((body as { loggedOut?: boolean } | null)?.loggedOut === true) {
        gone = true;
        announce({ type: 'logout' });
      }
    },
    verifyEmail: async (linkToken) =>
      (await request<{ user: User }>('/email/verify', { method: 'POST', json: { token: linkToken } })).user,
    resendVerification: () => request<VerificationResent>('/email/resend', { method: 'POST', json: {} }),
    changeEmail(email, password) {
      const payload: Record<string, string> = { email };
      if (password) payload.password = password;
      return request<MailSent>('/email/change', { method: 'POST', json: payload });
    },
    confirmEmail: async (linkToken) =>
      (await request<{ user: User }>('/email/confirm', { method: 'POST', json: { token: linkToken } })).user,
    async changePassword(currentPassword, newPassword, changeOpts = {}) {
      const payload: Record<string, string | boolean> = { currentPassword, newPassword };
      if (changeOpts.revokeApiTokens) payload.revokeApiTokens = true;
      const body = await request<{ user: User }>('/password/change', { method: 'POST', json: payload });
      // A new session (or token pair) and its token, already adopted from
      // the answer's X-CSRFToken: the other tabs share the cookies, so hand
      // them the token too.
      renewed(token);
      announce({ type: 'refresh', ...(token ? { csrfToken: token } : {}) });
      return body.user;
    },
    async deleteAccount(password) {
      await request('/account/delete', { method: 'POST', json: password ? { password } : {} });
      gone = true;
      announce({ type: 'logout' });
    },
    sessions: async () => (await request<{ sessions: SessionInfo[] }>('/sessions')).sessions,
    async revokeSession(id) {
      const body = await request<{ revoked: boolean; current: boolean }>(`/sessions/${encodeURIComponent(id)}`, {
        method: 'DELETE',
      });
      if (body.current) {
        // This browser's own session: latchkey logged it out, as logout
        // does; the token went with it, and the other tabs must hear.
        token = '';
        gone = true;
        announce({ type: 'logout' });
      }
      return { current: body.current === true };
    },
    revokeOtherSessions: async () =>
      (await request<{ revoked: number }>('/sessions/revoke-others', { method: 'POST' })).revoked,
    activity: (page = {}) =>
      request<ActivityPage>(withQuery('/account/activity', { cursor: page.cursor, limit: page.limit })),
    admin,
    request,
    fetch: (path, init) => fetchWithRetry(path, init),
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
