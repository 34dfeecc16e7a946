import type {
  Backend,
  Certificate,
  Condition,
  Diagnostic,
  HostMatchKind,
  HTTPListener,
  ListenerTLS,
  ParentRefStatus,
  Route,
  RouteParentStatus,
  SourceRanges,
  SourceRef,
  StatusEntry,
  StreamListener,
  StreamRoute,
  TranslateResult,
  VirtualHost,
} from '../../ir/types.ts';
import type { Gateway, ObjectMeta, ParentReference } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import type { UpstreamMode } from '../backends.ts';
import { PROXY_PROTOCOL_ANNOTATION, proxyProtocolListeners, routePolicyOf } from './annotations.ts';
import {
  BackendTLSIndex,
  type ClientCertificate,
  clientCertificateCondition,
  policyAncestors,
  resolveClientCertificate,
} from './backend-tls.ts';
import type { ListenerCertificate } from './certificates.ts';
import { compareAge, compareStrings, condition, GATEWAY_API_GROUP, sourceOf } from './conditions.ts';
import { buildGRPCRoute, compareGRPCPrecedence } from './grpc-routes.ts';
import { ANY_HOST, compareHostSpecificity, hostnameCovers, hostnameIntersection, isWildcard } from './hostnames.ts';
import {
  admitsNamespace,
  type GatewayInfo,
  gatewayConditions,
  gatewayInfos,
  isServed,
  type ListenerInfo,
  listenerDiagnostics,
  listenerLabel,
  listenerStatuses,
  markConflicts,
} from './listeners.ts';
import { type BackendContext, type BuiltMatch, type BuiltRoute, buildHTTPRoute, type RouteObject } from './routes.ts';
import { type BuiltStreamRoute, buildStreamRoute, type StreamRouteObject } from './stream-routes.ts';

export { GATEWAY_API_GROUP, GATEWAY_CONTROLLER_NAME } from './conditions.ts';

export interface GatewayAPITranslateOptions {
  /** GatewayClass `spec.controllerName` that marks a class as ours. */
  readonly controllerName: string;
  readonly upstream: UpstreamMode;
  /** Ports served by other translators (the Ingress ports, tcp-services), by what serves them. */
  readonly reservedPorts?: ReadonlyMap<number, string>;
}

/** Name of the IR listener that serves every HTTP (or HTTPS, TLS, TCP) Gateway listener on `port`. */
export function gatewayListenerName(port: number, protocol: 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' = 'HTTP'): string {
  return `gateway-${protocol.toLowerCase()}-${port}`;
}

/** What attaching a route through a parentRef needs to know, whatever the route's kind. */
interface Attachable {
  readonly route: { readonly kind: string; readonly metadata: ObjectMeta };
  readonly source: SourceRef;
  /** The route's hostnames, lower-case; empty means the listener's. */
  readonly hostnames: readonly string[];
  readonly built: Pick<BuiltRoute, 'refProblems' | 'invalidRules' | 'ruleCount'>;
}

/** Where a route attached through one parentRef and is served: listeners with their effective hosts. */
type Served = readonly { readonly listener: ListenerInfo; readonly hosts: readonly string[] }[];

interface RouteInfo {
  readonly route: RouteObject;
  readonly source: SourceRef;
  readonly rank: number;
  /** Built without a Gateway client certificate: what status reports, and what Gateways without one serve. */
  readonly built: BuiltRoute;
  /** Builds for Gateways with a backend client certificate, when the route reaches a backend over TLS. */
  readonly builtFor: Map<GatewayInfo, BuiltRoute>;
  /** The route's hostnames, lower-case; empty means the listener's. */
  readonly hostnames: readonly string[];
}

/** A route served on a listener for one effective host pattern. */
interface Entry {
  readonly info: RouteInfo;
  readonly listener: ListenerInfo;
  readonly host: string;
  /** The build served there (it depends on the Gateway's client certificate). */
  readonly built: BuiltRoute;
}

/** A TCPRoute or TLSRoute, built once: its backends do not depend on the Gateway. */
interface StreamInfo {
  readonly route: StreamRouteObject;
  readonly source: SourceRef;
  /** Position in age order among stream routes: lower is older. */
  readonly rank: number;
  readonly built: BuiltStreamRoute;
  /** TLSRoute hostnames, lower-case; empty means the listener's. Always empty for TCPRoutes. */
  readonly hostnames: readonly string[];
}

/** A stream route served on a listener, with its effective hosts there (`*`: any SNI name, or TCP). */
interface StreamEntry {
  readonly info: StreamInfo;
  readonly listener: ListenerInfo;
  readonly hosts: readonly string[];
}

/** A build whose routes admit only `allow` (gatehouse.dev/source-ranges); the build itself when there is none. */
function withAllow(built: BuiltRoute, allow: SourceRanges | undefined): BuiltRoute {
  if (allow === undefined) return built;
  return { ...built, matches: built.matches.map((m) => ({ ...m, route: { ...m.route, allow } })) };
}

