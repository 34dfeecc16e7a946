// Gateway listeners: which are served, which conflict with which, and the status Gateway API asks for.
// Listeners of every Gateway of our classes share the data plane, so conflicts are looked for per port across
// all of them, not only within one Gateway.
import type { Condition, Diagnostic, ListenerStatus, SourceRef } from '../../ir/types.ts';
import type { Gateway, GatewayListener } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { type ListenerTLSResolution, resolveListenerTLS } from './certificates.ts';
import { condition, GATEWAY_API_GROUP, sourceOf } from './conditions.ts';
import { listenerPattern } from './hostnames.ts';
import { namespaceLabels, selectorMatches } from './selector.ts';

export interface RouteKind {
  readonly group: string;
  readonly kind: string;
}

export interface GatewayInfo {
  readonly gateway: Gateway;
  readonly source: SourceRef;
  /** Position in age order: lower is older (then namespace/name). */
  readonly rank: number;
  readonly listeners: ListenerInfo[];
}

export interface ListenerConflict {
  /** PortUnavailable: the port is served by something outside the Gateway API (the Ingress ports, tcp-services). */
  readonly reason: 'HostnameConflict' | 'ProtocolConflict' | 'PortUnavailable';
  readonly message: string;
}

export interface ListenerInfo {
  readonly gateway: GatewayInfo;
  readonly spec: GatewayListener;
  readonly index: number;
  /** Lower-case hostname, `*` when the listener has none. */
  readonly pattern: string;
  /** Protocols gatehouse serves on Gateway listeners: HTTP, HTTPS, TLS and TCP. */
  readonly supportedProtocol: boolean;
  /** HTTPS and TLS Terminate listeners: their certificateRefs, resolved; undefined for other protocols. */
  readonly tls: ListenerTLSResolution | undefined;
  /** The route kinds the listener admits and gatehouse serves on it. */
  readonly supportedKinds: readonly RouteKind[];
  /** Kinds listed in allowedRoutes that gatehouse cannot serve on this listener. */
  readonly invalidKinds: readonly RouteKind[];
  /** Route kinds (of the Gateway API group) that allowedRoutes, or the protocol's defaults, admit at all. */
  readonly admittedKinds: ReadonlySet<string>;
  conflict: ListenerConflict | undefined;
  /** `kind/namespace/name` of every route counted as attached (Accepted) here. */
  readonly attachedRoutes: Set<string>;
}

/**
 * The route kinds each standard protocol carries when allowedRoutes.kinds is empty, in the order supportedKinds
 * lists them; for the protocols gatehouse serves, also the only kinds it serves there (a TCPRoute on a TLS
 * listener is implementation-specific in the specification, and not supported).
 */
const PROTOCOL_KINDS: Readonly<Record<string, readonly string[]>> = {
  HTTP: ['HTTPRoute', 'GRPCRoute'],
  HTTPS: ['HTTPRoute', 'GRPCRoute'],
  TLS: ['TLSRoute'],
  TCP: ['TCPRoute'],
  UDP: ['UDPRoute'],
};

const SERVED_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTPS', 'TLS', 'TCP']);

/** Whether the listener terminates TLS with its certificateRefs: HTTPS, and TLS in Terminate mode. */
export function terminatesTLS(spec: GatewayListener): boolean {
  return spec.protocol === 'HTTPS' || (spec.protocol === 'TLS' && spec.tls?.mode !== 'Passthrough');
}

/** The protocol as conflicts see it: TLS listeners in Passthrough and Terminate mode cannot share a port. */
export function protocolKey(spec: GatewayListener): string {
  return spec.protocol === 'TLS' ? `TLS ${spec.tls?.mode ?? 'Terminate'}` : spec.protocol;
}

export function listenerLabel(l: ListenerInfo): string {
  const g = l.gateway.gateway.metadata;
  return `listener ${l.spec.name} of Gateway ${g.namespace}/${g.name}`;
}

function certificatesResolved(l: ListenerInfo): boolean {
  return l.tls === undefined || l.tls.problems.length === 0;
}

/**
 * Served: a protocol gatehouse implements, no conflict, and (HTTPS) every certificateRef usable. Only such
 * listeners carry traffic.
 */
export function isServed(l: ListenerInfo): boolean {
  return l.supportedProtocol && l.conflict === undefined && certificatesResolved(l);
}

function isProgrammed(l: ListenerInfo): boolean {
  return isServed(l) && l.supportedKinds.length > 0;
}

