import type { Diagnostic, IR, SourceRef, StreamListener, StreamRoute } from '../ir/types.ts';
import type { UpstreamBackend } from '../upstream/backend.ts';
import type { CompileContext } from './compile-table.ts';
import { HostRouter } from './host-router.ts';
import { SourceRangeList } from './source-ranges.ts';
import { compileListenerTLS, type KeyPair, type SniTable } from './tls-contexts.ts';
import { WeightedBackends } from './weighted-backends.ts';

/** A layer-4 route ready for connections. */
export class CompiledStreamRoute {
  readonly name: string;
  readonly source: SourceRef;
  readonly weighted: WeightedBackends;
  /** null: every client address is admitted. */
  readonly allow: SourceRangeList | null;
  /** 0: none; else the PROXY protocol version sent to the backend. */
  readonly sendProxyProtocol: number;
  /** 0: the listener default. */
  readonly idleTimeoutMs: number;

  constructor(route: StreamRoute, backends: ReadonlyMap<string, UpstreamBackend>) {
    this.name = route.name;
    this.source = route.source;
    this.weighted = new WeightedBackends(route.backends, backends);
    this.allow = route.allow === undefined ? null : new SourceRangeList(route.allow);
    this.sendProxyProtocol = route.sendProxyProtocol ?? 0;
    this.idleTimeoutMs = route.idleTimeoutMs ?? 0;
  }
}

export const STREAM_TCP = 0;
export const STREAM_TLS_PASSTHROUGH = 1;
export const STREAM_TLS_TERMINATE = 2;

/** A layer-4 listener: how connections are read, and the routes that take them. */
export class CompiledStreamListener {
  readonly name: string;
  readonly port: number;
  /** STREAM_TCP, STREAM_TLS_PASSTHROUGH or STREAM_TLS_TERMINATE. */
  readonly mode: number;
  readonly proxyProtocol: boolean;
  /** By SNI name (TLS), or the one route that takes every connection (TCP: looked up with ''). */
  readonly routes: HostRouter<CompiledStreamRoute>;
  /** For TLS termination. */
  readonly sni: SniTable | null;
  readonly defaultPair: KeyPair | null;

  constructor(
    l: StreamListener,
    backends: ReadonlyMap<string, UpstreamBackend>,
    ir: IR,
    ctx: CompileContext,
    diagnostics: Diagnostic[],
  ) {
    this.name = l.name;
    this.port = l.port;
    this.mode =
      l.protocol === 'TCP' ? STREAM_TCP : l.tlsMode === 'Terminate' ? STREAM_TLS_TERMINATE : STREAM_TLS_PASSTHROUGH;
    this.proxyProtocol = l.proxyProtocol === true;
    const names: { hostname: string; hostMatch: 'exact' | 'wildcard' | 'any' }[] = [];
    const values: CompiledStreamRoute[] = [];
    for (const r of l.routes) {
      const compiled = new CompiledStreamRoute(r, backends);
      if (l.protocol === 'TCP' || r.hostnames.length === 0) {
        names.push({ hostname: '*', hostMatch: 'any' });
        values.push(compiled);
        continue;
      }
      for (const h of r.hostnames) {
        names.push({ hostname: h, hostMatch: h.startsWith('*.') ? 'wildcard' : 'exact' });
        values.push(compiled);
      }
    }
    this.routes = new HostRouter(names, values);
    if (this.mode === STREAM_TLS_TERMINATE) {
      const { sni, defaultPair } = compileListenerTLS(l.tls, ir, ctx, diagnostics);
      this.sni = sni;
      this.defaultPair = defaultPair;
    } else {
      this.sni = null;
      this.defaultPair = null;
    }
  }
}