/** A route accepted on a listener, for the HTTPRoute/GRPCRoute hostname conflict rule. */
interface Attachment {
  readonly kind: string;
  readonly label: string;
  readonly hosts: readonly string[];
}

/** What attaching routes reads and fills in, across every route of the translation. */
interface AttachState {
  readonly snapshot: Snapshot;
  readonly options: GatewayAPITranslateOptions;
  readonly diagnostics: Diagnostic[];
  /** Accepted attachments by route kind and listener, for the hostname conflict rule. */
  readonly attachments: Map<string, Map<ListenerInfo, Attachment[]>>;
  /** The build of a route for one Gateway. */
  readonly buildFor: (info: RouteInfo, gateway: GatewayInfo) => BuiltRoute;
}

interface Candidate {
  readonly match: BuiltMatch;
  readonly entry: Entry;
}

const PATH_RANK = { Exact: 0, RegularExpression: 1, Prefix: 2 } as const;

/**
 * GRPCRoute precedence within a virtual host, as the GRPCRoute specification orders rules: the more specific
 * effective host; the method match (grpc-routes.ts); more header matches; then the oldest route, namespace/name,
 * and rule and match order.
 */
function compareGRPCCandidates(a: Candidate, b: Candidate): number {
  const ga = a.match.grpc;
  const gb = b.match.grpc;
  return (
    compareHostSpecificity(a.entry.host, b.entry.host) ||
    (ga !== undefined && gb !== undefined ? compareGRPCPrecedence(ga, gb) : 0) ||
    b.match.route.match.headers.length - a.match.route.match.headers.length ||
    a.entry.info.rank - b.entry.info.rank ||
    a.match.ruleIndex - b.match.ruleIndex ||
    a.match.matchIndex - b.match.matchIndex
  );
}

/**
 * Candidates of one virtual host. HTTPRoutes and GRPCRoutes never share one (the hostname conflict rule keeps
 * them apart on a listener); were they to, HTTPRoutes would come first.
 */
function compareCandidates(a: Candidate, b: Candidate): number {
  const ga = a.match.grpc !== undefined;
  const gb = b.match.grpc !== undefined;
  if (ga !== gb) return ga ? 1 : -1;
  return ga ? compareGRPCCandidates(a, b) : comparePrecedence(a, b);
}

/**
 * Gateway API precedence within a virtual host: Exact paths, then regular expressions (their place is
 * implementation-specific; before prefixes, so a common `PathPrefix /` catch-all does not hide them), then prefixes,
 * each by length of the value, longest first; then a method match, more header matches, more query matches; then the more
 * specific effective host; then the oldest route, namespace/name, and rule and match order.
 */
function comparePrecedence(a: Candidate, b: Candidate): number {
  const ma = a.match.route.match;
  const mb = b.match.route.match;
  const kind = PATH_RANK[ma.path.kind] - PATH_RANK[mb.path.kind];
  if (kind !== 0) return kind;
  const len = mb.path.value.length - ma.path.value.length;
  if (len !== 0) return len;
  return (
    (mb.method !== undefined ? 1 : 0) - (ma.method !== undefined ? 1 : 0) ||
    mb.headers.length - ma.headers.length ||
    mb.queryParams.length - ma.queryParams.length ||
    compareHostSpecificity(a.entry.host, b.entry.host) ||
    a.entry.info.rank - b.entry.info.rank ||
    a.match.ruleIndex - b.match.ruleIndex ||
    a.match.matchIndex - b.match.matchIndex ||
    compareStrings(a.match.route.match.path.value, b.match.route.match.path.value)
  );
}

function hostMatchOf(pattern: string): HostMatchKind {
  if (pattern === ANY_HOST) return 'any';
  return isWildcard(pattern) ? 'wildcard' : 'exact';
}

function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  const keyOf = (d: Diagnostic): string =>
    [d.object?.kind ?? '', d.object?.namespace ?? '', d.object?.name ?? '', d.file ?? '', d.severity, d.message].join(
      '\u0000',
    );
  const unique = new Map<string, Diagnostic>();
  for (const d of list) unique.set(keyOf(d), d);
  return [...unique.entries()].sort((a, b) => compareStrings(a[0], b[0])).map((e) => e[1]);
}

function parentRefStatus(ref: ParentReference, routeNamespace: string): ParentRefStatus {
  return {
    group: ref.group,
    kind: ref.kind,
    namespace: ref.namespace ?? routeNamespace,
    name: ref.name,
    ...(ref.sectionName !== undefined ? { sectionName: ref.sectionName } : {}),
    ...(ref.port !== undefined ? { port: ref.port } : {}),
  };
}

function parentLabel(ref: ParentRefStatus): string {
  const section = ref.sectionName !== undefined ? ` section ${ref.sectionName}` : '';
  const port = ref.port !== undefined ? ` port ${ref.port}` : '';
  return `Gateway ${ref.namespace}/${ref.name}${section}${port}`;
}