function kindsOf(spec: GatewayListener): {
  supported: RouteKind[];
  invalid: RouteKind[];
  admitted: Set<string>;
} {
  // A route kind only ever attaches to a listener whose protocol carries it, whatever allowedRoutes lists.
  const defaults = PROTOCOL_KINDS[spec.protocol] ?? [];
  const served = SERVED_PROTOCOLS.has(spec.protocol);
  if (spec.allowedRoutes.kinds.length === 0) {
    const supported = served ? defaults.map((kind) => ({ group: GATEWAY_API_GROUP, kind })) : [];
    return { supported, invalid: [], admitted: new Set(defaults) };
  }
  const supported: RouteKind[] = [];
  const invalid: RouteKind[] = [];
  const admitted = new Set<string>();
  for (const k of spec.allowedRoutes.kinds) {
    const carried = k.group === GATEWAY_API_GROUP && defaults.includes(k.kind);
    if (carried) admitted.add(k.kind);
    // Unsupported protocols list no kinds at all: nothing can be served there whatever the spec admits.
    if (!served) continue;
    if (carried) {
      if (!supported.some((s) => s.kind === k.kind)) supported.push({ group: GATEWAY_API_GROUP, kind: k.kind });
    } else {
      invalid.push({ group: k.group, kind: k.kind });
    }
  }
  return { supported, invalid, admitted };
}

export function gatewayInfos(snapshot: Snapshot, gateways: readonly Gateway[]): GatewayInfo[] {
  return gateways.map((gateway, rank) => {
    const info: GatewayInfo = { gateway, source: sourceOf('Gateway', gateway.metadata), rank, listeners: [] };
    gateway.spec.listeners.forEach((spec, index) => {
      const kinds = kindsOf(spec);
      info.listeners.push({
        gateway: info,
        spec,
        index,
        pattern: listenerPattern(spec.hostname),
        supportedProtocol: SERVED_PROTOCOLS.has(spec.protocol),
        tls: terminatesTLS(spec) ? resolveListenerTLS(snapshot, gateway, spec) : undefined,
        supportedKinds: kinds.supported,
        invalidKinds: kinds.invalid,
        admittedKinds: kinds.admitted,
        conflict: undefined,
        attachedRoutes: new Set(),
      });
    });
    return info;
  });
}

function gatewayLabel(g: GatewayInfo): string {
  return `Gateway ${g.gateway.metadata.namespace}/${g.gateway.metadata.name}`;
}

/**
 * Marks conflicting listeners. Per port, the oldest Gateway decides the protocol and owns each hostname; a later
 * Gateway's listener that disagrees is Conflicted. Within one Gateway no listener is picked over another, as the
 * specification asks: listeners of one Gateway that collide are all Conflicted.
 *
 * Protocols that cannot share a port here: HTTP, HTTPS, TLS Passthrough, TLS Terminate and TCP are all different
 * (the specification lets HTTPS and TLS share one when hostnames tell them apart; gatehouse's data plane serves a
 * port one way). UDP is another transport: UDP listeners only meet other UDP listeners.
 */
