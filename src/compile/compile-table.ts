import { createHash } from 'node:crypto';
import type { Diagnostic, HTTPListener, IR, RedirectAction, Route, SourceRef } from '../ir/types.ts';
import { UpstreamBackend } from '../upstream/backend.ts';
import type { PoolRegistry } from '../upstream/pools.ts';
import { CompiledStreamListener } from './compile-stream.ts';
import { HostRouter } from './host-router.ts';
import { PathIndex } from './path-index.ts';
import { CompiledFilters } from './route-filters.ts';
import { SourceRangeList } from './source-ranges.ts';
import { compileListenerTLS, type KeyPair, type SecureContextCache, type SniTable } from './tls-contexts.ts';
import { WeightedBackends } from './weighted-backends.ts';

export const ACTION_FORWARD = 0;
export const ACTION_REDIRECT = 1;
export const ACTION_DIRECT = 2;

const NO_BACKEND: readonly UpstreamBackend[] = [];

export class CompiledRoute {
  readonly name: string;
  readonly source: SourceRef;
  readonly action: number;
  readonly backends: readonly UpstreamBackend[];
  readonly #weighted: WeightedBackends | null;
  /** Per-backend filters, parallel to `backends`. */
  readonly backendFilters: readonly (CompiledFilters | null)[];
  readonly redirect: RedirectAction | null;
  readonly directStatus: number;
  readonly directBody: string;
  readonly filters: CompiledFilters | null;
  /** The Prefix value the route matched on, for ReplacePrefixMatch; null for other path matches. */
  readonly matchedPrefix: string | null;
  /** 0: none. */
  readonly requestTimeoutMs: number;
  readonly backendTimeoutMs: number;
  /** null: every client address is served. */
  readonly allow: SourceRangeList | null;

  constructor(route: Route, backends: ReadonlyMap<string, UpstreamBackend>) {
    this.name = route.name;
    this.allow = route.allow === undefined ? null : new SourceRangeList(route.allow);
    this.source = route.source;
    this.filters = CompiledFilters.of(route.filters, backends);
    const p = route.match.path;
    this.matchedPrefix =
      p.kind === 'Prefix' ? (p.value.length > 1 && p.value.endsWith('/') ? p.value.slice(0, -1) : p.value) : null;
    this.requestTimeoutMs = route.timeouts?.requestMs ?? 0;
    this.backendTimeoutMs = route.timeouts?.backendRequestMs ?? 0;
    const a = route.action;
    this.redirect = a.kind === 'redirect' ? a : null;
    this.directStatus = a.kind === 'direct' ? a.status : 0;
    this.directBody = a.kind === 'direct' ? a.body : '';
    if (a.kind === 'forward') {
      this.action = ACTION_FORWARD;
      const weighted = new WeightedBackends(a.backends, backends);
      this.#weighted = weighted;
      this.backends = weighted.backends;
      this.backendFilters = weighted.sourceIndexes.map((i) => CompiledFilters.of(a.backends[i]?.filters, backends));
    } else {
      this.action = a.kind === 'redirect' ? ACTION_REDIRECT : ACTION_DIRECT;
      this.#weighted = null;
      this.backends = NO_BACKEND;
      this.backendFilters = [];
    }
  }

  /** The index of a backend chosen by weight; -1 when every weight is zero (answered 500, as Gateway API asks). */
  pickBackend(): number {
    return this.#weighted === null ? -1 : this.#weighted.pick();
  }
}

export class CompiledVirtualHost {
  readonly name: string;
  readonly routes: PathIndex<CompiledRoute>;
  constructor(name: string, routes: PathIndex<CompiledRoute>) {
    this.name = name;
    this.routes = routes;
  }
}

export class CompiledListener {
  readonly name: string;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly port: number;
  readonly hosts: HostRouter<CompiledVirtualHost>;
  readonly sni: SniTable | null;
  /** For HTTPS: the certificate served to clients that send no SNI. */
  readonly defaultPair: KeyPair | null;
  readonly proxyProtocol: boolean;
  /** Gateway API HTTPS ports with several listeners: host name → listener, for the 421 rule. */
  readonly listenerOf: HostRouter<string> | null;
  /** Every backend its routes forward to is cleartext HTTP/1.1, so the HTTP/1.1 fast path can serve it. */
  readonly fastH1: boolean;