/** Which of our Gateways a parentRef names; `null` when it is not ours to answer (another kind or controller). */
function parentGateway(
  ref: ParentReference,
  routeNamespace: string,
  allGateways: readonly Gateway[],
  ours: ReadonlyMap<Gateway, GatewayInfo>,
): GatewayInfo | undefined | null {
  // Services as parents are GAMMA (mesh) attachments: the mesh answers for them, never gatehouse.
  if (ref.group !== GATEWAY_API_GROUP || ref.kind !== 'Gateway') return null;
  const namespace = ref.namespace ?? routeNamespace;
  const gateway = allGateways.find((g) => g.metadata.namespace === namespace && g.metadata.name === ref.name);
  if (gateway === undefined) return undefined;
  return ours.get(gateway) ?? null;
}

interface ParentOutcome {
  readonly status: RouteParentStatus;
  readonly accepted: boolean;
}

/**
 * Attaches one route through one parentRef: the listeners it selects, which of them admit it (namespace, kind,
 * hostname), and the Accepted condition that results. Attachments to served listeners are handed to `serve`.
 */
function attachParent(
  state: AttachState,
  info: Attachable,
  ref: ParentReference,
  gateway: GatewayInfo | undefined,
  serve: (gateway: GatewayInfo, served: Served) => void,
): ParentOutcome {
  const { snapshot, options } = state;
  const meta = info.route.metadata;
  const kind = info.route.kind;
  const parentRef = parentRefStatus(ref, meta.namespace);
  const resolved = resolvedRefsCondition(info);
  const finish = (accepted: Condition): ParentOutcome => {
    const conditions = [accepted, resolved];
    const partial = partiallyInvalidCondition(info);
    if (partial !== undefined && accepted.status === 'True') conditions.push(partial);
    return {
      status: { parentRef, controllerName: options.controllerName, conditions },
      accepted: accepted.status === 'True',
    };
  };
  if (gateway === undefined) {
    return finish(condition('Accepted', false, 'NoMatchingParent', `${parentLabel(parentRef)} not found`, meta));
  }
  const selected = gateway.listeners.filter(
    (l) =>
      (ref.sectionName === undefined || l.spec.name === ref.sectionName) &&
      (ref.port === undefined || l.spec.port === ref.port),
  );
  if (selected.length === 0) {
    return finish(
      condition('Accepted', false, 'NoMatchingParent', `${parentLabel(parentRef)}: no such listener`, meta),
    );
  }

  const admitted: { listener: ListenerInfo; hosts: string[] }[] = [];
  const notAllowed: string[] = [];
  const noHostname: string[] = [];
  const conflicts: string[] = [];
  for (const l of selected) {
    if (!l.admittedKinds.has(kind)) {
      notAllowed.push(`${listenerLabel(l)} does not admit ${kind}`);
      continue;
    }
    if (!admitsNamespace(snapshot, l, meta.namespace)) {
      notAllowed.push(`${listenerLabel(l)} does not admit routes from namespace ${meta.namespace}`);
      continue;
    }
    const hosts: string[] = [];
    for (const h of info.hostnames.length === 0 ? [l.pattern] : info.hostnames) {
      const common = hostnameIntersection(l.pattern, h);
      if (common !== undefined && !hosts.includes(common)) hosts.push(common);
    }
    if (hosts.length === 0) {
      noHostname.push(`${listenerLabel(l)} (hostname ${l.pattern}) shares no hostname with the route`);
      continue;
    }
    // An HTTPRoute and a GRPCRoute must not share a hostname on a listener: the older one (routes attach in age
    // order) keeps the listener, as the GRPCRoute specification requires.
    const rival = kind === 'GRPCRoute' ? 'HTTPRoute' : kind === 'HTTPRoute' ? 'GRPCRoute' : undefined;
    const clash =
      rival === undefined
        ? undefined
        : state.attachments
            .get(rival)
            ?.get(l)
            ?.find((a) => a.hosts.some((h) => hosts.some((x) => hostnameIntersection(h, x) !== undefined)));
    if (clash !== undefined) {
      conflicts.push(`${listenerLabel(l)} already serves ${clash.label}, which is older and shares a hostname`);
      continue;
    }
    admitted.push({ listener: l, hosts });
  }

  const served = admitted.filter((a) => isServed(a.listener));
  if (info.built.ruleCount > 0 && info.built.invalidRules.length === info.built.ruleCount) {
    return finish(
      condition('Accepted', false, 'UnsupportedValue', `No rule can be served: ${info.built.invalidRules[0]}`, meta),
    );
  }
  if (served.length > 0) {
    const key = `${kind}/${meta.namespace}/${meta.name}`;
    const label = `${kind} ${meta.namespace}/${meta.name}`;
    // Attachment counts on every admitting listener, served or not, once the route is accepted by this parent.
    let ofKind = state.attachments.get(kind);
    if (ofKind === undefined) {
      ofKind = new Map();
      state.attachments.set(kind, ofKind);
    }
    for (const a of admitted) {
      a.listener.attachedRoutes.add(key);
      const list = ofKind.get(a.listener);
      const attachment = { kind, label, hosts: a.hosts };
      if (list === undefined) ofKind.set(a.listener, [attachment]);
      else list.push(attachment);
    }
    serve(gateway, served);
    for (const c of conflicts) {
      state.diagnostics.push({ severity: 'warning', object: info.source, message: `HostnameConflict: ${c}` });
    }
    return finish(condition('Accepted', true, 'Accepted', 'Route is accepted', meta));
  }
  if (admitted.length > 0) {
    const why = admitted.map((a) => `${listenerLabel(a.listener)} is not served`).join('; ');
    return finish(condition('Accepted', false, 'NotAllowedByListeners', why, meta));
  }
  if (conflicts.length > 0) {
    return finish(condition('Accepted', false, 'HostnameConflict', conflicts.join('; '), meta));
  }
  if (noHostname.length > 0) {
    return finish(condition('Accepted', false, 'NoMatchingListenerHostname', noHostname.join('; '), meta));
  }
  return finish(condition('Accepted', false, 'NotAllowedByListeners', notAllowed.join('; '), meta));
}

