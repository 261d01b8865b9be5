// The navigation function App.svelte hands to every page.

/** How navigate changes the history and what it shows on arrival. */
export interface NavigateOptions {
  /** "push" adds a history entry; "replace" (default) rewrites the current one. */
  mode?: 'push' | 'replace';
  /** Text for #notice on the new page. */
  notice?: string;
  /** Text for #error on the new page. */
  error?: string;
}

/** Navigate shows the page at path, after the session guard; see App.svelte. */
export type Navigate = (path: string, opts?: NavigateOptions) => Promise<void>;
