// The page-wide messages: #error (role="alert") and #notice (role="status"),
// shown by App.svelte above every page and set by any page.
import { LatchkeyError, NETWORK_ERROR_MESSAGE } from './latchkey';

/** flash holds the current error and notice; an empty string hides each. */
export const flash = $state({ error: '', notice: '' });

export const EXPIRED_NOTICE = 'Your session has expired. Please log in again.';
export const LOGGED_OUT_NOTICE = 'You have been logged out.';

// The account flows' outcomes.
/** What /forgot-password says whatever the answer: it never tells whether an account exists. */
export const FORGOT_SENT_NOTICE =
  'If an account has that email address or username, a link to reset its password is on its way to its email address.';
/** What /login/email/start says whatever the answer: it never tells whether an account exists. */
export const EMAIL_LOGIN_SENT_NOTICE =
  'If an account has that email address verified, a sign-in link and code are on their way to it.';
export const PASSWORD_RESET_NOTICE = 'Your password has been reset. Log in with the new one.';
export const PASSWORD_CHANGED_NOTICE = 'Your password has been changed. Your other sessions have ended.';
export const EMAIL_VERIFIED_NOTICE = 'Your email address is verified.';
export const EMAIL_VERIFIED_LOGIN_NOTICE = 'Your email address is verified. You can log in now.';
export const EMAIL_CHANGED_NOTICE = 'Your email address has been changed.';
export const ALREADY_VERIFIED_NOTICE = 'Your email address is already verified.';
export const ACCOUNT_DELETED_NOTICE = 'Your account has been deleted.';
export const REGISTERED_VERIFY_NOTICE =
  'Your account is ready. Follow the link we sent to your email address to verify it, then log in.';
export const INVALID_LINK = 'This link is invalid, has expired or was used already.';
export const LINKS_EXPIRE = 'Each link works once, for a limited time.';
export const MISSING_LINK = 'This page needs the link from your email. Open the link again, or ask for a new one.';
export const PASSWORDS_DIFFER = 'The two passwords do not match.';
export const MFA_ENABLED_NOTICE = 'Two-factor authentication is on. Keep your recovery codes somewhere safe.';
export const MFA_DISABLED_NOTICE = 'Two-factor authentication is off: logging in needs only your password.';
export const CODES_REGENERATED_NOTICE = 'New recovery codes: the old ones no longer work.';
export const MFA_EXPIRED = 'Your sign-in took too long or was not started here. Log in with your password again.';
export const CONFIRM_DELETE = 'Tick the box to confirm that you want to delete your account.';

// Sessions, activity and the admin page.
export const FORBIDDEN = 'You are not allowed to do this.';
export const SESSION_GONE = 'That session had ended already.';
export const USER_GONE = 'That user does not exist any more.';
export const CONFIRM_DELETE_USER = 'Tick the box to confirm that you want to delete this account.';

/** sessionSignedOutNotice says which session was signed out. */
export function sessionSignedOutNotice(device: string, ip: string): string {
  return `${device || 'The session'}${ip ? ` (${ip})` : ''} is signed out.`;
}

/** othersSignedOutNotice says how many other sessions were signed out. */
export function othersSignedOutNotice(n: number): string {
  if (n === 0) return 'You were logged in nowhere else.';
  return `Signed out of ${plural(n, 'other session')}.`;
}

/** verificationSentNotice says a new verification link went to address. */
export function verificationSentNotice(address: string): string {
  return `A new link is on its way to ${address}. Follow it to verify your address.`;
}

/** emailChangeSentNotice says a confirmation link went to the new address. */
export function emailChangeSentNotice(address: string): string {
  return `A link is on its way to ${address}. Your address changes once you follow it.`;
}

/** clearMessages hides both messages, as a new attempt starts. */
export function clearMessages(): void {
  flash.error = '';
  flash.notice = '';
}

/** plural says n things in words: "1 second", "3 seconds". */
function plural(n: number, unit: string): string {
  return n === 1 ? `1 ${unit}` : `${n} ${unit}s`;
}

/**
 * duration says a wait of n seconds in words, rounded up to whole minutes
 * from a minute on and to whole hours from an hour on (mail budgets refill
 * slowly): "3 seconds", "2 minutes", "1 hour".
 */
export function duration(n: number): string {
  if (n < 60) return plural(n, 'second');
  if (n < 3600) return plural(Math.ceil(n / 60), 'minute');
  return plural(Math.ceil(n / 3600), 'hour');
}

/** describe turns a failed call into the sentence the user sees. */
export function describe(err: unknown): string {
  if (!(err instanceof LatchkeyError)) return 'Something went wrong. Please try again.';
  switch (err.code) {
    case 'network_error':
      return NETWORK_ERROR_MESSAGE;
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'too_many_attempts':
      return err.retryAfter !== undefined
        ? `Too many attempts. Try again in ${duration(err.retryAfter)}.`
        : 'Too many attempts. Wait a little and try again.';
    case 'busy':
      return err.retryAfter !== undefined
        ? `The server is busy. Try again in ${duration(err.retryAfter)}.`
        : 'The server is busy. Try again in a moment.';
    case 'too_many_emails':
      return err.retryAfter !== undefined
        ? `Too many emails asked for. Try again in ${duration(err.retryAfter)}.`
        : 'Too many emails asked for. Wait a little and try again.';
    case 'csrf_failed':
      return 'This page is out of date. Reload it and try again.';
    case 'invalid_token':
      return INVALID_LINK;
    case 'email_unverified':
      return 'Verify your email address first: follow the link we have just sent to it, then log in.';
    case 'reauth_required':
      return 'For your security, enter your current password to do this.';
    case 'wrong_password':
      return 'That is not your current password.';
    case 'email_taken':
      return 'Another account uses that email address.';
    case 'no_email':
      return 'Your account has no email address.';
    case 'forbidden':
      return FORBIDDEN;
    case 'account_locked':
      return "This account is locked. Contact the site's administrators.";
    case 'self_action':
      return 'You cannot do this to your own account.';
    case 'invalid_code':
      return 'That code is wrong or was used already.';
    case 'mfa_expired':
      return MFA_EXPIRED;
    case 'mfa_enabled':
      return 'An authenticator app is set up already.';
    case 'mfa_not_enabled':
      return 'Two-factor authentication is not set up.';
    case 'mfa_setup_expired':
      return 'The set-up took too long. Start again.';
    case 'unauthorized':
    case 'token_expired': // token mode, when the access token could not be renewed
    case 'token_reused': // token mode: the login was ended for safety
      return EXPIRED_NOTICE;
  }
  if (err.status >= 500 || err.code.startsWith('http_')) {
    return `The server could not answer (${err.status}). Please try again later.`;
  }
  return err.message;
}