function resolvedRefsCondition(info: Attachable): Condition {
  const meta = info.route.metadata;
  const problems = info.built.refProblems;
  const first = problems[0];
  if (first === undefined) return condition('ResolvedRefs', true, 'ResolvedRefs', 'All references are resolved', meta);
  return condition('ResolvedRefs', false, first.reason, problems.map((p) => p.message).join('; '), meta);
}

function partiallyInvalidCondition(info: Attachable): Condition | undefined {
  const invalid = info.built.invalidRules;
  if (invalid.length === 0) return undefined;
  return condition('PartiallyInvalid', true, 'UnsupportedValue', invalid.join('; '), info.route.metadata);
}

/**
 * Virtual hosts of one port. Every served listener gets one for its hostname, and every effective route host
 * gets one; a host's routes are those of the most specific listener covering it (listener isolation) whose
 * effective hosts cover it, so `foo.example.com` also runs the `*.example.com` routes of that listener.
 */
function virtualHostsOf(
  listenerName: string,
  listeners: readonly ListenerInfo[],
  entries: readonly Entry[],
): VirtualHost[] {
  const patterns = new Set<string>(listeners.map((l) => l.pattern));
  const byHost = new Map<string, Entry[]>();
  for (const e of entries) {
    patterns.add(e.host);
    const list = byHost.get(e.host);
    if (list === undefined) byHost.set(e.host, [e]);
    else list.push(e);
  }
  const ownerOf = (host: string): ListenerInfo | undefined =>
    listeners
      .filter((l) => hostnameCovers(l.pattern, host))
      .sort((a, b) => compareHostSpecificity(a.pattern, b.pattern))[0];

  return [...patterns].sort(compareStrings).map((hostname) => {
    const owner = ownerOf(hostname);
    const candidates: Candidate[] = [];
    for (const [host, list] of byHost) {
      if (!hostnameCovers(host, hostname)) continue;
      for (const entry of list) {
        if (entry.listener !== owner) continue;
        for (const match of entry.built.matches) candidates.push({ match, entry });
      }
    }
    candidates.sort(compareCandidates);
    const seen = new Set<string>();
    const routes: Route[] = [];
    for (const c of candidates) {
      // A route reaching this host through two of its hostnames keeps its most specific one (sorted first).
      if (seen.has(c.match.route.name)) continue;
      seen.add(c.match.route.name);
      routes.push(c.match.route);
    }
    return { name: `${listenerName}/${hostname}`, hostname, hostMatch: hostMatchOf(hostname), routes };
  });
}

/**
 * The certificates of one HTTPS port. Each served listener serves its first certificateRef: for its hostname
 * when it has one, and as the port's default (no SNI, or a name no listener claims) when it has none. Names are
 * scoped by the IR listener, since one Secret may be served for different hostnames on different ports (and by
 * the Ingress listener for yet others).
 */
