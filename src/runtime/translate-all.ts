import type {
  Backend,
  Diagnostic,
  HTTPListener,
  IR,
  StatusEntry,
  StreamListener,
  TranslateResult,
} from '../ir/types.ts';
import type { Snapshot } from '../model/snapshot.ts';
import { translateGatewayAPI } from '../translate/gatewayapi/translate-gatewayapi.ts';
import { translateIngresses } from '../translate/ingress/translate-ingress.ts';

export interface TranslateOptions {
  readonly ingressClass: string;
  readonly upstream: 'service' | 'endpoints';
  readonly httpPort: number;
  readonly httpsPort: number;
  readonly sslRedirect?: boolean;
  /** The Ingress listeners expect a PROXY protocol header (`--proxy-protocol`). */
  readonly proxyProtocol?: boolean;
  /** `namespace/name` of an ingress-nginx style tcp-services ConfigMap (`--tcp-services-configmap`). */
  readonly tcpServicesConfigMap?: string;
}

export const INGRESS_CONTROLLER = 'gatehouse.dev/ingress-controller';
export const GATEWAY_CONTROLLER = 'gatehouse.dev/gateway-controller';

function byKey<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

/**
 * Merges the results of several translators into one IR. Listeners, HTTP and layer-4 alike, are kept apart by port:
 * a listener on a port an earlier one uses (earlier translators first, and within one its HTTP listeners before its
 * stream listeners, so the Ingress HTTP and HTTPS ports come first) is dropped with a diagnostic, since one port
 * serves one configuration. Backends with the same name resolve the same way whichever translator named them, so
 * duplicates collapse.
 */
export function mergeResults(results: readonly TranslateResult[]): TranslateResult {
  const listeners: HTTPListener[] = [];
  const streamListeners: StreamListener[] = [];
  const ports = new Map<number, string>();
  const diagnostics: Diagnostic[] = [];
  const claim = (l: { readonly name: string; readonly port: number }): boolean => {
    const owner = ports.get(l.port);
    if (owner !== undefined) {
      diagnostics.push({
        severity: 'error',
        message: `listener ${l.name} wants port ${l.port}, which ${owner} already serves; it is not served`,
      });
      return false;
    }
    ports.set(l.port, l.name);
    return true;
  };
  const backends = new Map<string, Backend>();
  const certificates = new Map<string, IR['certificates'][number]>();
  const status: StatusEntry[] = [];
  for (const r of results) {
    for (const l of r.ir.listeners) if (claim(l)) listeners.push(l);
    for (const l of r.ir.streamListeners ?? []) if (claim(l)) streamListeners.push(l);
    for (const b of r.ir.backends) if (!backends.has(b.name)) backends.set(b.name, b);
    for (const c of r.ir.certificates) if (!certificates.has(c.name)) certificates.set(c.name, c);
    status.push(...r.status);
    diagnostics.push(...r.diagnostics);
  }
  return {
    ir: {
      listeners: listeners.sort((a, b) => a.port - b.port),
      ...(streamListeners.length > 0 ? { streamListeners: streamListeners.sort((a, b) => a.port - b.port) } : {}),
      backends: [...backends.values()].sort(byKey((b) => b.name)),
      certificates: [...certificates.values()].sort(byKey((c) => c.name)),
    },
    status: status.sort(byKey((s) => `${s.kind}/${s.namespace}/${s.name}`)),
    diagnostics,
  };
}

/** Every translator over one snapshot, merged into one IR. */
export function translateAll(snapshot: Snapshot, options: TranslateOptions): TranslateResult {
  const ingress = translateIngresses(snapshot, {
    ingressClass: options.ingressClass,
    controllerName: INGRESS_CONTROLLER,
    upstream: options.upstream,
    httpPort: options.httpPort,
    httpsPort: options.httpsPort,
    ...(options.sslRedirect === true ? { sslRedirect: true } : {}),
    ...(options.proxyProtocol === true ? { proxyProtocol: true } : {}),
    ...(options.tcpServicesConfigMap !== undefined ? { tcpServicesConfigMap: options.tcpServicesConfigMap } : {}),
  });
  // Gateway listeners on the Ingress ports (or a tcp-services port) cannot be served: their status says so
  // (Accepted False, PortUnavailable) rather than claiming a listener that merging would drop.
  const reservedPorts = new Map<number, string>();
  for (const l of ingress.ir.listeners) reservedPorts.set(l.port, `the Ingress listener ${l.name}`);
  for (const l of ingress.ir.streamListeners ?? []) reservedPorts.set(l.port, `the tcp-services listener ${l.name}`);
  return mergeResults([
    ingress,
    translateGatewayAPI(snapshot, { controllerName: GATEWAY_CONTROLLER, upstream: options.upstream, reservedPorts }),
  ]);
}
