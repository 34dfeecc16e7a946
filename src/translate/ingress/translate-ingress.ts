import type {
  Backend,
  Certificate,
  Diagnostic,
  HTTPListener,
  PathMatch,
  Route,
  RouteAction,
  SourceRanges,
  SourceRef,
  TranslateResult,
  VirtualHost,
} from '../../ir/types.ts';
import type { Ingress, IngressBackend } from '../../model/objects.ts';
import type { Snapshot } from '../../model/snapshot.ts';
import { resolveServiceBackend, type UpstreamMode } from '../backends.ts';
import { ingressAllowOf } from './allowlist.ts';
import { type IngressUpstream, ingressUpstreamOf, serviceConnection } from './annotations.ts';
import { translateTCPServices } from './tcp-services.ts';

export const DEFAULT_INGRESS_CLASS = 'gatehouse';
export const INGRESS_CONTROLLER_NAME = 'gatehouse.dev/ingress-controller';
export const INGRESS_HTTP_LISTENER = 'ingress-http';
export const INGRESS_HTTPS_LISTENER = 'ingress-https';

const LEGACY_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
const DEFAULT_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';
const SSL_REDIRECT_ANNOTATIONS = [
  'nginx.ingress.kubernetes.io/ssl-redirect',
  'nginx.ingress.kubernetes.io/force-ssl-redirect',
] as const;

export interface IngressTranslateOptions {
  /** The IngressClass name this instance answers to (`--ingress-class`). */
  readonly ingressClass: string;
  /** IngressClass `spec.controller` value that marks a class as ours. */
  readonly controllerName: string;
  readonly upstream: UpstreamMode;
  readonly httpPort: number;
  readonly httpsPort: number;
  /** Redirect plain HTTP to HTTPS for hosts with a TLS section unless an Ingress says otherwise (default off). */
  readonly sslRedirect?: boolean;
  /** Both Ingress listeners expect (and require) a PROXY protocol header on every connection (`--proxy-protocol`). */
  readonly proxyProtocol?: boolean;
  /** `namespace/name` of an ingress-nginx style tcp-services ConfigMap (`--tcp-services-configmap`). */
  readonly tcpServicesConfigMap?: string;
}

type PathKind = 'Exact' | 'Prefix';

/** A route before ordering, with what precedence and ssl-redirect need to know about where it came from. */
interface Candidate {
  readonly route: Route;
  readonly ingress: IngressInfo;
  readonly ruleIndex: number;
  readonly pathIndex: number;
}

interface IngressInfo {
  readonly ingress: Ingress;
  readonly source: SourceRef;
  /** Position in age order: lower is older (then namespace/name). */
  readonly rank: number;
  readonly sslRedirect: boolean;
  readonly tlsHosts: ReadonlySet<string>;
  /** backend-protocol and proxy-ssl-* annotations: how its Service backends are reached. */
  readonly upstream: IngressUpstream;
  /** allowlist-source-range (or whitelist-source-range): the client addresses every route of it admits. */
  readonly allow: SourceRanges | undefined;
}

