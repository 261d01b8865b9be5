// The sentences users (and the browser tests) see for each failure.
import { describe as group, expect, it } from 'vitest';
import { LatchkeyError, NETWORK_ERROR_MESSAGE } from './latchkey';
import { describe } from './messages.svelte';
import { pathOf, routeOf } from './routes';

group('describe', () => {
  const cases: [string, unknown, string][] = [
    ['wrong password', new LatchkeyError(401, 'invalid_credentials', 'The username or password is incorrect.'), 'Wrong username or password.'],
    ['throttled', new LatchkeyError(429, 'too_many_attempts', 'x', { retryAfter: 3 }), 'Too many attempts. Try again in 3 seconds.'],
    ['throttled for a second', new LatchkeyError(429, 'too_many_attempts', 'x', { retryAfter: 1 }), 'Too many attempts. Try again in 1 second.'],
    ['throttled, no Retry-After', new LatchkeyError(429, 'too_many_attempts', 'x'), 'Too many attempts. Wait a little and try again.'],
    ['offline', new LatchkeyError(0, 'network_error', NETWORK_ERROR_MESSAGE), 'Cannot reach the server. Check your connection and try again.'],
    ['busy', new LatchkeyError(503, 'busy', 'x', { retryAfter: 2 }), 'The server is busy. Try again in 2 seconds.'],
    ['busy for a second', new LatchkeyError(503, 'busy', 'x', { retryAfter: 1 }), 'The server is busy. Try again in 1 second.'],
    ['field error keeps the server text', new LatchkeyError(400, 'weak_password', 'Password must be at least 8 characters.', { field: 'password' }), 'Password must be at least 8 characters.'],
    ['token mode, login ended', new LatchkeyError(401, 'token_reused', 'This login has ended.'), 'Your session has expired. Please log in again.'],
    ['token mode, not renewed', new LatchkeyError(401, 'token_expired', 'The access token has expired.'), 'Your session has expired. Please log in again.'],
    ['proxy error page', new LatchkeyError(502, 'http_502', 'x'), 'The server could not answer (502). Please try again later.'],
    ['not a LatchkeyError', new Error('boom'), 'Something went wrong. Please try again.'],
  ];
  for (const [name, err, want] of cases) {
    it(name, () => expect(describe(err)).toBe(want));
  }
});

group('routes', () => {
  it('maps paths to routes and back', () => {
    expect(routeOf('/')).toBe('login');
    expect(routeOf('/register')).toBe('register');
    expect(routeOf('/user')).toBe('user');
    expect(routeOf('/user/')).toBe('user');
    expect(routeOf('/nope')).toBeNull();
    expect(pathOf('user')).toBe('/user');
  });
});
