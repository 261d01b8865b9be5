// Passkeys (WebAuthn) for the latchkey client: register them, list, rename
// and remove them, and sign in with one alone. The server hands out the
// options of navigator.credentials in WebAuthn's JSON form; this module
// turns them into what the browser takes (base64url members into bytes),
// runs the ceremony, and sends the browser's answer back as JSON.
import type { Client, User } from './latchkey';

/** A registered passkey, as GET /passkeys lists it. */
export interface Passkey {
  id: number;
  name: string;
  createdAt: string;
  lastUsedAt: string;
  /** The authenticator syncs it to the user's other devices. */
  backedUp: boolean;
}

/** passkeysSupported says whether this browser can use passkeys at all. */
export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
}

/** fromBase64url decodes base64url (with or without padding) into bytes. */
export function fromBase64url(s: string): ArrayBuffer {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out.buffer;
}

/** toBase64url encodes bytes as base64url without padding. */
export function toBase64url(buf: ArrayBuffer | ArrayBufferView): string {
  const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

type JSONOptions = Record<string, unknown> & { challenge: string };
type Descriptor = { id: string } & Record<string, unknown>;

/** creationOptions turns the server's JSON creation options into the browser's. */
export function creationOptions(o: JSONOptions): PublicKeyCredentialCreationOptions {
  const user = o.user as { id: string } & Record<string, unknown>;
  return {
    ...(o as object),
    challenge: fromBase64url(o.challenge),
    user: { ...user, id: fromBase64url(user.id) },
    excludeCredentials: ((o.excludeCredentials as Descriptor[] | undefined) ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  } as PublicKeyCredentialCreationOptions;
}

/** requestOptions turns the server's JSON request options into the browser's. */
export function requestOptions(o: JSONOptions): PublicKeyCredentialRequestOptions {
  return {
    ...(o as object),
    challenge: fromBase64url(o.challenge),
    allowCredentials: ((o.allowCredentials as Descriptor[] | undefined) ?? []).map((c) => ({ ...c, id: fromBase64url(c.id) })),
  } as PublicKeyCredentialRequestOptions;
}

/** credentialJSON is PublicKeyCredential.toJSON, for browsers without it. */
export function credentialJSON(cred: PublicKeyCredential): unknown {
  const withJSON = cred as PublicKeyCredential & { toJSON?: () => unknown };
  if (typeof withJSON.toJSON === 'function') return withJSON.toJSON();
  const r = cred.response as AuthenticatorResponse & Record<string, unknown>;
  const response: Record<string, unknown> = { clientDataJSON: toBase64url(r.clientDataJSON) };
  for (const k of ['attestationObject', 'authenticatorData', 'signature', 'userHandle'] as const) {
    const v = r[k];
    if (v instanceof ArrayBuffer) response[k] = toBase64url(v);
  }
  if (typeof (r as { getTransports?: () => string[] }).getTransports === 'function') {
    response.transports = (r as unknown as { getTransports: () => string[] }).getTransports();
  }
  return {
    id: cred.id,
    rawId: toBase64url(cred.rawId),
    type: cred.type,
    response,
    authenticatorAttachment: cred.authenticatorAttachment ?? undefined,
    clientExtensionResults: cred.getClientExtensionResults(),
  };
}

/** listPasskeys: GET /passkeys (logged in). */
export async function listPasskeys(client: Client): Promise<Passkey[]> {
  return (await client.request<{ passkeys: Passkey[] }>('/passkeys')).passkeys;
}

/**
 * registerPasskey runs the registration ceremony: POST
 * /passkeys/register/begin (the password is needed when the login is not
 * recent: 403 reauth_required), navigator.credentials.create, then POST
 * /passkeys/register/finish. Rejects with a LatchkeyError, or the
 * browser's DOMException (NotAllowedError when the user cancels).
 */
export async function registerPasskey(client: Client, name = '', password = ''): Promise<Passkey> {
  const begin = await client.request<{ publicKey: JSONOptions }>('/passkeys/register/begin', {
    method: 'POST',
    json: password ? { password } : {},
  });
  const cred = (await navigator.credentials.create({ publicKey: creationOptions(begin.publicKey) })) as PublicKeyCredential | null;
  if (!cred) throw new DOMException('No passkey was made.', 'NotAllowedError');
  const body: Record<string, unknown> = { credential: credentialJSON(cred) };
  if (name) body.name = name;
  return (await client.request<{ passkey: Passkey }>('/passkeys/register/finish', { method: 'POST', json: body })).passkey;
}

/** renamePasskey: PATCH /passkeys/{id}. */
export async function renamePasskey(client: Client, id: number, name: string): Promise<void> {
  await client.request(`/passkeys/${id}`, { method: 'PATCH', json: { name } });
}

/** deletePasskey: DELETE /passkeys/{id}; the password when the login is not recent. */
export async function deletePasskey(client: Client, id: number, password = ''): Promise<void> {
  await client.request(`/passkeys/${id}`, { method: 'DELETE', json: password ? { password } : {} });
}

/**
 * signInWithPasskey signs in with a passkey alone: POST
 * /login/passkey/begin, navigator.credentials.get (the authenticator
 * offers its passkeys for this site), POST /login/passkey/finish. Resolves
 * with the user.
 */
export async function signInWithPasskey(client: Client, remember = false): Promise<User> {
  const begin = await client.request<{ publicKey: JSONOptions }>('/login/passkey/begin', { method: 'POST', json: {} });
  const cred = (await navigator.credentials.get({ publicKey: requestOptions(begin.publicKey) })) as PublicKeyCredential | null;
  if (!cred) throw new DOMException('No passkey was chosen.', 'NotAllowedError');
  const body = await client.request<{ user: User }>('/login/passkey/finish', {
    method: 'POST',
    json: { credential: credentialJSON(cred), remember },
  });
  return body.user;
}

/**
 * The passkey options of a login waiting for its second step, kept by the
 * login page for the second step's page (set from MFARequiredError's
 * webauthn, cleared once used).
 */
let waiting: { publicKey: JSONOptions } | undefined;

/** rememberSecondFactor keeps the passkey options of a login waiting for its second step. */
export function rememberSecondFactor(options: { publicKey: JSONOptions } | undefined): void {
  waiting = options;
}

/** canUsePasskeySecondFactor says whether the waiting login can take a passkey here. */
export function canUsePasskeySecondFactor(): boolean {
  return waiting !== undefined && passkeysSupported();
}

/**
 * passkeySecondFactor passes the second login step with a passkey: the
 * browser asks for one of the user's, over the waiting login's challenge,
 * and the client's loginMFA sends the assertion.
 */
export async function passkeySecondFactor(client: Client): Promise<User> {
  if (!waiting) throw new DOMException('No login is waiting for a passkey.', 'InvalidStateError');
  const cred = (await navigator.credentials.get({ publicKey: requestOptions(waiting.publicKey) })) as PublicKeyCredential | null;
  if (!cred) throw new DOMException('No passkey was chosen.', 'NotAllowedError');
  const user = await client.loginMFA({ webauthn: credentialJSON(cred) });
  waiting = undefined;
  return user;
}
