// How the pages show times.

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * when shows an RFC 3339 time in the reader's locale and time zone ("Jan 2,
 * 2026, 3:04 PM"); "" for none, and the text itself if it is not a time.
 */
export function when(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFormat.format(d);
}
