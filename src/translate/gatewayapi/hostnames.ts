// Gateway API host name patterns: `*` (any host), `*.example.com` (one or more labels in front of the
// suffix) and exact names, all lower-case. Listener/route intersection, coverage and specificity live here so
// attachment, listener isolation and precedence agree on one definition.

export const ANY_HOST = '*';

export function isWildcard(pattern: string): boolean {
  return pattern.startsWith('*.');
}

/** Whether every host `inner` stands for is also matched by `outer`. */
export function hostnameCovers(outer: string, inner: string): boolean {
  if (outer === ANY_HOST) return true;
  if (inner === ANY_HOST) return false;
  if (!isWildcard(outer)) return inner === outer;
  const suffix = outer.slice(1);
  // A wildcard never matches its bare suffix: `*.example.com` does not cover `example.com`.
  if (!isWildcard(inner)) return inner.endsWith(suffix) && inner.length > suffix.length;
  return inner.slice(1).endsWith(suffix);
}

/**
 * The hosts a listener and a route hostname have in common, as one pattern, or undefined when none: the more
 * specific of the two when one covers the other (`*.com` on a `*.example.com` listener gives `*.example.com`).
 * Two patterns that overlap without one covering the other cannot occur: wildcards only take a leading label.
 */
export function hostnameIntersection(a: string, b: string): string | undefined {
  if (hostnameCovers(a, b)) return b;
  if (hostnameCovers(b, a)) return a;
  return undefined;
}

function specificityClass(pattern: string): number {
  if (pattern === ANY_HOST) return 2;
  return isWildcard(pattern) ? 1 : 0;
}

/**
 * Most specific first: exact names before wildcards before the catch-all; longer names first within a class
 * (for wildcards that covers the same hosts, the longer suffix is the narrower one), then alphabetically.
 */
export function compareHostSpecificity(a: string, b: string): number {
  return specificityClass(a) - specificityClass(b) || b.length - a.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The host pattern a listener stands for: its hostname, or any host when it has none. */
export function listenerPattern(hostname: string | undefined): string {
  return hostname === undefined || hostname === '' ? ANY_HOST : hostname.toLowerCase();
}