function listenerCertificates(
  listenerName: string,
  listeners: readonly ListenerInfo[],
): { certificates: Certificate[]; tls: ListenerTLS } {
  const byName = new Map<string, { cert: ListenerCertificate; hosts: Set<string> }>();
  let defaultCertificate: string | undefined;
  for (const l of listeners) {
    const cert = l.tls?.certificates[0];
    if (cert === undefined) continue;
    const name = `${listenerName}/${cert.namespace}/${cert.name}`;
    let entry = byName.get(name);
    if (entry === undefined) {
      entry = { cert, hosts: new Set() };
      byName.set(name, entry);
    }
    // Hostname conflicts leave at most one served listener without a hostname per port.
    if (l.pattern === ANY_HOST) defaultCertificate = name;
    else entry.hosts.add(l.pattern);
  }
  const certificates: Certificate[] = [...byName.entries()].map(([name, { cert, hosts }]) => ({
    name,
    source: { kind: 'Secret', namespace: cert.namespace, name: cert.name },
    hosts: [...hosts].sort(compareStrings),
    certPem: cert.certPem,
    keyPem: cert.keyPem,
  }));
  // A certificate only served as the default stays out of the SNI list: with no hosts, compile would serve it
  // for its own SAN names, taking names that belong to other listeners' certificates.
  const sni = certificates
    .filter((c) => c.hosts.length > 0)
    .map((c) => c.name)
    .sort(compareStrings);
  const listenerHostnames = listeners
    .map((l) => ({
      listener: `${l.gateway.source.namespace}/${l.gateway.source.name}/${l.spec.name}`,
      hostname: l.pattern,
    }))
    .sort((a, b) => compareStrings(a.hostname, b.hostname) || compareStrings(a.listener, b.listener));
  return {
    certificates,
    tls: {
      certificates: sni,
      ...(defaultCertificate === undefined ? {} : { defaultCertificate }),
      ...(listenerHostnames.length > 1 ? { listenerHostnames } : {}),
    },
  };
}

/** The IR route of a stream route template, with the hostnames it has on one port. */
function streamRoute(template: Omit<StreamRoute, 'hostnames'>, hostnames: readonly string[]): StreamRoute {
  const { name, source, ...rest } = template;
  return { name, source, hostnames, ...rest };
}

function streamLabel(info: StreamInfo): string {
  return `${info.route.kind} ${info.route.metadata.namespace}/${info.route.metadata.name}`;
}

/** The stream routes attached on a port, each once, oldest first. */
function attachedOnPort(entries: readonly StreamEntry[]): StreamInfo[] {
  return [...new Set(entries.map((e) => e.info))]
    .filter((i) => i.built.route !== undefined)
    .sort((a, b) => a.rank - b.rank);
}

/**
 * A TCP port carries one route: the oldest TCPRoute attached to it. Younger ones stay Accepted and counted in
 * attachedRoutes (as the conformance test TCPRouteMultipleRoutesAttachment asks) but carry no traffic.
 */
function tcpRoutesOf(port: number, entries: readonly StreamEntry[], diagnostics: Diagnostic[]): StreamRoute[] {
  const [winner, ...others] = attachedOnPort(entries);
  if (winner?.built.route === undefined) return [];
  for (const o of others) {
    diagnostics.push({
      severity: 'warning',
      object: o.source,
      message: `not served on port ${port}: ${streamLabel(winner)} is older and takes every connection there`,
    });
  }
  return [streamRoute(winner.built.route, [])];
}

/**
 * The routes of a TLS port. Each route takes the hostnames it has in common with the listeners it attached to on
 * the port (`*`: any SNI name). An SNI name (or the catch-all) taken by an older route is not given to a younger
 * one; a route left with nothing is not served. Routes come with their most specific name first: exact names,
 * then wildcards by longest suffix, then catch-alls.
 */
function tlsRoutesOf(port: number, entries: readonly StreamEntry[], diagnostics: Diagnostic[]): StreamRoute[] {
  const owners = new Map<string, StreamInfo>();
  const routes: StreamRoute[] = [];
  for (const info of attachedOnPort(entries)) {
    const template = info.built.route;
    if (template === undefined) continue;
    const hosts = new Set<string>();
    for (const e of entries) if (e.info === info) for (const h of e.hosts) hosts.add(h);
    const candidates = hosts.has(ANY_HOST) ? [ANY_HOST] : [...hosts].sort(compareHostSpecificity);
    const kept: string[] = [];
    for (const h of candidates) {
      const owner = owners.get(h);
      if (owner === undefined) {
        owners.set(h, info);
        kept.push(h);
        continue;
      }
      const what = h === ANY_HOST ? 'every SNI name' : `SNI name ${h}`;
      diagnostics.push({
        severity: 'warning',
        object: info.source,
        message: `${what} on port ${port} already belongs to ${streamLabel(owner)}, which is older; not served by this route`,
      });
    }
    if (kept.length === 0) continue;
    routes.push(streamRoute(template, kept[0] === ANY_HOST ? [] : kept));
  }
  const mostSpecific = (r: StreamRoute): string => r.hostnames[0] ?? ANY_HOST;
  // Stable sort: routes whose first names rank alike keep their age order.
  return routes.sort((a, b) => compareHostSpecificity(mostSpecific(a), mostSpecific(b)));
}

/** A Gateway with a backend client certificate also reports whether it resolved, as ResolvedRefs. */
function withClientCertificate(
  conditions: Condition[],
  gateway: Gateway,
  client: ClientCertificate | undefined,
): Condition[] {
  const resolved = clientCertificateCondition(gateway, client);
  if (resolved === undefined) return conditions;
  const [accepted, ...rest] = conditions;
  return accepted === undefined ? [resolved, ...rest] : [accepted, resolved, ...rest];
}