export function markConflicts(
  gateways: readonly GatewayInfo[],
  reservedPorts: ReadonlyMap<number, string> = new Map(),
): void {
  for (const g of gateways) {
    for (const l of g.listeners) {
      const owner = l.spec.protocol === 'UDP' ? undefined : reservedPorts.get(l.spec.port);
      if (owner === undefined) continue;
      l.conflict = { reason: 'PortUnavailable', message: `port ${l.spec.port} is served by ${owner}` };
    }
  }
  const byPort = new Map<string, { port: number; owners: GatewayInfo[] }>();
  const keyOf = (l: ListenerInfo): string => `${l.spec.port}/${l.spec.protocol === 'UDP' ? 'udp' : 'tcp'}`;
  for (const g of gateways) {
    for (const l of g.listeners) {
      const key = keyOf(l);
      const entry = byPort.get(key);
      if (entry === undefined) byPort.set(key, { port: l.spec.port, owners: [g] });
      else if (!entry.owners.includes(g)) entry.owners.push(g);
    }
  }
  for (const [key, { port, owners }] of byPort) {
    const onPort = (g: GatewayInfo): ListenerInfo[] => g.listeners.filter((l) => keyOf(l) === key);
    let protocol: string | undefined;
    let protocolOwner: GatewayInfo | undefined;
    for (const g of owners) {
      const ls = onPort(g);
      if (protocol === undefined) {
        const protocols = [...new Set(ls.map((l) => protocolKey(l.spec)))];
        if (protocols.length === 1) {
          protocol = protocols[0];
          protocolOwner = g;
        } else {
          for (const l of ls) {
            l.conflict = {
              reason: 'ProtocolConflict',
              message: `port ${port} is used with several protocols (${protocols.join(', ')}) in this Gateway`,
            };
          }
        }
        continue;
      }
      for (const l of ls) {
        if (protocolKey(l.spec) !== protocol && protocolOwner !== undefined) {
          l.conflict = {
            reason: 'ProtocolConflict',
            message: `port ${port} already serves ${protocol} for ${gatewayLabel(protocolOwner)}`,
          };
        }
      }
    }

    const hostOwners = new Map<string, GatewayInfo>();
    for (const g of owners) {
      const ls = onPort(g).filter((l) => l.conflict === undefined);
      const counts = new Map<string, number>();
      for (const l of ls) counts.set(l.pattern, (counts.get(l.pattern) ?? 0) + 1);
      for (const l of ls) {
        const host = l.pattern === '*' ? 'no hostname' : `hostname ${l.pattern}`;
        const owner = hostOwners.get(l.pattern);
        if ((counts.get(l.pattern) ?? 0) > 1) {
          l.conflict = {
            reason: 'HostnameConflict',
            message: `another listener of this Gateway on port ${port} has ${host} too`,
          };
        } else if (owner !== undefined) {
          // TCP and UDP listeners have no hostname: one port serves one of them.
          const what = l.spec.protocol === 'TCP' || l.spec.protocol === 'UDP' ? l.spec.protocol : host;
          l.conflict = {
            reason: 'HostnameConflict',
            message: `port ${port} with ${what} is already served for ${gatewayLabel(owner)}`,
          };
        }
      }
      for (const pattern of counts.keys()) if (!hostOwners.has(pattern)) hostOwners.set(pattern, g);
    }
  }
}

/** Whether a listener's allowedRoutes.namespaces admits routes from `namespace`. */
export function admitsNamespace(snapshot: Snapshot, l: ListenerInfo, namespace: string): boolean {
  const ns = l.spec.allowedRoutes.namespaces;
  switch (ns.from) {
    case 'All':
      return true;
    case 'Same':
      return namespace === l.gateway.gateway.metadata.namespace;
    case 'Selector':
      return ns.selector !== undefined && selectorMatches(ns.selector, namespaceLabels(snapshot, namespace));
  }
}

export function listenerDiagnostics(g: GatewayInfo, diagnostics: Diagnostic[]): void {
  for (const l of g.listeners) {
    const where = `spec.listeners[${l.index}] (${l.spec.name})`;
    if (!l.supportedProtocol) {
      diagnostics.push({
        severity: 'warning',
        object: g.source,
        message: `${where}: protocol ${l.spec.protocol} is not supported on Gateway listeners yet; listener ignored`,
      });
    }
    if (l.conflict !== undefined) {
      diagnostics.push({
        severity: 'error',
        object: g.source,
        message: `${where}: ${l.conflict.reason}: ${l.conflict.message}; listener not served`,
      });
    }
    const tls = l.tls;
    const first = tls?.certificates[0];
    if (tls !== undefined && tls.problems.length > 0) {
      diagnostics.push({
        severity: 'error',
        object: g.source,
        message: `${where}: ${tls.problems.map((p) => p.message).join('; ')}; listener not served`,
      });
    } else if (tls !== undefined && first !== undefined && tls.certificates.length > 1) {
      diagnostics.push({
        severity: 'warning',
        object: g.source,
        message: `${where}: ${tls.certificates.length} certificateRefs; only the first (Secret ${first.namespace}/${first.name}) is served`,
      });
    }
    if (l.spec.protocol === 'TLS' && l.spec.tls?.mode === 'Passthrough' && l.spec.tls.certificateRefs.length > 0) {
      diagnostics.push({
        severity: 'warning',
        object: g.source,
        message: `${where}: tls.certificateRefs are ignored in Passthrough mode (TLS is not terminated)`,
      });
    }
    if (l.invalidKinds.length > 0) {
      diagnostics.push({
        severity: 'error',
        object: g.source,
        message: `${where}: allowedRoutes.kinds lists unsupported kinds ${l.invalidKinds.map((k) => `${k.group}/${k.kind}`).join(', ')}`,
      });
    }
    if (l.spec.allowedRoutes.namespaces.from === 'Selector' && l.spec.allowedRoutes.namespaces.selector === undefined) {
      diagnostics.push({
        severity: 'error',
        object: g.source,
        message: `${where}: allowedRoutes.namespaces.from is Selector without a selector; no namespace is admitted`,
      });
    }
  }
}

