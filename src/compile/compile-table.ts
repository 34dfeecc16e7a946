import { createHash } from 'node:crypto';
import type { SecureContext } from 'node:tls';
import type { Diagnostic, HTTPListener, IR, RedirectAction, Route, SourceRef } from '../ir/types.ts';
import { UpstreamBackend } from '../upstream/backend.ts';
import type { PoolRegistry } from '../upstream/pools.ts';
import { HostRouter } from './host-router.ts';
import { PathIndex } from './path-index.ts';
import { CompiledFilters } from './route-filters.ts';
import { buildSniTable, type KeyPair, type SecureContextCache, type SniTable } from './tls-contexts.ts';

export const ACTION_FORWARD = 0;
export const ACTION_REDIRECT = 1;
export const ACTION_DIRECT = 2;

const NO_BACKEND: readonly UpstreamBackend[] = [];

export class CompiledRoute {
  readonly name: string;
  readonly source: SourceRef;
  readonly action: number;
  readonly backends: readonly UpstreamBackend[];
  /** Running sums of the weights, for weighted random choice; empty with a single backend. */
  readonly #cumulative: readonly number[];
  readonly #totalWeight: number;
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

  constructor(route: Route, backends: ReadonlyMap<string, UpstreamBackend>) {
    this.name = route.name;
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
      const chosen: UpstreamBackend[] = [];
      const chosenFilters: (CompiledFilters | null)[] = [];
      const cumulative: number[] = [];
      let total = 0;
      for (const wb of a.backends) {
        const b = backends.get(wb.backend);
        if (b === undefined || wb.weight <= 0) continue;
        total += wb.weight;
        chosen.push(b);
        chosenFilters.push(CompiledFilters.of(wb.filters, backends));
        cumulative.push(total);
      }
      this.backends = chosen;
      this.backendFilters = chosenFilters;
      this.#cumulative = chosen.length > 1 ? cumulative : [];
      this.#totalWeight = total;
    } else {
      this.action = a.kind === 'redirect' ? ACTION_REDIRECT : ACTION_DIRECT;
      this.backends = NO_BACKEND;
      this.backendFilters = [];
      this.#cumulative = [];
      this.#totalWeight = 0;
    }
  }

  /** The index of a backend chosen by weight; -1 when every weight is zero (answered 500, as Gateway API asks). */
  pickBackend(): number {
    const n = this.backends.length;
    if (n <= 1) return n - 1;
    const r = Math.random() * this.#totalWeight;
    const c = this.#cumulative;
    for (let i = 0; i < n; i++) if (r < (c[i] as number)) return i;
    return n - 1;
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

  constructor(
    l: HTTPListener,
    hosts: HostRouter<CompiledVirtualHost>,
    sni: SniTable | null,
    defaultPair: KeyPair | null,
  ) {
    this.name = l.name;
    this.protocol = l.protocol;
    this.port = l.port;
    this.hosts = hosts;
    this.sni = sni;
    this.defaultPair = defaultPair;
  }
}

export class CompiledTable {
  readonly ir: IR;
  readonly hash: string;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  /** Every upstream pool key in use, so pools no backend uses any more can be closed. */
  readonly origins: ReadonlySet<string>;

  constructor(ir: IR, hash: string, listeners: ReadonlyMap<string, CompiledListener>, origins: ReadonlySet<string>) {
    this.ir = ir;
    this.hash = hash;
    this.listeners = listeners;
    this.origins = origins;
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
  const vhosts = l.virtualHosts.map((vh) => {
    const routes = vh.routes.map((r) => new CompiledRoute(r, backends));
    return new CompiledVirtualHost(vh.name, new PathIndex(vh.routes, routes));
  });
  let sni: SniTable | null = null;
  let defaultPair: KeyPair | null = null;
  if (l.protocol === 'HTTPS') {
    defaultPair = ctx.defaultCertificate;
    let defaultContext: SecureContext = ctx.secureContexts.get(ctx.defaultCertificate);
    const named = l.tls?.defaultCertificate;
    const def = named === undefined ? undefined : ir.certificates.find((c) => c.name === named);
    if (def !== undefined) {
      try {
        defaultContext = ctx.secureContexts.get(def);
        defaultPair = def;
      } catch (err) {
        diagnostics.push({
          severity: 'error',
          object: def.source,
          message: `default certificate ${def.name} cannot be used: ${(err as Error).message}`,
        });
      }
    }
    sni = buildSniTable(ir.certificates, l.tls?.certificates ?? [], defaultContext, ctx.secureContexts, diagnostics);
  }
  return new CompiledListener(l, new HostRouter(l.virtualHosts, vhosts), sni, defaultPair);
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
  ctx.secureContexts.sweep();
  return { table: new CompiledTable(ir, hash, listeners, origins), diagnostics };
}