interface HostEntry {
  readonly hostname: string;
  readonly candidates: Candidate[];
  /** Conflict key (`kind value`) → the candidate that owns it. */
  readonly owners: Map<string, Candidate>;
  /** Ingresses with a rule for this host, in age order. */
  readonly definedBy: IngressInfo[];
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function ingressSource(ing: Ingress): SourceRef {
  return { kind: 'Ingress', namespace: ing.metadata.namespace, name: ing.metadata.name };
}

function ingressLabel(ing: Ingress): string {
  return `Ingress ${ing.metadata.namespace}/${ing.metadata.name}`;
}

/** Oldest first, then namespace/name: the DESIGN's tie-break between routes. */
function compareAge(a: Ingress, b: Ingress): number {
  return (
    compareStrings(a.metadata.creationTimestamp, b.metadata.creationTimestamp) ||
    compareStrings(a.metadata.namespace, b.metadata.namespace) ||
    compareStrings(a.metadata.name, b.metadata.name)
  );
}

/** Whether an Ingress belongs to this controller: class name, then the legacy annotation, then the default class. */
export function isOurIngress(snapshot: Snapshot, ing: Ingress, options: IngressTranslateOptions): boolean {
  const className = ing.spec.ingressClassName;
  if (className !== undefined && className !== '') {
    if (className === options.ingressClass) return true;
    return snapshot.ingressClasses.some(
      (c) => c.metadata.name === className && c.spec.controller === options.controllerName,
    );
  }
  const legacy = ing.metadata.annotations[LEGACY_CLASS_ANNOTATION];
  if (legacy !== undefined && legacy !== '') return legacy === options.ingressClass;
  return snapshot.ingressClasses.some(
    (c) => c.spec.controller === options.controllerName && c.metadata.annotations[DEFAULT_CLASS_ANNOTATION] === 'true',
  );
}

// The boolean spellings ingress-nginx accepts for annotations (Go's strconv.ParseBool).
const TRUE_VALUES = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_VALUES = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * Whether plain HTTP for this Ingress's TLS hosts is redirected to HTTPS: the global default (`--ssl-redirect`,
 * like ingress-nginx's ConfigMap key), then `ssl-redirect` on the Ingress either way, and `force-ssl-redirect:
 * "true"` always on.
 */
function sslRedirectOf(ing: Ingress, byDefault: boolean, diagnostics: Diagnostic[]): boolean {
  let redirect = byDefault;
  for (const key of SSL_REDIRECT_ANNOTATIONS) {
    const value = ing.metadata.annotations[key];
    if (value === undefined) continue;
    const trimmed = value.trim();
    if (TRUE_VALUES.has(trimmed)) redirect = true;
    else if (FALSE_VALUES.has(trimmed)) {
      if (key === SSL_REDIRECT_ANNOTATIONS[0]) redirect = false;
    } else {
      diagnostics.push({
        severity: 'warning',
        object: ingressSource(ing),
        message: `annotation ${key}: "${value}" is not a boolean; ignored`,
      });
    }
  }
  return redirect;
}

const HOST_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Valid Ingress hosts are DNS names, optionally with a single leading `*` label. */
function validHost(host: string): boolean {
  const labels = (host.startsWith('*.') ? host.slice(2) : host).split('.');
  return labels.length > 0 && labels.every((l) => HOST_LABEL.test(l));
}

/** Trailing slashes never matter to a Prefix match (element-wise), so they are dropped to compare and order. */
export function normalisePrefix(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(0, end);
}

function comparePrecedence(a: Candidate, b: Candidate): number {
  const pa = a.route.match.path;
  const pb = b.route.match.path;
  if (pa.kind !== pb.kind) return pa.kind === 'Exact' ? -1 : 1;
  return (
    pb.value.length - pa.value.length ||
    a.ingress.rank - b.ingress.rank ||
    a.ruleIndex - b.ruleIndex ||
    a.pathIndex - b.pathIndex
  );
}

interface BackendBook {
  readonly byName: Map<string, Backend>;
  readonly diagnostics: Diagnostic[];
}

function backendFor(
  snapshot: Snapshot,
  options: IngressTranslateOptions,
  info: IngressInfo,
  ref: IngressBackend,
  where: string,
  book: BackendBook,
): string {
  const ns = info.ingress.metadata.namespace;
  let backend: Backend;
  if (ref.service !== undefined) {
    const serviceRef = { namespace: ns, name: ref.service.name, port: ref.service.port };
    const connection = serviceConnection(snapshot, info.upstream, serviceRef);
    const resolved = resolveServiceBackend(snapshot, serviceRef, options.upstream, info.source, connection.how);
    for (const d of resolved.diagnostics) book.diagnostics.push({ ...d, message: `${where}: ${d.message}` });
    backend = resolved.backend;
    if (connection.problem !== undefined) {
      // Unusable TLS settings (reported once for the Ingress): answer 500 rather than connect with less.
      backend = {
        name: backend.name,
        source: info.source,
        target: { kind: 'unavailable', status: 500, reason: connection.problem },
      };
    }
  } else if (ref.resource !== undefined) {
    const r = ref.resource;
    const group = r.apiGroup === '' ? '' : `.${r.apiGroup}`;
    const name = `${ns}/${r.kind}${group}/${r.name}`;
    const reason = `resource backends are not supported (${r.kind}${group} ${ns}/${r.name})`;
    book.diagnostics.push({ severity: 'error', object: info.source, message: `${where}: ${reason}` });
    backend = { name, source: info.source, target: { kind: 'unavailable', status: 500, reason } };
  } else {
    const name = `${ns}/${info.ingress.metadata.name}:invalid-backend`;
    const reason = 'backend names neither a service nor a resource';
    book.diagnostics.push({ severity: 'error', object: info.source, message: `${where}: ${reason}` });
    backend = { name, source: info.source, target: { kind: 'unavailable', status: 500, reason } };
  }
  // The first reference (oldest Ingress first) keeps the source; every reference reports its own problems.
  if (!book.byName.has(backend.name)) book.byName.set(backend.name, backend);
  return backend.name;
}

function forward(backend: string): RouteAction {
  return { kind: 'forward', backends: [{ backend, weight: 1 }] };
}

function hostEntry(hosts: Map<string, HostEntry>, hostname: string): HostEntry {
  let entry = hosts.get(hostname);
  if (entry === undefined) {
    entry = { hostname, candidates: [], owners: new Map(), definedBy: [] };
    hosts.set(hostname, entry);
  }
  return entry;
}

function collectCertificates(
  snapshot: Snapshot,
  info: IngressInfo,
  certs: Map<string, { source: SourceRef; hosts: Set<string>; certPem: string; keyPem: string }>,
  diagnostics: Diagnostic[],
): void {
  const ing = info.ingress;
  const ns = ing.metadata.namespace;
  ing.spec.tls.forEach((tls, i) => {
    const hosts = tls.hosts.map((h) => h.toLowerCase());
    if (tls.secretName === '') {
      diagnostics.push({
        severity: 'warning',
        object: info.source,
        message: `spec.tls[${i}] names no Secret; its hosts are served the default certificate`,
      });
      return;
    }
    const secret = snapshot.secret(ns, tls.secretName);
    const certPem = secret?.data['tls.crt'] ?? '';
    const keyPem = secret?.data['tls.key'] ?? '';
    if (secret === undefined || certPem === '' || keyPem === '') {
      const why = secret === undefined ? 'not found' : 'lacks tls.crt or tls.key';
      diagnostics.push({
        severity: 'error',
        object: info.source,
        message: `spec.tls[${i}]: Secret ${ns}/${tls.secretName} ${why}; its hosts are served the default certificate`,
      });
      return;
    }
    if (hosts.length === 0) {
      diagnostics.push({
        severity: 'warning',
        object: info.source,
        message: `spec.tls[${i}] lists no hosts, so Secret ${ns}/${tls.secretName} is not selected by any SNI name`,
      });
    }
    const name = `${ns}/${tls.secretName}`;
    const existing = certs.get(name);
    if (existing === undefined) {
      certs.set(name, {
        source: { kind: 'Secret', namespace: ns, name: tls.secretName },
        hosts: new Set(hosts),
        certPem,
        keyPem,
      });
    } else {
      for (const h of hosts) existing.hosts.add(h);
    }
  });
}

function collectRoutes(
  snapshot: Snapshot,
  options: IngressTranslateOptions,
  info: IngressInfo,
  hosts: Map<string, HostEntry>,
  book: BackendBook,
  diagnostics: Diagnostic[],
): void {
  const ing = info.ingress;
  const { namespace, name } = ing.metadata;
  ing.spec.rules.forEach((rule, i) => {
    const host = rule.host.toLowerCase();
    if (host !== '' && !validHost(host)) {
      diagnostics.push({
        severity: 'error',
        object: info.source,
        message: `spec.rules[${i}].host "${rule.host}" is not a valid host name (a wildcard may only be a leading "*." label); rule ignored`,
      });
      return;
    }
    const entry = hostEntry(hosts, host === '' ? '*' : host);
    if (!entry.definedBy.includes(info)) entry.definedBy.push(info);
    rule.paths.forEach((p, j) => {
      const where = `spec.rules[${i}].http.paths[${j}]`;
      const raw = p.path === '' ? '/' : p.path;
      if (!raw.startsWith('/')) {
        diagnostics.push({
          severity: 'error',
          object: info.source,
          message: `${where}: path "${p.path}" does not start with "/"; path ignored`,
        });
        return;
      }
      // ImplementationSpecific means Prefix here, as in ingress-nginx without use-regex.
      const kind: PathKind = p.pathType === 'Exact' ? 'Exact' : 'Prefix';
      const value = kind === 'Prefix' ? normalisePrefix(raw) : raw;
      const conflictKey = `${kind} ${value}`;
      const owner = entry.owners.get(conflictKey);
      if (owner !== undefined) {
        const winner =
          owner.ingress === info
            ? `spec.rules[${owner.ruleIndex}].http.paths[${owner.pathIndex}] of the same Ingress`
            : `${ingressLabel(owner.ingress.ingress)} (spec.rules[${owner.ruleIndex}].http.paths[${owner.pathIndex}])`;
        diagnostics.push({
          severity: 'warning',
          object: info.source,
          message: `${where}: ${kind} ${value} on host ${entry.hostname} duplicates ${winner}, which takes precedence; path ignored`,
        });
        return;
      }
      const match: PathMatch = { kind, value };
      const backend = backendFor(snapshot, options, info, p.backend, where, book);
      const candidate: Candidate = {
        route: {
          name: `ingress/${namespace}/${name}/rule/${i}/path/${j}`,
          source: info.source,
          match: { path: match, headers: [], queryParams: [] },
          action: forward(backend),
          ...(info.allow !== undefined ? { allow: info.allow } : {}),
        },
        ingress: info,
        ruleIndex: i,
        pathIndex: j,
      };
      entry.owners.set(conflictKey, candidate);
      entry.candidates.push(candidate);
    });
  });
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

/**
 * Turns the Ingresses of our class into two listeners (plain HTTP and HTTPS) that share virtual hosts.
 * Pure: the same snapshot always gives the same result, whatever order its objects arrived in.
 */
export function translateIngresses(snapshot: Snapshot, options: IngressTranslateOptions): TranslateResult {
  const diagnostics: Diagnostic[] = [];
  const book: BackendBook = { byName: new Map(), diagnostics };
  const ours = snapshot.ingresses.filter((ing) => isOurIngress(snapshot, ing, options)).sort(compareAge);
  const infos: IngressInfo[] = ours.map((ing, rank) => ({
    ingress: ing,
    source: ingressSource(ing),
    rank,
    sslRedirect: sslRedirectOf(ing, options.sslRedirect === true, diagnostics),
    tlsHosts: new Set(ing.spec.tls.flatMap((t) => t.hosts.map((h) => h.toLowerCase()))),
    upstream: ingressUpstreamOf(snapshot, ing, diagnostics),
    allow: ingressAllowOf(ing, ingressSource(ing), diagnostics),
  }));

  const hosts = new Map<string, HostEntry>();
  const certs = new Map<string, { source: SourceRef; hosts: Set<string>; certPem: string; keyPem: string }>();
  for (const info of infos) {
    if (info.ingress.spec.rules.length === 0 && info.ingress.spec.defaultBackend === undefined) {
      diagnostics.push({
        severity: 'warning',
        object: info.source,
        message: 'Ingress has neither rules nor a defaultBackend; it routes nothing',
      });
    }
    collectCertificates(snapshot, info, certs, diagnostics);
    collectRoutes(snapshot, options, info, hosts, book, diagnostics);
  }

  const globalDefault = infos.find((i) => i.ingress.spec.defaultBackend !== undefined);
  if (globalDefault !== undefined) hostEntry(hosts, '*');

  /** Per host: routes in precedence order, each with the Ingress it came from. */
  const ordered: { hostname: string; routes: { route: Route; ingress: IngressInfo }[] }[] = [];
  for (const entry of [...hosts.values()].sort((a, b) => compareStrings(a.hostname, b.hostname))) {
    const routes: { route: Route; ingress: IngressInfo }[] = entry.candidates
      .sort(comparePrecedence)
      .map((c) => ({ route: c.route, ingress: c.ingress }));
    const owner = entry.definedBy.find((i) => i.ingress.spec.defaultBackend !== undefined) ?? globalDefault;
    // A catch-all path already answers everything; a default after it could never be reached.
    const shadowed = entry.owners.has('Prefix /');
    if (owner !== undefined && !shadowed) {
      const ref = owner.ingress.spec.defaultBackend as IngressBackend;
      const backend = backendFor(snapshot, options, owner, ref, 'spec.defaultBackend', book);
      const { namespace, name } = owner.ingress.metadata;
      routes.push({
        route: {
          name: `ingress/${namespace}/${name}/default`,
          source: owner.source,
          match: { path: { kind: 'Prefix', value: '/' }, headers: [], queryParams: [] },
          action: forward(backend),
          ...(owner.allow !== undefined ? { allow: owner.allow } : {}),
        },
        ingress: owner,
      });
    }
    if (routes.length > 0) ordered.push({ hostname: entry.hostname, routes });
  }

  const virtualHosts = (listener: string, plainHTTP: boolean): VirtualHost[] =>
    ordered.map(({ hostname, routes }) => ({
      name: `${listener}/${hostname}`,
      hostname,
      hostMatch: hostname === '*' ? 'any' : hostname.startsWith('*.') ? 'wildcard-one-label' : 'exact',
      routes: routes.map(({ route, ingress }) =>
        plainHTTP && ingress.sslRedirect && ingress.tlsHosts.has(hostname)
          ? { ...route, action: { kind: 'redirect', scheme: 'https', statusCode: 308 } }
          : route,
      ),
    }));

  const certificates: Certificate[] = [...certs.entries()]
    .sort((a, b) => compareStrings(a[0], b[0]))
    .map(([name, c]) => ({
      name,
      source: c.source,
      hosts: [...c.hosts].sort(compareStrings),
      certPem: c.certPem,
      keyPem: c.keyPem,
    }));

  const proxy = options.proxyProtocol === true ? { proxyProtocol: true } : {};
  const listeners: HTTPListener[] = [
    {
      name: INGRESS_HTTP_LISTENER,
      protocol: 'HTTP',
      port: options.httpPort,
      ...proxy,
      virtualHosts: virtualHosts(INGRESS_HTTP_LISTENER, true),
    },
    {
      name: INGRESS_HTTPS_LISTENER,
      protocol: 'HTTPS',
      port: options.httpsPort,
      tls: { certificates: certificates.map((c) => c.name) },
      ...proxy,
      virtualHosts: virtualHosts(INGRESS_HTTPS_LISTENER, false),
    },
  ];

  const tcp =
    options.tcpServicesConfigMap === undefined
      ? undefined
      : translateTCPServices(
          snapshot,
          {
            configMap: options.tcpServicesConfigMap,
            upstream: options.upstream,
            reservedPorts: new Map(listeners.map((l) => [l.port, l.name])),
          },
          diagnostics,
        );
  for (const b of tcp?.backends ?? []) if (!book.byName.has(b.name)) book.byName.set(b.name, b);
  const streamListeners = tcp?.listeners ?? [];

  // Only referenced backends were ever resolved: losing duplicates and shadowed defaults never reach the book.
  const backends = [...book.byName.values()].sort((a, b) => compareStrings(a.name, b.name));

  return {
    ir: { listeners, ...(streamListeners.length > 0 ? { streamListeners } : {}), backends, certificates },
    status: [],
    diagnostics: sortDiagnostics(diagnostics),
  };
}