  constructor(
    l: HTTPListener,
    hosts: HostRouter<CompiledVirtualHost>,
    sni: SniTable | null,
    defaultPair: KeyPair | null,
    fastH1 = false,
  ) {
    this.name = l.name;
    this.fastH1 = fastH1;
    this.protocol = l.protocol;
    this.port = l.port;
    this.hosts = hosts;
    this.sni = sni;
    this.defaultPair = defaultPair;
    this.proxyProtocol = l.proxyProtocol === true;
    const named = l.tls?.listenerHostnames;
    this.listenerOf =
      named === undefined || named.length === 0
        ? null
        : new HostRouter(
            named.map((n) => ({
              hostname: n.hostname,
              hostMatch: n.hostname === '*' ? 'any' : n.hostname.startsWith('*.') ? 'wildcard' : 'exact',
            })),
            named.map((n) => n.listener),
          );
  }

  /**
   * Whether a request for `host` arrived on a TLS connection made for another listener (`sni`): Gateway API
   * listeners on the port decide when there are several (any HTTP version, as GEP-3567 asks); otherwise, for
   * HTTP/2 (where clients coalesce connections), whether `host` would be served another certificate.
   */
  misdirected(sni: string, host: string, http2: boolean): boolean {
    const byListener = this.listenerOf;
    if (byListener !== null) {
      const a = byListener.lookup(sni);
      const b = byListener.lookup(host);
      return a !== null && b !== null && a !== b;
    }
    const table = this.sni;
    if (!http2 || table === null) return false;
    return (table.lookup(sni) ?? table.defaultContext) !== (table.lookup(host) ?? table.defaultContext);
  }
}

export class CompiledTable {
  readonly ir: IR;
  readonly hash: string;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  /** Every upstream pool key in use, so pools no backend uses any more can be closed. */
  readonly origins: ReadonlySet<string>;

  /** Layer-4 listeners by name. */
  readonly streamListeners: ReadonlyMap<string, CompiledStreamListener>;

  constructor(
    ir: IR,
    hash: string,
    listeners: ReadonlyMap<string, CompiledListener>,
    origins: ReadonlySet<string>,
    streamListeners: ReadonlyMap<string, CompiledStreamListener> = new Map(),
  ) {
    this.ir = ir;
    this.hash = hash;
    this.listeners = listeners;
    this.origins = origins;
    this.streamListeners = streamListeners;
  }
}

export function hashIR(ir: IR): string {
  return createHash('sha256').update(JSON.stringify(ir)).digest('hex');
}

export interface CompileContext {
  readonly pools: PoolRegistry;
  readonly secureContexts: SecureContextCache;
  /** The certificate served when no other matches. */
  readonly defaultCertificate: KeyPair;
}

export interface CompileResult {
  readonly table: CompiledTable;
  readonly diagnostics: readonly Diagnostic[];
}

function compileListener(
  l: HTTPListener,
  ir: IR,
  backends: ReadonlyMap<string, UpstreamBackend>,
  ctx: CompileContext,
  diagnostics: Diagnostic[],
): CompiledListener {
  let fastH1 = true;
  const vhosts = l.virtualHosts.map((vh) => {
    const routes = vh.routes.map((r) => new CompiledRoute(r, backends));
    for (const r of routes) for (const b of r.backends) if (!b.fastH1) fastH1 = false;
    return new CompiledVirtualHost(vh.name, new PathIndex(vh.routes, routes));
  });
  let sni: SniTable | null = null;
  let defaultPair: KeyPair | null = null;
  if (l.protocol === 'HTTPS') ({ sni, defaultPair } = compileListenerTLS(l.tls, ir, ctx, diagnostics));
  return new CompiledListener(l, new HostRouter(l.virtualHosts, vhosts), sni, defaultPair, fastH1);
}

/** Turns the IR into lookups, once per change. Problems with single pieces become diagnostics, never throws. */
export function compileTable(ir: IR, ctx: CompileContext, hash: string = hashIR(ir)): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const backends = new Map<string, UpstreamBackend>();
  const origins = new Set<string>();
  for (const b of ir.backends) {
    const ub = new UpstreamBackend(b, ctx.pools);
    backends.set(b.name, ub);
    for (const k of ub.poolKeys) origins.add(k);
  }
  const listeners = new Map<string, CompiledListener>();
  for (const l of ir.listeners) listeners.set(l.name, compileListener(l, ir, backends, ctx, diagnostics));
  const streams = new Map<string, CompiledStreamListener>();
  for (const l of ir.streamListeners ?? []) {
    streams.set(l.name, new CompiledStreamListener(l, backends, ir, ctx, diagnostics));
  }
  ctx.secureContexts.sweep();
  return { table: new CompiledTable(ir, hash, listeners, origins, streams), diagnostics };
}
