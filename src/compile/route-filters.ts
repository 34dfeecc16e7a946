import type { HeaderModifier, PathModifier, RouteFilters } from '../ir/types.ts';
import type { UpstreamBackend } from '../upstream/backend.ts';

/** A header modifier with names lower-cased once, applied to flat [name, value, ...] lists. */
export class CompiledHeaderModifier {
  /** Names whose existing values go: those removed and those set. */
  readonly #drop: ReadonlySet<string>;
  /** [name, value, ...] appended after the drop: set values first, then added ones. */
  readonly #append: readonly string[];

  constructor(m: HeaderModifier) {
    const drop = new Set<string>();
    for (const name of m.remove) drop.add(name.toLowerCase());
    const append: string[] = [];
    for (const h of m.set) {
      drop.add(h.name.toLowerCase());
      append.push(h.name.toLowerCase(), h.value);
    }
    for (const h of m.add) append.push(h.name.toLowerCase(), h.value);
    this.#drop = drop;
    this.#append = append;
  }

  /** Applies to a flat header list, returning a new one. */
  applyFlat(headers: readonly string[]): string[] {
    const out: string[] = [];
    for (let i = 0; i < headers.length; i += 2) {
      if (this.#drop.has((headers[i] as string).toLowerCase())) continue;
      out.push(headers[i] as string, headers[i + 1] as string);
    }
    for (let i = 0; i < this.#append.length; i++) out.push(this.#append[i] as string);
    return out;
  }

  /** Applies to a response header object (lower-case names), in place. */
  applyObject(headers: Record<string, string | string[] | undefined>): void {
    for (const name of this.#drop) delete headers[name];
    for (let i = 0; i < this.#append.length; i += 2) {
      const name = this.#append[i] as string;
      const value = this.#append[i + 1] as string;
      const prior = headers[name];
      if (prior === undefined) headers[name] = value;
      else if (Array.isArray(prior)) prior.push(value);
      else headers[name] = [prior, value];
    }
  }
}

/**
 * Rewrites a normalised path. ReplacePrefixMatch swaps the element-wise prefix the route matched:
 * prefix `/foo` with `/bar` turns `/foo/x` into `/bar/x` and `/foo` into `/bar`; with `/` it gives `/x` and `/`.
 */
export function rewritePath(path: string, modifier: PathModifier, matchedPrefix: string | null): string {
  if (modifier.kind === 'ReplaceFullPath') return modifier.value;
  const prefix = matchedPrefix === null || matchedPrefix === '/' ? '' : matchedPrefix;
  const rest = path.slice(prefix.length);
  const replacement = modifier.value.endsWith('/') ? modifier.value.slice(0, -1) : modifier.value;
  if (rest === '' || rest === '/') return replacement === '' ? '/' : `${replacement}${rest}`;
  return `${replacement}${rest}`;
}

export class CompiledMirror {
  readonly backend: UpstreamBackend;
  /** Probability in [0, 1]. */
  readonly ratio: number;
  constructor(backend: UpstreamBackend, percent: number) {
    this.backend = backend;
    this.ratio = Math.max(0, Math.min(100, percent)) / 100;
  }
}

/** Route or backend filters, compiled; null fields mean nothing to do. */
export class CompiledFilters {
  readonly requestHeaders: CompiledHeaderModifier | null;
  readonly responseHeaders: CompiledHeaderModifier | null;
  readonly rewriteHost: string | null;
  readonly rewritePath: PathModifier | null;
  readonly mirrors: readonly CompiledMirror[];

  constructor(f: RouteFilters | undefined, backends: ReadonlyMap<string, UpstreamBackend>) {
    this.requestHeaders = f?.requestHeaders === undefined ? null : new CompiledHeaderModifier(f.requestHeaders);
    this.responseHeaders = f?.responseHeaders === undefined ? null : new CompiledHeaderModifier(f.responseHeaders);
    this.rewriteHost = f?.urlRewrite?.hostname ?? null;
    this.rewritePath = f?.urlRewrite?.path ?? null;
    const mirrors: CompiledMirror[] = [];
    for (const m of f?.mirrors ?? []) {
      const b = backends.get(m.backend);
      if (b !== undefined && b.unavailableStatus === 0) mirrors.push(new CompiledMirror(b, m.percent));
    }
    this.mirrors = mirrors;
  }

  static of(f: RouteFilters | undefined, backends: ReadonlyMap<string, UpstreamBackend>): CompiledFilters | null {
    if (f === undefined) return null;
    const c = new CompiledFilters(f, backends);
    const empty =
      c.requestHeaders === null &&
      c.responseHeaders === null &&
      c.rewriteHost === null &&
      c.rewritePath === null &&
      c.mirrors.length === 0;
    return empty ? null : c;
  }
}
