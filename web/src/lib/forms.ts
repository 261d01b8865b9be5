// Small helpers the account pages' forms share.
import { tick } from 'svelte';

/**
 * describedBy joins the ids that describe input ID for aria-describedby:
 * its hint, if any, and its error, ID-error, when it has one.
 */
export function describedBy(id: string, hasError: boolean, hint?: string): string | undefined {
  const ids = [hint, hasError ? `${id}-error` : undefined].filter(Boolean);
  return ids.length ? ids.join(' ') : undefined;
}

/**
 * revealMessage scrolls the page-wide #error or #notice into view once
 * rendered, for a form far down a long page whose outcome has no field to
 * focus. The focus stays where it is.
 */
export async function revealMessage(which: 'error' | 'notice'): Promise<void> {
  await tick();
  document.getElementById(which)?.scrollIntoView({ block: 'nearest' });
}