function listenerConditions(l: ListenerInfo): Condition[] {
  const meta = l.gateway.gateway.metadata;
  const conditions: Condition[] = [];
  if (!l.supportedProtocol) {
    conditions.push(
      condition(
        'Accepted',
        false,
        'UnsupportedProtocol',
        `Protocol ${l.spec.protocol} is not supported on Gateway listeners`,
        meta,
      ),
    );
  } else if (l.conflict?.reason === 'PortUnavailable') {
    conditions.push(condition('Accepted', false, 'PortUnavailable', `Port unavailable: ${l.conflict.message}`, meta));
  } else if (l.conflict !== undefined) {
    conditions.push(condition('Accepted', false, 'Invalid', `Listener conflicts: ${l.conflict.message}`, meta));
  } else {
    conditions.push(condition('Accepted', true, 'Accepted', 'Listener is accepted', meta));
  }
  const certificateProblems = l.tls?.problems ?? [];
  const firstProblem = certificateProblems[0];
  if (firstProblem !== undefined) {
    // One ResolvedRefs condition: the certificate problem goes first, since it is the one that stops traffic.
    const messages = certificateProblems.map((p) => p.message);
    if (l.invalidKinds.length > 0) {
      messages.push(`Unsupported route kinds: ${l.invalidKinds.map((k) => `${k.group}/${k.kind}`).join(', ')}`);
    }
    conditions.push(condition('ResolvedRefs', false, firstProblem.reason, messages.join('; '), meta));
  } else if (l.invalidKinds.length > 0) {
    const kinds = l.invalidKinds.map((k) => `${k.group}/${k.kind}`).join(', ');
    conditions.push(condition('ResolvedRefs', false, 'InvalidRouteKinds', `Unsupported route kinds: ${kinds}`, meta));
  } else {
    conditions.push(condition('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved', meta));
  }
  if (l.conflict !== undefined && l.conflict.reason !== 'PortUnavailable') {
    conditions.push(condition('Conflicted', true, l.conflict.reason, l.conflict.message, meta));
  } else {
    conditions.push(condition('Conflicted', false, 'NoConflicts', 'No conflicts', meta));
  }
  if (isProgrammed(l)) {
    conditions.push(condition('Programmed', true, 'Programmed', 'Listener is programmed', meta));
  } else {
    const why = !l.supportedProtocol
      ? `protocol ${l.spec.protocol} is not supported`
      : l.conflict?.reason === 'PortUnavailable'
        ? l.conflict.message
        : l.conflict !== undefined
          ? 'the listener conflicts with another'
          : !certificatesResolved(l)
            ? 'its certificateRefs cannot be resolved'
            : 'no supported route kind is admitted';
    conditions.push(condition('Programmed', false, 'Invalid', `Listener is not programmed: ${why}`, meta));
  }
  return conditions;
}

export function listenerStatuses(g: GatewayInfo): ListenerStatus[] {
  return g.listeners.map((l) => ({
    name: l.spec.name,
    attachedRoutes: l.attachedRoutes.size,
    supportedKinds: l.supportedKinds,
    conditions: listenerConditions(l),
  }));
}

export function gatewayConditions(g: GatewayInfo): Condition[] {
  const meta = g.gateway.metadata;
  const served = g.listeners.filter(isServed);
  const invalid = g.listeners.filter((l) => !isServed(l)).map((l) => l.spec.name);
  const conditions: Condition[] = [];
  if (served.length === 0) {
    const message =
      g.listeners.length === 0 ? 'Gateway has no listeners' : `No listener is valid: ${invalid.join(', ')}`;
    conditions.push(condition('Accepted', false, 'ListenersNotValid', message, meta));
  } else if (invalid.length > 0) {
    conditions.push(
      condition(
        'Accepted',
        true,
        'ListenersNotValid',
        `Listeners not valid: ${invalid.join(', ')}; accepted: ${served.map((l) => l.spec.name).join(', ')}`,
        meta,
      ),
    );
  } else {
    conditions.push(condition('Accepted', true, 'Accepted', 'Gateway is accepted', meta));
  }
  if (g.listeners.some(isProgrammed)) {
    conditions.push(condition('Programmed', true, 'Programmed', 'Gateway is programmed', meta));
  } else {
    conditions.push(condition('Programmed', false, 'Invalid', 'No listener of this Gateway is programmed', meta));
  }
  return conditions;
}
