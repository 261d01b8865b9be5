// What the activity lists say about each security event.
import type { SecurityEvent } from './latchkey';

/** Why a login failed, from the event's detail. */
const loginFailures: Record<string, string> = {
  wrong_password: 'wrong password',
  reauth_wrong_password: 'wrong password when confirming an action',
  unknown_user: 'unknown username',
  locked: 'account locked',
  unverified: 'email address not verified',
  throttled: 'too many attempts',
};

/** The events whose label says it all; their detail is left out. */
const plain: Record<string, string> = {
  logout: 'Logged out',
  password_reset: 'Password reset',
  password_reset_requested: 'Password reset link requested',
  email_changed: 'Email address changed',
  account_locked: 'Account locked',
  account_unlocked: 'Account unlocked',
  account_deleted: 'Account deleted',
  refresh_token_reuse: 'Login ended: a refresh token was used twice',
  recovery_codes_regenerated: 'New recovery codes made',
};

/** The second factors, by the name events give them. */
const factors: Record<string, string> = {
  totp: 'authenticator app',
  'recovery code': 'recovery code',
};

/** Why a second login step failed, from the event's detail. */
const mfaFailures: Record<string, string> = {
  totp_wrong_code: 'wrong code',
  totp_replayed: 'code used already',
  recovery_code_wrong: 'wrong recovery code',
};

/** listOfRoles says a role list in words: "admin, editor" or "none". */
function listOfRoles(s: string): string {
  const roles = s.split(',').filter(Boolean);
  return roles.length ? roles.join(', ') : 'none';
}

/** what says what happened, without who did it. */
function what(e: SecurityEvent): string {
  const d = e.detail ?? '';
  switch (e.type) {
    case 'login_succeeded': {
      // "remember me", "passkey[, remember me]" or "second factor: totp[, remember me]"
      const remembered = d.endsWith('remember me') ? ' (remember me)' : '';
      if (d.startsWith('passkey')) return `Logged in with a passkey${remembered}`;
      const m = /^second factor: ([^;,]+)/.exec(d);
      if (!m) return `Logged in${remembered}`;
      return `Logged in with ${factors[m[1]] ?? m[1]}${remembered}`;
    }
    case 'mfa_failed':
      return d ? `Failed second step: ${mfaFailures[d] ?? d.replaceAll('_', ' ')}` : 'Failed second step';
    case 'mfa_enabled':
      return d === 'totp' ? 'Authenticator app set up' : 'Two-factor authentication turned on';
    case 'mfa_disabled':
      if (d === 'reset by an operator') return 'Two-factor authentication removed by an operator';
      return d === 'totp' ? 'Authenticator app removed' : 'Two-factor authentication turned off';
    case 'recovery_code_used':
      return d ? `Recovery code used (${d})` : 'Recovery code used';
    case 'login_failed':
      return d ? `Failed login: ${loginFailures[d] ?? d.replaceAll('_', ' ')}` : 'Failed login';
    case 'session_revoked':
      return d ? `Signed out a session (${d})` : 'Signed out a session';
    case 'sessions_revoked':
      if (d.startsWith('others:')) return 'Signed out everywhere else';
      if (d.startsWith('all:')) return 'Signed out everywhere';
      return 'Signed out of sessions';
    case 'password_changed':
      if (d === 'API tokens revoked') return 'Password changed, API tokens revoked';
      return d === 'by an operator' ? 'Password changed by an operator' : 'Password changed';
    case 'email_verified':
      return d === 'by an operator' ? 'Email address marked verified by an operator' : 'Email address verified';
    case 'role_changed':
      if (d.startsWith('=')) return `Roles set to ${listOfRoles(d.slice(1))}`;
      if (d.startsWith('+')) return `Role ${d.slice(1)} given`;
      if (d.startsWith('-')) return `Role ${d.slice(1)} taken away`;
      return 'Roles changed';
    case 'api_token_created':
      return d ? `API token “${d}” created` : 'API token created';
    case 'api_token_revoked':
      return d ? `API token “${d}” revoked` : 'API token revoked';
  }
  if (e.type in plain) return plain[e.type];
  // A kind this app does not know yet: its name, in words.
  const words = e.type.replaceAll('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * eventLabel says what a security event records, in a short sentence for
 * people: "Logged in", "Failed login: wrong password", "Account locked by
 * an administrator".
 */
export function eventLabel(e: SecurityEvent): string {
  const s = what(e);
  return e.actorId ? `${s} by an administrator` : s;
}
