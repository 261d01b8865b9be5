// The labels the activity lists show for each kind of security event.
import { describe, expect, it } from 'vitest';
import { eventLabel } from './events';
import type { SecurityEvent } from './latchkey';

describe('eventLabel', () => {
  const ev = (type: string, detail?: string, actorId?: number): SecurityEvent => ({
    id: '1',
    time: '2026-01-01T00:00:00Z',
    type,
    ip: '192.0.2.1',
    device: 'Firefox on Linux',
    ...(detail === undefined ? {} : { detail }),
    ...(actorId === undefined ? {} : { actorId }),
  });
  const cases: [string, SecurityEvent, string][] = [
    ['login', ev('login_succeeded'), 'Logged in'],
    ['login, remembered', ev('login_succeeded', 'remember me'), 'Logged in (remember me)'],
    ['wrong password', ev('login_failed', 'wrong_password'), 'Failed login: wrong password'],
    ['locked', ev('login_failed', 'locked'), 'Failed login: account locked'],
    ['wrong password to confirm', ev('login_failed', 'reauth_wrong_password'), 'Failed login: wrong password when confirming an action'],
    ['a reason of a newer server', ev('login_failed', 'moon_phase'), 'Failed login: moon phase'],
    ['logout', ev('logout'), 'Logged out'],
    ['one session', ev('session_revoked', 'Safari on iOS, 198.51.100.7'), 'Signed out a session (Safari on iOS, 198.51.100.7)'],
    ['one session, by an admin', ev('session_revoked', 'Safari on iOS, 198.51.100.7', 3), 'Signed out a session (Safari on iOS, 198.51.100.7) by an administrator'],
    ['the others', ev('sessions_revoked', 'others: 2'), 'Signed out everywhere else'],
    ['all, by an admin', ev('sessions_revoked', 'all: 3', 3), 'Signed out everywhere by an administrator'],
    ['password', ev('password_changed'), 'Password changed'],
    ['password and tokens', ev('password_changed', 'API tokens revoked'), 'Password changed, API tokens revoked'],
    ['password by the CLI', ev('password_changed', 'by an operator'), 'Password changed by an operator'],
    ['reset', ev('password_reset'), 'Password reset'],
    ['reset asked for by an admin', ev('password_reset_requested', undefined, 3), 'Password reset link requested by an administrator'],
    ['address', ev('email_changed'), 'Email address changed'],
    ['verified', ev('email_verified'), 'Email address verified'],
    ['locked by an admin', ev('account_locked', undefined, 3), 'Account locked by an administrator'],
    ['unlocked by the CLI', ev('account_unlocked'), 'Account unlocked'],
    ['deleted', ev('account_deleted'), 'Account deleted'],
    ['roles set', ev('role_changed', '=admin,editor', 3), 'Roles set to admin, editor by an administrator'],
    ['roles cleared', ev('role_changed', '='), 'Roles set to none'],
    ['role given', ev('role_changed', '+admin'), 'Role admin given'],
    ['role taken', ev('role_changed', '-admin'), 'Role admin taken away'],
    ['token', ev('api_token_created', 'backup script'), 'API token “backup script” created'],
    ['token revoked', ev('api_token_revoked', 'backup script'), 'API token “backup script” revoked'],
    ['reuse', ev('refresh_token_reuse', 'family 4'), 'Login ended: a refresh token was used twice'],
    ['login with the app', ev('login_succeeded', 'second factor: totp'), 'Logged in with authenticator app'],
    ['login with a recovery code, remembered', ev('login_succeeded', 'second factor: recovery code, 9 left, remember me'), 'Logged in with recovery code (remember me)'],
    ['login with a passkey', ev('login_succeeded', 'passkey, remember me'), 'Logged in with a passkey (remember me)'],
    ['wrong code', ev('mfa_failed', 'totp_wrong_code'), 'Failed second step: wrong code'],
    ['replayed code', ev('mfa_failed', 'totp_replayed'), 'Failed second step: code used already'],
    ['app set up', ev('mfa_enabled', 'totp'), 'Authenticator app set up'],
    ['app removed', ev('mfa_disabled', 'totp'), 'Authenticator app removed'],
    ['factors reset by the CLI', ev('mfa_disabled', 'reset by an operator'), 'Two-factor authentication removed by an operator'],
    ['recovery code', ev('recovery_code_used', '9 left'), 'Recovery code used (9 left)'],
    ['new codes', ev('recovery_codes_regenerated'), 'New recovery codes made'],
    ['a kind of a newer server', ev('passkey_added'), 'Passkey added'],
  ];
  for (const [name, e, want] of cases) {
    it(name, () => expect(eventLabel(e)).toBe(want));
  }
});
