// The sentences users (and the browser tests) see for each failure.
import { describe as group, expect, it } from 'vitest';
import { LatchkeyError, NETWORK_ERROR_MESSAGE } from './latchkey';
import {
  describe,
  duration,
  emailChangeSentNotice,
  othersSignedOutNotice,
  sessionSignedOutNotice,
  verificationSentNotice,
} from './messages.svelte';
import { accessOf, pathOf, routeOf, takeToken, type Route } from './routes';

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
    ['used or expired link', new LatchkeyError(400, 'invalid_token', 'x', { field: 'token' }), 'This link is invalid, has expired or was used already.'],
    ['login before verifying', new LatchkeyError(403, 'email_unverified', 'x'), 'Verify your email address first: follow the link we have just sent to it, then log in.'],
    ['login too old for the change', new LatchkeyError(403, 'reauth_required', 'x', { field: 'password' }), 'For your security, enter your current password to do this.'],
    ['wrong current password', new LatchkeyError(403, 'wrong_password', 'x', { field: 'currentPassword' }), 'That is not your current password.'],
    ['address of another account', new LatchkeyError(409, 'email_taken', 'x', { field: 'email' }), 'Another account uses that email address.'],
    ['no address to verify', new LatchkeyError(409, 'no_email', 'x', { field: 'email' }), 'Your account has no email address.'],
    ['too many emails', new LatchkeyError(429, 'too_many_emails', 'x', { retryAfter: 45 }), 'Too many emails asked for. Try again in 45 seconds.'],
    ['too many emails, minutes', new LatchkeyError(429, 'too_many_emails', 'x', { retryAfter: 61 }), 'Too many emails asked for. Try again in 2 minutes.'],
    ['too many emails, no Retry-After', new LatchkeyError(429, 'too_many_emails', 'x'), 'Too many emails asked for. Wait a little and try again.'],
    ['not an admin', new LatchkeyError(403, 'forbidden', 'x'), 'You are not allowed to do this.'],
    ['locked account', new LatchkeyError(403, 'account_locked', 'x'), "This account is locked. Contact the site's administrators."],
    ['an admin on their own account', new LatchkeyError(409, 'self_action', 'x'), 'You cannot do this to your own account.'],
    ['wrong second-factor code', new LatchkeyError(401, 'invalid_code', 'x', { field: 'code' }), 'That code is wrong or was used already.'],
    ['second step too late', new LatchkeyError(401, 'mfa_expired', 'x'), 'Your sign-in took too long or was not started here. Log in with your password again.'],
    ['app set up twice', new LatchkeyError(409, 'mfa_enabled', 'x'), 'An authenticator app is set up already.'],
    ['no app to remove', new LatchkeyError(409, 'mfa_not_enabled', 'x'), 'Two-factor authentication is not set up.'],
    ['set-up too old', new LatchkeyError(409, 'mfa_setup_expired', 'x'), 'The set-up took too long. Start again.'],
    ['weak new password keeps the server text', new LatchkeyError(400, 'weak_password', 'Password is too common.', { field: 'newPassword' }), 'Password is too common.'],
  ];
  for (const [name, err, want] of cases) {
    it(name, () => expect(describe(err)).toBe(want));
  }
});

group('duration', () => {
  const cases: [number, string][] = [
    [0, '0 seconds'],
    [1, '1 second'],
    [59, '59 seconds'],
    [60, '1 minute'],
    [61, '2 minutes'],
    [3599, '60 minutes'],
    [3600, '1 hour'],
    [7201, '3 hours'],
  ];
  for (const [n, want] of cases) {
    it(`${n} s`, () => expect(duration(n)).toBe(want));
  }
});

group('account notices', () => {
  it('name the address', () => {
    expect(verificationSentNotice('a@example.com')).toBe('A new link is on its way to a@example.com. Follow it to verify your address.');
    expect(emailChangeSentNotice('b@example.com')).toBe('A link is on its way to b@example.com. Your address changes once you follow it.');
  });

  it('say which sessions were signed out', () => {
    expect(sessionSignedOutNotice('Safari on iOS', '198.51.100.7')).toBe('Safari on iOS (198.51.100.7) is signed out.');
    expect(sessionSignedOutNotice('', '')).toBe('The session is signed out.');
    expect(othersSignedOutNotice(0)).toBe('You were logged in nowhere else.');
    expect(othersSignedOutNotice(1)).toBe('Signed out of 1 other session.');
    expect(othersSignedOutNotice(3)).toBe('Signed out of 3 other sessions.');
  });
});

group('routes', () => {
  it('maps paths to routes and back', () => {
    expect(routeOf('/')).toBe('login');
    expect(routeOf('/register')).toBe('register');
    expect(routeOf('/user')).toBe('user');
    expect(routeOf('/user/')).toBe('user');
    expect(routeOf('/nope')).toBeNull();
    expect(routeOf('/login/mfa')).toBe('login-mfa');
    expect(routeOf('/login')).toBe('login');
    expect(pathOf('user')).toBe('/user');
  });

  it('has the pages of the account flows, at the paths mailed links open', () => {
    expect(routeOf('/account')).toBe('account');
    expect(routeOf('/admin')).toBe('admin');
    expect(routeOf('/forgot-password')).toBe('forgot-password');
    expect(routeOf('/reset-password')).toBe('reset-password');
    expect(routeOf('/verify-email')).toBe('verify-email');
    expect(routeOf('/confirm-email/')).toBe('confirm-email');
    expect(pathOf('reset-password')).toBe('/reset-password');
  });

  it('says who may see each page', () => {
    const of = (routes: Route[]) => routes.map(accessOf);
    expect(of(['login', 'login-mfa', 'register', 'forgot-password'])).toEqual(['guest', 'guest', 'guest', 'guest']);
    expect(of(['user', 'account', 'admin'])).toEqual(['private', 'private', 'private']);
    expect(of(['reset-password', 'verify-email', 'confirm-email'])).toEqual(['open', 'open', 'open']);
  });

  it('takes the token out of a link', () => {
    expect(takeToken('?token=1.abc')).toEqual({ token: '1.abc', rest: '' });
    expect(takeToken('?utm=mail&token=1.abc')).toEqual({ token: '1.abc', rest: '?utm=mail' });
    expect(takeToken('')).toEqual({ token: '', rest: '' });
  });
});