function routeKey(ref: ParentReference, routeNamespace: string): string {
  return [ref.group, ref.kind, ref.namespace ?? routeNamespace, ref.name, ref.sectionName ?? '', ref.port ?? ''].join(
    '\u0000',
  );
}

/**
 * Turns GatewayClasses, Gateways, HTTPRoutes and GRPCRoutes of our controller (with the BackendTLSPolicies of the
 * Services they reach) into HTTP listeners, and TCPRoutes and TLSRoutes into stream listeners (one listener per port
 * across all Gateways), plus Gateway API status for every object we answer for. Pure: the same snapshot always gives the same result, whatever order its objects arrived
 * in.
 */
export function translateGatewayAPI(snapshot: Snapshot, options: GatewayAPITranslateOptions): TranslateResult {
  const diagnostics: Diagnostic[] = [];
  const status: StatusEntry[] = [];

  const classes = snapshot.gatewayClasses.filter((c) => c.spec.controllerName === options.controllerName);
  const classNames = new Set(classes.map((c) => c.metadata.name));
  for (const c of classes) {
    status.push({
      kind: 'GatewayClass',
      namespace: '',
      name: c.metadata.name,
      conditions: [
        condition('Accepted', true, 'Accepted', 'GatewayClass is accepted', c.metadata),
        condition('SupportedVersion', true, 'SupportedVersion', 'Gateway API v1 is supported', c.metadata),
      ],
    });
  }

  const ourGateways = snapshot.gateways
    .filter((g) => classNames.has(g.spec.gatewayClassName))
    .sort((a, b) => compareAge(a.metadata, b.metadata));
  const gateways = gatewayInfos(snapshot, ourGateways);
  markConflicts(gateways, options.reservedPorts);
  const byGateway = new Map<Gateway, GatewayInfo>(gateways.map((g) => [g.gateway, g]));
  for (const g of gateways) listenerDiagnostics(g, diagnostics);

  const clientCertificates = new Map<GatewayInfo, ClientCertificate | undefined>(
    gateways.map((g) => [g, resolveClientCertificate(snapshot, g.gateway)]),
  );
  const backendTLS = new BackendTLSIndex(snapshot);
  const baseContext: BackendContext = { snapshot, upstream: options.upstream, backendTLS };
  // gatehouse.dev/source-ranges: read (and reported) once per route, applied to every build of it.
  const allowOf = new Map<RouteObject, SourceRanges>();
  const build = (route: RouteObject, source: SourceRef, bc: BackendContext): BuiltRoute => {
    const built =
      route.kind === 'GRPCRoute'
        ? buildGRPCRoute(bc, route, source, diagnostics)
        : buildHTTPRoute(bc, route, source, diagnostics);
    return withAllow(built, allowOf.get(route));
  };
  const state: AttachState = {
    snapshot,
    options,
    diagnostics,
    attachments: new Map(),
    buildFor: (info, gateway) => {
      const clientCertificate = clientCertificates.get(gateway);
      // Only backends reached over TLS present the client certificate: without one the build is the same.
      if (clientCertificate === undefined || !info.built.usesTLS) return info.built;
      let built = info.builtFor.get(gateway);
      if (built === undefined) {
        built = build(info.route, info.source, { ...baseContext, clientCertificate });
        info.builtFor.set(gateway, built);
      }
      return built;
    },
  };
  const entries: Entry[] = [];

  /** The parentRefs of a route that name a Gateway of ours (or no Gateway at all), without repeats. */
  const parentsOf = (route: RouteObject | StreamRouteObject) => {
    const meta = route.metadata;
    const parents: { ref: ParentReference; gateway: GatewayInfo | undefined }[] = [];
    const seen = new Set<string>();
    for (const ref of route.spec.parentRefs) {
      const gateway = parentGateway(ref, meta.namespace, snapshot.gateways, byGateway);
      if (gateway === null) continue;
      const key = routeKey(ref, meta.namespace);
      if (seen.has(key)) continue;
      seen.add(key);
      parents.push({ ref, gateway });
    }
    return parents;
  };
  const report = (route: RouteObject | StreamRouteObject, source: SourceRef, outcomes: readonly ParentOutcome[]) => {
    const meta = route.metadata;
    for (const o of outcomes) {
      if (o.accepted) continue;
      const accepted = o.status.conditions[0];
      diagnostics.push({
        severity: 'warning',
        object: source,
        message: `not attached to ${parentLabel(o.status.parentRef)}: ${accepted?.reason ?? ''}: ${accepted?.message ?? ''}`,
      });
    }
    status.push({
      kind: route.kind,
      namespace: meta.namespace,
      name: meta.name,
      conditions: outcomes.flatMap((o) => o.status.conditions),
      parents: outcomes.map((o) => o.status),
    });
  };

  // Both route kinds in one age order: the older of an HTTPRoute and a GRPCRoute that share a hostname wins.
  const routes: RouteObject[] = [...snapshot.httpRoutes, ...snapshot.grpcRoutes].sort(
    (a, b) => compareAge(a.metadata, b.metadata) || compareStrings(a.kind, b.kind),
  );
  routes.forEach((route, rank) => {
    const meta = route.metadata;
    const source = sourceOf(route.kind, meta);
    const parents = parentsOf(route);
    if (parents.length === 0) return;

    const allow = routePolicyOf(route, source, diagnostics).allow;
    if (allow !== undefined) allowOf.set(route, allow);
    const built = build(route, source, baseContext);
    const info: RouteInfo = {
      route,
      source,
      rank,
      built,
      builtFor: new Map(),
      hostnames: route.spec.hostnames.map((h) => h.toLowerCase()),
    };
    const serve = (gateway: GatewayInfo, served: Served): void => {
      const forGateway = state.buildFor(info, gateway);
      for (const a of served) {
        for (const host of a.hosts) entries.push({ info, listener: a.listener, host, built: forGateway });
      }
    };
    report(
      route,
      source,
      parents.map((p) => attachParent(state, info, p.ref, p.gateway, serve)),
    );
  });

  // TCPRoutes and TLSRoutes, in one age order: the older route keeps a port (TCP) or an SNI name (TLS).
  const streamEntries: StreamEntry[] = [];
  const streamRoutes: StreamRouteObject[] = [...snapshot.tcpRoutes, ...snapshot.tlsRoutes].sort(
    (a, b) => compareAge(a.metadata, b.metadata) || compareStrings(a.kind, b.kind),
  );
  streamRoutes.forEach((route, rank) => {
    const meta = route.metadata;
    const source = sourceOf(route.kind, meta);
    const parents = parentsOf(route);
    if (parents.length === 0) return;

    const policy = routePolicyOf(route, source, diagnostics);
    const built = buildStreamRoute({ snapshot, upstream: options.upstream }, route, source, policy, diagnostics);
    const info: StreamInfo = {
      route,
      source,
      rank,
      built,
      hostnames: route.kind === 'TLSRoute' ? route.spec.hostnames.map((h) => h.toLowerCase()) : [],
    };
    const serve = (_gateway: GatewayInfo, served: Served): void => {
      for (const a of served) streamEntries.push({ info, listener: a.listener, hosts: a.hosts });
    };
    report(
      route,
      source,
      parents.map((p) => attachParent(state, info, p.ref, p.gateway, serve)),
    );
  });

  // BackendTLSPolicy ancestors: the Gateways that serve a route reaching a Service the policy targets.
  for (const e of entries) {
    for (const service of e.built.services) {
      const slash = service.indexOf('/');
      for (const p of backendTLS.targeting(service.slice(0, slash), service.slice(slash + 1))) {
        const g = e.listener.gateway.gateway;
        p.ancestors.set(`${g.metadata.namespace}/${g.metadata.name}`, g);
      }
    }
  }
  for (const p of backendTLS.policies) {
    if (p.ancestors.size === 0) continue;
    const meta = p.policy.metadata;
    const ancestors = policyAncestors(p, options.controllerName);
    status.push({
      kind: 'BackendTLSPolicy',
      namespace: meta.namespace,
      name: meta.name,
      conditions: ancestors.flatMap((a) => a.conditions),
      ancestors,
    });
    const source = sourceOf('BackendTLSPolicy', meta);
    for (const lost of p.lost)
      diagnostics.push({ severity: 'warning', object: source, message: `not applied: ${lost}` });
    for (const t of p.policy.spec.targetRefs) {
      if (t.group === '' && t.kind === 'Service') continue;
      const what = `${t.group === '' ? '' : `${t.group}/`}${t.kind} ${t.name}`;
      diagnostics.push({
        severity: 'warning',
        object: source,
        message: `spec.targetRefs: ${what}: only core Services are supported; ignored`,
      });
    }
    const keys = Object.keys(p.policy.spec.options).sort(compareStrings);
    if (keys.length > 0) {
      diagnostics.push({
        severity: 'warning',
        object: source,
        message: `spec.options ${keys.join(', ')}: not supported; ignored`,
      });
    }
  }

  for (const g of gateways) {
    const meta = g.gateway.metadata;
    status.push({
      kind: 'Gateway',
      namespace: meta.namespace,
      name: meta.name,
      conditions: withClientCertificate(gatewayConditions(g), g.gateway, clientCertificates.get(g)),
      listeners: listenerStatuses(g),
    });
  }

  const servedByPort = new Map<number, ListenerInfo[]>();
  for (const g of gateways) {
    for (const l of g.listeners) {
      if (!isServed(l)) continue;
      const list = servedByPort.get(l.spec.port);
      if (list === undefined) servedByPort.set(l.spec.port, [l]);
      else list.push(l);
    }
  }
  const ports = [...servedByPort.entries()].sort((a, b) => a[0] - b[0]);

  // gatehouse.dev/proxy-protocol: which listeners of each Gateway expect a PROXY protocol header.
  const proxyNames = new Map<GatewayInfo, ReadonlySet<string>>(
    gateways.map((g) => [
      g,
      proxyProtocolListeners(
        g.gateway.metadata,
        g.listeners.map((l) => l.spec.name),
        g.source,
        diagnostics,
      ),
    ]),
  );
  /**
   * A port reads PROXY headers only when every served listener on it asks for them: were it to read them for a
   * listener whose Gateway did not ask, that listener's clients could claim any address (allow-lists included).
   */
  const proxyProtocolOf = (port: number, ls: readonly ListenerInfo[]): { proxyProtocol?: true } => {
    const asking = ls.filter((l) => proxyNames.get(l.gateway)?.has(l.spec.name) === true);
    if (asking.length === 0) return {};
    if (asking.length === ls.length) return { proxyProtocol: true };
    const others = ls
      .filter((l) => !asking.includes(l))
      .map(listenerLabel)
      .join(', ');
    for (const g of new Set(asking.map((l) => l.gateway))) {
      diagnostics.push({
        severity: 'warning',
        object: g.source,
        message: `annotation ${PROXY_PROTOCOL_ANNOTATION}: port ${port} also serves ${others}, which does not expect a PROXY protocol header; no listener on the port reads one`,
      });
    }
    return {};
  };

  const certificates: Certificate[] = [];
  const listeners: HTTPListener[] = [];
  const streamListeners: StreamListener[] = [];
  for (const [port, ls] of ports) {
    // Conflicts leave one protocol (and TLS mode) per port among served listeners.
    const first = ls[0]?.spec;
    if (first === undefined) continue;
    const proxy = proxyProtocolOf(port, ls);
    if (first.protocol === 'TCP' || first.protocol === 'TLS') {
      const protocol = first.protocol;
      const name = gatewayListenerName(port, protocol);
      const onPort = streamEntries.filter((e) => e.listener.spec.port === port);
      const routes =
        protocol === 'TCP' ? tcpRoutesOf(port, onPort, diagnostics) : tlsRoutesOf(port, onPort, diagnostics);
      if (protocol === 'TCP') {
        streamListeners.push({ name, protocol, port, ...proxy, routes });
      } else if (first.tls?.mode === 'Passthrough') {
        streamListeners.push({ name, protocol, port, tlsMode: 'Passthrough', ...proxy, routes });
      } else {
        const tls = listenerCertificates(name, ls);
        certificates.push(...tls.certificates);
        streamListeners.push({ name, protocol, port, tlsMode: 'Terminate', tls: tls.tls, ...proxy, routes });
      }
      continue;
    }
    const protocol = first.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP';
    const name = gatewayListenerName(port, protocol);
    const virtualHosts = virtualHostsOf(
      name,
      ls,
      entries.filter((e) => e.listener.spec.port === port),
    );
    if (protocol === 'HTTP') {
      listeners.push({ name, protocol, port, ...proxy, virtualHosts });
      continue;
    }
    const tls = listenerCertificates(name, ls);
    certificates.push(...tls.certificates);
    listeners.push({ name, protocol, port, tls: tls.tls, ...proxy, virtualHosts });
  }

  // Backends of the builds that serve traffic somewhere; the oldest route naming one gives its source.
  const usedBuilds = new Map<RouteInfo, Set<BuiltRoute>>();
  for (const e of entries) {
    const set = usedBuilds.get(e.info);
    if (set === undefined) usedBuilds.set(e.info, new Set([e.built]));
    else set.add(e.built);
  }
  const backends = new Map<string, Backend>();
  for (const [, builds] of [...usedBuilds].sort((a, b) => a[0].rank - b[0].rank)) {
    for (const built of builds) {
      for (const b of built.backends) if (!backends.has(b.name)) backends.set(b.name, b);
    }
  }
  const servedStream = new Set<string>(streamListeners.flatMap((l) => l.routes.map((r) => r.name)));
  const streamInfos = [...new Set(streamEntries.map((e) => e.info))].sort((a, b) => a.rank - b.rank);
  for (const info of streamInfos) {
    if (info.built.route === undefined || !servedStream.has(info.built.route.name)) continue;
    for (const b of info.built.backends) if (!backends.has(b.name)) backends.set(b.name, b);
  }

  status.sort(
    (a, b) =>
      compareStrings(a.kind, b.kind) || compareStrings(a.namespace, b.namespace) || compareStrings(a.name, b.name),
  );
  return {
    ir: {
      listeners,
      ...(streamListeners.length > 0 ? { streamListeners } : {}),
      backends: [...backends.values()].sort((a, b) => compareStrings(a.name, b.name)),
      certificates: certificates.sort((a, b) => compareStrings(a.name, b.name)),
    },
    status,
    diagnostics: sortDiagnostics(diagnostics),
  };
}
