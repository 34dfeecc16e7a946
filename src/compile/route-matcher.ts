import type { HeaderMatch, QueryParamMatch, Route } from '../ir/types.ts';

/** What a route match looks at, gathered once per request. */
export interface MatchInput {
  readonly path: string;
  readonly method: string;
  /** Lower-case header name → values (node's `req.headersDistinct` shape). */
  readonly headers: Readonly<Record<string, readonly string[] | undefined>>;
  /** Raw query string without `?`, or '' */
  readonly query: string;
}

class CompiledHeaderMatch {
  readonly name: string;
  readonly exact: string | null;
  readonly regex: RegExp | null;
  constructor(m: HeaderMatch | QueryParamMatch, lowerName: boolean) {
    this.name = lowerName ? m.name.toLowerCase() : m.name;
    this.exact = m.kind === 'Exact' ? m.value : null;
    this.regex = m.kind === 'RegularExpression' ? new RegExp(`^(?:${m.value})$`) : null;
  }
  test(value: string): boolean {
    return this.exact !== null ? value === this.exact : (this.regex as RegExp).test(value);
  }
}

function decodeQueryPart(raw: string): string {
  if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0) return raw;
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}

/** The first value of a query parameter, names and values percent-decoded (`+` as space). */
function queryValue(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const keyEnd = eq >= 0 && eq < end ? eq : end;
    if (decodeQueryPart(query.slice(start, keyEnd)) === name) {
      return keyEnd < end ? decodeQueryPart(query.slice(keyEnd + 1, end)) : '';
    }
    start = end + 1;
  }
  return undefined;
}

/** The parts of a route match other than the path, which the path index already decided. */
export class ExtraMatcher {
  readonly method: string | null;
  readonly headers: readonly CompiledHeaderMatch[];
  readonly query: readonly CompiledHeaderMatch[];
  readonly trivial: boolean;

  constructor(route: Route) {
    this.method = route.match.method ?? null;
    this.headers = route.match.headers.map((h) => new CompiledHeaderMatch(h, true));
    this.query = route.match.queryParams.map((q) => new CompiledHeaderMatch(q, false));
    this.trivial = this.method === null && this.headers.length === 0 && this.query.length === 0;
  }

  test(input: MatchInput): boolean {
    if (this.trivial) return true;
    if (this.method !== null && input.method !== this.method) return false;
    for (let i = 0; i < this.headers.length; i++) {
      const h = this.headers[i] as CompiledHeaderMatch;
      const values = input.headers[h.name];
      // Repeated headers are matched on their comma-joined value, as RFC 9110 folds them.
      if (values === undefined || !h.test(values.length === 1 ? (values[0] as string) : values.join(','))) return false;
    }
    for (let i = 0; i < this.query.length; i++) {
      const q = this.query[i] as CompiledHeaderMatch;
      const value = queryValue(input.query, q.name);
      if (value === undefined || !q.test(value)) return false;
    }
    return true;
  }
}

/** Element-wise prefix test: `/foo` covers `/foo`, `/foo/` and `/foo/x` but not `/foox`. */
export function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}
