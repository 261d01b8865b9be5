// The page-wide messages: #error (role="alert") and #notice (role="status"),
// shown by App.svelte above every page and set by any page.
import { LatchkeyError, NETWORK_ERROR_MESSAGE } from './latchkey';

/** flash holds the current error and notice; an empty string hides each. */
export const flash = $state({ error: '', notice: '' });

export const EXPIRED_NOTICE = 'Your session has expired. Please log in again.';
export const LOGGED_OUT_NOTICE = 'You have been logged out.';

/** clearMessages hides both messages, as a new attempt starts. */
export function clearMessages(): void {
  flash.error = '';
  flash.notice = '';
}

/** seconds says n seconds in words: "1 second", "3 seconds". */
function seconds(n: number): string {
  return n === 1 ? '1 second' : `${n} seconds`;
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
        ? `Too many attempts. Try again in ${seconds(err.retryAfter)}.`
        : 'Too many attempts. Wait a little and try again.';
    case 'busy':
      return err.retryAfter !== undefined
        ? `The server is busy. Try again in ${seconds(err.retryAfter)}.`
        : 'The server is busy. Try again in a moment.';
    case 'csrf_failed':
      return 'This page is out of date. Reload it and try again.';
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
