import { describe, expect, it, vi } from 'vitest';
import { creationOptions, fromBase64url, requestOptions, toBase64url, registerPasskey } from './passkeys';
import type { Client } from './latchkey';

describe('base64url', () => {
  it('round-trips every byte value, unpadded', () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    const s = toBase64url(bytes);
    expect(s).not.toMatch(/[+/=]/);
    expect(new Uint8Array(fromBase64url(s))).toEqual(bytes);
  });
  it('decodes padded input too', () => {
    expect(new Uint8Array(fromBase64url('AQI='))).toEqual(new Uint8Array([1, 2]));
  });
});

describe('options', () => {
  it('turns the creation options into bytes where WebAuthn wants them', () => {
    const o = creationOptions({
      challenge: 'AQID',
      rp: { id: 'example.com', name: 'x' },
      user: { id: 'BAU', name: 'ann', displayName: 'ann' },
      excludeCredentials: [{ id: 'Bgc', type: 'public-key' }],
    });
    expect(new Uint8Array(o.challenge as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
    expect(new Uint8Array(o.user.id as ArrayBuffer)).toEqual(new Uint8Array([4, 5]));
    expect(new Uint8Array(o.excludeCredentials![0].id as ArrayBuffer)).toEqual(new Uint8Array([6, 7]));
    expect(o.rp.id).toBe('example.com');
  });
  it('turns the request options into bytes, with no credentials named for a passkey sign-in', () => {
    const o = requestOptions({ challenge: 'AQID', rpId: 'example.com', userVerification: 'required' });
    expect(o.allowCredentials).toEqual([]);
    expect(o.userVerification).toBe('required');
  });
});

describe('registerPasskey', () => {
  it('begins with the password only when given, and finishes with the named credential', async () => {
    const calls: { path: string; json: unknown }[] = [];
    const client = {
      request: vi.fn(async (path: string, init: { json: unknown }) => {
        calls.push({ path, json: init.json });
        if (path === '/passkeys/register/begin') {
          return { publicKey: { challenge: 'AQID', rp: { id: 'example.com' }, user: { id: 'BAU' } } };
        }
        return { passkey: { id: 1, name: 'laptop' } };
      }),
    } as unknown as Client;
    const made = { id: 'x', toJSON: () => ({ id: 'x', type: 'public-key' }) };
    vi.stubGlobal('navigator', { credentials: { create: vi.fn(async () => made) } });
    const p = await registerPasskey(client, 'laptop');
    expect(p.name).toBe('laptop');
    expect(calls).toEqual([
      { path: '/passkeys/register/begin', json: {} },
      { path: '/passkeys/register/finish', json: { credential: { id: 'x', type: 'public-key' }, name: 'laptop' } },
    ]);
    vi.unstubAllGlobals();
  });
});
