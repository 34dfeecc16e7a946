// gatehouse's own policies for Gateway API objects, written as annotations until they have policy CRDs:
//
// - on HTTPRoute, GRPCRoute, TCPRoute and TLSRoute: `gatehouse.dev/source-ranges` (client addresses admitted);
// - on TCPRoute and TLSRoute: `gatehouse.dev/upstream-proxy-protocol` (v1|v2, sent to the backend) and
//   `gatehouse.dev/idle-timeout` (a Gateway API duration);
// - on Gateway: `gatehouse.dev/proxy-protocol` (listener names, or `*`: expect a PROXY protocol header).
//
// Values are data: parsed and copied into the IR, never evaluated. Problems are diagnostics naming the object and
// the annotation; an allow-list that cannot be read admits nobody rather than everybody.
import type { Diagnostic, SourceRanges, SourceRef } from '../../ir/types.ts';
import { parseGatewayDuration } from '../../model/decode-gatewayapi.ts';
import type { ObjectMeta } from '../../model/objects.ts';
import { parseSourceRanges } from '../source-ranges.ts';

export const SOURCE_RANGES_ANNOTATION = 'gatehouse.dev/source-ranges';
export const UPSTREAM_PROXY_PROTOCOL_ANNOTATION = 'gatehouse.dev/upstream-proxy-protocol';
export const IDLE_TIMEOUT_ANNOTATION = 'gatehouse.dev/idle-timeout';
export const PROXY_PROTOCOL_ANNOTATION = 'gatehouse.dev/proxy-protocol';

/** The policies a route's annotations ask for; absent fields: nothing asked (or nothing usable). */
export interface RoutePolicy {
  readonly allow?: SourceRanges;
  readonly sendProxyProtocol?: 1 | 2;
  readonly idleTimeoutMs?: number;
}

const STREAM_KINDS: ReadonlySet<string> = new Set(['TCPRoute', 'TLSRoute']);

/**
 * Reads a route's gatehouse.dev annotations. Pass `diagnostics` once per route (the result is the same every time,
 * so later calls for other builds of the route can leave it out).
 */
export function routePolicyOf(
  route: { readonly kind: string; readonly metadata: ObjectMeta },
  source: SourceRef,
  diagnostics?: Diagnostic[],
): RoutePolicy {
  const annotations = route.metadata.annotations;
  const report = (severity: Diagnostic['severity'], message: string): void => {
    diagnostics?.push({ severity, object: source, message });
  };
  const policy: { allow?: SourceRanges; sendProxyProtocol?: 1 | 2; idleTimeoutMs?: number } = {};

  const ranges = annotations[SOURCE_RANGES_ANNOTATION];
  if (ranges !== undefined) {
    const parsed = parseSourceRanges(ranges);
    if (parsed.allow === undefined) {
      report('warning', `annotation ${SOURCE_RANGES_ANNOTATION} is empty; ignored (every client is admitted)`);
    } else {
      policy.allow = parsed.allow;
      if (parsed.problems.length > 0) {
        report(
          'error',
          `annotation ${SOURCE_RANGES_ANNOTATION}: ${parsed.problems.join('; ')}; the route admits no client until it is fixed`,
        );
      }
    }
  }

  const stream = STREAM_KINDS.has(route.kind);
  const upstream = annotations[UPSTREAM_PROXY_PROTOCOL_ANNOTATION];
  if (upstream !== undefined) {
    const v = upstream.trim().toLowerCase();
    if (!stream) {
      report(
        'warning',
        `annotation ${UPSTREAM_PROXY_PROTOCOL_ANNOTATION} only applies to TCPRoutes and TLSRoutes; ignored`,
      );
    } else if (v === 'v1' || v === 'v2') {
      policy.sendProxyProtocol = v === 'v1' ? 1 : 2;
    } else {
      report(
        'error',
        `annotation ${UPSTREAM_PROXY_PROTOCOL_ANNOTATION}: "${upstream}" is neither v1 nor v2; no PROXY header is sent`,
      );
    }
  }

  const idle = annotations[IDLE_TIMEOUT_ANNOTATION];
  if (idle !== undefined) {
    const v = idle.trim();
    let ms: number | undefined;
    try {
      ms = parseGatewayDuration(v);
    } catch {
      ms = undefined;
    }
    if (!stream) {
      report('warning', `annotation ${IDLE_TIMEOUT_ANNOTATION} only applies to TCPRoutes and TLSRoutes; ignored`);
    } else if (ms === undefined || ms === 0) {
      report(
        'error',
        `annotation ${IDLE_TIMEOUT_ANNOTATION}: "${idle}" is not a positive Gateway API duration (such as 30s, 10m or 1h); the listener default applies`,
      );
    } else {
      policy.idleTimeoutMs = ms;
    }
  }
  return policy;
}

/**
 * The listener names of a Gateway that expect a PROXY protocol header: `*` means all of them. Names that are not
 * listeners of the Gateway are reported and ignored.
 */
export function proxyProtocolListeners(
  meta: ObjectMeta,
  listenerNames: readonly string[],
  source: SourceRef,
  diagnostics: Diagnostic[],
): ReadonlySet<string> {
  const value = meta.annotations[PROXY_PROTOCOL_ANNOTATION];
  if (value === undefined) return new Set();
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) {
    diagnostics.push({
      severity: 'warning',
      object: source,
      message: `annotation ${PROXY_PROTOCOL_ANNOTATION} is empty; no listener expects a PROXY protocol header`,
    });
    return new Set();
  }
  if (names.includes('*')) return new Set(listenerNames);
  const known = new Set(listenerNames);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    diagnostics.push({
      severity: 'warning',
      object: source,
      message: `annotation ${PROXY_PROTOCOL_ANNOTATION}: no listener named ${unknown.join(', ')} in this Gateway; ignored`,
    });
  }
  return new Set(names.filter((n) => known.has(n)));
}
